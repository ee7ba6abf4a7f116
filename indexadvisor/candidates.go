package indexadvisor

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
)

// maxKeys bounds candidate width: wider B-trees rarely pay for their size.
const maxKeys = 3

// BRIN pays on large tables whose column values follow the physical order closely.
const (
	brinCorrelation = 0.95
	brinMinRows     = 100_000
)

// maxInclude bounds INCLUDE lists: "small select lists" only.
const maxInclude = 3

// access is what one statement needs from one table.
type access struct {
	table   *snapshot.Table
	eq      []string // equality, IN, = ANY, IS NULL columns
	rng     []string // range columns (<, >, BETWEEN, prefix LIKE)
	sort    []Key    // ORDER BY keys, when they all belong to this table
	joins   []string // columns joined to other tables
	exprs   []string // lower(col) = ... : expression keys
	partial []string // SQL predicates usable as partial-index conditions
	// partialCol names, per partial predicate, the column it tests: the key of a
	// partial index when the statement constrains nothing else.
	partialCol map[string]string
	cols       []string // every column the statement reads from the table
	limit      bool
	// singleRow: the statement returns one row and reads one from this table (a
	// lookup by a unique key): an index-only scan would save one page read, which
	// does not pay for a second index.
	singleRow bool
	// ors holds, per OR over this table, one key per branch: a BitmapOr needs them all.
	ors [][]Key
}

// accesses splits a statement into per-table access paths.
func (a *Advisor) accesses(s *stmt) []*access {
	st := s.parsed
	if st.Kind == sqlparse.Insert || st.Kind == sqlparse.Utility {
		return nil
	}
	byTable := map[string]*access{}
	get := func(name string) *access {
		if name == "" {
			return nil
		}
		if x, ok := byTable[name]; ok {
			return x
		}
		t := a.table(name)
		if t == nil || a.tooSmall(t) {
			// Unknown (a view the plan must resolve) or too small to need an index.
			byTable[name] = nil
			return nil
		}
		x := &access{table: t, limit: st.Limit != nil && !st.Limit.All}
		byTable[name] = x
		return x
	}
	for _, p := range st.Predicates {
		x := get(p.Table)
		if x == nil || p.Negated || p.InOr {
			continue
		}
		col := p.Column
		if !hasColumn(x.table, col) {
			continue
		}
		addUnique(&x.cols, col)
		switch {
		case p.Func != "" || p.Cast != "":
			if (p.Func == "lower" || p.Func == "upper") && p.Cast == "" && (p.Op == "=" || p.Op == "IN" || p.Op == "ANY") {
				addUnique(&x.exprs, p.Func+"("+quoteCol(col)+")")
			}
		case p.Value == sqlparse.ValColumn:
			if p.OtherTable != p.Table && p.Op == "=" {
				addUnique(&x.joins, col)
			}
		case p.Op == "IS NOT NULL":
			if pred, ok := a.partialPredicate(s, x.table, p); ok {
				x.addPartial(pred, col)
			}
		case p.Op == "=" || p.Op == "IN" || p.Op == "ANY" || p.Op == "IS NULL":
			if pred, ok := a.partialPredicate(s, x.table, p); ok {
				x.addPartial(pred, col)
				if p.Op != "IS NULL" {
					continue
				}
			}
			addUnique(&x.eq, col)
		case p.Op == "<" || p.Op == ">" || p.Op == "<=" || p.Op == ">=" || p.Op == "BETWEEN":
			addUnique(&x.rng, col)
		case (p.Op == "LIKE") && p.Value == sqlparse.ValConst && !p.LeadingWildcard:
			addUnique(&x.rng, col)
		}
	}
	a.orAccesses(st, get)
	// ORDER BY helps only when every key is a column of one table.
	if len(st.OrderBy) > 0 {
		owner := ""
		ok := true
		var keys []Key
		for _, k := range st.OrderBy {
			if k.Expr || k.Table == "" || (owner != "" && k.Table != owner) || k.NullsFirst != nil && *k.NullsFirst != k.Desc {
				ok = false
				break
			}
			owner = k.Table
			keys = append(keys, Key{Column: k.Column, Desc: k.Desc})
		}
		if ok {
			if x := get(owner); x != nil {
				x.sort = forwardKeys(keys)
				for _, k := range keys {
					addUnique(&x.cols, k.Column)
				}
			}
		}
	}
	for _, g := range st.GroupBy {
		if t, c := splitQualified(g); t != "" {
			if x := get(t); x != nil && len(x.sort) == 0 && len(st.GroupBy) == 1 {
				x.sort = []Key{{Column: c}}
			}
		}
	}
	for _, c := range st.SelectCols {
		if t, col := splitQualified(c); t != "" {
			if x := byTable[t]; x != nil {
				addUnique(&x.cols, col)
			}
		}
	}
	var out []*access
	names := make([]string, 0, len(byTable))
	for n := range byTable {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if x := byTable[n]; x != nil && (len(x.eq)+len(x.rng)+len(x.sort)+len(x.joins)+len(x.exprs)+len(x.partial)+len(x.ors) > 0) {
			if st.SelectStar {
				x.cols = nil // every column: no covering index
			}
			a.orderBySelectivity(x.table, x.eq)
			x.singleRow = singleRow(s, x.table)
			out = append(out, x)
		}
	}
	return out
}

// planAccesses reads access paths from the statement's plan for relations the parse
// tree cannot see (a view's base tables): each scan's filter and index condition,
// qualified by the scan's alias, is parsed as a one-table query.
func (a *Advisor) planAccesses(s *stmt) []*access {
	if s.basePlan == nil {
		return nil
	}
	// Views, CTE outputs and derived tables hide the base tables' columns from the
	// parse tree; the plan shows them.
	hidden := len(s.parsed.CTEs) > 0 || s.parsed.Subqueries > 0
	for _, t := range s.parsed.Tables {
		if a.table(t.Qualified()) == nil {
			hidden = true
		}
	}
	if !hidden {
		return nil
	}
	var out []*access
	s.basePlan.Root.Walk(func(n *explain.Node) {
		if !n.IsScan() || n.Schema == "" {
			return
		}
		var conds []string
		for _, c := range []string{n.Filter, n.IndexCond, n.RecheckCond} {
			if c != "" {
				conds = append(conds, c)
			}
		}
		if len(conds) == 0 {
			return
		}
		alias := n.Alias
		if alias == "" {
			alias = n.Relation
		}
		sql := fmt.Sprintf("SELECT 1 FROM %s AS %s WHERE %s", pgx.Identifier{n.Schema, n.Relation}.Sanitize(),
			pgx.Identifier{alias}.Sanitize(), strings.Join(conds, " AND "))
		st, err := a.parser.Parse(sql)
		if err != nil {
			return
		}
		out = append(out, a.accesses(&stmt{ws: s.ws, parsed: st, queryIDs: s.queryIDs, vals: s.vals, consts: s.consts, fromPlan: true})...)
	})
	return out
}

// orAccesses reads ORs whose every branch constrains one table's column in a way an
// index serves (a = $1 OR b = $2): each branch's best key becomes part of an OR
// bundle on that table, or, when all branches name the same column, one more
// equality or range column.
func (a *Advisor) orAccesses(st *sqlparse.Statement, get func(string) *access) {
	type pick struct {
		key  Key
		rank int // 0 equality-like, 1 range
		nd   float64
	}
	type group struct {
		table string
		width int
		picks map[int]pick
		bad   bool
	}
	groups := map[int]*group{}
	var order []int
	for _, p := range st.Predicates {
		if p.OrGroup == 0 {
			continue
		}
		g := groups[p.OrGroup]
		if g == nil {
			g = &group{table: p.Table, width: p.OrWidth, picks: map[int]pick{}}
			groups[p.OrGroup] = g
			order = append(order, p.OrGroup)
		}
		if p.Negated || p.Table == "" || p.Value == sqlparse.ValColumn || p.Value == sqlparse.ValSubquery || p.Cast != "" {
			continue
		}
		if p.Table != g.table {
			g.bad = true // an OR across tables: no single-table bundle serves it
			continue
		}
		x := get(p.Table)
		if x == nil || !hasColumn(x.table, p.Column) {
			continue
		}
		var pk pick
		switch {
		case p.Func == "lower" || p.Func == "upper":
			if p.Op != "=" && p.Op != "IN" && p.Op != "ANY" {
				continue
			}
			pk = pick{key: Key{Expr: p.Func + "(" + quoteCol(p.Column) + ")"}}
		case p.Func != "":
			continue
		case p.Op == "=" || p.Op == "IN" || p.Op == "ANY" || p.Op == "IS NULL":
			pk = pick{key: Key{Column: p.Column}}
		case p.Op == "<" || p.Op == ">" || p.Op == "<=" || p.Op == ">=" || p.Op == "BETWEEN",
			p.Op == "LIKE" && p.Value == sqlparse.ValConst && !p.LeadingWildcard:
			pk = pick{key: Key{Column: p.Column}, rank: 1}
		default:
			continue
		}
		pk.nd = a.distinct(x.table, p.Column)
		if old, ok := g.picks[p.OrBranch]; !ok || pk.rank < old.rank || pk.rank == old.rank && pk.nd > old.nd {
			g.picks[p.OrBranch] = pk
		}
	}
	for _, id := range order {
		g := groups[id]
		if g.bad || g.width < 2 || len(g.picks) != g.width {
			continue // a branch no index can serve: the table is read whole anyway
		}
		x := get(g.table)
		if x == nil {
			continue
		}
		var keys []Key
		seen := map[string]bool{}
		rank := 0
		for b := 1; b <= g.width; b++ {
			pk := g.picks[b]
			if !seen[pk.key.label()] {
				seen[pk.key.label()] = true
				keys = append(keys, pk.key)
			}
			rank = max(rank, pk.rank)
		}
		switch {
		case len(keys) > 1:
			x.ors = append(x.ors, keys)
		case keys[0].Expr != "":
			addUnique(&x.exprs, keys[0].Expr)
		case rank == 0:
			addUnique(&x.eq, keys[0].Column)
		default:
			addUnique(&x.rng, keys[0].Column)
		}
	}
}

// orBundles makes, per OR on the table, the set of single-key indexes a BitmapOr needs.
func (a *Advisor) orBundles(x *access) [][]*Index {
	var out [][]*Index
	for _, keys := range x.ors {
		var bundle []*Index
		for _, k := range keys {
			bundle = append(bundle, &Index{Schema: x.table.Schema, Table: x.table.Name, Keys: []Key{k}, Method: "btree", Sources: []string{"workload"}})
		}
		out = append(out, bundle)
	}
	return out
}

// partialPredicate turns a constant comparison on a low-cardinality column (status =
// 'pended') into a partial-index condition. The constant comes from the SQL text (a
// file, a log) or, for normalised statements, from pg_qualstats' record of the values
// the statement ran with.
func (a *Advisor) partialPredicate(s *stmt, t *snapshot.Table, p sqlparse.Predicate) (string, bool) {
	// IS NULL on a mostly filled column (open encounters: discharged_at IS NULL), IS NOT
	// NULL on a mostly empty one: the rows the statement wants are a small slice.
	if nf, ok := a.nullFrac(t, p.Column); ok && p.Func == "" && p.Cast == "" {
		switch {
		case p.Op == "IS NULL" && nf <= 0.2:
			return quoteCol(p.Column) + " IS NULL", true
		case p.Op == "IS NOT NULL" && nf >= 0.8:
			return quoteCol(p.Column) + " IS NOT NULL", true
		}
	}
	if p.Op != "=" || !a.lowCardinality(t, p.Column) || a.phiColumn(t, p.Column) {
		// A constant of a PHI column (a zip code, a date) would be printed in the
		// index definition: it stays a key column instead.
		return "", false
	}
	col := quoteCol(p.Column)
	switch p.Value {
	case sqlparse.ValConst:
		// A constant of a view's definition, or one the planner folded in.
		if s.fromPlan && s.boundOnly(p.ConstValue()) {
			return "", false
		}
		switch p.ConstKind {
		case "string":
			return col + " = " + quoteLiteral(p.ConstValue()), true
		case "boolean", "integer":
			return col + " = " + p.ConstValue(), true
		}
	case sqlparse.ValParam:
		if v, ok := s.consts[p.Param]; ok {
			return col + " = " + v, true
		}
	}
	return "", false
}

// lowCardinality: few distinct values, where a value names a category (a status), not a
// person.
func (a *Advisor) lowCardinality(t *snapshot.Table, column string) bool {
	for _, c := range t.Columns {
		if c.Name != column {
			continue
		}
		if c.TypeName == "bool" {
			return true
		}
		if c.NDistinct == nil {
			return false
		}
		nd := *c.NDistinct
		if nd < 0 {
			nd = -nd * t.RowEstimate
		}
		return nd > 0 && nd <= 20
	}
	return false
}

// phiColumn: the classifier takes the column for one of the HIPAA identifiers.
func (a *Advisor) phiColumn(t *snapshot.Table, column string) bool {
	for _, c := range t.Columns {
		if c.Name != column {
			continue
		}
		for _, m := range a.cls.Column(t.QualifiedName(), c.Name, c.Type) {
			if m.Confidence >= 0.5 {
				return true
			}
		}
	}
	return false
}

// identifies: the classifier takes the column for an identifier that names a person on
// its own (see healthcare.Identifier.Identifies): its statistics never give values.
func (a *Advisor) identifies(table, column string) bool {
	t := a.table(table)
	if t == nil {
		return false
	}
	for _, c := range t.Columns {
		if c.Name != column {
			continue
		}
		for _, m := range a.cls.Column(t.QualifiedName(), c.Name, c.Type) {
			if m.Confidence >= 0.5 && m.Identifier.Identifies() {
				return true
			}
		}
	}
	return false
}

func (a *Advisor) nullFrac(t *snapshot.Table, column string) (float64, bool) {
	for _, c := range t.Columns {
		if c.Name == column && c.NullFrac != nil {
			return *c.NullFrac, true
		}
	}
	return 0, false
}

func (a *Advisor) distinct(t *snapshot.Table, column string) float64 {
	for _, c := range t.Columns {
		if c.Name == column && c.NDistinct != nil {
			nd := *c.NDistinct
			if nd < 0 {
				nd = -nd * t.RowEstimate
			}
			return nd
		}
	}
	return 0
}

// orderBySelectivity sorts equality columns most selective (most distinct values) first.
func (a *Advisor) orderBySelectivity(t *snapshot.Table, cols []string) {
	sort.SliceStable(cols, func(i, j int) bool {
		di, dj := a.distinct(t, cols[i]), a.distinct(t, cols[j])
		if di != dj {
			return di > dj
		}
		return cols[i] < cols[j]
	})
}

// candidates makes the indexes that could serve an access path: equality columns
// first (most selective first), then one range column or the sort keys; join keys;
// expression keys; partial variants for constant predicates; and covering variants
// with a small INCLUDE list for index-only scans.
func (a *Advisor) candidates(x *access) []*Index {
	t := x.table
	var keySets [][]Key
	width := maxKeys
	if !a.cfg.IndexOptimizer.EnableCompositeIndexes {
		width = 1
	}
	add := func(keys []Key) {
		if len(keys) == 0 {
			return
		}
		if len(keys) > width {
			keys = keys[:width]
		}
		keySets = append(keySets, keys)
	}
	cols := func(names ...string) []Key {
		var out []Key
		for _, n := range names {
			out = append(out, Key{Column: n})
		}
		return out
	}
	eq := x.eq
	if len(eq) > maxKeys {
		eq = eq[:maxKeys]
	}
	add(cols(eq...))
	if len(eq) > 1 {
		add(cols(eq[0]))
	}
	for _, r := range x.rng {
		add(append(cols(eq...), Key{Column: r}))
		if len(eq) > 0 {
			add(append(cols(eq[0]), Key{Column: r}))
		}
		add(cols(r))
	}
	if len(x.sort) > 0 {
		if len(x.rng) == 0 || x.rng[0] == x.sort[0].Column {
			add(append(cols(eq...), x.sort...))
		}
		add(x.sort)
	}
	for _, j := range x.joins {
		add(cols(j))
		if len(eq) > 0 {
			add(append(cols(eq...), Key{Column: j}))
			add(append(cols(j), cols(eq...)...))
		}
		for _, r := range x.rng {
			add(append(cols(j), Key{Column: r}))
		}
	}
	for _, e := range x.exprs {
		keys := []Key{{Expr: e}}
		add(keys)
		add(append(keys, cols(eq...)...))
		for _, r := range x.rng {
			add(append(append([]Key{{Expr: e}}, cols(eq...)...), Key{Column: r}))
		}
	}
	var out []*Index
	seen := map[string]bool{}
	emit := func(ix *Index) {
		if sig := ix.Signature(); !seen[sig] {
			seen[sig] = true
			out = append(out, ix)
		}
	}
	base := func(keys []Key) *Index {
		return &Index{Schema: t.Schema, Table: t.Name, Keys: keys, Method: "btree", Sources: []string{"workload"}}
	}
	// BRIN for a range over a column that follows the table's physical order (an
	// append-only time column): a few pages summarise millions of rows.
	for _, r := range x.rng {
		if c := columnOf(t, r); c != nil && c.Correlation != nil && math.Abs(*c.Correlation) >= brinCorrelation && t.RowEstimate >= brinMinRows {
			ix := base(cols(r))
			ix.Method = "brin"
			emit(ix)
		}
	}
	for _, keys := range keySets {
		emit(base(keys))
		if inc := x.include(keys); len(inc) > 0 {
			ix := base(keys)
			ix.Include = inc
			emit(ix)
		}
	}
	// Partial variants: the constant predicate moves into WHERE.
	for _, pred := range x.partial {
		where := pred
		var partialSets [][]Key
		partialSets = append(partialSets, keySets...)
		if len(x.sort) > 0 {
			partialSets = append(partialSets, x.sort)
		}
		for _, r := range x.rng {
			partialSets = append(partialSets, cols(r))
		}
		for _, keys := range partialSets {
			ix := base(keys)
			ix.Where = where
			emit(ix)
			if inc := x.include(keys); len(inc) > 0 {
				cov := base(keys)
				cov.Where, cov.Include = where, inc
				emit(cov)
			}
		}
		if len(keySets) == 0 && len(x.sort) == 0 && len(x.rng) == 0 {
			// WHERE status = 'pended' alone: a small index of the predicate's own
			// column, holding just the rows of the queue.
			ix := base(cols(x.partialCol[pred]))
			ix.Where = where
			emit(ix)
		}
	}
	return out
}

func (x *access) addPartial(pred, col string) {
	addUnique(&x.partial, pred)
	if x.partialCol == nil {
		x.partialCol = map[string]string{}
	}
	x.partialCol[pred] = col
}

// forwardKeys turns sort keys that all descend into ascending ones: a backward scan of
// the ascending index returns them in the order asked for (and NULLs first, as DESC
// does by default). Only mixed directions need DESC in the index.
func forwardKeys(keys []Key) []Key {
	for _, k := range keys {
		if !k.Desc {
			return keys
		}
	}
	out := make([]Key, len(keys))
	for i, k := range keys {
		k.Desc = false
		out[i] = k
	}
	return out
}

// singleRow: the base plan returns at most one row and scans at most one from t.
func singleRow(s *stmt, t *snapshot.Table) bool {
	if s.basePlan == nil || s.basePlan.Root.PlanRows > 1 {
		return false
	}
	one := true
	s.basePlan.Root.Walk(func(n *explain.Node) {
		if n.IsScan() && n.QualifiedRelation() == t.QualifiedName() && n.PlanRows > 1 {
			one = false
		}
	})
	return one
}

// include returns the statement's other columns when few enough to ride along.
func (x *access) include(keys []Key) []string {
	if len(x.cols) == 0 || x.singleRow {
		return nil
	}
	var inc []string
	for _, c := range x.cols {
		inKey := false
		for _, k := range keys {
			if k.Column == c {
				inKey = true
			}
		}
		if !inKey {
			inc = append(inc, c)
		}
	}
	if len(inc) == 0 || len(inc) > maxInclude {
		return nil
	}
	sort.Strings(inc)
	return inc
}

func hasColumn(t *snapshot.Table, col string) bool {
	for _, c := range t.Columns {
		if c.Name == col {
			return true
		}
	}
	return false
}

func addUnique(list *[]string, v string) {
	for _, x := range *list {
		if x == v {
			return
		}
	}
	*list = append(*list, v)
}

func splitQualified(s string) (string, string) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

func quoteCol(c string) string {
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
		}
	}
	return c
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// constKey finds a statement's constant for a column in pg_qualstats.
type constKey struct {
	queryID int64
	table   string
	column  string
	op      string
}

func (k constKey) String() string {
	return fmt.Sprintf("%d/%s.%s %s", k.queryID, k.table, k.column, k.op)
}
