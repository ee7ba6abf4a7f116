package indexadvisor_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

var pg *pgtest.Cluster

// Statistics are made deterministic: no autovacuum re-analysing a template between
// clones, and a statistics target whose sample (300 rows per unit) reads every row of
// the test tables, so the planner's estimates, and the advice, are the same every run.
func TestMain(m *testing.M) {
	os.Exit(pgtest.MainWithOptions(m, &pg, pgtest.Options{Settings: map[string]string{
		"autovacuum": "off", "default_statistics_target": "1000"}}))
}

const fixture = `
CREATE TABLE visits (
    id bigint PRIMARY KEY, patient_id int NOT NULL, provider_id int NOT NULL, clinic_id int NOT NULL, room_id int NOT NULL,
    status text NOT NULL, visit_date date NOT NULL, amount numeric NOT NULL, email text NOT NULL, note text);
INSERT INTO visits SELECT g, (g * 7919) % 10000, (g * 31) % 500, (g * 13) % 100, (g * 17 / 100) % 100,
    CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 7 = 0 THEN 'cancelled' ELSE 'done' END,
    date '2021-01-01' + (g % 1095), (g % 1000) / 10.0, 'user' || g || '@example.org', md5(g::text)
FROM generate_series(1, 100000) g;
CREATE TABLE patients_t (id int PRIMARY KEY, mrn text NOT NULL, last_name text NOT NULL, dob date NOT NULL);
INSERT INTO patients_t SELECT g, 'MRN' || lpad(g::text, 8, '0'), 'name' || (g % 3000), date '1940-01-01' + (g % 25000) FROM generate_series(0, 19999) g;
CREATE SCHEMA "Clinic Data";
CREATE TABLE "Clinic Data"."Lab Results" ("Result ID" bigint PRIMARY KEY, "Patient Id" int NOT NULL, "Taken At" timestamptz NOT NULL, value numeric);
INSERT INTO "Clinic Data"."Lab Results" SELECT g, (g * 7) % 20000, timestamptz '2022-01-01' + g * interval '5 minutes', g % 100 FROM generate_series(1, 100000) g;
CREATE TABLE claims_p (id bigint, patient_id int NOT NULL, service_date date NOT NULL, amount numeric) PARTITION BY RANGE (service_date);
CREATE TABLE claims_p_2022 PARTITION OF claims_p FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE claims_p_2023 PARTITION OF claims_p FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE claims_p_2024 PARTITION OF claims_p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO claims_p SELECT g, (g * 7919) % 10000, date '2022-01-01' + (g % 1095), g % 500 FROM generate_series(1, 90000) g;
CREATE VIEW recent_visits AS SELECT * FROM visits WHERE visit_date > date '2023-01-01';
CREATE TABLE referrals (id bigint PRIMARY KEY, patient_id int NOT NULL, specialty text NOT NULL, closed_at timestamptz, reason text);
INSERT INTO referrals SELECT g, (g * 13) % 20000, 'spec' || (g % 40), CASE WHEN g % 100 = 0 THEN NULL ELSE timestamptz '2023-01-01' + g * interval '1 minute' END, md5(g::text)
FROM generate_series(1, 100000) g;
CREATE TABLE tiny (id int PRIMARY KEY, name text);
INSERT INTO tiny SELECT g, 'n' || g FROM generate_series(1, 50) g;
ANALYZE;
`

func fixtureDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pg.NewDBFromTemplate(t, "advisor-fixture", func(ctx context.Context, db *pgtest.DB) error {
		conn, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{Write: true})
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, fixture)
		return err
	})
	// As autovacuum would have: the visibility map is what makes index-only scans pay
	// (a VACUUM in the template does not reliably leave it set in the copy).
	db.Exec(t, "VACUUM")
	return db
}

// newAdvisor opens a read-only session on uri (closed at the end of the test), takes
// a snapshot and returns an advisor on it; cfg nil means the production defaults.
func newAdvisor(tb testing.TB, uri string, cfg *config.Profile, opts indexadvisor.Options) *indexadvisor.Advisor {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{StatementTimeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	snap, err := snapshot.Collect(ctx, conn, snapshot.Options{Local: true})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := explain.New(ctx, conn)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg == nil {
		cfg, _ = config.Defaults(config.Production)
	}
	opts.Planner = p
	a, err := indexadvisor.New(cfg, snap, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func advise(t *testing.T, db *pgtest.DB, cfg *config.Profile, stmts ...string) *indexadvisor.Advice {
	t.Helper()
	ctx := context.Background()
	off := false
	a := newAdvisor(t, db.URI, cfg, indexadvisor.Options{Presets: &off})
	var inputs []workload.Input
	for _, s := range stmts {
		inputs = append(inputs, workload.Input{Text: s, Calls: 100, Source: "test"})
	}
	adv, err := a.Advise(ctx, inputs)
	if err != nil {
		t.Fatalf("Advise: %v", err)
	}
	return adv
}

func recsOn(adv *indexadvisor.Advice, table string) []indexadvisor.Recommendation {
	var out []indexadvisor.Recommendation
	for _, r := range adv.Recommendations {
		if r.Table == table {
			out = append(out, r)
		}
	}
	return out
}

func describe(adv *indexadvisor.Advice) []string {
	var out []string
	for _, r := range adv.Recommendations {
		out = append(out, r.SQL)
	}
	for _, s := range adv.Skipped {
		out = append(out, "skipped: "+s.Query+" ("+s.Reason+")")
	}
	return out
}

// want asserts one recommendation on the table whose key columns start with cols.
func want(t *testing.T, adv *indexadvisor.Advice, table string, cols ...string) *indexadvisor.Recommendation {
	t.Helper()
	for _, r := range recsOn(adv, table) {
		if len(r.Columns) < len(cols) {
			continue
		}
		ok := true
		for i, c := range cols {
			if r.Columns[i] != c {
				ok = false
			}
		}
		if ok {
			return &r
		}
	}
	t.Fatalf("no index on %s leading with %v; got %v", table, cols, describe(adv))
	return nil
}

func TestCorrectness(t *testing.T) {
	db := fixtureDB(t)
	cases := []struct {
		name  string
		stmts []string
		check func(t *testing.T, adv *indexadvisor.Advice)
	}{
		{"single equality", []string{"SELECT * FROM visits WHERE patient_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "public.visits", "patient_id")
			if r.ImprovementPct < 50 || r.CostAfter >= r.CostBefore || len(r.Statements) != 1 || r.EstimatedSizeBytes <= 0 {
				t.Errorf("recommendation: %+v", r)
			}
		}},
		{"two equality columns", []string{"SELECT id FROM visits WHERE room_id = $1 AND clinic_id = $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			rs := recsOn(adv, "public.visits")
			if len(rs) != 1 || len(rs[0].Columns) < 2 || !(has(rs[0].Columns, "clinic_id") && has(rs[0].Columns, "room_id")) {
				t.Fatalf("want one index on both equality columns, got %v", describe(adv))
			}
		}},
		{"most selective equality first", []string{"SELECT id FROM visits WHERE provider_id = $1 AND patient_id = $2 AND status = $3"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"equality plus range", []string{"SELECT id, amount FROM visits WHERE provider_id = $1 AND visit_date >= $2 AND visit_date < $3"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "provider_id", "visit_date")
		}},
		{"equality plus ORDER BY LIMIT", []string{"SELECT * FROM visits WHERE provider_id = $1 ORDER BY visit_date DESC LIMIT 10"}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "public.visits", "provider_id")
			if len(r.Columns) < 2 || !strings.HasPrefix(r.Columns[1], "visit_date") {
				t.Errorf("the sort column should follow the equality column: %v", r.Columns)
			}
		}},
		{"ORDER BY with mixed directions", []string{"SELECT id FROM visits WHERE provider_id = $1 ORDER BY visit_date DESC, id ASC LIMIT 10"}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "public.visits", "provider_id")
			if len(r.Columns) != 3 || r.Columns[1] != "visit_date DESC" || r.Columns[2] != "id" {
				t.Errorf("mixed directions need them in the index: %v", r.Columns)
			}
		}},
		{"join", []string{"SELECT v.id, v.visit_date FROM visits v JOIN patients_t p ON p.id = v.patient_id WHERE p.mrn = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.patients_t", "mrn")
			want(t, adv, "public.visits", "patient_id")
		}},
		{"join pair: both sides", []string{"SELECT v.visit_date, v.amount FROM patients_t p JOIN visits v ON v.patient_id = p.id WHERE p.dob >= $1 AND p.dob < $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.patients_t", "dob")
			want(t, adv, "public.visits", "patient_id")
		}},
		{"UPDATE predicate", []string{"UPDATE visits SET amount = $1 WHERE email = $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "email")
		}},
		{"DELETE predicate", []string{"DELETE FROM visits WHERE patient_id = $1 AND visit_date < $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"materialised CTE", []string{"WITH x AS MATERIALIZED (SELECT * FROM visits WHERE email = $1) SELECT * FROM x"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "email")
		}},
		{"inlined CTE", []string{"WITH x AS (SELECT id, patient_id FROM visits) SELECT id FROM x WHERE patient_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"view", []string{"SELECT * FROM recent_visits WHERE patient_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"partitioned table", []string{"SELECT * FROM claims_p WHERE patient_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.claims_p", "patient_id")
		}},
		{"quoted schema and names", []string{`SELECT * FROM "Clinic Data"."Lab Results" WHERE "Patient Id" = $1 ORDER BY "Taken At" DESC LIMIT 5`}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "Clinic Data.Lab Results", "Patient Id")
			if !strings.Contains(r.SQL, `ON "Clinic Data"."Lab Results" ("Patient Id"`) {
				t.Errorf("identifiers not quoted: %s", r.SQL)
			}
		}},
		{"partial index for a constant status", []string{"SELECT id FROM visits WHERE status = 'pending' ORDER BY visit_date LIMIT 20"}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "public.visits", "visit_date")
			if !strings.Contains(r.Where, "status") || !strings.Contains(r.Where, "'pending'") {
				t.Errorf("want a partial index WHERE status = 'pending', got %s", r.SQL)
			}
		}},
		{"expression index", []string{"SELECT id FROM visits WHERE lower(email) = lower($1)"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "lower(email)")
		}},
		{"one index for the workload, not one per statement", []string{
			"SELECT id FROM visits WHERE provider_id = $1 AND visit_date >= $2",
			"SELECT id, visit_date FROM visits WHERE provider_id = $1 ORDER BY visit_date LIMIT 10",
			"SELECT count(*) FROM visits WHERE provider_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			rs := recsOn(adv, "public.visits")
			if len(rs) != 1 || len(rs[0].Statements) != 3 {
				t.Fatalf("want one index serving all three statements, got %v", describe(adv))
			}
		}},
		{"statements without tables, parse and EXPLAIN errors", []string{
			"SELECT 1", "SELECT now()", "SELEC broken", "SELECT * FROM visits WHERE $1 IS NULL", "SELECT nosuchcolumn FROM visits",
			"SELECT * FROM visits WHERE patient_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
			// $1 IS NULL is planned with $1 as text; the other two cannot be.
			if len(adv.Skipped) != 2 || adv.Coverage.NotPlanned != 2 || adv.Coverage.Planned != 4 {
				t.Errorf("want 2 skipped statements (parse error, missing column), got %v; coverage %+v", adv.Skipped, adv.Coverage)
			}
			for _, s := range adv.Skipped {
				if s.Reason == "" {
					t.Errorf("skipped without a reason: %+v", s)
				}
			}
		}},
		{"IN list", []string{"SELECT id FROM visits WHERE patient_id IN ($1, $2, $3)"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"= ANY of an array parameter", []string{"SELECT id, visit_date FROM visits WHERE patient_id = ANY($1::int[]) AND visit_date >= $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.visits", "patient_id")
		}},
		{"IS NULL", []string{"SELECT id, specialty FROM referrals WHERE closed_at IS NULL AND specialty = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			rs := recsOn(adv, "public.referrals")
			if len(rs) != 1 || !strings.Contains(rs[0].Where+strings.Join(rs[0].Columns, ","), "closed_at") {
				t.Fatalf("want one index on referrals using closed_at (key or partial predicate), got %v", describe(adv))
			}
		}},
		{"GROUP BY with a selective filter", []string{"SELECT specialty, count(*) FROM referrals WHERE patient_id = $1 GROUP BY specialty"}, func(t *testing.T, adv *indexadvisor.Advice) {
			want(t, adv, "public.referrals", "patient_id")
		}},
		{"covering index for an index-only scan", []string{"SELECT visit_date, amount FROM visits WHERE provider_id = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			r := want(t, adv, "public.visits", "provider_id")
			cols := strings.Join(append(append([]string{}, r.Columns...), r.Include...), ",")
			if !strings.Contains(cols, "visit_date") || !strings.Contains(cols, "amount") {
				t.Errorf("want visit_date and amount carried for an index-only scan, got %s", r.SQL)
			}
		}},
		{"OR across two columns: one index per branch", []string{"SELECT id, visit_date FROM visits WHERE patient_id = $1 OR email = $2"}, func(t *testing.T, adv *indexadvisor.Advice) {
			a, b := want(t, adv, "public.visits", "patient_id"), want(t, adv, "public.visits", "email")
			if len(a.Statements) != 1 || len(b.Statements) != 1 {
				t.Errorf("both indexes should serve the OR statement (a BitmapOr): %v", describe(adv))
			}
		}},
		{"OR with a branch no index serves", []string{"SELECT id FROM visits WHERE patient_id = $1 OR note LIKE '%x%'"}, func(t *testing.T, adv *indexadvisor.Advice) {
			if len(adv.Recommendations) != 0 {
				t.Errorf("the table is read whole for the LIKE branch anyway: %v", describe(adv))
			}
		}},
		{"table too small to need an index", []string{"SELECT * FROM tiny WHERE name = $1"}, func(t *testing.T, adv *indexadvisor.Advice) {
			if len(adv.Recommendations) != 0 {
				t.Errorf("an index on a 50-row table: %v", describe(adv))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, advise(t, db, nil, tc.stmts...))
		})
	}
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestExistingIndexesAndDrops(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, `CREATE INDEX visits_patient_date ON visits (patient_id, visit_date);
		CREATE INDEX visits_provider_only ON visits (provider_id);
		CREATE INDEX visits_email_a ON visits (email);
		CREATE INDEX visits_email_b ON visits (email);
		CREATE INDEX visits_amount_unused ON visits (amount);
		ANALYZE visits`)
	// A failed concurrent build leaves an invalid index.
	conn := db.Conn(t)
	if _, err := conn.Exec(context.Background(), "CREATE UNIQUE INDEX CONCURRENTLY visits_status_key ON visits (status)"); err == nil {
		t.Fatal("a unique index on status should fail")
	}
	cfg, _ := config.Defaults(config.Production)
	cfg.IndexOptimizer.UnusedIndexMinBytes = 0
	cfg.IndexOptimizer.UnusedIndexMinDays = 0 // the fixture's statistics are minutes old
	adv := advise(t, db, cfg,
		"SELECT * FROM visits WHERE patient_id = $1", // served by visits_patient_date
		"SELECT id FROM visits WHERE provider_id = $1 AND visit_date >= $2 AND visit_date < $3",
		"SELECT id FROM visits WHERE email = $1")
	for _, r := range adv.Recommendations {
		if r.Columns[0] == "patient_id" {
			t.Errorf("recommended %s although visits_patient_date serves it", r.SQL)
		}
		if r.Columns[0] == "email" {
			t.Errorf("recommended %s although the email indexes exist", r.SQL)
		}
	}
	r := want(t, adv, "public.visits", "provider_id", "visit_date")
	if !has(r.Replaces, "public.visits_provider_only") {
		t.Errorf("the new (provider_id, visit_date) index should replace visits_provider_only: %+v", r.Replaces)
	}
	drops := map[string]string{}
	for _, d := range adv.Drops {
		drops[d.Index] = d.Reason
		if !strings.HasPrefix(d.SQL, "DROP INDEX CONCURRENTLY IF EXISTS ") {
			t.Errorf("drop SQL: %s", d.SQL)
		}
	}
	for idx, word := range map[string]string{
		"public.visits_status_key":    "invalid",
		"public.visits_email_b":       "duplicate",
		"public.visits_amount_unused": "no scans",
		"public.visits_provider_only": "replaced",
	} {
		if !strings.Contains(drops[idx], word) {
			t.Errorf("%s: want a drop mentioning %q, got %q", idx, word, drops[idx])
		}
	}
	if _, ok := drops["public.visits_patient_date"]; ok {
		t.Error("an index the workload uses was proposed for dropping")
	}
	if _, ok := drops["public.visits_email_a"]; ok {
		t.Error("both duplicates were proposed for dropping")
	}

	// With the production default, minutes of statistics cannot call an index unused.
	cfg, _ = config.Defaults(config.Production)
	cfg.IndexOptimizer.UnusedIndexMinBytes = 0
	for _, d := range advise(t, db, cfg, "SELECT * FROM visits WHERE patient_id = $1").Drops {
		if d.Index == "public.visits_amount_unused" {
			t.Errorf("dropped on young statistics: %s (%s)", d.Index, d.Reason)
		}
	}
}

func TestBudgetsAndMinimumImprovement(t *testing.T) {
	db := fixtureDB(t)
	stmts := []string{
		"SELECT * FROM visits WHERE patient_id = $1",
		"SELECT * FROM visits WHERE email = $1",
		"SELECT * FROM visits WHERE provider_id = $1 AND visit_date >= $2 AND visit_date < $3",
	}
	cfg, _ := config.Defaults(config.Production)
	cfg.IndexOptimizer.MaxIndexesPerTable = 2 // the primary key counts
	adv := advise(t, db, cfg, stmts...)
	if n := len(recsOn(adv, "public.visits")); n != 1 {
		t.Errorf("maxIndexesPerTable 2 with a primary key allows one more index, got %d: %v", n, describe(adv))
	}
	cfg, _ = config.Defaults(config.Production)
	cfg.IndexOptimizer.EnableCompositeIndexes = false
	adv = advise(t, db, cfg, stmts...)
	if len(adv.Recommendations) == 0 {
		t.Errorf("single-column indexes still help: %v", describe(adv))
	}
	for _, r := range adv.Recommendations {
		if len(r.Columns) != 1 {
			t.Errorf("enableCompositeIndexes: false, yet %s", r.SQL)
		}
	}
	cfg, _ = config.Defaults(config.Production)
	cfg.IndexOptimizer.MaxStorageBytes = 1 << 20
	adv = advise(t, db, cfg, stmts...)
	var total int64
	for _, r := range adv.Recommendations {
		total += r.EstimatedSizeBytes
	}
	if total > 1<<20 {
		t.Errorf("storage budget of 1MiB exceeded: %d bytes", total)
	}
}

// A long run reports how far it is; the clock here moves two seconds per reading.
func TestProgress(t *testing.T) {
	db := fixtureDB(t)
	clock := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var msgs []string
	off := false
	a := newAdvisor(t, db.URI, nil, indexadvisor.Options{
		Presets:  &off,
		Now:      func() time.Time { clock = clock.Add(2 * time.Second); return clock },
		Progress: func(m string) { msgs = append(msgs, m) },
	})
	_, err := a.Advise(context.Background(), []workload.Input{
		{Text: "SELECT id FROM visits WHERE provider_id = $1 AND visit_date >= $2", Calls: 10},
		{Text: "SELECT id FROM visits WHERE patient_id = $1", Calls: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"statements", "candidate indexes"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no progress on %s: %q", want, joined)
		}
	}
}

// A constant of a PHI column never becomes a partial index predicate: the advice would
// print it.
func TestNoPartialIndexOnPHIValues(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE members (id bigint PRIMARY KEY, zip_code text NOT NULL, status text NOT NULL, enrolled_on date NOT NULL);
		INSERT INTO members SELECT g, CASE WHEN g % 100 = 0 THEN '02139' ELSE (ARRAY['02140','02141','02142','02143'])[1 + g % 4] END,
			CASE WHEN g % 20 = 0 THEN 'hold' ELSE 'active' END, date '2020-01-01' + g % 1000 FROM generate_series(1, 50000) g;
		ANALYZE members`)
	adv := advise(t, db, nil,
		"SELECT id FROM members WHERE zip_code = '02139' ORDER BY enrolled_on LIMIT 10",
		"SELECT id FROM members WHERE status = 'hold' ORDER BY enrolled_on LIMIT 10")
	raw, _ := json.Marshal(adv)
	if strings.Contains(string(raw), "02139") {
		t.Errorf("a zip code from the workload reached the advice: %v", describe(adv))
	}
	found := false
	for _, r := range recsOn(adv, "public.members") {
		found = found || strings.Contains(r.Where, "'hold'")
	}
	if !found {
		t.Errorf("the status queue still gets its partial index: %v", describe(adv))
	}
}

// The weighting decides which statement a scarce index slot goes to: the one called a
// million times (calls), the one that takes the time (time, and auto with timings), or
// the one whose plan the index cheapens most (equal).
func TestWeighting(t *testing.T) {
	db := fixtureDB(t)
	cfg, _ := config.Defaults(config.Production)
	cfg.IndexOptimizer.MaxIndexesPerTable = 2 // the primary key and one more
	inputs := []workload.Input{
		// A lookup that saves the most per execution, slow in total; a cheaper saving
		// called a million times, quick in total.
		{Text: "SELECT id FROM visits WHERE email = $1", Calls: 10, TotalMs: 500_000, Source: "test"},
		{Text: "SELECT * FROM visits WHERE provider_id = $1 ORDER BY visit_date, amount", Calls: 1_000_000, TotalMs: 1_000, Source: "test"},
	}
	lead := func(weight string) string {
		off := false
		adv, err := newAdvisor(t, db.URI, cfg, indexadvisor.Options{Presets: &off, Weight: weight}).Advise(context.Background(), inputs)
		if err != nil {
			t.Fatal(err)
		}
		if len(adv.Recommendations) != 1 {
			t.Fatalf("%s: want the one index the budget allows, got %v", weight, describe(adv))
		}
		if adv.Stats.Weighting != weight && weight != "auto" {
			t.Errorf("stats say %q weighting, asked for %q", adv.Stats.Weighting, weight)
		}
		return adv.Recommendations[0].Columns[0]
	}
	for weight, want := range map[string]string{"calls": "provider_id", "time": "email", "equal": "email", "auto": "email"} {
		if got := lead(weight); got != want {
			t.Errorf("--weight %s: the index leads with %s, want %s", weight, got, want)
		}
	}
}
