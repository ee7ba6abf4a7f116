package queryperf_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/workload"
)

// distinctStatements turns synth's distinct statements into analyzer inputs.
func distinctStatements(n int) []workload.Input {
	var out []workload.Input
	for i, sql := range synth.DistinctStatements(n) {
		out = append(out, workload.Input{Text: sql, Calls: int64(10 + i%10), TotalMs: float64(100 + i%10), MeanMs: 10, HasStats: true, Source: "bench"})
	}
	return out
}

// BenchmarkAnalyze1000 analyses 1,000 distinct statements and reports statements per
// second, the share of time spent in EXPLAIN, and the ratio to planning the same
// statements with bare generic EXPLAINs (the floor any plan-based analyzer pays).
//
//	go test -run '^$' -bench Analyze1000 -benchtime 1x ./queryperf/
func BenchmarkAnalyze1000(b *testing.B) {
	b.StopTimer()
	e := setup(b, seeded(b), false)
	inputs := distinctStatements(1000)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		// Baseline: one generic EXPLAIN per statement, nothing else.
		t0 := time.Now()
		for _, in := range inputs {
			if _, err := e.planner.PlanSQL(ctx, in.Text); err != nil {
				b.Fatalf("baseline EXPLAIN of %q: %v", in.Text, err)
			}
		}
		base := time.Since(t0)

		a := e.analyzer(b)
		b.StartTimer()
		t1 := time.Now()
		res, err := a.AnalyzeInputs(ctx, inputs)
		full := time.Since(t1)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.Statements != 1000 || res.Stats.Planned != 1000 {
			b.Fatalf("distinct %d planned %d not planned %d", res.Stats.Statements, res.Stats.Planned, res.Stats.NotPlanned)
		}
		// Parsing is cached: a second pass over the same texts skips pg_query.
		t2 := time.Now()
		if _, err := a.AnalyzeInputs(ctx, inputs); err != nil {
			b.Fatal(err)
		}
		second := time.Since(t2)

		rate := 1000 / full.Seconds()
		b.ReportMetric(rate, "statements/s")
		b.ReportMetric(100*res.Stats.ExplainMs/res.Stats.TotalMs, "explain-%")
		b.ReportMetric(1000/base.Seconds(), "bare-explain/s")
		b.ReportMetric(rate/(1000/base.Seconds()), "ratio-to-bare-explain")
		b.Logf("1000 statements: analysis %.2fs (%.0f/s, %.0f%% in EXPLAIN); bare generic EXPLAIN %.2fs (%.0f/s); ratio %.2f; second pass with cached parses %.2fs",
			full.Seconds(), rate, 100*res.Stats.ExplainMs/res.Stats.TotalMs, base.Seconds(), 1000/base.Seconds(), rate/(1000/base.Seconds()), second.Seconds())
	}
}
