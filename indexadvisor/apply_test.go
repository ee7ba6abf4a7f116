package indexadvisor_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

func applier(t *testing.T, db *pgtest.DB, opts indexadvisor.ApplyOptions) *indexadvisor.Applier {
	t.Helper()
	ctx := context.Background()
	open := func(write bool) *pgx.Conn {
		c, err := pgconn.Connect(ctx, db.URI, pgconn.Policy{Write: write})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	conn, watch, pc := open(true), open(false), open(false)
	p, err := explain.New(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	return indexadvisor.NewApplier(conn, watch, p, opts)
}

func indexValid(t *testing.T, db *pgtest.DB, name string) (exists, valid bool) {
	t.Helper()
	n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = $1", name)
	if n == 0 {
		return false, false
	}
	return true, db.QueryInt64(t, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1 AND i.indisvalid", name) == 1
}

func TestAdviseThenApply(t *testing.T) {
	db := fixtureDB(t)
	db.Exec(t, "CREATE INDEX visits_email_a ON visits (email); CREATE INDEX visits_email_b ON visits (email)")
	adv := advise(t, db, nil,
		"SELECT id FROM visits WHERE provider_id = $1 AND visit_date >= $2 AND visit_date < $3",
		"SELECT * FROM claims_p WHERE patient_id = $1",
		"SELECT id FROM visits WHERE status = 'pending' ORDER BY visit_date LIMIT 20")
	if len(adv.Recommendations) < 3 {
		t.Fatalf("recommendations: %v", describe(adv))
	}
	// The JSON contract, and a round trip through ReadAdvice.
	raw, err := json.Marshal(adv)
	if err != nil {
		t.Fatal(err)
	}
	var generic struct {
		Recommendations []map[string]any `json:"recommendations"`
		Drops           []map[string]any `json:"drops"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"table", "columns", "include", "where", "method", "sql", "estimated_size_bytes", "cost_before", "cost_after", "improvement_pct", "statements"} {
		if _, ok := generic.Recommendations[0][key]; !ok {
			t.Errorf("recommendation JSON lacks %q", key)
		}
	}
	for _, key := range []string{"index", "reason", "sql"} {
		if len(generic.Drops) == 0 {
			t.Fatal("no drops in the advice")
		}
		if _, ok := generic.Drops[0][key]; !ok {
			t.Errorf("drop JSON lacks %q", key)
		}
	}
	back, err := indexadvisor.ReadAdvice(raw)
	if err != nil {
		t.Fatal(err)
	}

	var progress []string
	res, err := applier(t, db, indexadvisor.ApplyOptions{Progress: func(m string) { progress = append(progress, m) }}).Apply(context.Background(), back)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 {
		t.Fatalf("failed steps: %+v", res.Steps)
	}
	for _, r := range adv.Recommendations {
		if ex, ok := indexValid(t, db, r.Name); !ex || !ok {
			t.Errorf("%s: exists %v valid %v", r.Name, ex, ok)
		}
	}
	for _, s := range res.Steps {
		if strings.HasPrefix(s.SQL, "CREATE") && (s.Status != "done" || s.Targets == 0 || s.Confirmed != s.Targets) {
			t.Errorf("build step %+v: every target statement should now use the index", s)
		}
	}
	if _, ok := indexValid(t, db, "visits_email_b"); ok {
		t.Error("the duplicate index was not dropped")
	}
	// Every build and drop is a finished row of pgmedic.actions (a partitioned table's
	// build is several: a build per partition, the parent's index, the attachments).
	for _, s := range res.Steps {
		object := strings.TrimPrefix(s.Object, "public.visits.")
		object = strings.TrimPrefix(strings.TrimPrefix(object, "public.claims_p."), "public.")
		if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE status = 'done' AND actor = 'postgres' AND finished_at IS NOT NULL AND object LIKE '%' || $1", object); n == 0 {
			t.Errorf("pgmedic.actions has no finished row for %s", s.Object)
		}
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE status = 'running' OR finished_at IS NULL"); n != 0 {
		t.Errorf("%d actions left running", n)
	}
	// The partitioned table's index was built per partition and attached.
	if n := db.QueryInt64(t, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname LIKE 'claims_p_patient_id%' AND c.relkind = 'i'`); n != 3 {
		t.Errorf("%d partition indexes attached to the parent index, want 3", n)
	}
	// Running it again resumes: nothing to redo.
	res2, err := applier(t, db, indexadvisor.ApplyOptions{}).Apply(context.Background(), back)
	if err != nil || res2.Failed != 0 {
		t.Fatalf("second run: %v %+v", err, res2)
	}
	for _, s := range res2.Steps {
		if strings.HasPrefix(s.SQL, "CREATE") && s.Status != "skipped" {
			t.Errorf("second run rebuilt %s (%s)", s.Object, s.Status)
		}
	}
	if len(progress) == 0 {
		t.Error("no progress was reported")
	}
}

func TestApplyRetriesLockTimeoutsAndCleansUpFailures(t *testing.T) {
	db := fixtureDB(t)
	ctx := context.Background()
	rec := indexadvisor.Recommendation{Table: "public.visits", Name: "visits_patient_id_idx",
		SQL:        `CREATE INDEX CONCURRENTLY IF NOT EXISTS "visits_patient_id_idx" ON "public"."visits" ("patient_id")`,
		Statements: []string{"SELECT * FROM visits WHERE patient_id = $1"}}
	// Another session holds a conflicting lock for a while.
	holder := db.Conn(t)
	if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE visits IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(1500 * time.Millisecond)
		holder.Exec(context.Background(), "ROLLBACK")
	}()
	res, err := applier(t, db, indexadvisor.ApplyOptions{LockTimeout: 300 * time.Millisecond, Retries: 8, Backoff: 200 * time.Millisecond}).
		Apply(ctx, &indexadvisor.Advice{Recommendations: []indexadvisor.Recommendation{rec}})
	if err != nil || res.Failed != 0 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if res.Steps[0].Attempts < 2 {
		t.Errorf("attempts = %d; the lock should have forced a retry", res.Steps[0].Attempts)
	}
	if ex, ok := indexValid(t, db, "visits_patient_id_idx"); !ex || !ok {
		t.Fatal("index not built after the lock was released")
	}

	// A build that fails leaves no invalid index behind, and the run reports it. The
	// advice's drops wait: one may be the index the failed build was to replace.
	bad := indexadvisor.Recommendation{Table: "public.visits", Name: "visits_broken_idx",
		SQL: `CREATE INDEX CONCURRENTLY IF NOT EXISTS "visits_broken_idx" ON "public"."visits" ((1 / (id - id)))`}
	replaced := indexadvisor.Drop{Index: "public.visits_patient_id_idx", Reason: "replaced by visits_broken_idx",
		SQL: `DROP INDEX CONCURRENTLY IF EXISTS "public"."visits_patient_id_idx"`}
	res, err = applier(t, db, indexadvisor.ApplyOptions{}).Apply(ctx, &indexadvisor.Advice{Recommendations: []indexadvisor.Recommendation{bad}, Drops: []indexadvisor.Drop{replaced}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || res.Steps[0].Status != "failed" || !strings.Contains(res.Steps[0].Detail, "SQLSTATE 22012") {
		t.Fatalf("failed build: %+v", res.Steps)
	}
	if res.Steps[1].Status != "not run" {
		t.Errorf("the drop ran although the build failed: %+v", res.Steps[1])
	}
	if ex, ok := indexValid(t, db, "visits_patient_id_idx"); !ex || !ok {
		t.Error("the index the failed build was to replace is gone")
	}
	if ex, _ := indexValid(t, db, "visits_broken_idx"); ex {
		t.Error("the failed build's invalid index was left behind")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE object LIKE '%visits_broken_idx' AND status = 'failed'"); n != 1 {
		t.Errorf("the failure was not recorded (%d rows)", n)
	}

	// An invalid leftover from a killed run with the target's name is rebuilt.
	conn := db.Conn(t)
	if _, err := conn.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY "visits_status_idx" ON visits (status)`); err == nil {
		t.Fatal("expected the unique build to fail")
	}
	if ex, ok := indexValid(t, db, "visits_status_idx"); !ex || ok {
		t.Fatalf("setup: want an invalid visits_status_idx, exists %v valid %v", ex, ok)
	}
	resume := indexadvisor.Recommendation{Table: "public.visits", Name: "visits_status_idx",
		SQL: `CREATE INDEX CONCURRENTLY IF NOT EXISTS "visits_status_idx" ON "public"."visits" ("status")`}
	res, err = applier(t, db, indexadvisor.ApplyOptions{}).Apply(ctx, &indexadvisor.Advice{Recommendations: []indexadvisor.Recommendation{resume}})
	if err != nil || res.Failed != 0 {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if ex, ok := indexValid(t, db, "visits_status_idx"); !ex || !ok {
		t.Error("the invalid leftover was not rebuilt")
	}
}

func TestReadAdviceRefusesOtherStatements(t *testing.T) {
	for _, bad := range []string{
		`{"recommendations": [{"name": "x", "sql": "DROP TABLE visits"}]}`,
		`{"recommendations": [{"name": "x", "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS x ON t (a); DROP TABLE t"}]}`,
		`{"drops": [{"index": "x", "sql": "DROP INDEX x"}]}`,
		`not json`,
		// The statement must be about what the entry names: an edited file cannot build
		// or drop something else under a harmless name.
		`{"recommendations": [{"name": "visits_a_idx", "table": "public.visits", "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS other_idx ON public.visits (a)"}]}`,
		`{"recommendations": [{"name": "visits_a_idx", "table": "public.visits", "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS visits_a_idx ON public.patients (a)"}]}`,
		`{"recommendations": [{"name": "visits_a_idx", "table": "public.visits", "sql": "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS visits_a_idx ON public.visits (a)"}]}`,
		`{"drops": [{"index": "public.visits_old_idx", "sql": "DROP INDEX CONCURRENTLY IF EXISTS public.patients_pkey"}]}`,
		`{"drops": [{"index": "public.a_idx", "sql": "DROP INDEX CONCURRENTLY IF EXISTS public.a_idx, public.b_idx"}]}`,
	} {
		if _, err := indexadvisor.ReadAdvice([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	good := `{"recommendations": [{"name": "visits_a_idx", "table": "public.visits", "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"visits_a_idx\" ON \"public\".\"visits\" (\"a\")"}],
		"drops": [{"index": "public.visits_old_idx", "sql": "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"visits_old_idx\""}]}`
	if _, err := indexadvisor.ReadAdvice([]byte(good)); err != nil {
		t.Errorf("refused an advice pgmedic writes: %v", err)
	}
}

// An OR needs one index per branch; the first one built is not used until the second
// exists, so the confirmation comes after all builds.
func TestApplyConfirmsIndexesThatWorkTogether(t *testing.T) {
	db := fixtureDB(t)
	adv := advise(t, db, nil, "SELECT id, visit_date FROM visits WHERE patient_id = $1 OR email = $2")
	if len(adv.Recommendations) != 2 {
		t.Fatalf("want the two branch indexes, got %v", describe(adv))
	}
	res, err := applier(t, db, indexadvisor.ApplyOptions{LockTimeout: 2 * time.Second, Tool: "test"}).Apply(context.Background(), adv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.Status != "done" || s.Targets != 1 || s.Confirmed != 1 {
			t.Errorf("%s: %s, %d of %d confirmed (%s)", s.Object, s.Status, s.Confirmed, s.Targets, s.Detail)
		}
	}

}

// A build's phase comes from pg_stat_progress_create_index while it runs (read every
// few milliseconds here, so that a build of 100,000 rows is seen).
func TestApplyReportsBuildPhases(t *testing.T) {
	db := fixtureDB(t)
	adv := &indexadvisor.Advice{Recommendations: []indexadvisor.Recommendation{{
		Table: "public.visits", Name: "visits_note_amount_idx", Columns: []string{"note", "amount"}, Method: "btree",
		SQL: `CREATE INDEX CONCURRENTLY IF NOT EXISTS "visits_note_amount_idx" ON "public"."visits" ("note", "amount")`,
	}}}
	var phases []string
	res, err := applier(t, db, indexadvisor.ApplyOptions{ProgressEvery: 2 * time.Millisecond, Progress: func(m string) {
		if strings.HasPrefix(m, "public.visits_note_amount_idx: ") {
			phases = append(phases, m)
		}
	}}).Apply(context.Background(), adv)
	if err != nil || res.Failed != 0 {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if len(phases) == 0 {
		t.Fatal("no phase of the build was reported")
	}
	for _, p := range phases {
		if !strings.Contains(p, "building index") && !strings.Contains(p, "waiting") && !strings.Contains(p, "index validation") && !strings.Contains(p, "initializing") {
			t.Errorf("not a CREATE INDEX phase: %q", p)
		}
	}
}

// A build that fails on a row's value (an edited advice casting a text column) does
// not repeat the value in its report or in pgmedic.actions.
func TestApplyFailureQuotesNoRowValue(t *testing.T) {
	db := fixtureDB(t) // visits.note holds md5 hashes: 32 hex digits
	cast := indexadvisor.Recommendation{Table: "public.visits", Name: "visits_note_int_idx",
		SQL: `CREATE INDEX CONCURRENTLY IF NOT EXISTS "visits_note_int_idx" ON "public"."visits" ((note::int))`}
	res, err := applier(t, db, indexadvisor.ApplyOptions{}).Apply(context.Background(), &indexadvisor.Advice{Recommendations: []indexadvisor.Recommendation{cast}})
	if err != nil || res.Failed != 1 {
		t.Fatalf("want one failed build: %v %+v", err, res)
	}
	if regexp.MustCompile(`[0-9a-f]{32}`).MatchString(res.Steps[0].Detail) || !strings.Contains(res.Steps[0].Detail, "SQLSTATE 22P02") {
		t.Errorf("failure detail %q", res.Steps[0].Detail)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE detail ~ '[0-9a-f]{32}'"); n != 0 {
		t.Errorf("pgmedic.actions holds the row's value")
	}
}
