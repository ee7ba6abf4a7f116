// Package queryperf is pgmedic's query performance analyzer. It ranks the workload from
// pg_stat_statements (or statements given as SQL or found in a server log), groups it by
// pg_query fingerprint, plans each statement (generic plans for $n parameters, custom
// plans with representative values, EXPLAIN ANALYZE on request), applies plan rules and
// HIPAA query rules, and grades each statement A to F.
//
//	a, err := queryperf.New(cfg, queryperf.WithPlanner(planner))
//	res, err := a.Analyze(ctx, snap)
package queryperf

import (
	"context"
	"errors"
	"fmt"
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
)

// Analyzer analyses statements. Create it with New.
type Analyzer struct {
	cfg       *config.Profile
	planner   *explain.Planner
	snap      *snapshot.Snapshot
	cls       *healthcare.Classifier
	parser    *sqlparse.Parser
	analyze   bool
	allowW    bool
	timeout   time.Duration
	overrides *health.Overrides
	tables    map[string]*tableInfo
	now       func() time.Time
}

// Option configures an Analyzer.
type Option func(*Analyzer)

// WithPlanner lets the analyzer plan statements (without it only statistics rules run).
func WithPlanner(p *explain.Planner) Option { return func(a *Analyzer) { a.planner = p } }

// WithSnapshot gives the analyzer the database's catalog and statistics.
func WithSnapshot(s *snapshot.Snapshot) Option { return func(a *Analyzer) { a.snap = s } }

// WithClassifier sets the PHI classifier (default: from the profile's healthcare section).
func WithClassifier(c *healthcare.Classifier) Option { return func(a *Analyzer) { a.cls = c } }

// WithAnalyze runs EXPLAIN ANALYZE (in a rolled-back transaction) in AnalyzeQuery;
// allowWrites permits statements that write.
func WithAnalyze(allowWrites bool, timeout time.Duration) Option {
	return func(a *Analyzer) { a.analyze, a.allowW, a.timeout = true, allowWrites, timeout }
}

// New creates an analyzer for the profile.
func New(cfg *config.Profile, opts ...Option) (*Analyzer, error) {
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	a := &Analyzer{cfg: cfg, now: time.Now}
	for _, o := range opts {
		o(a)
	}
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
	return a, nil
}

func healthKnown() []health.Known {
	var out []health.Known
	for _, c := range health.Checks() {
		out = append(out, health.Known{ID: c.ID, Thresholds: c.Thresholds})
	}
	return out
}

// Input is one statement to analyse, with what is known of its execution.
type Input struct {
	Text string
	// Raw is set for statements as the application sent them (a SQL file, a log), where
	// literal values may appear; pg_stat_statements texts are normalised.
	Raw          bool
	QueryID      int64
	Calls        int64
	TotalMs      float64
	MeanMs       float64
	MaxMs        float64
	Rows         int64
	SharedHit    int64
	SharedRead   int64
	TempWritten  int64
	TotalPlanMs  float64
	JITTimeMs    float64
	JITFunctions int64
	HasStats     bool
	Source       string // "pg_stat_statements", "file", "log", "query"
}

// FromWorkload turns a snapshot's pg_stat_statements entries for its database into
// inputs.
func FromWorkload(s *snapshot.Snapshot) []Input {
	var out []Input
	for _, st := range s.Workload.Statements {
		if st.Database != s.Server.Database || !st.TopLevel || isUtility(st.Query) {
			continue
		}
		out = append(out, Input{Text: st.Query, QueryID: st.QueryID, Calls: st.Calls, TotalMs: st.TotalExecMs,
			MeanMs: st.MeanExecMs, MaxMs: st.MaxExecMs, Rows: st.Rows, SharedHit: st.SharedBlksHit,
			SharedRead: st.SharedBlksRead, TempWritten: st.TempBlksWritten, TotalPlanMs: st.TotalPlanMs,
			JITTimeMs: st.JITTimeMs, JITFunctions: st.JITFunctions, HasStats: true, Source: "pg_stat_statements"})
	}
	return out
}

// StatementResult is the analysis of one statement (one fingerprint).
type StatementResult struct {
	Fingerprint string            `json:"fingerprint"`
	QueryIDs    []int64           `json:"query_ids,omitempty"`
	Query       string            `json:"query"` // normalised text, never values
	Kind        string            `json:"kind"`
	Source      string            `json:"source"`
	Calls       int64             `json:"calls"`
	TotalMs     float64           `json:"total_ms"`
	MeanMs      float64           `json:"mean_ms"`
	MaxMs       float64           `json:"max_ms"`
	RowsPerCall float64           `json:"rows_per_call"`
	SharedRead  int64             `json:"shared_blks_read"`
	TempWritten int64             `json:"temp_blks_written"`
	SharePct    float64           `json:"share_of_total_pct"`
	Ranks       map[string]int    `json:"ranks,omitempty"`
	Tables      []string          `json:"tables,omitempty"`
	PHITables   []string          `json:"phi_tables,omitempty"`
	Patient     bool              `json:"patient_facing"`
	PlanCost    float64           `json:"plan_cost,omitempty"`
	PlanKind    string            `json:"plan_kind,omitempty"` // generic, custom, analyzed
	PlanError   string            `json:"plan_error,omitempty"`
	Plan        *explain.Plan     `json:"-"`
	Findings    []finding.Finding `json:"findings"`
	Score       int               `json:"score"`
	Grade       string            `json:"grade"`

	st  *sqlparse.Statement
	in  Input
	raw []string // raw texts of the statement (never printed), for literal rules
}

// Skipped is a statement that could not be analysed.
type Skipped struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
}

// Result is an analysis run.
type Result struct {
	Statements []*StatementResult `json:"statements"`
	Findings   []finding.Finding  `json:"findings"`
	Skipped    []Skipped          `json:"skipped,omitempty"`
	Stats      RunStats           `json:"stats"`
}

// RunStats says how the run went and where its time went.
type RunStats struct {
	Inputs        int     `json:"inputs"`
	Statements    int     `json:"statements"` // distinct fingerprints
	Planned       int     `json:"planned"`
	CannotPlan    int     `json:"cannot_plan"`
	ParseErrors   int     `json:"parse_errors"`
	TotalMs       float64 `json:"analysis_ms"`
	ExplainMs     float64 `json:"explain_ms"`
	WorkloadTotal float64 `json:"workload_total_ms"`
}

// Analyze analyses a snapshot's pg_stat_statements workload; the snapshot also gives
// the catalog and statistics the rules use.
func (a *Analyzer) Analyze(ctx context.Context, s *snapshot.Snapshot) (*Result, error) {
	if s == nil {
		return nil, errors.New("queryperf: Analyze needs a snapshot")
	}
	if s != a.snap {
		a.snap = s
		a.tables = buildTables(s, a.cls)
		a.parser = sqlparse.NewParser(catalog{a.tables}, 0)
	}
	return a.AnalyzeInputs(ctx, FromWorkload(s))
}

// AnalyzeInputs analyses the given statements.
func (a *Analyzer) AnalyzeInputs(ctx context.Context, inputs []Input) (*Result, error) {
	start := time.Now()
	res := &Result{Stats: RunStats{Inputs: len(inputs)}}
	groups := map[string]*StatementResult{}
	var order []*StatementResult
	for _, in := range inputs {
		st, err := a.parser.Parse(in.Text)
		if err != nil {
			res.Stats.ParseErrors++
			res.Skipped = append(res.Skipped, Skipped{Query: sqlparse.SafeText(in.Text, 200), Reason: sqlparse.OneLine(err.Error())})
			continue
		}
		sr := groups[st.Fingerprint]
		if sr == nil {
			query := in.Text
			if in.Raw {
				if n, err := sqlparse.Normalize(in.Text); err == nil {
					query = n
				}
			}
			sr = &StatementResult{Fingerprint: st.Fingerprint, Query: strings.TrimSpace(query), Kind: string(st.Kind), Source: in.Source, st: st, in: in}
			groups[st.Fingerprint] = sr
			order = append(order, sr)
		} else {
			merge(&sr.in, in)
		}
		if in.QueryID != 0 {
			sr.QueryIDs = append(sr.QueryIDs, in.QueryID)
		}
		if in.Raw {
			sr.raw = append(sr.raw, in.Text)
		}
	}
	var total float64
	for _, sr := range order {
		total += sr.in.TotalMs
	}
	res.Stats.WorkloadTotal = total
	for _, sr := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a.fill(sr, total)
		if sr.st.Kind != sqlparse.Utility && a.planner != nil {
			t0 := time.Now()
			a.plan(ctx, sr, false)
			res.Stats.ExplainMs += float64(time.Since(t0).Microseconds()) / 1000
			if sr.Plan != nil {
				res.Stats.Planned++
			} else if sr.PlanError != "" {
				res.Stats.CannotPlan++
			}
		}
		sr.Findings = a.runRules(sr)
		grade(a, sr)
		res.Findings = append(res.Findings, sr.Findings...)
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
	finding.Sort(res.Findings)
	res.Stats.TotalMs = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// AnalyzeQuery analyses one statement given as SQL (explain, or a library caller).
func (a *Analyzer) AnalyzeQuery(ctx context.Context, sql string) (*StatementResult, error) {
	st, err := a.parser.Parse(sql)
	if err != nil {
		return nil, err
	}
	raw := st.Literals > 0
	in := Input{Text: sql, Raw: raw, Source: "query"}
	query := sql
	if raw {
		if n, err := sqlparse.Normalize(sql); err == nil {
			query = n
		}
	}
	sr := &StatementResult{Fingerprint: st.Fingerprint, Query: strings.TrimSpace(query), Kind: string(st.Kind), Source: "query", st: st, in: in}
	if raw {
		sr.raw = []string{sql}
	}
	a.fill(sr, 0)
	if st.Kind == sqlparse.Utility {
		sr.Findings = a.runRules(sr)
		grade(a, sr)
		return sr, nil
	}
	if a.planner != nil {
		if a.analyze && st.Writes && !a.allowW {
			return nil, &WriteRefusedError{Kind: string(st.Kind)}
		}
		a.plan(ctx, sr, a.analyze)
	}
	sr.Findings = a.runRules(sr)
	grade(a, sr)
	return sr, nil
}

// WriteRefusedError: EXPLAIN ANALYZE runs the statement, and writes need --allow-writes.
type WriteRefusedError struct{ Kind string }

func (e *WriteRefusedError) Error() string {
	return fmt.Sprintf("EXPLAIN ANALYZE would run this %s statement; it writes, so pass --allow-writes (it runs in a transaction that is rolled back)", strings.ToUpper(e.Kind))
}

func merge(dst *Input, in Input) {
	dst.Calls += in.Calls
	dst.TotalMs += in.TotalMs
	dst.Rows += in.Rows
	dst.SharedHit += in.SharedHit
	dst.SharedRead += in.SharedRead
	dst.TempWritten += in.TempWritten
	dst.TotalPlanMs += in.TotalPlanMs
	dst.JITTimeMs += in.JITTimeMs
	dst.JITFunctions += in.JITFunctions
	if in.MaxMs > dst.MaxMs {
		dst.MaxMs = in.MaxMs
	}
	if dst.Calls > 0 {
		dst.MeanMs = dst.TotalMs / float64(dst.Calls)
	}
	dst.HasStats = dst.HasStats || in.HasStats
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

// plan gets the statement's plan: EXPLAIN ANALYZE when asked, else a custom plan with
// representative values when pg_stats allows, else the generic plan.
func (a *Analyzer) plan(ctx context.Context, sr *StatementResult, analyze bool) {
	st := sr.st
	if analyze {
		pl, err := a.planner.Analyze(ctx, st.Text, st.ParamCount, nil, explain.AnalyzeOptions{AllowWrites: a.allowW, Timeout: a.timeout})
		if err == nil {
			sr.Plan, sr.PlanKind, sr.PlanCost = pl, "analyzed", pl.TotalCost()
			return
		}
		sr.PlanError = sqlparse.OneLine(err.Error())
		return
	}
	if st.ParamCount > 0 {
		if vals, ok := a.planner.Representative(ctx, st); ok {
			if pl, err := a.planner.Plan(ctx, st.Text, st.ParamCount, vals); err == nil {
				sr.Plan, sr.PlanKind, sr.PlanCost = pl, "custom", pl.TotalCost()
				return
			}
		}
	}
	pl, err := a.planner.Plan(ctx, st.Text, st.ParamCount, nil)
	if err != nil {
		sr.PlanError = sqlparse.OneLine(err.Error())
		return
	}
	kind := "generic"
	if st.ParamCount == 0 {
		kind = "plain"
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

// isUtility recognises the utility statements pg_stat_statements tracks (SET, BEGIN,
// EXPLAIN, PREPARE ...): they are not part of the query workload.
func isUtility(q string) bool {
	f := strings.Fields(strings.TrimSpace(q))
	if len(f) == 0 {
		return true
	}
	switch strings.ToUpper(strings.TrimLeft(f[0], "(")) {
	case "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE":
		return false
	}
	return true
}
