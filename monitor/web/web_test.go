package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/monitor/web"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

const (
	token  = "s3cret-token-for-tests"
	viewer = "viewer-token-for-tests"
)

type env struct {
	m     *monitor.Monitor
	srv   *httptest.Server
	audit *lockedBuf
	db    *pgtest.DB
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func setup(t *testing.T, th func(*monitor.Thresholds)) *env {
	t.Helper()
	db := pg.NewDB(t)
	thr := monitor.Thresholds{ConnectionPct: 100, ReplicationLag: time.Hour, QueryResponse: time.Hour, DiskUsagePct: 100,
		LongRunning: time.Hour, IdleInTransaction: time.Hour, BlockedSessions: 1000, XIDAge: 2_000_000_000, Deadlocks: 1000,
		LatencyRegression: 1000}
	if th != nil {
		th(&thr)
	}
	m, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: 300 * time.Millisecond, Thresholds: thr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-m.Ready()
	audit := &lockedBuf{}
	s, err := web.New(m, web.Options{Listen: "127.0.0.1:0", Token: token, ViewerToken: viewer, Audit: slog.New(slog.NewJSONHandler(audit, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{m: m, srv: srv, audit: audit, db: db}
}

func (e *env) get(t *testing.T, path, auth string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestEverythingButHealthzNeedsTheToken(t *testing.T) {
	e := setup(t, nil)
	if resp, _ := e.get(t, "/healthz", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz without token: %d", resp.StatusCode)
	}
	for _, p := range []string{"/metrics", "/api/v1/alerts", "/", "/activity", "/statements", "/alerts", "/replication"} {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + token, "Bearer"} {
			resp, body := e.get(t, p, auth)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d, want 401", p, auth, resp.StatusCode)
			}
			if strings.Contains(body, "pg_up") || strings.Contains(body, "alerts\"") {
				t.Errorf("%s leaks data without the token: %.200s", p, body)
			}
		}
		if resp, _ := e.get(t, p, "Bearer "+token); resp.StatusCode != 200 {
			t.Errorf("%s with the token: %d", p, resp.StatusCode)
		}
	}
	// A browser without the token gets the sign-in form, still 401.
	resp, body := e.get(t, "/", "", "Accept", "text/html")
	if resp.StatusCode != 401 || !strings.Contains(body, `name="token"`) {
		t.Errorf("browser without token: %d %.200s", resp.StatusCode, body)
	}
	log := e.audit.String()
	if !strings.Contains(log, `"what":"metrics"`) || !strings.Contains(log, "access refused") {
		t.Errorf("audit log lacks the views and the refusals: %.500s", log)
	}
	if strings.Contains(log, token) {
		t.Error("the audit log holds the token")
	}
}

func TestMetricsParseAndFollowConventions(t *testing.T) {
	e := setup(t, nil)
	time.Sleep(time.Second) // a few collections: deltas exist
	resp, body := e.get(t, "/metrics", "Bearer "+token)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	up := fams["pg_up"]
	if up == nil || len(up.Metric) != 1 || up.Metric[0].GetGauge().GetValue() != 1 || label(up.Metric[0], "server") == "" {
		t.Fatalf("pg_up: %v", up)
	}
	for _, name := range []string{"pg_stat_database_xact_commit_total", "pg_stat_database_numbackends", "pg_replication_lag_seconds",
		"pg_database_size_bytes", "pgmedic_collect_duration_seconds", "pgmedic_alerts_firing", "pg_stat_activity_count"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if _, ok := fams["pgmedic_compliance_score"]; ok {
		t.Error("pgmedic_compliance_score without a compliance source")
	}
	rules := map[string]bool{}
	for _, m := range fams["pgmedic_alerts_firing"].Metric {
		rules[label(m, "alert")] = true
	}
	for _, r := range monitor.RuleNames() {
		if !rules[r] {
			t.Errorf("pgmedic_alerts_firing has no series for %s", r)
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "pg_") && !strings.HasPrefix(name, "pgmedic_") && !strings.HasPrefix(name, "go_") &&
			!strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("%s: not a pg_ or pgmedic_ name", name)
		}
		isCounter := f.GetType() == dto.MetricType_COUNTER
		if strings.HasPrefix(name, "pg") && isCounter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: counters and only counters end in _total (type %s)", name, f.GetType())
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestAlertsAPIContractAndDashboardShowAlert(t *testing.T) {
	e := setup(t, func(th *monitor.Thresholds) { th.IdleInTransaction = 300 * time.Millisecond })
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, e.db.SocketURI, pgconn.Policy{Write: true, ApplicationName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var alerts []map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for len(alerts) == 0 && time.Now().Before(deadline) {
		_, body := e.get(t, "/api/v1/alerts", "Bearer "+token)
		var got map[string][]map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		alerts = got["alerts"]
		time.Sleep(100 * time.Millisecond)
	}
	if len(alerts) == 0 {
		t.Fatal("no alert in the API")
	}
	a := alerts[0]
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "labels,name,resolved_at,severity,started_at,state,summary" {
		t.Errorf("alert keys %v", keys)
	}
	if a["name"] != "idle_in_transaction" || a["state"] != "firing" || a["resolved_at"] != nil {
		t.Errorf("alert %v", a)
	}
	if _, err := time.Parse(time.RFC3339, a["started_at"].(string)); err != nil {
		t.Errorf("started_at: %v", err)
	}
	resp, body := e.get(t, "/alerts", "Bearer "+token)
	if !strings.Contains(body, "idle_in_transaction") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("alerts page: CSP %q, body %.300s", resp.Header.Get("Content-Security-Policy"), body)
	}
	conn.Exec(ctx, "COMMIT")
}

func TestDashboardPagesShowNoValues(t *testing.T) {
	e := setup(t, nil)
	e.db.Exec(t, "CREATE TABLE patients (id int, mrn text); INSERT INTO patients VALUES (1, 'MRN-99817')")
	e.db.Exec(t, "SELECT * FROM patients WHERE mrn = 'MRN-99817'")
	time.Sleep(time.Second)
	for _, p := range []string{"/", "/activity", "/statements", "/replication", "/alerts"} {
		resp, body := e.get(t, p, "Bearer "+token)
		if resp.StatusCode != 200 || !strings.Contains(body, "pgmedic monitor") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		if strings.Contains(body, "MRN-99817") {
			t.Errorf("%s shows a value from a table", p)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s has a script, an inline style or an external asset", p)
		}
	}
	_, body := e.get(t, "/statements", "Bearer "+token)
	if !strings.Contains(body, "FROM patients WHERE mrn = $1") {
		t.Errorf("statements page lacks the normalised statement: %.2000s", body)
	}
	_, body = e.get(t, "/", "Bearer "+token)
	if !strings.Contains(body, "<svg") || !strings.Contains(body, "<polyline") {
		t.Error("overview has no history chart")
	}
	// The viewer token sees the statistics but not the statement texts.
	resp, body := e.get(t, "/statements", "Bearer "+viewer)
	if resp.StatusCode != 200 || strings.Contains(body, "FROM patients") || !strings.Contains(body, "hidden") {
		t.Errorf("viewer's statements page: %d, shows text: %v", resp.StatusCode, strings.Contains(body, "FROM patients"))
	}
	if resp, _ := e.get(t, "/metrics", "Bearer "+viewer); resp.StatusCode != 200 {
		t.Errorf("viewer's /metrics: %d", resp.StatusCode)
	}
	if !strings.Contains(e.audit.String(), `"role":"viewer"`) || !strings.Contains(e.audit.String(), `"role":"admin"`) {
		t.Errorf("audit log lacks the roles: %.400s", e.audit.String())
	}
}

func TestLoginSetsCookie(t *testing.T) {
	e := setup(t, nil)
	client := e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(e.srv.URL+"/login", url.Values{"token": {"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("bad token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, err = client.PostForm(e.srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the cookie: %d", resp.StatusCode)
	}
}

func TestListenPolicy(t *testing.T) {
	for _, tt := range []struct {
		addr, token string
		tls, ok     bool
	}{
		{"127.0.0.1:9188", "", false, true},
		{"localhost:9188", "", false, true},
		{"[::1]:9188", "", false, true},
		{"0.0.0.0:9188", "", true, false},
		{"0.0.0.0:9188", "t", false, false},
		{":9188", "t", false, false},
		{"10.1.2.3:9188", "t", true, true},
		{"nonsense", "t", true, false},
	} {
		err := web.CheckListen(tt.addr, tt.token, tt.tls)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, token %q, tls %v) = %v", tt.addr, tt.token, tt.tls, err)
		}
	}
}

func TestTokenGuessingIsThrottled(t *testing.T) {
	e := setup(t, nil)
	codes := map[int]int{}
	for range 60 {
		resp, _ := e.get(t, "/metrics", "Bearer guess")
		codes[resp.StatusCode]++
	}
	if codes[http.StatusUnauthorized] != 50 || codes[http.StatusTooManyRequests] != 10 {
		t.Errorf("60 wrong tokens: %v, want 50 refused then 10 throttled", codes)
	}
	// Even the right token waits out the window from a guessing address.
	if resp, _ := e.get(t, "/metrics", "Bearer "+token); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right token during the throttle: %d", resp.StatusCode)
	}
	if !strings.Contains(e.audit.String(), "access throttled") {
		t.Error("the throttle is not in the audit log")
	}
}
