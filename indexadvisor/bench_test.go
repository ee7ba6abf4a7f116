package indexadvisor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

// expertSet is the index set a database engineer would write by hand for the demo
// workload: one index per access path the operations use, and the foreign-key index
// the claim_lines join needs (pgmedic check flags it as schema.fk_without_index).
var expertSet = []string{
	"CREATE INDEX expert_patients_mrn ON patients (mrn)",
	"CREATE INDEX expert_patients_name_dob ON patients (lower(last_name), date_of_birth)",
	"CREATE INDEX expert_claims_patient_dos ON claims (patient_id, date_of_service DESC, id DESC)",
	"CREATE INDEX expert_claims_provider_dos ON claims (provider_id, date_of_service)",
	"CREATE INDEX expert_claims_pended ON claims (received_at) WHERE status = 'pended'",
	"CREATE INDEX expert_claims_dos ON claims (date_of_service)",
	"CREATE INDEX expert_claim_lines_claim ON claim_lines (claim_id)",
	"CREATE INDEX expert_appointments_provider_time ON appointments (provider_id, scheduled_date_time)",
	"CREATE INDEX expert_appointments_patient_time ON appointments (patient_id, scheduled_date_time)",
	"CREATE INDEX expert_availabilities_provider_day ON availabilities (provider_id, day_of_week)",
	"CREATE INDEX expert_payments_pending ON payments (payer_id, created_at) WHERE status = 'Pending'",
	"CREATE INDEX expert_users_email ON users (email)",
}

type setResult struct {
	name      string
	indexes   int
	bytes     int64
	opsPerSec float64
	p95       float64
}

// BenchmarkIndexSets runs the demo workload on the demo dataset with no secondary
// indexes, with pg_qualstats' own advisor's set, with the hand-written expert set, and
// with pgmedic's set, in one run on one server, and reports throughput, p95 latency,
// index count and size for each, and pgmedic's throughput as a share of the expert's.
// PGMEDIC_BENCH_SCALE (default 0.2) and PGMEDIC_BENCH_DURATION (default 15s) tune it.
//
//	go test -run '^$' -bench IndexSets -benchtime 1x -timeout 30m ./indexadvisor/
func BenchmarkIndexSets(b *testing.B) {
	scale, duration := 0.2, 15*time.Second
	if s := os.Getenv("PGMEDIC_BENCH_SCALE"); s != "" {
		scale, _ = strconv.ParseFloat(s, 64)
	}
	if d := os.Getenv("PGMEDIC_BENCH_DURATION"); d != "" {
		duration, _ = time.ParseDuration(d)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		db := pg.NewDB(b)
		pool := db.Pool(b)
		if _, err := synth.Load(ctx, pool, synth.LoadOptions{Options: synth.Options{Scale: scale, Seed: 1}}); err != nil {
			b.Fatal(err)
		}
		db.Exec(b, "SELECT pg_stat_statements_reset(); SELECT pg_qualstats_reset()")
		work := func(seed uint64) *synth.WorkloadResult {
			wp, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true, ApplicationName: "pgmedic-workload"})
			if err != nil {
				b.Fatal(err)
			}
			defer wp.Close()
			res, err := synth.RunWorkload(ctx, wp, synth.WorkloadOptions{Duration: duration, Clients: 4, Seed: seed})
			if err != nil {
				b.Fatal(err)
			}
			if res.Errors > 0 {
				b.Fatalf("%d workload errors", res.Errors)
			}
			return res
		}
		none := work(1)
		results := []setResult{{name: "no secondary indexes", opsPerSec: none.OpsPerSecond, p95: none.P95Ms}}

		// Both advisors see the same workload: the run above.
		ours := pgmedicSet(b, db.URI)
		var qsJSON string
		if err := pool.QueryRow(ctx, "SELECT pg_qualstats_index_advisor()::text").Scan(&qsJSON); err != nil {
			b.Fatal(err)
		}
		var qs struct {
			Indexes []string `json:"indexes"`
		}
		if err := json.Unmarshal([]byte(qsJSON), &qs); err != nil {
			b.Fatalf("pg_qualstats_index_advisor: %v", err)
		}
		sets := []struct {
			name string
			ddl  []string
		}{
			{"pg_qualstats_index_advisor()", qs.Indexes},
			{"expert (hand-written)", expertSet},
			{"pgmedic index advise", ours},
		}
		for _, set := range sets {
			names := createSet(b, pool, set.ddl)
			var bytes int64
			if err := pool.QueryRow(ctx, "SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::int8 FROM pg_class c WHERE c.relname = ANY($1)", names).Scan(&bytes); err != nil {
				b.Fatal(err)
			}
			res := work(1)
			results = append(results, setResult{set.name, len(names), bytes, res.OpsPerSecond, res.P95Ms})
			for _, n := range names {
				if _, err := pool.Exec(ctx, "DROP INDEX IF EXISTS "+quote(n)); err != nil {
					b.Fatal(err)
				}
			}
		}
		expert, pgm, qsr := results[2], results[3], results[1]
		var table strings.Builder
		fmt.Fprintf(&table, "\n%-30s %8s %10s %12s %9s\n", "index set", "indexes", "size", "ops/s", "p95 ms")
		for _, r := range results {
			fmt.Fprintf(&table, "%-30s %8d %9.1fM %12.0f %9.2f\n", r.name, r.indexes, float64(r.bytes)/(1<<20), r.opsPerSec, r.p95)
		}
		fmt.Fprintf(&table, "pgmedic / expert throughput: %.2f; pgmedic / qualstats: %.2f; indexes %d vs expert %d",
			pgm.opsPerSec/expert.opsPerSec, pgm.opsPerSec/qsr.opsPerSec, pgm.indexes, expert.indexes)
		fmt.Fprintf(&table, "\npgmedic's set:\n  %s", strings.Join(ours, ";\n  "))
		b.Log(table.String())
		b.ReportMetric(pgm.opsPerSec/expert.opsPerSec, "pgmedic/expert")
		b.ReportMetric(pgm.opsPerSec/qsr.opsPerSec, "pgmedic/qualstats")
		b.ReportMetric(float64(pgm.indexes), "pgmedic-indexes")
		b.ReportMetric(float64(expert.indexes), "expert-indexes")
	}
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// pgmedicSet runs the advisor on the workload pg_stat_statements recorded.
func pgmedicSet(b *testing.B, uri string) []string {
	ctx := context.Background()
	a := newAdvisor(b, uri, nil, indexadvisor.Options{})
	adv, err := a.Advise(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var ddl []string
	for _, r := range adv.Recommendations {
		ddl = append(ddl, strings.Replace(r.SQL, "CONCURRENTLY IF NOT EXISTS ", "", 1))
	}
	return ddl
}

// createSet builds an index set and returns the names of the indexes it created.
func createSet(b *testing.B, pool *pgxpool.Pool, ddl []string) []string {
	ctx := context.Background()
	var before []string
	rows, _ := pool.Query(ctx, "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace")
	for rows.Next() {
		var n string
		rows.Scan(&n)
		before = append(before, n)
	}
	rows.Close()
	for _, d := range ddl {
		if _, err := pool.Exec(ctx, "SET maintenance_work_mem = '256MB'; "+d); err != nil {
			b.Fatalf("%s: %v", d, err)
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var names []string
	rows, _ = pool.Query(ctx, "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace AND NOT (relname = ANY($1))", before)
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	return names
}

// BenchmarkAdvise1000 advises on a workload of 1,000 distinct statements over the demo
// schema and reports the seconds it took, the plans it made, and its time as a
// multiple of one bare generic EXPLAIN per statement on the same server (the floor any
// plan-based advisor pays before it has evaluated a single candidate).
//
//	go test -run '^$' -bench Advise1000 -benchtime 1x ./indexadvisor/
func BenchmarkAdvise1000(b *testing.B) {
	b.StopTimer()
	ctx := context.Background()
	db := pg.NewDB(b)
	if _, err := synth.Load(ctx, db.Pool(b), synth.LoadOptions{Options: synth.Options{Scale: 0.1, Seed: 3}}); err != nil {
		b.Fatal(err)
	}
	texts := synth.DistinctStatements(1000)
	var inputs []workload.Input
	for i, sql := range texts {
		// Uneven weights, as a real workload has: a few statements carry most calls.
		calls := int64(1 + 1000/(1+i%50))
		inputs = append(inputs, workload.Input{Text: sql, Calls: calls, TotalMs: float64(calls) * 2, MeanMs: 2, HasStats: true, Source: "bench"})
	}
	conn, err := pgconn.Connect(ctx, db.URI, pgconn.Policy{StatementTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	snap, err := snapshot.Collect(ctx, conn, snapshot.Options{Local: true})
	if err != nil {
		b.Fatal(err)
	}
	p, err := explain.New(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := config.Defaults(config.Production)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for _, sql := range texts {
			if _, err := p.PlanSQL(ctx, sql); err != nil {
				b.Fatalf("baseline EXPLAIN of %q: %v", sql, err)
			}
		}
		bare := time.Since(t0)

		a, err := indexadvisor.New(cfg, snap, indexadvisor.Options{Planner: p})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t1 := time.Now()
		adv, err := a.Advise(ctx, inputs)
		took := time.Since(t1)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if adv.Stats.Planned != 1000 || len(adv.Recommendations) == 0 {
			b.Fatalf("planned %d of 1000 statements, %d recommendations, skipped %v", adv.Stats.Planned, len(adv.Recommendations), adv.Skipped)
		}
		b.ReportMetric(took.Seconds(), "seconds")
		b.ReportMetric(float64(adv.Stats.Evaluations), "plans")
		b.ReportMetric(took.Seconds()/bare.Seconds(), "x-bare-explain")
		b.Logf("1000 statements: advice in %.1fs (%d candidates, %d plans, %d recommendations, %d drops); bare generic EXPLAIN of each %.2fs; ratio %.1f",
			took.Seconds(), adv.Stats.Candidates, adv.Stats.Evaluations, len(adv.Recommendations), len(adv.Drops), bare.Seconds(), took.Seconds()/bare.Seconds())
		b.Logf("workload cost %.1f -> %.1f (-%.1f%%); coverage %.1f%% of the time", adv.Stats.BaselineCost, adv.Stats.FinalCost, adv.Stats.ImprovementPct, adv.Coverage.PlannedPct)
	}
}
