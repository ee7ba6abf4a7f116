// Package backup makes encrypted logical backups whose content is proven: pg_dump in
// custom format, encrypted on the client (AES-256-GCM records that authenticate their
// order and the end of the stream), a manifest of row counts and content hashes read
// in the very snapshot the dump was taken in, and Verify, which restores a backup into
// a private cluster, compares it with the manifest, runs amcheck and measures the
// restore time (the recovery time objective that backup's size implies). It also plans
// and reads pgBackRest for physical backups and point-in-time recovery.
package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/pgconn"
)

// Options say what to back up and where.
type Options struct {
	DSN    string        // connection string; "" uses the libpq environment
	Policy pgconn.Policy // the session policy (TLS, application name)
	Dir    string        // directory the backup file and its manifest go to
	Key    []byte        // 32-byte key (LoadKey)
	BinDir string        // PostgreSQL bin directory; "" finds the installed one
	Log    io.Writer     // progress lines; nil discards them
}

// Result is a finished backup.
type Result struct {
	Path     string
	Manifest *Manifest
	Elapsed  time.Duration
}

// Run backs the database up: it exports a snapshot, runs pg_dump in it while counting
// and hashing every table in the same snapshot, encrypts the dump as it streams, and
// writes the file and then its manifest, each atomically.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := checkDir(opts.Dir); err != nil {
		return nil, err
	}
	seed, err := hashSeed(opts.Key)
	if err != nil {
		return nil, err
	}
	pgDump, err := findTool(ctx, opts.BinDir, "pg_dump")
	if err != nil {
		return nil, err
	}
	began := time.Now()
	policy := opts.Policy
	policy.Write = false
	conn, err := pgconn.Connect(ctx, opts.DSN, policy)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	m := &Manifest{Format: 1, Started: began.UTC(), PgDump: toolVersion(ctx, pgDump), KeyID: KeyID(opts.Key),
		Encryption: "AES-256-GCM, 1 MiB records bound to their position and the end of the stream, HKDF-SHA256 per-file key"}
	if err := readServer(ctx, conn, m); err != nil {
		return nil, err
	}
	if err := prepareSession(ctx, conn); err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("backup: starting the snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.Background())
	if err := tx.QueryRow(ctx, pgconn.Marker+`SELECT pg_catalog.pg_export_snapshot(),
		(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END)::pg_catalog.text`).
		Scan(&m.Snapshot, &m.LSN); err != nil {
		return nil, fmt.Errorf("backup: exporting a snapshot: %w", err)
	}
	m.File = fileName(m.Server.Database, began)
	fmt.Fprintf(opts.Log, "backing up %s at LSN %s (snapshot %s) to %s\n", m.Server.Database, m.LSN, m.Snapshot, filepath.Join(opts.Dir, m.File))

	// The statistics are read on this session, in the exported snapshot, while pg_dump
	// reads the same snapshot; the transaction stays open until both are done.
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		tables, err := TableStats(sctx, conn, seed)
		m.Tables = tables
		done <- err
	}()
	waitStats := sync.OnceValue(func() error { return <-done })
	defer func() { cancel(); _ = waitStats() }()
	path, err := dumpEncrypted(ctx, opts, pgDump, m, waitStats)
	if err != nil {
		return nil, err
	}
	return &Result{Path: path, Manifest: m, Elapsed: time.Since(began)}, nil
}

func checkDir(dir string) error {
	if dir == "" {
		return errors.New("backup: no directory given")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("backup: directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("backup: %s is not a directory", dir)
	}
	return nil
}

func readServer(ctx context.Context, conn *pgx.Conn, m *Manifest) error {
	cfg := conn.Config()
	m.Server.Host = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	if err := conn.QueryRow(ctx, pgconn.Marker+`SELECT pg_catalog.current_setting('server_version'), pg_catalog.current_database(), pg_catalog.pg_is_in_recovery()`).
		Scan(&m.Server.Version, &m.Server.Database, &m.Server.InRecovery); err != nil {
		return fmt.Errorf("backup: reading the server: %w", err)
	}
	rows, err := conn.Query(ctx, pgconn.Marker+`SELECT DISTINCT r.rolname FROM pg_catalog.pg_policy p,
		LATERAL pg_catalog.unnest(p.polroles) AS pr(oid) JOIN pg_catalog.pg_roles r ON r.oid = pr.oid ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("backup: reading the roles policies name: %w", err)
	}
	if m.Roles, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("backup: reading the roles policies name: %w", err)
	}
	// Only roles allowed to read pg_control see the system identifier; it is optional.
	var sysid *string
	if conn.QueryRow(ctx, pgconn.Marker+`SELECT system_identifier::pg_catalog.text FROM pg_catalog.pg_control_system()`).Scan(&sysid) == nil && sysid != nil {
		m.Server.SystemID = *sysid
	}
	return nil
}

// dumpEncrypted runs pg_dump in the exported snapshot and encrypts its output into a
// temporary file that becomes the backup once the dump, the table statistics and the
// trailer are all complete.
func dumpEncrypted(ctx context.Context, opts Options, pgDump string, m *Manifest, waitStats func() error) (string, error) {
	final := filepath.Join(opts.Dir, m.File)
	tmp, err := os.CreateTemp(opts.Dir, "."+m.File+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("backup: creating the backup file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sum := sha256.New()
	counted := &countWriter{w: io.MultiWriter(tmp, sum)}
	bw := bufio.NewWriterSize(counted, 1<<20)
	enc, err := NewWriter(bw, opts.Key)
	if err != nil {
		return "", err
	}
	if err := runPgDump(ctx, opts, pgDump, m, enc); err != nil {
		return "", err
	}
	if err := waitStats(); err != nil {
		return "", err
	}
	m.Finished = time.Now().UTC()
	trailer, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("backup: encoding the trailer: %w", err)
	}
	if err := enc.Finish(trailer); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("backup: writing the backup file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("backup: flushing the backup file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("backup: writing the backup file: %w", err)
	}
	m.SHA256, m.Bytes = hex.EncodeToString(sum.Sum(nil)), counted.n
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("backup: renaming into %s: %w", final, err)
	}
	if err := writeJSON(ManifestPath(final), m); err != nil {
		return "", err
	}
	return final, nil
}

func runPgDump(ctx context.Context, opts Options, pgDump string, m *Manifest, enc *Writer) error {
	connstr, env := libpqTarget(opts.DSN)
	args := []string{"--format=custom", "--snapshot=" + m.Snapshot, "--no-password"}
	if connstr != "" {
		args = append(args, "--dbname="+connstr)
	}
	cmd := exec.CommandContext(ctx, pgDump, args...)
	cmd.Env = append(env, "PGAPPNAME=pgmedic backup")
	tail := &stderrTail{}
	cmd.Stderr = tail
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("backup: starting pg_dump: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("backup: starting pg_dump: %w", err)
	}
	n, copyErr := io.CopyBuffer(enc, out, make([]byte, 1<<20))
	waitErr := cmd.Wait()
	m.DumpBytes = n
	if waitErr != nil {
		return fmt.Errorf("backup: pg_dump failed (%s): %s", exitStatus(waitErr), tail.lastError())
	}
	if copyErr != nil {
		return fmt.Errorf("backup: writing the backup file: %w", copyErr)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// FileSHA256 hashes a file.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("backup: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
