package explain

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// typeInfo is what planning needs to know of a parameter's type.
type typeInfo struct {
	oid      uint32
	name     string // as regtype prints it: usable in a cast on this session
	base     string // pg_type.typname of the type, or of a domain's base type
	category string // pg_type.typcategory: N numeric, S string, D date/time, B bool ...
	elem     uint32 // element type of an array, 0 otherwise
	label    string // first label of an enum
}

// catalogCache remembers catalog answers for the planner's session.
type catalogCache struct {
	types   map[uint32]*typeInfo
	byName  map[string]uint32
	columns map[string][2]uint32 // table.column -> type, its array type
	funcs   map[string]uint32    // name/args/arg -> the one type every overload takes there
	order   map[string][]string  // table -> columns in order
}

func newCatalogCache() *catalogCache {
	return &catalogCache{types: map[uint32]*typeInfo{}, byName: map[string]uint32{}, columns: map[string][2]uint32{},
		funcs: map[string]uint32{}, order: map[string][]string{}}
}

// relation quotes a table name as the parser reports it (schema.name, or name).
func relation(table string) string {
	if schema, name, ok := strings.Cut(table, "."); ok {
		return pgx.Identifier{schema, name}.Sanitize()
	}
	return pgx.Identifier{table}.Sanitize()
}

// typeOID resolves a type name as a cast would ("int4", "timestamp with time zone").
func (p *Planner) typeOID(ctx context.Context, name string) uint32 {
	if oid, ok := p.cat.byName[name]; ok {
		return oid
	}
	var oid uint32
	if err := p.conn.QueryRow(ctx, policy.Marker+"SELECT coalesce(pg_catalog.to_regtype($1)::oid, 0)", name).Scan(&oid); err != nil {
		oid = 0
	}
	p.cat.byName[name] = oid
	return oid
}

// columnType is a column's type and its array type (0, 0 when unknown).
func (p *Planner) columnType(ctx context.Context, table, column string) (uint32, uint32) {
	key := table + "." + column
	if t, ok := p.cat.columns[key]; ok {
		return t[0], t[1]
	}
	var t [2]uint32
	err := p.conn.QueryRow(ctx, policy.Marker+`SELECT a.atttypid, t.typarray FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
		relation(table), column).Scan(&t[0], &t[1])
	if err != nil {
		t = [2]uint32{}
	}
	p.cat.columns[key] = t
	return t[0], t[1]
}

// columnAt is the name of a table's pos-th column (from 0), for INSERTs that list none.
func (p *Planner) columnAt(ctx context.Context, table string, pos int) string {
	cols, ok := p.cat.order[table]
	if !ok {
		rows, err := p.conn.Query(ctx, policy.Marker+`SELECT attname::text FROM pg_catalog.pg_attribute
			WHERE attrelid = pg_catalog.to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, relation(table))
		if err == nil {
			cols, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		p.cat.order[table] = cols
	}
	if pos < len(cols) {
		return cols[pos]
	}
	return ""
}

// funcArgType is the type every overload of name with args arguments takes at
// position arg, or 0 when they differ or take a polymorphic type there.
func (p *Planner) funcArgType(ctx context.Context, name string, args, arg int) uint32 {
	key := name + "/" + strconv.Itoa(args) + "/" + strconv.Itoa(arg)
	if oid, ok := p.cat.funcs[key]; ok {
		return oid
	}
	var oid uint32
	err := p.conn.QueryRow(ctx, policy.Marker+`SELECT CASE WHEN count(DISTINCT p.proargtypes[$3]) = 1 THEN min(p.proargtypes[$3]) ELSE 0 END
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_type t ON t.oid = p.proargtypes[$3]
		WHERE p.proname = $1 AND p.pronargs = $2 AND t.typtype <> 'p' AND pg_catalog.pg_function_is_visible(p.oid)`,
		name, args, arg).Scan(&oid)
	if err != nil {
		oid = 0
	}
	p.cat.funcs[key] = oid
	return oid
}

// typeOf describes a type (nil when the catalog does not know it).
func (p *Planner) typeOf(ctx context.Context, oid uint32) *typeInfo {
	if oid == 0 {
		return nil
	}
	if ti, ok := p.cat.types[oid]; ok {
		return ti
	}
	ti := &typeInfo{oid: oid}
	err := p.conn.QueryRow(ctx, policy.Marker+`SELECT t.oid::regtype::text, b.typname::text, b.typcategory::text, b.typelem,
		coalesce((SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = b.oid ORDER BY e.enumsortorder LIMIT 1), '')
		FROM pg_catalog.pg_type t
		JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		WHERE t.oid = $1`, oid).Scan(&ti.name, &ti.base, &ti.category, &ti.elem, &ti.label)
	if err != nil {
		ti = nil
	}
	p.cat.types[oid] = ti
	return ti
}

// useRank orders the uses of a parameter by how surely they give its type.
var useRank = map[sqlparse.UseKind]int{
	sqlparse.UseColumn: 1, sqlparse.UseArray: 1, sqlparse.UseFunc: 3, sqlparse.UseLimit: 4,
	sqlparse.UseBool: 5, sqlparse.UseArith: 6, sqlparse.UseConcat: 7, sqlparse.UseNullTest: 8, sqlparse.UseSelect: 8,
}

// inferType chooses a type for $n from where the statement uses it, what it replaced
// (raw texts) and the catalog. weakOnly limits it to parameters PostgreSQL cannot type
// from a column, a cast or a LIMIT (the ones that make PREPARE fail). 0: no opinion.
func (p *Planner) inferType(ctx context.Context, in *sqlparse.Intake, st *sqlparse.Statement, n int, weakOnly bool) uint32 {
	if n <= len(in.Declared) && in.Declared[n-1] != "" {
		return p.typeOID(ctx, in.Declared[n-1])
	}
	uses := st.UsesOf(n)
	if weakOnly {
		for _, u := range uses {
			if u.Kind == sqlparse.UseColumn || u.Kind == sqlparse.UseArray || u.Kind == sqlparse.UseCast || u.Kind == sqlparse.UseLimit {
				return 0
			}
		}
	}
	best, bestRank := uint32(0), 99
	consider := func(oid uint32, rank int) {
		if oid != 0 && rank < bestRank {
			best, bestRank = oid, rank
		}
	}
	for _, u := range uses {
		switch u.Kind {
		case sqlparse.UseColumn:
			col := u.Column
			if col == "" {
				col = p.columnAt(ctx, u.Table, u.Arg)
			}
			t, _ := p.columnType(ctx, u.Table, col)
			consider(t, 1)
		case sqlparse.UseArray:
			_, arr := p.columnType(ctx, u.Table, u.Column)
			consider(arr, 1)
		case sqlparse.UseCast:
			consider(p.typeOID(ctx, u.Type), 2)
		case sqlparse.UseFunc:
			if u.Func != "coalesce" {
				consider(p.funcArgType(ctx, u.Func, u.Args, u.Arg), 3)
			}
		case sqlparse.UseLimit:
			consider(p.typeOID(ctx, "int8"), 4)
		case sqlparse.UseBool:
			consider(p.typeOID(ctx, "bool"), 5)
		case sqlparse.UseArith:
			name := "numeric"
			if u.Other == "integer" || u.Op == "%" && u.Other != "float" {
				name = "int8"
			}
			consider(p.typeOID(ctx, name), 6)
		case sqlparse.UseConcat, sqlparse.UseNullTest, sqlparse.UseSelect:
			consider(p.typeOID(ctx, "text"), useRank[u.Kind])
		}
	}
	if n <= len(in.Literals) && in.Literals[n-1] != nil && bestRank > 2 {
		// What the constant was tells more than an operator does.
		if oid := p.literalType(ctx, in.Literals[n-1]); oid != 0 && bestRank > 3 {
			return oid
		}
	}
	return best
}

func (p *Planner) literalType(ctx context.Context, l *sqlparse.Literal) uint32 {
	switch l.Kind {
	case "integer":
		if len(l.Value()) > 9 {
			return p.typeOID(ctx, "int8")
		}
		return p.typeOID(ctx, "int4")
	case "float":
		return p.typeOID(ctx, "numeric")
	case "boolean":
		return p.typeOID(ctx, "bool")
	case "bitstring":
		return p.typeOID(ctx, "varbit")
	}
	return 0
}
