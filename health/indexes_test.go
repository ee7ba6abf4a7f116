package health_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/finding"
)

// TestIndexHygiene builds the index conditions on a real cluster: an unused index, an
// exact duplicate, a prefix-redundant one, a bloated one, and indexes that must not be
// reported (used, backing a constraint, unique with a non-unique superset).
func TestIndexHygiene(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `
		CREATE TABLE claims (id bigint PRIMARY KEY, patient_id bigint NOT NULL, status text NOT NULL, dos date NOT NULL, note text);
		INSERT INTO claims SELECT g, g % 5000, CASE WHEN g % 10 = 0 THEN 'pended' ELSE 'paid' END, date '2020-01-01' + g % 1500, 'n'
			FROM generate_series(1, 200000) g;
		CREATE INDEX claims_patient ON claims (patient_id);
		CREATE INDEX claims_patient_dos ON claims (patient_id, dos);
		CREATE INDEX claims_status ON claims (status);
		CREATE INDEX claims_status_copy ON claims (status);
		CREATE INDEX claims_pended_dos ON claims (dos) WHERE status = 'pended';
		CREATE INDEX claims_status_pattern ON claims (status text_pattern_ops);
		CREATE INDEX claims_status_c ON claims (status COLLATE "C");
		CREATE INDEX claims_dos_desc ON claims (dos DESC, patient_id);
		CREATE UNIQUE INDEX claims_id_patient ON claims (id, patient_id);
		CREATE TABLE churn (id bigint PRIMARY KEY, v text);
		INSERT INTO churn SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
		CREATE INDEX churn_v ON churn (v);
		DELETE FROM churn WHERE id % 10 <> 0;
		ANALYZE claims`)
	db.Exec(t, "VACUUM ANALYZE churn")
	// claims_patient_dos gets scans; everything else stays unused.
	db.Exec(t, "SET enable_seqscan = off; SELECT count(*) FROM claims WHERE patient_id = 7 AND dos > date '2021-01-01'")

	s := collect(t, db.URI)
	for _, ix := range s.Indexes {
		want := map[string]string{"claims_status_pattern": "text_pattern_ops", "claims_status_c": `COLLATE "C"`, "claims_dos_desc": "DESC", "claims_status": ""}
		if w, ok := want[ix.Name]; ok && ix.KeyOption(0) != w {
			t.Errorf("%s: key options %q, want %q first", ix.Name, ix.KeyOptions, w)
		}
	}
	fs := run(t, s, profile(t, "indexes.unused.min_bytes=0", "bloat.index.min_bytes=0"))

	unused := map[string]bool{}
	redundant := map[string]*finding.Finding{}
	for i, f := range fs {
		if f.Status != finding.Open {
			continue
		}
		name := strings.Fields(f.Title)[1]
		switch f.Check {
		case "indexes.unused":
			unused[name] = true
			if f.Fix == nil || !strings.HasPrefix(f.Fix.Steps[0].SQL, "DROP INDEX CONCURRENTLY IF EXISTS") {
				t.Errorf("unused %s: fix %+v", name, f.Fix)
			}
			if _, ok := f.EvidenceValue("stats_age_days"); !ok {
				t.Errorf("unused %s carries no statistics age", name)
			}
		case "indexes.redundant":
			redundant[name] = &fs[i]
		}
	}
	for _, want := range []string{"claims_patient", "claims_status", "claims_pended_dos"} {
		if !unused[want] {
			t.Errorf("%s not reported unused; unused = %v", want, unused)
		}
	}
	for _, not := range []string{"claims_pkey", "claims_id_patient", "claims_patient_dos"} {
		if unused[not] {
			t.Errorf("%s reported unused (it backs a constraint, is unique or was scanned)", not)
		}
	}

	// Of the duplicate pair exactly one is reported; the prefix is reported; the partial
	// index and the unique one are not redundant.
	if (redundant["claims_status"] == nil) == (redundant["claims_status_copy"] == nil) {
		t.Errorf("want exactly one of the duplicate pair reported, got %v", keys(redundant))
	}
	if f := redundant["claims_status_copy"]; f != nil && !strings.Contains(f.Title, "duplicate") {
		t.Errorf("duplicate titled %q", f.Title)
	}
	if f := redundant["claims_patient"]; f == nil || !strings.Contains(f.Title, "prefix of claims_patient_dos") {
		t.Errorf("claims_patient should be a prefix of claims_patient_dos, got %v", keys(redundant))
	}
	// Same column, another operator class, collation or order: another index.
	for _, not := range []string{"claims_pended_dos", "claims_id_patient", "claims_patient_dos", "claims_pkey", "claims_status_pattern", "claims_status_c", "claims_dos_desc"} {
		if redundant[not] != nil {
			t.Errorf("%s wrongly reported redundant: %s", not, redundant[not].Title)
		}
	}

	// The fixes run, and the findings go away.
	ctx := context.Background()
	conn := db.Conn(t)
	for _, f := range redundant {
		for _, st := range f.Fix.Steps {
			if _, err := conn.Exec(ctx, st.SQL); err != nil {
				t.Fatalf("%s: %v", st.SQL, err)
			}
		}
	}
	var b *finding.Finding
	for i := range fs {
		if fs[i].Check == "bloat.index" && strings.Contains(fs[i].Title, "churn_v ") {
			b = &fs[i]
		}
	}
	if b == nil {
		t.Fatalf("no bloat.index finding on churn_v; findings: %v", titles(fs))
	}
	if !strings.Contains(b.Fix.Steps[0].SQL, "REINDEX INDEX CONCURRENTLY") {
		t.Errorf("bloat fix %q", b.Fix.Steps[0].SQL)
	}
	if _, err := conn.Exec(ctx, b.Fix.Steps[0].SQL); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "ANALYZE churn")
	after := run(t, collect(t, db.URI), profile(t, "indexes.unused.min_bytes=0", "bloat.index.min_bytes=0"))
	if f := find(after, "indexes.redundant", ""); f != nil {
		t.Errorf("still redundant after the drops: %s", f.Title)
	}
	for _, f := range after {
		if f.Check == "bloat.index" && strings.Contains(f.Title, "churn_v ") {
			t.Errorf("still bloated after REINDEX: %s", f.Title)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
