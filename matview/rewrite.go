package matview

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Design is a materialized view that serves one aggregate statement: the view groups
// by the statement's keys plus the columns its parameters filter, keeps partial
// aggregates, and the rewritten statement re-aggregates them with the same parameters.
type Design struct {
	// Select is the view's query; Keys are its grouping columns (the unique index that
	// REFRESH ... CONCURRENTLY needs); KeyColumns are the base columns behind them.
	Select     string
	Keys       []string
	KeyColumns []string
	// Rewritten is the statement to run instead, against the view (named by the caller:
	// the placeholder ViewName stands where the view's name goes).
	Rewritten string
}

// ViewName is the placeholder for the view's name in Design.Rewritten.
const ViewName = "pgmedic_mv_placeholder"

// unresolved names a column the view cannot provide; a rewrite that holds it is refused.
const unresolved = "pgmedic_unresolved_column"

// errNotEligible says why a statement cannot be served by a view.
type errNotEligible struct{ why string }

func (e errNotEligible) Error() string { return e.why }

func notEligible(format string, args ...any) error {
	return errNotEligible{fmt.Sprintf(format, args...)}
}

// NotEligible reports whether err says the statement cannot be materialized, and why.
func NotEligible(err error) (string, bool) {
	var e errNotEligible
	if errors.As(err, &e) {
		return e.why, true
	}
	return "", false
}

// aggregates the view can keep partially and re-aggregate exactly.
var aggregates = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true}

// design is the work of Plan: the parsed statement and what is being built.
type design struct {
	sel       *pg_query.SelectStmt
	keys      []key            // view grouping columns
	byText    map[string]*key  // key expression text -> key
	aggs      []*agg           // partial aggregates kept by the view
	aggByText map[string]*agg  // aggregate text -> agg
	params    []*pg_query.Node // conjuncts with parameters, rewritten on view columns
	fixed     []*pg_query.Node // conjuncts without parameters: they stay in the view
}

type key struct {
	name string
	expr *pg_query.Node
	text string
}

type agg struct {
	fn      string
	call    *pg_query.FuncCall
	text    string
	columns []string // view columns: one, or sum and count for avg
}

// Plan designs the view for one statement, or says why there is none.
func Plan(sql string) (*Design, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, notEligible("does not parse")
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, notEligible("not a single SELECT")
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	switch {
	case sel.Op != pg_query.SetOperation_SETOP_NONE:
		return nil, notEligible("a set operation (UNION, INTERSECT, EXCEPT)")
	case sel.WithClause != nil:
		return nil, notEligible("a WITH clause")
	case len(sel.DistinctClause) > 0:
		return nil, notEligible("SELECT DISTINCT")
	case len(sel.FromClause) == 0:
		return nil, notEligible("no FROM clause")
	case sel.LimitOffset != nil || sel.LockingClause != nil:
		return nil, notEligible("OFFSET or FOR UPDATE")
	}
	d := &design{sel: sel, byText: map[string]*key{}, aggByText: map[string]*agg{}}
	if err := d.collectAggregates(); err != nil {
		return nil, err
	}
	if len(d.aggs) == 0 {
		return nil, notEligible("no aggregate to keep")
	}
	for _, g := range sel.GroupClause {
		if err := d.addKey(g); err != nil {
			return nil, err
		}
	}
	if err := d.splitWhere(); err != nil {
		return nil, err
	}
	return d.build()
}

// collectAggregates finds the aggregates of the select list, HAVING and ORDER BY.
func (d *design) collectAggregates() error {
	var err error
	visit := func(n *pg_query.Node) bool {
		fc := n.GetFuncCall()
		if fc == nil || err != nil {
			return err == nil
		}
		name := funcName(fc)
		if fc.Over != nil {
			err = notEligible("a window function (%s)", name)
			return false
		}
		if !aggregates[name] {
			return true // a scalar function: its arguments may hold aggregates
		}
		if hasParam(n) {
			err = notEligible("a parameter inside %s (pg_stat_statements turns constants into parameters; the view needs their values)", name)
			return false
		}
		if fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.AggWithinGroup {
			err = notEligible("%s with DISTINCT, ORDER BY or FILTER cannot be re-aggregated", name)
			return false
		}
		text := exprText(n)
		if d.aggByText[text] == nil {
			a := &agg{fn: name, call: fc, text: text}
			n := len(d.aggs) + 1
			a.columns = []string{fmt.Sprintf("%s_%d", name, n)}
			if name == "avg" {
				a.columns = []string{fmt.Sprintf("avg_%d_sum", n), fmt.Sprintf("avg_%d_count", n)}
			}
			d.aggs = append(d.aggs, a)
			d.aggByText[text] = a
		}
		return false
	}
	for _, t := range d.sel.TargetList {
		walk(t, visit)
	}
	walk(d.sel.HavingClause, visit)
	for _, s := range d.sel.SortClause {
		walk(s, visit)
	}
	return err
}

// addKey makes an expression a grouping column of the view.
func (d *design) addKey(n *pg_query.Node) error {
	if hasParam(n) {
		return notEligible("a parameter in GROUP BY")
	}
	if c := n.GetAConst(); c != nil {
		return notEligible("GROUP BY by position")
	}
	text := exprText(n)
	if d.byText[text] != nil {
		return nil
	}
	name := fmt.Sprintf("key_%d", len(d.keys)+1)
	if cr := n.GetColumnRef(); cr != nil {
		name = lastField(cr)
		for _, k := range d.keys {
			if k.name == name {
				name = fmt.Sprintf("%s_%d", name, len(d.keys)+1)
			}
		}
	}
	d.keys = append(d.keys, key{name: name, expr: n, text: text})
	d.byText[text] = &d.keys[len(d.keys)-1]
	for i := range d.keys { // the slice may have moved
		d.byText[d.keys[i].text] = &d.keys[i]
	}
	return nil
}

// splitWhere keeps predicates without parameters in the view and turns column-versus-
// parameter comparisons into grouping columns filtered by the rewritten statement.
func (d *design) splitWhere() error {
	for _, c := range conjuncts(d.sel.WhereClause) {
		if !hasParam(c) {
			d.fixed = append(d.fixed, c)
			continue
		}
		col, ok := paramComparison(c)
		if !ok {
			return notEligible("a parameter in a predicate other than column op $n")
		}
		if err := d.addKey(col); err != nil {
			return err
		}
		d.params = append(d.params, c)
	}
	return nil
}

// paramComparison recognises col = $n, col < $n ... and col BETWEEN $a AND $b.
func paramComparison(n *pg_query.Node) (*pg_query.Node, bool) {
	ae := n.GetAExpr()
	if ae == nil {
		return nil, false
	}
	if ae.Kind == pg_query.A_Expr_Kind_AEXPR_BETWEEN && ae.Lexpr.GetColumnRef() != nil {
		return ae.Lexpr, true
	}
	if ae.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(ae.Name) != 1 {
		return nil, false
	}
	switch ae.Name[0].GetString_().GetSval() {
	case "=", "<", "<=", ">", ">=":
	default:
		return nil, false
	}
	if ae.Lexpr.GetColumnRef() != nil && !hasParam(ae.Lexpr) && isParam(ae.Rexpr) {
		return ae.Lexpr, true
	}
	if ae.Rexpr.GetColumnRef() != nil && isParam(ae.Lexpr) {
		return ae.Rexpr, true
	}
	return nil, false
}

// isParam: $n, or $n with a cast.
func isParam(n *pg_query.Node) bool {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	return n.GetParamRef() != nil
}

// build writes the view's query and the rewritten statement.
func (d *design) build() (*Design, error) {
	out := &Design{}
	view := &pg_query.SelectStmt{FromClause: d.sel.FromClause, Op: pg_query.SetOperation_SETOP_NONE,
		LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT}
	for _, k := range d.keys {
		view.TargetList = append(view.TargetList, resTarget(k.name, k.expr))
		view.GroupClause = append(view.GroupClause, clone(k.expr))
		out.Keys = append(out.Keys, k.name)
		out.KeyColumns = append(out.KeyColumns, k.text)
	}
	for _, a := range d.aggs {
		for i, col := range a.columns {
			view.TargetList = append(view.TargetList, resTarget(col, a.partial(i)))
		}
	}
	view.WhereClause = and(d.fixed)
	var err error
	if out.Select, err = deparse(view); err != nil {
		return nil, err
	}
	rw := &pg_query.SelectStmt{Op: pg_query.SetOperation_SETOP_NONE, LimitOption: d.sel.LimitOption,
		FromClause: []*pg_query.Node{pg_query.MakeSimpleRangeVarNode(ViewName, 0)},
		LimitCount: d.sel.LimitCount}
	for _, t := range d.sel.TargetList {
		rt := d.onView(t)
		// Keep the column names the application reads: count(*) stays "count".
		if r, o := rt.GetResTarget(), t.GetResTarget(); r != nil && o != nil && o.Name == "" {
			if fc := o.Val.GetFuncCall(); fc != nil {
				r.Name = funcName(fc)
			} else if cr := o.Val.GetColumnRef(); cr != nil {
				r.Name = lastField(cr)
			}
		}
		rw.TargetList = append(rw.TargetList, rt)
	}
	for _, g := range d.sel.GroupClause {
		rw.GroupClause = append(rw.GroupClause, d.onView(g))
	}
	rw.WhereClause = d.onView(and(d.params))
	rw.HavingClause = d.onView(d.sel.HavingClause)
	for _, s := range d.sel.SortClause {
		rw.SortClause = append(rw.SortClause, d.onView(s))
	}
	if len(rw.GroupClause) == 0 {
		// The statement aggregated everything into one row; so does the rewrite.
		rw.GroupClause = nil
	}
	if out.Rewritten, err = deparse(rw); err != nil {
		return nil, err
	}
	if strings.Contains(out.Rewritten, unresolved) {
		return nil, notEligible("a column outside GROUP BY and the aggregates")
	}
	return out, nil
}

// partial is the view's expression for the i-th column of an aggregate.
func (a *agg) partial(i int) *pg_query.Node {
	if a.fn != "avg" {
		return &pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: proto.Clone(a.call).(*pg_query.FuncCall)}}
	}
	fn := "sum"
	if i == 1 {
		fn = "count"
	}
	return pg_query.MakeFuncCallNode([]*pg_query.Node{pg_query.MakeStrNode(fn)}, cloneList(a.call.Args), 0)
}

// combine is the rewritten statement's expression for an aggregate over the view.
func (a *agg) combine() *pg_query.Node {
	ref := func(c string) *pg_query.Node {
		return pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(c)}, 0)
	}
	call := func(fn string, arg *pg_query.Node) *pg_query.Node {
		return pg_query.MakeFuncCallNode([]*pg_query.Node{pg_query.MakeStrNode(fn)}, []*pg_query.Node{arg}, 0)
	}
	switch a.fn {
	case "count":
		return cast(call("sum", ref(a.columns[0])), "int8")
	case "sum":
		return call("sum", ref(a.columns[0]))
	case "avg":
		num := cast(call("sum", ref(a.columns[0])), "numeric")
		den := pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_NULLIF, []*pg_query.Node{pg_query.MakeStrNode("=")},
			call("sum", ref(a.columns[1])), pg_query.MakeAConstIntNode(0, 0), 0)
		return pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode("/")}, num, den, 0)
	}
	return call(a.fn, ref(a.columns[0])) // min, max
}

func cast(n *pg_query.Node, typ string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: n,
		TypeName: &pg_query.TypeName{Names: []*pg_query.Node{pg_query.MakeStrNode("pg_catalog"), pg_query.MakeStrNode(typ)}, Typemod: -1}}}}
}

// onView rewrites an expression of the statement onto the view's columns: aggregates
// re-aggregate, grouping expressions become view columns, and any other column left is
// marked unresolved (the statement cannot be served).
func (d *design) onView(n *pg_query.Node) *pg_query.Node {
	if n == nil {
		return nil
	}
	n = clone(n)
	return replace(n, func(x *pg_query.Node) (*pg_query.Node, bool) {
		text := exprText(x)
		if a := d.aggByText[text]; a != nil {
			return a.combine(), true
		}
		if k := d.byText[text]; k != nil {
			return pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(k.name)}, 0), true
		}
		if cr := x.GetColumnRef(); cr != nil {
			// An unqualified name may be a select-list alias (ORDER BY billed) or a key.
			if len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
				name := cr.Fields[0].GetString_().GetSval()
				for _, k := range d.keys {
					if lastField(k.expr.GetColumnRef()) == name {
						return pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(k.name)}, 0), true
					}
				}
				if d.isAlias(name) {
					return x, true
				}
			}
			return pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(unresolved)}, 0), true
		}
		return x, false
	})
}

func (d *design) isAlias(name string) bool {
	for _, t := range d.sel.TargetList {
		if rt := t.GetResTarget(); rt != nil && rt.Name == name {
			return true
		}
	}
	return false
}

// --- parse-tree helpers ---

func funcName(fc *pg_query.FuncCall) string {
	if len(fc.Funcname) == 0 {
		return ""
	}
	return strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())
}

func lastField(cr *pg_query.ColumnRef) string {
	if cr == nil || len(cr.Fields) == 0 {
		return ""
	}
	return cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
}

func resTarget(name string, val *pg_query.Node) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: name, Val: clone(val)}}}
}

func clone(n *pg_query.Node) *pg_query.Node {
	if n == nil {
		return nil
	}
	return proto.Clone(n).(*pg_query.Node)
}

func cloneList(ns []*pg_query.Node) []*pg_query.Node {
	out := make([]*pg_query.Node, len(ns))
	for i, n := range ns {
		out[i] = clone(n)
	}
	return out
}

func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range be.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

func and(ns []*pg_query.Node) *pg_query.Node {
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return clone(ns[0])
	}
	return pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, cloneList(ns), 0)
}

func hasParam(n *pg_query.Node) bool {
	found := false
	walk(n, func(x *pg_query.Node) bool {
		if x.GetParamRef() != nil {
			found = true
		}
		return !found
	})
	return found
}

// walk visits n and every node under it; visit returns false to skip a node's children.
func walk(n *pg_query.Node, visit func(*pg_query.Node) bool) {
	if n == nil || !visit(n) {
		return
	}
	eachChild(n, func(c *pg_query.Node) { walk(c, visit) })
}

// eachChild calls fn for every Node directly under n's message (through any wrapper
// message that is not itself a Node).
func eachChild(n *pg_query.Node, fn func(*pg_query.Node)) {
	var visit func(m protoreflect.Message)
	visit = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind {
				return true
			}
			each := func(mv protoreflect.Message) {
				if c, ok := mv.Interface().(*pg_query.Node); ok {
					fn(c)
				} else {
					visit(mv)
				}
			}
			if fd.IsList() {
				for i := 0; i < v.List().Len(); i++ {
					each(v.List().Get(i).Message())
				}
			} else if !fd.IsMap() {
				each(v.Message())
			}
			return true
		})
	}
	visit(n.ProtoReflect())
}

// replace rewrites n top-down: where fn returns true its result takes the node's place
// and the walk does not descend into it.
func replace(n *pg_query.Node, fn func(*pg_query.Node) (*pg_query.Node, bool)) *pg_query.Node {
	if r, ok := fn(n); ok {
		return r
	}
	var visit func(m protoreflect.Message)
	visit = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
				return true
			}
			if fd.IsList() {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					if c, ok := l.Get(i).Message().Interface().(*pg_query.Node); ok {
						l.Set(i, protoreflect.ValueOfMessage(replace(c, fn).ProtoReflect()))
					} else {
						visit(l.Get(i).Message())
					}
				}
				return true
			}
			if c, ok := v.Message().Interface().(*pg_query.Node); ok {
				m.Set(fd, protoreflect.ValueOfMessage(replace(c, fn).ProtoReflect()))
			} else {
				visit(v.Message())
			}
			return true
		})
	}
	visit(n.ProtoReflect())
	return n
}

// exprText deparses one expression, for comparing expressions by their text.
func exprText(n *pg_query.Node) string {
	if n == nil {
		return ""
	}
	s, err := deparse(&pg_query.SelectStmt{TargetList: []*pg_query.Node{resTarget("", n)}, Op: pg_query.SetOperation_SETOP_NONE,
		LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT})
	if err != nil {
		return fmt.Sprintf("%p", n)
	}
	return strings.TrimPrefix(s, "SELECT ")
}

// parserVersion is the parse tree version pg_query's deparser expects (a constant of
// the linked library, read once).
var parserVersion = sync.OnceValue(func() int32 {
	t, err := pg_query.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return t.Version
})

func deparse(sel *pg_query.SelectStmt) (string, error) {
	tree := &pg_query.ParseResult{Version: parserVersion(), Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}}
	s, err := pg_query.Deparse(tree)
	if err != nil {
		return "", notEligible("cannot write the view: %v", err)
	}
	return s, nil
}
