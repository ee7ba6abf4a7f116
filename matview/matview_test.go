package matview

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/snapshot"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.05", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.05, Seed: 2})
	})
}

// rows returns a statement's result as text, row by row, in order.
func rows(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rs, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(fmt.Sprint(normal(vals))))
	}
	return out
}

// normal prints numbers by value, so a bigint sum and a numeric one compare equal.
func normal(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			out[i] = "NULL"
		case int64:
			out[i] = fmt.Sprintf("%.4f", float64(x))
		case int32:
			out[i] = fmt.Sprintf("%.4f", float64(x))
		case float64:
			out[i] = fmt.Sprintf("%.4f", x)
		case pgtype.Numeric:
			f, _ := x.Float64Value()
			out[i] = fmt.Sprintf("%.4f", f.Float64)
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// The views' answers equal the statements' own on the synthetic dataset, for several
// parameter values: the rewrite is exact, not approximate.
func TestRewriteGivesTheSameRows(t *testing.T) {
	db := seeded(t)
	conn := db.Conn(t)
	ctx := context.Background()
	cases := []struct {
		sql  string
		args [][]any
	}{
		{`SELECT cl.icd10_code, count(*) AS lines, sum(cl.billed_amount) AS billed, sum(cl.paid_amount) AS paid
		  FROM claim_lines cl JOIN claims c ON c.id = cl.claim_id
		  WHERE c.date_of_service >= $1 AND c.date_of_service < $2
		  GROUP BY cl.icd10_code ORDER BY billed DESC, cl.icd10_code LIMIT 25`,
			[][]any{{"2024-01-01", "2024-02-01"}, {"2023-06-15", "2024-06-15"}}},
		{`SELECT provider_id, COUNT(*) AS total_appointments, SUM(CASE WHEN status = 'NoShow' THEN 1 ELSE 0 END) AS no_shows
		  FROM appointments GROUP BY provider_id ORDER BY provider_id`, [][]any{{}}},
		{`SELECT status, avg(billed_amount), count(*), min(date_of_service), max(paid_amount) FROM claims
		  WHERE provider_id = $1 AND status <> 'denied' GROUP BY status ORDER BY status`, [][]any{{int32(3)}, {int32(17)}}},
	}
	for i, c := range cases {
		d, err := Plan(c.sql)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		view := fmt.Sprintf("mv_test_%d", i)
		if _, err := conn.Exec(ctx, "CREATE MATERIALIZED VIEW "+view+" AS "+d.Select); err != nil {
			t.Fatalf("case %d: view: %v\n%s", i, err, d.Select)
		}
		rewritten := strings.ReplaceAll(d.Rewritten, ViewName, view)
		for _, args := range c.args {
			want, got := rows(t, conn, c.sql, args...), rows(t, conn, rewritten, args...)
			if len(want) == 0 || !reflect.DeepEqual(want, got) {
				t.Errorf("case %d %v: %d rows from the statement, %d from the view; first %v vs %v\n%s", i, args, len(want), len(got), first(want), first(got), rewritten)
			}
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Advise proposes a view for the heavy aggregate, skips what no view serves, and the plan
// it makes builds the view and the index that lets refreshes run concurrently; a refresh
// is recorded and shows in the staleness report.
func TestAdviseCreateRefresh(t *testing.T) {
	db := seeded(t)
	db.Exec(t, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	conn := db.Conn(t)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		rows(t, conn, `SELECT provider_id, count(*) AS n, sum(billed_amount) FROM claims WHERE status = $1 GROUP BY provider_id`, "paid")
		rows(t, conn, `SELECT count(DISTINCT patient_id) FROM claims WHERE provider_id = $1`, int32(i%7+1))
	}
	snap, err := snapshot.Collect(ctx, conn, snapshot.Options{MaxStatements: 200})
	if err != nil {
		t.Fatal(err)
	}
	adv, err := Advise(ctx, conn, snap, Options{MinCalls: 10, MinTotalMs: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	if len(adv.Proposals) != 1 || !strings.Contains(adv.Proposals[0].Rewritten, "WHERE status = $1") {
		t.Fatalf("proposals %+v", adv.Proposals)
	}
	skippedDistinct := false
	for _, s := range adv.Skipped {
		skippedDistinct = skippedDistinct || strings.Contains(s.Reason, "DISTINCT")
	}
	if !skippedDistinct {
		t.Errorf("count(DISTINCT) not reported as skipped: %+v", adv.Skipped)
	}
	p := adv.Proposals[0]
	res, err := change.New(db.Conn(t), change.Options{Tool: "matview test"}).Run(ctx, CreatePlan(adv))
	if err != nil || res.Failed > 0 {
		t.Fatalf("create: %v %+v", err, res)
	}
	if got, want := rows(t, conn, p.Rewritten, "paid"), rows(t, conn,
		`SELECT provider_id, count(*) AS n, sum(billed_amount) FROM claims WHERE status = $1 GROUP BY provider_id ORDER BY 1`, "paid"); len(want) == 0 || !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Errorf("rewritten statement: %d rows, want %d", len(got), len(want))
	}
	views, err := Views(ctx, conn)
	if err != nil || len(views) != 1 || !views[0].Concurrent || views[0].LastRefresh != nil {
		t.Fatalf("views before refresh: %+v %v", views, err)
	}
	db.Exec(t, "UPDATE claims SET status = 'paid' WHERE id IN (SELECT id FROM claims WHERE status <> 'paid' LIMIT 50)")
	plan, notes := RefreshPlan(views, RefreshOptions{OlderThan: time.Hour})
	if len(plan.Steps) != 1 || len(notes) != 0 || !strings.Contains(plan.Steps[0].SQL, "CONCURRENTLY") {
		t.Fatalf("refresh plan %+v %v", plan.Steps, notes)
	}
	if res, err := change.New(db.Conn(t), change.Options{Tool: "matview test"}).Run(ctx, plan); err != nil || res.Done != 1 {
		t.Fatalf("refresh: %v %+v", err, res)
	}
	if got, want := rows(t, conn, p.Rewritten, "paid"), rows(t, conn,
		`SELECT provider_id, count(*) AS n, sum(billed_amount) FROM claims WHERE status = $1 GROUP BY provider_id ORDER BY 1`, "paid"); !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Errorf("after the refresh the view disagrees with the table")
	}
	views, _ = Views(ctx, conn)
	if views[0].LastRefresh == nil || views[0].AgeSeconds > 60 {
		t.Errorf("staleness after refresh: %+v", views[0])
	}
	// Refreshed within the hour: a second run skips it.
	if res, _ := change.New(db.Conn(t), change.Options{Tool: "matview test"}).Run(ctx, plan); res.Skipped != 1 {
		t.Errorf("second refresh within --older-than: %+v", res)
	}
}

// A concurrent refresh lets readers in; a plain one locks them out. The refresh is held
// open in a transaction while a reader with a short lock timeout reads the view.
func TestConcurrentRefreshDoesNotBlockReaders(t *testing.T) {
	db := seeded(t)
	ctx := context.Background()
	db.Exec(t, `CREATE MATERIALIZED VIEW appt_stats AS SELECT provider_id, count(*) AS total,
	    sum(CASE WHEN status = 'NoShow' THEN 1 ELSE 0 END) AS no_shows FROM appointments GROUP BY provider_id;
	    CREATE UNIQUE INDEX ON appt_stats (provider_id)`)
	for _, c := range []struct {
		sql     string
		blocked bool
	}{{"REFRESH MATERIALIZED VIEW CONCURRENTLY appt_stats", false}, {"REFRESH MATERIALIZED VIEW appt_stats", true}} {
		writer := db.Conn(t)
		tx, err := writer.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, c.sql); err != nil {
			t.Fatal(err)
		}
		reader := db.Conn(t)
		var n int64
		_, _ = reader.Exec(ctx, "SET lock_timeout = '500ms'")
		err = reader.QueryRow(ctx, "SELECT count(*) FROM appt_stats").Scan(&n)
		if blocked := err != nil; blocked != c.blocked || (!blocked && n == 0) {
			t.Errorf("%s: reader blocked %v (%v), want %v", c.sql, blocked, err, c.blocked)
		}
		_ = tx.Rollback(ctx)
	}
}

// BenchmarkReportQuery measures the seed's appointment statistics from the base table
// and from the view pgmedic designs, in the same run; the ratio is the speed-up.
func BenchmarkReportQuery(b *testing.B) {
	db := pg.NewDBFromTemplate(b, "synth-0.2", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.2, Seed: 2})
	})
	ctx := context.Background()
	conn := db.Conn(b)
	report := `SELECT provider_id, count(*) AS total_appointments, avg(duration) AS mean_minutes, max(scheduled_date_time) AS last_seen
	    FROM appointments WHERE status = $1 GROUP BY provider_id ORDER BY total_appointments DESC LIMIT 20`
	d, err := Plan(report)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE MATERIALIZED VIEW bench_mv AS "+d.Select); err != nil {
		b.Fatal(err)
	}
	rewritten := strings.ReplaceAll(d.Rewritten, ViewName, "bench_mv")
	timeOf := func(sql string) time.Duration {
		start := time.Now()
		for i := 0; i < 20; i++ {
			rs, err := conn.Query(ctx, sql, "Completed")
			if err != nil {
				b.Fatal(err)
			}
			rs.Close()
		}
		return time.Since(start)
	}
	timeOf(report) // warm the cache for both
	var base, view time.Duration
	for i := 0; i < b.N; i++ {
		base += timeOf(report)
		view += timeOf(rewritten)
	}
	b.ReportMetric(float64(base.Microseconds())/float64(20*b.N)/1000, "base_ms/query")
	b.ReportMetric(float64(view.Microseconds())/float64(20*b.N)/1000, "view_ms/query")
	b.ReportMetric(float64(base)/float64(view), "speedup")
}
