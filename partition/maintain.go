package partition

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// MaintainOptions say what maintenance does.
type MaintainOptions struct {
	// Tables limits maintenance to these parents (schema.table); empty: every table
	// range-partitioned on one date or timestamp column.
	Tables []string
	// Premake range partitions are kept ahead of now (default 4).
	Premake int
	// RetentionMonths: partitions whose upper bound is older are archived and dropped
	// (0: none is).
	RetentionMonths int
	// LegalHolds name tables or partitions (table, schema.table) never dropped.
	LegalHolds []string
	// Archive is where and how dropped partitions are archived first.
	Archive ArchiveOptions
	// Now is the maintenance time (default time.Now()).
	Now time.Time
}

// ChildPart is one partition as the catalog bounds it.
type ChildPart struct {
	Name    string    `json:"name"`
	Bound   string    `json:"bound"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Default bool      `json:"default,omitempty"`
}

// TableMaintenance is what maintenance found and plans for one partitioned table.
type TableMaintenance struct {
	Parent     string      `json:"parent"` // schema.table
	Column     string      `json:"column"`
	ColumnType string      `json:"column_type"`
	Interval   string      `json:"interval"`
	Partitions []ChildPart `json:"partitions"`
	// DefaultRows counts the rows in the default partition; DefaultInRange those of them
	// that fall where a partition exists or is planned (they move into it when it is made).
	DefaultRows    int64    `json:"default_rows"`
	DefaultInRange int64    `json:"default_in_range"`
	Create         []string `json:"create,omitempty"` // partitions premake adds
	// Moves counts, per partition premake adds, the default partition's rows it takes.
	Moves map[string]int64 `json:"moves,omitempty"`
	// Partman names the pg_partman schema when pg_partman manages the table: its
	// run_maintenance then makes the partitions and applies its own retention.
	Partman       string   `json:"pg_partman_schema,omitempty"`
	Expired       []string `json:"expired,omitempty"` // partitions past retention, to archive and drop
	Held          []string `json:"held,omitempty"`    // past retention but under a legal hold
	schema, table string
	defaultName   string
	newParts      []ChildPart
	columns       string // stored columns, quoted, for moving rows
}

// MaintainResult is the report and the plan of one maintenance run.
type MaintainResult struct {
	Tables []*TableMaintenance `json:"tables"`
	Plan   *finding.Plan       `json:"plan"`
	// Unencrypted: partitions are to be archived and no recipient was given.
	Unencrypted bool `json:"archives_unencrypted,omitempty"`
}

var boundRE = regexp.MustCompile(`^FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)$`)

// Maintain reads the partitioned tables and plans premake and retention.
func Maintain(ctx context.Context, conn *pgx.Conn, o MaintainOptions) (*MaintainResult, error) {
	if o.Premake <= 0 {
		o.Premake = 4
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	tables, err := rangeTables(ctx, conn, o.Tables)
	if err != nil {
		return nil, err
	}
	res := &MaintainResult{Tables: tables, Plan: &finding.Plan{Summary: "partition maintenance: premake and retention"}}
	managed, schema, err := partmanTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if err := t.read(ctx, conn); err != nil {
			return nil, err
		}
		if managed[t.Parent] {
			t.Partman = schema
			if err := t.countDefault(ctx, conn); err != nil {
				return nil, err
			}
			res.Plan.Steps = append(res.Plan.Steps, t.partmanStep())
			continue
		}
		t.planPremake(o)
		if err := t.countDefault(ctx, conn); err != nil {
			return nil, err
		}
		t.planRetention(o)
		res.Unencrypted = res.Unencrypted || (len(t.Expired) > 0 && len(o.Archive.Recipients) == 0)
		res.Plan.Steps = append(res.Plan.Steps, t.steps(o)...)
	}
	return res, nil
}

// rangeTables lists tables range-partitioned on one date or timestamp column.
func rangeTables(ctx context.Context, conn *pgx.Conn, only []string) ([]*TableMaintenance, error) {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
		WHERE p.partstrat = 'r' AND p.partnatts = 1 AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgmedic')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("partition: listing partitioned tables: %w", err)
	}
	var out []*TableMaintenance
	for rows.Next() {
		t := &TableMaintenance{}
		if err := rows.Scan(&t.schema, &t.table, &t.Column, &t.ColumnType); err != nil {
			rows.Close()
			return nil, err
		}
		t.Parent = t.schema + "." + t.table
		if rangeKeyType(t.ColumnType) && (len(only) == 0 || slices.Contains(only, t.Parent) || slices.Contains(only, t.table)) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// read takes the partitions and their bounds from the catalog (never from names) and
// infers the interval from them.
func (t *TableMaintenance) read(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, policy.Marker+`SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1) ORDER BY 1`, ident.Quote(t.schema, t.table))
	if err != nil {
		return fmt.Errorf("partition: reading the partitions of %s: %w", t.Parent, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p ChildPart
		if err := rows.Scan(&p.Name, &p.Bound); err != nil {
			return err
		}
		if p.Bound == "DEFAULT" {
			p.Default, t.defaultName = true, p.Name
		} else if m := boundRE.FindStringSubmatch(p.Bound); m != nil {
			p.From, _ = parseBound(m[1])
			p.To, _ = parseBound(m[2])
		}
		t.Partitions = append(t.Partitions, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(t.Partitions, func(a, b ChildPart) int { return a.From.Compare(b.From) })
	t.Interval = inferInterval(t.Partitions)
	return conn.QueryRow(ctx, policy.Marker+`SELECT coalesce(string_agg(quote_ident(attname), ', ' ORDER BY attnum), '') FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`, ident.Quote(t.schema, t.table)).Scan(&t.columns)
}

// parseBound reads a bound as PostgreSQL prints it for a date or timestamp column.
func parseBound(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05", "2006-01-02 15:04:05-07", "2006-01-02 15:04:05-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable bound %q", s)
}

// inferInterval is the span of the newest bounded partition, when it is one of ours.
func inferInterval(parts []ChildPart) string {
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if p.Default || p.From.IsZero() || p.To.IsZero() {
			continue
		}
		for _, iv := range intervals {
			if truncate(p.From, iv).Equal(p.From) && next(p.From, iv).Equal(p.To) {
				return iv
			}
		}
		return ""
	}
	return ""
}

// planPremake lists the partitions missing from the newest bound to now + premake.
func (t *TableMaintenance) planPremake(o MaintainOptions) {
	if t.Interval == "" {
		return
	}
	var last time.Time
	for _, p := range t.Partitions {
		if !p.Default && p.To.After(last) {
			last = p.To
		}
	}
	horizon := truncate(o.Now.UTC(), t.Interval)
	for i := 0; i < o.Premake; i++ {
		horizon = next(horizon, t.Interval)
	}
	for start := last; !start.After(horizon); start = next(start, t.Interval) {
		end := next(start, t.Interval)
		p := ChildPart{Name: childName(t.table, suffix(start, t.Interval)), From: start, To: end,
			Bound: fmt.Sprintf("FOR VALUES FROM (%s) TO (%s)", boundLiteral(start, t.ColumnType), boundLiteral(end, t.ColumnType))}
		t.newParts = append(t.newParts, p)
		t.Create = append(t.Create, p.Name)
	}
}

// countDefault counts the default partition's rows, and those of them inside the span
// the bounded partitions cover or premake will cover.
func (t *TableMaintenance) countDefault(ctx context.Context, conn *pgx.Conn) error {
	if t.defaultName == "" {
		return nil
	}
	lo, hi := time.Time{}, time.Time{}
	for _, p := range append(slices.Clone(t.Partitions), t.newParts...) {
		if p.Default || p.From.IsZero() {
			continue
		}
		if lo.IsZero() || p.From.Before(lo) {
			lo = p.From
		}
		if p.To.After(hi) {
			hi = p.To
		}
	}
	c := ident.Quote(t.Column)
	q := fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE %s >= %s AND %s < %s) FROM %s", c, boundLiteral(lo, t.ColumnType), c, boundLiteral(hi, t.ColumnType),
		ident.Quote(t.schema, t.defaultName))
	if lo.IsZero() {
		q = "SELECT count(*), 0::bigint FROM " + ident.Quote(t.schema, t.defaultName)
	}
	if err := conn.QueryRow(ctx, policy.Marker+q).Scan(&t.DefaultRows, &t.DefaultInRange); err != nil {
		return fmt.Errorf("partition: counting the default partition of %s: %w", t.Parent, err)
	}
	for _, p := range t.newParts {
		var n int64
		if err := conn.QueryRow(ctx, policy.Marker+fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", ident.Quote(t.schema, t.defaultName), t.inBound(p))).Scan(&n); err != nil {
			return fmt.Errorf("partition: counting the default partition of %s: %w", t.Parent, err)
		}
		if n > 0 {
			if t.Moves == nil {
				t.Moves = map[string]int64{}
			}
			t.Moves[p.Name] = n
		}
	}
	return nil
}

// inBound is SQL true for a row inside the partition's range.
func (t *TableMaintenance) inBound(p ChildPart) string {
	c := ident.Quote(t.Column)
	return fmt.Sprintf("%s >= %s AND %s < %s", c, boundLiteral(p.From, t.ColumnType), c, boundLiteral(p.To, t.ColumnType))
}

// planRetention picks the partitions whose upper bound is past the retention, unless
// a legal hold names the table or the partition.
func (t *TableMaintenance) planRetention(o MaintainOptions) {
	if o.RetentionMonths <= 0 {
		return
	}
	cutoff := o.Now.UTC().AddDate(0, -o.RetentionMonths, 0)
	tableHeld := held(o.LegalHolds, t.schema, t.table)
	for _, p := range t.Partitions {
		if p.Default || p.To.IsZero() || p.To.After(cutoff) {
			continue
		}
		if tableHeld || held(o.LegalHolds, t.schema, p.Name) {
			t.Held = append(t.Held, p.Name)
			continue
		}
		t.Expired = append(t.Expired, p.Name)
	}
}

func held(holds []string, schema, name string) bool {
	for _, h := range holds {
		h = strings.TrimSpace(h)
		if h == name || h == schema+"."+name {
			return true
		}
	}
	return false
}

// partmanTables lists the tables pg_partman manages, when it is installed.
func partmanTables(ctx context.Context, conn *pgx.Conn) (map[string]bool, string, error) {
	var schema string
	err := conn.QueryRow(ctx, policy.Marker+"SELECT coalesce((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_partman'), '')").Scan(&schema)
	if err != nil || schema == "" {
		return nil, "", err
	}
	rows, err := conn.Query(ctx, policy.Marker+"SELECT parent_table FROM "+ident.Quote(schema)+".part_config")
	if err != nil {
		return nil, "", fmt.Errorf("partition: reading pg_partman's configuration: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, "", fmt.Errorf("partition: reading pg_partman's configuration: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, schema, nil
}
