package compliance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// DiscoverOptions bound PHI discovery.
type DiscoverOptions struct {
	// Sample is the most rows read from each table (0: 500; negative: names only).
	Sample int
	// Timeout bounds each sampling statement (0: 10 s).
	Timeout time.Duration
	// MaxValueBytes truncates each sampled value before it reaches pgmedic (0: 1000).
	MaxValueBytes int
}

func (o DiscoverOptions) withDefaults() DiscoverOptions {
	if o.Sample == 0 {
		o.Sample = 500
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = 1000
	}
	return o
}

// Column is the verdict on one column. It carries counts and signal names, never a value.
type Column struct {
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	Column     string   `json:"column"`
	Type       string   `json:"type"`
	Category   string   `json:"category"`
	Confidence float64  `json:"confidence"`
	Evidence   []string `json:"evidence"`
	// NameOnly: the values could not be read (no SELECT privilege, a timeout), so the
	// verdict rests on the name and structure alone.
	NameOnly bool `json:"name_only,omitempty"`
	PHI      bool `json:"phi"`
}

// Table is one table's summary.
type Table struct {
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	PHI     bool   `json:"phi"`
	Sampled int    `json:"sampled_rows"`
	// NotSampled says why no row was read.
	NotSampled string `json:"not_sampled,omitempty"`
}

// Discovery is the result of PHI discovery.
type Discovery struct {
	Columns []Column `json:"columns"`
	Tables  []Table  `json:"tables"`
	Sample  int      `json:"sample_rows"`
}

// PHIColumns returns the columns judged PHI.
func (d *Discovery) PHIColumns() []Column {
	var out []Column
	for _, c := range d.Columns {
		if c.PHI {
			out = append(out, c)
		}
	}
	return out
}

// PHITables returns "schema.table" of every table holding a PHI column or judged PHI.
func (d *Discovery) PHITables() []string {
	set := map[string]bool{}
	for _, t := range d.Tables {
		if t.PHI {
			set[t.Schema+"."+t.Name] = true
		}
	}
	for _, c := range d.Columns {
		if c.PHI {
			set[c.Schema+"."+c.Table] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FeedConfidence is the confidence from which a discovered PHI column is passed on to
// the other analyzers as if configured: weaker verdicts stay hints of discovery's own.
const FeedConfidence = 0.8

// Healthcare returns base with the discovery's confident PHI columns and the PHI tables
// added, so that every analyzer built from it (checks, query rules, index presets) sees
// what discovery found.
func (d *Discovery) Healthcare(base config.Healthcare) config.Healthcare {
	out := base
	out.PHIColumns = append([]string(nil), base.PHIColumns...)
	out.PHITables = append([]string(nil), base.PHITables...)
	for _, c := range d.PHIColumns() {
		if c.Confidence >= FeedConfidence {
			out.PHIColumns = append(out.PHIColumns, c.Schema+"."+c.Table+"."+c.Column)
		}
	}
	out.PHITables = append(out.PHITables, d.PHITables()...)
	return out
}

// Discover classifies every column of every user table from names, sampled values and
// structure. It only reads: the caller's session should be read-only. Values are counted
// by the scanner and dropped; none reaches the result or an error.
func Discover(ctx context.Context, conn *pgx.Conn, cfg config.Healthcare, opts DiscoverOptions) (*Discovery, error) {
	opts = opts.withDefaults()
	cls, err := healthcare.New(cfg)
	if err != nil {
		return nil, err
	}
	cat, err := readCatalog(ctx, conn)
	if err != nil {
		return nil, err
	}
	d := &Discovery{Sample: max(opts.Sample, 0)}
	for _, t := range cat.tables {
		t.class = cls.Table(t.input())
		if opts.Sample > 0 {
			t.sample(ctx, conn, opts)
		} else {
			t.notSampled = "sampling switched off"
		}
	}
	verdicts := judgeAll(cat, cls)
	for _, t := range cat.tables {
		d.Tables = append(d.Tables, Table{Schema: t.schema, Name: t.name, Role: string(t.class.Role),
			PHI: t.class.PHI, Sampled: t.sampled, NotSampled: t.notSampled})
		for _, c := range t.columns {
			v := verdicts[c.key()]
			d.Columns = append(d.Columns, Column{Schema: t.schema, Table: t.name, Column: c.name,
				Type: c.typ, Category: v.Category, Confidence: v.Confidence, Evidence: v.Evidence,
				NameOnly: c.scan == nil, PHI: v.PHI()})
		}
	}
	return d, nil
}

// judgeAll judges columns that reference nothing first, then follows foreign keys, so
// that a column pointing at an MRN column inherits its verdict (chains resolve in a few
// rounds; cycles stop at the round limit).
func judgeAll(cat *catalog, cls *healthcare.Classifier) map[string]healthcare.Verdict {
	out := map[string]healthcare.Verdict{}
	for round := 0; round < 4; round++ {
		changed := false
		for _, t := range cat.tables {
			for _, c := range t.columns {
				e := t.evidence(c, cls)
				if c.ref != "" {
					if rv, ok := out[c.ref]; ok {
						e.Referenced = &rv
						e.References = c.ref
					}
				}
				v := healthcare.Judge(e)
				if old, ok := out[c.key()]; !ok || old.Category != v.Category || old.Confidence != v.Confidence {
					changed = true
				}
				out[c.key()] = v
			}
		}
		if !changed {
			break
		}
	}
	return out
}

// sample reads up to opts.Sample rows with TABLESAMPLE SYSTEM, falling back to the first
// rows when the sample comes back short (small tables, stale reltuples).
func (t *table) sample(ctx context.Context, conn *pgx.Conn, opts DiscoverOptions) {
	var cols []*column
	for _, c := range t.columns {
		switch {
		case !c.canSelect:
			c.notSampled = "no SELECT privilege"
		case !sampleable(c.typ):
			c.notSampled = "type " + c.typ + " is not sampled"
		default:
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		t.notSampled = "no column could be read"
		if len(t.columns) > 0 && !t.columns[0].canSelect {
			t.notSampled = "no SELECT privilege" // the usual case: the role may not read the table
		}
		return
	}
	pct := 100.0
	if t.reltuples > 0 {
		pct = min(100, 100*4*float64(opts.Sample)/float64(t.reltuples))
	}
	values, err := t.read(ctx, conn, cols, pct, opts)
	if err == nil && len(values[0]) < opts.Sample && pct < 100 {
		values, err = t.read(ctx, conn, cols, -1, opts)
	}
	if err != nil {
		t.notSampled = sampleError(err)
		for _, c := range cols {
			c.notSampled = t.notSampled
		}
		return
	}
	t.sampled = len(values[0])
	for i, c := range cols {
		s := healthcare.ScanValues(values[i])
		c.scan = &s
	}
}

func sampleError(err error) string {
	switch {
	case pgerr.Privilege(err):
		return "no SELECT privilege"
	case pgerr.Canceled(err):
		return "sampling timed out"
	}
	return "sampling failed: " + pgerr.Safe(err)
}

// read returns the sampled values column by column. pct < 0 reads the first rows.
func (t *table) read(ctx context.Context, conn *pgx.Conn, cols []*column, pct float64, opts DiscoverOptions) ([][]*string, error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = fmt.Sprintf("left(%s::text, %d)", ident.Quote(c.name), opts.MaxValueBytes)
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + ident.Quote(t.schema) + "." + ident.Quote(t.name)
	args := []any{opts.Sample}
	if pct >= 0 {
		q += " TABLESAMPLE SYSTEM ($2::float8)"
		args = append(args, pct)
	}
	q += " LIMIT $1"
	out := make([][]*string, len(cols))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("sample %s.%s: %w", t.schema, t.name, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, policy.Marker+fmt.Sprintf("SET LOCAL statement_timeout = %d", opts.Timeout.Milliseconds())); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, policy.Marker+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		dest := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range dest {
			ptrs[i] = &dest[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range dest {
			out[i] = append(out[i], dest[i])
		}
	}
	return out, rows.Err()
}

// sampleable: types whose text form can hold an identifier. Binary, boolean and
// geometric types are left to their names.
func sampleable(typ string) bool {
	t := strings.ToLower(typ)
	for _, p := range []string{"bytea", "boolean", "point", "polygon", "box", "circle", "line", "path", "tsvector", "oid"} {
		if t == p || strings.HasPrefix(t, p+"[") {
			return false
		}
	}
	return true
}
