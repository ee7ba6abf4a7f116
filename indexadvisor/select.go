package indexadvisor

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
)

// cand is a candidate under evaluation.
type cand struct {
	ix *Index
	// also holds the rest of an OR bundle: indexes that only pay together (a
	// BitmapOr needs one per branch). They are measured, chosen and counted as one.
	also    []*Index
	stmts   []*stmt
	size    int64
	penalty float64
	gain    float64 // net gain when last evaluated
	costs   map[*stmt]float64
	hypo    hypoIndex
	// seen holds each statement's version when the candidate was last planned with
	// it. A re-evaluation replans only the statements whose best plan a chosen index
	// has changed since, and of those only the ones that read several relations,
	// where two indexes work together (a join's two sides). For a one-table statement
	// the better of the two single-index plans stands for the plan with both, so the
	// stored cost still gives the candidate's gain (the final pass, which plans every
	// statement with every chosen index, drops an index no plan ends up using).
	seen      map[*stmt]int
	evaluated bool
	// joint marks statements whose plan with the candidate also uses a chosen index:
	// the two work as a pair (a join's two sides), so the candidate is judged by what
	// the pair does for the statement, not by its share of it.
	joint map[*stmt]bool
	// own are the statements the candidate was made for; the others only share its
	// leading column. When there are many of those, their costs are borrowed from the
	// one-column candidate on that column (lead) instead of planned again: a wider
	// index on the same leading column serves them no better.
	own  map[*stmt]bool
	lead *cand
}

// borrowAbove is the number of leading-column-only statements from which a wide
// candidate borrows their costs instead of planning each (4,950 statements over 100
// columns would otherwise take half a million plans).
const borrowAbove = 16

// maxChosen bounds a run's recommendations.
const maxChosen = 40

func (a *Advisor) generate(stmts []*stmt) []*cand {
	bySig := map[string]*cand{}
	var order []*cand
	type tableAccess struct {
		s *stmt
		x *access
	}
	perTable := map[string][]tableAccess{}
	for _, s := range stmts {
		for _, x := range append(a.accesses(s), a.planAccesses(s)...) {
			perTable[x.table.QualifiedName()] = append(perTable[x.table.QualifiedName()], tableAccess{s, x})
			for _, ix := range a.candidates(x) {
				if a.servedByExisting(ix) {
					continue
				}
				sig := ix.Signature()
				c := bySig[sig]
				if c == nil {
					c = &cand{ix: ix}
					bySig[sig] = c
					order = append(order, c)
				}
				for _, src := range sourcesOf(s) {
					addUnique(&c.ix.Sources, src)
				}
				addStmt(c, s)
				if c.own == nil {
					c.own = map[*stmt]bool{}
				}
				c.own[s] = true
			}
			for _, bundle := range a.orBundles(x) {
				var need []*Index
				for _, ix := range bundle {
					if !a.servedByExisting(ix) {
						need = append(need, ix)
					}
				}
				if len(need) == 0 {
					continue
				}
				var sigs []string
				for _, ix := range need {
					sigs = append(sigs, ix.Signature())
				}
				sort.Strings(sigs)
				sig := strings.Join(sigs, " | ")
				c := bySig[sig]
				if c == nil {
					c = &cand{ix: need[0], also: need[1:]}
					bySig[sig] = c
					order = append(order, c)
				}
				for _, ix := range c.members() {
					for _, src := range sourcesOf(s) {
						addUnique(&ix.Sources, src)
					}
				}
				addStmt(c, s)
			}
		}
	}
	// A candidate may serve other statements on its table that constrain or sort by its
	// leading column (or share its partial predicate).
	for _, c := range order {
		lead := c.ix.leading()
		for _, ta := range perTable[c.ix.Qualified()] {
			x := ta.x
			relevant := contains(x.eq, lead) || contains(x.rng, lead) || contains(x.joins, lead) || contains(x.exprs, lead) ||
				len(x.sort) > 0 && x.sort[0].Column == lead || c.ix.Where != "" && contains(x.partial, c.ix.Where)
			if relevant {
				addStmt(c, ta.s)
			}
		}
	}
	linkLeads(order, bySig)
	a.stats.Candidates = len(order)
	return order
}

// linkLeads points each wide candidate with many leading-column-only statements at
// the one-column candidate on its leading column, whose plans stand for those.
func linkLeads(order []*cand, bySig map[string]*cand) {
	for _, c := range order {
		if len(c.also) > 0 || len(c.ix.Keys) < 2 && len(c.ix.Include) == 0 || len(c.stmts)-len(c.own) <= borrowAbove {
			continue
		}
		single := &Index{Schema: c.ix.Schema, Table: c.ix.Table, Keys: c.ix.Keys[:1], Method: c.ix.Method, Where: c.ix.Where}
		if lead := bySig[single.Signature()]; lead != nil && lead != c {
			c.lead = lead
		}
	}
}

// members are the candidate's indexes: one, or an OR bundle's.
func (c *cand) members() []*Index { return append([]*Index{c.ix}, c.also...) }

func sourcesOf(s *stmt) []string {
	if s.preset != "" {
		return []string{"preset: " + s.preset}
	}
	return []string{"workload"}
}

func addStmt(c *cand, s *stmt) {
	for _, x := range c.stmts {
		if x == s {
			return
		}
	}
	c.stmts = append(c.stmts, s)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// selectIndexes picks indexes greedily by net gain over the whole workload, re-measuring
// a candidate only when it reaches the top (its gain can only shrink as others are
// chosen), until the next best saves too little or a budget is spent.
func (a *Advisor) selectIndexes(ctx context.Context, stmts []*stmt) ([]*cand, error) {
	cands := a.generate(stmts)
	var total float64
	for _, s := range stmts {
		total += s.weight * s.base
	}
	if total == 0 || len(cands) == 0 {
		return nil, nil
	}
	var chosen []*cand
	tick := a.ticker()
	for i, c := range cands {
		tick("measured %d of %d candidate indexes", i, len(cands))
		if err := a.evaluate(ctx, c, stmts); err != nil {
			return nil, err
		}
	}
	perTable := map[string]int{}
	for _, ix := range a.snap.Indexes {
		if ix.Valid {
			perTable[ix.Schema+"."+ix.Table]++
		}
	}
	maxPerTable := a.cfg.IndexOptimizer.MaxIndexesPerTable
	budget := int64(a.cfg.IndexOptimizer.MaxStorageBytes)
	var used int64
	// The bar is a share of what the workload still costs with the indexes chosen so
	// far, not of what it cost bare: once the scans that dominated are gone, the
	// statement that is left (a monthly report) dominates, and an index that would
	// have been noise at the start is now worth having. Below that, a floor of a fifth
	// of the bar on the bare workload keeps a second index for a statement already
	// served from being bought for a few cost units; an index that completes a join
	// pair with a chosen one is exempt (the planner prices its share of the pair low).
	noise := total * a.opts.MinGainPct / 100 / 50
	floor := total * a.opts.MinGainPct / 100 / 5
	minGain := func() float64 {
		var cur float64
		for _, s := range stmts {
			cur += s.weight * s.cur
		}
		return math.Max(cur*a.opts.MinGainPct/100, noise)
	}
	pool := cands
	for len(chosen) < maxChosen && len(pool) > 0 {
		tick("chose %d indexes; %d candidates left", len(chosen), len(pool))
		minGain := minGain()
		sort.SliceStable(pool, func(i, j int) bool {
			if pool[i].gain != pool[j].gain {
				return pool[i].gain > pool[j].gain
			}
			return len(pool[i].ix.Keys)+len(pool[i].ix.Include) < len(pool[j].ix.Keys)+len(pool[j].ix.Include)
		})
		best := pool[0]
		if best.gain <= minGain {
			break
		}
		if err := a.evaluate(ctx, best, stmts); err != nil {
			return nil, err
		}
		if len(pool) > 1 && best.gain < pool[1].gain {
			continue // it fell behind; the next one gets its turn
		}
		pool = pool[1:]
		if best.gain <= minGain || best.gain < floor && !a.mostlyJoint(best) || !a.improvesEnough(best) {
			continue
		}
		var fresh []*Index // an OR bundle may include an index chosen already
		for _, ix := range best.members() {
			if !a.hypo.has(ix) {
				fresh = append(fresh, ix)
			}
		}
		if perTable[best.ix.Qualified()]+len(fresh) > maxPerTable || budget > 0 && used+best.size > budget {
			continue
		}
		// Keep it: its hypothetical indexes stay for the rest of the selection, each
		// one a chosen index of its own.
		for _, ix := range fresh {
			hi, err := a.hypo.create(ctx, ix)
			if err != nil {
				return nil, err
			}
			one := best
			if ix != best.ix {
				one = &cand{ix: ix, costs: best.costs, evaluated: true, size: hi.size}
			}
			one.hypo = hi
			chosen = append(chosen, one)
			a.chosenNames = append(a.chosenNames, hi.name)
			perTable[ix.Qualified()]++
		}
		for s, cost := range best.costs {
			if cost < s.cur {
				s.cur = cost
				s.version++
			}
		}
		used += best.size
		// Candidates the chosen indexes already serve go.
		kept := pool[:0]
		for _, c := range pool {
			servedAll := true
			for _, m := range c.members() {
				servedNow := false
				for _, ix := range fresh {
					servedNow = servedNow || serves(ix, m)
				}
				servedAll = servedAll && (servedNow || a.hypo.has(m))
			}
			if !servedAll {
				kept = append(kept, c)
			}
		}
		pool = kept
	}
	return chosen, nil
}

// mostlyJoint: most of the candidate's gain comes from plans in which it works with
// an index already chosen.
func (a *Advisor) mostlyJoint(c *cand) bool {
	var joint, all float64
	for s, cost := range c.costs {
		if cost < s.cur {
			g := s.weight * (s.cur - cost)
			all += g
			if c.joint[s] {
				joint += g
			}
		}
	}
	return all > 0 && joint >= all/2
}

// improvesEnough applies indexOptimizer.minImprovementPct to the statements it helps:
// their cost with it against their cost now, or, where it works in one plan with an
// index already chosen, against their cost before the advice. The planner prices the
// second index of a join pair (the inner side's index-only probes) at a fraction of
// what it saves in practice, so judging it alone would drop half of the pair.
func (a *Advisor) improvesEnough(c *cand) bool {
	var before, saved float64
	for s, cost := range c.costs {
		if cost < s.cur {
			ref := s.cur
			if c.joint[s] {
				ref = s.base
			}
			before += s.weight * ref
			saved += s.weight * (ref - cost)
		}
	}
	return before > 0 && 100*saved/before >= a.cfg.IndexOptimizer.MinImprovementPct
}

// evaluate measures a candidate on top of the indexes chosen so far. A candidate
// measured before is replanned only for the statements a chosen index improved since.
func (a *Advisor) evaluate(ctx context.Context, c *cand, all []*stmt) error {
	if math.IsInf(c.gain, -1) {
		return nil
	}
	var replan []*stmt
	if !c.evaluated {
		replan = c.stmts
		c.costs = map[*stmt]float64{}
		c.seen = map[*stmt]int{}
		c.joint = map[*stmt]bool{}
	} else {
		for _, s := range c.stmts {
			if c.seen[s] != s.version && s.multi {
				replan = append(replan, s)
				delete(c.costs, s)
			}
		}
	}
	for _, s := range replan {
		c.seen[s] = s.version
	}
	if c.lead != nil && !c.lead.evaluated {
		if err := a.evaluate(ctx, c.lead, all); err != nil {
			return err
		}
	}
	if len(replan) > 0 {
		var his []hypoIndex
		var created []*Index
		c.size = 0
		for _, ix := range c.members() {
			if a.hypo.has(ix) {
				continue // an OR bundle member a chosen index already is
			}
			hi, err := a.hypo.create(ctx, ix)
			if err != nil {
				// HypoPG rejects some definitions (unsupported types): the candidate cannot win.
				for _, made := range created {
					_ = a.hypo.drop(ctx, made)
				}
				c.gain = math.Inf(-1)
				return nil
			}
			his, created = append(his, hi), append(created, ix)
			c.size += hi.size
		}
		if len(his) == 0 {
			c.gain = math.Inf(-1)
			return nil
		}
		for _, s := range replan {
			if c.lead != nil && !c.own[s] {
				if cost, ok := c.lead.costs[s]; ok {
					c.costs[s] = cost
					c.joint[s] = c.lead.joint[s]
				}
				continue
			}
			pl, err := a.plan(ctx, s)
			if err != nil || !usesAll(pl, his) {
				continue
			}
			c.costs[s] = pl.TotalCost()
			c.joint[s] = false
			for _, name := range a.chosenNames {
				if pl.UsesIndex(name) {
					c.joint[s] = true
					break
				}
			}
		}
		for _, ix := range created {
			if err := a.hypo.drop(ctx, ix); err != nil {
				return err
			}
		}
		for _, s := range replan {
			if s.generic {
				couple(c, s)
			}
		}
	}
	if !c.evaluated {
		c.penalty = a.writePenalty(c, all)
		c.evaluated = true
	}
	gain := 0.0
	for s, cost := range c.costs {
		if cost < s.cur {
			gain += s.weight * (s.cur - cost)
		}
	}
	c.gain = gain - c.penalty
	return nil
}

// couple sets a generic twin's cost with the candidate to the cheaper of its generic
// plan and its sibling's custom plan (the plan cache's choice), when either uses it.
func couple(c *cand, t *stmt) {
	best := math.Inf(1)
	if g, ok := c.costs[t]; ok {
		best = g
	}
	if cu, ok := c.costs[t.sibling]; ok && cu < best {
		best = cu
	}
	if best < t.cur {
		c.costs[t] = best
	} else {
		delete(c.costs, t)
	}
}

func usesAll(pl *explain.Plan, his []hypoIndex) bool {
	for _, hi := range his {
		if !pl.UsesIndex(hi.name) {
			return false
		}
	}
	return true
}

// writePenalty sums the penalty of the candidate's indexes.
func (a *Advisor) writePenalty(c *cand, all []*stmt) float64 {
	total := 0.0
	for _, ix := range c.members() {
		size := c.size / int64(len(c.members()))
		total += a.indexWritePenalty(ix, size, all)
	}
	return total
}

// indexWritePenalty estimates what the index adds to the workload's writes: one index entry
// for every row inserted, and for every row an UPDATE changes in one of its columns
// (such updates also stop being HOT), at a cost per entry that grows with the index's
// size. Only writes the workload itself shows count: a bulk load in the table's
// lifetime statistics says nothing about its steady state.
func (a *Advisor) indexWritePenalty(ix *Index, size int64, all []*stmt) float64 {
	cols := map[string]bool{}
	for _, k := range ix.Keys {
		cols[k.Column] = true
		if k.Expr != "" {
			for _, w := range strings.FieldsFunc(k.Expr, func(r rune) bool { return r == '(' || r == ')' || r == ',' || r == ' ' }) {
				cols[strings.Trim(w, `"`)] = true
			}
		}
	}
	for _, inc := range ix.Include {
		cols[inc] = true
	}
	var entries float64
	for _, s := range all {
		st := s.parsed
		if !st.Writes || st.Target == nil || st.Target.Qualified() != ix.Qualified() {
			continue
		}
		rows := s.rowsPerCall
		if rows <= 0 {
			rows = 1
		}
		switch st.Kind {
		case sqlparse.Insert:
			entries += s.calls * rows
		case sqlparse.Update:
			for _, u := range st.UpdatedColumns {
				if cols[u] {
					entries += s.calls * rows
					break
				}
			}
		}
	}
	pages := float64(size) / 8192
	perEntry := a.cfg.IndexOptimizer.WriteCostWeight * (2 + math.Log2(1+pages/1000))
	scale := a.msPerCost
	if a.mode == "equal" {
		scale = 0 // no call counts: writes cannot be weighed against reads
	}
	return entries * perEntry * scale
}

// serves reports whether index have makes want unnecessary: want's keys are a prefix of
// have's, with the same method and predicate, and have carries want's INCLUDE columns.
func serves(have, want *Index) bool {
	if have.Qualified() != want.Qualified() || have.method() != want.method() || normPred(have.Where) != normPred(want.Where) {
		return false
	}
	if len(want.Keys) > len(have.Keys) {
		return false
	}
	for i, k := range want.Keys {
		if k.label() != have.Keys[i].label() {
			return false
		}
	}
	for _, inc := range want.Include {
		found := contains(have.Include, inc)
		for _, k := range have.Keys {
			found = found || k.Column == inc
		}
		if !found {
			return false
		}
	}
	return true
}

// servedByExisting: an existing valid index already covers the candidate.
func (a *Advisor) servedByExisting(ix *Index) bool {
	for i := range a.snap.Indexes {
		if e := existingAsIndex(&a.snap.Indexes[i]); e != nil && serves(e, ix) {
			return true
		}
	}
	return false
}

var castRE = regexp.MustCompile(`::[a-z][a-z0-9_ ]*(\[\])?`)

// normPred compares predicates as text, ignoring casts, parentheses and spacing
// (pg_get_expr writes status = 'pended'::text for status = 'pended').
func normPred(p string) string {
	p = castRE.ReplaceAllString(p, "")
	p = strings.NewReplacer("(", "", ")", "", " ", "", `"`, "").Replace(p)
	return strings.ToLower(p)
}

// existingAsIndex reads a real index as an Index (nil for what the advisor does not
// model: non-btree methods, invalid indexes).
func existingAsIndex(e *snapshot.Index) *Index {
	if !e.Valid || e.Method != "btree" {
		return nil
	}
	ix := &Index{Schema: e.Schema, Table: e.Table, Method: "btree", Where: e.Predicate}
	for i, c := range e.Columns {
		k := Key{}
		c = strings.TrimSpace(c)
		switch e.KeyOption(i) {
		case "":
		case "DESC":
			k.Desc = true
		default:
			// An operator class or collation of its own: it serves other queries than
			// the plain candidates, so it is not modelled.
			return nil
		}
		if strings.HasPrefix(c, "(") || strings.Contains(c, "(") {
			k.Expr = strings.TrimSuffix(strings.TrimPrefix(c, "("), ")")
			if !strings.Contains(k.Expr, "(") {
				k.Expr = c
			}
		} else {
			k.Column = strings.Trim(c, `"`)
		}
		ix.Keys = append(ix.Keys, k)
	}
	for _, c := range e.Include {
		ix.Include = append(ix.Include, strings.Trim(c, `"`))
	}
	return ix
}

// finalize plans every statement with all chosen indexes, drops chosen indexes that no
// final plan uses (a later choice can make an earlier one pointless), and reports each
// remaining index with the statements it serves and their cost before and after.
func (a *Advisor) finalize(ctx context.Context, stmts []*stmt, chosen []*cand) ([]Recommendation, error) {
	for round := 0; round < 3 && len(chosen) > 0; round++ {
		used := map[string]bool{}
		finalPlans := map[*stmt]*explain.Plan{}
		for _, s := range stmts {
			if s.basePlan == nil {
				continue
			}
			pl, err := a.plan(ctx, s)
			if err != nil {
				continue
			}
			finalPlans[s] = pl
			s.cur = math.Min(pl.TotalCost(), s.base)
			if s.generic && finalPlans[s.sibling] != nil {
				s.cur = math.Min(s.cur, finalPlans[s.sibling].TotalCost())
			}
			for _, c := range chosen {
				if pl.UsesIndex(c.hypo.name) {
					used[c.hypo.name] = true
				}
			}
		}
		var kept []*cand
		for _, c := range chosen {
			if used[c.hypo.name] {
				kept = append(kept, c)
			} else if err := a.hypo.drop(ctx, c.ix); err != nil {
				return nil, err
			}
		}
		if len(kept) == len(chosen) {
			return a.recommendations(stmts, chosen, finalPlans), nil
		}
		chosen = kept
	}
	for _, s := range stmts {
		if s.basePlan != nil && len(chosen) == 0 {
			s.cur = s.base
		}
	}
	return a.recommendations(stmts, chosen, nil), nil
}

func (a *Advisor) recommendations(stmts []*stmt, chosen []*cand, plans map[*stmt]*explain.Plan) []Recommendation {
	var out []Recommendation
	for _, c := range chosen {
		r := Recommendation{Table: c.ix.Qualified(), Name: c.ix.Name(), Columns: c.ix.Columns(), Include: c.ix.Include,
			Where: c.ix.Where, Method: c.ix.method(), SQL: c.ix.Definition(true), EstimatedSizeBytes: c.size, Sources: c.ix.Sources, Measured: true}
		if r.Include == nil {
			r.Include = []string{}
		}
		if t := a.table(r.Table); t != nil && t.Kind == "partitioned" {
			r.Partitioned = true
		}
		for _, s := range stmts {
			pl := plans[s]
			if pl == nil || !pl.UsesIndex(c.hypo.name) || s.preset != "" && s.weight == 0 {
				continue // a preset's probe counts only when there is no workload
			}
			after := pl.TotalCost()
			if s.generic && plans[s.sibling] != nil {
				after = math.Min(after, plans[s.sibling].TotalCost())
			}
			r.CostBefore += s.weight * s.base
			r.CostAfter += s.weight * after
			addUnique(&r.Statements, s.normalized()) // a statement and its generic twin
		}
		if r.CostBefore > 0 {
			r.ImprovementPct = round1(100 * (r.CostBefore - r.CostAfter) / r.CostBefore)
		}
		r.CostBefore, r.CostAfter = round1(r.CostBefore), round1(r.CostAfter)
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CostBefore-out[i].CostAfter > out[j].CostBefore-out[j].CostAfter })
	return out
}
