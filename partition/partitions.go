package partition

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// maxRangePartitions bounds a range plan (ten years by month plus some).
const maxRangePartitions = 150

// sampleAbove is the row estimate above which partition sizes come from a sample.
const sampleAbove = 5_000_000

// bucketCount is how many rows of the table fall in one bucket (an interval start, or a
// list value as text); Null marks the rows whose key is NULL.
type bucketCount struct {
	Key  string
	Null bool
	Rows int64
}

// planPartitions reads how the table's rows spread over the key and plans the
// partitions, with their estimated sizes.
func planPartitions(ctx context.Context, conn *pgx.Conn, t *Table, s *Spec, o Options, res *Result) error {
	switch s.Strategy {
	case "hash":
		return planHash(ctx, conn, t, s, res)
	case "list":
		return planList(ctx, conn, t, s, o, res)
	}
	return planRange(ctx, conn, t, s, o, res)
}

// sampleClause reads a sample of big tables; the factor scales counts back.
func sampleClause(t *Table) (string, float64) {
	if t.Rows <= sampleAbove {
		return "", 1
	}
	pct := 100 * float64(sampleAbove) / float64(t.Rows)
	return fmt.Sprintf(" TABLESAMPLE SYSTEM (%.4f)", pct), 100 / pct
}

func countBuckets(ctx context.Context, conn *pgx.Conn, t *Table, expr string) ([]bucketCount, error) {
	sample, factor := sampleClause(t)
	rows, err := conn.Query(ctx, policy.Marker+fmt.Sprintf(`SELECT coalesce(%s, ''), %s IS NULL, count(*) FROM %s%s GROUP BY 1, 2 ORDER BY 1`,
		expr, expr, t.Quoted(), sample))
	if err != nil {
		return nil, fmt.Errorf("partition: counting rows by partition of %s: %w", t.Quoted(), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bucketCount, error) {
		var b bucketCount
		err := r.Scan(&b.Key, &b.Null, &b.Rows)
		b.Rows = int64(float64(b.Rows) * factor)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("partition: counting rows by partition of %s: %w", t.Quoted(), err)
	}
	return out, nil
}

func (t *Table) bytesPerRow(total int64) float64 {
	n := max(t.Rows, total, 1)
	return float64(t.Bytes) / float64(n)
}

func planRange(ctx context.Context, conn *pgx.Conn, t *Table, s *Spec, o Options, res *Result) error {
	col := ident.Quote(s.Column)
	if isTimestamptz(s.ColumnType) {
		col += " AT TIME ZONE 'UTC'"
	}
	buckets, err := countBuckets(ctx, conn, t, fmt.Sprintf("to_char(date_trunc(%s, %s), 'YYYY-MM-DD')", ident.Literal(s.Interval), col))
	if err != nil {
		return err
	}
	counts := map[time.Time]int64{}
	var first time.Time
	var total int64
	for _, b := range buckets {
		total += b.Rows
		if b.Null {
			res.Preflight = append(res.Preflight, Preflight{Code: "null_keys", Blocks: true, Object: t.Quoted(),
				Detail: fmt.Sprintf("about %d row(s) have no %s; the new primary key cannot hold them", b.Rows, s.Column), Handling: "fill the column in those rows first"})
			continue
		}
		d, err := time.Parse("2006-01-02", b.Key)
		if err != nil {
			return fmt.Errorf("partition: reading a bucket of %s: %w", t.Quoted(), err)
		}
		counts[d] = b.Rows
		if first.IsZero() || d.Before(first) {
			first = d
		}
	}
	now := truncate(o.Now.UTC(), s.Interval)
	last := now
	for i := 0; i < s.Premake; i++ {
		last = next(last, s.Interval)
	}
	if first.IsZero() || first.After(now) {
		first = now
	}
	if starts := rangeStarts(first, last, s.Interval); len(starts) > maxRangePartitions {
		// A few stray old dates (a 1900-01-01 typed in by hand) would otherwise ask for
		// thousands of partitions; the oldest ranges are left to the default partition.
		first = starts[len(starts)-maxRangePartitions]
		res.Preflight = append(res.Preflight, Preflight{Code: "old_rows", Object: t.Quoted(),
			Detail:   fmt.Sprintf("the data reaches back further than %d partitions by %s", maxRangePartitions, s.Interval),
			Handling: "rows before " + first.Format("2006-01-02") + " go to the default partition; a larger --interval keeps them in ranges"})
	}
	per := t.bytesPerRow(total)
	var cutoff time.Time
	if o.RetentionMonths > 0 {
		cutoff = o.Now.UTC().AddDate(0, -o.RetentionMonths, 0)
	}
	for _, start := range rangeStarts(first, last, s.Interval) {
		end := next(start, s.Interval)
		p := Partition{Name: childName(s.Table, suffix(start, s.Interval)), from: start, to: end, Rows: counts[start],
			Bound: fmt.Sprintf("FOR VALUES FROM (%s) TO (%s)", boundLiteral(start, s.ColumnType), boundLiteral(end, s.ColumnType))}
		p.Bytes = int64(float64(p.Rows) * per)
		p.Expired = !cutoff.IsZero() && !end.After(cutoff)
		delete(counts, start)
		s.Partitions = append(s.Partitions, p)
	}
	for _, n := range counts { // outside the planned partitions
		res.RowsOutside += n
	}
	return addDefault(t, s, o, res, per)
}

// addDefault adds the default partition, which takes rows beyond the planned ranges.
func addDefault(t *Table, s *Spec, o Options, res *Result, per float64) error {
	if o.NoDefault {
		if res.RowsOutside > 0 {
			res.Preflight = append(res.Preflight, Preflight{Code: "rows_outside", Blocks: true, Object: t.Quoted(),
				Detail:   fmt.Sprintf("about %d row(s) fall outside the planned partitions and there is no default partition", res.RowsOutside),
				Handling: "plan with a default partition or a larger --premake"})
		}
		return nil
	}
	s.Partitions = append(s.Partitions, Partition{Name: childName(s.Table, "default"), Bound: "DEFAULT", Default: true,
		Rows: res.RowsOutside, Bytes: int64(float64(res.RowsOutside) * per)})
	if res.RowsOutside > 0 {
		res.Preflight = append(res.Preflight, Preflight{Code: "rows_outside", Object: t.Quoted(),
			Detail:   fmt.Sprintf("about %d row(s) fall beyond the planned partitions", res.RowsOutside),
			Handling: "they go to the default partition; 'pgmedic partition maintain' reports them"})
	}
	return nil
}

func planHash(ctx context.Context, conn *pgx.Conn, t *Table, s *Spec, res *Result) error {
	var nulls int64
	if err := conn.QueryRow(ctx, policy.Marker+fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", t.Quoted(), ident.Quote(s.Column))).Scan(&nulls); err != nil {
		return fmt.Errorf("partition: counting NULL keys of %s: %w", t.Quoted(), err)
	}
	if nulls > 0 {
		res.Preflight = append(res.Preflight, Preflight{Code: "null_keys", Blocks: true, Object: t.Quoted(),
			Detail: fmt.Sprintf("%d row(s) have no %s; the new primary key cannot hold them", nulls, s.Column), Handling: "fill the column in those rows first"})
	}
	width := len(fmt.Sprint(s.Modulus - 1))
	for i := 0; i < s.Modulus; i++ {
		s.Partitions = append(s.Partitions, Partition{Name: childName(s.Table, fmt.Sprintf("h%0*d", width, i)),
			Bound: fmt.Sprintf("FOR VALUES WITH (MODULUS %d, REMAINDER %d)", s.Modulus, i),
			Rows:  t.Rows / int64(s.Modulus), Bytes: t.Bytes / int64(s.Modulus)})
	}
	return nil
}

// maxListValues bounds list partitioning: more values than this want range or hash.
const maxListValues = 100

func planList(ctx context.Context, conn *pgx.Conn, t *Table, s *Spec, o Options, res *Result) error {
	buckets, err := countBuckets(ctx, conn, t, ident.Quote(s.Column)+"::text")
	if err != nil {
		return err
	}
	var total int64
	for _, b := range buckets {
		total += b.Rows
	}
	per := t.bytesPerRow(total)
	if len(buckets) > maxListValues {
		res.Preflight = append(res.Preflight, Preflight{Code: "too_many_values", Blocks: true, Object: t.Quoted(),
			Detail: fmt.Sprintf("%s has more than %d distinct values", s.Column, maxListValues), Handling: "use --strategy range or hash"})
		return nil
	}
	for i, b := range buckets {
		if b.Null {
			res.Preflight = append(res.Preflight, Preflight{Code: "null_keys", Blocks: true, Object: t.Quoted(),
				Detail: fmt.Sprintf("about %d row(s) have no %s; the new primary key cannot hold them", b.Rows, s.Column), Handling: "fill the column in those rows first"})
			continue
		}
		s.Partitions = append(s.Partitions, Partition{Name: childName(s.Table, fmt.Sprintf("l%02d", i)),
			Bound: "FOR VALUES IN (" + ident.Literal(b.Key) + ")", Rows: b.Rows, Bytes: int64(float64(b.Rows) * per)})
	}
	return addDefault(t, s, o, res, per)
}

func isTimestamptz(colType string) bool { return colType == "timestamp with time zone" }
