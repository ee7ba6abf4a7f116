package partition

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// chunks per range for the content hashes.
const hashChunks = 16

// Verification compares the old table with the new one in one snapshot, leaving out
// keys whose changes are still in the log (they are applied before the cut-over).
type Verification struct {
	Ranges     int   `json:"ranges"`
	Chunks     int   `json:"chunks"`
	SourceRows int64 `json:"source_rows"`
	TargetRows int64 `json:"target_rows"`
	Pending    int64 `json:"pending_keys"`
	Missing    int64 `json:"missing"` // in the old table, not in the new
	Extra      int64 `json:"extra"`   // in the new table, not in the old
	// Duplicates counts keys the new table holds more than once (its primary key is
	// unique per partition only).
	Duplicates int64    `json:"duplicates"`
	Mismatched []string `json:"mismatched,omitempty"`
}

// OK says whether the tables are equal.
func (v *Verification) OK() bool {
	return v.Missing == 0 && v.Extra == 0 && v.Duplicates == 0 && len(v.Mismatched) == 0 && v.SourceRows == v.TargetRows
}

// VerifyError: the new table differs from the old one.
type VerifyError struct{ V *Verification }

func (e *VerifyError) Error() string {
	v := e.V
	msg := fmt.Sprintf("the new table differs from the old one: %d row(s) missing, %d extra, %d key(s) twice, %d of %d chunk(s) differ",
		v.Missing, v.Extra, v.Duplicates, len(v.Mismatched), v.Chunks)
	if len(v.Mismatched) > 0 {
		msg += " (first: " + strings.Join(v.Mismatched[:min(3, len(v.Mismatched))], ", ") + ")"
	}
	return msg
}

type chunkSum struct {
	rows int64
	hash string
}

// bucketExpr groups rows the same way on both sides: by range interval or list value.
func (s *Spec) bucketExpr(alias string) string {
	c := alias + "." + ident.Quote(s.Column)
	switch s.Strategy {
	case "range":
		if isTimestamptz(s.ColumnType) {
			c += " AT TIME ZONE 'UTC'"
		}
		return fmt.Sprintf("to_char(date_trunc(%s, %s), 'YYYY-MM-DD')", ident.Literal(s.Interval), c)
	case "list":
		return c + "::text"
	}
	return "''"
}

// Verify compares from and to (quoted tables) through log, in one REPEATABLE READ
// snapshot.
func (s *Spec) Verify(ctx context.Context, conn *pgx.Conn, from, to, log string) (*Verification, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return nil, err
	}
	v := &Verification{}
	if err := tx.QueryRow(ctx, policy.Marker+"SELECT count(DISTINCT pk) FROM "+log).Scan(&v.Pending); err != nil {
		return nil, fmt.Errorf("counting pending changes: %w", err)
	}
	a, err := s.sums(ctx, tx, from, log)
	if err != nil {
		return nil, err
	}
	b, err := s.sums(ctx, tx, to, log)
	if err != nil {
		return nil, err
	}
	ranges := map[string]bool{}
	for k, x := range a {
		ranges[strings.SplitN(k, "#", 2)[0]] = true
		v.SourceRows += x.rows
		if b[k] != x {
			v.Mismatched = append(v.Mismatched, k)
		}
	}
	for k, y := range b {
		v.TargetRows += y.rows
		if _, ok := a[k]; !ok {
			v.Mismatched = append(v.Mismatched, k)
		}
	}
	sort.Strings(v.Mismatched)
	v.Ranges, v.Chunks = len(ranges), max(len(a), len(b))
	if v.Missing, err = s.antiJoin(ctx, tx, from, to, log); err != nil {
		return nil, err
	}
	if v.Extra, err = s.antiJoin(ctx, tx, to, from, log); err != nil {
		return nil, err
	}
	pk := ident.Quote(s.PKColumn)
	if err := tx.QueryRow(ctx, policy.Marker+fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s GROUP BY %s HAVING count(*) > 1) d", pk, to, pk)).Scan(&v.Duplicates); err != nil {
		return nil, fmt.Errorf("looking for keys held twice: %w", err)
	}
	return v, nil
}

func (s *Spec) sums(ctx context.Context, tx pgx.Tx, table, log string) (map[string]chunkSum, error) {
	pk := ident.Quote(s.PKColumn)
	// The alias names the whole row in t::text; an unusual alias keeps a column of the
	// same name from being read instead.
	rows, err := tx.Query(ctx, policy.Marker+fmt.Sprintf(`SELECT %s || '#' || (hashtextextended(pgmedic_row.%s::text, 0) & %d)::text, count(*),
		coalesce(sum(hashtextextended(pgmedic_row::text, 0)::numeric), 0)::text
		FROM %s pgmedic_row WHERE NOT EXISTS (SELECT FROM %s l WHERE l.pk = pgmedic_row.%s) GROUP BY 1`, s.bucketExpr("pgmedic_row"), pk, hashChunks-1, table, log, pk))
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]chunkSum{}
	for rows.Next() {
		var k string
		var c chunkSum
		if err := rows.Scan(&k, &c.rows, &c.hash); err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, rows.Err()
}

// antiJoin counts rows of a with no row of b under the same key and partition key.
func (s *Spec) antiJoin(ctx context.Context, tx pgx.Tx, a, b, log string) (int64, error) {
	pk, c := ident.Quote(s.PKColumn), ident.Quote(s.Column)
	var n int64
	err := tx.QueryRow(ctx, policy.Marker+fmt.Sprintf(`SELECT count(*) FROM %s x WHERE NOT EXISTS (SELECT FROM %s y WHERE y.%s = x.%s AND y.%s = x.%s)
		AND NOT EXISTS (SELECT FROM %s l WHERE l.pk = x.%s)`, a, b, pk, pk, c, c, log, pk)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("comparing keys: %w", err)
	}
	return n, nil
}

// verify is the runner: catch up, compare, and record the phase when equal.
func (r *runners) verify(ctx context.Context, conn *pgx.Conn) error {
	m := newMover(r.s, r.o, true)
	if _, _, err := m.catchUp(ctx, conn, r.o.CutoverBacklog, 1000); err != nil {
		return fmt.Errorf("partition: replay: %w", err)
	}
	r.o.Progress(Progress{Phase: "verify", Message: "comparing the tables"})
	v, err := r.s.Verify(ctx, conn, r.s.source(), r.s.shadow(), r.s.logTable())
	if err != nil {
		return fmt.Errorf("partition: verify: %w", err)
	}
	r.verified = v
	if !v.OK() {
		return &VerifyError{V: v}
	}
	_, err = conn.Exec(ctx, policy.Marker+r.s.setPhase(PhaseVerified))
	return err
}
