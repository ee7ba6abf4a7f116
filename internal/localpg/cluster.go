// Package localpg starts private PostgreSQL clusters from the binaries installed on this
// machine: for the demo, for every test package, and for restore checks. A cluster lives
// in one directory, listens on loopback (TLS and SCRAM only) and on a private Unix socket,
// and runs as the "postgres" account when pgmedic runs as root.
package localpg

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say where and how to run a cluster.
type Options struct {
	// Dir holds the cluster: its state file, client files (CA certificate, pgpass) and,
	// when the server account can reach it, the data directory.
	Dir string
	// BinDir overrides where the server binaries are looked for.
	BinDir string
	// Port to listen on; 0 picks a free one (kept across restarts while it stays free).
	Port int
	// Durable keeps fsync and full_page_writes on. Throwaway clusters (tests, demo) turn
	// them off: a crash loses the data, which is the point of a throwaway cluster.
	Durable bool
	// Detached leaves the server running after this process exits (demo --keep).
	// Otherwise the server gets an immediate-shutdown signal when this process dies, so a
	// killed test run leaves no server behind.
	Detached bool
	// Settings are extra postgresql.conf settings (name → value, values quoted for you).
	Settings map[string]string
	// ServerUser is the account to run as when pgmedic runs as root (default "postgres").
	ServerUser string
	// Log receives one line per step (initdb, start, recovery); nil discards them.
	Log io.Writer
	// StartTimeout bounds how long to wait for the server to accept connections.
	StartTimeout time.Duration
}

// Cluster is a private PostgreSQL server managed by pgmedic.
type Cluster struct {
	Dir       string    // as given in Options, absolute
	Home      string    // directory the server account owns (data, server TLS files, log)
	DataDir   string    // PGDATA
	SocketDir string    // private Unix socket directory
	CAFile    string    // CA certificate for sslmode=verify-full
	PassFile  string    // pgpass file with the superuser's password
	LogFile   string    // server log
	Bin       *Binaries // installation it runs from
	Preloaded []string  // shared_preload_libraries actually loaded
	Superuser string    // always "postgres"

	port  int
	owner *owner
	opts  Options
	exit  chan struct{} // closed when a server this process started exits
}

const stateFile = "cluster.json"

type state struct {
	Version   int      `json:"version"`
	Home      string   `json:"home"`
	SocketDir string   `json:"socket_dir"`
	Port      int      `json:"port"`
	BinDir    string   `json:"bin_dir"`
	PGVersion string   `json:"pg_version"`
	Preloaded []string `json:"preloaded"`
	Created   string   `json:"created"`
}

// ErrNotACluster is returned by Attach when the directory holds no cluster.
var ErrNotACluster = errors.New("no pgmedic cluster in this directory")

// Start initialises the cluster in opts.Dir if needed and starts it unless it is already
// running, in which case the running server is returned. A stale postmaster.pid left by
// a killed server is cleared.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("localpg: no directory given")
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: resolving %s: %w", opts.Dir, err)
	}
	opts.Dir = dir
	own, err := currentOwner(opts.ServerUser)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Superuser: "postgres", owner: own, opts: opts}
	c.CAFile = filepath.Join(dir, "tls", "ca.crt")
	c.PassFile = filepath.Join(dir, "pgpass")

	st, err := readState(dir)
	switch {
	case err == nil:
		if err := c.adopt(ctx, st); err != nil {
			return nil, err
		}
	case errors.Is(err, ErrNotACluster):
		if err := c.initialise(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}

	if pid, running := c.runningPID(); running {
		fmt.Fprintf(opts.Log, "cluster in %s is already running (pid %d, port %d)\n", dir, pid, c.port)
		return c, nil
	}
	if err := c.clearStale(ctx); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Attach returns the cluster kept in dir without starting it.
func Attach(ctx context.Context, dir string) (*Cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: resolving %s: %w", dir, err)
	}
	st, err := readState(abs)
	if err != nil {
		return nil, err
	}
	own, err := currentOwner("")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: abs, Superuser: "postgres", owner: own, opts: Options{Dir: abs, Log: io.Discard}}
	c.CAFile = filepath.Join(abs, "tls", "ca.crt")
	c.PassFile = filepath.Join(abs, "pgpass")
	if err := c.adopt(ctx, st); err != nil {
		return nil, err
	}
	return c, nil
}

func readState(dir string) (*state, error) {
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("localpg: %s: %w", dir, ErrNotACluster)
	}
	if err != nil {
		return nil, fmt.Errorf("localpg: reading %s: %w", filepath.Join(dir, stateFile), err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil || st.Version != 1 || st.Home == "" {
		return nil, fmt.Errorf("localpg: %s is damaged or from another pgmedic version; remove %s to start afresh", filepath.Join(dir, stateFile), dir)
	}
	return &st, nil
}

func (c *Cluster) adopt(ctx context.Context, st *state) error {
	bin, err := FindBinaries(ctx, c.opts.BinDir)
	if st.BinDir != "" && c.opts.BinDir == "" {
		if b, e := FindBinaries(ctx, st.BinDir); e == nil {
			bin, err = b, nil
		}
	}
	if err != nil {
		return err
	}
	c.Bin = bin
	c.setHome(st.Home, st.SocketDir)
	c.port = st.Port
	c.Preloaded = st.Preloaded
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
		return fmt.Errorf("localpg: %s has no data directory at %s; remove %s to start afresh", c.Dir, c.DataDir, c.Dir)
	}
	return nil
}

func (c *Cluster) setHome(home, socketDir string) {
	c.Home = home
	c.DataDir = filepath.Join(home, "data")
	c.SocketDir = socketDir
	c.LogFile = filepath.Join(home, "postgresql.log")
}

func (c *Cluster) saveState() error {
	st := state{Version: 1, Home: c.Home, SocketDir: c.SocketDir, Port: c.port, BinDir: c.Bin.Dir,
		PGVersion: c.Bin.Version, Preloaded: c.Preloaded, Created: time.Now().UTC().Format(time.RFC3339)}
	raw, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Dir, stateFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("localpg: writing cluster state: %w", err)
	}
	return nil
}

// initialise runs initdb and writes the TLS material, pg_hba.conf and the state file.
func (c *Cluster) initialise(ctx context.Context) error {
	bin, err := FindBinaries(ctx, c.opts.BinDir)
	if err != nil {
		return err
	}
	c.Bin = bin
	if err := c.prepareHome(); err != nil {
		return err
	}

	password, err := randomPassword()
	if err != nil {
		return err
	}
	pwfile := filepath.Join(c.Home, "initdb.pw")
	if err := c.owner.writeFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)

	start := time.Now()
	cmd := c.owner.command(c.Bin.Tool("initdb"), "-D", c.DataDir, "-U", c.Superuser,
		"--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--data-checksums", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: initdb failed: %w: %s", err, lastLines(string(out), 3))
	}
	fmt.Fprintf(c.opts.Log, "initialised PostgreSQL %s cluster in %s (%.1fs)\n", c.Bin.Version, c.DataDir, time.Since(start).Seconds())

	if err := c.writeTLS(); err != nil {
		return err
	}
	if err := c.owner.writeFile(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(hbaConf), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("localpg: opening postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings managed by pgmedic; ALTER SYSTEM still overrides them.\ninclude_if_exists = 'pgmedic.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("localpg: writing postgresql.conf: %w", err)
	}
	if err := os.WriteFile(c.PassFile, nil, 0o600); err != nil {
		return fmt.Errorf("localpg: writing %s: %w", c.PassFile, err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "superuser.pw"), []byte(password), 0o600); err != nil {
		return fmt.Errorf("localpg: writing the superuser password file: %w", err)
	}
	return c.saveState()
}

// prepareHome creates the cluster directory, the server's home and its private socket
// directory, owned by the server account.
func (c *Cluster) prepareHome() error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("localpg: creating %s: %w", c.Dir, err)
	}
	home := filepath.Join(c.Dir, "server")
	if !c.owner.canReach(home) {
		// A checkout under /root (0700) is closed to the postgres account: keep the
		// server's files in a directory it can reach, and remember where.
		home = filepath.Join(os.TempDir(), "pgmedic-"+shortHash(c.Dir), "server")
		fmt.Fprintf(c.opts.Log, "the %s account cannot reach %s; keeping the server files in %s\n", c.owner.name, c.Dir, home)
	}
	if err := os.RemoveAll(home); err != nil {
		return fmt.Errorf("localpg: clearing %s: %w", home, err)
	}
	if parent := filepath.Dir(home); parent != c.Dir {
		if err := c.owner.mkdir(parent, 0o755); err != nil {
			return err
		}
	}
	if err := c.owner.mkdir(home, 0o700); err != nil {
		return err
	}
	sock := filepath.Join(home, "run")
	if len(sock) > 80 { // sun_path is 108 bytes including "/.s.PGSQL.65535"
		sock = filepath.Join(os.TempDir(), "pgmedic-sock-"+shortHash(c.Dir))
	}
	if err := os.RemoveAll(sock); err != nil {
		return fmt.Errorf("localpg: clearing %s: %w", sock, err)
	}
	if err := c.owner.mkdir(sock, 0o700); err != nil {
		return err
	}
	c.setHome(home, sock)
	return nil
}

// hbaConf: the socket directory is private to the server account, so local connections
// are trusted; over TCP only TLS with SCRAM is accepted, and plaintext is rejected.
const hbaConf = `# pg_hba.conf written by pgmedic for a private cluster.
# TYPE    DATABASE     USER  ADDRESS        METHOD
local     all          all                  trust
local     replication  all                  trust
hostssl   all          all   127.0.0.1/32   scram-sha-256
hostssl   all          all   ::1/128        scram-sha-256
hostssl   replication  all   127.0.0.1/32   scram-sha-256
hostssl   replication  all   ::1/128        scram-sha-256
hostnossl all          all   0.0.0.0/0      reject
hostnossl all          all   ::/0           reject
`

func (c *Cluster) writeTLS() error {
	m, err := newTLSMaterial("pgmedic "+filepath.Base(c.Dir), 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	clientTLS := filepath.Join(c.Dir, "tls")
	if err := os.MkdirAll(clientTLS, 0o755); err != nil {
		return fmt.Errorf("localpg: creating %s: %w", clientTLS, err)
	}
	if err := os.WriteFile(c.CAFile, m.caCert, 0o644); err != nil {
		return fmt.Errorf("localpg: writing the CA certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(clientTLS, "ca.key"), m.caKey, 0o600); err != nil {
		return fmt.Errorf("localpg: writing the CA key: %w", err)
	}
	srvTLS := filepath.Join(c.Home, "tls")
	if err := c.owner.mkdir(srvTLS, 0o700); err != nil {
		return err
	}
	if err := c.owner.writeFile(filepath.Join(srvTLS, "server.crt"), m.serverCert, 0o644); err != nil {
		return err
	}
	return c.owner.writeFile(filepath.Join(srvTLS, "server.key"), m.serverKey, 0o600)
}

// writeConf rewrites pgmedic.conf from what is installed now, so a library installed
// after the cluster was made is preloaded at the next start.
func (c *Cluster) writeConf() error {
	c.Preloaded = c.Preloaded[:0]
	for _, lib := range []string{"pg_stat_statements", "pgaudit", "pg_qualstats"} {
		if c.Bin.HasLibrary(lib) {
			c.Preloaded = append(c.Preloaded, lib)
		}
	}
	settings := map[string]string{
		"listen_addresses":         "127.0.0.1",
		"unix_socket_directories":  c.SocketDir,
		"unix_socket_permissions":  "0700",
		"ssl":                      "on",
		"ssl_cert_file":            filepath.Join(c.Home, "tls", "server.crt"),
		"ssl_key_file":             filepath.Join(c.Home, "tls", "server.key"),
		"ssl_min_protocol_version": "TLSv1.2",
		"password_encryption":      "scram-sha-256",
		"shared_preload_libraries": strings.Join(c.Preloaded, ","),
		"track_io_timing":          "on",
		"track_functions":          "pl",
		"lc_messages":              "C",
		"timezone":                 "UTC",
		"log_timezone":             "UTC",
		"log_line_prefix":          "%m [%p] %q%u@%d ",
		"log_min_messages":         "warning",
		"max_wal_size":             "1GB",
		"max_wal_senders":          "10",
		"max_replication_slots":    "10",
	}
	if slices.Contains(c.Preloaded, "pg_stat_statements") {
		settings["pg_stat_statements.max"] = "5000"
		settings["pg_stat_statements.track"] = "top"
	}
	if slices.Contains(c.Preloaded, "pg_qualstats") {
		// Sample every statement: the demo and the index-advisor benchmark compare with
		// pg_qualstats' own advisor, which needs the predicates it sees.
		settings["pg_qualstats.sample_rate"] = "1"
	}
	if !c.opts.Durable {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range c.opts.Settings {
		settings[k] = v
	}
	var b strings.Builder
	b.WriteString("# Written by pgmedic at every start; put your own settings in ALTER SYSTEM.\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	return c.owner.writeFile(filepath.Join(c.DataDir, "pgmedic.conf"), []byte(b.String()), 0o600)
}

// start launches postgres and waits until it accepts connections. An automatically
// chosen port that another process grabbed meanwhile is replaced and the start retried.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.writeConf(); err != nil {
		return err
	}
	fixedPort := c.opts.Port != 0
	if fixedPort {
		c.port = c.opts.Port
	} else if c.port == 0 || !portFree(c.port) {
		p, err := freePort()
		if err != nil {
			return err
		}
		c.port = p
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		err := c.launch(ctx)
		if err == nil {
			if err := c.saveState(); err != nil {
				return err
			}
			return c.writePassFile()
		}
		lastErr = err
		var se *startError
		if !errors.As(err, &se) {
			return err
		}
		switch {
		case se.portInUse && !fixedPort:
			p, perr := freePort()
			if perr != nil {
				return perr
			}
			c.port = p
		case se.shmemInUse:
			c.killOrphans()
			time.Sleep(200 * time.Millisecond)
		default:
			return err
		}
	}
	return lastErr
}

type startError struct {
	msg        string
	portInUse  bool
	shmemInUse bool
}

func (e *startError) Error() string { return e.msg }

func (c *Cluster) launch(ctx context.Context) error {
	logf, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("localpg: opening the server log: %w", err)
	}
	offset, _ := logf.Seek(0, io.SeekEnd)
	cmd := c.owner.command(c.Bin.Tool("postgres"), "-D", c.DataDir, "-p", strconv.Itoa(c.port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Its own session: a Ctrl-C meant for pgmedic must not reach the server, which
	// pgmedic stops itself.
	cmd.SysProcAttr.Setsid = true
	if !c.opts.Detached {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	}

	began := time.Now()
	started := make(chan error, 1)
	c.exit = make(chan struct{})
	exit := c.exit
	go func() {
		// The parent-death signal fires when the thread that forked the server exits, so
		// that thread stays locked to this goroutine for as long as the server runs.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		logf.Close()
		close(exit)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("localpg: starting postgres: %w", err)
	}

	deadline := time.NewTimer(c.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.signal(syscall.SIGQUIT)
			return ctx.Err()
		case <-deadline.C:
			_ = c.signal(syscall.SIGQUIT)
			return fmt.Errorf("localpg: server did not become ready within %s; see %s", c.opts.StartTimeout, c.LogFile)
		case <-exit:
			tail := readFrom(c.LogFile, offset)
			return &startError{
				msg:        fmt.Sprintf("localpg: server exited during start: %s", lastLines(tail, 3)),
				portInUse:  strings.Contains(tail, "could not bind") || strings.Contains(tail, "could not create any TCP/IP sockets") || strings.Contains(tail, "Address already in use"),
				shmemInUse: strings.Contains(tail, "shared memory block is still in use"),
			}
		case <-tick.C:
			if status := c.pidFileStatus(); status == "ready" {
				fmt.Fprintf(c.opts.Log, "PostgreSQL %s listening on 127.0.0.1:%d and %s (started in %.2fs)\n",
					c.Bin.Version, c.port, c.SocketDir, time.Since(began).Seconds())
				return nil
			}
		}
	}
}

// Stop shuts the server down (fast mode: sessions are cancelled, data is flushed). After
// timeout it falls back to an immediate shutdown.
func (c *Cluster) Stop(ctx context.Context) error {
	pid, running := c.runningPID()
	if !running {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localpg: signalling postgres (pid %d): %w", pid, err)
	}
	if c.waitGone(ctx, pid, 30*time.Second) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	if c.waitGone(ctx, pid, 10*time.Second) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if c.waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("localpg: postgres (pid %d) did not stop", pid)
}

// Kill ends the server abruptly with SIGKILL, as a crash or an OOM kill would. Tests use
// it to check recovery.
func (c *Cluster) Kill() error {
	pid, running := c.runningPID()
	if !running {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("localpg: killing postgres (pid %d): %w", pid, err)
	}
	c.waitGone(context.Background(), pid, 5*time.Second)
	return nil
}

// Destroy stops the server and removes every file of the cluster.
func (c *Cluster) Destroy(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return err
	}
	for _, p := range []string{c.Home, c.SocketDir, c.Dir} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("localpg: removing %s: %w", p, err)
		}
	}
	if parent := filepath.Dir(c.Home); strings.HasPrefix(filepath.Base(parent), "pgmedic-") {
		_ = os.Remove(parent)
	}
	return nil
}

func (c *Cluster) waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		gone := syscall.Kill(pid, 0) != nil
		if c.exit != nil {
			select {
			case <-c.exit:
				gone = true
			default:
				gone = false
			}
		}
		if gone {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

func (c *Cluster) signal(sig syscall.Signal) error {
	pid, ok := c.runningPID()
	if !ok {
		return nil
	}
	return syscall.Kill(pid, sig)
}

// Running reports whether the cluster's postmaster is alive.
func (c *Cluster) Running() bool {
	_, ok := c.runningPID()
	return ok
}

// PID returns the postmaster's process id, or 0 when it is not running.
func (c *Cluster) PID() int {
	pid, _ := c.runningPID()
	return pid
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// runningPID reads postmaster.pid and checks that the process it names is our server:
// alive, and working in our data directory (a recycled pid belongs to someone else).
func (c *Cluster) runningPID() (int, bool) {
	lines := c.pidFileLines()
	if len(lines) < 1 {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if !c.isOurServer(pid) {
		return 0, false
	}
	if len(lines) >= 4 {
		if p, err := strconv.Atoi(strings.TrimSpace(lines[3])); err == nil && p > 0 {
			c.port = p
		}
	}
	return pid, true
}

func (c *Cluster) isOurServer(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(c.DataDir)
	if err != nil {
		return false
	}
	if cwd != want {
		return false
	}
	// A zombie keeps its cwd until reaped; it is not a server.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func (c *Cluster) pidFileLines() []string {
	raw, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	return strings.Split(string(raw), "\n")
}

func (c *Cluster) pidFileStatus() string {
	lines := c.pidFileLines()
	if len(lines) < 8 {
		return ""
	}
	return strings.TrimSpace(lines[7])
}

// clearStale removes what a killed server leaves behind: its postmaster.pid, socket lock
// files, and backends that outlived their postmaster and still hold shared memory.
func (c *Cluster) clearStale(ctx context.Context) error {
	pidPath := filepath.Join(c.DataDir, "postmaster.pid")
	if _, err := os.Stat(pidPath); err != nil {
		return nil
	}
	fmt.Fprintf(c.opts.Log, "recovering from a server that did not shut down cleanly (stale %s)\n", pidPath)
	c.killOrphans()
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("localpg: removing stale %s: %w", pidPath, err)
	}
	entries, _ := os.ReadDir(c.SocketDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".s.PGSQL.") {
			_ = os.Remove(filepath.Join(c.SocketDir, e.Name()))
		}
	}
	return nil
}

// killOrphans kills postgres processes still working in our data directory.
func (c *Cluster) killOrphans() {
	want, err := filepath.EvalSymlinks(c.DataDir)
	if err != nil {
		return
	}
	procs, _ := os.ReadDir("/proc")
	var victims []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == want {
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				victims = append(victims, pid)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range victims {
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func (c *Cluster) writePassFile() error {
	pw, err := os.ReadFile(filepath.Join(c.Dir, "superuser.pw"))
	if err != nil {
		return fmt.Errorf("localpg: reading the superuser password: %w", err)
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(string(pw))
	var b strings.Builder
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		fmt.Fprintf(&b, "%s:%d:*:%s:%s\n", strings.ReplaceAll(host, ":", `\:`), c.port, c.Superuser, esc)
	}
	if err := os.WriteFile(c.PassFile, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("localpg: writing %s: %w", c.PassFile, err)
	}
	return nil
}

// URI is a TCP connection string for database db: TLS verified against the cluster's
// own CA, the password read from the cluster's pgpass file, so it never appears in the
// string itself.
func (c *Cluster) URI(db string) string {
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", c.CAFile)
	q.Set("passfile", c.PassFile)
	u := url.URL{Scheme: "postgres", User: url.User(c.Superuser), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// SocketURI connects over the private Unix socket as the superuser, without a password.
func (c *Cluster) SocketURI(db string) string {
	q := url.Values{}
	q.Set("host", c.SocketDir)
	q.Set("port", strconv.Itoa(c.port))
	u := url.URL{Scheme: "postgres", User: url.User(c.Superuser), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// Password returns the superuser's password (for tests that need it in hand).
func (c *Cluster) Password() (string, error) {
	pw, err := os.ReadFile(filepath.Join(c.Dir, "superuser.pw"))
	if err != nil {
		return "", fmt.Errorf("localpg: reading the superuser password: %w", err)
	}
	return string(pw), nil
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("localpg: generating a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:5])
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localpg: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
