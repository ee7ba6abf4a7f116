// Package matview proposes and maintains materialized views for the workload's heavy,
// repeated aggregates (the seed's appointment statistics): the view keeps partial
// aggregates grouped by the statement's keys and by the columns its parameters filter,
// so the statement, rewritten onto the view with the same parameters, returns the same
// rows from far fewer. Views get the unique index REFRESH ... CONCURRENTLY needs, and
// refreshes go through the executor, each recorded so staleness can be reported.
package matview

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Options bound the advice.
type Options struct {
	MinCalls     int64         // statements called fewer times are left alone (0: 20)
	MinTotalMs   float64       // ... or that took less time in all (0: 1000 ms)
	MaxViewShare float64       // the view's rows over the largest table's (0: 0.1)
	Refresh      time.Duration // the interval proposed (0: 15 min)
}

func (o Options) withDefaults() Options {
	if o.MinCalls == 0 {
		o.MinCalls = 20
	}
	if o.MinTotalMs == 0 {
		o.MinTotalMs = 1000
	}
	if o.MaxViewShare == 0 {
		o.MaxViewShare = 0.1
	}
	if o.Refresh == 0 {
		o.Refresh = 15 * time.Minute
	}
	return o
}

// Proposal is one view for one statement.
type Proposal struct {
	Name        string   `json:"name"` // schema.view
	Statement   string   `json:"statement"`
	Calls       int64    `json:"calls"`
	TotalMs     float64  `json:"total_ms"`
	MeanMs      float64  `json:"mean_ms"`
	ViewRows    float64  `json:"estimated_view_rows"`
	SourceRows  float64  `json:"largest_table_rows"`
	Create      string   `json:"create"`
	UniqueIndex string   `json:"unique_index"`
	Index       string   `json:"index"`
	Rewritten   string   `json:"rewritten"`
	RefreshSecs float64  `json:"refresh_interval_seconds"`
	Notes       []string `json:"notes,omitempty"`
}

// Skipped is a heavy statement no view can serve, with the reason.
type Skipped struct {
	Statement string  `json:"statement"`
	TotalMs   float64 `json:"total_ms"`
	Reason    string  `json:"reason"`
}

// Advice is the result of Advise.
type Advice struct {
	Proposals []Proposal `json:"proposals"`
	Skipped   []Skipped  `json:"skipped"`
}

// Advise looks at the workload's aggregate statements and proposes views for those the
// view can serve exactly and that it makes at least 1/MaxViewShare times smaller. It only
// reads: the planner estimates each view's rows from an EXPLAIN of its query.
func Advise(ctx context.Context, conn *pgx.Conn, snap *snapshot.Snapshot, opts Options) (*Advice, error) {
	opts = opts.withDefaults()
	out := &Advice{Proposals: []Proposal{}, Skipped: []Skipped{}}
	stmts := append([]snapshot.Statement(nil), snap.Workload.Statements...)
	sort.Slice(stmts, func(i, j int) bool { return stmts[i].TotalExecMs > stmts[j].TotalExecMs })
	seen := map[string]bool{}
	for _, st := range stmts {
		if st.Calls < opts.MinCalls || st.TotalExecMs < opts.MinTotalMs || strings.HasPrefix(strings.TrimSpace(st.Query), "/* pgmedic */") {
			continue
		}
		if !strings.Contains(strings.ToLower(st.Query), "group by") && !hasAggregateWord(st.Query) {
			continue
		}
		fp, err := sqlparse.Fingerprint(st.Query)
		if err != nil || seen[fp] {
			continue
		}
		seen[fp] = true
		p, err := propose(ctx, conn, st, fp, opts)
		if why, ok := NotEligible(err); ok {
			out.Skipped = append(out.Skipped, Skipped{Statement: sqlparse.SafeText(st.Query, 200), TotalMs: st.TotalExecMs, Reason: why})
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Proposals = append(out.Proposals, *p)
	}
	return out, nil
}

func hasAggregateWord(q string) bool {
	l := strings.ToLower(q)
	for a := range aggregates {
		if strings.Contains(l, a+"(") {
			return true
		}
	}
	return false
}

func propose(ctx context.Context, conn *pgx.Conn, st snapshot.Statement, fp string, opts Options) (*Proposal, error) {
	d, err := Plan(st.Query)
	if err != nil {
		return nil, err
	}
	schema, table, err := firstTable(st.Query)
	if err != nil {
		return nil, err
	}
	rows, err := estimateRows(ctx, conn, d.Select)
	if err != nil {
		return nil, notEligible("the view's query does not plan: %v", err)
	}
	largest, err := largestTable(ctx, conn, st.Query)
	if err != nil {
		return nil, err
	}
	if largest <= 0 || rows > opts.MaxViewShare*largest {
		return nil, notEligible("the view would hold about %.0f rows for %.0f in the largest table: not small enough to pay for its refreshes", rows, largest)
	}
	h := fnv.New32a()
	h.Write([]byte(fp))
	name := fmt.Sprintf("mv_%s_%06x", table, h.Sum32()&0xffffff)
	q := ident.Quote(schema, name)
	idx := ident.IndexName(name, d.Keys, "key")
	cols := make([]string, len(d.Keys))
	for i, k := range d.Keys {
		cols[i] = ident.Quote(k)
	}
	p := &Proposal{Name: schema + "." + name, Statement: sqlparse.SafeText(st.Query, 400), Calls: st.Calls,
		TotalMs: st.TotalExecMs, MeanMs: st.MeanExecMs, ViewRows: rows, SourceRows: largest,
		Create:      fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s AS %s WITH DATA", q, d.Select),
		UniqueIndex: fmt.Sprintf("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s) NULLS NOT DISTINCT", ident.Quote(idx), q, strings.Join(cols, ", ")),
		Rewritten:   strings.ReplaceAll(d.Rewritten, ViewName, q),
		Index:       idx,
		RefreshSecs: opts.Refresh.Seconds(),
		Notes: []string{
			fmt.Sprintf("results are as old as the last refresh: at most %s with 'pgmedic matview refresh' on that schedule", opts.Refresh),
			"sums of integer columns come back as numeric from the view; the values are the same",
		}}
	return p, nil
}

// firstTable is the schema and name of the statement's first table.
func firstTable(sql string) (string, string, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return "", "", notEligible("does not parse")
	}
	var schema, name string
	walk(tree.Stmts[0].Stmt, func(n *pg_query.Node) bool {
		if rv := n.GetRangeVar(); rv != nil && name == "" {
			schema, name = rv.Schemaname, rv.Relname
		}
		return name == ""
	})
	if name == "" {
		return "", "", notEligible("no table")
	}
	if schema == "" {
		schema = "public"
	}
	return schema, name, nil
}

// largestTable is the most rows (reltuples) among the statement's tables.
func largestTable(ctx context.Context, conn *pgx.Conn, sql string) (float64, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return 0, notEligible("does not parse")
	}
	var names []string
	walk(tree.Stmts[0].Stmt, func(n *pg_query.Node) bool {
		if rv := n.GetRangeVar(); rv != nil {
			names = append(names, ident.Quote(rv.Schemaname, rv.Relname))
			if rv.Schemaname == "" {
				names[len(names)-1] = ident.Quote(rv.Relname)
			}
		}
		return true
	})
	var max float64
	err = conn.QueryRow(ctx, policy.Marker+`SELECT coalesce(max(greatest(c.reltuples, 0)), 0)::float8 FROM unnest($1::text[]) n
	    JOIN pg_class c ON c.oid = to_regclass(n)`, names).Scan(&max)
	return max, err
}

// estimateRows asks the planner how many rows the view's query returns.
func estimateRows(ctx context.Context, conn *pgx.Conn, sql string) (float64, error) {
	var raw []byte
	if err := conn.QueryRow(ctx, policy.Marker+"EXPLAIN (FORMAT JSON) "+sql).Scan(&raw); err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("reading the plan: %v", err)
	}
	return plans[0].Plan.Rows, nil
}

// CreatePlan makes the executor plan that creates the proposed views and their indexes.
func CreatePlan(a *Advice) *finding.Plan {
	plan := &finding.Plan{Summary: fmt.Sprintf("create %d materialized views", len(a.Proposals))}
	for _, p := range a.Proposals {
		schema, name, _ := strings.Cut(p.Name, ".")
		plan.Steps = append(plan.Steps, finding.Step{Description: "create materialized view " + p.Name + " (reads the tables once)",
			SQL: p.Create, Kind: "maintenance", Long: true, Lock: "ACCESS SHARE on the tables it reads", Object: p.Name,
			Check: "SELECT pg_catalog.to_regclass(" + ident.Literal(ident.Quote(schema, name)) + ") IS NOT NULL",
			Undo:  "DROP MATERIALIZED VIEW IF EXISTS " + ident.Quote(schema, name)})
		plan.Steps = append(plan.Steps, change.BuildIndexStep(schema, p.Index, p.UniqueIndex,
			"unique index on "+p.Name+" so it can be refreshed without blocking readers"))
	}
	return plan
}
