package sqlparse

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// scope is the set of tables visible at one query level (FROM items and CTEs), with the
// enclosing level for correlated references.
type scope struct {
	parent  *scope
	byAlias map[string]TableRef
	order   []TableRef
	ctes    map[string]bool
}

func newScope(parent *scope) *scope {
	return &scope{parent: parent, byAlias: map[string]TableRef{}, ctes: map[string]bool{}}
}

func (s *scope) isCTE(name string) bool {
	for sc := s; sc != nil; sc = sc.parent {
		if sc.ctes[name] {
			return true
		}
	}
	return false
}

func (s *scope) lookup(alias string) (TableRef, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.byAlias[alias]; ok {
			return t, true
		}
	}
	return TableRef{}, false
}

type walker struct {
	st      *Statement
	cat     Catalog
	orDepth int // ORs entered: only the outermost numbers groups
	orSeq   int
}

func (w *walker) statement(n *pg_query.Node) {
	st := w.st
	sc := newScope(nil)
	switch {
	case n.GetSelectStmt() != nil:
		st.Kind, st.Command = Select, "SELECT"
		w.selectStmt(n.GetSelectStmt(), sc, true)
	case n.GetInsertStmt() != nil:
		ins := n.GetInsertStmt()
		st.Kind, st.Command, st.Writes = Insert, "INSERT", true
		w.with(ins.WithClause, sc)
		t := w.rangeVar(ins.Relation, sc)
		st.Target = &t
		w.insertUses(ins, t)
		if sel := ins.SelectStmt.GetSelectStmt(); sel != nil {
			for _, row := range sel.ValuesLists {
				for _, v := range row.GetList().GetItems() {
					if c := v.GetAConst(); c != nil && !c.Isnull {
						st.Literals++
					}
				}
			}
			if len(sel.ValuesLists) == 0 {
				w.selectStmt(sel, newScope(sc), false)
			}
		}
	case n.GetUpdateStmt() != nil:
		up := n.GetUpdateStmt()
		st.Kind, st.Command, st.Writes = Update, "UPDATE", true
		w.with(up.WithClause, sc)
		t := w.rangeVar(up.Relation, sc)
		st.Target = &t
		w.setUses(up.TargetList, t)
		for _, item := range up.TargetList {
			if rt := item.GetResTarget(); rt != nil {
				st.UpdatedColumns = append(st.UpdatedColumns, rt.Name)
				w.countConsts(rt.Val)
			}
		}
		for _, f := range up.FromClause {
			w.fromItem(f, sc)
		}
		if up.WhereClause != nil {
			st.HasWhere = true
			w.predicates(up.WhereClause, sc, false, false)
		}
	case n.GetDeleteStmt() != nil:
		del := n.GetDeleteStmt()
		st.Kind, st.Command, st.Writes = Delete, "DELETE", true
		w.with(del.WithClause, sc)
		t := w.rangeVar(del.Relation, sc)
		st.Target = &t
		for _, f := range del.UsingClause {
			w.fromItem(f, sc)
		}
		if del.WhereClause != nil {
			st.HasWhere = true
			w.predicates(del.WhereClause, sc, false, false)
		}
	case n.GetMergeStmt() != nil:
		st.Kind, st.Command, st.Writes = Merge, "MERGE", true
		m := n.GetMergeStmt()
		t := w.rangeVar(m.Relation, sc)
		st.Target = &t
		w.fromItem(m.SourceRelation, sc)
	default:
		st.Kind = Utility
		st.Command = utilityCommand(st.Text)
	}
}

func utilityCommand(text string) string {
	f := strings.Fields(strings.TrimSpace(text))
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(strings.Trim(f[0], "(;"))
}

func (w *walker) with(wc *pg_query.WithClause, sc *scope) {
	if wc == nil {
		return
	}
	for _, c := range wc.Ctes {
		if cte := c.GetCommonTableExpr(); cte != nil {
			sc.ctes[cte.Ctename] = true
			w.st.CTEs = append(w.st.CTEs, cte.Ctename)
		}
	}
	for _, c := range wc.Ctes {
		cte := c.GetCommonTableExpr()
		if cte == nil {
			continue
		}
		q := cte.Ctequery
		switch {
		case q.GetSelectStmt() != nil:
			w.selectStmt(q.GetSelectStmt(), newScope(sc), false)
		case q.GetInsertStmt() != nil || q.GetUpdateStmt() != nil || q.GetDeleteStmt() != nil:
			// A data-modifying CTE: the statement writes.
			w.st.Writes = true
			inner := &walker{st: &Statement{Text: w.st.Text}, cat: w.cat}
			inner.statement(q)
			w.st.Tables = append(w.st.Tables, inner.st.Tables...)
			w.st.Predicates = append(w.st.Predicates, inner.st.Predicates...)
		}
	}
}

// selectStmt walks one query level. top is set for the statement's own (outermost)
// level, whose select list, ORDER BY and LIMIT describe the result.
func (w *walker) selectStmt(sel *pg_query.SelectStmt, sc *scope, top bool) {
	if sel == nil {
		return
	}
	st := w.st
	if sel.Op != pg_query.SetOperation_SETOP_NONE && sel.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED {
		if top {
			st.SetOperation = true
		}
		w.with(sel.WithClause, sc)
		w.selectStmt(sel.Larg, newScope(sc), false)
		w.selectStmt(sel.Rarg, newScope(sc), false)
		if top {
			w.limits(sel)
		}
		return
	}
	w.with(sel.WithClause, sc)
	for _, f := range sel.FromClause {
		w.fromItem(f, sc)
	}
	if len(sel.LockingClause) > 0 && top {
		st.ForUpdate = true
	}
	if sel.WhereClause != nil {
		if top {
			st.HasWhere = true
		}
		w.predicates(sel.WhereClause, sc, false, false)
	}
	if top {
		if len(sel.DistinctClause) > 0 {
			st.Distinct = true
		}
		for _, item := range sel.TargetList {
			rt := item.GetResTarget()
			if rt == nil {
				continue
			}
			w.targetItem(rt.Val, sc)
		}
		for _, g := range sel.GroupClause {
			if t, c, _, _, ok := w.columnOf(g, sc); ok {
				st.GroupBy = append(st.GroupBy, t+"."+c)
			}
		}
		if len(sel.GroupClause) > 0 {
			st.Aggregates = true
		}
		for _, s := range sel.SortClause {
			w.sortKey(s.GetSortBy(), sel, sc)
		}
		w.limits(sel)
	} else {
		// Subqueries' select lists can still hold sub-selects worth walking.
		for _, item := range sel.TargetList {
			if rt := item.GetResTarget(); rt != nil {
				w.subqueriesIn(rt.Val, sc)
			}
		}
	}
	if sel.HavingClause != nil {
		w.subqueriesIn(sel.HavingClause, sc)
	}
}

func (w *walker) limits(sel *pg_query.SelectStmt) {
	w.st.Limit = bound(sel.LimitCount, sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_COUNT || sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES)
	w.st.Offset = bound(sel.LimitOffset, true)
}

func bound(n *pg_query.Node, counted bool) *Bound {
	if n == nil {
		return nil
	}
	if c := n.GetAConst(); c != nil {
		if c.Isnull {
			return &Bound{All: true}
		}
		if iv := c.GetIval(); iv != nil {
			return &Bound{Value: int64(iv.Ival)}
		}
		if fv := c.GetFval(); fv != nil {
			v, _ := strconv.ParseInt(fv.Fval, 10, 64)
			return &Bound{Value: v}
		}
		return &Bound{}
	}
	if p := paramIn(n); p > 0 {
		return &Bound{Param: p}
	}
	_ = counted
	return &Bound{}
}

func paramIn(n *pg_query.Node) int {
	switch {
	case n == nil:
		return 0
	case n.GetParamRef() != nil:
		return int(n.GetParamRef().Number)
	case n.GetTypeCast() != nil:
		return paramIn(n.GetTypeCast().Arg)
	}
	return 0
}

func (w *walker) targetItem(v *pg_query.Node, sc *scope) {
	st := w.st
	if cr := v.GetColumnRef(); cr != nil {
		fields := cr.Fields
		if len(fields) > 0 && fields[len(fields)-1].GetAStar() != nil {
			st.SelectStar = true
			if len(fields) == 1 {
				for _, t := range sc.order {
					if !t.CTE {
						st.StarTables = append(st.StarTables, t.Qualified())
					}
				}
			} else if t, ok := sc.lookup(fields[len(fields)-2].GetString_().GetSval()); ok && !t.CTE {
				st.StarTables = append(st.StarTables, t.Qualified())
			}
			return
		}
		if t, c, _, _, ok := w.columnOf(v, sc); ok {
			st.SelectCols = append(st.SelectCols, t+"."+c)
		}
		return
	}
	if fc := v.GetFuncCall(); fc != nil && isAggregate(fc) {
		st.Aggregates = true
	}
	// Columns inside expressions (sum(paid_amount), a || ' ' || b) are returned too.
	w.eachColumn(v, sc, func(t, c string) { st.SelectCols = append(st.SelectCols, t+"."+c) })
	w.subqueriesIn(v, sc)
}

var aggregates = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"array_agg": true, "string_agg": true, "json_agg": true, "jsonb_agg": true, "bool_and": true, "bool_or": true,
	"stddev": true, "variance": true, "percentile_cont": true, "percentile_disc": true, "mode": true,
	"json_object_agg": true, "jsonb_object_agg": true, "every": true}

func isAggregate(fc *pg_query.FuncCall) bool {
	if fc.Over != nil {
		return false
	}
	return aggregates[funcName(fc)] || fc.AggStar || fc.AggDistinct
}

func funcName(fc *pg_query.FuncCall) string {
	if len(fc.Funcname) == 0 {
		return ""
	}
	return strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())
}

func (w *walker) sortKey(sb *pg_query.SortBy, sel *pg_query.SelectStmt, sc *scope) {
	if sb == nil {
		return
	}
	key := SortKey{Desc: sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
	switch sb.SortbyNulls {
	case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
		v := true
		key.NullsFirst = &v
	case pg_query.SortByNulls_SORTBY_NULLS_LAST:
		v := false
		key.NullsFirst = &v
	}
	node := sb.Node
	// ORDER BY 2 refers to the second select-list item.
	if c := node.GetAConst(); c != nil && c.GetIval() != nil {
		pos := int(c.GetIval().Ival)
		if pos >= 1 && pos <= len(sel.TargetList) {
			node = sel.TargetList[pos-1].GetResTarget().GetVal()
		}
	}
	// ORDER BY an output alias.
	if cr := node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
		name := cr.Fields[0].GetString_().GetSval()
		for _, item := range sel.TargetList {
			if rt := item.GetResTarget(); rt != nil && rt.Name == name && rt.Name != "" {
				node = rt.Val
			}
		}
	}
	if t, c, fn, cast, ok := w.columnOf(node, sc); ok && fn == "" && cast == "" {
		key.Table, key.Column = t, c
	} else {
		key.Expr = true
	}
	w.st.OrderBy = append(w.st.OrderBy, key)
}

func (w *walker) fromItem(n *pg_query.Node, sc *scope) {
	switch {
	case n == nil:
	case n.GetRangeVar() != nil:
		w.rangeVar(n.GetRangeVar(), sc)
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		w.fromItem(j.Larg, sc)
		w.fromItem(j.Rarg, sc)
		if j.Quals != nil {
			w.predicates(j.Quals, sc, false, false)
		}
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		w.st.Subqueries++
		w.selectStmt(rs.Subquery.GetSelectStmt(), newScope(sc), false)
		if rs.Alias != nil {
			t := TableRef{Name: rs.Alias.Aliasname, Alias: rs.Alias.Aliasname, CTE: true}
			sc.byAlias[rs.Alias.Aliasname] = t
			sc.order = append(sc.order, t)
		}
	case n.GetRangeFunction() != nil:
		rf := n.GetRangeFunction()
		if rf.Alias != nil {
			t := TableRef{Name: rf.Alias.Aliasname, Alias: rf.Alias.Aliasname, CTE: true}
			sc.byAlias[rf.Alias.Aliasname] = t
			sc.order = append(sc.order, t)
		}
	}
}

func (w *walker) rangeVar(rv *pg_query.RangeVar, sc *scope) TableRef {
	if rv == nil {
		return TableRef{}
	}
	t := TableRef{Schema: rv.Schemaname, Name: rv.Relname}
	if rv.Schemaname == "" && sc.isCTE(rv.Relname) {
		t.CTE = true
	} else {
		if w.cat != nil {
			if s, ok := w.cat.FindTable(rv.Schemaname, rv.Relname); ok {
				t.Schema = s
			}
		}
		w.st.Tables = append(w.st.Tables, t)
	}
	t.Alias = rv.Relname
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		t.Alias = rv.Alias.Aliasname
	}
	sc.byAlias[t.Alias] = t
	if t.Alias != rv.Relname {
		// The bare name stays usable in PostgreSQL only without an alias; keep it for
		// resolving schema-qualified references (schema.table.column).
		sc.byAlias["\x00"+rv.Relname] = t
	}
	sc.order = append(sc.order, t)
	return t
}

// columnOf finds the column an expression is about: the column itself, a function of
// one column (lower(email)), or a cast of it (id::text).
func (w *walker) columnOf(n *pg_query.Node, sc *scope) (table, column, fn, cast string, ok bool) {
	switch {
	case n == nil:
		return "", "", "", "", false
	case n.GetColumnRef() != nil:
		t, c, ok := w.resolveColumn(n.GetColumnRef(), sc)
		return t, c, "", "", ok
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		t, c, f, _, ok := w.columnOf(tc.Arg, sc)
		return t, c, f, typeName(tc.TypeName), ok
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		if isAggregate(fc) {
			return "", "", "", "", false
		}
		var found []*pg_query.Node
		for _, a := range fc.Args {
			if hasColumn(a) {
				found = append(found, a)
			}
		}
		if len(found) != 1 {
			return "", "", "", "", false
		}
		t, c, _, cast, ok := w.columnOf(found[0], sc)
		return t, c, funcName(fc), cast, ok
	case n.GetCollateClause() != nil:
		return w.columnOf(n.GetCollateClause().Arg, sc)
	}
	return "", "", "", "", false
}

func typeName(tn *pg_query.TypeName) string {
	if tn == nil || len(tn.Names) == 0 {
		return ""
	}
	name := tn.Names[len(tn.Names)-1].GetString_().GetSval()
	switch name {
	case "int4":
		return "integer"
	case "int8":
		return "bigint"
	case "varchar":
		return "character varying"
	}
	return name
}

func hasColumn(n *pg_query.Node) bool {
	found := false
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if _, ok := m.Interface().(*pg_query.ColumnRef); ok {
			found = true
			return false
		}
		if _, ok := m.Interface().(*pg_query.SubLink); ok {
			return false // columns of a sub-select are its own
		}
		return !found
	})
	return found
}

func (w *walker) resolveColumn(cr *pg_query.ColumnRef, sc *scope) (string, string, bool) {
	var parts []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		} else {
			return "", "", false // t.* or an indirection
		}
	}
	switch len(parts) {
	case 1:
		col := parts[0]
		var real []TableRef
		for s := sc; s != nil; s = s.parent {
			for _, t := range s.order {
				real = append(real, t)
			}
			if len(real) > 0 {
				break
			}
		}
		if len(real) == 1 {
			if real[0].CTE {
				return "", col, true
			}
			return real[0].Qualified(), col, true
		}
		if w.cat != nil {
			for s := sc; s != nil; s = s.parent {
				for _, t := range s.order {
					if !t.CTE && w.cat.HasColumn(t.Schema, t.Name, col) {
						return t.Qualified(), col, true
					}
				}
			}
		}
		return "", col, true
	case 2:
		t, ok := sc.lookup(parts[0])
		if !ok {
			return "", parts[1], true
		}
		if t.CTE {
			return "", parts[1], true
		}
		return t.Qualified(), parts[1], true
	case 3:
		if t, ok := sc.lookup(parts[1]); ok && !t.CTE && (t.Schema == parts[0] || t.Schema == "") {
			return t.Qualified(), parts[2], true
		}
		if t, ok := sc.lookup("\x00" + parts[1]); ok && !t.CTE {
			return t.Qualified(), parts[2], true
		}
		return parts[0] + "." + parts[1], parts[2], true
	}
	return "", "", false
}

// eachColumn calls fn for every column referenced in an expression (not in sub-selects).
func (w *walker) eachColumn(n *pg_query.Node, sc *scope, fn func(table, column string)) {
	if n == nil {
		return
	}
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		switch v := m.Interface().(type) {
		case *pg_query.ColumnRef:
			if t, c, ok := w.resolveColumn(v, sc); ok && t != "" {
				fn(t, c)
			}
			return false
		case *pg_query.SubLink:
			return false
		}
		return true
	})
}

// subqueriesIn walks the sub-selects of an expression.
func (w *walker) subqueriesIn(n *pg_query.Node, sc *scope) {
	if n == nil {
		return
	}
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if sl, ok := m.Interface().(*pg_query.SubLink); ok {
			w.st.Subqueries++
			w.selectStmt(sl.Subselect.GetSelectStmt(), newScope(sc), false)
			return false
		}
		return true
	})
}

func (w *walker) countConsts(n *pg_query.Node) {
	if n == nil {
		return
	}
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if c, ok := m.Interface().(*pg_query.A_Const); ok && !c.Isnull && c.GetBoolval() == nil {
			w.st.Literals++
		}
		return true
	})
}

// walkNodes visits every message below m; fn returns false to skip a subtree.
func walkNodes(m protoreflect.Message, fn func(protoreflect.Message) bool) {
	if !m.IsValid() || !fn(m) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkNodes(l.Get(i).Message(), fn)
			}
		} else if !fd.IsMap() {
			walkNodes(v.Message(), fn)
		}
		return true
	})
}

func maxParam(n *pg_query.Node) int {
	max := 0
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if p, ok := m.Interface().(*pg_query.ParamRef); ok && int(p.Number) > max {
			max = int(p.Number)
		}
		return true
	})
	return max
}
