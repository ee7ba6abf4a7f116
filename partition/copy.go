package partition

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Progress is what a running copy reports.
type Progress struct {
	Phase      string        `json:"phase"`
	Copied     int64         `json:"copied"`
	Total      int64         `json:"total"` // estimate
	Replayed   int64         `json:"replayed"`
	RowsPerSec float64       `json:"rows_per_sec"`
	ETA        time.Duration `json:"eta"`
	Message    string        `json:"message,omitempty"`
}

// mover moves rows from one table to another and applies a change log: forward from
// the source to the shadow during the copy, in reverse for a rollback.
type mover struct {
	s           *Spec
	from, to    string // quoted tables
	log         string
	partitioned bool // the target is partitioned (deletes also name the partition key)
	forward     bool // the copy's high-water mark limits what the replay inserts
	cols        string
	pkCast      string
	cCast       string
	opts        *MigrateOptions
}

// srcCols is the column list qualified by the source's alias.
func (m *mover) srcCols() string {
	q := make([]string, len(m.s.Columns))
	for i, c := range m.s.Columns {
		q[i] = "src." + ident.Quote(c)
	}
	return strings.Join(q, ", ")
}

func newMover(s *Spec, o *MigrateOptions, forward bool) *mover {
	m := &mover{s: s, opts: o, forward: forward, cols: quoteList(s.Columns),
		pkCast: "::text[]::" + s.PKType + "[]", cCast: "::text[]::" + s.ColumnType + "[]"}
	if forward {
		m.from, m.to, m.log, m.partitioned = s.source(), s.shadow(), s.logTable(), true
	} else {
		m.from, m.to, m.log = s.source(), s.retired(), s.rlogTable()
	}
	return m
}

// copyBatch copies the next batch past the high-water mark and moves the mark, in one
// transaction: a killed copy resumes exactly where the last committed batch ended. The
// new mark is read back from the target's primary key (only this batch's rows lie past
// the old mark there: the replay inserts no key beyond it). A short batch is the last:
// it marks the copy done, after which the replay applies every logged change.
func (m *mover) copyBatch(ctx context.Context, conn *pgx.Conn) (int64, bool, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback(context.Background())
	var hwm *string
	if err := tx.QueryRow(ctx, policy.Marker+"SELECT hwm FROM pgmedic.partition_migrations WHERE id = $1 FOR UPDATE", m.s.id()).Scan(&hwm); err != nil {
		return 0, false, fmt.Errorf("reading the high-water mark: %w", err)
	}
	pk := ident.Quote(m.s.PKColumn)
	where, args := "", []any{}
	if hwm != nil {
		where, args = fmt.Sprintf(" WHERE %s > $1::%s", pk, m.s.PKType), append(args, *hwm)
	}
	tag, err := tx.Exec(ctx, policy.Marker+fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s%s ORDER BY %s LIMIT %d",
		m.to, m.cols, m.cols, m.from, where, pk, m.opts.BatchSize), args...)
	if err != nil {
		return 0, false, fmt.Errorf("copying a batch: %w", err)
	}
	n := tag.RowsAffected()
	var last *string
	if n > 0 {
		if err := tx.QueryRow(ctx, policy.Marker+fmt.Sprintf("SELECT t.%s::text AS last_key FROM %s t%s ORDER BY t.%s DESC LIMIT 1", pk, m.to, where, pk), args...).Scan(&last); err != nil {
			return 0, false, fmt.Errorf("reading the batch's last key: %w", err)
		}
	}
	done := n < int64(m.opts.BatchSize)
	if _, err := tx.Exec(ctx, policy.Marker+`UPDATE pgmedic.partition_migrations SET hwm = coalesce($2, hwm), rows_copied = rows_copied + $3,
		copy_done = $4, updated_at = now() WHERE id = $1`, m.s.id(), last, n, done); err != nil {
		return 0, false, fmt.Errorf("recording the high-water mark: %w", err)
	}
	return n, done, tx.Commit(ctx)
}

// replayOnce applies up to limit logged changes in its own transaction, or in tx when
// given (the cut-over drains the log inside its locking transaction). For every key
// taken from the log it deletes the target's row wherever it is (the partition key
// values in all log entries of the key bound where that can be) and inserts the
// source's current row, then deletes exactly the log entries it read: an entry that
// commits meanwhile stays for the next round, and re-reading makes each round
// idempotent, so the order of changes does not matter.
func (m *mover) replayOnce(ctx context.Context, conn *pgx.Conn, tx pgx.Tx, limit int) (int, error) {
	own := tx == nil
	if own {
		var err error
		if tx, err = conn.Begin(ctx); err != nil {
			return 0, err
		}
		defer tx.Rollback(context.Background())
	}
	var keys []string
	if err := tx.QueryRow(ctx, policy.Marker+fmt.Sprintf(`SELECT coalesce(array_agg(DISTINCT pk::text), '{}') FROM (SELECT pk FROM %s ORDER BY id LIMIT $1) b`, m.log), limit).Scan(&keys); err != nil {
		return 0, fmt.Errorf("reading the change log: %w", err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	var ids []int64
	if err := tx.QueryRow(ctx, policy.Marker+fmt.Sprintf(`SELECT array_agg(id) FROM %s WHERE pk = ANY($1%s)`, m.log, m.pkCast), keys).Scan(&ids); err != nil {
		return 0, fmt.Errorf("reading the change log: %w", err)
	}
	if err := m.deleteTargets(ctx, tx, keys); err != nil {
		return 0, fmt.Errorf("applying changes: %w", err)
	}
	pk := ident.Quote(m.s.PKColumn)
	filter := ""
	if m.forward {
		// Qualified: the state table has columns of its own (id) a key may share a name with.
		filter = fmt.Sprintf(" AND (SELECT st.copy_done OR src.%s <= st.hwm::%s FROM pgmedic.partition_migrations st WHERE st.id = %d)", pk, m.s.PKType, m.s.id())
	}
	ins := fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s src WHERE src.%s = ANY($1%s)%s",
		m.to, m.cols, m.srcCols(), m.from, pk, m.pkCast, filter)
	if _, err := tx.Exec(ctx, policy.Marker+ins, keys); err != nil {
		return 0, fmt.Errorf("applying changes: %w", err)
	}
	if _, err := tx.Exec(ctx, policy.Marker+fmt.Sprintf("DELETE FROM %s WHERE id = ANY($1)", m.log), ids); err != nil {
		return 0, fmt.Errorf("clearing applied changes: %w", err)
	}
	if _, err := tx.Exec(ctx, policy.Marker+"UPDATE pgmedic.partition_migrations SET rows_replayed = rows_replayed + $2, updated_at = now() WHERE id = $1",
		m.s.id(), len(keys)); err != nil {
		return 0, fmt.Errorf("recording applied changes: %w", err)
	}
	if own {
		return len(keys), tx.Commit(ctx)
	}
	return len(keys), nil
}

// deleteTargets deletes the target's rows of the keys. A partitioned target is
// addressed partition by partition: the row of a key sits under one of the partition
// key values its log entries name (the value before its first unapplied change, or
// after a change the last round already read from the table), so each delete names one
// value and the keys logged with it, and touches one partition.
func (m *mover) deleteTargets(ctx context.Context, tx pgx.Tx, keys []string) error {
	pk, c := ident.Quote(m.s.PKColumn), ident.Quote(m.s.Column)
	if !m.partitioned {
		_, err := tx.Exec(ctx, policy.Marker+fmt.Sprintf("DELETE FROM %s WHERE %s = ANY($1%s)", m.to, pk, m.pkCast), keys)
		return err
	}
	rows, err := tx.Query(ctx, policy.Marker+fmt.Sprintf(`SELECT v::text, array_agg(DISTINCT l.pk::text) FROM %s l, LATERAL (VALUES (l.old_c), (l.new_c)) x(v)
		WHERE l.pk = ANY($1%s) AND v IS NOT NULL GROUP BY v`, m.log, m.pkCast), keys)
	if err != nil {
		return err
	}
	type group struct {
		c    string
		keys []string
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (group, error) {
		var g group
		err := r.Scan(&g.c, &g.keys)
		return g, err
	})
	if err != nil {
		return err
	}
	batch := &pgx.Batch{}
	del := policy.Marker + fmt.Sprintf("DELETE FROM %s WHERE %s = $1::%s AND %s = ANY($2%s)", m.to, c, m.s.ColumnType, pk, m.pkCast)
	for _, g := range groups {
		batch.Queue(del, g.c, g.keys)
	}
	return tx.SendBatch(ctx, batch).Close()
}

// catchUp replays until a round finds fewer than threshold keys (or rounds run out);
// caught says whether the last round was below the threshold.
func (m *mover) catchUp(ctx context.Context, conn *pgx.Conn, threshold, rounds int) (total int64, caught bool, err error) {
	for i := 0; i < rounds; i++ {
		n, err := m.replayOnce(ctx, conn, nil, m.opts.ReplayBatch)
		total += int64(n)
		if err != nil {
			return total, false, err
		}
		if n < threshold {
			return total, true, nil
		}
	}
	return total, false, nil
}

// pending counts log entries not yet applied.
func (m *mover) pending(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, policy.Marker+"SELECT count(*) FROM "+m.log).Scan(&n)
	return n, err
}

var errStopped = errors.New("stopped")
