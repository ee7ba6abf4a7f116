package healthcare

import (
	"fmt"
	"strings"
)

// Role is what a table is for in a healthcare schema.
type Role string

// Table roles.
const (
	Patient     Role = "patient"
	Claim       Role = "claim"
	ClaimLine   Role = "claim_line"
	Provider    Role = "provider"
	Payer       Role = "payer" // payers and their plans
	Appointment Role = "appointment"
	Schedule    Role = "schedule" // provider availability, slots
	Payment     Role = "payment"
	Audit       Role = "audit"
	User        Role = "user"
	Reference   Role = "reference" // code tables: ICD-10, CPT, HCPCS, drug codes, concepts
	Encounter   Role = "encounter"
	Other       Role = "other"
)

// ColumnInput is one column: its name and SQL type as the catalog spells it.
type ColumnInput struct {
	Name string
	Type string
}

// TableInput describes a table to classify.
type TableInput struct {
	Schema  string // empty means public
	Name    string
	Columns []ColumnInput
	// References lists the tables its foreign keys point to, "schema.table" or "table"
	// (an unqualified name is taken to be in the table's own schema).
	References []string
}

// TableClass is the verdict on one table.
type TableClass struct {
	Role Role
	PHI  bool
	// PatientLinked: the table is a patient table, or it refers to patients directly (a
	// patient key, an MRN or beneficiary number, a foreign key to a patient table) or
	// through a claim, encounter or appointment.
	PatientLinked bool
	// Identifiers holds the matches of every column that had any, by column name.
	Identifiers map[string][]Match
	// Reasons explain the verdict, e.g. "column ssn: Social Security number (G)".
	Reasons []string
	// Priority raises finding severity: 0 not PHI, 1 PHI, 2 PHI in a patient or claims
	// core table (patient, claim, claim line).
	Priority int
}

// Word lists for tables. All read-only.
var (
	// tablePrefixes are dropped from table names (tbl_member, dim_patient, stg_claims).
	tablePrefixes = setOf("tbl", "tb", "dim", "fact", "fct", "stg", "raw", "src", "vw", "app")
	// tableQualifiers are dropped from the end (patient_data, claim_header).
	tableQualifiers = setOf("data", "info", "information", "master", "main", "header", "hdr",
		"record", "records", "table", "tbl", "list", "registry", "directory", "dir", "base", "all",
		"current", "file")
	// codeSetWords mark code tables wherever they appear (icd10_codes, concept).
	codeSetWords = []string{"icd", "cpt", "hcpcs", "ndc", "loinc", "snomed", "rxnorm", "drg",
		"vocabulary", "concept", "taxonomy", "lookup", "lkp"}
	// codeTableEnds mark code tables by their last word (drug_codes, status_lookup).
	codeTableEnds = []string{"code", "lookup", "lkp", "ref", "reference", "dictionary", "dict", "vocabulary"}
	// headRoles maps the head noun of a table name to a role, in a fixed order.
	headRoles = []struct {
		word string
		role Role
	}{
		{"patient", Patient}, {"member", Patient}, {"person", Patient}, {"people", Patient},
		{"beneficiary", Patient}, {"bene", Patient}, {"enrollee", Patient},
		{"subscriber", Patient}, {"insured", Patient}, {"demographic", Patient},
		{"claim", Claim},
		{"provider", Provider}, {"prov", Provider}, {"practitioner", Provider}, {"physician", Provider},
		{"doctor", Provider}, {"clinician", Provider}, {"prescriber", Provider}, {"nurse", Provider},
		{"payer", Payer}, {"payor", Payer}, {"plan", Payer}, {"insurer", Payer}, {"carrier", Payer},
		{"appointment", Appointment}, {"appt", Appointment}, {"booking", Appointment},
		{"encounter", Encounter}, {"visit", Encounter}, {"admission", Encounter},
		{"episode", Encounter}, {"stay", Encounter},
		{"payment", Payment}, {"remittance", Payment}, {"remit", Payment}, {"era", Payment},
		{"payout", Payment}, {"refund", Payment},
		{"user", User}, {"account", User}, {"login", User}, {"credential", User},
	}
	// patientWords name the person a row is about, in column names (patient_id, bene_id).
	patientWords = []string{"patient", "pat", "pt", "person", "member", "beneficiary", "bene",
		"enrollee", "subscriber", "insured", "desynpuf", "subject"}
	// linkedEntityWords name rows that belong to one patient (claim_id, encounter_id).
	linkedEntityWords = []struct {
		word string
		role Role
	}{
		{"claim", Claim}, {"encounter", Encounter}, {"visit", Encounter},
		{"admission", Encounter}, {"episode", Encounter}, {"appointment", Appointment},
		{"appt", Appointment},
	}
	// recordWords name generic row references in audit logs (record_id, object_id).
	recordWords = []string{"record", "row", "object", "entity", "resource", "target", "subject"}
	// amountWords name money columns.
	amountWords = []string{"amount", "amt", "charge", "billed", "paid", "allowed", "balance",
		"copay", "coinsurance", "deductible", "cost", "price", "fee", "reimbursement",
		"responsibility", "payment", "owed"}
	// bookkeepingWords name timestamps about the row, not about the person.
	bookkeepingWords = []string{"created", "updated", "modified", "deleted", "inserted",
		"changed", "loaded", "synced", "imported", "ingested", "etl", "refreshed", "login",
		"expires", "expiry", "expired", "archived", "migrated"}
	// keyQualifiers may stand between an entity and its key word.
	keyQualifiers = setOf("occurrence", "record", "header", "hdr", "master")
	serviceWords  = []string{"service", "svc", "dos"}
	birthWords    = []string{"birth", "dob", "birthdate", "birthday", "dateofbirth"}
)

// roleByName infers a role from the table name alone.
func roleByName(name string) (Role, bool) {
	toks := tokenize(name)
	for len(toks) > 1 && tablePrefixes[toks[0]] {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return Other, false
	}
	lastTok := toks[len(toks)-1]
	switch {
	case hasAny(toks, codeSetWords...) || hasAny([]string{lastTok}, codeTableEnds...) ||
		(len(toks) > 1 && (toks[0] == "ref" || toks[0] == "lkp" || toks[0] == "lu")):
		return Reference, true
	case hasAny(toks, "audit") ||
		(hasAny([]string{lastTok}, "log", "trail", "journal", "history") &&
			hasAny(toks, "access", "activity", "event", "change", "security", "phi", "disclosure")):
		return Audit, true
	case hasAny(toks, "availability", "schedule", "slot", "calendar", "roster"):
		return Schedule, true
	case hasAny(toks, "claim") && hasAny(toks, "line", "detail", "item", "service", "svc"),
		hasAny(toks, "service") && hasAny([]string{lastTok}, "line"):
		return ClaimLine, true
	}
	// The head noun is the last word once qualifiers are dropped: claim_header is a claim.
	head := len(toks) - 1
	for head > 0 && tableQualifiers[toks[head]] {
		head--
	}
	if r, ok := roleOfWord(toks[head]); ok {
		// patient_providers and member_plans relate patients to something: not the
		// provider or plan table itself.
		if (r == Provider || r == Payer || r == User) && hasAny(toks[:head], patientWords...) {
			return Other, false
		}
		return r, true
	}
	// visit_occurrence (OMOP) and the like: an encounter word anywhere.
	for _, t := range toks {
		if r, ok := roleOfWord(t); ok && r == Encounter {
			return r, true
		}
	}
	return Other, false
}

func roleOfWord(tok string) (Role, bool) {
	for _, h := range headRoles {
		if tokEq(h.word, tok) {
			return h.role, true
		}
	}
	return "", false
}

// roleOf applies patientTables, then the name.
func (c *Classifier) roleOf(schema, table string) (Role, string) {
	if c.configuredPatient(schema, table) {
		return Patient, "listed in healthcare.patientTables"
	}
	if r, ok := roleByName(table); ok {
		return r, fmt.Sprintf("table name %q", table)
	}
	return Other, ""
}

// colFacts is what the table rules need to know about one column.
type colFacts struct {
	name       string
	toks       []string
	tc         typeClass
	matches    []Match // with overrides applied
	raw        []Match // without overrides, for role inference
	excluded   bool    // listed in notPHI (directly or through its table)
	forced     bool    // listed in phiColumns
	patientRef bool    // patient_id, person_id, bene_id ...
	linkRole   Role    // claim_id -> Claim, encounter_id -> Encounter
	recordRef  bool    // record_id, object_id
}

func best(ms []Match, id Identifier) float64 {
	v := 0.0
	for _, m := range ms {
		if m.Identifier == id {
			v = max(v, m.Confidence)
		}
	}
	return v
}

// endsInKeyAfter reports whether toks is one of words followed by a key word, allowing a
// qualifier in between (visit_occurrence_id, patient_record_id).
func endsInKeyAfter(toks []string, words []string) bool {
	if len(toks) < 2 || !keyWords[toks[len(toks)-1]] {
		return false
	}
	i := len(toks) - 2
	for i > 0 && keyQualifiers[toks[i]] {
		i--
	}
	return hasAny(toks[i:i+1], words...)
}

// Table classifies a table by its name, columns and foreign keys; see the package
// documentation for the rules.
func (c *Classifier) Table(t TableInput) TableClass {
	schema, name := t.Schema, t.Name
	if schema == "" {
		schema, name = splitTable(name, defaultSchema)
	}
	out := TableClass{Identifiers: map[string][]Match{}}
	reason := func(format string, args ...any) { out.Reasons = append(out.Reasons, fmt.Sprintf(format, args...)) }

	cols := make([]colFacts, 0, len(t.Columns))
	for _, in := range t.Columns {
		f := colFacts{name: in.Name, toks: tokenize(in.Name), tc: classifyType(in.Type)}
		f.raw = classifyColumn(in.Name, in.Type)
		f.matches = c.column(schema, name, in.Name, in.Type)
		f.forced = c.forcedColumn(schema, name, in.Name)
		f.excluded = !f.forced && (c.excludedColumn(schema, name, in.Name) || c.excludedTable(schema, name))
		if len(f.matches) > 0 {
			out.Identifiers[in.Name] = f.matches
		}
		if f.tc != tBool && len(f.toks) > 0 {
			f.patientRef = endsInKeyAfter(f.toks, patientWords) ||
				(len(f.toks) == 1 && hasAny(f.toks, "patient", "patientid", "memberid"))
			for _, l := range linkedEntityWords {
				if f.linkRole == "" && endsInKeyAfter(f.toks, []string{l.word}) {
					f.linkRole = l.role
				}
			}
			f.recordRef = endsInKeyAfter(f.toks, recordWords) ||
				(len(f.toks) == 1 && (f.toks[0] == "pk" || f.toks[0] == "record"))
		}
		cols = append(cols, f)
	}

	// Role: configuration, then name, then columns.
	role, why := c.roleOf(schema, name)
	if role == Other {
		role, why = roleByColumns(cols)
	}
	out.Role = role
	if why != "" {
		reason("role %s: %s", role, why)
	}

	// Links to patients.
	if role == Patient {
		out.PatientLinked = true
	}
	for _, f := range cols {
		switch {
		case f.excluded:
		case f.patientRef && role != Patient:
			out.PatientLinked = true
			reason("patient-linked: column %s refers to a patient", f.name)
		case role != Patient && (best(f.raw, MRN) >= confToken || best(f.raw, HealthPlanID) >= confToken):
			out.PatientLinked = true
			reason("patient-linked: column %s holds a patient identifier", f.name)
		case f.linkRole != "" && f.linkRole != role:
			out.PatientLinked = true
			reason("patient-linked: column %s refers to a %s, which belongs to a patient", f.name, f.linkRole)
		}
	}
	for _, ref := range t.References {
		rs, rn := splitTable(ref, schema)
		switch r, _ := c.roleOf(rs, rn); r {
		case Patient:
			out.PatientLinked = true
			reason("patient-linked: foreign key to patient table %s", ref)
		case Claim, ClaimLine, Encounter, Appointment:
			if r != role {
				out.PatientLinked = true
				reason("patient-linked: foreign key to %s (%s), which belongs to a patient", ref, r)
			}
		}
	}

	// What the columns hold, ignoring columns excluded by notPHI.
	var clinical, dates, amounts, idents, recordRefs []string
	identity, forcedCols := false, false
	for _, f := range cols {
		if f.excluded {
			continue
		}
		forcedCols = forcedCols || f.forced
		if f.recordRef {
			recordRefs = append(recordRefs, f.name)
		}
		isIdent := false
		for _, m := range f.matches {
			if m.Confidence < confWeak {
				continue
			}
			switch m.Identifier {
			case HealthInfo:
				clinical = appendOnce(clinical, f.name)
			case Date:
				dates = appendOnce(dates, f.name)
			default:
				isIdent = true
			}
			if m.Confidence >= confToken {
				switch m.Identifier {
				case Name, SSN, MRN, HealthPlanID:
					identity = true
				case Date:
					identity = identity || hasAny(f.toks, birthWords...)
				}
			}
		}
		if isIdent {
			idents = append(idents, f.name)
		}
		if f.tc == tDate && !hasAny(f.toks, bookkeepingWords...) {
			dates = appendOnce(dates, f.name)
		}
		if (f.tc == tNum || f.tc == tInt) && hasAny(f.toks, amountWords...) {
			amounts = append(amounts, f.name)
		}
	}

	// The PHI rule. Between equally specific overrides PHI wins, as in Column.
	configuredPatient := c.configuredPatient(schema, name)
	switch {
	case c.forcedTable(schema, name):
		out.PHI = true
		reason("PHI: listed in healthcare.phiTables")
	case configuredPatient:
		out.PHI = true
		reason("PHI: listed in healthcare.patientTables")
	case c.excludedTable(schema, name) && !forcedCols:
		reason("not PHI: listed in healthcare.notPHI")
	case role == Patient:
		out.PHI = true
		reason("PHI: a patient table holds direct identifiers of individuals")
	case role == Audit && (out.PatientLinked || len(recordRefs) > 0):
		out.PHI = true
		if len(recordRefs) > 0 {
			reason("PHI: an audit log whose %s can name the patient records that were read or changed", strings.Join(recordRefs, ", "))
		} else {
			reason("PHI: an audit log of patient records")
		}
	case out.PatientLinked && (len(clinical)+len(dates)+len(amounts)+len(idents) > 0):
		out.PHI = true
		var what []string
		for _, g := range []struct {
			label string
			cols  []string
		}{{"health information", clinical}, {"dates", dates}, {"amounts", amounts}, {"identifiers", idents}} {
			if len(g.cols) > 0 {
				what = append(what, fmt.Sprintf("%s (%s)", g.label, strings.Join(g.cols, ", ")))
			}
		}
		reason("PHI: linked to patients, with %s", strings.Join(what, "; "))
	case identity && len(clinical) > 0:
		out.PHI = true
		reason("PHI: identifiers of individuals stored with health information (%s)", strings.Join(clinical, ", "))
	case forcedCols:
		out.PHI = true
		reason("PHI: has columns listed in healthcare.phiColumns")
	default:
		switch role {
		case Provider, Payer, Reference, Schedule:
			reason("not PHI: a %s table, not about patients", role)
		default:
			if out.PatientLinked {
				reason("not PHI: linked to patients but holds no health information, dates, amounts or identifiers")
			} else {
				reason("not PHI: no link to patients and no health information")
			}
		}
	}

	if out.PHI {
		out.Priority = 1
		if role == Patient || role == Claim || role == ClaimLine {
			out.Priority = 2
		}
	}

	for _, f := range cols {
		if len(f.matches) > 0 && f.matches[0].Confidence >= confWeak {
			reason("column %s: %s", f.name, f.matches[0].Identifier.label())
		}
		if f.excluded && len(f.raw) > 0 && !c.excludedTable(schema, name) {
			reason("column %s: excluded by healthcare.notPHI", f.name)
		}
	}
	return out
}

// roleByColumns infers a role when the name says nothing: a table that holds an MRN or
// beneficiary number with a name or birth date, and refers to no patient, is the patient
// table; one that refers to a patient and has a service date and an amount is a claim; one
// that refers to a patient and has an admission or discharge date is an encounter.
func roleByColumns(cols []colFacts) (Role, string) {
	var patientRef, recordID, nameOrBirth, service, amount, stay string
	for _, f := range cols {
		if f.patientRef && patientRef == "" {
			patientRef = f.name
		}
		if recordID == "" && (best(f.raw, MRN) >= confToken || best(f.raw, HealthPlanID) >= confToken) {
			recordID = f.name
		}
		if nameOrBirth == "" && (best(f.raw, Name) >= confToken ||
			(best(f.raw, Date) >= confToken && hasAny(f.toks, birthWords...))) {
			nameOrBirth = f.name
		}
		if best(f.raw, Date) >= confToken {
			if service == "" && hasAny(f.toks, serviceWords...) {
				service = f.name
			}
			if stay == "" && hasAny(f.toks, "admission", "admit", "admitted", "discharge", "discharged") {
				stay = f.name
			}
		}
		if amount == "" && (f.tc == tNum || f.tc == tInt) && hasAny(f.toks, amountWords...) {
			amount = f.name
		}
	}
	switch {
	case patientRef == "" && recordID != "" && nameOrBirth != "":
		return Patient, fmt.Sprintf("columns %s and %s identify the individual", recordID, nameOrBirth)
	case patientRef != "" && service != "" && amount != "":
		return Claim, fmt.Sprintf("columns %s, %s and %s look like a claim", patientRef, service, amount)
	case patientRef != "" && stay != "":
		return Encounter, fmt.Sprintf("columns %s and %s look like an admission", patientRef, stay)
	}
	return Other, ""
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
