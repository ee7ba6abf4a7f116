package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/pgconn"
)

func TestConnectionsAlertFiresAndResolves(t *testing.T) {
	db := pg.NewDB(t)
	maxConns := db.QueryInt64(t, "SELECT current_setting('max_connections')::int8")
	now := db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
	// The threshold sits five sessions above today's count (the monitor's own included).
	pct := 100 * float64(now+1+5) / float64(maxConns)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.ConnectionPct = pct })
	var conns []*pgx.Conn
	a := fireAndResolve(t, r, "connections", nil, func() {
		for range 8 {
			conns = append(conns, connect(t, db.SocketURI))
		}
	}, func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	})
	if a.Labels["target"] == "" || a.Severity != monitor.Warning {
		t.Errorf("alert: %+v", a)
	}
}

func TestLongRunningAndIdleInTransactionAlerts(t *testing.T) {
	db := pg.NewDB(t)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) {
		o.Thresholds.LongRunning = time.Second
		o.Thresholds.IdleInTransaction = time.Second
	})
	sleeper := connect(t, db.SocketURI)
	var stop func()
	fireAndResolve(t, r, "long_running_query", map[string]string{"datname": db.Name}, func() {
		stop = background(t, func(ctx context.Context) { sleeper.Exec(ctx, "SELECT pg_sleep(120)") })
	}, func() { stop() })

	idle := connect(t, db.SocketURI)
	ctx := context.Background()
	fireAndResolve(t, r, "idle_in_transaction", map[string]string{"datname": db.Name}, func() {
		if _, err := idle.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if _, err := idle.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBlockedSessionsAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE queue (id int)")
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.BlockedSessions = 1 })
	holder, waiter := connect(t, db.SocketURI), connect(t, db.SocketURI)
	ctx := context.Background()
	var stop func()
	a := fireAndResolve(t, r, "blocked_sessions", nil, func() {
		if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE queue IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		stop = background(t, func(ctx context.Context) { waiter.Exec(ctx, "SELECT count(*) FROM queue") })
	}, func() {
		if _, err := holder.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		stop()
	})
	if a.Value < 1 {
		t.Errorf("blocked count %v", a.Value)
	}
}

func TestReplicationBrokenOnAbandonedSlot(t *testing.T) {
	db := pg.NewDB(t)
	r := start(t, []string{db.SocketURI}, nil)
	slot := "pgmedic_test_" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	fireAndResolve(t, r, "replication_broken", map[string]string{"slot": slot}, func() {
		db.Exec(t, "SELECT pg_create_physical_replication_slot($1, true)", slot)
	}, func() {
		db.Exec(t, "SELECT pg_drop_replication_slot($1)", slot)
	})
}

func TestXIDWraparoundAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "VACUUM (FREEZE)")
	age := db.QueryInt64(t, "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()")
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.XIDAge = age + 200 })
	conn := connect(t, db.SocketURI)
	fireAndResolve(t, r, "xid_wraparound", map[string]string{"datname": db.Name}, func() {
		for range 400 {
			if _, err := conn.Exec(context.Background(), "SELECT pg_current_xact_id()"); err != nil {
				t.Fatal(err)
			}
		}
	}, func() { db.Exec(t, "VACUUM (FREEZE)") })
}

func TestDeadlocksAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE a (id int); CREATE TABLE b (id int)")
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.Deadlocks = 1 })
	fireAndResolve(t, r, "deadlocks", nil, func() { deadlock(t, db.SocketURI) }, func() {
		// Nothing to undo: the alert resolves once the deadlock leaves the window.
	})
}

// deadlock makes two sessions wait for each other until the server breaks the cycle.
func deadlock(t *testing.T, uri string) {
	ctx := context.Background()
	c1, c2 := connect(t, uri), connect(t, uri)
	for _, c := range []*pgx.Conn{c1, c2} {
		if _, err := c.Exec(ctx, "SET deadlock_timeout = '100ms'"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c1.Exec(ctx, "BEGIN; LOCK TABLE a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Exec(ctx, "BEGIN; LOCK TABLE b"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { _, err := c1.Exec(ctx, "LOCK TABLE b"); errs <- err }()
	go func() { _, err := c2.Exec(ctx, "LOCK TABLE a"); errs <- err }()
	failed := 0
	for range 2 {
		if <-errs != nil {
			failed++
		}
		// The victim's transaction is aborted; end both so the survivor's lock goes.
		c1.Exec(ctx, "ROLLBACK")
		c2.Exec(ctx, "ROLLBACK")
	}
	if failed != 1 {
		t.Fatalf("%d sessions failed, want the one deadlock victim", failed)
	}
}

func TestWALArchivingAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE w (id int)")
	r := start(t, []string{db.SocketURI}, nil)
	setArchive := func(cmd string) {
		db.Exec(t, fmt.Sprintf("ALTER SYSTEM SET archive_command = '%s'", cmd))
		db.Exec(t, "SELECT pg_reload_conf()")
		time.Sleep(200 * time.Millisecond) // let the archiver read the new setting
		db.Exec(t, "INSERT INTO w VALUES (1)")
		db.Exec(t, "SELECT pg_switch_wal()")
	}
	t.Cleanup(func() {
		db.Exec(t, "ALTER SYSTEM RESET archive_command")
		db.Exec(t, "SELECT pg_reload_conf()")
	})
	fireAndResolve(t, r, "wal_archiving_failed", nil, func() { setArchive("false") }, func() { setArchive("true") })
}

func TestStatementSlowAndLatencyRegression(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE ctl (slow bool); INSERT INTO ctl VALUES (false);
		CREATE FUNCTION lookup() RETURNS int LANGUAGE plpgsql AS $$
		BEGIN IF (SELECT slow FROM ctl) THEN PERFORM pg_sleep(0.03); END IF; RETURN 1; END $$`)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) {
		o.Thresholds.LatencyRegression = 3
		o.Thresholds.QueryResponse = 20 * time.Millisecond
	})
	app := connect(t, db.SocketURI)
	background(t, func(ctx context.Context) {
		for ctx.Err() == nil {
			if _, err := app.Exec(ctx, "SELECT lookup()"); err != nil && !errors.Is(err, context.Canceled) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	// Let the statement build its baseline over a few intervals of fast calls.
	time.Sleep(6 * testInterval)
	labels := map[string]string{"datname": db.Name}
	fireAndResolve(t, r, "statement_latency_regression", labels, func() {
		db.Exec(t, "UPDATE ctl SET slow = true")
		// Slow for whole intervals: the mean then passes the response-time threshold too.
		waitAlert(t, r.m, "statement_slow", monitor.Firing, labels)
	}, func() { db.Exec(t, "UPDATE ctl SET slow = false") })
	waitAlert(t, r.m, "statement_slow", monitor.Resolved, labels)
	if firingCount(r.m, "statement_slow") != 0 {
		t.Errorf("statement_slow still firing once the statement is fast again")
	}
}

func TestClaimsIngestRateAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE claims (id bigserial, amount numeric)")
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) {
		o.ClaimsTables = []string{"claims"}
		o.Thresholds.ClaimsPerMinute = 1000
	})
	// Nothing is inserted: under the standard.
	waitAlert(t, r.m, "claims_ingest_rate", monitor.Firing, map[string]string{"table": "public.claims"})
	app := connect(t, db.SocketURI)
	stop := background(t, func(ctx context.Context) {
		for ctx.Err() == nil {
			app.Exec(ctx, "INSERT INTO claims (amount) SELECT 10 FROM generate_series(1, 50)")
			time.Sleep(50 * time.Millisecond) // about 60,000 rows a minute
		}
	})
	waitAlert(t, r.m, "claims_ingest_rate", monitor.Resolved, map[string]string{"table": "public.claims"})
	if firingCount(r.m, "claims_ingest_rate") != 0 {
		t.Errorf("still firing while ingesting: %+v", r.m.Alerts())
	}
	stop()
	// The rate falls again: a new alert fires.
	deadline := time.Now().Add(90 * time.Second)
	for firingCount(r.m, "claims_ingest_rate") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the alert did not fire again when ingest stopped")
		}
		time.Sleep(testInterval)
	}
}

func TestUnusualPHIAccessAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE patients (id int PRIMARY KEY, first_name text, last_name text, ssn text, date_of_birth date);
		INSERT INTO patients VALUES (1, 'A', 'B', '000-00-0000', '2000-01-01');
		SELECT count(*) FROM patients`)
	role := "clerk_" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	db.Exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN; GRANT SELECT ON patients TO %s", role, role))
	t.Cleanup(func() { db.Exec(t, fmt.Sprintf("DROP OWNED BY %s; DROP ROLE %s", role, role)) })
	// Learn for no longer than the first collection: the superuser's read is the baseline.
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.PHIBaseline = 0 })
	time.Sleep(2 * testInterval)
	// The baseline reader reading again raises nothing.
	db.Exec(t, "SELECT count(*) FROM patients")
	time.Sleep(3 * testInterval)
	if n := firingCount(r.m, "phi_access_unusual"); n != 0 {
		t.Fatalf("baseline reader raised %d alerts: %+v", n, r.m.Alerts())
	}
	clerk := connect(t, asUser(t, db.SocketURI, role))
	a := fireAndResolve(t, r, "phi_access_unusual", map[string]string{"role": role, "table": "public.patients"}, func() {
		var n int
		if err := clerk.QueryRow(context.Background(), "SELECT count(*) FROM patients WHERE id > $1", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}, func() {})
	if a.Severity != monitor.Critical {
		t.Errorf("severity %s", a.Severity)
	}
}

func TestDiskUsageAlert(t *testing.T) {
	db := pg.NewDB(t)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.DiskUsagePct = 0.001 })
	a := waitAlert(t, r.m, "disk_usage", monitor.Firing, nil)
	s := r.m.Latest(r.m.Targets()[0])
	if s.Disk == nil || s.Disk.TotalBytes <= 0 || a.Value != s.Disk.UsedPct && a.Value <= 0 {
		t.Errorf("disk %+v, alert %+v", s.Disk, a)
	}
}

func TestRuleOverridesAndUnknownRule(t *testing.T) {
	db := pg.NewDB(t)
	_, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: time.Second,
		Overrides: []monitor.RuleOverride{{Rule: "connexions", Off: true}}})
	if err == nil {
		t.Fatal("an override naming no rule was accepted")
	}
	long := time.Hour
	m, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: time.Second,
		Overrides: []monitor.RuleOverride{{Rule: "disk_usage", Off: true}, {Rule: "connections", For: &long}, {Rule: "deadlocks", Severity: "critical"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.RulesInEffect() {
		switch r.Name {
		case "disk_usage":
			t.Error("disk_usage is off but in effect")
		case "connections":
			if r.For != time.Hour {
				t.Errorf("connections for %s", r.For)
			}
		case "deadlocks":
			if r.Severity != "critical" {
				t.Errorf("deadlocks severity %s", r.Severity)
			}
		}
	}
}

func TestCacheHitRatioAlert(t *testing.T) {
	db := pg.NewDB(t)
	sb := db.QueryInt64(t, "SELECT setting::int8 * 8192 FROM pg_settings WHERE name = 'shared_buffers'")
	// A table half as large again as shared_buffers cannot stay cached: each scan reads
	// most of its blocks from outside the buffer cache.
	rows := sb * 3 / 2 / 300
	db.Exec(t, "CREATE TABLE big AS SELECT g AS id, repeat('x', 300) AS pad FROM generate_series(1, $1::int8) g", rows)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.CacheHitPct = 90 })
	app := connect(t, db.SocketURI)
	var stop func()
	fireAndResolve(t, r, "cache_hit_ratio", nil, func() {
		stop = background(t, func(ctx context.Context) {
			for ctx.Err() == nil {
				app.Exec(ctx, "SELECT count(*) FROM big")
			}
		})
	}, func() { stop() })
}

// scores is a compliance source a test sets by hand, standing in for the compliance
// package (not built yet); the database side is real.
type scores struct {
	mu sync.Mutex
	v  float64
}

func (s *scores) set(v float64) { s.mu.Lock(); s.v = v; s.mu.Unlock() }
func (s *scores) ComplianceScore(string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v, true
}

func TestComplianceScoreDropAlertAndGauge(t *testing.T) {
	db := pg.NewDB(t)
	src := &scores{v: 92}
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Compliance = src })
	time.Sleep(2 * testInterval)
	a := fireAndResolve(t, r, "compliance_score_drop", nil, func() { src.set(80) }, func() { src.set(91) })
	if a.Value != 80 {
		t.Errorf("alert value %v, want the score 80", a.Value)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, f := range fams {
		if f.GetName() == "pgmedic_compliance_score" {
			got = f.Metric[0].GetGauge().GetValue()
		}
	}
	if got != 91 {
		t.Errorf("pgmedic_compliance_score = %v, want 91", got)
	}
}

func TestFailedLoginsAlert(t *testing.T) {
	db := pg.NewDB(t)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Thresholds.FailedLogins = 3 })
	time.Sleep(2 * testInterval) // the monitor has found the end of the log
	intruder := "intruder_" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	a := fireAndResolve(t, r, "failed_logins", nil, func() {
		for range 3 {
			if c, err := pgconn.Connect(context.Background(), asUser(t, db.SocketURI, intruder), pgconn.Policy{}); err == nil {
				c.Close(context.Background())
				t.Fatal("a role that does not exist logged in")
			}
		}
	}, func() {
		// Nothing to undo: the alert resolves once the failures leave the window.
	})
	if a.Value != 3 || !strings.Contains(a.Summary, intruder) {
		t.Errorf("alert: %+v", a)
	}
}

// A usual reader of a PHI table reading it far more often than it did while the
// baseline was learned raises the alert too.
func TestPHIReadRateAlert(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE patients (id int PRIMARY KEY, first_name text, last_name text, ssn text, date_of_birth date);
		INSERT INTO patients SELECT g, 'A', 'B', '000-00-0000', '2000-01-01' FROM generate_series(1, 10) g`)
	role := "nurse_" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	db.Exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN; GRANT SELECT ON patients TO %s", role, role))
	t.Cleanup(func() { db.Exec(t, fmt.Sprintf("DROP OWNED BY %s; DROP ROLE %s", role, role)) })
	nurse := connect(t, asUser(t, db.SocketURI, role))
	read := func(n int) {
		for i := range n {
			var x int
			if err := nurse.QueryRow(context.Background(), "SELECT id FROM patients WHERE id = $1", i%10+1).Scan(&x); err != nil {
				t.Fatal(err)
			}
		}
	}
	read(1)
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.PHIBaseline = 6 * testInterval })
	// While learning: a few reads an interval.
	for range 6 {
		read(2)
		time.Sleep(testInterval)
	}
	time.Sleep(2 * testInterval) // learning is over
	labels := map[string]string{"role": role, "table": "public.patients", "reason": "rate"}
	fireAndResolve(t, r, "phi_access_unusual", labels, func() { read(500) }, func() {})
	if _, ok := findAlert(r.m, "phi_access_unusual", monitor.Resolved, map[string]string{"role": role, "reason": "new_reader"}); ok {
		t.Error("a baseline reader was reported as a new reader")
	}
}
