package queryperf

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// keysetRewrite turns OFFSET paging into keyset paging: the page after the last row seen
// is found through the ORDER BY columns, so the server reads one page, not every page
// before it. It works when every sort key is a plain column with the same direction;
// the new parameters carry the last row's sort values.
func keysetRewrite(sql string) (string, bool) {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return "", false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || sel.LimitOffset == nil || len(sel.SortClause) == 0 || sel.Op != pg_query.SetOperation_SETOP_NONE {
		return "", false
	}
	desc := false
	var cols []*pg_query.Node
	for i, s := range sel.SortClause {
		sb := s.GetSortBy()
		if sb == nil || sb.Node.GetColumnRef() == nil || sb.SortbyNulls != pg_query.SortByNulls_SORTBY_NULLS_DEFAULT {
			return "", false
		}
		d := sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC
		if i == 0 {
			desc = d
		} else if d != desc {
			return "", false // mixed directions need a different comparison per column
		}
		cols = append(cols, proto.Clone(sb.Node).(*pg_query.Node))
	}
	next := int32(maxParamIn(tree) + 1)
	var params []*pg_query.Node
	for i := range cols {
		params = append(params, pg_query.MakeParamRefNode(next+int32(i), 0))
	}
	op := ">"
	if desc {
		op = "<"
	}
	var left, right *pg_query.Node
	if len(cols) == 1 {
		left, right = cols[0], params[0]
	} else {
		left = &pg_query.Node{Node: &pg_query.Node_RowExpr{RowExpr: &pg_query.RowExpr{Args: cols, RowFormat: pg_query.CoercionForm_COERCE_IMPLICIT_CAST}}}
		right = &pg_query.Node{Node: &pg_query.Node_RowExpr{RowExpr: &pg_query.RowExpr{Args: params, RowFormat: pg_query.CoercionForm_COERCE_IMPLICIT_CAST}}}
	}
	cond := pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode(op)}, left, right, 0)
	if sel.WhereClause == nil {
		sel.WhereClause = cond
	} else {
		sel.WhereClause = pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, []*pg_query.Node{sel.WhereClause, cond}, 0)
	}
	sel.LimitOffset = nil
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return "", false
	}
	return out, true
}

// batchRewrite turns a single-row lookup (col = $n) into a batched one (col = ANY($n)),
// the usual fix for an N+1 pattern: one statement for the whole list of keys.
func batchRewrite(sql string) (string, bool) {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return "", false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || sel.WhereClause == nil {
		return "", false
	}
	changed := false
	rewrite := func(n *pg_query.Node) *pg_query.Node {
		ae := n.GetAExpr()
		if ae == nil || ae.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(ae.Name) != 1 || ae.Name[0].GetString_().GetSval() != "=" {
			return n
		}
		if ae.Lexpr.GetColumnRef() == nil || ae.Rexpr.GetParamRef() == nil || changed {
			return n
		}
		changed = true
		return pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP_ANY, ae.Name, ae.Lexpr, ae.Rexpr, 0)
	}
	if be := sel.WhereClause.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
		for i, a := range be.Args {
			be.Args[i] = rewrite(a)
		}
	} else {
		sel.WhereClause = rewrite(sel.WhereClause)
	}
	if !changed {
		return "", false
	}
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return "", false
	}
	return out, true
}

func maxParamIn(tree *pg_query.ParseResult) int {
	max := 0
	var visit func(m proto.Message)
	visit = func(m proto.Message) {
		if p, ok := m.(*pg_query.ParamRef); ok && int(p.Number) > max {
			max = int(p.Number)
		}
		r := m.ProtoReflect()
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Message() == nil {
				return true
			}
			if fd.IsList() {
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message().Interface())
				}
			} else if !fd.IsMap() {
				visit(v.Message().Interface())
			}
			return true
		})
	}
	for _, s := range tree.Stmts {
		visit(s)
	}
	return max
}
