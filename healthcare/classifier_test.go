package healthcare

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/config"
)

func mustNew(t *testing.T, cfg config.Healthcare) *Classifier {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

var (
	productsTable = TableInput{Name: "products", Columns: cols("id bigint, sku text, name text, price numeric(10,2)")}
	patientsTable = TableInput{Name: "patients", Columns: cols(
		"id bigint, mrn text, first_name text, email text, date_of_birth date")}
	auditTable = TableInput{Name: "audit_logs", Columns: cols(
		"id bigint, user_id bigint, record_id text, client_ip inet")}
)

func TestOverridePHITables(t *testing.T) {
	var plain Classifier
	if got := plain.Table(productsTable); got.PHI {
		t.Fatalf("products is PHI without configuration: %q", got.Reasons)
	}
	c := mustNew(t, config.Healthcare{PHITables: []string{"products"}})
	got := c.Table(productsTable)
	if !got.PHI || got.Priority != 1 || got.Role != Other {
		t.Errorf("products with phiTables: %+v", got)
	}
	if !slices.Contains(got.Reasons, "PHI: listed in healthcare.phiTables") {
		t.Errorf("reasons do not cite the configuration: %q", got.Reasons)
	}
	// "table" matches in any schema; "schema.table" only in that schema.
	if !c.Table(TableInput{Schema: "shop", Name: "products"}).PHI {
		t.Error(`"products" did not match shop.products`)
	}
	c = mustNew(t, config.Healthcare{PHITables: []string{"shop.products"}})
	if !c.Table(TableInput{Schema: "shop", Name: "products"}).PHI {
		t.Error(`"shop.products" did not match shop.products`)
	}
	if c.Table(productsTable).PHI {
		t.Error(`"shop.products" matched public.products`)
	}
	if c.Table(TableInput{Name: "shop.products"}).PHI != true {
		t.Error(`"shop.products" did not match a schema-qualified Name`)
	}
}

func TestOverrideNotPHIColumn(t *testing.T) {
	var plain Classifier
	if top(plain.Column("patients", "email", "text")).Identifier != Email {
		t.Fatal("patients.email is not an email without configuration")
	}
	c := mustNew(t, config.Healthcare{NotPHI: []string{"patients.email"}})
	for _, table := range []string{"patients", "public.patients", "PATIENTS"} {
		if ms := c.Column(table, "email", "text"); ms != nil {
			t.Errorf("Column(%q, email) = %+v, want nil", table, ms)
		}
	}
	if top(c.Column("users", "email", "text")).Identifier != Email {
		t.Error("patients.email exclusion leaked to users.email")
	}
	if top(c.Column("patients", "mrn", "text")).Identifier != MRN {
		t.Error("patients.email exclusion removed patients.mrn")
	}
	got := c.Table(patientsTable)
	if _, ok := got.Identifiers["email"]; ok {
		t.Errorf("Identifiers still has email: %+v", got.Identifiers)
	}
	if !got.PHI || got.Role != Patient || got.Priority != 2 {
		t.Errorf("patients no longer a PHI patient table: %+v", got)
	}
	if !slices.Contains(got.Reasons, "column email: excluded by healthcare.notPHI") {
		t.Errorf("reasons do not cite the exclusion: %q", got.Reasons)
	}
}

func TestOverrideNotPHITable(t *testing.T) {
	var plain Classifier
	if !plain.Table(auditTable).PHI {
		t.Fatal("audit_logs is not PHI without configuration")
	}
	c := mustNew(t, config.Healthcare{NotPHI: []string{"audit_logs"}})
	got := c.Table(auditTable)
	if got.PHI || got.Priority != 0 || len(got.Identifiers) != 0 {
		t.Errorf("audit_logs listed in notPHI: %+v", got)
	}
	if got.Role != Audit {
		t.Errorf("notPHI changed the role to %s", got.Role)
	}
	if ms := c.Column("audit_logs", "client_ip", "inet"); ms != nil {
		t.Errorf("column of an excluded table classified: %+v", ms)
	}
	// Two parts in notPHI also name a schema and table.
	c = mustNew(t, config.Healthcare{NotPHI: []string{"archive.audit_logs"}})
	if c.Table(TableInput{Schema: "archive", Name: auditTable.Name, Columns: auditTable.Columns}).PHI {
		t.Error(`"archive.audit_logs" did not exclude archive.audit_logs`)
	}
	if !c.Table(auditTable).PHI {
		t.Error(`"archive.audit_logs" excluded public.audit_logs`)
	}
}

func TestOverridePHIColumns(t *testing.T) {
	c := mustNew(t, config.Healthcare{PHIColumns: []string{"products.sku", "public.patients.mrn"}})
	ms := c.Column("products", "sku", "text")
	if len(ms) != 1 || ms[0].Identifier != OtherUniqueID || ms[0].Confidence != 1 {
		t.Errorf("products.sku = %+v, want other_unique_id at 1", ms)
	}
	ms = c.Column("patients", "mrn", "text") // detected identifier kept, confidence raised
	if top(ms).Identifier != MRN || top(ms).Confidence != 1 || !strings.Contains(top(ms).Reason, "phiColumns") {
		t.Errorf("patients.mrn = %+v, want medical_record_number at 1", ms)
	}
	if got := top(c.Column("other.patients", "mrn", "text")); got.Confidence == 1 {
		t.Errorf("public.patients.mrn applied to other.patients: %+v", got)
	}
	got := c.Table(productsTable)
	if !got.PHI || got.Priority != 1 {
		t.Errorf("a table with a phiColumns column is not PHI: %+v", got)
	}
	// Column beats table, and PHI beats notPHI for the same column.
	c = mustNew(t, config.Healthcare{NotPHI: []string{"products", "products.sku"}, PHIColumns: []string{"products.sku"}})
	if top(c.Column("products", "sku", "text")).Confidence != 1 {
		t.Error("phiColumns lost to notPHI")
	}
	if c.Column("products", "name", "text") != nil {
		t.Error("notPHI table did not exclude its other columns")
	}
	if !c.Table(productsTable).PHI {
		t.Error("table with a forced PHI column is not PHI")
	}
}

func TestOverridePatientTables(t *testing.T) {
	contacts := TableInput{Schema: "crm", Name: "contacts", Columns: cols("id bigint, full_name text, phone text")}
	var plain Classifier
	if got := plain.Table(contacts); got.Role == Patient || got.PHI {
		t.Fatalf("crm.contacts without configuration: %+v", got)
	}
	c := mustNew(t, config.Healthcare{PatientTables: []string{"crm.contacts"}})
	got := c.Table(contacts)
	if got.Role != Patient || !got.PHI || !got.PatientLinked || got.Priority != 2 {
		t.Errorf("crm.contacts in patientTables: %+v", got)
	}
	contacts.Schema = "public"
	if got := c.Table(contacts); got.Role == Patient {
		t.Errorf("crm.contacts entry matched public.contacts: %+v", got)
	}
	// A table whose foreign key points at a configured patient table is patient-linked.
	notes := TableInput{Schema: "crm", Name: "call_notes", Columns: cols("id bigint, contact_id bigint, called_at timestamptz"),
		References: []string{"contacts"}}
	if got := c.Table(notes); !got.PatientLinked || !got.PHI {
		t.Errorf("crm.call_notes referencing a patient table: %+v", got)
	}
	// Name detection still applies alongside the list.
	if got := c.Table(patientsTable); got.Role != Patient {
		t.Errorf("patients lost its role when patientTables is set: %+v", got)
	}
}

func TestOverrideCaseAndQuoting(t *testing.T) {
	c := mustNew(t, config.Healthcare{NotPHI: []string{"PATIENTS.Email"}})
	if c.Column("patients", "email", "text") != nil {
		t.Error("unquoted entry did not match case-insensitively")
	}
	c = mustNew(t, config.Healthcare{NotPHI: []string{`"Patients".email`}})
	if c.Column("patients", "email", "text") == nil {
		t.Error(`quoted "Patients" matched patients`)
	}
	if c.Column("Patients", "email", "text") != nil {
		t.Error(`quoted "Patients" did not match Patients`)
	}
	c = mustNew(t, config.Healthcare{PHITables: []string{`"odd.name"`}})
	if !c.Table(TableInput{Schema: "public", Name: "odd.name"}).PHI {
		t.Error(`quoted "odd.name" did not match a table whose name has a dot`)
	}
}

func TestOverridePHIWinsTie(t *testing.T) {
	c := mustNew(t, config.Healthcare{PHITables: []string{"products"}, NotPHI: []string{"products"}})
	if !c.Table(productsTable).PHI {
		t.Error("notPHI beat phiTables for the same table")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		label string
		cfg   config.Healthcare
		want  []string // substrings of the error
	}{
		{"four parts", config.Healthcare{NotPHI: []string{"a.b.c.d"}}, []string{"notPHI", `"a.b.c.d"`}},
		{"three-part table", config.Healthcare{PHITables: []string{"x.y.z"}}, []string{"phiTables", `"x.y.z"`}},
		{"three-part patient table", config.Healthcare{PatientTables: []string{"a.b.c"}}, []string{"patientTables", `"a.b.c"`}},
		{"column without table", config.Healthcare{PHIColumns: []string{"ssn"}}, []string{"phiColumns", `"ssn"`}},
		{"empty", config.Healthcare{PHITables: []string{" "}}, []string{"phiTables", "empty"}},
		{"empty part", config.Healthcare{NotPHI: []string{"a..b"}}, []string{`"a..b"`, "empty part"}},
		{"trailing dot", config.Healthcare{NotPHI: []string{"patients."}}, []string{`"patients."`}},
		{"unterminated quote", config.Healthcare{NotPHI: []string{`"patients`}}, []string{"unterminated"}},
		{"space", config.Healthcare{PHITables: []string{"my table"}}, []string{`"my table"`}},
		{"every bad entry reported", config.Healthcare{
			PHITables: []string{"ok", "a.b.c"}, NotPHI: []string{"w.x.y.z"}, PHIColumns: []string{"t.c", "lonely"}},
			[]string{`"a.b.c"`, `"w.x.y.z"`, `"lonely"`}},
	}
	for _, tt := range tests {
		c, err := New(tt.cfg)
		if err == nil {
			t.Errorf("%s: New succeeded", tt.label)
			continue
		}
		if c != nil {
			t.Errorf("%s: New returned a Classifier with its error", tt.label)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.label, err, w)
			}
		}
	}
	if _, err := New(config.Healthcare{
		PHITables: []string{"claims", "billing.claims", `"Mixed"`}, PHIColumns: []string{"t.c", "s.t.c"},
		NotPHI: []string{"t", "s.t", "s.t.c"}, PatientTables: []string{"members"},
	}); err != nil {
		t.Errorf("valid entries rejected: %v", err)
	}
}

func TestNilAndZeroClassifier(t *testing.T) {
	var nilC *Classifier
	if top(nilC.Column("patients", "ssn", "text")).Identifier != SSN {
		t.Error("nil Classifier did not classify a column")
	}
	if got := nilC.Table(patientsTable); got.Role != Patient || !got.PHI {
		t.Errorf("nil Classifier: %+v", got)
	}
	empty := mustNew(t, config.Healthcare{})
	if top(empty.Column("patients", "ssn", "text")).Identifier != SSN {
		t.Error("empty configuration did not classify a column")
	}
}
