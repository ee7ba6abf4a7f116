package sqlparse

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UseKind is how a statement uses a parameter.
type UseKind string

// The uses that decide a parameter's type when PostgreSQL cannot infer it.
const (
	UseColumn   UseKind = "column"    // compared with, assigned to or inserted into a column
	UseArray    UseKind = "array"     // col = ANY($n): an array of the column's type
	UseFunc     UseKind = "function"  // an argument of a function
	UseLimit    UseKind = "limit"     // LIMIT, OFFSET, FETCH FIRST
	UseConcat   UseKind = "concat"    // an operand of ||
	UseArith    UseKind = "arith"     // an operand of + - * / % with no column on the other side
	UseNullTest UseKind = "null-test" // $n IS [NOT] NULL
	UseBool     UseKind = "bool"      // a condition: WHERE $n, CASE WHEN $n, $n AND ...
	UseCast     UseKind = "cast"      // $n::type
	UseSelect   UseKind = "select"    // a bare output column: SELECT $n
)

// ParamUse is one place a parameter appears.
type ParamUse struct {
	Kind UseKind
	// Table and Column for column uses. Column is "" for an INSERT without a column
	// list; Arg then gives the position in the table's columns.
	Table, Column string
	// Func, Arg (from 0) and Args for function arguments.
	Func      string
	Arg, Args int
	// Type for casts; Op for comparisons and arithmetic.
	Type, Op string
	// Other is what an arithmetic operator's other operand is: "param", "integer",
	// "float", "column" or "expr".
	Other string
}

func (st *Statement) addUse(n int, u ParamUse) {
	if n < 1 || n > 65535 {
		return
	}
	for len(st.ParamUses) < n {
		st.ParamUses = append(st.ParamUses, nil)
	}
	st.ParamUses[n-1] = append(st.ParamUses[n-1], u)
}

// UsesOf returns the uses of $n.
func (st *Statement) UsesOf(n int) []ParamUse {
	if n < 1 || n > len(st.ParamUses) {
		return nil
	}
	return st.ParamUses[n-1]
}

// collectUses records the parameter uses that need no name resolution (function
// arguments, operators, tests, casts, limits), and the column uses the predicates and
// assignments found.
func (w *walker) collectUses(root *pg_query.Node) {
	st := w.st
	for _, p := range st.Predicates {
		kind := UseColumn
		if p.Op == "ANY" {
			kind = UseArray
		}
		if p.Func != "" || p.Cast != "" || p.Table == "" {
			continue // compared with an expression of the column: PostgreSQL types it
		}
		for _, n := range p.Params {
			st.addUse(n, ParamUse{Kind: kind, Table: p.Table, Column: p.Column, Op: p.Op})
		}
	}
	for _, b := range []*Bound{st.Limit, st.Offset} {
		if b != nil && b.Param > 0 {
			st.addUse(b.Param, ParamUse{Kind: UseLimit})
		}
	}
	walkNodes(root.ProtoReflect(), func(m protoreflect.Message) bool {
		switch v := m.Interface().(type) {
		case *pg_query.FuncCall:
			name := funcName(v)
			for i, a := range v.Args {
				if n := directParam(a); n > 0 {
					st.addUse(n, ParamUse{Kind: UseFunc, Func: name, Arg: i, Args: len(v.Args)})
				}
			}
		case *pg_query.CoalesceExpr:
			for i, a := range v.Args {
				if n := directParam(a); n > 0 {
					st.addUse(n, ParamUse{Kind: UseFunc, Func: "coalesce", Arg: i, Args: len(v.Args)})
				}
			}
		case *pg_query.A_Expr:
			w.operatorUses(v)
		case *pg_query.NullTest:
			if n := directParam(v.Arg); n > 0 {
				st.addUse(n, ParamUse{Kind: UseNullTest})
			}
		case *pg_query.BooleanTest:
			if n := directParam(v.Arg); n > 0 {
				st.addUse(n, ParamUse{Kind: UseBool})
			}
		case *pg_query.BoolExpr:
			for _, a := range v.Args {
				if n := directParam(a); n > 0 {
					st.addUse(n, ParamUse{Kind: UseBool})
				}
			}
		case *pg_query.CaseWhen:
			if n := directParam(v.Expr); n > 0 {
				st.addUse(n, ParamUse{Kind: UseBool})
			}
		case *pg_query.TypeCast:
			if n := directParam(v.Arg); n > 0 {
				st.addUse(n, ParamUse{Kind: UseCast, Type: typeName(v.TypeName)})
			}
		case *pg_query.SelectStmt:
			for _, t := range v.TargetList {
				if n := directParam(t.GetResTarget().GetVal()); n > 0 {
					st.addUse(n, ParamUse{Kind: UseSelect})
				}
			}
			if v.WhereClause != nil {
				if n := directParam(v.WhereClause); n > 0 {
					st.addUse(n, ParamUse{Kind: UseBool})
				}
			}
		}
		return true
	})
}

var arithmetic = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "^": true}

func (w *walker) operatorUses(ae *pg_query.A_Expr) {
	if ae.Kind != pg_query.A_Expr_Kind_AEXPR_OP {
		return
	}
	op := opName(ae)
	sides := [2]*pg_query.Node{ae.Lexpr, ae.Rexpr}
	for i, side := range sides {
		n := directParam(side)
		if n == 0 {
			continue
		}
		switch {
		case op == "||":
			w.st.addUse(n, ParamUse{Kind: UseConcat, Op: op})
		case arithmetic[op]:
			w.st.addUse(n, ParamUse{Kind: UseArith, Op: op, Other: operandKind(sides[1-i])})
		}
	}
}

// operandKind describes an operand for typing the parameter on the other side.
func operandKind(n *pg_query.Node) string {
	switch {
	case n == nil:
		return ""
	case n.GetParamRef() != nil:
		return "param"
	case n.GetAConst() != nil:
		return constKind(n.GetAConst())
	case n.GetColumnRef() != nil:
		return "column"
	case n.GetAExpr() != nil && arithmetic[opName(n.GetAExpr())]:
		// ($1 % $4): the type of an arithmetic sub-expression is its operands'.
		l, r := operandKind(n.GetAExpr().Lexpr), operandKind(n.GetAExpr().Rexpr)
		if l == r || r == "" {
			return l
		}
		if l == "param" {
			return r
		}
		if r == "param" {
			return l
		}
	}
	return "expr"
}

// directParam is n when the node is $n itself.
func directParam(n *pg_query.Node) int {
	if n == nil || n.GetParamRef() == nil {
		return 0
	}
	return int(n.GetParamRef().Number)
}

// assignmentUses records INSERT values and UPDATE / ON CONFLICT assignments.
func (w *walker) insertUses(ins *pg_query.InsertStmt, target TableRef) {
	var cols []string
	for _, c := range ins.Cols {
		cols = append(cols, c.GetResTarget().GetName())
	}
	if sel := ins.SelectStmt.GetSelectStmt(); sel != nil {
		for _, row := range sel.ValuesLists {
			for i, v := range row.GetList().GetItems() {
				n := directParam(v)
				if n == 0 {
					continue
				}
				u := ParamUse{Kind: UseColumn, Table: target.Qualified(), Arg: i, Op: "="}
				if i < len(cols) {
					u.Column = cols[i]
				} else if len(cols) > 0 {
					continue
				}
				w.st.addUse(n, u)
			}
		}
	}
	if oc := ins.OnConflictClause; oc != nil {
		w.setUses(oc.TargetList, target)
	}
}

func (w *walker) setUses(targets []*pg_query.Node, target TableRef) {
	for _, item := range targets {
		rt := item.GetResTarget()
		if rt == nil || len(rt.Indirection) > 0 {
			continue
		}
		if n := directParam(rt.Val); n > 0 {
			w.st.addUse(n, ParamUse{Kind: UseColumn, Table: target.Qualified(), Column: rt.Name, Op: "="})
		}
	}
}

// FuncName is a function's name as the uses record it (lower case, no schema).
func FuncName(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(name)
}
