package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
)

// VerifyOptions say which backup to prove and with what.
type VerifyOptions struct {
	Path   string
	Key    []byte
	BinDir string    // PostgreSQL bin directory; "" finds the installed one
	WorkIn string    // directory for the private cluster; "" uses the system temp dir
	Log    io.Writer // progress lines; nil discards them
}

// Verification is the outcome of restoring a backup and checking it.
type Verification struct {
	File           string        `json:"file"`
	SHA256         string        `json:"sha256,omitempty"`
	Verified       time.Time     `json:"verified"`
	OK             bool          `json:"ok"`
	BackupTaken    time.Time     `json:"backup_taken"`
	Bytes          int64         `json:"bytes"`
	DumpBytes      int64         `json:"dump_bytes"`
	Tables         int           `json:"tables"`
	Rows           int64         `json:"rows"`
	Mismatches     []Mismatch    `json:"mismatches,omitempty"`
	RestoreSeconds float64       `json:"restore_seconds"`
	DatabaseBytes  int64         `json:"restored_database_bytes"`
	ClusterSeconds float64       `json:"cluster_start_seconds"`
	Amcheck        AmcheckResult `json:"amcheck"`
	AmcheckSeconds float64       `json:"amcheck_seconds"`
	PgRestore      string        `json:"pg_restore"`
	RestoreErrors  int           `json:"restore_errors"`
	// FirstRestoreError is pg_restore's first error line, without quoted values.
	FirstRestoreError string `json:"first_restore_error,omitempty"`
	RestoreDatabase   string `json:"-"`
}

// Mismatch is one table whose restored copy differs from the manifest. It carries
// counts only, never values.
type Mismatch struct {
	Table        string `json:"table"`
	Problem      string `json:"problem"` // missing, unexpected, rows, content
	ManifestRows int64  `json:"manifest_rows"`
	RestoredRows int64  `json:"restored_rows"`
}

// MismatchError is a restore that does not match its manifest.
type MismatchError struct{ V *Verification }

func (e *MismatchError) Error() string {
	first := e.V.Mismatches[0]
	return fmt.Sprintf("restored copy of %s does not match its manifest: %d table(s) differ, first %s (%s: %d rows in the manifest, %d restored)",
		filepath.Base(e.V.File), len(e.V.Mismatches), first.Table, first.Problem, first.ManifestRows, first.RestoredRows)
}

// RestoreError is a restore during which pg_restore reported errors, though the data
// matched: an object (a policy, a function) is missing from the copy.
type RestoreError struct{ V *Verification }

func (e *RestoreError) Error() string {
	return fmt.Sprintf("pg_restore reported %d error(s) restoring %s though the data matches its manifest; first: %s",
		e.V.RestoreErrors, filepath.Base(e.V.File), e.V.FirstRestoreError)
}

// CorruptionError is a restore on which amcheck found problems.
type CorruptionError struct{ V *Verification }

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("amcheck found %d problem(s) in the restored copy of %s (first in %s)",
		e.V.Amcheck.Problems, filepath.Base(e.V.File), e.V.Amcheck.First)
}

// Verify authenticates the whole file, restores it into a private cluster, compares
// every table's row count and content hash with the manifest, runs amcheck, and
// records the outcome beside the file. The restore time is the measured recovery time
// for a backup of this size.
func Verify(ctx context.Context, opts VerifyOptions) (*Verification, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	m, err := Authenticate(opts.Path, opts.Key)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "authenticated %s: %d tables, %d rows, taken %s at LSN %s\n",
		filepath.Base(opts.Path), len(m.Tables), m.Rows(), m.Started.Format(time.RFC3339), m.LSN)
	v := &Verification{File: opts.Path, SHA256: m.SHA256, BackupTaken: m.Started, Bytes: m.Bytes,
		DumpBytes: m.DumpBytes, Tables: len(m.Tables), Rows: m.Rows(), RestoreDatabase: "restored"}
	if v.Bytes == 0 {
		if st, err := os.Stat(opts.Path); err == nil {
			v.Bytes = st.Size()
		}
	}
	cluster, cleanup, err := privateCluster(ctx, opts, v)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := restore(ctx, opts, cluster, m, v); err != nil {
		return nil, err
	}
	if err := compare(ctx, opts, cluster, m, v); err != nil {
		return nil, err
	}
	began := time.Now()
	v.Amcheck, err = Amcheck(ctx, cluster.SocketURI(v.RestoreDatabase))
	if err != nil {
		return nil, err
	}
	v.AmcheckSeconds = time.Since(began).Seconds()
	v.Verified = time.Now().UTC()
	v.OK = len(v.Mismatches) == 0 && v.Amcheck.Problems == 0 && v.RestoreErrors == 0
	if err := writeJSON(VerifiedPath(opts.Path), v); err != nil {
		return nil, err
	}
	switch {
	case len(v.Mismatches) > 0:
		return v, &MismatchError{V: v}
	case v.Amcheck.Problems > 0:
		return v, &CorruptionError{V: v}
	case v.RestoreErrors > 0:
		return v, &RestoreError{V: v}
	}
	return v, nil
}

func privateCluster(ctx context.Context, opts VerifyOptions, v *Verification) (*localpg.Cluster, func(), error) {
	base, err := os.MkdirTemp(opts.WorkIn, "pgmedic-verify-")
	if err != nil {
		return nil, nil, fmt.Errorf("backup: creating a directory for the restore: %w", err)
	}
	// The server runs as the postgres account when pgmedic is root; it must reach in.
	if err := os.Chmod(base, 0o755); err != nil {
		os.RemoveAll(base)
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	began := time.Now()
	// Durable, as a real restore would be, so the measured time is a fair RTO.
	c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(base, "cluster"), BinDir: opts.BinDir, Durable: true,
		Settings: map[string]string{"maintenance_work_mem": "256MB", "max_wal_size": "4GB", "checkpoint_timeout": "30min"}})
	if err != nil {
		os.RemoveAll(base)
		return nil, nil, err
	}
	v.ClusterSeconds = time.Since(began).Seconds()
	fmt.Fprintf(opts.Log, "private cluster ready in %.1fs\n", v.ClusterSeconds)
	cleanup := func() {
		_ = c.Destroy(context.Background())
		os.RemoveAll(base)
	}
	return c, cleanup, nil
}

// restore decrypts the file into pg_restore; only authenticated records reach it.
// pg_restore goes on past errors (a role or an extension this machine lacks) so the
// data can still be compared; the errors are counted and fail the verification.
func restore(ctx context.Context, opts VerifyOptions, c *localpg.Cluster, m *Manifest, v *Verification) error {
	pgRestore, err := findTool(ctx, opts.BinDir, "pg_restore")
	if err != nil {
		return err
	}
	v.PgRestore = toolVersion(ctx, pgRestore)
	if err := prepareRestore(ctx, c, m, v); err != nil {
		return err
	}
	f, err := os.Open(opts.Path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	began := time.Now()
	r, err := NewReader(f, opts.Key)
	if err != nil {
		return fileError(opts.Path, err)
	}
	cmd := exec.CommandContext(ctx, pgRestore, "--no-owner", "--no-privileges", "--no-tablespaces",
		"--no-security-labels", "--no-subscriptions", "--dbname="+c.SocketURI(v.RestoreDatabase))
	tail := &stderrTail{}
	cmd.Stderr, cmd.Stdout = tail, tail
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("backup: starting pg_restore: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("backup: starting pg_restore: %w", err)
	}
	_, copyErr := io.CopyBuffer(in, r, make([]byte, 1<<20))
	in.Close()
	waitErr := cmd.Wait()
	if copyErr != nil && !errors.Is(copyErr, os.ErrClosed) {
		if fe := fileError(opts.Path, copyErr); fe != copyErr {
			return fe
		}
		return fmt.Errorf("backup: feeding pg_restore: %w", copyErr)
	}
	v.RestoreSeconds = time.Since(began).Seconds()
	if waitErr != nil {
		n := ignoredErrors.FindStringSubmatch(tail.buf.String())
		if n == nil {
			return fmt.Errorf("backup: pg_restore failed (%s): %s", exitStatus(waitErr), tail.lastError())
		}
		v.RestoreErrors, _ = strconv.Atoi(n[1])
		v.FirstRestoreError = tail.firstError()
	}
	fmt.Fprintf(opts.Log, "restored %s of dump in %.1fs (%d errors)\n", finding.HumanBytes(v.DumpBytes), v.RestoreSeconds, v.RestoreErrors)
	return nil
}

var ignoredErrors = regexp.MustCompile(`errors ignored on restore: (\d+)`)

// prepareRestore creates the restore database and the roles the policies name.
func prepareRestore(ctx context.Context, c *localpg.Cluster, m *Manifest, v *Verification) error {
	admin, err := pgconn.Connect(ctx, c.SocketURI("postgres"), pgconn.Policy{Write: true})
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	if _, err = admin.Exec(ctx, "CREATE DATABASE "+ident.Quote(v.RestoreDatabase)); err != nil {
		return fmt.Errorf("backup: creating the restore database: %w", err)
	}
	for _, role := range m.Roles {
		var exists bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
			return fmt.Errorf("backup: looking up role %s: %w", role, err)
		}
		if exists {
			continue
		}
		if _, err := admin.Exec(ctx, "CREATE ROLE "+ident.Quote(role)+" NOLOGIN"); err != nil {
			return fmt.Errorf("backup: creating role %s for the policies: %w", role, err)
		}
	}
	return nil
}

// compare reads every table of the restored database in the manifest's terms.
func compare(ctx context.Context, opts VerifyOptions, c *localpg.Cluster, m *Manifest, v *Verification) error {
	seed, err := hashSeed(opts.Key)
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(ctx, c.SocketURI(v.RestoreDatabase), pgconn.Policy{})
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := prepareSession(ctx, conn); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_database_size(pg_catalog.current_database())").Scan(&v.DatabaseBytes); err != nil {
		return fmt.Errorf("backup: sizing the restored database: %w", err)
	}
	got, err := TableStats(ctx, conn, seed)
	if err != nil {
		return err
	}
	v.Mismatches = diffTables(m.Tables, got)
	return nil
}

func diffTables(want, got []TableStat) []Mismatch {
	key := func(t TableStat) string { return ident.Quote(t.Schema, t.Name) }
	restored := map[string]TableStat{}
	for _, t := range got {
		restored[key(t)] = t
	}
	var out []Mismatch
	for _, w := range want {
		g, ok := restored[key(w)]
		delete(restored, key(w))
		switch {
		case !ok:
			out = append(out, Mismatch{Table: key(w), Problem: "missing", ManifestRows: w.Rows})
		case g.Rows != w.Rows:
			out = append(out, Mismatch{Table: key(w), Problem: "rows", ManifestRows: w.Rows, RestoredRows: g.Rows})
		case g.Hash != w.Hash:
			out = append(out, Mismatch{Table: key(w), Problem: "content", ManifestRows: w.Rows, RestoredRows: g.Rows})
		}
	}
	for _, g := range got {
		if _, extra := restored[key(g)]; extra {
			out = append(out, Mismatch{Table: key(g), Problem: "unexpected", RestoredRows: g.Rows})
		}
	}
	return out
}
