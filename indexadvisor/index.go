package indexadvisor

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
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

// name part of an index name: letters, digits and underscores.
func (k Key) namePart() string {
	s := k.Column
	if k.Expr != "" {
		s = k.Expr
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_':
			b.WriteRune(r)
		case r == '(' || r == ' ':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	return strings.Trim(b.String(), "_")
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

// Name is deterministic: table and key columns, and a short hash of the full definition
// when INCLUDE columns, a predicate or directions make it differ from the plain index.
func (ix *Index) Name() string {
	parts := []string{ix.Table}
	for _, k := range ix.Keys {
		parts = append(parts, k.namePart())
	}
	name := strings.Join(parts, "_")
	plain := ix.Where == "" && len(ix.Include) == 0 && ix.method() == "btree"
	for _, k := range ix.Keys {
		if k.Desc {
			plain = false
		}
	}
	if !plain || len(name) > 55 {
		h := fnv.New32a()
		h.Write([]byte(ix.Signature()))
		if len(name) > 50 {
			name = name[:50]
		}
		name = fmt.Sprintf("%s_%06x", strings.TrimRight(name, "_"), h.Sum32()&0xffffff)
	}
	return name + "_idx"
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
