package compliance

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/healthcare"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// catalog is what discovery reads about user tables: columns, privileges, single-column
// foreign keys and unique keys.
type catalog struct {
	tables []*table
}

type table struct {
	schema, name string
	reltuples    int64
	columns      []*column
	refs         []string // tables its foreign keys point at, "schema.table"
	class        healthcare.TableClass
	sampled      int
	notSampled   string
}

type column struct {
	schema, table, name, typ string
	canSelect, unique        bool
	ref                      string // "schema.table.column" of a single-column foreign key
	scan                     *healthcare.ValueScan
	notSampled               string
}

func (c *column) key() string { return c.schema + "." + c.table + "." + c.name }

func (t *table) input() healthcare.TableInput {
	in := healthcare.TableInput{Schema: t.schema, Name: t.name, References: t.refs}
	for _, c := range t.columns {
		in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.name, Type: c.typ})
	}
	return in
}

func (t *table) evidence(c *column, cls *healthcare.Classifier) healthcare.ColumnEvidence {
	return healthcare.ColumnEvidence{
		Schema: t.schema, Table: t.name, Column: c.name, Type: c.typ,
		Names:      t.class.Identifiers[c.name],
		Forced:     cls.ForcedColumn(t.schema, t.name, c.name),
		Excluded:   cls.ExcludedColumn(t.schema, t.name, c.name),
		Values:     c.scan,
		NotSampled: c.notSampled,
		Unique:     c.unique,
		Class:      t.class,
	}
}

// userTables selects ordinary and partitioned tables that are not partitions, not
// system or pgmedic's own, and not members of an extension.
const userTables = `
SELECT c.oid, n.nspname, c.relname, greatest(c.reltuples, 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgmedic', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname`

const userColumns = `
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       has_column_privilege(a.attrelid, a.attnum, 'SELECT'),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique
               AND i.indnatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL),
       (SELECT fn.nspname || '.' || fc.relname || '.' || fa.attname
          FROM pg_constraint k
          JOIN pg_class fc ON fc.oid = k.confrelid
          JOIN pg_namespace fn ON fn.oid = fc.relnamespace
          JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]
         WHERE k.contype = 'f' AND k.conrelid = a.attrelid AND cardinality(k.conkey) = 1
           AND k.conkey[1] = a.attnum
         ORDER BY k.conname LIMIT 1)
FROM pg_attribute a
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

const userForeignKeys = `
SELECT k.conrelid, fn.nspname || '.' || fc.relname
FROM pg_constraint k
JOIN pg_class fc ON fc.oid = k.confrelid
JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.contype = 'f' AND k.conrelid = ANY($1)
ORDER BY k.conrelid, k.conname`

func readCatalog(ctx context.Context, conn *pgx.Conn) (*catalog, error) {
	cat := &catalog{}
	byOID := map[uint32]*table{}
	var oids []uint32
	rows, err := conn.Query(ctx, policy.Marker+userTables)
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	for rows.Next() {
		t := &table{}
		var oid uint32
		if err := rows.Scan(&oid, &t.schema, &t.name, &t.reltuples); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read tables: %w", err)
		}
		byOID[oid] = t
		oids = append(oids, oid)
		cat.tables = append(cat.tables, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	if err := readColumns(ctx, conn, oids, byOID); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, policy.Marker+userForeignKeys, oids)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var ref string
		if err := rows.Scan(&oid, &ref); err != nil {
			return nil, fmt.Errorf("read foreign keys: %w", err)
		}
		byOID[oid].refs = append(byOID[oid].refs, ref)
	}
	return cat, rows.Err()
}

func readColumns(ctx context.Context, conn *pgx.Conn, oids []uint32, byOID map[uint32]*table) error {
	rows, err := conn.Query(ctx, policy.Marker+userColumns, oids)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var ref *string
		c := &column{}
		if err := rows.Scan(&oid, &c.name, &c.typ, &c.canSelect, &c.unique, &ref); err != nil {
			return fmt.Errorf("read columns: %w", err)
		}
		t := byOID[oid]
		c.schema, c.table = t.schema, t.name
		if ref != nil {
			c.ref = *ref
		}
		t.columns = append(t.columns, c)
	}
	return rows.Err()
}
