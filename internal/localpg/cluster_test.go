package localpg

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// openDir makes a directory the server account can reach (t.TempDir is 0700).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "localpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startCluster(t *testing.T, dir string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	return c
}

func query(t *testing.T, uri, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	defer conn.Close(ctx)
	var out string
	if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestStartConnectStopRestart(t *testing.T) {
	dir := openDir(t)
	c := startCluster(t, filepath.Join(dir, "c1"))
	if !c.Running() || c.Port() == 0 {
		t.Fatalf("cluster not running after Start (port %d)", c.Port())
	}
	if os.Geteuid() == 0 {
		st, err := os.Stat(c.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if owner, _ := currentOwner(""); st.Sys() != nil && owner.switched {
			if uid := statUID(st); uid != owner.uid {
				t.Fatalf("data directory owned by uid %d, want the postgres account (%d)", uid, owner.uid)
			}
		}
	}

	// TCP: TLS verified against the cluster's CA, password from its pgpass file.
	if got := query(t, c.URI("postgres"), "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); got != "true" {
		t.Fatalf("TCP session ssl = %s, want true", got)
	}
	if strings.Contains(c.URI("postgres"), mustPassword(t, c)) {
		t.Fatal("the URI carries the password")
	}
	// Plaintext over TCP is refused by pg_hba.
	ctx := context.Background()
	plain := "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable&passfile=" + c.PassFile
	if conn, err := pgx.Connect(ctx, plain); err == nil {
		conn.Close(ctx)
		t.Fatal("a plaintext TCP connection was accepted")
	} else if !strings.Contains(err.Error(), "pg_hba.conf rejects") {
		t.Fatalf("plaintext refused for the wrong reason: %v", err)
	}
	// The private socket needs no password.
	if got := query(t, c.SocketURI("postgres"), "SHOW shared_preload_libraries"); !strings.Contains(got, "pg_stat_statements") {
		t.Fatalf("shared_preload_libraries = %q, want pg_stat_statements", got)
	}
	if got := query(t, c.SocketURI("postgres"), "SHOW password_encryption"); got != "scram-sha-256" {
		t.Fatalf("password_encryption = %q", got)
	}

	mustExec(t, c.SocketURI("postgres"), "CREATE TABLE survives_restart (id int)")
	port := c.Port()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c.Running() {
		t.Fatal("still running after Stop")
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid left after a clean stop: %v", err)
	}

	c2, err := Start(ctx, Options{Dir: c.Dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if c2.Port() != port {
		t.Errorf("restart moved the port from %d to %d although it was free", port, c2.Port())
	}
	if got := query(t, c2.SocketURI("postgres"), "SELECT count(*)::text FROM pg_class WHERE relname = 'survives_restart'"); got != "1" {
		t.Fatal("data did not survive a restart")
	}
	if err := c2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRecoversFromKilledServer(t *testing.T) {
	dir := openDir(t)
	c := startCluster(t, filepath.Join(dir, "killed"))
	// A backend that outlives its postmaster holds shared memory; recovery must cope.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.SocketURI("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err != nil {
		t.Fatalf("a killed server should leave postmaster.pid behind: %v", err)
	}
	c2, err := Start(ctx, Options{Dir: c.Dir})
	if err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	if got := query(t, c2.URI("postgres"), "SELECT 'alive'"); got != "alive" {
		t.Fatalf("got %q", got)
	}
}

func TestStalePidFileWithRecycledPID(t *testing.T) {
	dir := openDir(t)
	c := startCluster(t, filepath.Join(dir, "stale"))
	ctx := context.Background()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The pid in the file now belongs to a live process that is not our server (this
	// test), as after a reboot that recycled the number.
	pidFile := "" + strconv.Itoa(os.Getpid()) + "\n" + c.DataDir + "\n0\n" + strconv.Itoa(c.Port()) + "\n" + c.SocketDir + "\n127.0.0.1\n0 0\nready\n"
	if err := os.WriteFile(filepath.Join(c.DataDir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("a recycled pid was taken for our server")
	}
	c2, err := Start(ctx, Options{Dir: c.Dir})
	if err != nil {
		t.Fatalf("start with a stale pid file: %v", err)
	}
	if c2.PID() == os.Getpid() || !c2.Running() {
		t.Fatalf("server not running after recovery (pid %d)", c2.PID())
	}
}

func TestTwoClustersSideBySide(t *testing.T) {
	dir := openDir(t)
	a := startCluster(t, filepath.Join(dir, "a"))
	b := startCluster(t, filepath.Join(dir, "b"))
	if a.Port() == b.Port() {
		t.Fatalf("both clusters on port %d", a.Port())
	}
	mustExec(t, a.SocketURI("postgres"), "CREATE DATABASE only_in_a")
	if got := query(t, b.URI("postgres"), "SELECT count(*)::text FROM pg_database WHERE datname = 'only_in_a'"); got != "0" {
		t.Fatal("the clusters share state")
	}
	if got := query(t, a.URI("only_in_a"), "SELECT current_database()"); got != "only_in_a" {
		t.Fatalf("got %q", got)
	}
	// A cluster's CA must not vouch for the other cluster's server.
	cross := strings.Replace(b.URI("postgres"), "sslrootcert="+escapeQuery(b.CAFile), "sslrootcert="+escapeQuery(a.CAFile), 1)
	if cross == b.URI("postgres") {
		t.Fatal("test could not swap the CA file in the URI")
	}
	if conn, err := pgx.Connect(context.Background(), cross); err == nil {
		conn.Close(context.Background())
		t.Fatal("verify-full accepted a server certificate from another CA")
	}
}

func TestUnreachableDirectoryIsRelocated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another account")
	}
	closed, err := os.MkdirTemp("", "localpg-closed-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(closed) })
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, filepath.Join(closed, "demo"))
	if strings.HasPrefix(c.DataDir, closed) {
		t.Fatalf("data directory %s is inside a directory the postgres account cannot reach", c.DataDir)
	}
	if got := query(t, c.URI("postgres"), "SELECT 'ok'"); got != "ok" {
		t.Fatal(got)
	}
	a, err := Attach(context.Background(), filepath.Join(closed, "demo"))
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if a.DataDir != c.DataDir || !a.Running() {
		t.Fatalf("Attach found %s (running=%v), want %s", a.DataDir, a.Running(), c.DataDir)
	}
}

func TestMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	_, err := Start(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "x"), BinDir: empty})
	var mb *MissingBinariesError
	if !errors.As(err, &mb) {
		t.Fatalf("want MissingBinariesError, got %v", err)
	}
	if !strings.Contains(mb.Hint(), "apt-get install") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("error %q / hint %q should name the directory and the install command", err, mb.Hint())
	}
}

func TestAttachWithoutCluster(t *testing.T) {
	_, err := Attach(context.Background(), t.TempDir())
	if !errors.Is(err, ErrNotACluster) {
		t.Fatalf("want ErrNotACluster, got %v", err)
	}
}

func mustExec(t *testing.T, uri, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func mustPassword(t *testing.T, c *Cluster) string {
	t.Helper()
	pw, err := c.Password()
	if err != nil || len(pw) < 16 {
		t.Fatalf("password: %q %v", pw, err)
	}
	return pw
}

func statUID(st os.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}

func escapeQuery(s string) string { return url.QueryEscape(s) }

func TestStandbyStreamsFromPrimary(t *testing.T) {
	dir := openDir(t)
	primary := startCluster(t, filepath.Join(dir, "primary"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	standby, err := StartStandby(ctx, primary, StandbyOptions{Options: Options{Dir: filepath.Join(dir, "standby")}, Slot: "standby_1"})
	if err != nil {
		t.Fatalf("StartStandby: %v", err)
	}
	t.Cleanup(func() { _ = standby.Destroy(context.Background()) })
	if got := query(t, standby.URI("postgres"), "SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Fatalf("standby in recovery = %s, want true", got)
	}
	exec := func(uri, sql string) {
		conn, err := pgx.Connect(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(primary.URI("postgres"), "CREATE TABLE standby_probe AS SELECT 42 AS v")
	// The table reaches the standby through streaming replication; wait for replay.
	for {
		if query(t, standby.URI("postgres"), "SELECT (to_regclass('standby_probe') IS NOT NULL)::text") == "true" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the standby never replayed the CREATE TABLE")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := query(t, primary.URI("postgres"), "SELECT active::text FROM pg_replication_slots WHERE slot_name = 'standby_1'"); got != "true" {
		t.Fatalf("slot standby_1 active = %s, want true", got)
	}
}
