package indexadvisor

import (
	"fmt"
	"strings"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
)

// B-trees serve neither a pattern that may start with a wildcard (LIKE '%smith%',
// ILIKE) nor JSONB containment: those need GIN (trigrams from pg_trgm, or a jsonb
// operator class). HypoPG cannot simulate GIN, so these are proposed from the plans
// (a statement that reads the whole table to apply such a predicate) and marked as
// not measured; the apply step confirms them on the real plan after the build.

// ginNeed is one column that a GIN index would serve.
type ginNeed struct {
	table    *snapshot.Table
	column   string
	opclass  string // gin_trgm_ops, jsonb_path_ops, or "" for the default
	why      string
	missing  string // the extension the index needs and the database lacks
	cost     float64
	stmts    []string
	jsonbOps map[string]bool // jsonb operators seen (@> alone allows jsonb_path_ops)
}

// unmeasured proposes GIN indexes for the statements that need them.
func (a *Advisor) unmeasured(stmts []*stmt, adv *Advice) []Recommendation {
	needs := map[string]*ginNeed{}
	var order []string
	for _, s := range stmts {
		if s.basePlan == nil || s.generic || s.weight == 0 && s.preset != "" {
			continue
		}
		for _, p := range s.parsed.Predicates {
			t := a.table(p.Table)
			if t == nil || p.Func != "" || p.Cast != "" || a.tooSmall(t) || !seqScanFilters(s.basePlan, t, p.Column) {
				continue
			}
			n := a.ginNeedFor(s, t, p)
			if n == nil {
				continue
			}
			key := t.QualifiedName() + "|" + p.Column + "|" + n.opclass
			have := needs[key]
			if have == nil {
				have = n
				needs[key] = n
				order = append(order, key)
			}
			if n.jsonbOps != nil {
				for op := range n.jsonbOps {
					have.jsonbOps[op] = true
				}
			}
			have.cost += s.weight * s.base
			addUnique(&have.stmts, s.normalized())
		}
	}
	var out []Recommendation
	for _, key := range order {
		n := needs[key]
		if n.missing != "" {
			adv.Notes = append(adv.Notes, fmt.Sprintf("%s.%s: %s; a GIN index needs the %s extension, which this database does not have (CREATE EXTENSION %s)",
				n.table.QualifiedName(), n.column, n.why, n.missing, n.missing))
			continue
		}
		if n.jsonbOps != nil && len(n.jsonbOps) == 1 && n.jsonbOps["@>"] {
			n.opclass = "jsonb_path_ops" // smaller and faster when containment is all it serves
		}
		ix := &Index{Schema: n.table.Schema, Table: n.table.Name, Method: "gin", Keys: []Key{{Column: n.column, OpClass: n.opclass}}, Sources: []string{"workload"}}
		if a.hasGIN(n.table, n.column) {
			continue
		}
		out = append(out, Recommendation{Table: ix.Qualified(), Name: ix.Name(), Columns: ix.Columns(), Include: []string{},
			Method: "gin", SQL: ix.Definition(true), Statements: n.stmts, Sources: ix.Sources,
			CostBefore: round1(n.cost), CostAfter: round1(n.cost),
			Note: n.why + "; HypoPG cannot simulate GIN indexes, so the gain is not measured: build it and pgmedic index apply confirms the plans use it"})
	}
	return out
}

// ginNeedFor says whether a predicate needs a GIN index.
func (a *Advisor) ginNeedFor(s *stmt, t *snapshot.Table, p sqlparse.Predicate) *ginNeed {
	col := columnOf(t, p.Column)
	if col == nil || p.Negated {
		return nil
	}
	switch {
	case (p.Op == "LIKE" || p.Op == "ILIKE" || p.Op == "~" || p.Op == "~*") && textual(col):
		if !a.mayLeadWithWildcard(s, p) {
			return nil
		}
		n := &ginNeed{table: t, column: p.Column, opclass: "gin_trgm_ops",
			why: fmt.Sprintf("%s %s a pattern that can start with a wildcard, which a B-tree cannot serve, so the whole table is read", p.Column, p.Op)}
		if ext, ok := a.snap.Extension("pg_trgm"); !ok || ext.InstalledVersion == "" {
			n.missing = "pg_trgm"
		}
		return n
	case (p.Op == "@>" || p.Op == "?" || p.Op == "?|" || p.Op == "?&") && col.TypeName == "jsonb":
		return &ginNeed{table: t, column: p.Column, jsonbOps: map[string]bool{p.Op: true},
			why: fmt.Sprintf("%s %s tests what a JSONB document holds, which only a GIN index serves, so the whole table is read", p.Column, p.Op)}
	}
	return nil
}

// mayLeadWithWildcard: the pattern is known to start with % or _, or is not known at
// all (a parameter the workload does not show), or the match ignores case.
func (a *Advisor) mayLeadWithWildcard(s *stmt, p sqlparse.Predicate) bool {
	if p.Op != "LIKE" {
		return true // ILIKE and regular expressions: a B-tree serves no form of them
	}
	if p.Value == sqlparse.ValConst {
		return p.LeadingWildcard
	}
	if p.Value != sqlparse.ValParam || s.ws == nil || s.ws.Intake == nil || p.Param > len(s.ws.Intake.Literals) {
		return true
	}
	if lit := s.ws.Intake.Literals[p.Param-1]; lit != nil {
		v := lit.Value()
		return strings.HasPrefix(v, "%") || strings.HasPrefix(v, "_")
	}
	return true
}

// seqScanFilters: the plan reads the table sequentially and filters on the column.
func seqScanFilters(pl *explain.Plan, t *snapshot.Table, column string) bool {
	found := false
	pl.Root.Walk(func(n *explain.Node) {
		if n.Type == "Seq Scan" && n.QualifiedRelation() == t.QualifiedName() && strings.Contains(n.Filter, column) {
			found = true
		}
	})
	return found
}

func (a *Advisor) hasGIN(t *snapshot.Table, column string) bool {
	for _, ix := range a.snap.Indexes {
		if ix.Schema == t.Schema && ix.Table == t.Name && (ix.Method == "gin" || ix.Method == "gist") && len(ix.Columns) > 0 && ix.Columns[0] == column && ix.Valid {
			return true
		}
	}
	return false
}

func columnOf(t *snapshot.Table, name string) *snapshot.Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

func textual(c *snapshot.Column) bool {
	switch c.TypeName {
	case "text", "varchar", "bpchar", "citext", "name":
		return true
	}
	return false
}
