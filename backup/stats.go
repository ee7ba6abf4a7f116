package backup

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/pgconn"
)

// TableStat is what a backup promises about one table: its row count and a content
// hash, both read in the snapshot the dump was taken in. The hash is the sum of a
// keyed 64-bit hash of each row's text form, so it does not depend on row order and
// cannot be checked against guessed values without the key.
type TableStat struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Hash   string `json:"hash"`
}

// sessionSettings fix every setting a row's text form depends on, so the same rows
// give the same text on the source and on the restored copy.
var sessionSettings = []string{
	"SET statement_timeout = 0",
	"SET idle_in_transaction_session_timeout = 0",
	"SET DateStyle = 'ISO, YMD'",
	"SET IntervalStyle = 'postgres'",
	"SET TimeZone = 'UTC'",
	"SET extra_float_digits = 3",
	"SET bytea_output = 'hex'",
	"SET lc_monetary = 'C'",
	"SET search_path = ''",
}

func prepareSession(ctx context.Context, conn *pgx.Conn) error {
	for _, s := range sessionSettings {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("backup: %s: %w", s, err)
		}
	}
	return nil
}

// hashSeed derives the seed of the content hash from the key, so the key itself never
// reaches the server.
func hashSeed(key []byte) (int64, error) {
	b, err := hkdf.Key(sha256.New, key, nil, "pgmedic backup v1 content hash", 8)
	if err != nil {
		return 0, fmt.Errorf("backup: deriving the hash seed: %w", err)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// tablesSQL lists the tables whose rows a dump carries: ordinary, permanent or
// unlogged tables outside the system schemas and not created by an extension.
const tablesSQL = pgconn.Marker + `SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// TableStats counts and hashes every table in the session's current snapshot. The
// session must have been prepared (prepareSession).
func TableStats(ctx context.Context, conn *pgx.Conn, seed int64) ([]TableStat, error) {
	rows, err := conn.Query(ctx, tablesSQL)
	if err != nil {
		return nil, fmt.Errorf("backup: listing tables: %w", err)
	}
	var out []TableStat
	for rows.Next() {
		var t TableStat
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("backup: listing tables: %w", err)
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backup: listing tables: %w", err)
	}
	for i := range out {
		t := &out[i]
		q := pgconn.Marker + `SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(pg_catalog.hashtextextended(r::pg_catalog.text, $1)), 0)::pg_catalog.text FROM ONLY ` +
			ident.Quote(t.Schema, t.Name) + " AS r"
		if err := conn.QueryRow(ctx, q, seed).Scan(&t.Rows, &t.Hash); err != nil {
			return nil, fmt.Errorf("backup: counting %s: %w", ident.Quote(t.Schema, t.Name), err)
		}
	}
	return out, nil
}
