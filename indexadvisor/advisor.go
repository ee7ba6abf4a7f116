// Package indexadvisor chooses indexes for a whole workload. It proposes candidates from
// each statement's parse tree and plan (equality columns first, most selective first;
// then one range column or the sort keys; join keys; lower(col) expressions; partial
// indexes for constant predicates on low-cardinality columns; small INCLUDE lists for
// index-only scans), measures them with HypoPG on one dedicated session, and picks the
// fewest indexes that give most of the benefit, under per-table and storage budgets and
// a penalty for the writes each index adds. It also finds indexes to drop: unused,
// duplicate, prefix-redundant, invalid, and existing indexes a recommended one replaces.
package indexadvisor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

// Options tune an advice run.
type Options struct {
	// Weight turns a statement's statistics into its weight. "time" calibrates each
	// statement's plan cost to the execution time pg_stat_statements measured for it,
	// so a saving counts as the share of that time it removes (the planner's costs
	// underrate hash joins over large scans, and a few heavy reports can take most of
	// a server's time); "calls" weighs plan cost by calls; "equal" counts each statement
	// once. "auto" (default) is "time" when the statements carry timings, else "calls".
	Weight string
	// MinTableRows: tables the planner expects to hold fewer rows get no index
	// candidates (default: indexOptimizer.minTableRows; -1 for no floor).
	MinTableRows int
	// MinGainPct stops the selection when the best remaining index saves less than this
	// share of what the workload still costs with the indexes chosen so far (default 0.5).
	MinGainPct float64
	// Presets adds the healthcare access-path templates (default from the profile).
	Presets *bool
	// Now is the time of the advice (tests).
	Now func() time.Time
	// Progress, when set, hears how a long run is going (every few seconds).
	Progress func(msg string)
	// Planner plans the statements and holds the hypothetical indexes (required).
	Planner *explain.Planner
}

// Advisor advises on one database.
type Advisor struct {
	cfg         *config.Profile
	opts        Options
	snap        *snapshot.Snapshot
	planner     *explain.Planner
	hypo        *hypo
	cls         *healthcare.Classifier
	parser      *sqlparse.Parser
	constants   map[constKey]string
	tables      map[string]*snapshot.Table
	stats       Stats
	chosenNames []string // hypothetical names of the indexes chosen so far
	denied      int      // statements the role may not plan (no SELECT on a table)
	mode        string   // the weighting in use
	msPerCost   float64  // converts plan cost × calls to the weighting's units
	// passed holds, by relation, why the workload's statements got no index there.
	passed map[string]string
	// queues holds the work-queue states the configuration declares (queueKey).
	queues map[string]bool
}

// Stats says what a run did.
type Stats struct {
	Statements     int     `json:"statements"`
	Planned        int     `json:"planned"`
	Skipped        int     `json:"skipped"`
	Candidates     int     `json:"candidates"`
	Evaluations    int     `json:"plan_evaluations"`
	Weighting      string  `json:"weighting"` // "time": costs are estimated milliseconds; "calls": plan cost × calls
	BaselineCost   float64 `json:"baseline_cost"`
	FinalCost      float64 `json:"final_cost"`
	ImprovementPct float64 `json:"improvement_pct"`
	Seconds        float64 `json:"seconds"`
	HypoPGVersion  string  `json:"hypopg_version"`
	DropsByPlans   bool    `json:"drops_judged_by_plans"` // HypoPG < 1.4 cannot hide indexes
}

// Recommendation is one index to create. Its JSON is the documented contract.
type Recommendation struct {
	Table              string   `json:"table"`
	Name               string   `json:"name"`
	Columns            []string `json:"columns"`
	Include            []string `json:"include"`
	Where              string   `json:"where"`
	Method             string   `json:"method"`
	SQL                string   `json:"sql"`
	EstimatedSizeBytes int64    `json:"estimated_size_bytes"`
	CostBefore         float64  `json:"cost_before"`
	CostAfter          float64  `json:"cost_after"`
	ImprovementPct     float64  `json:"improvement_pct"`
	Statements         []string `json:"statements"`
	Sources            []string `json:"sources,omitempty"`
	Replaces           []string `json:"replaces,omitempty"`
	// Measured is false for index types HypoPG cannot simulate (GIN, GiST): their
	// costs are the statements' costs today, and Note says what the index would do.
	Measured bool   `json:"measured"`
	Note     string `json:"note,omitempty"`
	// Partitioned: the table is partitioned, so apply builds the index per partition.
	Partitioned bool `json:"partitioned,omitempty"`
}

// Drop is one index to remove.
type Drop struct {
	Index  string `json:"index"`
	Reason string `json:"reason"`
	SQL    string `json:"sql"`
	Bytes  int64  `json:"size_bytes,omitempty"`
}

// Advice is the result of a run.
type Advice struct {
	Recommendations []Recommendation `json:"recommendations"`
	Drops           []Drop           `json:"drops"`
	Skipped         []Skipped        `json:"skipped"`
	// PassedOver lists the relations the workload reads that were given no index
	// candidates, and why (too small, a view, a foreign table ...); Notes says what
	// else the reader should know (tables never analysed).
	PassedOver []PassedOver `json:"passed_over"`
	Notes      []string     `json:"notes"`
	Stats      Stats        `json:"stats"`
	// Coverage says how much of the workload could be planned, so how much the advice
	// speaks for.
	Coverage workload.Coverage `json:"coverage"`
}

// PassedOver is a relation that got no index candidates.
type PassedOver struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
}

// Skipped is a statement the advisor could not use.
type Skipped struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
}

// New prepares an advisor for the profile (nil: the production defaults) and a
// snapshot of the database; opts.Planner is required. The planner's session must have
// the hypopg extension available in its database (Advise says so when it does not);
// it may be read-only, as HypoPG writes nothing.
func New(cfg *config.Profile, snap *snapshot.Snapshot, opts Options) (*Advisor, error) {
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	if snap == nil || opts.Planner == nil {
		return nil, errors.New("indexadvisor: New needs a snapshot and a planner")
	}
	if opts.Weight == "" {
		opts.Weight = "auto"
	}
	switch opts.Weight {
	case "auto", "calls", "time", "equal":
	default:
		return nil, fmt.Errorf("indexadvisor: unknown weight %q (allowed: auto, time, calls, equal)", opts.Weight)
	}
	switch {
	case opts.MinTableRows == 0:
		opts.MinTableRows = cfg.IndexOptimizer.MinTableRows
	case opts.MinTableRows < 0:
		opts.MinTableRows = 0
	}
	if opts.MinGainPct == 0 {
		opts.MinGainPct = 0.5
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Presets == nil {
		v := cfg.IndexOptimizer.EnableHealthcarePresets
		opts.Presets = &v
	}
	cls, err := healthcare.New(cfg.Healthcare)
	if err != nil {
		return nil, err
	}
	a := &Advisor{cfg: cfg, opts: opts, snap: snap, planner: opts.Planner, cls: cls, tables: map[string]*snapshot.Table{},
		passed: map[string]string{}, queues: map[string]bool{}}
	for _, q := range cfg.IndexOptimizer.QueueValues {
		if v, ok := config.ParseQueueValue(q); ok {
			a.queues[queueKey(v.Table, v.Column, v.Value)] = true
		}
	}
	for i := range snap.Tables {
		// A copy: the row estimates of tables never analysed are replaced by the
		// planner's, and the caller's snapshot stays as it was.
		t := snap.Tables[i]
		a.tables[t.QualifiedName()] = &t
	}
	a.parser = sqlparse.NewParser(catalog{a}, 0)
	// Identifiers never give planning values from their statistics.
	a.planner.SetSensitive(a.identifies)
	return a, nil
}

// queueKey names one declared work-queue state (indexOptimizer.queueValues).
func queueKey(table, column, value string) string { return table + "\x00" + column + "\x00" + value }

func (a *Advisor) table(name string) *snapshot.Table {
	if t, ok := a.tables[name]; ok {
		return t
	}
	if !strings.Contains(name, ".") {
		return a.tables["public."+name]
	}
	return nil
}

// catalog lets the parser resolve names against the snapshot.
type catalog struct{ a *Advisor }

func (c catalog) FindTable(schema, name string) (string, bool) {
	if schema != "" {
		_, ok := c.a.tables[schema+"."+name]
		return schema, ok
	}
	if _, ok := c.a.tables["public."+name]; ok {
		return "public", true
	}
	for key, t := range c.a.tables {
		if t.Name == name {
			return strings.SplitN(key, ".", 2)[0], true
		}
	}
	return "", false
}

func (c catalog) HasColumn(schema, table, column string) bool {
	if schema == "" {
		schema = "public"
	}
	t := c.a.tables[schema+"."+table]
	return t != nil && hasColumn(t, column)
}

// stmt is one workload statement under evaluation.
type stmt struct {
	ws          *workload.Statement // the statement as the workload has it, prepared
	parsed      *sqlparse.Statement
	weight      float64
	calls       float64
	rowsPerCall float64
	queryIDs    []int64
	vals        []*string
	base        float64 // cost per execution with the existing indexes
	cur         float64 // cost per execution with the chosen indexes
	basePlan    *explain.Plan
	preset      string
	totalMs     float64 // measured execution time, all calls
	version     int     // bumped whenever cur changes
	generic     bool    // the generic-plan half of a statement (see genericTwin)
	sibling     *stmt   // for that half, the custom-plan half
	multi       bool    // reads more than one relation (a join, a subquery)
	// consts holds, by parameter, the constant (as SQL) the workload runs the statement
	// with (see workloadConstants): only those may become partial-index predicates.
	// fromPlan marks a statement read back from a plan's conditions, where every value
	// the planner was given looks like a constant.
	consts   map[int]string
	fromPlan bool
}

// queueShare: a value held by at most this share of a low-cardinality column's rows
// names a work queue (pended, on_hold) whose rows a statement keeps coming back for.
const queueShare = 0.10

// workloadConstants finds, per parameter compared with "=" on a column that holds no
// identifier, the constant the workload runs the statement with: for a low-cardinality
// column, what pg_qualstats saw in (nearly) every execution or the same literal in
// every sample of a file or log; for a statement seen once, a literal the statistics
// mark as a queue (a rare value) or that indexOptimizer.queueValues declares one. A
// literal seen once in any other column is one call's value, not part of the statement.
func (a *Advisor) workloadConstants(ctx context.Context, s *stmt) map[int]string {
	out := map[int]string{}
	for _, p := range s.parsed.Predicates {
		if p.Op != "=" || p.Value != sqlparse.ValParam || p.Param < 1 || p.Func != "" || p.InOr {
			continue
		}
		t := a.table(p.Table)
		if t == nil || a.phiColumn(t, p.Column) {
			continue
		}
		if a.lowCardinality(t, p.Column) {
			if v, ok := a.runsWith(s, t, p); ok {
				out[p.Param] = v
				continue
			}
		}
		if v, ok := a.queueLiteral(ctx, s, t, p); ok {
			out[p.Param] = v
		}
	}
	return out
}

// runsWith: the constant pg_qualstats saw, or the literal every sample spelled, for
// parameter p of a low-cardinality column.
func (a *Advisor) runsWith(s *stmt, t *snapshot.Table, p sqlparse.Predicate) (string, bool) {
	for _, qid := range s.queryIDs {
		if v, ok := a.constants[constKey{qid, t.QualifiedName(), p.Column, "="}]; ok {
			return v, true
		}
	}
	if s.ws == nil {
		return "", false
	}
	if lit, ok := s.ws.Constant(p.Param); ok {
		return literalSQL(lit)
	}
	return "", false
}

// queueLiteral: the literal of a statement seen once, when it names a work queue: a
// value the configuration declares, or a rare value of a low-cardinality column.
func (a *Advisor) queueLiteral(ctx context.Context, s *stmt, t *snapshot.Table, p sqlparse.Predicate) (string, bool) {
	if s.ws == nil || s.ws.Samples() != 1 || p.Param > len(s.ws.Intake.Literals) || s.ws.Intake.Literals[p.Param-1] == nil {
		return "", false
	}
	lit := s.ws.Intake.Literals[p.Param-1]
	if a.queues[queueKey(t.QualifiedName(), p.Column, lit.Value())] {
		return literalSQL(lit)
	}
	if !a.lowCardinality(t, p.Column) {
		return "", false
	}
	if f, ok := a.planner.Frequency(ctx, t.QualifiedName(), p.Column, lit.Value()); ok && f <= queueShare {
		return literalSQL(lit)
	}
	return "", false
}

// literalSQL writes a constant as SQL for an index predicate.
func literalSQL(l *sqlparse.Literal) (string, bool) {
	switch l.Kind {
	case "string":
		return quoteLiteral(l.Value()), true
	case "integer", "boolean":
		return l.Value(), true
	}
	return "", false
}

// boundOnly: value is one the planner was given for this statement and not a constant
// of the workload, so a plan condition showing it says nothing about the workload.
func (s *stmt) boundOnly(value string) bool {
	for _, v := range s.consts {
		if v == value || v == quoteLiteral(value) {
			return false
		}
	}
	for _, v := range s.vals {
		if v != nil && *v == value {
			return true
		}
	}
	return false
}

// Advise analyses the workload (statements from the snapshot's pg_stat_statements or
// given inputs) and returns the advice.
func (a *Advisor) Advise(ctx context.Context, inputs []workload.Input) (*Advice, error) {
	if inputs == nil {
		inputs = workload.FromSnapshot(a.snap)
	}
	return a.AdviseSeq(ctx, slices.Values(inputs))
}

// AdviseSeq advises on a stream of statements (a file or log read as it goes).
func (a *Advisor) AdviseSeq(ctx context.Context, inputs iter.Seq[workload.Input]) (*Advice, error) {
	start := a.opts.Now()
	if a.hypo == nil {
		h, err := newHypo(ctx, a.planner.Conn())
		if err != nil {
			return nil, err
		}
		a.hypo = h
		a.stats.HypoPGVersion = h.version
		a.stats.DropsByPlans = !h.canHide
	}
	defer a.hypo.reset(context.Background())
	if err := a.loadConstants(ctx); err != nil {
		return nil, err
	}
	adv := &Advice{Recommendations: []Recommendation{}, Drops: []Drop{}, Skipped: []Skipped{}, PassedOver: []PassedOver{}, Notes: []string{}}
	stmts := a.statements(ctx, inputs, adv)
	a.relations(ctx, stmts, adv)
	if a.denied > 0 {
		readsTables := false // one of the database's own tables, not a catalog
		for _, s := range stmts {
			for _, t := range s.parsed.Tables {
				readsTables = readsTables || s.basePlan != nil && a.table(t.Qualified()) != nil
			}
		}
		if !readsTables {
			return nil, ErrCannotRead
		}
	}
	if *a.opts.Presets {
		stmts = append(stmts, a.presetStatements(ctx, stmts, adv)...)
	}
	a.stats.Statements = 0
	for _, s := range stmts {
		if !s.generic {
			a.stats.Statements++
		}
	}
	a.stats.Weighting = a.mode
	for _, s := range stmts {
		a.stats.BaselineCost += s.weight * s.base
	}
	chosen, err := a.selectIndexes(ctx, stmts)
	if err != nil {
		return nil, err
	}
	recs, err := a.finalize(ctx, stmts, chosen)
	if err != nil {
		return nil, err
	}
	adv.Recommendations = append(recs, a.unmeasured(stmts, adv)...)
	drops, err := a.drops(ctx, stmts, recs)
	if err != nil {
		return nil, err
	}
	adv.Drops = drops
	adv.PassedOver = a.passedOver()
	for _, s := range stmts {
		a.stats.FinalCost += s.weight * s.cur
	}
	if a.stats.BaselineCost > 0 {
		a.stats.ImprovementPct = round1(100 * (a.stats.BaselineCost - a.stats.FinalCost) / a.stats.BaselineCost)
	}
	a.stats.BaselineCost = round1(a.stats.BaselineCost)
	a.stats.FinalCost = round1(a.stats.FinalCost)
	a.stats.Seconds = round1(a.opts.Now().Sub(start).Seconds())
	adv.Stats = a.stats
	return adv, nil
}

// statements groups, weighs and plans the inputs (through the shared workload intake).
func (a *Advisor) statements(ctx context.Context, inputs iter.Seq[workload.Input], adv *Advice) []*stmt {
	grouped, _ := workload.GroupSeq(inputs, a.parser)
	var out []*stmt
	tick := a.ticker()
	for i, ws := range grouped {
		tick("planned %d of %d statements", i, len(grouped))
		if ws.Parsed != nil && ws.Parsed.Kind == sqlparse.Insert {
			// No plan needed: INSERTs only count as writes.
			out = append(out, a.newStmt(ws))
			continue
		}
		if err := ws.Prepare(ctx, a.planner); err != nil {
			a.skip(adv, ws, err)
			continue
		}
		s := a.newStmt(ws)
		// What pg_qualstats saw the statement run with fills or replaces the guesses.
		if vals := a.withConstants(s, ws.Values(ctx, a.planner)); workload.Complete(vals) {
			s.vals = vals
		}
		s.consts = a.workloadConstants(ctx, s)
		pl, err := a.plan(ctx, s)
		if err != nil {
			ws.PlanError = err
			a.skip(adv, ws, err)
			continue
		}
		s.basePlan = pl
		s.multi = multiRelation(s)
		s.base = pl.TotalCost()
		s.cur = s.base
		a.stats.Planned++
		out = append(out, s)
		if twin := a.genericTwin(ctx, s); twin != nil {
			out = append(out, twin)
		}
	}
	adv.Coverage = workload.MeasureCoverage(grouped, 10)
	a.weigh(out)
	return out
}

func (a *Advisor) newStmt(ws *workload.Statement) *stmt {
	calls := float64(max(ws.Stats.Calls, 1))
	s := &stmt{ws: ws, parsed: ws.Parsed, calls: calls, totalMs: ws.Stats.TotalMs, queryIDs: ws.QueryIDs}
	if ws.Stats.Rows > 0 {
		s.rowsPerCall = float64(ws.Stats.Rows) / calls
	}
	return s
}

// skip records a statement the advice could not use.
func (a *Advisor) skip(adv *Advice, ws *workload.Statement, err error) {
	var cp *explain.CannotPlanError
	if errors.As(err, &cp) && cp.SQLState == pgerr.InsufficientPrivilege {
		a.denied++
	}
	a.stats.Skipped++
	adv.Skipped = append(adv.Skipped, Skipped{Query: sqlparse.Shorten(ws.Display, 200), Reason: sqlparse.OneLine(err.Error())})
}

// genericTwin splits a statement planned with representative values into two halves:
// itself, and a twin planned generically. Drivers that prepare statements (pgx, JDBC
// after five runs) get the plan cache's generic plan whenever it looks no dearer than
// the custom ones, and a generic plan can pick another path (a nested loop over a
// join's inner index where the custom plan hashes): an index may pay in either. The
// workload cannot tell which its statements get, so each half carries half the calls.
func (a *Advisor) genericTwin(ctx context.Context, s *stmt) *stmt {
	if s.vals == nil || s.parsed.ParamCount == 0 || s.parsed.Writes || spellsValues(s.ws) {
		return nil
	}
	a.stats.Evaluations++
	pl, err := a.planner.Plan(ctx, s.ws.Prepared, nil)
	if err != nil {
		return nil
	}
	s.calls, s.totalMs = s.calls/2, s.totalMs/2
	// The plan cache runs the generic plan only while it looks no dearer than the
	// custom one: the twin's cost is the cheaper of the two.
	base := math.Min(pl.TotalCost(), s.base)
	return &stmt{ws: s.ws, parsed: s.parsed, consts: s.consts, calls: s.calls, totalMs: s.totalMs, rowsPerCall: s.rowsPerCall,
		queryIDs: s.queryIDs, basePlan: pl, base: base, cur: base, multi: s.multi, generic: true, sibling: s}
}

// spellsValues: the application wrote the statement's values into its text (a file or
// a log shows them), so PostgreSQL always plans it for them: no plan cache, no generic
// plan.
func spellsValues(ws *workload.Statement) bool {
	if ws == nil || ws.Intake == nil {
		return false
	}
	for _, l := range ws.Intake.Literals {
		if l != nil {
			return true
		}
	}
	return false
}

// weigh sets each statement's weight (see Options.Weight) and the factor that turns a
// plan cost paid once per call into the same units (msPerCost).
func (a *Advisor) weigh(stmts []*stmt) {
	timed, total := 0, 0
	var ms, cost float64
	for _, s := range stmts {
		if s.basePlan == nil {
			continue
		}
		total++
		if s.totalMs > 0 && s.base > 0 {
			timed++
			ms += s.totalMs
			cost += s.calls * s.base
		}
	}
	mode := a.opts.Weight
	if mode == "auto" {
		mode = "calls"
		if timed > 0 && timed*2 >= total {
			mode = "time"
		}
	}
	a.mode = mode
	a.msPerCost = 1
	if mode == "time" && cost > 0 {
		a.msPerCost = ms / cost
	}
	for _, s := range stmts {
		switch mode {
		case "equal":
			s.weight = 1
		case "time":
			if s.totalMs > 0 && s.base > 0 {
				s.weight = s.totalMs / s.base
			} else {
				s.weight = s.calls * a.msPerCost
			}
		default:
			s.weight = s.calls
		}
	}
}

// plan costs a statement under the current hypothetical indexes: with representative
// values when they were found (a generic plan costs one-sided date ranges as a third
// of the table), else generically.
func (a *Advisor) plan(ctx context.Context, s *stmt) (*explain.Plan, error) {
	a.stats.Evaluations++
	if s.vals != nil {
		if pl, err := a.planner.Plan(ctx, s.ws.Prepared, s.vals); err == nil {
			return pl, nil
		}
		s.vals = nil
	}
	return a.planner.Plan(ctx, s.ws.Prepared, nil)
}

// withConstants replaces representative values with the constants pg_qualstats saw the
// statement run with (status = 'pended' in a work queue), so the plan is costed for
// what the statement does rather than for a typical value.
func (a *Advisor) withConstants(s *stmt, vals []*string) []*string {
	for _, p := range s.parsed.Predicates {
		if p.Param < 1 || p.Param > len(vals) || p.Value != sqlparse.ValParam {
			continue
		}
		for _, qid := range s.queryIDs {
			if lit, ok := a.constants[constKey{qid, p.Table, p.Column, p.Op}]; ok {
				if v, ok := unquoteLiteral(lit); ok {
					vals[p.Param-1] = &v
				}
			}
		}
	}
	return vals
}

// unquoteLiteral reads a SQL literal as pg_qualstats prints it ('pended'::text, 42).
func unquoteLiteral(lit string) (string, bool) {
	lit = strings.TrimSpace(lit)
	if i := strings.LastIndex(lit, "::"); i > 0 && !strings.Contains(lit[i:], "'") {
		lit = lit[:i]
	}
	if strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2 {
		return strings.ReplaceAll(lit[1:len(lit)-1], "''", "'"), true
	}
	if lit != "" && !strings.ContainsAny(lit, "' ()") {
		return lit, true
	}
	return "", false
}

// loadConstants reads, from pg_qualstats, the constants normalised statements ran with
// for low-cardinality columns only (a status, a flag): those become partial-index
// predicates. Values of other columns are never read.
func (a *Advisor) loadConstants(ctx context.Context) error {
	a.constants = map[constKey]string{}
	ext, ok := a.snap.Extension("pg_qualstats")
	if !ok || ext.InstalledVersion == "" {
		return nil
	}
	// Equality constants of low-cardinality columns (a status), and range constants of
	// dates, times and numbers that name no one (the start of a monthly report).
	var rels []int64
	var atts []int32
	var eqOnly []bool
	for i := range a.snap.Tables {
		t := &a.snap.Tables[i]
		for _, c := range t.Columns {
			low := a.lowCardinality(t, c.Name)
			ranged := rangeType(c.TypeName) && !a.identifies(t.QualifiedName(), c.Name)
			if low || ranged {
				rels, atts, eqOnly = append(rels, int64(t.OID)), append(atts, int32(c.Num)), append(eqOnly, !ranged)
			}
		}
	}
	if len(rels) == 0 {
		return nil
	}
	rows, err := a.planner.Conn().Query(ctx, policy.Marker+`SELECT q.queryid, n.nspname || '.' || c.relname, a.attname::text, o.oprname::text,
		q.constvalue, sum(q.execution_count)::float8
		FROM pg_qualstats() q
		JOIN unnest($1::oid[], $2::int2[], $3::bool[]) AS w(rel, att, eq_only) ON w.rel = q.lrelid AND w.att = q.lattnum
		JOIN pg_class c ON c.oid = q.lrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum
		JOIN pg_operator o ON o.oid = q.opno
		WHERE (o.oprname = '=' OR NOT w.eq_only AND o.oprname IN ('<', '<=', '>', '>='))
		  AND q.constvalue IS NOT NULL AND q.queryid IS NOT NULL
		GROUP BY 1, 2, 3, 4, 5`, rels, atts, eqOnly)
	if err != nil {
		return nil // pg_qualstats not readable: partial indexes come from literal SQL only
	}
	defer rows.Close()
	type tally struct {
		value string
		n     float64
		total float64
	}
	best := map[constKey]*tally{}
	for rows.Next() {
		var k constKey
		var v string
		var n float64
		if err := rows.Scan(&k.queryID, &k.table, &k.column, &k.op, &v, &n); err != nil {
			return fmt.Errorf("indexadvisor: reading pg_qualstats: %w", err)
		}
		t := best[k]
		if t == nil {
			t = &tally{}
			best[k] = t
		}
		t.total += n
		if n > t.n {
			t.value, t.n = v, n
		}
	}
	if rows.Err() != nil {
		return nil // not readable by this role: partial indexes come from literal SQL only
	}
	for k, t := range best {
		// Only a constant the statement (almost) always runs with is part of its meaning.
		if t.total > 0 && t.n/t.total >= 0.9 {
			a.constants[k] = t.value
		}
	}
	return nil
}

// rangeType: a type whose range constants say how much of a table a statement reads.
func rangeType(typeName string) bool {
	switch typeName {
	case "date", "timestamp", "timestamptz", "int2", "int4", "int8", "numeric", "float4", "float8":
		return true
	}
	return false
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// normalized returns the statement's text without values.
func (s *stmt) normalized() string { return sqlparse.OneLine(s.ws.Display) }

// multiRelation: the statement names or scans more than one relation.
func multiRelation(s *stmt) bool {
	if len(s.parsed.Tables) > 1 {
		return true
	}
	rels := map[string]bool{}
	if s.basePlan != nil {
		s.basePlan.Root.Walk(func(n *explain.Node) {
			if n.IsScan() {
				rels[n.QualifiedRelation()] = true
			}
		})
	}
	return len(rels) > 1
}

// ticker returns a function that passes a progress message on at most every few
// seconds, and never when nobody listens.
func (a *Advisor) ticker() func(format string, args ...any) {
	last := a.opts.Now()
	return func(format string, args ...any) {
		if a.opts.Progress == nil || a.opts.Now().Sub(last) < 3*time.Second {
			return
		}
		last = a.opts.Now()
		a.opts.Progress(fmt.Sprintf(format, args...))
	}
}
