package queryperf

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/report"
)

// Rule is one declared query rule.
type Rule struct {
	ID          string
	Area        string // "queries" or "hipaa"
	Title       string
	Description string
	Severity    finding.Severity
	Thresholds  []health.Threshold
	References  []finding.Reference
	// What it needs: a plan, an EXPLAIN ANALYZE, execution statistics, raw SQL text.
	NeedsPlan, NeedsAnalyze, NeedsStats, RawOnly bool
	// Unplanned rules are about statements that got no plan (they may not even parse).
	Unplanned bool
	Run       func(*ruleCtx) []finding.Finding
}

type ruleCtx struct {
	a    *Analyzer
	sr   *StatementResult
	st   *sqlparse.Statement
	plan *explain.Plan
	rule *Rule
	th   map[string]float64
	sev  *finding.Severity
}

func (c *ruleCtx) T(name string) float64 {
	v, ok := c.th[name]
	if !ok {
		panic(fmt.Sprintf("queryperf: rule %s has no threshold %q", c.rule.ID, name)) // a programming error
	}
	return v
}

// New builds a finding about the current statement.
func (c *ruleCtx) New(title string) *finding.Finding {
	sev := c.rule.Severity
	if c.sev != nil {
		sev = *c.sev
	}
	object := "query " + c.sr.Fingerprint
	return &finding.Finding{
		ID: finding.MakeID(c.rule.ID, object), Check: c.rule.ID, Area: c.rule.Area, Severity: sev, Status: finding.Open,
		Object: object, Title: title, PHI: len(c.sr.PHITables) > 0, References: c.rule.References,
		Detail: "Statement: " + sqlparse.Shorten(c.sr.Query, 300) + ".",
	}
}

// raise lifts a finding one step when the statement reads patient data (unless the
// configuration fixed the rule's severity).
func (c *ruleCtx) raise(f *finding.Finding) {
	if c.sev == nil && len(c.sr.PHITables) > 0 {
		f.Severity = f.Severity.Raise(1)
	}
}

func ev(name string, v float64, unit string) finding.Evidence {
	return finding.Evidence{Name: name, Value: v, Unit: unit}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// Rules returns every query rule, in a stable order.
func Rules() []Rule {
	rules := append(planRules(), hipaaRules()...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules
}

// KnownRules lists the rules for configuration validation.
func KnownRules() []health.Known {
	var out []health.Known
	for _, r := range Rules() {
		out = append(out, health.Known{ID: r.ID, Thresholds: r.Thresholds})
	}
	return out
}

// runRules applies every enabled rule that has what it needs.
func ruleNotPlanned(c *ruleCtx) []finding.Finding {
	if c.sr.SharePct < c.T("min_share_pct") {
		return nil
	}
	f := c.New(fmt.Sprintf("Not analysed (%.1f%% of the workload's time): %s", c.sr.SharePct, c.sr.NotPlanned))
	if c.sr.ws != nil && c.sr.ws.NaturallyPlanless() {
		f.Severity = finding.Low
		f.Recommendation = "Its own statements are what can be planned: set pg_stat_statements.track = all to see the statements a procedure or DO block runs, or analyse them from a log."
	} else {
		f.Recommendation = "Give pgmedic the statement another way (a log with log_min_duration_statement, or a file with its literal values) or raise track_activity_query_size if the text was cut."
	}
	f.Evidence = []finding.Evidence{ev("share_of_time", round1(c.sr.SharePct), "%"), ev("calls", float64(c.sr.Calls), "")}
	return []finding.Finding{*f}
}

func (a *Analyzer) runRules(sr *StatementResult) []finding.Finding {
	var out []finding.Finding
	rules := Rules()
	for i := range rules {
		r := &rules[i]
		if a.overrides.Disabled(r.ID) || r.Area == "hipaa" && !a.cfg.QueryAnalyzer.EnableHealthcareCompliance {
			continue
		}
		if r.NeedsPlan && sr.Plan == nil || r.NeedsAnalyze && (sr.Plan == nil || !sr.Plan.Analyzed) ||
			r.NeedsStats && !sr.in.HasStats || r.RawOnly && len(sr.raw) == 0 || r.Unplanned != (sr.NotPlanned != "") {
			continue
		}
		st := sr.st
		if sr.rawSt != nil || r.RawOnly {
			st = sr.rawSt // the text as it was sent: its literals say more than $n
		}
		if st == nil && !r.Unplanned {
			continue
		}
		ctx := &ruleCtx{a: a, sr: sr, st: st, plan: sr.Plan, rule: r, th: map[string]float64{}}
		for _, t := range r.Thresholds {
			ctx.th[t.Name] = a.overrides.Threshold(a.cfg, r.ID, t)
		}
		if sev, ok := a.overrides.Severity(r.ID); ok {
			ctx.sev = &sev
		}
		out = append(out, r.Run(ctx)...)
	}
	return out
}

func planRules() []Rule {
	return []Rule{
		{
			ID: "query.not_planned", Area: "queries", Severity: finding.Medium, Unplanned: true, NeedsStats: true,
			Title:       "A costly statement could not be analysed",
			Description: "pgmedic could not get a plan for a statement that takes a noticeable share of the workload, so no rule and no index advice covers it. The reason says what stood in the way (a text cut short, a procedure call, a parameter type no context fixes).",
			Thresholds: []health.Threshold{
				{Name: "min_share_pct", Default: 1, Unit: "%", Help: "share of the workload's time from which an unplanned statement is reported"},
			},
			References: []finding.Reference{finding.DocsRef("using-explain.html", "Using EXPLAIN"), finding.DocsRef("sql-prepare.html", "PREPARE")},
			Run:        ruleNotPlanned,
		},
		{
			ID: "query.seq_scan_selective", Area: "queries", Severity: finding.Medium, NeedsPlan: true,
			Title:       "Sequential scan of a large table for few rows",
			Description: "The plan reads a large table from start to end to return a small share of it; an index would read only those rows. On a PHI table every patient's rows are read for each call.",
			Thresholds: []health.Threshold{
				{Name: "min_rows", Default: 10000, Help: "table size (rows) from which a full scan is reported"},
				{Name: "max_selectivity_pct", Default: 5, Unit: "%", Help: "share of the table returned below which the scan is wasteful"},
			},
			References: []finding.Reference{finding.DocsRef("indexes.html", "Indexes"), finding.DocsRef("using-explain.html", "Using EXPLAIN")},
			Run:        ruleSeqScan,
		},
		{
			ID: "query.rows_removed_by_filter", Area: "queries", Severity: finding.Medium, NeedsAnalyze: true,
			Title:       "Index scan discards most of the rows it fetches",
			Description: "The index finds rows that a later filter throws away: the filter's columns belong in the index.",
			Thresholds: []health.Threshold{
				{Name: "min_removed", Default: 1000},
				{Name: "min_removed_pct", Default: 90, Unit: "%"},
			},
			References: []finding.Reference{finding.DocsRef("indexes.html", "Indexes")},
			Run:        ruleRowsRemoved,
		},
		{
			ID: "query.non_sargable", Area: "queries", Severity: finding.Medium,
			Title:       "Predicate that cannot use an index",
			Description: "A function or cast on the column, a LIKE pattern starting with a wildcard, or an OR across different columns keeps a plain index on the column out of the plan.",
			Thresholds:  []health.Threshold{{Name: "min_rows", Default: 10000, Help: "smaller tables are reported as low"}},
			References:  []finding.Reference{finding.DocsRef("indexes-expressional.html", "Indexes on Expressions"), finding.DocsRef("indexes.html", "Indexes")},
			Run:         ruleNonSargable,
		},
		{
			ID: "query.plan_spill", Area: "queries", Severity: finding.Medium, NeedsAnalyze: true,
			Title:       "Sort or hash spilled to disk",
			Description: "A sort or hash did not fit in work_mem and wrote temporary files during EXPLAIN ANALYZE.",
			References:  []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-WORK-MEM", "work_mem")},
			Run:         rulePlanSpill,
		},
		{
			ID: "query.misestimate", Area: "queries", Severity: finding.Medium, NeedsAnalyze: true,
			Title:       "Row estimate off by an order of magnitude",
			Description: "The planner's row estimate for a plan node is wrong by the factor or more, so the plan it chose may be the wrong one.",
			Thresholds: []health.Threshold{
				{Name: "factor", Default: 10},
				{Name: "min_rows", Default: 100},
			},
			References: []finding.Reference{finding.DocsRef("planner-stats.html", "Statistics Used by the Planner")},
			Run:        ruleMisestimate,
		},
		{
			ID: "query.nested_loop_large_outer", Area: "queries", Severity: finding.Medium, NeedsPlan: true,
			Title:       "Nested loop over a large outer input",
			Description: "A nested loop runs its inner side once per outer row; with many outer rows and no index on the inner side, work grows with their product.",
			Thresholds:  []health.Threshold{{Name: "min_outer_rows", Default: 10000}},
			References:  []finding.Reference{finding.DocsRef("using-explain.html", "Using EXPLAIN")},
			Run:         ruleNestedLoop,
		},
		{
			ID: "query.offset_paging", Area: "queries", Severity: finding.Low,
			Title:       "Deep OFFSET paging",
			Description: "OFFSET reads and discards every row before the page: page 500 costs 500 pages. Keyset pagination reads one page whatever its position.",
			Thresholds:  []health.Threshold{{Name: "deep_offset", Default: 1000, Help: "a literal OFFSET from which the finding is medium"}},
			References:  []finding.Reference{finding.DocsRef("queries-limit.html", "LIMIT and OFFSET")},
			Run:         ruleOffset,
		},
		{
			ID: "query.select_star", Area: "queries", Severity: finding.Low,
			Title:       "SELECT * on a wide or PHI table",
			Description: "Every column is read and sent, including ones the caller does not use; on a PHI table that includes identifiers the task may not need.",
			Thresholds:  []health.Threshold{{Name: "wide_columns", Default: 15}},
			References:  []finding.Reference{finding.HIPAARef(finding.MinimumNecessary)},
			Run:         ruleSelectStar,
		},
		{
			ID: "query.unbounded_result", Area: "queries", Severity: finding.Medium,
			Title:       "Large result set without LIMIT",
			Description: "The statement returns many rows per call with no LIMIT: memory on both ends, network, and time to the first row all grow with the table.",
			Thresholds:  []health.Threshold{{Name: "min_rows", Default: 1000, Help: "rows per call (or planned rows)"}},
			References:  []finding.Reference{finding.DocsRef("queries-limit.html", "LIMIT and OFFSET")},
			Run:         ruleUnbounded,
		},
		{
			ID: "query.n_plus_one", Area: "queries", Severity: finding.Low, NeedsStats: true,
			Title:       "Very frequent single-row statement (N+1 pattern)",
			Description: "The same one-row look-up runs a very large number of times: usually a loop in the application issuing one query per item where one batched query would do.",
			Thresholds: []health.Threshold{
				{Name: "min_calls", Default: 10000},
				{Name: "min_calls_pct", Default: 20, Unit: "%", Help: "share of all calls"},
				{Name: "max_mean_ms", Default: 1, Unit: "ms"},
			},
			References: []finding.Reference{finding.DocsRef("using-explain.html", "Using EXPLAIN")},
			Run:        ruleNPlusOne,
		},
		{
			ID: "query.planning_dominates", Area: "queries", Severity: finding.Low,
			Title:       "Planning takes longer than execution",
			Description: "The statement spends more time being planned than run: prepared statements (or a simpler statement) avoid planning each call.",
			Thresholds:  []health.Threshold{{Name: "min_plan_ms", Default: 1, Unit: "ms"}},
			References:  []finding.Reference{finding.DocsRef("sql-prepare.html", "PREPARE")},
			Run:         rulePlanning,
		},
		{
			ID: "query.jit_overhead", Area: "queries", Severity: finding.Medium,
			Title:       "JIT compilation costs more than it saves",
			Description: "Short statements pay for JIT compilation (triggered by high plan costs, often from a bad estimate) that takes a large share of their time.",
			Thresholds: []health.Threshold{
				{Name: "min_share_pct", Default: 20, Unit: "%"},
				{Name: "max_mean_ms", Default: 1000, Unit: "ms"},
			},
			References: []finding.Reference{finding.DocsRef("jit-decision.html", "When to JIT?")},
			Run:        ruleJIT,
		},
		{
			ID: "query.temp_blocks", Area: "queries", Severity: finding.Low, NeedsStats: true,
			Title:       "Statement writes temporary files",
			Description: "pg_stat_statements counts temporary blocks written by the statement: sorts or hashes spill to disk.",
			Thresholds:  []health.Threshold{{Name: "min_blocks_per_call", Default: 1}},
			References:  []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-WORK-MEM", "work_mem")},
			Run:         ruleTempBlocks,
		},
		{
			ID: "query.low_cache_hit", Area: "queries", Severity: finding.Low, NeedsStats: true,
			Title:       "Statement reads mostly from outside shared buffers",
			Description: "A low share of the statement's block accesses hit the buffer cache.",
			Thresholds: []health.Threshold{
				{Name: "min_pct", Default: 90, Unit: "%"},
				{Name: "min_blocks", Default: 1000},
			},
			References: []finding.Reference{finding.DocsRef("using-explain.html", "Using EXPLAIN")},
			Run:        ruleCacheHit,
		},
		{
			ID: "query.slow", Area: "queries", Severity: finding.Medium, NeedsStats: true,
			Title:       "Slow statement",
			Description: "The statement's mean time exceeds queryAnalyzer.slowQueryThreshold; statements reading patient data are held to the patient response-time target.",
			Thresholds: []health.Threshold{
				{Name: "mean_ms", Unit: "ms", FromConfig: func(p *config.Profile) float64 { return float64(p.QueryAnalyzer.SlowQueryThreshold.Milliseconds()) }},
				{Name: "patient_ms", Unit: "ms", FromConfig: func(p *config.Profile) float64 { return float64(p.QueryAnalyzer.PatientResponseTime.Milliseconds()) }},
			},
			References: []finding.Reference{finding.DocsRef("using-explain.html", "Using EXPLAIN")},
			Run:        ruleSlow,
		},
	}
}

// scans of the plan on relations the snapshot knows.
func (c *ruleCtx) scanTable(n *explain.Node) string {
	name := n.QualifiedRelation()
	if n.Schema == "" {
		name = "public." + n.Relation
	}
	return name
}

func ruleSeqScan(c *ruleCtx) []finding.Finding {
	var out []finding.Finding
	seen := map[string]bool{}
	c.plan.Root.Walk(func(n *explain.Node) {
		if n.Type != "Seq Scan" || n.Filter == "" {
			return
		}
		table := c.scanTable(n)
		rows := c.a.rows(table)
		if rows < c.T("min_rows") || seen[table] {
			return
		}
		sel := 100 * n.PlanRows / rows // percent of the table the scan returns
		if sel > c.T("max_selectivity_pct") {
			return
		}
		seen[table] = true
		f := c.New(fmt.Sprintf("Reads all of %s (%.0f rows) to return about %.0f", table, rows, n.PlanRows))
		f.ID = finding.MakeID(f.Check, f.Object+"/"+table)
		ti := c.a.tables[table]
		if ti != nil && ti.class.PHI {
			f.PHI = true
			if c.sev == nil {
				f.Severity = f.Severity.Raise(1)
			}
		}
		f.Evidence = []finding.Evidence{ev("table_rows", math.Round(rows), ""), ev("estimated_rows", math.Round(n.PlanRows), ""),
			ev("selectivity_pct", math.Round(sel*1000)/1000, "%"), ev("plan_cost", round1(c.plan.TotalCost()), "")}
		f.Detail += fmt.Sprintf(" The %s plan filters %s with %s.", c.sr.PlanKind, table, sqlparse.Shorten(scrub(n.Filter), 200))
		f.Recommendation = "An index on the filtered columns serves this; run 'pgmedic index advise' to choose indexes for the whole workload rather than one statement."
		out = append(out, *f)
	})
	return out
}

func ruleRowsRemoved(c *ruleCtx) []finding.Finding {
	var out []finding.Finding
	c.plan.Root.Walk(func(n *explain.Node) {
		if n.Index == "" && n.Type != "Bitmap Heap Scan" || n.RowsRemoved == nil || n.ActualRows == nil {
			return
		}
		loops := 1.0
		if n.ActualLoops != nil && *n.ActualLoops > 0 {
			loops = *n.ActualLoops
		}
		removed := *n.RowsRemoved * loops
		kept := *n.ActualRows * loops
		p := 100 * removed / math.Max(removed+kept, 1)
		if removed < c.T("min_removed") || p < c.T("min_removed_pct") {
			return
		}
		f := c.New(fmt.Sprintf("%s on %s discards %.0f%% of the rows it fetches", n.Type, n.QualifiedRelation(), p))
		c.raise(f)
		f.Evidence = []finding.Evidence{ev("rows_removed", removed, ""), ev("rows_kept", kept, ""), ev("removed_pct", round1(p), "%")}
		f.Detail += fmt.Sprintf(" Index %s finds the rows; the filter %s then drops most of them.", orDash(n.Index), sqlparse.Shorten(scrub(n.Filter), 200))
		f.Recommendation = "Add the filter's columns to the index (after its equality columns), or let 'pgmedic index advise' decide."
		out = append(out, *f)
	})
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ruleNonSargable(c *ruleCtx) []finding.Finding {
	var reasons []string
	table := ""
	for _, p := range c.st.Predicates {
		if p.Table == "" || p.Value == sqlparse.ValColumn && p.Func == "" && p.Cast == "" {
			continue
		}
		switch {
		case p.Func != "" && !c.a.hasExpressionIndex(p.Table, p.Func, p.Column):
			reasons = append(reasons, fmt.Sprintf("the function %s() wraps %s, so only an expression index on %s(%s) can serve it", p.Func, p.Column, p.Func, p.Column))
		case p.Cast != "" && !c.a.hasExpressionIndex(p.Table, p.Cast, p.Column):
			reasons = append(reasons, fmt.Sprintf("the column %s is cast to %s, usually because the value's type does not match the column's; pass the value as the column's type", p.Column, p.Cast))
		case p.LeadingWildcard:
			reasons = append(reasons, fmt.Sprintf("the column %s is matched (%s) against a pattern starting with a wildcard, which a B-tree cannot search (a trigram GIN index can)", p.Column, p.Op))
		default:
			continue
		}
		if table == "" {
			table = p.Table
		}
	}
	if c.st.OrAcross {
		reasons = append(reasons, "an OR compares different columns, so no single index condition covers it (rewrite as UNION ALL, or index each arm)")
	}
	if len(reasons) == 0 {
		return nil
	}
	f := c.New("Predicate cannot use an index: " + firstWords(reasons[0], 8))
	if table != "" && c.a.rows(table) < c.T("min_rows") && c.a.rows(table) > 0 {
		f.Severity = finding.Low
	} else {
		c.raise(f)
	}
	f.Detail += " " + capitalize(strings.Join(reasons, "; ")) + "."
	f.Evidence = []finding.Evidence{ev("problems", float64(len(reasons)), "")}
	f.Recommendation = "Compare the bare column with a value of its own type; where the function is needed (case-insensitive e-mail look-up), create the matching expression index."
	return []finding.Finding{*f}
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.TrimRight(strings.Join(f, " "), ",;") + "..."
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func rulePlanSpill(c *ruleCtx) []finding.Finding {
	var out []finding.Finding
	c.plan.Root.Walk(func(n *explain.Node) {
		spill := n.SortSpaceType == "Disk" || n.HashBatches > 1 || (n.Type == "Sort" && n.TempWritten > 0)
		if !spill {
			return
		}
		f := c.New(fmt.Sprintf("%s spilled to disk", n.Type))
		f.ID = finding.MakeID(f.Check, f.Object+"/"+n.Type)
		f.Evidence = []finding.Evidence{ev("temp_written_blocks", n.TempWritten, ""), ev("hash_batches", n.HashBatches, ""), ev("sort_space_kb", n.SortSpaceKB, "kB")}
		f.Recommendation = "Raise work_mem for this statement's transaction (SET LOCAL work_mem = '64MB'), or avoid the sort with an index in the needed order."
		out = append(out, *f)
	})
	return out
}

func ruleMisestimate(c *ruleCtx) []finding.Finding {
	var worst *explain.Node
	worstRatio := 0.0
	c.plan.Root.Walk(func(n *explain.Node) {
		if n.ActualRows == nil {
			return
		}
		loops := 1.0
		if n.ActualLoops != nil && *n.ActualLoops > 0 {
			loops = *n.ActualLoops
		}
		actual := *n.ActualRows * loops
		planned := n.PlanRows * loops
		if math.Max(actual, planned) < c.T("min_rows") {
			return
		}
		ratio := math.Max(actual, 1) / math.Max(planned, 1)
		if ratio < 1 {
			ratio = 1 / ratio
		}
		if ratio >= c.T("factor") && ratio > worstRatio {
			worst, worstRatio = n, ratio
		}
	})
	if worst == nil {
		return nil
	}
	f := c.New(fmt.Sprintf("Planner's row estimate off by %.0f× at %s", worstRatio, worst.Type))
	loops := 1.0
	if worst.ActualLoops != nil {
		loops = *worst.ActualLoops
	}
	f.Evidence = []finding.Evidence{ev("estimated_rows", worst.PlanRows*loops, ""), ev("actual_rows", *worst.ActualRows*loops, ""), ev("factor", round1(worstRatio), "")}
	f.Recommendation = "ANALYZE the tables involved; for correlated columns (provider and specialty, status and date) create extended statistics (CREATE STATISTICS ... (dependencies, ndistinct)); raise the column's statistics target for skewed columns."
	return []finding.Finding{*f}
}

func ruleNestedLoop(c *ruleCtx) []finding.Finding {
	var out []finding.Finding
	c.plan.Root.Walk(func(n *explain.Node) {
		if n.Type != "Nested Loop" || len(n.Children) < 2 {
			return
		}
		outer, inner := n.Children[0], n.Children[1]
		rows := outer.PlanRows
		if outer.ActualRows != nil {
			rows = *outer.ActualRows
		}
		if rows < c.T("min_outer_rows") {
			return
		}
		innerIndexed := false
		inner.Walk(func(m *explain.Node) {
			if m.Index != "" {
				innerIndexed = true
			}
		})
		f := c.New(fmt.Sprintf("Nested loop over %.0f outer rows", rows))
		f.ID = finding.MakeID(f.Check, f.Object+"/"+n.Type)
		if !innerIndexed {
			f.Severity = finding.High
			f.Detail += " Its inner side has no index scan: each outer row re-reads it."
		}
		f.Evidence = []finding.Evidence{ev("outer_rows", math.Round(rows), ""), ev("plan_cost", round1(n.TotalCost), "")}
		f.Recommendation = "Give the inner side an index on the join key, or check the outer row estimate (a misestimate often makes the planner choose a nested loop)."
		out = append(out, *f)
	})
	return out
}

func ruleOffset(c *ruleCtx) []finding.Finding {
	off := c.st.Offset
	if off == nil || off.All || (off.Param == 0 && off.Value == 0) || c.st.Kind != sqlparse.Select {
		return nil
	}
	f := c.New("Paging with OFFSET")
	if off.Param == 0 && float64(off.Value) >= c.T("deep_offset") {
		f.Severity = finding.Medium
		f.Title = fmt.Sprintf("Paging with OFFSET %d", off.Value)
	}
	f.Recommendation = "Use keyset pagination: remember the last row's sort values and ask for the rows after them."
	if rewritten, ok := keysetRewrite(c.sr.Query); ok {
		f.Detail += " Keyset version (the new parameters are the previous page's last sort values): " + rewritten
	} else {
		f.Detail += " The sort keys are expressions or mixed directions, so rewrite by hand with a row comparison on a unique sort key."
	}
	return []finding.Finding{*f}
}

func ruleSelectStar(c *ruleCtx) []finding.Finding {
	if !c.st.SelectStar {
		return nil
	}
	var out []finding.Finding
	for _, table := range c.st.StarTables {
		ti := c.a.tables[table]
		if ti == nil {
			continue
		}
		wide := float64(len(ti.t.Columns)) >= c.T("wide_columns")
		if !wide && !ti.class.PHI {
			continue
		}
		f := c.New(fmt.Sprintf("SELECT * returns all %d columns of %s", len(ti.t.Columns), table))
		f.ID = finding.MakeID(f.Check, f.Object+"/"+table)
		var ids []string
		for col, id := range ti.phiCols {
			ids = append(ids, col+" ("+id.String()+")")
		}
		sort.Strings(ids)
		if ti.class.PHI {
			f.PHI = true
			f.Severity = finding.Medium
			if len(ids) > 0 {
				f.Detail += " It returns identifiers: " + strings.Join(ids, ", ") + "."
			}
		}
		var cols []string
		for _, col := range ti.t.Columns {
			cols = append(cols, quoteIdent(col.Name))
		}
		f.Evidence = []finding.Evidence{ev("columns", float64(len(ti.t.Columns)), ""), ev("identifier_columns", float64(len(ids)), "")}
		f.Recommendation = "Name the columns the caller uses (minimum necessary): start from " + strings.Join(cols, ", ") + " and drop what it does not need."
		out = append(out, *f)
	}
	return out
}

func ruleUnbounded(c *ruleCtx) []finding.Finding {
	st := c.st
	if st.Kind != sqlparse.Select || st.Limit != nil && !st.Limit.All {
		return nil
	}
	rows, basis := 0.0, ""
	switch {
	case c.sr.in.HasStats && c.sr.Calls > 0:
		rows, basis = c.sr.RowsPerCall, "rows per call"
	case c.plan != nil:
		rows, basis = c.plan.Root.PlanRows, "planned rows"
	}
	if rows < c.T("min_rows") {
		return nil
	}
	f := c.New(fmt.Sprintf("Returns about %.0f rows per call without a LIMIT", rows))
	c.raise(f)
	f.Evidence = []finding.Evidence{ev(strings.ReplaceAll(basis, " ", "_"), math.Round(rows), "")}
	f.Recommendation = "Page the result (LIMIT with keyset pagination) or aggregate in the database; a screen or an API response rarely needs thousands of rows."
	return []finding.Finding{*f}
}

func ruleNPlusOne(c *ruleCtx) []finding.Finding {
	sr := c.sr
	var totalCalls int64
	if c.a.snap != nil {
		totalCalls = c.a.snap.Workload.TotalCalls
	}
	share := 0.0
	if totalCalls > 0 {
		share = 100 * float64(sr.Calls) / float64(totalCalls)
	}
	if c.st.Kind != sqlparse.Select || float64(sr.Calls) < c.T("min_calls") || share < c.T("min_calls_pct") ||
		sr.RowsPerCall > 1 || sr.MeanMs > c.T("max_mean_ms") {
		return nil
	}
	eq := false
	for _, p := range c.st.Predicates {
		if p.Op == "=" && p.Value == sqlparse.ValParam && !p.InOr {
			eq = true
		}
	}
	if !eq {
		return nil
	}
	f := c.New(fmt.Sprintf("Single-row look-up called %d times (%.0f%% of all calls)", sr.Calls, share))
	f.Evidence = []finding.Evidence{ev("calls", float64(sr.Calls), ""), ev("calls_pct", round1(share), "%"), ev("rows_per_call", round1(sr.RowsPerCall), "")}
	f.Recommendation = "Fetch the rows for all keys in one statement."
	if rewritten, ok := batchRewrite(sr.Query); ok {
		f.Detail += " Batched version (pass an array of keys): " + rewritten
	}
	return []finding.Finding{*f}
}

func rulePlanning(c *ruleCtx) []finding.Finding {
	var plan, exec float64
	switch {
	case c.plan != nil && c.plan.Analyzed:
		plan, exec = c.plan.PlanningMs, c.plan.ExecutionMs
	case c.sr.in.HasStats && c.sr.in.TotalPlanMs > 0 && c.sr.Calls > 0:
		plan, exec = c.sr.in.TotalPlanMs/float64(c.sr.Calls), c.sr.MeanMs
	default:
		return nil
	}
	if plan < c.T("min_plan_ms") || plan <= exec {
		return nil
	}
	f := c.New(fmt.Sprintf("Planning (%.1f ms) takes longer than execution (%.1f ms)", plan, exec))
	f.Evidence = []finding.Evidence{ev("planning_ms", round1(plan), "ms"), ev("execution_ms", round1(exec), "ms")}
	f.Recommendation = "Use prepared statements so the plan is reused (most drivers do with the extended protocol); for partitioned tables, make sure the partition key is in the WHERE clause so pruning happens at plan time."
	return []finding.Finding{*f}
}

func ruleJIT(c *ruleCtx) []finding.Finding {
	var jit, total float64
	switch {
	case c.plan != nil && c.plan.Analyzed && c.plan.JIT != nil:
		jit, total = c.plan.JIT.TotalMs, c.plan.ExecutionMs
	case c.sr.in.HasStats && c.sr.in.JITFunctions > 0 && c.sr.TotalMs > 0:
		jit, total = c.sr.in.JITTimeMs, c.sr.TotalMs
	default:
		return nil
	}
	share := 100 * jit / math.Max(total, 0.001)
	mean := c.sr.MeanMs
	if c.plan != nil && c.plan.Analyzed {
		mean = c.plan.ExecutionMs
	}
	if share < c.T("min_share_pct") || mean > c.T("max_mean_ms") {
		return nil
	}
	f := c.New(fmt.Sprintf("JIT compilation takes %.0f%% of the statement's time", share))
	f.Evidence = []finding.Evidence{ev("jit_ms", round1(jit), "ms"), ev("share_pct", round1(share), "%")}
	f.Recommendation = "For OLTP roles turn JIT off (ALTER ROLE app SET jit = off) or raise jit_above_cost; JIT pays off only for long analytical statements."
	return []finding.Finding{*f}
}

func ruleTempBlocks(c *ruleCtx) []finding.Finding {
	if c.sr.Calls == 0 || float64(c.sr.TempWritten)/float64(c.sr.Calls) < c.T("min_blocks_per_call") {
		return nil
	}
	perCall := float64(c.sr.TempWritten) / float64(c.sr.Calls)
	f := c.New(fmt.Sprintf("Writes %.0f temporary blocks per call", perCall))
	f.Evidence = []finding.Evidence{ev("temp_blocks_written", float64(c.sr.TempWritten), ""), ev("per_call", round1(perCall), "")}
	f.Recommendation = "See the sort or hash that spills with 'pgmedic explain --analyze'; raise work_mem for this statement's transaction or give it an index in the needed order."
	return []finding.Finding{*f}
}

func ruleCacheHit(c *ruleCtx) []finding.Finding {
	in := c.sr.in
	total := float64(in.SharedHit + in.SharedRead)
	if total < c.T("min_blocks") {
		return nil
	}
	hit := 100 * float64(in.SharedHit) / total
	if hit >= c.T("min_pct") {
		return nil
	}
	f := c.New(fmt.Sprintf("Only %.0f%% of the statement's block reads hit the cache", hit))
	f.Evidence = []finding.Evidence{ev("hit_pct", round1(hit), "%"), ev("blocks_read", float64(in.SharedRead), "")}
	f.Recommendation = "Read fewer blocks (an index instead of a scan), or give shared_buffers room for this data."
	return []finding.Finding{*f}
}

func ruleSlow(c *ruleCtx) []finding.Finding {
	sr := c.sr
	if sr.Calls == 0 {
		return nil
	}
	slowMean := sr.MeanMs >= c.T("mean_ms")
	slowPatient := sr.Patient && sr.MaxMs >= c.T("patient_ms")
	if !slowMean && !slowPatient {
		return nil
	}
	f := c.New(fmt.Sprintf("Averages %.0f ms over %d calls", sr.MeanMs, sr.Calls))
	if slowPatient {
		f.Severity = finding.High
		f.Title = fmt.Sprintf("Patient data statement takes up to %.0f ms (target %.0f ms)", sr.MaxMs, c.T("patient_ms"))
	}
	f.Evidence = []finding.Evidence{ev("mean_ms", round1(sr.MeanMs), "ms"), ev("max_ms", round1(sr.MaxMs), "ms"), ev("calls", float64(sr.Calls), ""),
		ev("share_of_total_pct", round1(sr.SharePct), "%")}
	f.Recommendation = "The other findings on this statement say why; 'pgmedic index advise' chooses indexes for it and the rest of the workload."
	return []finding.Finding{*f}
}

// scrub removes literal values from a plan condition before it is shown (custom plans
// carry representative values from pg_stats).
func scrub(cond string) string { return scrubLiterals(cond) }

func quoteIdent(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	}
	return s
}

// RuleInfos describes every rule for reports.
func RuleInfos() []report.CheckInfo {
	var out []report.CheckInfo
	for _, r := range Rules() {
		out = append(out, report.CheckInfo{ID: r.ID, Area: r.Area, Title: r.Title, Description: r.Description, Severity: r.Severity, References: r.References})
	}
	return out
}
