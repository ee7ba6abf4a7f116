package pgconn_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func TestReadOnlyByDefaultAndSessionSettings(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	p := policy.Policy{StatementTimeout: 30 * time.Second, LockTimeout: 2 * time.Second, IdleInTransactionTimeout: time.Minute}
	conn, err := policy.Connect(ctx, db.URI, p)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for setting, want := range map[string]string{
		"application_name":                    "pgmedic",
		"statement_timeout":                   "30s",
		"lock_timeout":                        "2s",
		"idle_in_transaction_session_timeout": "1min",
		"default_transaction_read_only":       "on",
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	_, err = conn.Exec(ctx, "CREATE TABLE should_fail (id int)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("a write in a default session: want SQLSTATE 25006 (read-only transaction), got %v", err)
	}

	p.Write = true
	wconn, err := policy.Connect(ctx, db.URI, p)
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close(ctx)
	if _, err := wconn.Exec(ctx, "CREATE TABLE may_write (id int)"); err != nil {
		t.Fatalf("write policy could not write: %v", err)
	}
}

func TestConnectionStringSettingsWin(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	conn, err := policy.Connect(ctx, db.URI+"&statement_timeout=1234&application_name=someone_else", policy.Policy{StatementTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var st, app string
	if err := conn.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('application_name')").Scan(&st, &app); err != nil {
		t.Fatal(err)
	}
	if st != "1234ms" {
		t.Errorf("statement_timeout from the DSN was overridden: %s", st)
	}
	if app != "pgmedic" {
		t.Errorf("application_name = %q; pgmedic's sessions must always say pgmedic", app)
	}
}

func TestTLSPolicy(t *testing.T) {
	ca := pg.CAFile
	cases := []struct {
		name       string
		dsn        string
		production bool
		refused    bool
		warned     bool
	}{
		{"remote prefer refused in production", "postgres://u@db.example.org/app", true, true, false},
		{"remote require refused", "postgres://u@db.example.org/app?sslmode=require", true, true, false},
		{"remote verify-ca refused", "postgres://u@db.example.org/app?sslmode=verify-ca&sslrootcert=" + ca, true, true, false},
		{"remote disable refused", "host=10.1.2.3 user=u dbname=app sslmode=disable", true, true, false},
		{"remote verify-full accepted", "postgres://u@db.example.org/app?sslmode=verify-full&sslrootcert=" + ca, true, false, false},
		{"loopback prefer accepted", "postgres://u@127.0.0.1/app", true, false, false},
		{"localhost disable accepted", "host=localhost user=u sslmode=disable", true, false, false},
		{"ipv6 loopback accepted", "postgres://u@[::1]:5432/app?sslmode=disable", true, false, false},
		{"unix socket accepted", "host=/var/run/postgresql user=u", true, false, false},
		{"multi-host with a remote plaintext fallback refused", "postgres://u@127.0.0.1:5432,db.example.org:5432/app?sslmode=prefer", true, true, false},
		{"development warns on remote prefer", "postgres://u@db.example.org/app", false, false, true},
		{"development quiet on verify-full", "postgres://u@db.example.org/app?sslmode=verify-full&sslrootcert=" + ca, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			p := policy.Policy{RequireVerifyFull: tc.production, Warn: func(m string) { warnings = append(warnings, m) }}
			_, err := policy.ParseConfig(tc.dsn, p)
			var pe *policy.PolicyError
			if tc.refused {
				if !errors.As(err, &pe) {
					t.Fatalf("want a PolicyError, got %v", err)
				}
				if !strings.Contains(pe.Error(), "verify-full") || pe.Hint == "" {
					t.Fatalf("refusal should name verify-full and carry a hint: %v / %q", pe, pe.Hint)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := len(warnings) > 0; got != tc.warned {
				t.Fatalf("warned = %v (%v), want %v", got, warnings, tc.warned)
			}
		})
	}
}

func TestPGSSLModeEnvironmentIsInspected(t *testing.T) {
	t.Setenv("PGSSLMODE", "require")
	_, err := policy.ParseConfig("host=db.example.org user=u dbname=app", policy.Policy{RequireVerifyFull: true})
	var pe *policy.PolicyError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "sslmode=require") {
		t.Fatalf("want a refusal naming sslmode=require from PGSSLMODE, got %v", err)
	}
}

func TestVerifyFullAgainstRealServer(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	// The cluster's URI is verify-full; under the production policy it must connect
	// even when we pretend 127.0.0.1 is remote by using the name "localhost" (loopback).
	conn, err := policy.Connect(ctx, db.URI, policy.Policy{RequireVerifyFull: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Fatalf("session not encrypted: ssl=%v err=%v", ssl, err)
	}
}

func TestLibpqEnvironmentAndPassfile(t *testing.T) {
	db := pg.NewDB(t)
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", strconv.Itoa(pg.Port()))
	t.Setenv("PGUSER", "postgres")
	t.Setenv("PGDATABASE", db.Name)
	t.Setenv("PGSSLMODE", "verify-full")
	t.Setenv("PGSSLROOTCERT", pg.CAFile)
	t.Setenv("PGPASSFILE", pg.PassFile)
	ctx := context.Background()
	conn, err := policy.Connect(ctx, "", policy.Policy{RequireVerifyFull: true})
	if err != nil {
		t.Fatalf("connect from the libpq environment: %v", err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil || name != db.Name {
		t.Fatalf("connected to %q (%v), want %q", name, err, db.Name)
	}
}

func TestPasswordsNeverInErrors(t *testing.T) {
	ctx := context.Background()
	const secret = "Sup3rS3cretPw"
	// Malformed DSN that carries a password.
	_, err := policy.ParseConfig("postgres://u:"+secret+"@host:notaport/db", policy.Policy{})
	var ie *policy.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("want InputError, got %T %v", err, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("malformed DSN error leaks the password: %v", err)
	}
	_, err = policy.ParseConfig("host=x password="+secret+" port=abc", policy.Policy{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("key=value parse error leaks the password or is nil: %v", err)
	}

	// Wrong password against the real server.
	dsn := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s", secret, pg.Port(), pg.CAFile)
	_, err = policy.Connect(ctx, dsn, policy.Policy{})
	var ce *policy.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConnectError, got %T %v", err, err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(ce.Hint, secret) {
		t.Fatalf("authentication error leaks the password: %v", err)
	}
	if !strings.Contains(ce.Hint, "password") {
		t.Fatalf("hint should point at the password: %q", ce.Hint)
	}
}

func TestClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = policy.Connect(context.Background(), fmt.Sprintf("postgres://u@127.0.0.1:%d/db?sslmode=disable", port), policy.Policy{})
	var ce *policy.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConnectError, got %T %v", err, err)
	}
	if !strings.Contains(ce.Error(), strconv.Itoa(port)) || !strings.Contains(ce.Hint, "running") {
		t.Fatalf("message should name the port and hint at the server: %v / %s", ce, ce.Hint)
	}
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"postgres://alice:pw123@db/app":                      "postgres://alice:xxxxx@db/app",
		"postgresql://alice:p%40ss@db/app?sslmode=require":   "postgresql://alice:xxxxx@db/app?sslmode=require",
		"host=db password=pw123 user=alice":                  "host=db password=xxxxx user=alice",
		"host=db password='pw 123' user=alice":               "host=db password=xxxxx user=alice",
		"postgres://db/app?password=pw123&sslmode=require":   "postgres://db/app?password=xxxxx&sslmode=require",
		"postgres://db/app?sslpassword=pw123":                "postgres://db/app?sslpassword=xxxxx",
		"no secrets here: postgres://alice@db/app":           "no secrets here: postgres://alice@db/app",
		"failed: cannot parse `host=db password = pw123` ok": "failed: cannot parse `host=db password = xxxxx` ok",
	}
	for in, want := range cases {
		if got := policy.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	secrets := policy.Secrets("postgres://alice:pw123@db/app?sslpassword=keypw")
	if len(secrets) != 2 || secrets[0] != "pw123" || secrets[1] != "keypw" {
		t.Errorf("Secrets = %v", secrets)
	}
}

func TestDescribeNeverShowsPassword(t *testing.T) {
	cfg, err := policy.ParseConfig("postgres://alice:pw123@db.example.org:6543/app?sslmode=verify-full&sslrootcert="+filepath.Clean(pg.CAFile), policy.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := policy.Describe(cfg); got != "alice@db.example.org:6543/app" {
		t.Fatalf("Describe = %q", got)
	}
}
