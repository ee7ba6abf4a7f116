package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/pgconn"
)

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The judged scenario: token set, 1 s interval; /metrics is 401 without the token and
// Prometheus text with pg_up 1 with it; the connection alert fires when sessions pass
// the configured percentage and resolves when they leave; cancelling the context (what
// SIGTERM does in main) stops the command with exit 0.
func TestMonitorCommandServesAndAlerts(t *testing.T) {
	db := pg.NewDB(t)
	maxConns := db.QueryInt64(t, "SELECT current_setting('max_connections')::int8")
	now := db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
	pct := 100 * float64(now+1+4) / float64(maxConns)
	const token = "cli-test-token"
	t.Setenv("PGMEDIC_MONITOR_TOKEN", token)
	t.Setenv("PGMEDIC_MONITOR_MONITORING_INTERVAL", "1000")
	t.Setenv("PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT", fmt.Sprintf("%.3f", pct))
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuf
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"monitor", "--dsn", db.SocketURI, "--listen", addr}, strings.NewReader(""), &stdout, &stderr)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := httpGet(t, base+"/healthz", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz; stderr: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := httpGet(t, base+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without token: %d", code)
	}
	waitFor(t, func() bool {
		code, body := httpGet(t, base+"/metrics", token)
		return code == 200 && strings.Contains(body, "\npg_up{server=") && strings.Contains(body, "} 1\n")
	}, "pg_up 1 in /metrics")

	var conns []*pgx.Conn
	for range 6 {
		c, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{ApplicationName: "app"})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, func() bool { return alertState(t, base, token, "connections") == "firing" }, "connections alert firing")
	for _, c := range conns {
		c.Close(ctx)
	}
	waitFor(t, func() bool { return alertState(t, base, token, "connections") == "resolved" }, "connections alert resolved")

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit %d after cancel; stderr: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the command did not stop after its context ended")
	}
	if !strings.Contains(stderr.String(), "monitor: stopped") || strings.Contains(stderr.String(), token) {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alertState is the state of the newest alert of that name ("" when none).
func alertState(t *testing.T, base, token, name string) string {
	_, body := httpGet(t, base+"/api/v1/alerts", token)
	var got struct {
		Alerts []struct{ Name, State string } `json:"alerts"`
	}
	json.Unmarshal([]byte(body), &got)
	state := ""
	for _, a := range got.Alerts {
		if a.Name == name && (state == "" || a.State == "firing") {
			state = a.State
		}
	}
	return state
}

func TestMonitorCommandBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"open listen without token", nil, []string{"monitor", "--listen", "0.0.0.0:19188"}, "refusing to listen on 0.0.0.0:19188 without a token"},
		{"open listen without TLS", map[string]string{"PGMEDIC_MONITOR_TOKEN": "x"}, []string{"monitor", "--listen", "0.0.0.0:19188"}, "without TLS"},
		{"missing token file", nil, []string{"monitor", "--token-file", "/nonexistent/token"}, "cannot read the token file"},
		{"unknown rule", map[string]string{"PGMEDIC_MONITOR_RULES": "connexions=off"}, []string{"monitor", "--rules"}, `no rule named "connexions"`},
		{"bad interval", map[string]string{"PGMEDIC_MONITOR_MONITORING_INTERVAL": "often"}, []string{"monitor"}, "PGMEDIC_MONITOR_MONITORING_INTERVAL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := run(t, tt.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %s", r.code, ExitUsage, r.stderr)
			}
			if line := oneErrorLine(t, r); !strings.Contains(line, tt.want) {
				t.Errorf("error %q lacks %q", line, tt.want)
			}
		})
	}
}

// childEnv makes the test binary act as pgmedic itself (main's signal handling and
// cli.Run), so that a test can send it a real SIGTERM.
const childEnv = "PGMEDIC_TEST_CHILD_ARGS"

func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, strings.Split(os.Getenv(childEnv), "\x1f"), os.Stdin, os.Stdout, os.Stderr)
}

func TestMonitorStopsOnSIGTERM(t *testing.T) {
	db := pg.NewDB(t)
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0])
	var stderr syncBuf
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"monitor", "--dsn", db.SocketURI, "--listen", addr}, "\x1f"),
		"PGMEDIC_MONITOR_MONITORING_INTERVAL=500", "PGMEDIC_MONITOR_TOKEN=t")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { code, _ := httpGet(t, "http://"+addr+"/healthz", ""); return code == 200 }, "the child's /healthz")
	waitFor(t, func() bool {
		return db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgmedic-monitor'") == 1
	}, "the child's session")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within a minute of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "monitor: stopped") {
		t.Errorf("stderr: %s", stderr.String())
	}
	// The session was closed, not dropped: the server ends its backend promptly.
	waitFor(t, func() bool {
		return db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgmedic-monitor'") == 0
	}, "the monitor's session to end")
}

func TestMonitorReportCommand(t *testing.T) {
	path := t.TempDir() + "/history.jsonl"
	lines := `{"target":"u@h:5432/db","point":{"at":"2026-03-01T12:00:00Z","up":true,"connections":4,"tps":10,"cache_hit_pct":99.5,"collect_ms":3}}
{"target":"u@h:5432/db","point":{"at":"2026-03-01T12:00:10Z","up":false,"cache_hit_pct":-1,"collect_ms":10}}
{"target":"u@h:5432/db","alert":{"name":"server_down","state":"firing","severity":"critical","labels":{"target":"u@h:5432/db"},"summary":"down","started_at":"2026-03-01T12:00:10Z","resolved_at":null}}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "monitor", "report", "--from", path)
	if r.code != 0 || !strings.Contains(r.stdout, "| availability | 50.00% of samples up |") || !strings.Contains(r.stdout, "server_down") {
		t.Errorf("exit %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "monitor", "report", "--from", path, "--format", "html")
	if r.code != 0 || !strings.Contains(r.stdout, "<svg") {
		t.Errorf("html: exit %d", r.code)
	}
	r = run(t, "monitor", "report", "--from", "/nonexistent/history.jsonl")
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "cannot read the history file /nonexistent/history.jsonl: no such file") {
		t.Errorf("missing file: exit %d, %q", r.code, line)
	}
}

// With monitor.refreshMaterializedViews the monitor refreshes views on its schedule,
// through the executor: the refresh is recorded.
func TestMonitorRefreshesViewsOnSchedule(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE appointments (id bigint PRIMARY KEY, provider_id int NOT NULL);
	    INSERT INTO appointments SELECT i, i % 20 FROM generate_series(1, 2000) i;
	    CREATE MATERIALIZED VIEW appt_stats AS SELECT provider_id, count(*) AS total FROM appointments GROUP BY provider_id;
	    CREATE UNIQUE INDEX ON appt_stats (provider_id)`)
	t.Setenv("PGMEDIC_MONITOR_REFRESH_MATERIALIZED_VIEWS", "1h")
	t.Setenv("PGMEDIC_MONITOR_MONITORING_INTERVAL", "1000")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuf
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"monitor", "--dsn", db.SocketURI, "--listen", addr}, strings.NewReader(""), &stdout, &stderr)
	}()
	waitFor(t, func() bool {
		var n int64
		conn, err := pgconn.Connect(context.Background(), db.SocketURI, pgconn.Policy{})
		if err != nil {
			return false
		}
		defer conn.Close(context.Background())
		err = conn.QueryRow(context.Background(), "SELECT count(*) FROM pgmedic.matview_refresh WHERE view_name = 'public.appt_stats' AND concurrent").Scan(&n)
		return err == nil && n == 1
	}, "a concurrent refresh recorded by the monitor's job")
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("monitor exit %d: %s", code, stderr.String())
	}
}
