// Package queryperf is pgmedic's query performance analyzer. It ranks the workload from
// pg_stat_statements (or statements given as SQL or found in a server log), groups it by
// pg_query fingerprint, plans each statement (generic plans for $n parameters, custom
// plans with representative values, EXPLAIN ANALYZE on request), applies plan rules and
// HIPAA query rules, and grades each statement A to F.
//
//	a, err := queryperf.New(cfg, snap, queryperf.Options{Planner: planner})
//	res, err := a.Analyze(ctx)
//
// AnalyzeDatabase does all of it on one connection: what `pgmedic queries` does.
package queryperf

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

// Analyzer analyses statements. Create it with New.
type Analyzer struct {
	cfg       *config.Profile
	opts      Options
	planner   *explain.Planner
	snap      *snapshot.Snapshot
	cls       *healthcare.Classifier
	parser    *sqlparse.Parser
	overrides *health.Overrides
	tables    map[string]*tableInfo
	now       func() time.Time
}

// Options tune an Analyzer. The zero value analyses statistics only.
type Options struct {
	// Planner lets the analyzer plan statements; without it only the rules that need
	// no plan run, and no statement gets a grade. queryAnalyzer.enableQueryPlan: false
	// leaves workload statements unplanned even with a planner.
	Planner *explain.Planner
	// Classifier decides which tables and columns hold PHI (default: from the
	// profile's healthcare section).
	Classifier *healthcare.Classifier
	// Analyze runs EXPLAIN ANALYZE, in a transaction that is rolled back, in
	// AnalyzeQuery; AllowWrites permits statements that write; AnalyzeTimeout bounds it.
	Analyze        bool
	AllowWrites    bool
	AnalyzeTimeout time.Duration
}

// New creates an analyzer for the profile (nil: the production defaults) and a
// snapshot, which gives the catalog, the statistics and the pg_stat_statements
// workload (nil: statements are read without a catalog).
func New(cfg *config.Profile, snap *snapshot.Snapshot, opts Options) (*Analyzer, error) {
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	a := &Analyzer{cfg: cfg, opts: opts, planner: opts.Planner, snap: snap, cls: opts.Classifier, now: time.Now}
	if a.cls == nil {
		cls, err := healthcare.New(cfg.Healthcare)
		if err != nil {
			return nil, err
		}
		a.cls = cls
	}
	ov, err := health.ParseOverrides(cfg.Checks, append(KnownRules(), healthKnown()...))
	if err != nil {
		return nil, err
	}
	a.overrides = ov
	a.tables = buildTables(a.snap, a.cls)
	a.parser = sqlparse.NewParser(catalog{a.tables}, 0)
	if a.planner != nil {
		// Identifiers never give planning values from their statistics.
		a.planner.SetSensitive(a.identifies)
	}
	return a, nil
}

func healthKnown() []health.Known {
	var out []health.Known
	for _, c := range health.Checks() {
		out = append(out, health.Known{ID: c.ID, Thresholds: c.Thresholds})
	}
	return out
}

// StatementResult is the analysis of one statement (one fingerprint).
type StatementResult struct {
	Fingerprint string         `json:"fingerprint"`
	QueryIDs    []int64        `json:"query_ids,omitempty"`
	Query       string         `json:"query"` // normalised text, never values
	Kind        string         `json:"kind"`
	Source      string         `json:"source"`
	Calls       int64          `json:"calls"`
	TotalMs     float64        `json:"total_ms"`
	MeanMs      float64        `json:"mean_ms"`
	MaxMs       float64        `json:"max_ms"`
	RowsPerCall float64        `json:"rows_per_call"`
	SharedRead  int64          `json:"shared_blks_read"`
	TempWritten int64          `json:"temp_blks_written"`
	SharePct    float64        `json:"share_of_total_pct"`
	Ranks       map[string]int `json:"ranks,omitempty"`
	Tables      []string       `json:"tables,omitempty"`
	PHITables   []string       `json:"phi_tables,omitempty"`
	Patient     bool           `json:"patient_facing"`
	PlanCost    float64        `json:"plan_cost,omitempty"`
	PlanKind    string         `json:"plan_kind,omitempty"` // plain, generic, custom, analyzed
	// NotPlanned says why the statement has no plan; it then has no grade either.
	NotPlanned string            `json:"not_planned,omitempty"`
	Plan       *explain.Plan     `json:"-"`
	Findings   []finding.Finding `json:"findings"`
	// Score and Grade are set only for planned statements.
	Score *int   `json:"score,omitempty"`
	Grade string `json:"grade,omitempty"`

	st    *sqlparse.Statement
	rawSt *sqlparse.Statement // the first raw text as written, for rules about literals
	in    workload.Input
	raw   []string // raw texts of the statement (never printed), for literal rules
	ws    *workload.Statement
}

// Result is an analysis run.
type Result struct {
	Statements []*StatementResult `json:"statements"`
	Findings   []finding.Finding  `json:"findings"`
	Stats      RunStats           `json:"stats"`
	// Coverage says how much of the workload was planned, and what was left out.
	Coverage workload.Coverage `json:"coverage"`

	snap *snapshot.Snapshot // for the report: the database's name, its catalog
}

// RunStats says how the run went and where its time went.
type RunStats struct {
	Inputs        int     `json:"inputs"`
	Excluded      int     `json:"excluded"`   // utility statements, not workload
	Statements    int     `json:"statements"` // distinct fingerprints
	Planned       int     `json:"planned"`
	NotPlanned    int     `json:"not_planned"`
	TotalMs       float64 `json:"analysis_ms"`
	ExplainMs     float64 `json:"explain_ms"`
	WorkloadTotal float64 `json:"workload_total_ms"`
}

// Analyze analyses the snapshot's pg_stat_statements workload.
func (a *Analyzer) Analyze(ctx context.Context) (*Result, error) {
	if a.snap == nil {
		return nil, errors.New("queryperf: Analyze needs the analyzer made with a snapshot")
	}
	return a.AnalyzeInputs(ctx, workload.FromSnapshot(a.snap))
}

// AnalyzeInputs analyses the given statements.
func (a *Analyzer) AnalyzeInputs(ctx context.Context, inputs []workload.Input) (*Result, error) {
	return a.AnalyzeSeq(ctx, slices.Values(inputs))
}

// AnalyzeSeq analyses a stream of statements (a file or log read as it goes).
func (a *Analyzer) AnalyzeSeq(ctx context.Context, inputs iter.Seq[workload.Input]) (*Result, error) {
	start := time.Now()
	res := &Result{Statements: []*StatementResult{}, Findings: []finding.Finding{},
		Coverage: workload.Coverage{Left: []workload.Left{}}, snap: a.snap}
	stmts, excluded := workload.GroupSeq(inputs, a.parser)
	res.Stats.Inputs, res.Stats.Excluded = excluded.Seen, excluded.Inputs
	var total float64
	for _, ws := range stmts {
		total += ws.Stats.TotalMs
	}
	res.Stats.WorkloadTotal = total
	order := make([]*StatementResult, 0, len(stmts))
	for _, ws := range stmts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sr := a.result(ws)
		a.fill(sr, total)
		if a.plans() && ws.NotPlannable == nil {
			t0 := time.Now()
			a.plan(ctx, sr, false)
			res.Stats.ExplainMs += float64(time.Since(t0).Microseconds()) / 1000
		}
		a.finish(sr)
		if sr.Plan != nil {
			res.Stats.Planned++
		} else if sr.NotPlanned != "" {
			res.Stats.NotPlanned++
		}
		res.Findings = append(res.Findings, sr.Findings...)
		order = append(order, sr)
	}
	rank(order)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].TotalMs != order[j].TotalMs {
			return order[i].TotalMs > order[j].TotalMs
		}
		return order[i].Fingerprint < order[j].Fingerprint
	})
	res.Statements = order
	res.Stats.Statements = len(order)
	switch {
	case a.plans():
		res.Coverage = workload.MeasureCoverage(stmts, 10)
	case a.planner != nil:
		res.Coverage.Off = "queryAnalyzer.enableQueryPlan is false"
	default:
		res.Coverage.Off = "no planner was given (a snapshot file is analysed without a connection)"
	}
	if n, calls := workload.Hidden(stmts); n > 0 {
		res.Findings = append(res.Findings, a.hiddenFinding(n, calls))
	}
	finding.Sort(res.Findings)
	res.Stats.TotalMs = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// plans says whether workload statements are planned: a planner was given and the
// configuration does not switch planning off (some sites allow no EXPLAIN).
func (a *Analyzer) plans() bool {
	return a.planner != nil && a.cfg.QueryAnalyzer.EnableQueryPlan
}

// hiddenFinding says the query rules could not decide for statements whose text the
// role may not read: an unknown, never a silent pass.
func (a *Analyzer) hiddenFinding(n int, calls int64) finding.Finding {
	f := finding.Finding{Check: "query.not_planned", Area: "queries", Severity: finding.Info, Status: finding.Unknown,
		Object: "workload", Title: fmt.Sprintf("%d statements (%d calls) could not be analysed: their text is hidden from this role", n, calls),
		Detail:         "pg_stat_statements shows other roles' statement texts only to superusers and members of pg_read_all_stats, so the query rules could not look at these statements.",
		Recommendation: "GRANT pg_read_all_stats TO the role pgmedic connects as (it reads statistics, no table data).",
		References:     []finding.Reference{finding.DocsRef("pgstatstatements.html", "pg_stat_statements")}}
	f.ID = finding.MakeID(f.Check, f.Object)
	return f
}

// result starts the analysis of one workload statement.
func (a *Analyzer) result(ws *workload.Statement) *StatementResult {
	sr := &StatementResult{Fingerprint: ws.Fingerprint, QueryIDs: ws.QueryIDs, Query: ws.Display, Source: ws.Source,
		st: ws.Parsed, in: ws.Stats, raw: ws.Raw(), ws: ws, Findings: []finding.Finding{}}
	if ws.Parsed != nil {
		sr.Kind = string(ws.Parsed.Kind)
	}
	if ws.NotPlannable != nil {
		sr.NotPlanned = ws.NotPlannable.Reason
	}
	if len(sr.raw) > 0 {
		if st, err := a.parser.Parse(sr.raw[0]); err == nil {
			sr.rawSt = st
		}
	}
	return sr
}

// finish runs the rules and grades a planned statement.
func (a *Analyzer) finish(sr *StatementResult) {
	if sr.Plan == nil && sr.NotPlanned == "" && a.plans() {
		sr.NotPlanned = "no plan was made"
	}
	sr.Findings = append(sr.Findings, a.runRules(sr)...)
	if sr.Plan != nil {
		grade(a, sr)
	}
}

// AnalyzeQuery analyses one statement given as SQL (explain, or a library caller).
// Values the text spells out are bound as parameters for its plan, never sent in a
// statement text.
func (a *Analyzer) AnalyzeQuery(ctx context.Context, sql string) (*StatementResult, error) {
	in, err := sqlparse.Take(sql)
	if err != nil {
		return nil, err
	}
	raw := len(in.Literals) > 0
	stmts, _ := workload.Group([]workload.Input{{Text: sql, Raw: raw, Source: workload.SourceQuery}}, a.parser)
	if len(stmts) != 1 || stmts[0].Parsed == nil {
		return nil, fmt.Errorf("queryperf: the statement could not be read")
	}
	sr := a.result(stmts[0])
	a.fill(sr, 0)
	if a.planner != nil {
		if a.opts.Analyze && sr.st.Writes && !a.opts.AllowWrites {
			return nil, &WriteRefusedError{Kind: string(sr.st.Kind)}
		}
		a.plan(ctx, sr, a.opts.Analyze)
	}
	a.finish(sr)
	return sr, nil
}

// WriteRefusedError: EXPLAIN ANALYZE runs the statement, and writes need --allow-writes.
type WriteRefusedError struct{ Kind string }

func (e *WriteRefusedError) Error() string {
	return fmt.Sprintf("EXPLAIN ANALYZE would run this %s statement; it writes, so pass --allow-writes (it runs in a transaction that is rolled back)", strings.ToUpper(e.Kind))
}

// fill copies statistics and table facts into the result.
func (a *Analyzer) fill(sr *StatementResult, total float64) {
	in := sr.in
	sr.Calls, sr.TotalMs, sr.MeanMs, sr.MaxMs = in.Calls, in.TotalMs, in.MeanMs, in.MaxMs
	if in.Calls > 0 {
		sr.RowsPerCall = float64(in.Rows) / float64(in.Calls)
	}
	sr.SharedRead, sr.TempWritten = in.SharedRead, in.TempWritten
	if total > 0 {
		sr.SharePct = 100 * in.TotalMs / total
	}
	if sr.st == nil {
		return
	}
	for _, t := range sr.st.Tables {
		name := t.Qualified()
		sr.Tables = append(sr.Tables, name)
		if ti := a.tables[name]; ti != nil && ti.class.PHI {
			sr.PHITables = append(sr.PHITables, name)
			if ti.class.Role == healthcare.Patient || ti.class.PatientLinked {
				sr.Patient = sr.st.Kind == sqlparse.Select && !sr.st.Aggregates
			}
		}
	}
}

// plan gets the statement's plan through the shared intake: EXPLAIN ANALYZE when asked,
// else a custom plan with the workload's constants or representative values, else the
// generic plan.
func (a *Analyzer) plan(ctx context.Context, sr *StatementResult, analyze bool) {
	ws := sr.ws
	if err := ws.Prepare(ctx, a.planner); err != nil {
		sr.NotPlanned = sqlparse.OneLine(err.Error())
		return
	}
	if analyze {
		// Exactly what the caller wrote: its own values, or NULLs for its $n.
		vals := explain.LiteralValues(ws.Intake)
		pl, err := a.planner.Analyze(ctx, ws.Prepared, vals, explain.AnalyzeOptions{AllowWrites: a.opts.AllowWrites, Timeout: a.opts.AnalyzeTimeout})
		if err != nil {
			sr.NotPlanned = sqlparse.OneLine(err.Error())
			return
		}
		sr.Plan, sr.PlanKind, sr.PlanCost = pl, "analyzed", pl.TotalCost()
		return
	}
	pl, kind, err := ws.Plan(ctx, a.planner)
	if err != nil {
		ws.PlanError = err
		sr.NotPlanned = sqlparse.OneLine(err.Error())
		return
	}
	sr.Plan, sr.PlanKind, sr.PlanCost = pl, kind, pl.TotalCost()
}

// rank records each statement's position by the measures the issue names.
func rank(list []*StatementResult) {
	measures := map[string]func(*StatementResult) float64{
		"total_time":    func(s *StatementResult) float64 { return s.TotalMs },
		"mean_time":     func(s *StatementResult) float64 { return s.MeanMs },
		"calls":         func(s *StatementResult) float64 { return float64(s.Calls) },
		"rows_per_call": func(s *StatementResult) float64 { return s.RowsPerCall },
		"blocks_read":   func(s *StatementResult) float64 { return float64(s.SharedRead) },
		"temp_written":  func(s *StatementResult) float64 { return float64(s.TempWritten) },
	}
	for name, f := range measures {
		sorted := append([]*StatementResult(nil), list...)
		sort.SliceStable(sorted, func(i, j int) bool { return f(sorted[i]) > f(sorted[j]) })
		for i, s := range sorted {
			if f(s) <= 0 {
				break
			}
			if s.Ranks == nil {
				s.Ranks = map[string]int{}
			}
			s.Ranks[name] = i + 1
		}
	}
}
