package partition

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// ArchiveOptions say where partitions go before retention drops them.
type ArchiveOptions struct {
	// Dir receives <database>/<schema>.<partition>.dump and its .manifest.json.
	Dir string
	// DSN reaches the database for pg_dump, and (with another database name) the
	// scratch database the archive is restored into and compared.
	DSN string
	// BinDir holds pg_dump and pg_restore (default: the server's major version under
	// /usr/lib/postgresql, else the PATH).
	BinDir string
	// Recipients are age public keys (age1...): the dump is encrypted to them and the
	// plaintext removed. IdentityFile, when set, holds an age identity that decrypts
	// the archive, and the restore check then reads the decrypted archive itself.
	Recipients   []string
	IdentityFile string
}

// Manifest describes one archived partition.
type Manifest struct {
	Parent      string `json:"parent"`
	Partition   string `json:"partition"`
	Bound       string `json:"bound"`
	File        string `json:"file"`
	SHA256      string `json:"sha256"`
	Rows        int64  `json:"rows"`
	ContentHash string `json:"content_hash"`
	RestoredOK  bool   `json:"restored_and_compared"`
	// Encrypted: File is an age file; PlainSHA256 is the dump's hash before encryption,
	// and CheckedFrom says what the restore read ("decrypted archive" or "dump before
	// encryption").
	Encrypted   bool      `json:"encrypted"`
	PlainSHA256 string    `json:"plain_sha256,omitempty"`
	CheckedFrom string    `json:"checked_from"`
	ArchivedAt  time.Time `json:"archived_at"`
}

// contentSQL counts a table's rows and sums a hash of each row's text.
func contentSQL(table string) string {
	return "SELECT count(*), coalesce(sum(hashtextextended(pgmedic_row::text, 0)::numeric), 0)::text FROM " + table + " pgmedic_row"
}

// archive dumps the detached partition, restores it into a scratch database, compares
// rows and content hash, and records the archive: only then may it be dropped.
func archive(ctx context.Context, conn *pgx.Conn, o ArchiveOptions, parent, schema, child, bound string) error {
	if o.Dir == "" {
		return fmt.Errorf("partition: archiving %s: no archive directory (partitioner.archiveDir)", child)
	}
	q := ident.Quote(schema, child)
	m := Manifest{Parent: parent, Partition: schema + "." + child, Bound: bound, ArchivedAt: time.Now().UTC()}
	if err := conn.QueryRow(ctx, policy.Marker+contentSQL(q)).Scan(&m.Rows, &m.ContentHash); err != nil {
		return fmt.Errorf("partition: reading %s: %w", q, err)
	}
	var db string
	var ver int
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT current_database(), current_setting('server_version_num')::int / 10000").Scan(&db, &ver); err != nil {
		return err
	}
	dir := filepath.Join(o.Dir, db)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("partition: archive directory: %w", err)
	}
	base := filepath.Join(dir, schema+"."+child)
	m.File = base + ".dump"
	bin := binDir(o.BinDir, ver)
	args := []string{"-Fc", "-Z", "6", "-t", q, "-f", m.File}
	if o.DSN != "" { // else the libpq environment, as for pgmedic itself
		args = append(args, "-d", o.DSN)
	}
	if err := run(ctx, filepath.Join(bin, "pg_dump"), args...); err != nil {
		return fmt.Errorf("partition: dumping %s: %w", q, err)
	}
	check, cleanup, err := seal(o, &m)
	defer cleanup()
	if err != nil {
		return err
	}
	if err := restoreAndCompare(ctx, conn, o, bin, schema, q, check, &m); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(base+".manifest.json", raw, 0o600); err != nil {
		return fmt.Errorf("partition: writing the manifest: %w", err)
	}
	_, err = conn.Exec(ctx, policy.Marker+`INSERT INTO pgmedic.partition_archives (parent, partition, bound, file, sha256, rows, content_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, parent, m.Partition, bound, m.File, m.SHA256, m.Rows, m.ContentHash)
	return err
}

// restoreAndCompare restores the dump into a scratch database and compares it.
func restoreAndCompare(ctx context.Context, conn *pgx.Conn, o ArchiveOptions, bin, schema, q, file string, m *Manifest) error {
	scratch := fmt.Sprintf("pgmedic_scratch_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := conn.Exec(ctx, policy.Marker+"CREATE DATABASE "+ident.Quote(scratch)); err != nil {
		return fmt.Errorf("partition: creating a scratch database to check the archive: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), policy.Marker+"DROP DATABASE IF EXISTS "+ident.Quote(scratch)+" WITH (FORCE)")
	dsn, err := withDatabase(o.DSN, scratch)
	if err != nil {
		return err
	}
	sc, err := policy.Connect(ctx, dsn, policy.Policy{Write: true})
	if err != nil {
		return fmt.Errorf("partition: connecting to the scratch database: %w", err)
	}
	defer sc.Close(context.WithoutCancel(ctx))
	if _, err := sc.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident.Quote(schema)); err != nil {
		return err
	}
	if err := run(ctx, filepath.Join(bin, "pg_restore"), "--no-owner", "--no-acl", "--section=pre-data", "--section=data", "--exit-on-error", "-d", dsn, file); err != nil {
		return fmt.Errorf("partition: restoring the archive of %s: %w", q, err)
	}
	var rows int64
	var hash string
	if err := sc.QueryRow(ctx, contentSQL(q)).Scan(&rows, &hash); err != nil {
		return fmt.Errorf("partition: reading the restored %s: %s", q, pgerr.Safe(err))
	}
	if rows != m.Rows || hash != m.ContentHash {
		return fmt.Errorf("partition: the archive of %s does not match it (%d rows restored of %d, content hash differs: %t); the partition is kept", q, rows, m.Rows, hash != m.ContentHash)
	}
	m.RestoredOK = true
	return nil
}

// withDatabase points a connection string (URI or key=value) at another database.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("partition: reading the connection string: %w", err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return strings.TrimSpace(dsn + " dbname=" + db), nil // libpq takes the last value of a keyword
}

func binDir(dir string, major int) string {
	if dir != "" {
		return dir
	}
	d := fmt.Sprintf("/usr/lib/postgresql/%d/bin", major)
	if _, err := os.Stat(filepath.Join(d, "pg_dump")); err == nil {
		return d
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return filepath.Dir(p)
	}
	return d
}

// run runs a client program; its error output (which names objects, not values) is
// kept short in the error.
func run(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(prog), err, policy.Redact(msg))
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
