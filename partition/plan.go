package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Preflight is one thing the conversion must know about the table: how pgmedic handles
// it, or, when Blocks is set, why it refuses.
type Preflight struct {
	Code     string `json:"code"`
	Blocks   bool   `json:"blocks"`
	Object   string `json:"object,omitempty"`
	Detail   string `json:"detail"`
	Handling string `json:"handling,omitempty"`
}

// Result is a conversion plan: the spec, what the preflight found, and the steps the
// migration runs, each with the lock it takes.
type Result struct {
	Spec      *Spec         `json:"spec"`
	Source    *Table        `json:"source"`
	Preflight []Preflight   `json:"preflight"`
	Steps     *finding.Plan `json:"steps"`
	// RowsOutside counts rows that no planned range holds (they land in the default
	// partition, or make the conversion impossible without one).
	RowsOutside int64 `json:"rows_outside"`
}

// RefusedError: the table cannot be converted safely; Reasons say why.
type RefusedError struct{ Reasons []string }

func (e *RefusedError) Error() string {
	return "pgmedic will not convert this table: " + strings.Join(e.Reasons, "; ")
}

// Refusals lists the blocking preflight findings.
func (r *Result) Refusals() []string {
	var out []string
	for _, p := range r.Preflight {
		if p.Blocks {
			out = append(out, p.Detail)
		}
	}
	return out
}

// ErrBadOptions: the options cannot make a plan (unknown strategy, missing column).
var ErrBadOptions = errors.New("bad partitioning options")

// intervalAliases are the configuration's spellings of the intervals.
var intervalAliases = map[string]string{"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year"}

// Validate checks the options without a database, so bad flags are refused before
// anything connects.
func (o Options) Validate() error { return o.normalise() }

func (o *Options) normalise() error {
	if o.Schema == "" {
		o.Schema = "public"
		if s, t, ok := strings.Cut(o.Table, "."); ok {
			o.Schema, o.Table = s, t
		}
	}
	if o.Table == "" || o.Column == "" {
		return fmt.Errorf("%w: a table and a partition key column are required", ErrBadOptions)
	}
	if o.Strategy == "" {
		o.Strategy = "range"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	switch o.Strategy {
	case "range":
		if o.Interval == "" {
			o.Interval = "month"
		}
		if v, ok := intervalAliases[o.Interval]; ok {
			o.Interval = v
		}
		if !slices.Contains(intervals, o.Interval) {
			return fmt.Errorf("%w: interval %q is not one of %s", ErrBadOptions, o.Interval, strings.Join(intervals, ", "))
		}
		if o.Premake < 0 {
			return fmt.Errorf("%w: premake must not be negative", ErrBadOptions)
		}
		if o.Premake == 0 {
			o.Premake = 4
		}
	case "hash":
		if o.Modulus == 0 {
			o.Modulus = 8
		}
		if o.Modulus < 2 || o.Modulus > 1024 || o.Modulus&(o.Modulus-1) != 0 {
			return fmt.Errorf("%w: modulus must be a power of two from 2 to 1024, got %d", ErrBadOptions, o.Modulus)
		}
	case "list":
	default:
		return fmt.Errorf("%w: strategy must be range, hash or list, got %q", ErrBadOptions, o.Strategy)
	}
	return nil
}

// Plan reads the table and plans its conversion. A table that cannot be converted
// safely gets a result whose Preflight says why, and a *RefusedError.
func Plan(ctx context.Context, conn *pgx.Conn, opts Options) (*Result, error) {
	if err := opts.normalise(); err != nil {
		return nil, err
	}
	t, err := Inspect(ctx, conn, opts.Schema, opts.Table)
	if err != nil {
		return nil, err
	}
	res := &Result{Source: t}
	col, ok := t.Column(opts.Column)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no column %q", ErrBadOptions, t.Quoted(), opts.Column)
	}
	res.Preflight = preflight(t, col, opts)
	if active, err := activeMigration(ctx, conn, t.Schema, t.Name); err != nil {
		return nil, err
	} else if active != "" {
		res.Preflight = append(res.Preflight, Preflight{Code: "migration_active", Blocks: true, Object: t.Quoted(),
			Detail:   "a conversion of this table is already under way (phase " + active + ")",
			Handling: "resume it with 'pgmedic partition migrate --apply', or undo it with 'pgmedic partition rollback --apply'"})
	}
	if !shapeable(t, res.Preflight) {
		return res, &RefusedError{Reasons: res.Refusals()}
	}
	// Other refusals still get the full plan, so that the refusal shows what it stops.
	spec := newSpec(t, col, opts)
	if err := planPartitions(ctx, conn, t, spec, opts, res); err != nil {
		return nil, err
	}
	if err := namesFree(ctx, conn, spec, res); err != nil {
		return nil, err
	}
	res.Spec = spec
	res.Steps = Steps(spec)
	if len(res.Refusals()) > 0 {
		return res, &RefusedError{Reasons: res.Refusals()}
	}
	return res, nil
}

// shapeable says whether a spec can be derived: an ordinary table with a one-column
// primary key and a usable partition key.
func shapeable(t *Table, pre []Preflight) bool {
	if t.Kind != "r" || t.PK == nil || len(t.PK.Columns) != 1 {
		return false
	}
	for _, p := range pre {
		if p.Blocks && slices.Contains([]string{"not_a_table", "key_type", "generated_key", "key_is_primary_key"}, p.Code) {
			return false
		}
	}
	return true
}

// namesFree refuses a plan whose new tables, partitions or indexes would take names
// other relations of the schema already have.
func namesFree(ctx context.Context, conn *pgx.Conn, s *Spec, res *Result) error {
	names := []string{s.Shadow, s.Retired, s.shadowPK()}
	for _, p := range s.Partitions {
		names = append(names, p.Name)
	}
	for _, u := range s.Uniques {
		names = append(names, u.NewName, childName(u.Name, "pgmold"))
	}
	for _, ix := range s.Indexes {
		names = append(names, ix.NewName, childName(ix.Name, "pgmold"))
	}
	rows, err := conn.Query(ctx, policy.Marker+`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) ORDER BY 1`, s.Schema, names)
	if err != nil {
		return fmt.Errorf("partition: checking names: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("partition: checking names: %w", err)
	}
	for _, n := range taken {
		res.Preflight = append(res.Preflight, Preflight{Code: "name_taken", Blocks: true, Object: s.Schema + "." + n,
			Detail: "the plan needs the name " + n + ", which another relation of the schema has", Handling: "rename or drop that relation, or check for a conversion left half-done"})
	}
	return nil
}

// activeMigration returns the phase of an unfinished conversion of the table, if any
// (none when the pgmedic schema is not there yet).
func activeMigration(ctx context.Context, conn *pgx.Conn, schema, table string) (string, error) {
	st, err := ReadState(ctx, conn, schema, table, false)
	switch {
	case errors.Is(err, ErrNoMigration):
		return "", nil
	case err != nil:
		return "", err
	}
	return st.Phase, nil
}

// newSpec derives the new table's shape from the old one.
func newSpec(t *Table, col Column, o Options) *Spec {
	s := &Spec{Schema: t.Schema, Table: t.Name, SourceOID: t.OID, Column: col.Name, ColumnType: col.Type,
		Strategy: o.Strategy, Owner: t.Owner, Shadow: childName(t.Name, "pgmedic_new"), Retired: childName(t.Name, "pgmedic_old"),
		Views: t.Views, Triggers: t.Triggers, Grants: t.Grants, RLS: t.RLS, ForceRLS: t.ForceRLS, Policies: t.Policies, FKsOut: t.FKsOut}
	switch o.Strategy {
	case "range":
		s.Interval, s.Premake = o.Interval, o.Premake
	case "hash":
		s.Modulus = o.Modulus
	}
	pkCol, _ := t.Column(t.PK.Columns[0])
	s.PKColumn, s.PKType, s.PKName = pkCol.Name, pkCol.Type, t.PK.Name
	s.PrimaryKey = withKey(t.PK.Columns, col.Name)
	for _, c := range t.Columns {
		if !c.Generated {
			s.Columns = append(s.Columns, c.Name)
		}
		switch {
		case c.Identity != "":
			s.Identity = &Identity{Column: c.Name, Kind: c.Identity, Sequence: c.Sequence}
		case c.Sequence != "":
			s.Sequences = append(s.Sequences, OwnedSeq{Column: c.Name, Sequence: c.Sequence})
		}
	}
	for _, ix := range t.Indexes {
		switch {
		case ix.Primary:
		case ix.Unique:
			s.Uniques = append(s.Uniques, NewUniq{Name: ix.Name, NewName: childName(ix.Name, "pgmnew"),
				Columns: withKey(ix.Columns, col.Name), Constraint: ix.Constraint != ""})
		default:
			nn := childName(ix.Name, "pgmnew")
			s.Indexes = append(s.Indexes, NewIdx{Name: ix.Name, NewName: nn, SQL: indexOnShadow(ix.Def, nn, ident.Quote(s.Schema, s.Shadow))})
		}
	}
	return s
}

// withKey appends the partition key to a key's columns unless it is there.
func withKey(cols []string, key string) []string {
	out := slices.Clone(cols)
	if !slices.Contains(out, key) {
		out = append(out, key)
	}
	return out
}

// indexOnShadow rewrites pg_get_indexdef's text for the shadow: a new name, the shadow
// as the table, the rest (method, keys, INCLUDE, WHERE) as it was.
func indexOnShadow(def, name, shadow string) string {
	_, rest, _ := strings.Cut(def, " USING ")
	return "CREATE INDEX IF NOT EXISTS " + ident.Quote(name) + " ON " + shadow + " USING " + rest
}
