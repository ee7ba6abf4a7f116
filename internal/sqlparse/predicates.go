package sqlparse

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// flipped turns "$1 < col" into "col > $1".
var flipped = map[string]string{"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>", "!=": "<>"}

var comparison = map[string]string{
	"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "<>": "<>", "!=": "<>",
	"~~": "LIKE", "~~*": "ILIKE", "!~~": "LIKE", "!~~*": "ILIKE", "~": "~", "~*": "~*",
	"@>": "@>", "<@": "<@", "&&": "&&", "?": "?", "@@": "@@",
}

// predicates walks a boolean expression and records its comparisons.
func (w *walker) predicates(n *pg_query.Node, sc *scope, inOr, negated bool) {
	st := w.st
	switch {
	case n == nil:
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		switch be.Boolop {
		case pg_query.BoolExprType_AND_EXPR:
			for _, a := range be.Args {
				w.predicates(a, sc, inOr, negated)
			}
		case pg_query.BoolExprType_OR_EXPR:
			cols := map[string]bool{}
			group := 0
			if w.orDepth == 0 {
				w.orSeq++
				group = w.orSeq
			}
			w.orDepth++
			for i, a := range be.Args {
				w.eachColumn(a, sc, func(t, c string) { cols[t+"."+c] = true })
				from := len(st.Predicates)
				w.predicates(a, sc, true, negated)
				if group > 0 {
					for k := from; k < len(st.Predicates); k++ {
						st.Predicates[k].OrGroup, st.Predicates[k].OrBranch, st.Predicates[k].OrWidth = group, i+1, len(be.Args)
					}
				}
			}
			w.orDepth--
			if len(cols) > 1 {
				st.OrAcross = true
			}
		case pg_query.BoolExprType_NOT_EXPR:
			for _, a := range be.Args {
				if t, c, fn, cast, ok := w.columnOf(a, sc); ok {
					// NOT is_active
					st.Predicates = append(st.Predicates, Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "=",
						Value: ValConst, ConstKind: "boolean", constValue: "false", InOr: inOr})
					continue
				}
				w.predicates(a, sc, inOr, !negated)
			}
		}
	case n.GetAExpr() != nil:
		w.aExpr(n.GetAExpr(), sc, inOr, negated)
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		if t, c, fn, cast, ok := w.columnOf(nt.Arg, sc); ok {
			op := "IS NULL"
			if nt.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL {
				op = "IS NOT NULL"
			}
			st.Predicates = append(st.Predicates, Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: op, Value: ValNone, InOr: inOr, Negated: negated})
		}
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		if t, c, fn, cast, ok := w.columnOf(bt.Arg, sc); ok {
			val := "true"
			if bt.Booltesttype == pg_query.BoolTestType_IS_FALSE || bt.Booltesttype == pg_query.BoolTestType_IS_NOT_TRUE {
				val = "false"
			}
			st.Predicates = append(st.Predicates, Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "=", Value: ValConst,
				ConstKind: "boolean", constValue: val, InOr: inOr, Negated: negated})
		}
	case n.GetColumnRef() != nil:
		// WHERE is_active
		if t, c, ok := w.resolveColumn(n.GetColumnRef(), sc); ok {
			st.Predicates = append(st.Predicates, Predicate{Table: t, Column: c, Op: "=", Value: ValConst,
				ConstKind: "boolean", constValue: "true", InOr: inOr, Negated: negated})
		}
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		st.Subqueries++
		if sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK && sl.Testexpr != nil {
			if t, c, fn, cast, ok := w.columnOf(sl.Testexpr, sc); ok {
				st.Predicates = append(st.Predicates, Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "IN",
					Value: ValSubquery, InOr: inOr, Negated: negated})
			}
		}
		w.selectStmt(sl.Subselect.GetSelectStmt(), newScope(sc), false)
	default:
		w.subqueriesIn(n, sc)
	}
}

func opName(ae *pg_query.A_Expr) string {
	if len(ae.Name) == 0 {
		return ""
	}
	return ae.Name[len(ae.Name)-1].GetString_().GetSval()
}

func (w *walker) aExpr(ae *pg_query.A_Expr, sc *scope, inOr, negated bool) {
	st := w.st
	op := opName(ae)
	switch ae.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP, pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		norm, ok := comparison[op]
		if !ok {
			w.subqueriesIn(ae.Lexpr, sc)
			w.subqueriesIn(ae.Rexpr, sc)
			return
		}
		if ae.Kind == pg_query.A_Expr_Kind_AEXPR_DISTINCT {
			norm = "<>"
		} else if ae.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT {
			norm = "="
		}
		neg := negated || strings.HasPrefix(op, "!~")
		lt, lc, lf, lcast, lok := w.columnOf(ae.Lexpr, sc)
		rt, rc, rf, rcast, rok := w.columnOf(ae.Rexpr, sc)
		switch {
		case lok && rok && !containsParamOrConst(ae.Lexpr) && !containsParamOrConst(ae.Rexpr):
			// A join (or a comparison of two columns).
			st.Predicates = append(st.Predicates,
				Predicate{Table: lt, Column: lc, Func: lf, Cast: lcast, Op: norm, Value: ValColumn, OtherTable: rt, OtherColumn: rc, InOr: inOr, Negated: neg},
				Predicate{Table: rt, Column: rc, Func: rf, Cast: rcast, Op: flipOp(norm), Value: ValColumn, OtherTable: lt, OtherColumn: lc, InOr: inOr, Negated: neg})
			if norm == "=" && lt != rt && lf == "" && rf == "" {
				st.Joins = append(st.Joins, Join{LeftTable: lt, LeftColumn: lc, RightTable: rt, RightColumn: rc})
			}
		case lok && !hasColumn(ae.Rexpr):
			w.addComparison(lt, lc, lf, lcast, norm, ae.Rexpr, sc, inOr, neg)
		case rok && !hasColumn(ae.Lexpr):
			w.addComparison(rt, rc, rf, rcast, flipOp(norm), ae.Lexpr, sc, inOr, neg)
		default:
			w.subqueriesIn(ae.Lexpr, sc)
			w.subqueriesIn(ae.Rexpr, sc)
		}
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		if t, c, fn, cast, ok := w.columnOf(ae.Lexpr, sc); ok {
			p := Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "ANY", Value: ValList, InOr: inOr, Negated: negated}
			if op != "=" {
				p.Op = comparison[op]
			}
			if n := paramIn(ae.Rexpr); n > 0 {
				p.Param = n
				p.Params = []int{n}
			}
			st.Predicates = append(st.Predicates, p)
		}
	case pg_query.A_Expr_Kind_AEXPR_IN:
		if t, c, fn, cast, ok := w.columnOf(ae.Lexpr, sc); ok {
			p := Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "IN", Value: ValList, InOr: inOr, Negated: negated || op == "<>"}
			for _, item := range ae.Rexpr.GetList().GetItems() {
				if item.GetAConst() != nil {
					st.Literals++
					p.ConstKind = constKind(item.GetAConst())
				}
				if n := paramIn(item); n > 0 {
					p.Params = append(p.Params, n)
				}
			}
			st.Predicates = append(st.Predicates, p)
		}
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE, pg_query.A_Expr_Kind_AEXPR_SIMILAR:
		if t, c, fn, cast, ok := w.columnOf(ae.Lexpr, sc); ok {
			norm := "LIKE"
			if ae.Kind == pg_query.A_Expr_Kind_AEXPR_ILIKE {
				norm = "ILIKE"
			} else if ae.Kind == pg_query.A_Expr_Kind_AEXPR_SIMILAR {
				norm = "SIMILAR"
			}
			w.addComparison(t, c, fn, cast, norm, ae.Rexpr, sc, inOr, negated || strings.HasPrefix(op, "!"))
		}
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		if t, c, fn, cast, ok := w.columnOf(ae.Lexpr, sc); ok {
			items := ae.Rexpr.GetList().GetItems()
			p := Predicate{Table: t, Column: c, Func: fn, Cast: cast, Op: "BETWEEN", InOr: inOr,
				Negated: negated || ae.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN || ae.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM}
			if len(items) > 0 {
				p.Value, p.Param, p.ConstKind, p.constValue = w.valueOf(items[0])
				for _, it := range items {
					if it.GetAConst() != nil {
						st.Literals++
					}
					if n := paramIn(it); n > 0 {
						p.Params = append(p.Params, n)
					}
				}
			}
			st.Predicates = append(st.Predicates, p)
		}
	}
}

func flipOp(op string) string {
	if f, ok := flipped[op]; ok {
		return f
	}
	return op
}

func (w *walker) addComparison(table, column, fn, cast, op string, value *pg_query.Node, sc *scope, inOr, neg bool) {
	p := Predicate{Table: table, Column: column, Func: fn, Cast: cast, Op: op, InOr: inOr, Negated: neg}
	p.Value, p.Param, p.ConstKind, p.constValue = w.valueOf(value)
	if n := paramIn(value); n > 0 {
		p.Params = []int{n}
	}
	if p.Value == ValConst && p.ConstKind != "null" && p.ConstKind != "boolean" {
		w.st.Literals++
	}
	if (op == "LIKE" || op == "ILIKE") && p.Value == ValConst {
		p.LeadingWildcard = strings.HasPrefix(p.constValue, "%") || strings.HasPrefix(p.constValue, "_")
	}
	if p.Value == ValSubquery {
		w.st.Subqueries++
		if sl := subLinkIn(value); sl != nil {
			w.selectStmt(sl.Subselect.GetSelectStmt(), newScope(sc), false)
		}
	}
	w.st.Predicates = append(w.st.Predicates, p)
}

func subLinkIn(n *pg_query.Node) *pg_query.SubLink {
	switch {
	case n == nil:
		return nil
	case n.GetSubLink() != nil:
		return n.GetSubLink()
	case n.GetTypeCast() != nil:
		return subLinkIn(n.GetTypeCast().Arg)
	}
	return nil
}

// valueOf classifies the side of a comparison that is not the column.
func (w *walker) valueOf(n *pg_query.Node) (ValueKind, int, string, string) {
	switch {
	case n == nil:
		return ValNone, 0, "", ""
	case n.GetParamRef() != nil:
		return ValParam, int(n.GetParamRef().Number), "", ""
	case n.GetAConst() != nil:
		c := n.GetAConst()
		return ValConst, 0, constKind(c), constText(c)
	case n.GetTypeCast() != nil:
		return w.valueOf(n.GetTypeCast().Arg)
	case n.GetSubLink() != nil:
		return ValSubquery, 0, "", ""
	case n.GetAArrayExpr() != nil || n.GetList() != nil:
		return ValList, 0, "", ""
	case n.GetColumnRef() != nil:
		return ValColumn, 0, "", ""
	}
	// An expression of no columns: now(), current_date - $1, $1::date + 30.
	if p := firstParam(n); p > 0 {
		return ValParam, p, "", ""
	}
	return ValExpr, 0, "", ""
}

func firstParam(n *pg_query.Node) int {
	p := 0
	walkNodes(n.ProtoReflect(), func(m protoreflect.Message) bool {
		if pr, ok := m.Interface().(*pg_query.ParamRef); ok && p == 0 {
			p = int(pr.Number)
		}
		return p == 0
	})
	return p
}

func containsParamOrConst(n *pg_query.Node) bool {
	return firstParam(n) > 0 || n.GetAConst() != nil
}

func constKind(c *pg_query.A_Const) string {
	switch {
	case c.Isnull:
		return "null"
	case c.GetIval() != nil:
		return "integer"
	case c.GetFval() != nil:
		return "float"
	case c.GetBoolval() != nil:
		return "boolean"
	case c.GetSval() != nil:
		return "string"
	case c.GetBsval() != nil:
		return "bitstring"
	}
	return "unknown"
}

func constText(c *pg_query.A_Const) string {
	switch {
	case c.Isnull:
		return ""
	case c.GetIval() != nil:
		return strconv.Itoa(int(c.GetIval().Ival))
	case c.GetFval() != nil:
		return c.GetFval().Fval
	case c.GetBoolval() != nil:
		return strconv.FormatBool(c.GetBoolval().Boolval)
	case c.GetSval() != nil:
		return c.GetSval().Sval
	case c.GetBsval() != nil:
		return c.GetBsval().Bsval
	}
	return ""
}
