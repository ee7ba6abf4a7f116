package monitor_test

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

// The package's cluster archives WAL (with a command that succeeds until a test makes
// it fail), so that the archiving alert can be provoked, small shared buffers, so that a
// modest table cannot be cached, and the logging collector, so that the monitor can read
// refused logins from the log.
func TestMain(m *testing.M) {
	os.Exit(pgtest.MainWithOptions(m, &pg, pgtest.Options{Settings: map[string]string{
		"archive_mode": "on", "archive_command": "true", "shared_buffers": "16MB",
		"logging_collector": "on", // the log is readable through SQL: failed logins
	}}))
}

// testInterval is short so that alerts fire and resolve within seconds; every wait
// below is a number of intervals with a generous deadline, never a timing assertion.
const testInterval = 400 * time.Millisecond

// quiet thresholds: nothing fires unless a test lowers its threshold.
func quiet() monitor.Thresholds {
	return monitor.Thresholds{ConnectionPct: 100, ReplicationLag: time.Hour, CacheHitPct: 0, QueryResponse: time.Hour,
		DiskUsagePct: 100, LongRunning: time.Hour, IdleInTransaction: time.Hour, BlockedSessions: 1000,
		XIDAge: 2_000_000_000, Deadlocks: 1000, LatencyRegression: 1000, ClaimsPerMinute: 0}
}

type run struct {
	m      *monitor.Monitor
	cancel context.CancelFunc
	done   chan error
}

// start runs a monitor on dsn until the test ends.
func start(t *testing.T, dsns []string, edit func(o *monitor.Options)) *run {
	t.Helper()
	opts := monitor.Options{Interval: testInterval, Thresholds: quiet(), PHIBaseline: time.Hour,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if edit != nil {
		edit(&opts)
	}
	m, err := monitor.New(dsns, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{m: m, cancel: cancel, done: make(chan error)}
	go func() { m.Run(ctx); close(r.done) }() // closed, so both a test and the clean-up may wait
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	select {
	case <-m.Ready():
	case <-time.After(time.Minute):
		t.Fatal("no first collection within a minute")
	}
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitAlert waits until an alert of that name, state and labels (a subset) is listed.
func waitAlert(t *testing.T, m *monitor.Monitor, name, state string, labels map[string]string) monitor.Alert {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if a, ok := findAlert(m, name, state, labels); ok {
			return a
		}
		time.Sleep(testInterval / 4)
	}
	t.Fatalf("alert %s %v never became %s; alerts: %+v; last points: %+v", name, labels, state, m.Alerts(), lastPoints(m, 3))
	return monitor.Alert{}
}

func findAlert(m *monitor.Monitor, name, state string, labels map[string]string) (monitor.Alert, bool) {
	for _, a := range m.Alerts() {
		if a.Name != name || a.State != state {
			continue
		}
		match := true
		for k, v := range labels {
			if a.Labels[k] != v {
				match = false
			}
		}
		if match {
			return a, true
		}
	}
	return monitor.Alert{}, false
}

// firingCount counts the firing alerts of that name.
func firingCount(m *monitor.Monitor, name string) int {
	n := 0
	for _, a := range m.Alerts() {
		if a.Name == name && a.State == monitor.Firing {
			n++
		}
	}
	return n
}

// fireAndResolve checks one alert's whole life: none firing at first, firing after
// provoke, resolved (and no longer firing) after undo.
func fireAndResolve(t *testing.T, r *run, name string, labels map[string]string, provoke, undo func()) monitor.Alert {
	t.Helper()
	if _, ok := findAlert(r.m, name, monitor.Firing, labels); ok {
		t.Fatalf("%s fires before it was provoked: %+v", name, r.m.Alerts())
	}
	provoke()
	a := waitAlert(t, r.m, name, monitor.Firing, labels)
	if a.Severity == "" || a.Summary == "" || a.StartedAt.IsZero() || a.ResolvedAt != nil {
		t.Errorf("firing alert incomplete: %+v", a)
	}
	undo()
	res := waitAlert(t, r.m, name, monitor.Resolved, labels)
	if res.ResolvedAt == nil || res.ResolvedAt.Before(res.StartedAt) {
		t.Errorf("resolved alert has resolved_at %v, started %v", res.ResolvedAt, res.StartedAt)
	}
	if _, ok := findAlert(r.m, name, monitor.Firing, labels); ok {
		t.Errorf("%s still firing after it resolved", name)
	}
	return a
}

func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgconn.Connect(context.Background(), uri, pgconn.Policy{Write: true, ApplicationName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// asUser is the socket URI with another role.
func asUser(t *testing.T, uri, user string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

// background runs fn until the test's cleanup or stop.
func background(t *testing.T, fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fn(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func TestCollectsWithMarkedQueriesAndItsOwnName(t *testing.T) {
	db := pg.NewDB(t)
	r := start(t, []string{db.SocketURI}, nil)
	time.Sleep(3 * testInterval)
	s := r.m.Latest(r.m.Targets()[0])
	if s == nil || !s.Up || s.MaxConnections == 0 || s.Snap == nil || len(s.Snap.Databases) == 0 {
		t.Fatalf("latest sample: %+v", s)
	}
	if got := db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", monitor.ApplicationName); got != 1 {
		t.Errorf("%d sessions named %s, want one per target", got, monitor.ApplicationName)
	}
	// Every statement the monitor ran starts with the marker, which workload analysis
	// (snapshot) leaves out.
	unmarked := db.QueryInt64(t, `SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%pg_stat_activity a%'
		AND query NOT LIKE '/* pgmedic */%'`)
	marked := db.QueryInt64(t, `SELECT count(*) FROM pg_stat_statements WHERE query LIKE '/* pgmedic */%pg_stat_activity a%'`)
	if unmarked != 0 || marked == 0 {
		t.Errorf("activity statements: %d unmarked, %d marked", unmarked, marked)
	}
	if len(r.m.History(r.m.Targets()[0])) < 2 {
		t.Errorf("history: %v", r.m.History(r.m.Targets()[0]))
	}
}

func TestShutdownOnCancel(t *testing.T) {
	db := pg.NewDB(t)
	m, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: testInterval, Thresholds: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	// The session is closed, not left behind.
	deadline := time.Now().Add(30 * time.Second)
	for db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", monitor.ApplicationName) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the monitor's session outlived Run")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastPoints(m *monitor.Monitor, n int) []monitor.Point {
	h := m.History(m.Targets()[0])
	return h[max(0, len(h)-n):]
}

// A table locked ACCESS EXCLUSIVE makes the catalog part wait for its lock; the
// monitor's lock timeout gives up at once (sizes fall back to estimates), the collection
// still succeeds, and the lock holder is never queued behind the monitor.
func TestLockedTableDoesNotStallCollection(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE busy (id int)")
	holder := connect(t, db.SocketURI)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	r := start(t, []string{db.SocketURI}, nil)
	s := r.m.Latest(r.m.Targets()[0])
	if s == nil || !s.Up {
		t.Fatalf("collection behind a lock: %+v", s)
	}
	if n := db.QueryInt64(t, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE NOT l.granted AND a.application_name = $1`, monitor.ApplicationName); n != 0 {
		t.Errorf("the monitor waits for %d lock(s)", n)
	}
	if _, err := holder.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
}

// The history file carries the points over a restart, holds statistics only, and is
// private to its owner.
func TestHistoryFileSurvivesRestart(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE patients (id int, mrn text); INSERT INTO patients VALUES (1, 'MRN-55501'); SELECT * FROM patients WHERE mrn = 'MRN-55501'")
	path := filepath.Join(t.TempDir(), "history.jsonl")
	first := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.HistoryFile = path })
	time.Sleep(4 * testInterval)
	first.cancel()
	<-first.done
	before := first.m.History(first.m.Targets()[0])
	if len(before) < 3 {
		t.Fatalf("only %d points before the restart", len(before))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("history file: %v, mode %v", err, st.Mode())
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "MRN-55501") || strings.Contains(string(raw), "patients") {
		t.Error("the history file holds more than statistics")
	}
	m, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: testInterval, Thresholds: quiet(), HistoryFile: path})
	if err != nil {
		t.Fatal(err)
	}
	after := m.History(m.Targets()[0])
	if len(after) != len(before) || !after[0].At.Equal(before[0].At) {
		t.Errorf("after the restart %d points from %v, before %d from %v", len(after), after[0].At, len(before), before[0].At)
	}
	recs, err := monitor.ReadHistory(path)
	if err != nil || len(recs) != len(before) {
		t.Errorf("ReadHistory: %d records, %v", len(recs), err)
	}
}

func TestHistoryReport(t *testing.T) {
	db := pg.NewDB(t)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) {
		o.HistoryFile = path
		o.Thresholds.IdleInTransaction = 300 * time.Millisecond
	})
	idle := connect(t, db.SocketURI)
	fireAndResolve(t, r, "idle_in_transaction", nil, func() { idle.Exec(context.Background(), "BEGIN; SELECT 1") },
		func() { idle.Exec(context.Background(), "COMMIT") })
	r.cancel()
	<-r.done
	recs, err := monitor.ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	sums := monitor.Summarise(recs)
	if len(sums) != 1 || sums[0].Samples < 3 || sums[0].UpPct != 100 || len(sums[0].Alerts) != 2 {
		t.Fatalf("summary: %+v", sums)
	}
	var md, html strings.Builder
	if err := monitor.WriteReport(&md, "markdown", sums); err != nil {
		t.Fatal(err)
	}
	if err := monitor.WriteReport(&html, "html", sums); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| availability | 100.00% of samples up |") || !strings.Contains(md.String(), "idle_in_transaction") {
		t.Errorf("markdown: %s", md.String())
	}
	if !strings.Contains(html.String(), "<polyline") || !strings.Contains(html.String(), "idle_in_transaction") {
		t.Errorf("html lacks charts or alerts")
	}
	if err := monitor.WriteReport(&md, "pdf", sums); err == nil {
		t.Error("pdf accepted")
	}
}
