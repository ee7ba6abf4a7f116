package shard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// ErrNoCandidate is returned when no table can carry a distribution key.
var ErrNoCandidate = errors.New("shard: no patient or organisation table with a one-column primary key")

// PlanSnapshot plans the distribution from a snapshot (tables, constraints, workload).
func PlanSnapshot(snap *snapshot.Snapshot, opts Options) (*Plan, error) {
	if opts.Classifier == nil {
		cls, err := healthcare.New(config.Healthcare{})
		if err != nil {
			return nil, err
		}
		opts.Classifier = cls
	}
	if opts.ReferenceMaxRows <= 0 {
		opts.ReferenceMaxRows = 1e6
	}
	if opts.MaxStatements <= 0 {
		opts.MaxStatements = 20
	}
	g := newGraph(snap, opts.Classifier)
	cands := g.candidates()
	if len(cands) == 0 {
		return nil, ErrNoCandidate
	}
	// Patients first: on a tie the patient's key wins, patient-scoped access being what
	// healthcare systems do most.
	slices.SortStableFunc(cands, func(a, b Candidate) int { return strings.Compare(b.Entity, a.Entity) })
	stmts := parseWorkload(snap)
	p := &Plan{}
	var best []Distributed
	for i := range cands {
		dist := g.distribute(cands[i])
		cands[i].Tables = len(dist)
		cands[i].SingleShardPct, _ = score(stmts, dist)
		if best == nil || cands[i].SingleShardPct > p.Key.SingleShardPct+0.5 {
			p.Key, best = cands[i], dist
		}
	}
	p.Candidates = cands
	p.Distributed = best
	_, multi := score(stmts, best)
	if len(multi) > opts.MaxStatements {
		multi = multi[:opts.MaxStatements]
	}
	p.MultiShard = multi
	p.classifyRest(g, opts.ReferenceMaxRows)
	p.constraintChanges(g)
	if p.Key.SingleShardPct == 0 && len(multi) == 0 {
		p.Notes = append(p.Notes, "no workload statistics (pg_stat_statements) of the application: the key was chosen from the schema alone")
	}
	return p, nil
}

// classifyRest makes small tables that distributed ones refer to, and code tables,
// reference tables; everything else stays local on the coordinator.
func (p *Plan) classifyRest(g *graph, maxRows float64) {
	dist := map[string]bool{}
	for _, d := range p.Distributed {
		dist[d.Table] = true
	}
	referenced := map[string]bool{}
	for _, q := range g.order {
		for _, f := range g.fks[q] {
			if dist[q] || referenced[q] {
				referenced[f.ref] = true
			}
		}
	}
	for _, q := range g.order {
		if dist[q] {
			continue
		}
		small := g.tables[q].RowEstimate <= maxRows
		if small && (referenced[q] || g.roles[q] == healthcare.Reference) {
			p.Reference = append(p.Reference, q)
		} else {
			p.Local = append(p.Local, q)
		}
	}
}

// constraintChanges lists what Citus refuses as it is: keys of distributed tables that
// lack the distribution column, and foreign keys between distributed tables that do
// not include it, or from reference and local tables to distributed ones.
func (p *Plan) constraintChanges(g *graph) {
	col := map[string]string{}
	for _, d := range p.Distributed {
		col[d.Table] = d.Column
	}
	for _, d := range p.Distributed {
		if pk := g.pk[d.Table]; len(pk) > 0 && !slices.Contains(pk, d.Column) {
			p.Constraints = append(p.Constraints, fmt.Sprintf("%s: primary key (%s) must include %s: (%s, %s)", d.Table,
				strings.Join(pk, ", "), d.Column, d.Column, strings.Join(pk, ", ")))
		}
	}
	for _, q := range g.order {
		for _, f := range g.fks[q] {
			_, fromDist := col[q]
			refCol, toDist := col[f.ref]
			switch {
			case fromDist && toDist && !slices.Contains(f.cols, col[q]):
				p.Constraints = append(p.Constraints, fmt.Sprintf("%s: foreign key (%s) to %s must include the distribution column: (%s, %s) references (%s, %s)",
					q, strings.Join(f.cols, ", "), f.ref, col[q], strings.Join(f.cols, ", "), refCol, strings.Join(f.refCols, ", ")))
			case !fromDist && toDist:
				p.Constraints = append(p.Constraints, fmt.Sprintf("%s: foreign key (%s) to the distributed %s is not possible from a reference or local table; drop it or distribute %s",
					q, strings.Join(f.cols, ", "), f.ref, q))
			}
		}
	}
}

// parsed is a workload statement with its parse.
type parsed struct {
	st     snapshot.Statement
	parsed *sqlparse.Statement
}

func parseWorkload(snap *snapshot.Snapshot) []parsed {
	parser := sqlparse.NewParser(nil, 0)
	var out []parsed
	for _, s := range snap.Workload.Statements {
		if strings.HasPrefix(s.Query, strings.TrimSpace(pgconn.Marker)) || s.Calls == 0 ||
			(s.Database != "" && s.Database != snap.Server.Database) {
			continue
		}
		st, err := parser.Parse(s.Query)
		if err != nil || st.Kind == sqlparse.Utility {
			continue
		}
		out = append(out, parsed{s, st})
	}
	return out
}

// score is the share of time of statements on distributed tables that one shard can
// answer, and the others by time.
func score(stmts []parsed, dist []Distributed) (float64, []Statement) {
	key := map[string]string{}
	for _, d := range dist {
		key[unqualified(d.Table)] = d.Column
	}
	var total, single float64
	var multi []Statement
	for _, s := range stmts {
		touches := false
		for _, t := range s.parsed.Tables {
			if _, ok := key[t.Name]; ok && !t.CTE {
				touches = true
			}
		}
		if !touches {
			continue
		}
		total += s.st.TotalExecMs
		if routed(s.parsed, key) {
			single += s.st.TotalExecMs
			continue
		}
		multi = append(multi, Statement{Query: sqlparse.SafeText(s.st.Query, 200), Calls: s.st.Calls, SharePct: s.st.TotalExecMs,
			Reason: "no equality on a distribution column (" + keysOf(s.parsed, key) + ")"})
	}
	if total == 0 {
		return 0, nil
	}
	for i := range multi {
		multi[i].SharePct = 100 * multi[i].SharePct / total
	}
	slices.SortStableFunc(multi, byShare)
	return 100 * single / total, multi
}

// routed: an INSERT carries its key; other statements need an equality on the key of
// one of their distributed tables.
func routed(st *sqlparse.Statement, key map[string]string) bool {
	if st.Kind == sqlparse.Insert {
		return true
	}
	for _, pr := range st.Predicates {
		if pr.Negated || pr.InOr || pr.Op != "=" || (pr.Value != sqlparse.ValParam && pr.Value != sqlparse.ValConst) {
			continue
		}
		table := unqualified(pr.Table)
		if table == "" && len(st.Tables) == 1 {
			table = st.Tables[0].Name
		}
		if col, ok := key[table]; ok && col == pr.Column {
			return true
		}
	}
	return false
}

func keysOf(st *sqlparse.Statement, key map[string]string) string {
	var out []string
	for _, t := range st.Tables {
		if c, ok := key[t.Name]; ok {
			out = append(out, t.Name+"."+c)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ", ")
}

// DDL is the plan: missing key columns added and filled, reference tables, then the
// root and the tables co-located with it. Keys and foreign keys listed in Constraints
// must be changed before the distribution steps (they are not written for you: they
// touch the application's schema contract).
func (p *Plan) DDL() *finding.Plan {
	fp := &finding.Plan{Summary: fmt.Sprintf("distribute by %s.%s (%s), %d co-located tables, %d reference tables; needs the citus extension",
		p.Key.Table, p.Key.Column, p.Key.Entity, len(p.Distributed), len(p.Reference))}
	quote := func(q string) string { s, t, _ := strings.Cut(q, "."); return ident.Quote(s, t) }
	for _, d := range p.Distributed {
		if !d.Missing {
			continue
		}
		via := ""
		for _, o := range p.Distributed {
			if o.Table == d.Via {
				via = o.Column
			}
		}
		fp.Steps = append(fp.Steps,
			finding.Step{Description: fmt.Sprintf("give %s the distribution column", d.Table), Kind: "ddl", Object: d.Table,
				SQL: fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s bigint", quote(d.Table), ident.Quote(d.Column))},
			finding.Step{Description: fmt.Sprintf("fill it from %s", d.Via), Kind: "maintenance", Long: true, Object: d.Table,
				SQL: fmt.Sprintf("UPDATE %s c SET %s = p.%s FROM %s p WHERE %s AND c.%s IS NULL",
					quote(d.Table), ident.Quote(d.Column), ident.Quote(via), quote(d.Via), joinOn(d.viaCols, d.viaRefCols), ident.Quote(d.Column)),
				Check: fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM %s WHERE %s IS NULL)", quote(d.Table), ident.Quote(d.Column))})
	}
	for _, r := range p.Reference {
		fp.Steps = append(fp.Steps, finding.Step{Description: "copy to every node: " + r, Kind: "ddl", Object: r,
			SQL:   fmt.Sprintf("SELECT create_reference_table(%s)", ident.Literal(r)),
			Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = %s::regclass)", ident.Literal(r))})
	}
	for i, d := range p.Distributed {
		sql := fmt.Sprintf("SELECT create_distributed_table(%s, %s)", ident.Literal(d.Table), ident.Literal(d.Column))
		desc := "distribute " + describe(d)
		if i > 0 {
			sql = fmt.Sprintf("SELECT create_distributed_table(%s, %s, colocate_with => %s)", ident.Literal(d.Table), ident.Literal(d.Column), ident.Literal(p.Key.Table))
			desc += ", co-located with " + p.Key.Table
		}
		fp.Steps = append(fp.Steps, finding.Step{Description: desc, Kind: "maintenance", Long: true, Object: d.Table, SQL: sql,
			Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = %s::regclass)", ident.Literal(d.Table))})
	}
	return fp
}

func joinOn(cols, refCols []string) string {
	var parts []string
	for i := range cols {
		parts = append(parts, fmt.Sprintf("c.%s = p.%s", ident.Quote(cols[i]), ident.Quote(refCols[i])))
	}
	return strings.Join(parts, " AND ")
}
