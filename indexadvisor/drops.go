package indexadvisor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/snapshot"
)

// drops finds indexes to remove: invalid ones, duplicates and prefix-redundant ones,
// unused ones, and existing indexes a recommended index replaces. An index the
// workload's plans use is never dropped; with HypoPG 1.4+ a drop is also checked by
// hiding the index and re-planning the statements on its table.
func (a *Advisor) drops(ctx context.Context, stmts []*stmt, recs []Recommendation) ([]Drop, error) {
	usedBy := map[string]bool{} // index names the current plans use
	for _, s := range stmts {
		if s.basePlan == nil {
			continue
		}
		s.basePlan.Root.Walk(func(n *explain.Node) {
			if n.Index != "" {
				usedBy[n.Index] = true
			}
		})
	}
	seen := map[string]bool{}
	keep := map[string]bool{} // indexes another drop relies on
	var out []Drop
	add := func(ix *snapshot.Index, reason string) {
		if seen[ix.QualifiedName()] || keep[ix.QualifiedName()] {
			return
		}
		seen[ix.QualifiedName()] = true
		out = append(out, Drop{Index: ix.QualifiedName(), Reason: reason, Bytes: ix.SizeBytes,
			SQL: "DROP INDEX CONCURRENTLY IF EXISTS " + pgx.Identifier{ix.Schema, ix.Name}.Sanitize()})
	}
	for i := range a.snap.Indexes {
		ix := &a.snap.Indexes[i]
		if !ix.Valid && !ix.BeingBuilt {
			add(ix, "invalid: left behind by a failed concurrent build; the planner ignores it but writes still maintain it")
		}
	}
	for _, r := range health.RedundantIndexes(a.snap) {
		if usedBy[r.Index.Name] && !r.Exact {
			continue // the plans prefer it (smaller); keep it until they do not
		}
		what := "a prefix of"
		if r.Exact {
			what = "a duplicate of"
		}
		ok, err := a.safeToDrop(ctx, stmts, r.Index)
		if err != nil {
			return nil, err
		}
		if ok && !seen[r.By.QualifiedName()] {
			add(r.Index, fmt.Sprintf("%s %s (%s), which serves the same queries", what, r.By.Name, strings.Join(r.By.Columns, ", ")))
			keep[r.By.QualifiedName()] = true
		}
	}
	for _, u := range health.UnusedIndexes(a.snap, int64(a.cfg.IndexOptimizer.UnusedIndexMinBytes), a.opts.Now()) {
		if usedBy[u.Index.Name] || u.StatsDays < float64(a.cfg.IndexOptimizer.UnusedIndexMinDays) {
			continue // young statistics: the job that needs it may not have run yet
		}
		ok, err := a.safeToDrop(ctx, stmts, u.Index)
		if err != nil {
			return nil, err
		}
		if ok {
			add(u.Index, fmt.Sprintf("no scans in the %.0f days since the statistics were reset, and no workload plan uses it (check replicas first)", u.StatsDays))
		}
	}
	// Existing indexes a recommendation makes redundant.
	for ri := range recs {
		rec := &recs[ri]
		for i := range a.snap.Indexes {
			e := &a.snap.Indexes[i]
			old := existingAsIndex(e)
			if old == nil || e.Unique || e.Primary || e.Constraint != "" || old.Qualified() != rec.Table || normPred(old.Where) != normPred(rec.Where) {
				continue
			}
			if len(old.Keys) >= len(rec.Columns) || !keysPrefix(old.Keys, rec.Columns) {
				continue
			}
			ok, err := a.safeToDrop(ctx, stmts, e)
			if err != nil {
				return nil, err
			}
			if ok {
				rec.Replaces = append(rec.Replaces, e.QualifiedName())
				add(e, "replaced by the recommended "+rec.Name+" ("+strings.Join(rec.Columns, ", ")+"), which leads with the same columns")
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out, nil
}

func keysPrefix(short []Key, long []string) bool {
	for i, k := range short {
		if k.label() != long[i] {
			return false
		}
	}
	return true
}

// safeToDrop re-plans the statements on the index's table without it (HypoPG 1.4+
// hides it); with an older HypoPG the judgement rests on whether the current plans use
// it, which the caller has checked.
func (a *Advisor) safeToDrop(ctx context.Context, stmts []*stmt, ix *snapshot.Index) (bool, error) {
	if !a.hypo.canHide {
		return true, nil
	}
	if err := a.hypo.hide(ctx, ix.OID, true); err != nil {
		return false, err
	}
	defer func() { _ = a.hypo.hide(context.Background(), ix.OID, false) }()
	table := ix.Schema + "." + ix.Table
	for _, s := range stmts {
		if s.basePlan == nil || !s.parsed.Uses(table) {
			continue
		}
		pl, err := a.plan(ctx, s)
		if err != nil {
			continue
		}
		// More than a 1 % rise for a statement means the index earns its keep.
		if pl.TotalCost() > s.cur*1.01+0.01 {
			return false, nil
		}
	}
	return true, nil
}
