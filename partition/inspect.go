package partition

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Table is what the catalog says about a table to convert: everything that depends on
// it and must move with it, or stop the conversion.
type Table struct {
	Schema    string   `json:"schema"`
	Name      string   `json:"name"`
	OID       uint32   `json:"oid"`
	Kind      string   `json:"kind"` // r, p, v, m, f ...
	Owner     string   `json:"owner"`
	Rows      int64    `json:"rows_estimate"`
	Bytes     int64    `json:"bytes"`
	Inherits  bool     `json:"inherits,omitempty"` // an inheritance parent or child, or a partition
	Columns   []Column `json:"columns"`
	PK        *Key     `json:"primary_key,omitempty"`
	Indexes   []Index  `json:"indexes"`
	FKsOut    []FK     `json:"foreign_keys_out,omitempty"`
	FKsIn     []FK     `json:"foreign_keys_in,omitempty"`
	Views     []View   `json:"views,omitempty"`
	Triggers  []Named  `json:"triggers,omitempty"`
	Rules     int      `json:"rules,omitempty"`
	Grants    []string `json:"grants,omitempty"`     // GRANT statements naming the table
	ColGrants int      `json:"col_grants,omitempty"` // column-level grants (not carried over)
	RLS       bool     `json:"rls,omitempty"`
	ForceRLS  bool     `json:"force_rls,omitempty"`
	Policies  []string `json:"policies,omitempty"` // CREATE POLICY statements naming the table
	Pubs      []string `json:"publications,omitempty"`
}

// Column is one column.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	NotNull  bool   `json:"not_null"`
	Identity string `json:"identity,omitempty"` // "ALWAYS", "BY DEFAULT"
	Sequence string `json:"sequence,omitempty"` // owned or identity sequence, qualified and quoted
	// Generated columns are computed; copies leave them out.
	Generated bool `json:"generated,omitempty"`
}

// Key is a primary key or unique constraint.
type Key struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// Index is one index of the table.
type Index struct {
	Name       string   `json:"name"`
	Def        string   `json:"def"`
	Unique     bool     `json:"unique"`
	Primary    bool     `json:"primary"`
	Constraint string   `json:"constraint,omitempty"` // the unique or primary key constraint it backs
	Columns    []string `json:"columns"`              // empty entries are expressions
	Partial    bool     `json:"partial"`
}

// FK is a foreign key: out of the table (Def applies to it) or into it (Table names the
// referencing table).
type FK struct {
	Name  string `json:"name"`
	Table string `json:"table"`
	Def   string `json:"def"`
}

// View is a view that reads the table.
type View struct {
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // v or m
	Def     string `json:"def"`
	Options string `json:"options,omitempty"`
}

// Named is a named definition (a trigger).
type Named struct {
	Name    string `json:"name"`
	Def     string `json:"def"`
	Enabled bool   `json:"enabled"`
}

// ErrNoTable: the table does not exist or cannot be seen.
var ErrNoTable = errors.New("no such table")

// Inspect reads the table's description from the catalog.
func Inspect(ctx context.Context, conn *pgx.Conn, schema, name string) (*Table, error) {
	t := &Table{Schema: schema, Name: name}
	err := conn.QueryRow(ctx, policy.Marker+`SELECT c.oid, c.relkind::text, pg_get_userbyid(c.relowner), greatest(c.reltuples, 0)::bigint,
		pg_total_relation_size(c.oid), c.relispartition OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid),
		c.relrowsecurity, c.relforcerowsecurity,
		(SELECT count(*) FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')::int
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, name).
		Scan(&t.OID, &t.Kind, &t.Owner, &t.Rows, &t.Bytes, &t.Inherits, &t.RLS, &t.ForceRLS, &t.Rules)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("partition: %s.%s: %w", schema, name, ErrNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("partition: reading %s.%s: %w", schema, name, err)
	}
	for _, read := range []func(context.Context, *pgx.Conn) error{t.readColumns, t.readIndexes, t.readFKs, t.readViews,
		t.readTriggers, t.readGrants, t.readPolicies, t.readPubs} {
		if err := read(ctx, conn); err != nil {
			return nil, fmt.Errorf("partition: reading %s.%s: %w", schema, name, err)
		}
	}
	return t, nil
}

func (t *Table) readColumns(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' ELSE '' END,
		coalesce(pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname), ''),
		a.attgenerated <> ''
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, t.OID)
	if err != nil {
		return err
	}
	t.Columns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Name, &c.Type, &c.NotNull, &c.Identity, &c.Sequence, &c.Generated)
		return c, err
	})
	return err
}

func (t *Table) readIndexes(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisunique, x.indisprimary,
		coalesce(con.conname, ''), x.indpred IS NOT NULL,
		ARRAY(SELECT coalesce(a.attname, '') FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord)
		      LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord)
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
		WHERE x.indrelid = $1 ORDER BY x.indisprimary DESC, i.relname`, t.OID)
	if err != nil {
		return err
	}
	t.Indexes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Index, error) {
		var ix Index
		err := r.Scan(&ix.Name, &ix.Def, &ix.Unique, &ix.Primary, &ix.Constraint, &ix.Partial, &ix.Columns)
		return ix, err
	})
	if err != nil {
		return err
	}
	for _, ix := range t.Indexes {
		if ix.Primary {
			t.PK = &Key{Name: ix.Constraint, Columns: ix.Columns}
		}
	}
	return nil
}

func (t *Table) readFKs(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT con.conname, con.conrelid::regclass::text, pg_get_constraintdef(con.oid), con.conrelid = $1
		FROM pg_constraint con WHERE con.contype = 'f' AND (con.conrelid = $1 OR con.confrelid = $1) AND con.conparentid = 0
		ORDER BY con.conname`, t.OID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var fk FK
		var out bool
		if err := rows.Scan(&fk.Name, &fk.Table, &fk.Def, &out); err != nil {
			return err
		}
		if out {
			t.FKsOut = append(t.FKsOut, fk)
		} else {
			t.FKsIn = append(t.FKsIn, fk)
		}
	}
	return rows.Err()
}

// readViews lists the views and materialized views whose rules read the table.
func (t *Table) readViews(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT DISTINCT n.nspname, v.relname, v.relkind::text, pg_get_viewdef(v.oid),
		coalesce(array_to_string(v.reloptions, ', '), '')
		FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
		JOIN pg_namespace n ON n.oid = v.relnamespace
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.oid <> $1
		ORDER BY 1, 2`, t.OID)
	if err != nil {
		return err
	}
	t.Views, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (View, error) {
		var v View
		err := r.Scan(&v.Schema, &v.Name, &v.Kind, &v.Def, &v.Options)
		return v, err
	})
	return err
}

func (t *Table) readTriggers(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT tgname, pg_get_triggerdef(oid), tgenabled <> 'D'
		FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`, t.OID)
	if err != nil {
		return err
	}
	t.Triggers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Named, error) {
		var n Named
		err := r.Scan(&n.Name, &n.Def, &n.Enabled)
		return n, err
	})
	return err
}

// readGrants turns the table's ACL into GRANT statements naming it (the owner's own
// privileges are implicit and left out).
func (t *Table) readGrants(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT 'GRANT ' || a.privilege_type || ' ON ' || $2 || ' TO ' ||
		CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END ||
		CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
		FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1 AND a.grantee <> c.relowner ORDER BY 1`, t.OID, t.Quoted())
	if err != nil {
		return err
	}
	t.Grants, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	return conn.QueryRow(ctx, policy.Marker+`SELECT count(*) FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND attacl IS NOT NULL`, t.OID).Scan(&t.ColGrants)
}

// readPolicies rebuilds the row-level security policies as CREATE POLICY statements.
func (t *Table) readPolicies(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT 'CREATE POLICY ' || quote_ident(policyname) || ' ON ' || $3 ||
		' AS ' || permissive || ' FOR ' || cmd || ' TO ' ||
		(SELECT string_agg(CASE WHEN r = 'public' THEN 'PUBLIC' ELSE quote_ident(r) END, ', ') FROM unnest(roles) r) ||
		coalesce(' USING (' || qual || ')', '') || coalesce(' WITH CHECK (' || with_check || ')', '')
		FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname`, t.Schema, t.Name, t.Quoted())
	if err != nil {
		return err
	}
	t.Policies, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}

func (t *Table) readPubs(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT p.pubname FROM pg_publication p
		WHERE p.puballtables OR EXISTS (SELECT FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $1)
		   OR EXISTS (SELECT FROM pg_publication_namespace pn JOIN pg_class c ON c.relnamespace = pn.pnnspid
		              WHERE pn.pnpubid = p.oid AND c.oid = $1) ORDER BY 1`, t.OID)
	if err != nil {
		return err
	}
	t.Pubs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}

// Quoted is the table's qualified, quoted name.
func (t *Table) Quoted() string { return ident.Quote(t.Schema, t.Name) }

// Column returns the named column.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
