package queryperf_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/queryperf"
)

// distinctStatements makes n distinct normalised statements over the reference schema:
// different tables, predicate columns, operators, orderings and limits.
func distinctStatements(n int) []queryperf.Input {
	tables := map[string][]string{
		"patients":     {"mrn", "last_name", "first_name", "date_of_birth", "city", "state", "postal_code", "email", "plan_id", "primary_provider_id"},
		"claims":       {"patient_id", "provider_id", "payer_id", "status", "date_of_service", "received_at", "claim_type", "primary_diagnosis", "billed_amount", "plan_id"},
		"appointments": {"patient_id", "provider_id", "status", "scheduled_date_time", "appointment_type", "duration"},
		"claim_lines":  {"claim_id", "cpt_code", "icd10_code", "service_date", "units", "modifier"},
		"payments":     {"claim_id", "payer_id", "status", "created_at", "method"},
		"providers":    {"npi", "specialty", "state", "network", "is_active"},
		"users":        {"email", "user_type", "is_active", "patient_id"},
	}
	order := []string{"patients", "claims", "appointments", "claim_lines", "payments", "providers", "users"}
	ops := []string{"=", ">=", "<"}
	var out []queryperf.Input
	seen := map[string]bool{}
	for round := 0; len(out) < n; round++ {
		for _, t := range order {
			cols := tables[t]
			for i, a := range cols {
				for _, op := range ops {
					b := cols[(i+1+round)%len(cols)]
					key := "id"
					if t == "claim_lines" {
						key = "line_number"
					}
					sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s %s $1", key, t, a, op)
					if round > 0 {
						sql = fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s %s $1 AND %s = $2 ORDER BY %s LIMIT %d", key, b, t, a, op, b, a, 10+round)
					}
					if round > 1 {
						sql += fmt.Sprintf(" OFFSET %d", round) // a different shape per round
						sql = strings.Replace(sql, "SELECT ", fmt.Sprintf("SELECT %d AS r, ", round), 1)
					}
					fp, err := sqlparse.Fingerprint(sql)
					if err != nil || seen[fp] {
						continue
					}
					seen[fp] = true
					out = append(out, queryperf.Input{Text: sql, Calls: int64(10 + i), TotalMs: float64(100 + i), MeanMs: 10, HasStats: true, Source: "bench"})
					if len(out) == n {
						return out
					}
				}
			}
		}
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
			params := 1
			if strings.Contains(in.Text, "$2") {
				params = 2
			}
			if _, err := e.planner.Plan(ctx, in.Text, params, nil); err != nil {
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
			b.Fatalf("distinct %d planned %d cannot plan %d", res.Stats.Statements, res.Stats.Planned, res.Stats.CannotPlan)
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
