// Package pgtest is the test harness: one private PostgreSQL cluster per test package
// (started from TestMain) and a fresh database per test, cloned from a template that
// already holds the extensions pgmedic works with. Nothing mocks the database.
//
//	var pg *pgtest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }
//
//	func TestSomething(t *testing.T) {
//		db := pg.NewDB(t)
//		db.Exec(t, "CREATE TABLE ...")
//	}
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/pgconn"
)

// Template is the database every test database is cloned from.
const Template = "pgmedic_template"

// Extensions are created in the template when the installation has them. Preloaded
// ones (pg_stat_statements, pgaudit, pg_qualstats) need the library loaded too.
var templateExtensions = []struct{ name, schema string }{
	{"pg_stat_statements", ""},
	{"hypopg", ""},
	{"pg_qualstats", ""},
	{"pgaudit", ""},
	{"pgcrypto", ""},
	{"pg_partman", "partman"},
}

// Cluster is the package's server.
type Cluster struct {
	*localpg.Cluster
	Extensions []string // extensions present in the template

	mu        sync.Mutex
	seq       int
	templates map[string]*templateState
}

type templateState struct {
	once sync.Once
	name string
	err  error
}

// Options tune the cluster a test package gets.
type Options struct {
	Settings map[string]string // extra postgresql.conf settings
}

// Main starts the cluster, runs the package's tests and removes the cluster. It returns
// the exit code for os.Exit.
func Main(m *testing.M, out **Cluster) int {
	return MainWithOptions(m, out, Options{})
}

// MainWithOptions is Main with extra server settings.
func MainWithOptions(m *testing.M, out **Cluster, opts Options) int {
	c, cleanup, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if h, ok := err.(interface{ Hint() string }); ok {
			fmt.Fprintf(os.Stderr, "pgtest: %s\n", h.Hint())
		}
		return 1
	}
	*out = c
	code := m.Run()
	cleanup()
	return code
}

// Start starts a cluster outside TestMain (benchmarks, tools). The returned function
// stops it and removes its files.
func Start(opts Options) (*Cluster, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgmedic-test-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating a directory for the test cluster: %w", err)
	}
	// MkdirTemp makes 0700, which would keep the postgres account out when tests run
	// as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("opening %s to the server account: %w", dir, err)
	}
	lc, err := localpg.Start(ctx, localpg.Options{Dir: dir + "/cluster", Settings: opts.Settings})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	c := &Cluster{Cluster: lc, templates: map[string]*templateState{}}
	cleanup := func() {
		_ = lc.Destroy(context.Background())
		os.RemoveAll(dir)
	}
	if err := c.buildTemplate(ctx); err != nil {
		cleanup()
		return nil, nil, err
	}
	return c, cleanup, nil
}

func (c *Cluster) buildTemplate(ctx context.Context) error {
	if err := c.adminExec(ctx, "postgres", "CREATE DATABASE "+Template); err != nil {
		return err
	}
	conn, err := pgconn.Connect(ctx, c.SocketURI(Template), pgconn.Policy{Write: true})
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, ext := range templateExtensions {
		if !c.Bin.HasExtension(ext.name) {
			continue
		}
		sql := "CREATE EXTENSION IF NOT EXISTS " + pgx.Identifier{ext.name}.Sanitize()
		if ext.schema != "" {
			if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{ext.schema}.Sanitize()); err != nil {
				return fmt.Errorf("pgtest: creating schema %s: %w", ext.schema, err)
			}
			sql += " SCHEMA " + pgx.Identifier{ext.schema}.Sanitize()
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			// A library that is installed but not preloaded cannot be created; the
			// tests that need it say so themselves.
			continue
		}
		c.Extensions = append(c.Extensions, ext.name)
	}
	return nil
}

func (c *Cluster) adminExec(ctx context.Context, db, sql string) error {
	conn, err := pgconn.Connect(ctx, c.SocketURI(db), pgconn.Policy{Write: true})
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// HasExtension reports whether the template holds ext.
func (c *Cluster) HasExtension(ext string) bool {
	for _, e := range c.Extensions {
		if e == ext {
			return true
		}
	}
	return false
}

// DB is one test's database.
type DB struct {
	Name      string
	URI       string // TCP, TLS verify-full, superuser, password from the cluster's pgpass
	SocketURI string // private Unix socket, superuser, no password
	cluster   *Cluster
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDB creates a database for the test from the extension template and drops it when
// the test ends.
func (c *Cluster) NewDB(t testing.TB) *DB {
	t.Helper()
	return c.newDBFrom(t, Template, "WAL_LOG")
}

// NewDBFromTemplate clones a template made once per package by build (a seeded
// dataset, say). key names the template; build runs against a database that starts as a
// copy of the extension template.
func (c *Cluster) NewDBFromTemplate(t testing.TB, key string, build func(ctx context.Context, db *DB) error) *DB {
	t.Helper()
	c.mu.Lock()
	st, ok := c.templates[key]
	if !ok {
		st = &templateState{name: "tmpl_" + unsafeChars.ReplaceAllString(strings.ToLower(key), "_")}
		c.templates[key] = st
	}
	c.mu.Unlock()
	st.once.Do(func() {
		ctx := context.Background()
		if err := c.adminExec(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
			pgx.Identifier{st.name}.Sanitize(), Template)); err != nil {
			st.err = err
			return
		}
		db := &DB{Name: st.name, URI: c.URI(st.name), SocketURI: c.SocketURI(st.name), cluster: c}
		if err := build(ctx, db); err != nil {
			st.err = fmt.Errorf("pgtest: building template %s: %w", key, err)
			return
		}
		// Templates must be idle to be cloned: wait out any session build left behind.
		st.err = c.adminExec(ctx, "postgres", fmt.Sprintf(
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()", st.name))
	})
	if st.err != nil {
		t.Fatalf("%v", st.err)
	}
	return c.newDBFrom(t, st.name, "FILE_COPY")
}

func (c *Cluster) newDBFrom(t testing.TB, template, strategy string) *DB {
	t.Helper()
	c.mu.Lock()
	c.seq++
	n := c.seq
	c.mu.Unlock()
	base := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	name := fmt.Sprintf("t%d_%s", n, strings.Trim(base, "_"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = c.adminExec(ctx, "postgres", fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY %s",
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize(), strategy))
		// A template briefly in use by a concurrent clone's checker is retried.
		if err == nil || !pgerr.Is(err, pgerr.ObjectInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	db := &DB{Name: name, URI: c.URI(name), SocketURI: c.SocketURI(name), cluster: c}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.adminExec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	return db
}

// Conn opens a read-write superuser session on the database, closed when the test ends.
func (db *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", db.Name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// SocketURIAs is SocketURI for another role (roles are cluster-wide: tests create their
// own with names no other test uses).
func (db *DB) SocketURIAs(user string) string {
	u, err := url.Parse(db.SocketURI)
	if err != nil {
		panic(fmt.Sprintf("pgtest: socket URI %q: %v", db.SocketURI, err)) // built by this package
	}
	u.User = url.User(user)
	return u.String()
}

// ConnAs opens a session as another role, with policy p, closed when the test ends.
func (db *DB) ConnAs(t testing.TB, user string, p pgconn.Policy) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, db.SocketURIAs(user), p)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s as %s: %v", db.Name, user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Pool opens a read-write pool on the database, closed when the test ends.
func (db *DB) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatalf("pgtest: pool on %s: %v", db.Name, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// with runs fn on a fresh superuser session of the database, failing the test on error.
func (db *DB) with(t testing.TB, sql string, fn func(ctx context.Context, conn *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", db.Name, err)
	}
	defer conn.Close(ctx)
	if err := fn(ctx, conn); err != nil {
		t.Fatalf("pgtest: %s: %v", firstLine(sql), err)
	}
}

// Exec runs statements as the superuser and fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	db.with(t, sql, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql, args...)
		return err
	})
}

// QueryInt64 runs a one-value query and returns it as an int64.
func (db *DB) QueryInt64(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var v int64
	db.with(t, sql, func(ctx context.Context, conn *pgx.Conn) error { return conn.QueryRow(ctx, sql, args...).Scan(&v) })
	return v
}

// QueryStrings runs a one-column query and returns its rows as text.
func (db *DB) QueryStrings(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	var out []string
	db.with(t, sql, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// NewStandby starts a streaming standby of the package's cluster (pg_basebackup over the
// private socket) for one test, and removes it when the test ends. Every database of
// the cluster, including those made by NewDB, is replicated to it; connect with
// standby.URI(db.Name).
func (c *Cluster) NewStandby(t testing.TB, settings map[string]string) *localpg.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgmedic-standby-")
	if err != nil {
		t.Fatalf("pgtest: creating a directory for the standby: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgtest: opening %s to the server account: %v", dir, err)
	}
	sb, err := localpg.StartStandby(ctx, c.Cluster, localpg.StandbyOptions{Options: localpg.Options{Dir: dir + "/standby", Settings: settings}})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("pgtest: starting a standby: %v", err)
	}
	t.Cleanup(func() {
		_ = sb.Destroy(context.Background())
		os.RemoveAll(dir)
	})
	return sb
}
