package indexadvisor

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// tooSmall: the planner expects fewer rows than indexOptimizer.minTableRows, where a
// sequential scan reads the table as fast as an index would. A partitioned parent
// holds no rows itself; its partitions decide.
func (a *Advisor) tooSmall(t *snapshot.Table) bool {
	if t.Kind == "partitioned" || t.RowEstimate >= float64(a.opts.MinTableRows) {
		return false
	}
	a.passOver(t.QualifiedName(), fmt.Sprintf("the planner expects %.0f rows, under indexOptimizer.minTableRows (%d): a sequential scan reads it as fast as an index", t.RowEstimate, a.opts.MinTableRows))
	return true
}

func (a *Advisor) passOver(table, reason string) {
	if _, ok := a.passed[table]; !ok {
		a.passed[table] = reason
	}
}

func (a *Advisor) passedOver() []PassedOver {
	out := []PassedOver{}
	for t, r := range a.passed {
		out = append(out, PassedOver{Table: t, Reason: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

// relations looks at every relation the planned statements name: a table never
// analysed gets the row count the planner assumes for it (from its size on disk), so
// the advice neither flips when autovacuum first runs nor ignores a table because its
// statistics are missing; a name that is not a table gets its reason.
func (a *Advisor) relations(ctx context.Context, stmts []*stmt, adv *Advice) {
	seen := map[string]bool{}
	for _, s := range stmts {
		if s.parsed == nil {
			continue
		}
		for _, ref := range s.parsed.Tables {
			name := ref.Qualified()
			if seen[name] {
				continue
			}
			seen[name] = true
			t := a.table(name)
			if t == nil {
				a.notATable(ctx, ref)
				continue
			}
			if t.NeverAnalyzed {
				a.plannerRows(ctx, t, adv)
			}
		}
	}
}

// plannerRows replaces a never-analysed table's row estimate with the planner's.
func (a *Advisor) plannerRows(ctx context.Context, t *snapshot.Table, adv *Advice) {
	pl, err := a.planner.PlanSQL(ctx, "SELECT 1 FROM "+quoteTable(t))
	if err != nil {
		return
	}
	t.RowEstimate = pl.Root.PlanRows
	adv.Notes = append(adv.Notes, fmt.Sprintf("%s has never been analysed: its statistics are PostgreSQL's guess from its size (%.0f rows, no column statistics); run ANALYZE %s and advise again for advice on its real data",
		t.QualifiedName(), t.RowEstimate, quoteTable(t)))
}

// notATable says why a relation of the workload that is not a table of the snapshot
// gets no index of its own.
func (a *Advisor) notATable(ctx context.Context, ref sqlparse.TableRef) {
	if ref.Schema == "pg_catalog" || ref.Schema == "information_schema" {
		return
	}
	var kind string
	err := a.planner.Conn().QueryRow(ctx, policy.Marker+`SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
		relationName(ref)).Scan(&kind)
	name := ref.Qualified()
	switch {
	case err != nil:
		a.passOver(name, "no such relation on the search path (a temporary table, or a table of another database)")
	case kind == "v":
		a.passOver(name, "a view: the indexes it needs belong on the tables it reads, which are advised through the statements' plans")
	case kind == "f":
		a.passOver(name, "a foreign table: its rows live on another server, so an index would have to be made there")
	case kind == "S":
		a.passOver(name, "a sequence")
	default:
		a.passOver(name, "not a table pgmedic's snapshot holds (system catalog or extension member)")
	}
}

func relationName(ref sqlparse.TableRef) string {
	if ref.Schema == "" {
		return quoteIdent(ref.Name)
	}
	return quoteIdent(ref.Schema) + "." + quoteIdent(ref.Name)
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteTable(t *snapshot.Table) string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }
