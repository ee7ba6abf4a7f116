package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/phicrypt"
)

// EncryptTarget is a column to encrypt and the key to do it with.
type EncryptTarget struct {
	Schema, Table, Column string
	Master                *phicrypt.MasterKey
	// Batch is the number of rows per transaction (0: 1000).
	Batch int
	// Progress receives a line per batch (rows done, rows/s).
	Progress func(string)
}

func (e EncryptTarget) id() string { return phicrypt.ColumnID(e.Schema, e.Table, e.Column) }

// Encrypted column names: <column>_enc holds the ciphertext, <column>_bidx the blind index.
func encColumn(c string) string  { return c + "_enc" }
func bidxColumn(c string) string { return c + "_bidx" }

// EncryptPlan moves a plaintext column into application-side encryption, in steps the
// executor can resume: store a new data key (wrapped), add the ciphertext and blind index
// columns, encrypt in keyset batches (each row's plaintext set to NULL in the same
// update), index the blind index, vacuum away the dead row versions that still hold
// plaintext, and drop the plaintext column. The runners carry out the Go steps.
func EncryptPlan(ctx context.Context, conn *pgx.Conn, t EncryptTarget) (*finding.Plan, map[string]change.Runner, error) {
	if t.Batch <= 0 {
		t.Batch = 1000
	}
	pk, pkType, err := singleKey(ctx, conn, t.Schema, t.Table, t.Column)
	if err != nil {
		return nil, nil, err
	}
	q := ident.Quote(t.Schema, t.Table)
	obj := t.id()
	hasCol := func(c string) string {
		return fmt.Sprintf("EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped)",
			ident.Literal(q), ident.Literal(c))
	}
	// Done when the plaintext column is gone or holds no value. query_to_xml plans its
	// query only when called, so the check works after the column is dropped.
	noPlaintext := fmt.Sprintf("SELECT CASE WHEN NOT %s THEN true ELSE (xpath('/row/x/text()', query_to_xml(%s, false, true, '')))[1]::text = 'true' END",
		hasCol(t.Column), ident.Literal(fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM %s WHERE %s IS NOT NULL) AS x", q, ident.Quote(t.Column))))
	keyRunner, encRunner := "datakey:"+obj, "encrypt:"+obj
	unique, uniqueNote := "", ""
	if isUnique(ctx, conn, q, t.Column) {
		unique, uniqueNote = "UNIQUE ", " (unique, as the plaintext column was)"
	}
	idx := ident.IndexName(t.Table, []string{bidxColumn(t.Column)}, "bidx")
	plan := &finding.Plan{Summary: "encrypt " + obj + " with AES-256-GCM (keys kept off the server)", Steps: []finding.Step{
		{Description: "store a new data key for " + obj + ", wrapped by the master key",
			SQL:    "INSERT INTO pgmedic.column_keys (column_id, wrapped_key) VALUES (" + ident.Literal(obj) + ", <data key wrapped in pgmedic>)",
			Runner: keyRunner, Kind: "ddl", Lock: "none", Object: obj,
			Check: "SELECT EXISTS (SELECT FROM pgmedic.column_keys WHERE column_id = " + ident.Literal(obj) + ")"},
		{Description: "add the ciphertext and blind index columns to " + t.Schema + "." + t.Table,
			SQL: fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s bytea, ADD COLUMN IF NOT EXISTS %s bytea", q,
				ident.Quote(encColumn(t.Column)), ident.Quote(bidxColumn(t.Column))),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE (brief: no rewrite)", Object: obj,
			Check: "SELECT " + hasCol(encColumn(t.Column)) + " AND " + hasCol(bidxColumn(t.Column))},
		{Description: "let " + obj + " hold NULL once its value is encrypted",
			SQL:  fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", q, ident.Quote(t.Column)),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE (brief: no scan)", Object: obj,
			Check: fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attname = %s AND attnotnull AND NOT attisdropped)",
				ident.Literal(q), ident.Literal(t.Column))},
		{Description: fmt.Sprintf("encrypt %s in batches of %d rows, clearing the plaintext of each row as it goes", obj, t.Batch),
			SQL: fmt.Sprintf("UPDATE %s SET %s = <ciphertext>, %s = <blind index>, %s = NULL WHERE %s = <key> -- per batch, keyset on %s",
				q, ident.Quote(encColumn(t.Column)), ident.Quote(bidxColumn(t.Column)), ident.Quote(t.Column), ident.Quote(pk), pk),
			Runner: encRunner, Kind: "data", Long: true, Lock: "ROW EXCLUSIVE (row locks per batch)", Object: obj, Check: noPlaintext},
		change.BuildIndexStep(t.Schema, idx, fmt.Sprintf("CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)",
			unique, ident.Quote(idx), q, ident.Quote(bidxColumn(t.Column))), "index the blind index of "+obj+" for equality lookups"+uniqueNote),
		{Description: "vacuum " + t.Schema + "." + t.Table + " so no dead row version keeps the plaintext",
			SQL: "VACUUM (ANALYZE) " + q, NoTransaction: true, Kind: "maintenance", Long: true, Progress: "vacuum",
			Lock: "SHARE UPDATE EXCLUSIVE", Object: t.Schema + "." + t.Table, Check: "SELECT NOT " + hasCol(t.Column),
			Verify: "SELECT true"}, // vacuum leaves no trace to check; the column goes next
		{Description: "drop the plaintext column " + obj,
			SQL:  fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", q, ident.Quote(t.Column)),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE (brief: no rewrite)", Object: obj, Check: "SELECT NOT " + hasCol(t.Column)},
	}}
	runners := map[string]change.Runner{
		keyRunner: func(ctx context.Context, c *pgx.Conn) error { return storeDataKey(ctx, c, t) },
		encRunner: func(ctx context.Context, c *pgx.Conn) error { return encryptBatches(ctx, c, t, pk, pkType) },
	}
	return plan, runners, nil
}

// ErrNotEncryptable: the column cannot be moved to application-side encryption.
var ErrNotEncryptable = errors.New("cannot encrypt")

// singleKey returns the table's single-column primary key, which the batches walk.
func singleKey(ctx context.Context, conn *pgx.Conn, schema, table, column string) (string, string, error) {
	var pk, types []string
	var hasColumn bool
	err := conn.QueryRow(ctx, policy.Marker+`SELECT coalesce((SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_index i
	        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	        WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
	    coalesce((SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FROM pg_index i
	        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	        WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
	    EXISTS (SELECT FROM pg_attribute WHERE attrelid = c.oid AND attname = $3 AND NOT attisdropped)
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
		schema, table, column).Scan(&pk, &types, &hasColumn)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("%w %s.%s.%s: no such table", ErrNotEncryptable, schema, table, column)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading %s.%s: %w", schema, table, err)
	}
	if len(pk) != 1 {
		return "", "", fmt.Errorf("%w %s.%s.%s: the table needs a single-column primary key to be encrypted in batches", ErrNotEncryptable, schema, table, column)
	}
	if pk[0] == column {
		return "", "", fmt.Errorf("%w %s.%s.%s: it is the primary key; encrypt a copy and key the table by a surrogate first", ErrNotEncryptable, schema, table, column)
	}
	var enc bool
	_ = conn.QueryRow(ctx, policy.Marker+`SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)`,
		ident.Quote(schema, table), encColumn(column)).Scan(&enc)
	if !hasColumn && !enc {
		return "", "", fmt.Errorf("%w %s.%s.%s: no such column", ErrNotEncryptable, schema, table, column)
	}
	return pk[0], types[0], nil
}

func storeDataKey(ctx context.Context, conn *pgx.Conn, t EncryptTarget) error {
	wrapped, err := t.Master.NewDataKey(t.id())
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, policy.Marker+"INSERT INTO pgmedic.column_keys (column_id, wrapped_key) VALUES ($1, $2) ON CONFLICT (column_id) DO NOTHING", t.id(), wrapped)
	return err
}

// encryptBatches walks the table by primary key. Each batch reads rows still holding
// plaintext, encrypts them here, and writes ciphertext, blind index and NULL in one
// UPDATE guarded by the plaintext read, so a row changed meanwhile is left for the next
// pass rather than overwritten. Interrupted, it resumes where plaintext remains.
func encryptBatches(ctx context.Context, conn *pgx.Conn, t EncryptTarget, pk, pkType string) error {
	col, err := phicrypt.Open(ctx, conn, t.Master, t.Schema, t.Table, t.Column)
	if err != nil {
		return err
	}
	q, c := ident.Quote(t.Schema, t.Table), ident.Quote(t.Column)
	k := ident.Quote(pk)
	// t.key in ORDER BY: a bare name would sort by the text output column of that name.
	sel := fmt.Sprintf("SELECT t.%[1]s::text, t.%[2]s::text FROM %[3]s t WHERE t.%[2]s IS NOT NULL AND ($1::text IS NULL OR t.%[1]s > $1::text::%[4]s) ORDER BY t.%[1]s LIMIT $2",
		k, c, q, pkType)
	upd := fmt.Sprintf(`UPDATE %[1]s t SET %[2]s = v.enc, %[3]s = v.bidx, %[4]s = NULL
	    FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS v(k, old, enc, bidx)
	    WHERE t.%[5]s = v.k::%[6]s AND t.%[4]s::text = v.old`, q, ident.Quote(encColumn(t.Column)), ident.Quote(bidxColumn(t.Column)), c, k, pkType)
	start, done := time.Now(), 0
	var last *string
	for pass := 0; ; {
		keys, olds, err := readBatch(ctx, conn, sel, last, t.Batch)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			if pass++; pass > 1 || done == 0 && last == nil {
				return nil
			}
			last = nil // a second pass catches rows changed during the first
			continue
		}
		encs, bidxs := make([][]byte, len(olds)), make([][]byte, len(olds))
		for i, v := range olds {
			if encs[i], err = col.Seal([]byte(v)); err != nil {
				return err
			}
			bidxs[i] = col.BlindIndex([]byte(v))
		}
		tag, err := conn.Exec(ctx, policy.Marker+upd, keys, olds, encs, bidxs)
		if err != nil {
			return fmt.Errorf("encrypting a batch of %s: %s", t.id(), pgerr.Safe(err))
		}
		done += int(tag.RowsAffected())
		last = &keys[len(keys)-1]
		if t.Progress != nil {
			t.Progress(fmt.Sprintf("%s: %d rows encrypted (%.0f rows/s)", t.id(), done, float64(done)/max(time.Since(start).Seconds(), 0.001)))
		}
	}
}

func readBatch(ctx context.Context, conn *pgx.Conn, sel string, after *string, n int) ([]string, []string, error) {
	rows, err := conn.Query(ctx, policy.Marker+sel, after, n)
	if err != nil {
		return nil, nil, fmt.Errorf("reading a batch: %s", pgerr.Safe(err))
	}
	defer rows.Close()
	var keys, olds []string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		keys, olds = append(keys, k), append(olds, v)
	}
	return keys, olds, rows.Err()
}

// ParseColumn reads "schema.table.column" or "table.column" (schema public).
func ParseColumn(s string) (schema, table, column string, err error) {
	p := strings.Split(s, ".")
	switch len(p) {
	case 2:
		return "public", p[0], p[1], nil
	case 3:
		return p[0], p[1], p[2], nil
	}
	return "", "", "", fmt.Errorf("%q is not schema.table.column", s)
}

// isUnique: a single-column unique index covers the column.
func isUnique(ctx context.Context, conn *pgx.Conn, table, column string) bool {
	var u bool
	_ = conn.QueryRow(ctx, policy.Marker+`SELECT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	    WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL AND a.attname = $2)`, table, column).Scan(&u)
	return u
}
