package backup

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/pgconn"
)

// AmcheckResult counts what amcheck read and found. Problems name relations, never
// row values.
type AmcheckResult struct {
	Tables   int    `json:"tables"`
	Indexes  int    `json:"indexes"`
	Problems int    `json:"problems"`
	First    string `json:"first_problem,omitempty"`
}

const amcheckTables = `SELECT c.oid, c.oid::pg_catalog.regclass::pg_catalog.text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY 2`

const amcheckIndexes = `SELECT c.oid, c.oid::pg_catalog.regclass::pg_catalog.text
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = c.relam JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence = 'p'
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY 2`

// Amcheck runs verify_heapam (with TOAST) on every table and bt_index_check with
// heapallindexed on every B-tree index of the database at dsn. It reads every block,
// which is how a TOAST chunk lost in a restore shows up.
func Amcheck(ctx context.Context, dsn string) (AmcheckResult, error) {
	var res AmcheckResult
	conn, err := pgconn.Connect(ctx, dsn, pgconn.Policy{Write: true})
	if err != nil {
		return res, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		return res, fmt.Errorf("backup: amcheck: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
		return res, fmt.Errorf("backup: creating amcheck in the restored copy: %w", err)
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT n.nspname FROM pg_catalog.pg_extension e
		JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'`).Scan(&schema); err != nil {
		return res, fmt.Errorf("backup: finding amcheck: %w", err)
	}
	s := ident.Quote(schema)
	heap := `SELECT pg_catalog.count(*) FROM ` + s + `.verify_heapam($1::pg_catalog.regclass, check_toast => true)`
	if res.Tables, err = checkEach(ctx, conn, amcheckTables, heap, &res); err != nil {
		return res, err
	}
	btree := `SELECT 0::pg_catalog.int8 FROM ` + s + `.bt_index_check($1::pg_catalog.regclass, true)`
	res.Indexes, err = checkEach(ctx, conn, amcheckIndexes, btree, &res)
	return res, err
}

// checkEach runs check on every relation list returns. bt_index_check reports a
// corrupt index by raising an error, so a data or internal error counts as a problem
// of that relation rather than ending the check.
func checkEach(ctx context.Context, conn *pgx.Conn, list, check string, res *AmcheckResult) (int, error) {
	rows, err := conn.Query(ctx, list)
	if err != nil {
		return 0, fmt.Errorf("backup: amcheck: listing relations: %w", err)
	}
	type rel struct {
		oid  uint32
		name string
	}
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
		var x rel
		return x, r.Scan(&x.oid, &x.name)
	})
	if err != nil {
		return 0, fmt.Errorf("backup: amcheck: listing relations: %w", err)
	}
	for _, r := range rels {
		var n int64
		err := conn.QueryRow(ctx, check, r.oid).Scan(&n)
		if err != nil {
			// XX: index or data corrupted; 22: a value that cannot be read.
			if c := pgerr.Class(err); c != "XX" && c != "22" {
				return 0, fmt.Errorf("backup: amcheck of %s: %w", r.name, err)
			}
			n = 1
		}
		if n > 0 {
			if res.Problems == 0 {
				res.First = r.name
			}
			res.Problems += int(n)
		}
	}
	return len(rels), nil
}
