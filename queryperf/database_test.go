package queryperf_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/workload"
)

// AnalyzeDatabase does what `pgmedic queries --file` does in one call: snapshot, plans
// and rules on one connection.
func TestAnalyzeDatabaseOneCall(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)
	path := filepath.Join(t.TempDir(), "app.sql")
	sql := "SELECT * FROM claims WHERE status = 'denied';\nSELECT id, first_name, last_name FROM patients;\nSELECT 1 FROM nowhere_at_all;\n"
	if err := os.WriteFile(path, []byte(sql), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := workload.OpenFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := queryperf.AnalyzeDatabase(ctx, e.conn, nil, queryperf.DatabaseOptions{Source: workload.Source{Inputs: f.Inputs(ctx)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Done(ctx); err != nil {
		t.Fatal(err)
	}
	if res.Stats.Statements != 3 || res.Stats.Planned != 2 || res.Stats.NotPlanned != 1 {
		t.Fatalf("stats %+v, want 3 statements, 2 planned, 1 not (no such table)", res.Stats)
	}
	if has(res.Findings, "hipaa.broad_phi_read") == nil {
		t.Errorf("the unrestricted read of patients was not reported: %v", checks(res.Findings))
	}
	in := res.Report(1)
	if len(in.TopStatements) != 1 || !strings.HasPrefix(in.Notes[0], "Planned ") {
		t.Errorf("report of the top statement: %d statements, notes %q", len(in.TopStatements), in.Notes)
	}
}

// queryAnalyzer.enableQueryPlan: false plans nothing (no grades, no "not planned"
// findings, coverage says why); enableHealthcareCompliance: false drops the HIPAA
// query rules and keeps the others.
func TestConfigSwitches(t *testing.T) {
	db := seeded(t)
	e := setup(t, db, false)
	ctx := context.Background()
	inputs := []workload.Input{
		{Text: "SELECT id, first_name, last_name FROM patients", Calls: 10, TotalMs: 500, MeanMs: 50, HasStats: true},
		{Text: "SELECT * FROM claims ORDER BY id OFFSET $1 LIMIT 20", Calls: 10, TotalMs: 400, MeanMs: 40, HasStats: true},
	}
	cfg, err := config.Defaults(config.Production)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QueryAnalyzer.EnableQueryPlan = false
	a, err := queryperf.New(cfg, e.snap, queryperf.Options{Planner: e.planner})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.AnalyzeInputs(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Planned != 0 || res.Stats.NotPlanned != 0 || !strings.Contains(res.Coverage.Off, "enableQueryPlan") {
		t.Errorf("planning off: stats %+v, coverage off %q", res.Stats, res.Coverage.Off)
	}
	for _, s := range res.Statements {
		if s.Score != nil || s.Plan != nil {
			t.Errorf("%q was planned or graded with planning off", s.Query)
		}
	}
	if has(res.Findings, "query.not_planned") != nil {
		t.Errorf("planning off still reports statements as not planned")
	}
	if has(res.Findings, "hipaa.broad_phi_read") == nil || has(res.Findings, "query.select_star") == nil {
		t.Errorf("rules that need no plan should still run: %v", checks(res.Findings))
	}

	cfg.QueryAnalyzer.EnableQueryPlan = true
	cfg.QueryAnalyzer.EnableHealthcareCompliance = false
	a, err = queryperf.New(cfg, e.snap, queryperf.Options{Planner: e.planner})
	if err != nil {
		t.Fatal(err)
	}
	if res, err = a.AnalyzeInputs(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Check, "hipaa.") {
			t.Errorf("HIPAA rule %s ran with enableHealthcareCompliance false", f.Check)
		}
	}
	if res.Stats.Planned != 2 || has(res.Findings, "query.select_star") == nil {
		t.Errorf("plan rules should still run: stats %+v, findings %v", res.Stats, checks(res.Findings))
	}
}
