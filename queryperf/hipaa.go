package queryperf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
)

func hipaaRules() []Rule {
	return []Rule{
		{
			ID: "hipaa.broad_phi_read", Area: "hipaa", Severity: finding.High,
			Title:       "Broad read of patient data",
			Description: "A statement reads a PHI table with no predicate restricting which patients' rows it returns and no LIMIT: every patient's record in one call.",
			References:  []finding.Reference{finding.HIPAARef(finding.AccessControl), finding.HIPAARef(finding.MinimumNecessary)},
			Run:         ruleBroadRead,
		},
		{
			ID: "hipaa.phi_in_reporting", Area: "hipaa", Severity: finding.Medium,
			Title:       "Identifiers returned by a reporting statement",
			Description: "An aggregate or grouped statement (a report) returns direct identifiers (names, birth dates, SSNs, MRNs) or SELECT * from a PHI table; reports rarely need them.",
			References:  []finding.Reference{finding.HIPAARef(finding.MinimumNecessary)},
			Run:         rulePHIInReporting,
		},
		{
			ID: "hipaa.literals_in_sql", Area: "hipaa", Severity: finding.Medium, RawOnly: true,
			Title:       "Values written into the SQL text",
			Description: "Values compared with columns appear as literals in the statement text instead of parameters: they end up in server logs, pg_stat_activity and monitoring tools, and each value gets its own plan. On identifier columns those values are PHI.",
			Thresholds:  []health.Threshold{{Name: "max_distinct", Default: 50, Help: "columns with more distinct values than this need parameters"}},
			References:  []finding.Reference{finding.HIPAARef(finding.AuditControls), finding.DocsRef("sql-prepare.html", "PREPARE")},
			Run:         ruleLiterals,
		},
		{
			ID: "hipaa.phi_join_unrestricted", Area: "hipaa", Severity: finding.Medium,
			Title:       "PHI tables joined without a patient or provider predicate",
			Description: "Two or more PHI tables are joined with nothing restricting the patient or provider: the statement assembles records across the whole population.",
			References:  []finding.Reference{finding.HIPAARef(finding.AccessControl), finding.HIPAARef(finding.MinimumNecessary)},
			Run:         rulePHIJoin,
		},
	}
}

// restricted reports whether the statement narrows the rows of a table: a predicate on
// it compared with a parameter, a constant or an expression (not just a join).
func restricted(st *sqlparse.Statement, table string) bool {
	for _, p := range st.Predicates {
		if p.Table != table {
			continue
		}
		if p.Value != sqlparse.ValColumn && p.Value != sqlparse.ValNone && !p.Negated {
			return true
		}
	}
	return false
}

func (c *ruleCtx) patientTables() []string {
	var out []string
	for _, t := range c.sr.Tables {
		if ti := c.a.tables[t]; ti != nil && ti.class.PHI {
			out = append(out, t)
		}
	}
	return out
}

func ruleBroadRead(c *ruleCtx) []finding.Finding {
	st := c.st
	if st.Kind != sqlparse.Select || st.Limit != nil && !st.Limit.All {
		return nil
	}
	var out []finding.Finding
	for _, table := range c.patientTables() {
		ti := c.a.tables[table]
		if len(ti.phiCols) == 0 && ti.class.Role != healthcare.Patient {
			continue // linked to patients, but without identifiers of its own
		}
		if restricted(st, table) || st.Aggregates && !st.SelectStar && !returnsIdentifiers(c, table) {
			continue
		}
		// Reached only through a join with a restricted table: the join narrows it.
		narrowedByJoin := false
		for _, j := range st.Joins {
			other := ""
			switch table {
			case j.LeftTable:
				other = j.RightTable
			case j.RightTable:
				other = j.LeftTable
			}
			if other != "" && restricted(st, other) {
				narrowedByJoin = true
			}
		}
		if narrowedByJoin {
			continue
		}
		f := c.New(fmt.Sprintf("Reads every row of %s with no restricting predicate and no LIMIT", table))
		f.ID = finding.MakeID(f.Check, f.Object+"/"+table)
		f.PHI = true
		f.Evidence = []finding.Evidence{ev("table_rows", c.a.rows(table), ""), ev("calls", float64(c.sr.Calls), "")}
		f.Recommendation = "Restrict the statement to the patients the caller is entitled to (by patient, provider or encounter), and page it; bulk extracts belong in an audited export job under a dedicated role. Row-level security enforces the restriction in the database."
		out = append(out, *f)
	}
	return out
}

// returnsIdentifiers reports whether the select list carries a direct identifier of table.
func returnsIdentifiers(c *ruleCtx, table string) bool {
	ti := c.a.tables[table]
	if ti == nil {
		return false
	}
	for _, col := range c.st.SelectCols {
		t, name := splitColumn(col)
		if t == table && ti.phiCols[name] != 0 {
			return true
		}
	}
	return false
}

func splitColumn(qualified string) (string, string) {
	i := strings.LastIndexByte(qualified, '.')
	if i < 0 {
		return "", qualified
	}
	return qualified[:i], qualified[i+1:]
}

func rulePHIInReporting(c *ruleCtx) []finding.Finding {
	st := c.st
	if st.Kind != sqlparse.Select || !st.Aggregates && len(st.GroupBy) == 0 {
		return nil
	}
	var ids []string
	for _, col := range st.SelectCols {
		t, name := splitColumn(col)
		if ti := c.a.tables[t]; ti != nil {
			if id := ti.phiCols[name]; id != 0 {
				ids = append(ids, fmt.Sprintf("%s (%s)", col, id))
			}
		}
	}
	for _, t := range st.StarTables {
		if ti := c.a.tables[t]; ti != nil && ti.class.PHI {
			ids = append(ids, t+".*")
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	f := c.New("Report returns patient identifiers: " + strings.Join(ids, ", "))
	f.PHI = true
	f.Evidence = []finding.Evidence{ev("identifier_columns", float64(len(ids)), "")}
	f.Recommendation = "Aggregate without the identifiers, or replace them with a surrogate key the report's readers cannot link to a person; if identified data is needed, run it under a dedicated, audited role."
	return []finding.Finding{*f}
}

func ruleLiterals(c *ruleCtx) []finding.Finding {
	type hit struct {
		column string
		phi    bool
	}
	var hits []hit
	for _, p := range c.st.Predicates {
		if p.Value != sqlparse.ValConst || p.ConstKind == "null" || p.ConstKind == "boolean" || p.Table == "" {
			continue
		}
		if c.a.lowCardinality(p.Table, p.Column) && !c.a.isIdentifier(p.Table, p.Column) {
			continue // status = 'pended' is part of the query, not a value
		}
		hits = append(hits, hit{p.Table + "." + p.Column, c.a.isIdentifier(p.Table, p.Column)})
	}
	if len(hits) == 0 && c.st.Kind == sqlparse.Insert && c.st.Literals > 0 && c.st.Target != nil {
		if ti := c.a.tables[c.st.Target.Qualified()]; ti != nil && ti.class.PHI {
			hits = append(hits, hit{c.st.Target.Qualified() + " (inserted values)", true})
		}
	}
	if len(hits) == 0 {
		return nil
	}
	var cols []string
	phi := false
	for _, h := range hits {
		cols = append(cols, h.column)
		phi = phi || h.phi
	}
	f := c.New("Literal values in SQL text for " + strings.Join(cols, ", "))
	if phi {
		f.Severity = finding.High
		f.PHI = true
		f.Detail += " The values are compared with identifier columns, so the SQL text itself carries PHI (the values are not shown here)."
	}
	f.Evidence = []finding.Evidence{ev("literal_comparisons", float64(len(hits)), ""), ev("texts_seen", float64(len(c.sr.raw)), "")}
	f.Recommendation = "Send values as bind parameters ($1, $2 ... with the extended protocol, or the driver's placeholders), never by building the SQL string; set log_min_duration_statement with log_parameter_max_length = 0 so parameters stay out of the log."
	return []finding.Finding{*f}
}

func (a *Analyzer) isIdentifier(table, column string) bool {
	ti := a.tables[table]
	return ti != nil && ti.phiCols[column] != 0
}

// identifies: the column holds values that name a person on their own.
func (a *Analyzer) identifies(table, column string) bool {
	ti := a.tables[table]
	return ti != nil && ti.phiCols[column].Identifies()
}

func rulePHIJoin(c *ruleCtx) []finding.Finding {
	st := c.st
	if st.Kind != sqlparse.Select || len(st.Joins) == 0 {
		return nil
	}
	phi := c.patientTables()
	if len(phi) < 2 {
		return nil
	}
	for _, t := range phi {
		if restricted(st, t) {
			return nil
		}
	}
	// Restricting any joined table by a key narrows the whole join.
	for _, t := range st.Tables {
		if restricted(st, t.Qualified()) {
			return nil
		}
	}
	sort.Strings(phi)
	f := c.New("Joins PHI tables " + strings.Join(phi, ", ") + " with no patient or provider restriction")
	f.PHI = true
	if st.Limit != nil && !st.Limit.All {
		f.Severity = finding.Low
	}
	f.Evidence = []finding.Evidence{ev("phi_tables", float64(len(phi)), "")}
	f.Recommendation = "Restrict the join to the patients or providers in scope; population-wide analyses belong in a de-identified extract (Safe Harbor or expert determination), not on the live PHI tables."
	return []finding.Finding{*f}
}

func scrubLiterals(s string) string { return snapshot.ScrubLiterals(s) }
