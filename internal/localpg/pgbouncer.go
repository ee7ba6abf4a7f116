package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBouncer is a pgbouncer process started from a configuration file, as the server
// account when pgmedic runs as root (pgbouncer refuses to run as root).
type PgBouncer struct {
	Ini  string
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPgBouncer runs pgbouncer with ini and waits until it accepts connections on
// addr. The files the configuration names (auth file, TLS key) are handed to the server
// account first, since pgbouncer reads them as that account. Unless detached, pgbouncer
// is killed when this process dies.
func StartPgBouncer(ctx context.Context, ini, addr string, detached bool, files ...string) (*PgBouncer, error) {
	own, err := currentOwner("")
	if err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		return nil, fmt.Errorf("localpg: pgbouncer is not installed: %w", err)
	}
	for _, f := range append([]string{ini, filepath.Dir(ini)}, files...) {
		if err := own.chown(f); err != nil {
			return nil, err
		}
	}
	cmd := own.command(bin, ini)
	logPath := filepath.Join(filepath.Dir(ini), "pgbouncer.stderr")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("localpg: creating %s: %w", logPath, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	if !detached {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("localpg: starting pgbouncer: %w", err)
	}
	b := &PgBouncer{Ini: ini, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); out.Close(); close(b.done) }()
	for {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return b, nil
		}
		select {
		case <-b.done:
			raw, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("localpg: pgbouncer exited during start: %s", lastLines(string(raw), 3))
		case <-ctx.Done():
			b.Stop()
			return nil, fmt.Errorf("localpg: pgbouncer did not listen on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends pgbouncer (SIGINT: it closes its connections) and waits for it.
func (b *PgBouncer) Stop() {
	if b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort() (int, error) { return freePort() }

// ServerTLSFiles are the cluster's own certificate and key, which carry the loopback
// names: a local PgBouncer can present them to clients that trust the cluster's CA.
func (c *Cluster) ServerTLSFiles() (cert, key string, err error) {
	cert, key = filepath.Join(c.Home, "tls", "server.crt"), filepath.Join(c.Home, "tls", "server.key")
	for _, f := range []string{cert, key} {
		if _, err := os.Stat(f); err != nil {
			return "", "", errors.New("localpg: the cluster's TLS files are missing: " + f)
		}
	}
	return cert, key, nil
}

// StopPgBouncer stops the pgbouncer whose pid file is given (one left running by a
// detached start): SIGINT, then a wait for it to go. A missing pid file is no error.
func StopPgBouncer(ctx context.Context, pidFile string) error {
	raw, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localpg: reading %s: %w", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("localpg: %s holds no pid", pidFile)
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("localpg: signalling pgbouncer (pid %d): %w", pid, err)
	}
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("localpg: pgbouncer (pid %d) did not stop: %w", pid, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
