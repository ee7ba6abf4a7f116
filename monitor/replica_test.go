//go:build unix

package monitor_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/monitor"
)

// standby is a streaming replica of a private cluster, made with pg_basebackup and run
// with pg_ctl as the server account.
type standby struct {
	t       *testing.T
	primary *localpg.Cluster
	dir     string
	port    int
}

// asServer runs a server binary as the account that owns the clusters (postgres when
// the tests run as root).
func asServer(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", filepath.Base(bin), args, err, out)
	}
}

func newStandby(t *testing.T, primary *localpg.Cluster, slot string) *standby {
	t.Helper()
	dir := filepath.Join(primary.Dir, "standby")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	asServer(t, filepath.Join(primary.Bin.Dir, "pg_basebackup"), "-D", dir, "-h", primary.SocketDir,
		"-p", strconv.Itoa(primary.Port()), "-U", "postgres", "-R", "-X", "stream", "-C", "-S", slot, "-c", "fast")
	s := &standby{t: t, primary: primary, dir: dir, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *standby) start() {
	asServer(s.t, filepath.Join(s.primary.Bin.Dir, "pg_ctl"), "-D", s.dir, "-o", fmt.Sprintf("-p %d", s.port),
		"-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "start")
}

func (s *standby) stop() {
	cmd := exec.Command(filepath.Join(s.primary.Bin.Dir, "pg_ctl"), "-D", s.dir, "-m", "fast", "-w", "status")
	if cmd.Run() != nil && os.Geteuid() != 0 {
		return
	}
	// Stopping a stopped server fails; that is fine here.
	defer func() { recover() }()
	asServer(s.t, filepath.Join(s.primary.Bin.Dir, "pg_ctl"), "-D", s.dir, "-m", "fast", "-w", "stop")
}

func (s *standby) uri() string {
	q := url.Values{"host": {s.primary.SocketDir}, "port": {strconv.Itoa(s.port)}}
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres", RawQuery: q.Encode()}).String()
}

// Replication lag fires on a standby whose replay is paused while the primary writes,
// and resolves when replay resumes; replication_broken fires on the primary when the
// standby stops (its slot loses its consumer) and resolves when it is back.
func TestReplicationLagAndBrokenWithARealStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby")
	}
	dir, err := os.MkdirTemp("", "pgmedic-monitor-repl-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	primary, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Destroy(context.Background()) })
	sb := newStandby(t, primary, "standby1")

	r := start(t, []string{primary.SocketURI("postgres"), sb.uri()}, func(o *monitor.Options) { o.Thresholds.ReplicationLag = time.Second })
	standbyName := r.m.Targets()[1]
	writer := connect(t, primary.SocketURI("postgres"))
	if _, err := writer.Exec(ctx, "CREATE TABLE ticks (at timestamptz)"); err != nil {
		t.Fatal(err)
	}
	background(t, func(ctx context.Context) {
		for ctx.Err() == nil {
			writer.Exec(ctx, "INSERT INTO ticks VALUES (now())")
			time.Sleep(100 * time.Millisecond)
		}
	})
	replica := connect(t, sb.uri())
	// Replay lag is measured from the last replayed commit: wait for one.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int64
		if err := replica.QueryRow(ctx, "SELECT count(*) FROM ticks").Scan(&n); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby never replayed the primary's writes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	fireAndResolve(t, r, "replication_lag", map[string]string{"target": standbyName, "replica": "self"}, func() {
		if _, err := replica.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if _, err := replica.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
	})
	if s := r.m.Latest(standbyName); s == nil || s.Snap == nil || !s.Snap.Server.InRecovery {
		t.Fatalf("the standby target is not seen as a standby: %+v", s)
	}

	fireAndResolve(t, r, "replication_broken", map[string]string{"slot": "standby1"}, sb.stop, sb.start)
}
