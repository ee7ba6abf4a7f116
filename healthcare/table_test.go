package healthcare

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// loadReferenceSchema reads pgmedic's own reference schema, so the expectations below
// follow the real DDL rather than a copy of it.
func loadReferenceSchema(t *testing.T) map[string]TableInput {
	t.Helper()
	tablesSQL, err := os.ReadFile("../internal/synth/schema/tables.sql")
	if err != nil {
		t.Fatalf("reference schema: %v", err)
	}
	keysSQL, err := os.ReadFile("../internal/synth/schema/keys.sql")
	if err != nil {
		t.Fatalf("reference keys: %v", err)
	}
	tables := map[string]TableInput{}
	create := regexp.MustCompile(`^CREATE TABLE (\w+) \($`)
	var cur *TableInput
	for _, line := range strings.Split(string(tablesSQL), "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if m := create.FindStringSubmatch(line); m != nil {
			cur = &TableInput{Name: m[1]}
			continue
		}
		if cur == nil || line == "" {
			continue
		}
		if strings.HasPrefix(line, ")") {
			tables[cur.Name] = *cur
			cur = nil
			continue
		}
		f := strings.Fields(strings.TrimSuffix(line, ","))
		if len(f) < 2 || strings.EqualFold(f[0], "CHECK") || strings.EqualFold(f[0], "CONSTRAINT") {
			continue
		}
		cur.Columns = append(cur.Columns, ColumnInput{Name: f[0], Type: f[1]})
	}
	fk := regexp.MustCompile(`ALTER TABLE (\w+)\s+ADD CONSTRAINT \w+\s+FOREIGN KEY \(\w+\)\s+REFERENCES (\w+)`)
	for _, m := range fk.FindAllStringSubmatch(string(keysSQL), -1) {
		in := tables[m[1]]
		if !slices.Contains(in.References, m[2]) {
			in.References = append(in.References, m[2])
		}
		tables[m[1]] = in
	}
	return tables
}

type wantClass struct {
	role          Role
	phi           bool
	patientLinked bool
	priority      int
}

func checkClass(t *testing.T, label string, got TableClass, want wantClass) {
	t.Helper()
	if got.Role != want.role || got.PHI != want.phi || got.PatientLinked != want.patientLinked || got.Priority != want.priority {
		t.Errorf("%s: role=%s phi=%v linked=%v priority=%d; want role=%s phi=%v linked=%v priority=%d\nreasons: %s",
			label, got.Role, got.PHI, got.PatientLinked, got.Priority,
			want.role, want.phi, want.patientLinked, want.priority, strings.Join(got.Reasons, " | "))
	}
	if len(got.Reasons) == 0 {
		t.Errorf("%s: no reasons", label)
	}
}

var referenceSchemaWant = map[string]wantClass{
	"patients":       {Patient, true, true, 2},
	"claims":         {Claim, true, true, 2},
	"claim_lines":    {ClaimLine, true, true, 2},
	"providers":      {Provider, false, false, 0},
	"payers":         {Payer, false, false, 0},
	"plans":          {Payer, false, false, 0},
	"icd10_codes":    {Reference, false, false, 0},
	"cpt_codes":      {Reference, false, false, 0},
	"hcpcs_codes":    {Reference, false, false, 0},
	"appointments":   {Appointment, true, true, 1},
	"availabilities": {Schedule, false, false, 0},
	"payments":       {Payment, true, true, 1},
	"users":          {User, true, true, 1},
	// audit_logs.record_id can point at any table's row, patients included: PHI, but no
	// proven patient link.
	"audit_logs": {Audit, true, false, 1},
}

func TestTableReferenceSchema(t *testing.T) {
	tables := loadReferenceSchema(t)
	var c Classifier
	for name, want := range referenceSchemaWant {
		in, ok := tables[name]
		if !ok {
			t.Errorf("table %s is missing from the reference schema", name)
			continue
		}
		if len(in.Columns) < 3 {
			t.Fatalf("table %s parsed with %d columns", name, len(in.Columns))
		}
		checkClass(t, name, c.Table(in), want)
		// Without foreign keys (a schema that never declared them), names must suffice.
		in.References = nil
		checkClass(t, name+" without foreign keys", c.Table(in), want)
	}
}

func TestTableReferenceSchemaDetails(t *testing.T) {
	tables := loadReferenceSchema(t)
	var c Classifier
	patients := c.Table(tables["patients"])
	wantIDs := map[string]Identifier{
		"mrn": MRN, "first_name": Name, "last_name": Name, "date_of_birth": Date, "ssn": SSN,
		"address_line1": Geographic, "city": Geographic, "postal_code": Geographic,
		"phone": Phone, "email": Email, "insurance_member_id": HealthPlanID,
	}
	for col, id := range wantIDs {
		if m := top(patients.Identifiers[col]); m.Identifier != id {
			t.Errorf("patients.%s = %+v, want %s", col, patients.Identifiers[col], id)
		}
	}
	for _, col := range []string{"id", "sex", "state", "plan_id", "primary_provider_id", "created_at", "updated_at"} {
		if ms, ok := patients.Identifiers[col]; ok {
			t.Errorf("patients.%s classified: %+v", col, ms)
		}
	}
	if !slices.Contains(patients.Reasons, "column ssn: Social Security number (G)") {
		t.Errorf("patients reasons lack the ssn line: %q", patients.Reasons)
	}

	claimLines := c.Table(tables["claim_lines"])
	for _, col := range []string{"cpt_code", "hcpcs_code", "icd10_code"} {
		if top(claimLines.Identifiers[col]).Identifier != HealthInfo {
			t.Errorf("claim_lines.%s = %+v, want health_info", col, claimLines.Identifiers[col])
		}
	}
	if top(claimLines.Identifiers["service_date"]).Identifier != Date {
		t.Errorf("claim_lines.service_date = %+v, want date", claimLines.Identifiers["service_date"])
	}

	providers := c.Table(tables["providers"])
	if _, ok := providers.Identifiers["npi"]; ok {
		t.Errorf("providers.npi classified: %+v", providers.Identifiers["npi"])
	}
	if top(providers.Identifiers["first_name"]).Identifier != Name {
		t.Errorf("providers.first_name should still be reported as a name: %+v", providers.Identifiers)
	}

	users := c.Table(tables["users"])
	if _, ok := users.Identifiers["password_hash"]; ok {
		t.Errorf("users.password_hash classified: %+v", users.Identifiers["password_hash"])
	}
	audit := c.Table(tables["audit_logs"])
	if top(audit.Identifiers["client_ip"]).Identifier != IPAddress {
		t.Errorf("audit_logs.client_ip = %+v, want ip_address", audit.Identifiers["client_ip"])
	}
}

func cols(spec string) []ColumnInput {
	var out []ColumnInput
	for _, c := range strings.Split(spec, ", ") { // ", " keeps numeric(12,2) whole
		f := strings.Fields(c)
		out = append(out, ColumnInput{Name: f[0], Type: strings.Join(f[1:], " ")})
	}
	return out
}

func TestTableUnseenSchemas(t *testing.T) {
	tests := []struct {
		label string
		in    TableInput
		want  wantClass
	}{
		{"omop person", TableInput{Schema: "cdm", Name: "person", Columns: cols(
			"person_id integer, gender_concept_id integer, year_of_birth integer, month_of_birth integer, " +
				"day_of_birth integer, birth_datetime timestamp, race_concept_id integer, ethnicity_concept_id integer, " +
				"location_id integer, provider_id integer, care_site_id integer, person_source_value varchar(50), " +
				"gender_source_value varchar(50)")},
			wantClass{Patient, true, true, 2}},
		{"omop condition_occurrence", TableInput{Schema: "cdm", Name: "condition_occurrence", Columns: cols(
			"condition_occurrence_id bigint, person_id integer, condition_concept_id integer, " +
				"condition_start_date date, condition_start_datetime timestamp, condition_end_date date, " +
				"condition_type_concept_id integer, provider_id integer, visit_occurrence_id bigint"),
			References: []string{"person", "concept", "provider", "visit_occurrence"}},
			wantClass{Other, true, true, 1}},
		{"omop condition_occurrence without keys", TableInput{Name: "condition_occurrence", Columns: cols(
			"person_id integer, condition_concept_id integer, condition_start_date date")},
			wantClass{Other, true, true, 1}},
		{"omop visit_occurrence", TableInput{Schema: "cdm", Name: "visit_occurrence", Columns: cols(
			"visit_occurrence_id bigint, person_id integer, visit_concept_id integer, visit_start_date date")},
			wantClass{Encounter, true, true, 1}},
		{"omop concept", TableInput{Schema: "cdm", Name: "concept", Columns: cols(
			"concept_id integer, concept_name varchar(255), domain_id varchar(20), vocabulary_id varchar(20)")},
			wantClass{Reference, false, false, 0}},
		{"tbl_Member", TableInput{Schema: "dbo", Name: "tbl_Member", Columns: cols(
			"MemberID varchar(20), FirstName varchar(50), LastName varchar(50), DOB date")},
			wantClass{Patient, true, true, 2}},
		{"products", TableInput{Name: "products", Columns: cols("id bigint, name text, price numeric(10,2)")},
			wantClass{Other, false, false, 0}},
		{"vendors", TableInput{Name: "vendors", Columns: cols("id bigint, name text, phone text, email text")},
			wantClass{Other, false, false, 0}},
		{"patient by columns", TableInput{Name: "t_0042", Columns: cols("id bigint, mrn text, date_of_birth date, sex char(1)")},
			wantClass{Patient, true, true, 2}},
		{"claim by columns", TableInput{Name: "billing_2019", Columns: cols(
			"id bigint, patient_id bigint, date_of_service date, billed_amount numeric(12,2)")},
			wantClass{Claim, true, true, 2}},
		{"encounter by columns", TableInput{Name: "stays_raw", Columns: cols(
			"id bigint, patient_id bigint, admission_date date, discharge_date date")},
			wantClass{Encounter, true, true, 1}},
		{"clinical table linked by name", TableInput{Name: "patient_allergies", Columns: cols(
			"id bigint, patient_id bigint, allergen text, severity text")},
			wantClass{Other, true, true, 1}},
		{"unlinked intake form with identifiers and health information", TableInput{Name: "intake_forms", Columns: cols(
			"id bigint, first_name text, last_name text, date_of_birth date, chief_complaint text")},
			wantClass{Other, true, false, 1}},
		{"employees hold identifiers but no health information", TableInput{Name: "employees", Columns: cols(
			"id bigint, first_name text, last_name text, ssn text, date_of_birth date")},
			wantClass{Other, false, false, 0}},
		{"staff-only users", TableInput{Name: "users", Columns: cols(
			"id bigint, email text, password_hash text, created_at timestamptz")},
			wantClass{User, false, false, 0}},
		{"audit without a record reference", TableInput{Name: "audit_events", Columns: cols(
			"id bigint, user_id bigint, action text, occurred_at timestamptz")},
			wantClass{Audit, false, false, 0}},
		{"remittance linked through a claim key", TableInput{Name: "remittance", Columns: cols(
			"id bigint, claim_header_id bigint, paid_amount numeric")},
			wantClass{Payment, true, true, 1}},
		{"schema-qualified name", TableInput{Name: "billing.claim_header", Columns: cols(
			"claim_id bigint, member_id varchar(20), service_from_date date, total_charge numeric")},
			wantClass{Claim, true, true, 2}},
		{"linked only by a foreign key to a claims table", TableInput{Name: "adjustments", Columns: cols(
			"id bigint, parent bigint, adjustment_amount numeric(12,2)"), References: []string{"billing.claim_header"}},
			wantClass{Other, true, true, 1}},
		{"foreign key to a provider table links no patient", TableInput{Name: "adjustments", Columns: cols(
			"id bigint, parent bigint, adjustment_amount numeric(12,2)"), References: []string{"providers"}},
			wantClass{Other, false, false, 0}},
		{"provider with names and phones", TableInput{Name: "practitioner", Columns: cols(
			"id bigint, npi char(10), first_name text, last_name text, phone text, fax text, address text")},
			wantClass{Provider, false, false, 0}},
	}
	var c Classifier
	for _, tt := range tests {
		checkClass(t, tt.label, c.Table(tt.in), tt.want)
	}
}

func TestRoleByName(t *testing.T) {
	tests := []struct {
		name string
		want Role
	}{
		{"patients", Patient}, {"patient", Patient}, {"member", Patient}, {"members", Patient},
		{"person", Patient}, {"beneficiary", Patient}, {"beneficiaries", Patient}, {"enrollee", Patient},
		{"tbl_Member", Patient}, {"patient_data", Patient}, {"PatientDemographics", Patient},
		{"claims", Claim}, {"claim_header", Claim}, {"medical_claims", Claim},
		{"claim_lines", ClaimLine}, {"claim_detail", ClaimLine}, {"ClaimLineItems", ClaimLine},
		{"providers", Provider}, {"practitioner", Provider}, {"physician", Provider}, {"provider_directory", Provider},
		{"payers", Payer}, {"plans", Payer}, {"insurance_plans", Payer},
		{"appointments", Appointment}, {"visits", Encounter}, {"encounters", Encounter},
		{"patient_visits", Encounter}, {"visit_occurrence", Encounter},
		{"availabilities", Schedule}, {"provider_schedule", Schedule}, {"appointment_slots", Schedule},
		{"payments", Payment}, {"remittance", Payment}, {"claim_payments", Payment},
		{"audit_logs", Audit}, {"audit_trail", Audit}, {"access_log", Audit},
		{"users", User}, {"accounts", User}, {"app_users", User},
		{"icd10_codes", Reference}, {"cpt_codes", Reference}, {"hcpcs_codes", Reference},
		{"drug_codes", Reference}, {"concept", Reference}, {"ref_states", Reference},
		{"products", Other}, {"vendors", Other}, {"condition_occurrence", Other},
		{"patient_providers", Other}, {"member_plans", Other}, {"patient_accounts", Other},
	}
	for _, tt := range tests {
		got, _ := roleByName(tt.name)
		if got != tt.want {
			t.Errorf("roleByName(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestTableReasonsAndIdentifiers(t *testing.T) {
	var c Classifier
	got := c.Table(TableInput{Name: "claims", Columns: cols(
		"id bigint, patient_id bigint, date_of_service date, primary_diagnosis text, billed_amount numeric(12,2)")})
	joined := strings.Join(got.Reasons, "\n")
	for _, want := range []string{
		`role claim: table name "claims"`,
		"patient-linked: column patient_id refers to a patient",
		"health information (primary_diagnosis)",
		"amounts (billed_amount)",
		"column date_of_service: date related to an individual (C)",
		"column primary_diagnosis: health information",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons lack %q:\n%s", want, joined)
		}
	}
	if _, ok := got.Identifiers["patient_id"]; ok {
		t.Errorf("patient_id (an integer key) reported as an identifier: %+v", got.Identifiers["patient_id"])
	}
	if len(got.Identifiers) != 2 {
		t.Errorf("Identifiers = %v, want date_of_service and primary_diagnosis", got.Identifiers)
	}
}
