package sqlparse

import (
	"errors"
	"strings"
	"testing"
)

// catalog: public.patients(id, mrn, last_name, date_of_birth), public.claims(id,
// patient_id, provider_id, status, date_of_service), billing.invoices(id, claim_id).
type catalog map[string][]string

func (c catalog) FindTable(schema, name string) (string, bool) {
	if schema != "" {
		_, ok := c[schema+"."+name]
		return schema, ok
	}
	for _, s := range []string{"public", "billing"} {
		if _, ok := c[s+"."+name]; ok {
			return s, true
		}
	}
	return "", false
}

func (c catalog) HasColumn(schema, table, column string) bool {
	for _, col := range c[schema+"."+table] {
		if col == column {
			return true
		}
	}
	return false
}

var cat = catalog{
	"public.patients":  {"id", "mrn", "last_name", "date_of_birth", "email"},
	"public.claims":    {"id", "patient_id", "provider_id", "status", "date_of_service", "billed_amount"},
	"billing.invoices": {"id", "claim_id", "amount"},
}

func parse(t *testing.T, sql string) *Statement {
	t.Helper()
	st, err := NewParser(cat, 0).Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return st
}

func pred(st *Statement, table, column string) *Predicate {
	for i := range st.Predicates {
		if st.Predicates[i].Table == table && st.Predicates[i].Column == column {
			return &st.Predicates[i]
		}
	}
	return nil
}

func TestSimpleLookup(t *testing.T) {
	st := parse(t, "SELECT id, mrn FROM patients WHERE mrn = $1")
	if st.Kind != Select || st.Writes || st.ParamCount != 1 || len(st.Tables) != 1 || st.Tables[0].Qualified() != "public.patients" {
		t.Fatalf("%+v", st)
	}
	p := pred(st, "public.patients", "mrn")
	if p == nil || p.Op != "=" || p.Value != ValParam || p.Param != 1 || p.Func != "" {
		t.Fatalf("predicate: %+v", p)
	}
	if len(st.SelectCols) != 2 || st.SelectStar || st.Limit != nil {
		t.Errorf("select list: %+v", st)
	}
}

func TestAliasesJoinsOrderAndPaging(t *testing.T) {
	st := parse(t, `SELECT c.id, p.last_name FROM claims c JOIN patients p ON p.id = c.patient_id
		WHERE c.provider_id = $1 AND c.date_of_service BETWEEN $2 AND $3 AND $4 < c.billed_amount
		ORDER BY c.date_of_service DESC NULLS LAST, 2 LIMIT 20 OFFSET $5`)
	if len(st.Joins) != 1 || st.Joins[0].LeftTable != "public.patients" || st.Joins[0].RightColumn != "patient_id" {
		t.Fatalf("joins: %+v", st.Joins)
	}
	if p := pred(st, "public.claims", "date_of_service"); p == nil || p.Op != "BETWEEN" || p.Param != 2 {
		t.Errorf("between: %+v", p)
	}
	if p := pred(st, "public.claims", "billed_amount"); p == nil || p.Op != ">" {
		t.Errorf("$4 < col should read col > $4: %+v", p)
	}
	if len(st.OrderBy) != 2 || !st.OrderBy[0].Desc || st.OrderBy[0].Column != "date_of_service" || st.OrderBy[0].NullsFirst == nil || *st.OrderBy[0].NullsFirst {
		t.Fatalf("order by: %+v", st.OrderBy)
	}
	if st.OrderBy[1].Table != "public.patients" || st.OrderBy[1].Column != "last_name" {
		t.Errorf("ORDER BY 2 should resolve to the second select item: %+v", st.OrderBy[1])
	}
	if st.Limit == nil || st.Limit.Value != 20 || st.Offset == nil || st.Offset.Param != 5 {
		t.Errorf("limit %+v offset %+v", st.Limit, st.Offset)
	}
}

func TestIndexHostilePredicates(t *testing.T) {
	st := parse(t, `SELECT * FROM patients WHERE lower(last_name) = lower($1) AND id::text = $2
		AND email LIKE '%@example.org' AND (mrn = $3 OR last_name = $4)`)
	if p := pred(st, "public.patients", "last_name"); p == nil || p.Func != "lower" {
		t.Errorf("function-wrapped column: %+v", p)
	}
	if p := pred(st, "public.patients", "id"); p == nil || p.Cast != "text" {
		t.Errorf("cast column: %+v", p)
	}
	if p := pred(st, "public.patients", "email"); p == nil || !p.LeadingWildcard || p.Op != "LIKE" {
		t.Errorf("leading wildcard: %+v", p)
	}
	if !st.OrAcross {
		t.Error("OR across mrn and last_name not seen")
	}
	if p := pred(st, "public.patients", "mrn"); p == nil || !p.InOr || p.OrGroup != 1 || p.OrBranch != 1 {
		t.Errorf("predicate in OR: %+v", p)
	}
	second := false
	for _, p := range st.Predicates {
		second = second || p.Column == "last_name" && p.Func == "" && p.InOr && p.OrGroup == 1 && p.OrBranch == 2
	}
	if !second {
		t.Errorf("second branch of the OR not numbered: %+v", st.Predicates)
	}
	if !st.SelectStar || len(st.StarTables) != 1 || st.StarTables[0] != "public.patients" {
		t.Errorf("star: %+v", st.StarTables)
	}
	if st.Literals != 1 {
		t.Errorf("literals = %d, want 1 (the LIKE pattern)", st.Literals)
	}
}

func TestConstantsKeptForPartialIndexes(t *testing.T) {
	st := parse(t, "SELECT id FROM claims WHERE status = 'pended' AND NOT (provider_id IS NULL) ORDER BY date_of_service LIMIT 50")
	p := pred(st, "public.claims", "status")
	if p == nil || p.Value != ValConst || p.ConstKind != "string" || p.ConstValue() != "pended" {
		t.Fatalf("status constant: %+v", p)
	}
	if strings.Contains(st.String(), "pended") {
		t.Error("the statement's String() shows a literal")
	}
}

func TestWritesCTEsSubqueriesAndSchemas(t *testing.T) {
	st := parse(t, `WITH recent AS MATERIALIZED (SELECT id, patient_id FROM claims WHERE date_of_service >= now() - interval '30 days')
		SELECT r.id FROM recent r WHERE r.patient_id IN (SELECT id FROM patients WHERE date_of_birth < $1)
		AND EXISTS (SELECT 1 FROM billing.invoices i WHERE i.claim_id = r.id)`)
	names := map[string]bool{}
	for _, tb := range st.Tables {
		names[tb.Qualified()] = true
	}
	if !names["public.claims"] || !names["public.patients"] || !names["billing.invoices"] || names["recent"] {
		t.Fatalf("tables (the CTE is not a table): %v", st.Tables)
	}
	if p := pred(st, "public.claims", "date_of_service"); p == nil || p.Value != ValExpr {
		t.Errorf("range on now() in the CTE: %+v", p)
	}
	if p := pred(st, "public.patients", "date_of_birth"); p == nil || p.Param != 1 {
		t.Errorf("predicate in IN (SELECT): %+v", p)
	}
	if p := pred(st, "billing.invoices", "claim_id"); p == nil {
		t.Error("correlated predicate in EXISTS not found")
	}
	if st.Subqueries < 2 || len(st.CTEs) != 1 {
		t.Errorf("subqueries %d ctes %v", st.Subqueries, st.CTEs)
	}

	up := parse(t, `UPDATE claims SET status = 'adjudicated', billed_amount = $2 WHERE id = $1 AND status = 'pended'`)
	if up.Kind != Update || !up.Writes || up.Target == nil || up.Target.Qualified() != "public.claims" || len(up.UpdatedColumns) != 2 {
		t.Fatalf("update: %+v", up)
	}
	if pred(up, "public.claims", "id") == nil {
		t.Error("update predicate")
	}
	del := parse(t, `DELETE FROM billing.invoices USING claims c WHERE invoices.claim_id = c.id AND c.status = $1`)
	if del.Kind != Delete || len(del.Joins) != 1 {
		t.Errorf("delete: %+v", del)
	}
	ins := parse(t, `INSERT INTO patients (mrn, last_name) VALUES ('MRN1', 'Smith')`)
	if ins.Kind != Insert || ins.Literals != 2 {
		t.Errorf("insert literals: %+v", ins)
	}
}

func TestQuotedIdentifiers(t *testing.T) {
	st, err := NewParser(nil, 0).Parse(`SELECT "Id" FROM "Clinic Data"."Patient Visits" v WHERE v."Visit Date" >= $1 ORDER BY "Visit Date"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tables) != 1 || st.Tables[0].Schema != "Clinic Data" || st.Tables[0].Name != "Patient Visits" {
		t.Fatalf("tables: %+v", st.Tables)
	}
	if p := pred(st, "Clinic Data.Patient Visits", "Visit Date"); p == nil || p.Op != ">=" {
		t.Errorf("predicate: %+v", st.Predicates)
	}
}

func TestAggregatesAndGroupBy(t *testing.T) {
	st := parse(t, `SELECT p.last_name, count(*), sum(c.billed_amount) FROM claims c JOIN patients p ON p.id = c.patient_id GROUP BY p.last_name`)
	if !st.Aggregates || len(st.GroupBy) != 1 || st.GroupBy[0] != "public.patients.last_name" {
		t.Errorf("aggregates %v group by %v", st.Aggregates, st.GroupBy)
	}
}

func TestUtilityErrorsAndHelpers(t *testing.T) {
	st := parse(t, "SET statement_timeout = '5s'")
	if st.Kind != Utility || st.Command != "SET" {
		t.Errorf("utility: %+v", st)
	}
	if _, err := NewParser(nil, 0).Parse("SELEC nothing"); err == nil {
		t.Error("a syntax error parsed")
	} else {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("want ParseError, got %T", err)
		}
	}
	if _, err := NewParser(nil, 0).Parse("SELECT 1; SELECT 2"); !errors.Is(err, ErrMultiple) {
		t.Errorf("two statements: %v", err)
	}
	parts, err := Split("SELECT 1; -- c;\nSELECT 'a;b';")
	if err != nil || len(parts) != 2 {
		t.Errorf("Split: %v %v", parts, err)
	}
	n, err := Normalize("SELECT * FROM patients WHERE mrn = 'MRN00012'")
	if err != nil || strings.Contains(n, "MRN00012") || !strings.Contains(n, "$1") {
		t.Errorf("Normalize: %q %v", n, err)
	}
	a, _ := Fingerprint("SELECT * FROM t WHERE a = 1")
	b, _ := Fingerprint("select *  from t where a = 99")
	if a != b || a == "" {
		t.Errorf("fingerprints differ: %s %s", a, b)
	}
}

func TestCacheReturnsSameStatement(t *testing.T) {
	p := NewParser(cat, 2)
	a, _ := p.Parse("SELECT 1")
	b, _ := p.Parse("SELECT 1")
	if a != b {
		t.Error("the second parse did not come from the cache")
	}
	p.Parse("SELECT 2")
	p.Parse("SELECT 3") // over the limit: the cache starts afresh
	if c, _ := p.Parse("SELECT 1"); c == a {
		t.Error("the cache grew past its limit")
	}
}

// A syntax error's quoted token can be a value from a file or a log: it is dropped.
func TestParseErrorQuotesNoValue(t *testing.T) {
	_, err := NewParser(nil, 0).Parse("SELECT * FROM patients WHERE mrn = 'MRN-93817' 'x'")
	var pe *ParseError
	if !errors.As(err, &pe) || strings.Contains(err.Error(), "'x'") || !strings.Contains(err.Error(), "syntax error at or near a token") {
		t.Fatalf("parse error %v", err)
	}
}
