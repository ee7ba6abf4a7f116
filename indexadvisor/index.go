package indexadvisor

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
)

// Key is one key column (or expression) of an index.
type Key struct {
	Column string `json:"column,omitempty"` // a plain column
	Expr   string `json:"expr,omitempty"`   // an expression such as lower(email)
	Desc   bool   `json:"desc,omitempty"`
	// OpClass is a non-default operator class (gin_trgm_ops, jsonb_path_ops).
	OpClass string `json:"opclass,omitempty"`
}

func (k Key) sql() string {
	s := ""
	if k.Expr != "" {
		s = "(" + k.Expr + ")"
	} else {
		s = pgx.Identifier{k.Column}.Sanitize()
	}
	if k.OpClass != "" {
		s += " " + k.OpClass
	}
	if k.Desc {
		s += " DESC"
	}
	return s
}

func (k Key) label() string {
	name := k.Column
	if k.Expr != "" {
		name = k.Expr
	}
	if k.OpClass != "" {
		name += " " + k.OpClass
	}
	if k.Desc {
		name += " DESC"
	}
	return name
}

// Index is a candidate or recommended index.
type Index struct {
	Schema  string
	Table   string
	Keys    []Key
	Include []string
	Where   string // partial index predicate, SQL
	Method  string
	// Sources says why it was proposed: "workload", "preset: ...".
	Sources []string
}

// Qualified is schema.table.
func (ix *Index) Qualified() string { return ix.Schema + "." + ix.Table }

// Signature identifies an index by what it indexes, not by its name.
func (ix *Index) Signature() string {
	var keys []string
	for _, k := range ix.Keys {
		keys = append(keys, k.label())
	}
	return fmt.Sprintf("%s.%s|%s|%s|%s|%s", ix.Schema, ix.Table, ix.method(), strings.Join(keys, ","), strings.Join(ix.Include, ","), ix.Where)
}

func (ix *Index) method() string {
	if ix.Method == "" {
		return "btree"
	}
	return ix.Method
}

// Name is deterministic (see ident.IndexName): table and key columns, and a short hash
// of the full definition when INCLUDE columns, a predicate, a method, an operator class
// or a direction make it differ from the plain index.
func (ix *Index) Name() string {
	var parts []string
	plain := ix.Where == "" && len(ix.Include) == 0 && ix.method() == "btree"
	for _, k := range ix.Keys {
		part := k.Column
		if k.Expr != "" {
			part = k.Expr
		}
		parts = append(parts, part)
		plain = plain && !k.Desc && k.OpClass == ""
	}
	variant := ""
	if !plain {
		variant = ix.Signature()
	}
	return ident.IndexName(ix.Table, parts, variant)
}

// Definition is the CREATE INDEX statement (CONCURRENTLY IF NOT EXISTS for a real build).
func (ix *Index) Definition(concurrently bool) string {
	var keys []string
	for _, k := range ix.Keys {
		keys = append(keys, k.sql())
	}
	b := strings.Builder{}
	b.WriteString("CREATE INDEX ")
	if concurrently {
		b.WriteString("CONCURRENTLY IF NOT EXISTS ")
	}
	b.WriteString(pgx.Identifier{ix.Name()}.Sanitize())
	b.WriteString(" ON ")
	b.WriteString(pgx.Identifier{ix.Schema, ix.Table}.Sanitize())
	if ix.method() != "btree" {
		b.WriteString(" USING " + ix.method())
	}
	b.WriteString(" (" + strings.Join(keys, ", ") + ")")
	if len(ix.Include) > 0 {
		var inc []string
		for _, c := range ix.Include {
			inc = append(inc, pgx.Identifier{c}.Sanitize())
		}
		b.WriteString(" INCLUDE (" + strings.Join(inc, ", ") + ")")
	}
	if ix.Where != "" {
		b.WriteString(" WHERE " + ix.Where)
	}
	return b.String()
}

// Columns lists the key columns (expressions in parentheses) for reports.
func (ix *Index) Columns() []string {
	var out []string
	for _, k := range ix.Keys {
		out = append(out, k.label())
	}
	return out
}

// leading is the first key's column or expression.
func (ix *Index) leading() string {
	if len(ix.Keys) == 0 {
		return ""
	}
	if ix.Keys[0].Expr != "" {
		return ix.Keys[0].Expr
	}
	return ix.Keys[0].Column
}
