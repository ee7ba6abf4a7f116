package queryperf_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// seeded is the synthetic dataset at scale 0.1: 10,000 patients, 100,000 claims.
func seeded(t testing.TB) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.1", func(ctx context.Context, db *pgtest.DB) error {
		pool, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true})
		if err != nil {
			return err
		}
		defer pool.Close()
		if _, err := synth.Load(ctx, pool, synth.LoadOptions{Options: synth.Options{Scale: 0.1, Seed: 9}}); err != nil {
			return err
		}
		_, err = pool.Exec(ctx, `CREATE TABLE corr AS SELECT g AS id, g % 100 AS a, g % 100 AS b FROM generate_series(1, 100000) g;
			ALTER TABLE corr ADD PRIMARY KEY (id); ANALYZE corr`)
		return err
	})
}

type env struct {
	db      *pgtest.DB
	conn    *pgx.Conn
	planner *explain.Planner
	snap    *snapshot.Snapshot
}

func setup(t testing.TB, db *pgtest.DB, write bool) *env {
	t.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, db.URI, pgconn.Policy{Write: write, StatementTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	snap, err := snapshot.Collect(ctx, conn, snapshot.Options{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := explain.New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, conn: conn, planner: p, snap: snap}
}

func (e *env) analyzer(t testing.TB, opts ...queryperf.Options) *queryperf.Analyzer {
	t.Helper()
	cfg, err := config.Defaults(config.Production)
	if err != nil {
		t.Fatal(err)
	}
	var o queryperf.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Planner = e.planner
	a, err := queryperf.New(cfg, e.snap, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) query(t *testing.T, sql string, opts ...queryperf.Options) *queryperf.StatementResult {
	t.Helper()
	sr, err := e.analyzer(t, opts...).AnalyzeQuery(context.Background(), sql)
	if err != nil {
		t.Fatalf("AnalyzeQuery(%q): %v", sql, err)
	}
	return sr
}

func (e *env) inputs(t *testing.T, ins ...workload.Input) *queryperf.Result {
	t.Helper()
	res, err := e.analyzer(t).AnalyzeInputs(context.Background(), ins)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func has(fs []finding.Finding, rule string) *finding.Finding {
	for i := range fs {
		if fs[i].Check == rule {
			return &fs[i]
		}
	}
	return nil
}

func checks(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check)
	}
	return out
}

// pair asserts a rule fires on one statement and not on its near twin.
func pair(t *testing.T, rule string, fires, twin *queryperf.StatementResult) *finding.Finding {
	t.Helper()
	f := has(fires.Findings, rule)
	if f == nil {
		t.Errorf("%s did not fire on %q (findings %v, plan error %q)", rule, fires.Query, checks(fires.Findings), fires.NotPlanned)
	}
	if g := has(twin.Findings, rule); g != nil {
		t.Errorf("%s fired on the twin %q: %s", rule, twin.Query, g.Title)
	}
	return f
}

func TestPlanRules(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)

	t.Run("seq_scan_selective", func(t *testing.T) {
		f := pair(t, "query.seq_scan_selective",
			e.query(t, "SELECT id FROM claims WHERE claim_number = $1"),
			e.query(t, "SELECT id FROM claims WHERE id = $1"))
		if f != nil && (f.Severity != finding.High || !f.PHI) {
			t.Errorf("a full scan of claims (PHI) should be high: %s phi=%v", f.Severity, f.PHI)
		}
	})
	t.Run("non_sargable", func(t *testing.T) {
		for _, sql := range []string{
			"SELECT id FROM patients WHERE lower(last_name) = lower($1)",
			"SELECT id FROM patients WHERE id::text = $1",
			"SELECT id FROM patients WHERE email LIKE '%@example.org'",
			"SELECT id FROM patients WHERE mrn = $1 OR last_name = $2",
		} {
			pair(t, "query.non_sargable", e.query(t, sql), e.query(t, "SELECT id FROM patients WHERE last_name = $1"))
		}
	})
	t.Run("nested_loop_large_outer", func(t *testing.T) {
		sql := "SELECT count(*) FROM claims c JOIN patients p ON p.id = c.patient_id"
		twin := e.query(t, sql)
		if _, err := e.conn.Exec(context.Background(), "SET enable_hashjoin = off; SET enable_mergejoin = off"); err != nil {
			t.Fatal(err)
		}
		fires := e.query(t, sql)
		if _, err := e.conn.Exec(context.Background(), "RESET enable_hashjoin; RESET enable_mergejoin"); err != nil {
			t.Fatal(err)
		}
		pair(t, "query.nested_loop_large_outer", fires, twin)
	})
	t.Run("offset_paging", func(t *testing.T) {
		f := pair(t, "query.offset_paging",
			e.query(t, "SELECT id, date_of_service FROM claims WHERE patient_id = $1 ORDER BY date_of_service DESC, id DESC LIMIT 20 OFFSET 5000"),
			e.query(t, "SELECT id, date_of_service FROM claims WHERE patient_id = $1 ORDER BY date_of_service DESC, id DESC LIMIT 20"))
		if f == nil {
			return
		}
		if f.Severity != finding.Medium {
			t.Errorf("OFFSET 5000 should be medium: %s", f.Severity)
		}
		i := strings.Index(f.Detail, "Keyset version")
		if i < 0 || !strings.Contains(f.Detail, "(date_of_service, id) < ($4, $5)") || strings.Contains(f.Detail[i:], "OFFSET") {
			t.Fatalf("keyset rewrite: %s", f.Detail)
		}
		rewritten := f.Detail[i+strings.Index(f.Detail[i:], "SELECT"):]
		if _, err := sqlparse.NewParser(nil, 0).Parse(rewritten); err != nil {
			t.Errorf("the rewrite does not parse: %v", err)
		}
	})
	t.Run("select_star", func(t *testing.T) {
		f := pair(t, "query.select_star",
			e.query(t, "SELECT * FROM patients WHERE id = $1"),
			e.query(t, "SELECT id, mrn FROM patients WHERE id = $1"))
		if f != nil && (!f.PHI || !strings.Contains(f.Detail, "ssn")) {
			t.Errorf("SELECT * on patients should name the identifiers it returns: %s", f.Detail)
		}
	})
	t.Run("unbounded_result", func(t *testing.T) {
		pair(t, "query.unbounded_result",
			e.query(t, "SELECT id FROM claims WHERE status = 'paid'"),
			e.query(t, "SELECT id FROM claims WHERE status = 'paid' LIMIT 50"))
	})
}

func TestAnalyzeRules(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)
	an := queryperf.Options{Analyze: true, AnalyzeTimeout: time.Minute}
	ctx := context.Background()

	t.Run("rows_removed_by_filter", func(t *testing.T) {
		pair(t, "query.rows_removed_by_filter",
			e.query(t, "SELECT * FROM claims WHERE id BETWEEN 1 AND 3000 AND status = 'void'", an),
			e.query(t, "SELECT * FROM claims WHERE id BETWEEN 1 AND 3000", an))
	})
	t.Run("misestimate", func(t *testing.T) {
		f := pair(t, "query.misestimate",
			e.query(t, "SELECT * FROM corr WHERE a = 1 AND b = 1", an),
			e.query(t, "SELECT * FROM corr WHERE a = 1", an))
		if f != nil {
			if v, _ := f.EvidenceValue("factor"); v < 10 {
				t.Errorf("factor %v", v)
			}
		}
	})
	t.Run("plan_spill", func(t *testing.T) {
		if _, err := e.conn.Exec(ctx, "SET work_mem = '64kB'"); err != nil {
			t.Fatal(err)
		}
		fires := e.query(t, "SELECT * FROM claim_lines ORDER BY billed_amount", an)
		twin := e.query(t, "SELECT * FROM claim_lines ORDER BY billed_amount LIMIT 10", an)
		if _, err := e.conn.Exec(ctx, "RESET work_mem"); err != nil {
			t.Fatal(err)
		}
		pair(t, "query.plan_spill", fires, twin)
	})
	t.Run("jit_overhead", func(t *testing.T) {
		if _, err := e.conn.Exec(ctx, "SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0"); err != nil {
			t.Fatal(err)
		}
		fires := e.query(t, "SELECT count(*) FROM payers WHERE id > 3", an)
		if _, err := e.conn.Exec(ctx, "SET jit = off"); err != nil {
			t.Fatal(err)
		}
		twin := e.query(t, "SELECT count(*) FROM payers WHERE id > 3", an)
		if _, err := e.conn.Exec(ctx, "RESET jit; RESET jit_above_cost; RESET jit_inline_above_cost; RESET jit_optimize_above_cost"); err != nil {
			t.Fatal(err)
		}
		pair(t, "query.jit_overhead", fires, twin)
	})
	t.Run("writes need --allow-writes", func(t *testing.T) {
		_, err := e.analyzer(t, an).AnalyzeQuery(ctx, "DELETE FROM audit_logs WHERE id = 1")
		if _, ok := err.(*queryperf.WriteRefusedError); !ok {
			t.Fatalf("want WriteRefusedError, got %v", err)
		}
	})
}

func TestStatisticsRules(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)
	e.snap.Workload.TotalCalls = 100000
	stat := func(sql string, in workload.Input) workload.Input {
		in.Text, in.HasStats, in.Source = sql, true, "pg_stat_statements"
		return in
	}
	one := func(in workload.Input) *queryperf.StatementResult {
		res := e.inputs(t, in)
		if len(res.Statements) != 1 {
			t.Fatalf("%d statements", len(res.Statements))
		}
		return res.Statements[0]
	}
	lookup := "SELECT id, plan_id FROM patients WHERE primary_provider_id = $1"
	t.Run("n_plus_one", func(t *testing.T) {
		f := pair(t, "query.n_plus_one",
			one(stat(lookup, workload.Input{Calls: 50000, Rows: 40000, TotalMs: 2000, MeanMs: 0.04})),
			one(stat(lookup, workload.Input{Calls: 50, Rows: 40, TotalMs: 2, MeanMs: 0.04})))
		if f != nil && !strings.Contains(f.Detail, "primary_provider_id = ANY($1)") {
			t.Errorf("batched rewrite missing: %s", f.Detail)
		}
	})
	t.Run("planning_dominates", func(t *testing.T) {
		pair(t, "query.planning_dominates",
			one(stat(lookup, workload.Input{Calls: 100, TotalMs: 100, MeanMs: 1, TotalPlanMs: 500})),
			one(stat(lookup, workload.Input{Calls: 100, TotalMs: 100, MeanMs: 1, TotalPlanMs: 20})))
	})
	t.Run("jit_from_statistics", func(t *testing.T) {
		pair(t, "query.jit_overhead",
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10, JITFunctions: 20, JITTimeMs: 60})),
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10, JITFunctions: 20, JITTimeMs: 2})))
	})
	t.Run("temp_blocks", func(t *testing.T) {
		pair(t, "query.temp_blocks",
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10, TempWritten: 5000})),
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10})))
	})
	t.Run("low_cache_hit", func(t *testing.T) {
		pair(t, "query.low_cache_hit",
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10, SharedHit: 100, SharedRead: 5000})),
			one(stat(lookup, workload.Input{Calls: 10, TotalMs: 100, MeanMs: 10, SharedHit: 100000, SharedRead: 50})))
	})
	t.Run("slow", func(t *testing.T) {
		f := pair(t, "query.slow",
			one(stat("SELECT id FROM patients WHERE mrn = $1", workload.Input{Calls: 10, TotalMs: 8000, MeanMs: 800, MaxMs: 5000})),
			one(stat("SELECT id FROM patients WHERE mrn = $1", workload.Input{Calls: 10, TotalMs: 80, MeanMs: 8, MaxMs: 50})))
		if f != nil && f.Severity != finding.High {
			t.Errorf("a patient look-up over the 2 s target should be high: %s", f.Severity)
		}
	})
	t.Run("unbounded_from_statistics", func(t *testing.T) {
		pair(t, "query.unbounded_result",
			one(stat("SELECT id FROM claims WHERE provider_id = $1", workload.Input{Calls: 10, Rows: 50000, TotalMs: 10, MeanMs: 1})),
			one(stat("SELECT id FROM claims WHERE provider_id = $1", workload.Input{Calls: 10, Rows: 50, TotalMs: 10, MeanMs: 1})))
	})
}

func TestHIPAARules(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)
	t.Run("broad_phi_read", func(t *testing.T) {
		pair(t, "hipaa.broad_phi_read",
			e.query(t, "SELECT id, first_name, last_name, date_of_birth FROM patients"),
			e.query(t, "SELECT id, first_name, last_name, date_of_birth FROM patients WHERE mrn = $1"))
		pair(t, "hipaa.broad_phi_read",
			e.query(t, "SELECT p.mrn, c.claim_number FROM claims c JOIN patients p ON p.id = c.patient_id"),
			e.query(t, "SELECT p.mrn, c.claim_number FROM claims c JOIN patients p ON p.id = c.patient_id WHERE c.provider_id = $1"))
	})
	t.Run("phi_in_reporting", func(t *testing.T) {
		pair(t, "hipaa.phi_in_reporting",
			e.query(t, "SELECT p.last_name, count(*) FROM claims c JOIN patients p ON p.id = c.patient_id GROUP BY p.last_name"),
			e.query(t, "SELECT p.state, count(*) FROM claims c JOIN patients p ON p.id = c.patient_id GROUP BY p.state"))
	})
	t.Run("literals_in_sql", func(t *testing.T) {
		var mrn string
		if err := e.conn.QueryRow(context.Background(), "SELECT mrn FROM patients ORDER BY id LIMIT 1").Scan(&mrn); err != nil {
			t.Fatal(err)
		}
		fires := e.query(t, "SELECT id FROM patients WHERE mrn = '"+mrn+"'")
		f := pair(t, "hipaa.literals_in_sql", fires, e.query(t, "SELECT id FROM patients WHERE mrn = $1"))
		if f != nil && (f.Severity != finding.High || !f.PHI) {
			t.Errorf("an MRN literal should be high: %s", f.Severity)
		}
		// A constant on a low-cardinality column is part of the query, not a value.
		if g := has(e.query(t, "SELECT id FROM claims WHERE status = 'pended' LIMIT 50").Findings, "hipaa.literals_in_sql"); g != nil {
			t.Errorf("status = 'pended' reported as a literal value: %s", g.Title)
		}
		// The value itself never appears in the result.
		raw, _ := json.Marshal(fires)
		if strings.Contains(string(raw), mrn) || strings.Contains(fires.Query, mrn) {
			t.Fatalf("the MRN %s leaked into the analysis", mrn)
		}
	})
	t.Run("phi_join_unrestricted", func(t *testing.T) {
		pair(t, "hipaa.phi_join_unrestricted",
			e.query(t, "SELECT p.mrn, a.scheduled_date_time FROM appointments a JOIN patients p ON p.id = a.patient_id"),
			e.query(t, "SELECT p.mrn, a.scheduled_date_time FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.provider_id = $1"))
	})
}

// Every statement the demo workload produces gets a plan; statements that cannot be
// planned are reported, ungraded, without failing the run.
func TestWorkloadStatementsAllPlan(t *testing.T) {
	db := seeded(t)
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	pool := db.Pool(t)
	if _, err := synth.RunWorkload(context.Background(), pool, synth.WorkloadOptions{Duration: 3 * time.Second, Clients: 2, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	e := setup(t, db, false)
	inputs := workload.FromSnapshot(e.snap)
	var total float64
	for _, in := range inputs {
		total += in.TotalMs
	}
	inputs = append(inputs,
		workload.Input{Text: "SELECT * FROM patients WHERE $1 IS NULL", Source: "file"},
		workload.Input{Text: "SELEC broken", Source: "file"},
		// A costly statement whose text pg_stat_statements hides from this role, and one
		// that reads a session's temporary function.
		workload.Input{Text: "<insufficient privilege>", QueryID: 77, Calls: 10, TotalMs: total / 4, HasStats: true, Source: "hidden"},
		workload.Input{Text: "SELECT * FROM pg_temp.report_fn($1)", Calls: 10, TotalMs: total / 4, HasStats: true, Source: "temporary"})
	res := e.inputs(t, inputs...)
	// The parameter no context types is planned as text; the broken text, the hidden
	// one and the temporary function are reported, with no grade, and count against
	// the coverage.
	if res.Stats.NotPlanned != 3 || res.Coverage.NotPlanned != 3 || len(res.Coverage.Left) != 3 || res.Coverage.PlannedPct > 70 {
		t.Errorf("not planned %d, coverage %+v", res.Stats.NotPlanned, res.Coverage)
	}
	var costly, hidden bool
	for _, f := range res.Findings {
		costly = costly || f.Check == "query.not_planned" && f.Status == finding.Open && strings.Contains(f.Title, "temporary object")
		hidden = hidden || f.Check == "query.not_planned" && f.Status == finding.Unknown && strings.Contains(f.Recommendation, "pg_read_all_stats")
	}
	if !costly || !hidden {
		t.Errorf("want a finding for the costly unplanned statement (%v) and an unknown for the hidden one (%v): %v", costly, hidden, checks(res.Findings))
	}
	for _, s := range res.Statements {
		if s.NotPlanned != "" && (s.Grade != "" || s.Score != nil) {
			t.Errorf("an unplanned statement was graded: %s %s", s.Query, s.Grade)
		}
		if strings.Contains(s.Query, "IS NULL") && s.Plan == nil {
			t.Errorf("$1 IS NULL not planned: %s", s.NotPlanned)
		}
	}
	workloadOps := 0
	for _, s := range res.Statements {
		if s.Source != "pg_stat_statements" || s.Kind == "utility" {
			continue
		}
		workloadOps++
		if s.Plan == nil {
			t.Errorf("workload statement not planned: %s (%s)", s.Query, s.NotPlanned)
			continue
		}
		if s.Grade == "" || s.Score == nil || *s.Score < 0 || *s.Score > 100 {
			t.Errorf("grade %q score %v", s.Grade, s.Score)
		}
	}
	if workloadOps < 12 {
		t.Errorf("only %d workload statements", workloadOps)
	}
	// Ranked by total time, with per-measure ranks.
	for i := 1; i < len(res.Statements); i++ {
		if res.Statements[i].TotalMs > res.Statements[i-1].TotalMs {
			t.Fatal("statements are not ordered by total time")
		}
	}
	if res.Statements[0].Ranks["total_time"] != 1 {
		t.Errorf("ranks: %v", res.Statements[0].Ranks)
	}
	// The slow claim-history scan on a table without indexes grades badly.
	worst := "A"
	for _, s := range res.Statements {
		if strings.Contains(s.Query, "FROM claims WHERE patient_id") && s.Grade > worst {
			worst = s.Grade
		}
	}
	if worst < "C" {
		t.Errorf("the claim history statement (seq scan on claims) grades %s", worst)
	}
}
