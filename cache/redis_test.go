package cache

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server started for one test.
type redisServer struct {
	cmd  *exec.Cmd
	port int
	dir  string
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: run scripts/setup")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{port: port, dir: t.TempDir()}
	r.start(t, path)
	t.Cleanup(func() {
		if r.cmd.Process != nil {
			r.cmd.Process.Signal(syscall.SIGCONT)
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

func (r *redisServer) start(t *testing.T, path string) {
	t.Helper()
	r.cmd = exec.Command(path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := r.client()
	defer c.Close()
	for i := 0; i < 200; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("redis-server did not answer")
}

// client has the short timeouts a cache should use, so a Redis that is away costs
// little.
func (r *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
}

// pause stops the server without closing its sockets (a hung Redis); resume continues.
func (r *redisServer) pause(t *testing.T)  { r.cmd.Process.Signal(syscall.SIGSTOP) }
func (r *redisServer) resume(t *testing.T) { r.cmd.Process.Signal(syscall.SIGCONT) }

// kill ends it; restart starts a new, empty one on the same port.
func (r *redisServer) kill(t *testing.T) {
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

func (r *redisServer) restart(t *testing.T) {
	path, _ := exec.LookPath("redis-server")
	r.start(t, path)
}
