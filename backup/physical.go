package backup

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
)

// PhysicalOptions say which pgBackRest stanza to prove.
type PhysicalOptions struct {
	PgBackRest *PgBackRest
	BinDir     string    // PostgreSQL bin directory; "" finds the installed one
	WorkIn     string    // where the restored data directory goes ("" the temp dir)
	RecordDir  string    // where the verification record goes ("" none)
	Log        io.Writer // progress lines; nil discards them
}

// VerifyPhysical restores the stanza's newest backup with its WAL into a scratch
// directory, starts a server on it (no TCP, archiving off, its own authentication
// file) until recovery has ended, runs amcheck on every database, and times the
// whole: the recovery time measured for this cluster. The record is written as
// pgbackrest-<stanza>.verified.json in RecordDir.
func VerifyPhysical(ctx context.Context, o PhysicalOptions) (*Verification, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	br := o.PgBackRest
	out, err := br.Run(ctx, "info", "--output=json")
	if err != nil {
		return nil, err
	}
	repo, err := parseInfo(out, br.Stanza)
	if err != nil {
		return nil, err
	}
	if repo.Last == nil {
		return nil, fmt.Errorf("backup: pgBackRest stanza %s has no backup to verify", br.Stanza)
	}
	bin, err := localpg.FindBinaries(ctx, o.BinDir)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.WorkIn, "pgmedic-pitr-verify-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	srv := &scratchServer{bin: bin, as: br.As, dir: work}
	v := &Verification{File: fmt.Sprintf("pgbackrest stanza %s backup %s", br.Stanza, repo.Last.Label),
		BackupTaken: repo.Last.Stop, Bytes: repo.Last.RepoSize, RestoreDatabase: "*"}
	began := time.Now()
	if err := srv.prepare(); err != nil {
		return nil, err
	}
	if _, err := br.Run(ctx, "restore", "--pg1-path="+srv.data()); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "restored backup %s in %.1fs; recovering\n", repo.Last.Label, time.Since(began).Seconds())
	if err := srv.start(ctx); err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.waitPromoted(ctx); err != nil {
		return nil, err
	}
	v.RestoreSeconds = time.Since(began).Seconds()
	fmt.Fprintf(o.Log, "recovered in %.1fs in all; running amcheck\n", v.RestoreSeconds)
	if err := amcheckAll(ctx, srv, v); err != nil {
		return nil, err
	}
	v.Verified = time.Now().UTC()
	v.OK = v.Amcheck.Problems == 0
	if o.RecordDir != "" {
		if err := writeJSON(filepath.Join(o.RecordDir, "pgbackrest-"+br.Stanza+VerifiedSuffix), v); err != nil {
			return nil, err
		}
	}
	if !v.OK {
		return v, &CorruptionError{V: v}
	}
	return v, nil
}

// scratchServer is a server run on a restored data directory.
type scratchServer struct {
	bin  *localpg.Binaries
	as   func(*exec.Cmd)
	dir  string
	port int
}

func (s *scratchServer) data() string   { return filepath.Join(s.dir, "data") }
func (s *scratchServer) socket() string { return filepath.Join(s.dir, "run") }

func (s *scratchServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(s.bin.Tool(name), args...)
	cmd.Env = os.Environ()
	if s.as != nil {
		s.as(cmd)
	}
	return cmd
}

// prepare makes the directories and hands them to the server's account.
func (s *scratchServer) prepare() error {
	uid, gid := -1, -1
	if s.as != nil {
		probe := exec.Command("true")
		s.as(probe)
		if c := probe.SysProcAttr; c != nil && c.Credential != nil {
			uid, gid = int(c.Credential.Uid), int(c.Credential.Gid)
		}
	}
	// The socket directory is private to the server's account: local trust is safe.
	if err := os.WriteFile(filepath.Join(s.dir, "hba.conf"), []byte("local all all trust\n"), 0o644); err != nil {
		return fmt.Errorf("backup: writing the scratch hba file: %w", err)
	}
	for _, d := range []string{s.data(), s.socket()} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if uid >= 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return fmt.Errorf("backup: handing %s to the server's account: %w", d, err)
			}
		}
	}
	return nil
}

func (s *scratchServer) start(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backup: choosing a port: %w", err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	// Command-line settings win over the restored postgresql.auto.conf: no archiving
	// into the production repository, no TCP, our own authentication file.
	opts := fmt.Sprintf("-p %d -c listen_addresses='' -c unix_socket_directories=%s -c archive_mode=off -c ssl=off -c hba_file=%s/hba.conf",
		s.port, s.socket(), s.dir)
	cmd := s.command("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.socket(), "server.log"), "-w", "-t", "3600", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("backup: starting the restored server: %v: %s", err, lastLine(string(out)))
	}
	return nil
}

func (s *scratchServer) stop() {
	_ = s.command("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop").Run()
}

func (s *scratchServer) uri(db string) string {
	return fmt.Sprintf("postgres:///%s?host=%s&port=%d&user=%s", db, s.socket(), s.port, "postgres")
}

// waitPromoted waits until recovery has replayed the archive and the server accepts
// writes.
func (s *scratchServer) waitPromoted(ctx context.Context) error {
	for {
		conn, err := pgconn.Connect(ctx, s.uri("postgres"), pgconn.Policy{})
		if err == nil {
			var inRecovery bool
			err = conn.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(context.Background())
			if err == nil && !inRecovery {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("backup: waiting for recovery: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func amcheckAll(ctx context.Context, s *scratchServer, v *Verification) error {
	conn, err := pgconn.Connect(ctx, s.uri("postgres"), pgconn.Policy{})
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")
	if err != nil {
		conn.Close(context.Background())
		return fmt.Errorf("backup: listing databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_catalog.sum(pg_catalog.pg_database_size(oid))::int8 FROM pg_catalog.pg_database").Scan(&v.DatabaseBytes)
	}
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("backup: reading the restored cluster: %w", err)
	}
	began := time.Now()
	for _, db := range dbs {
		res, err := Amcheck(ctx, s.uri(db))
		if err != nil {
			return err
		}
		v.Amcheck.Tables += res.Tables
		v.Amcheck.Indexes += res.Indexes
		if res.Problems > 0 && v.Amcheck.Problems == 0 {
			v.Amcheck.First = db + ": " + res.First
		}
		v.Amcheck.Problems += res.Problems
	}
	v.AmcheckSeconds = time.Since(began).Seconds()
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
