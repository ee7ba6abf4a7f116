package healthcare

import (
	"strings"
	"testing"
)

// top returns the best match, or a zero Match.
func top(ms []Match) Match {
	if len(ms) == 0 {
		return Match{}
	}
	return ms[0]
}

func TestColumnRecognised(t *testing.T) {
	tests := []struct {
		column, typ string
		want        Identifier
	}{
		{"first_name", "text", Name},
		{"FirstName", "varchar(50)", Name},
		{"patient_fname", "text", Name},
		{"pt_last_nm", "character varying(40)", Name},
		{"LastName", "", Name},
		{"dob", "date", Date},
		{"DOB", "", Date},
		{"birth_date", "date", Date},
		{"date_of_birth", "date", Date},
		{"birthdate", "timestamp without time zone", Date},
		{"ssn", "text", SSN},
		{"social_security_number", "char(11)", SSN},
		{"mrn", "text", MRN},
		{"medical_record_no", "varchar", MRN},
		{"member_id", "text", HealthPlanID},
		{"MemberID", "varchar(20)", HealthPlanID},
		{"insurance_member_id", "text", HealthPlanID},
		{"subscriber_id", "text", HealthPlanID},
		{"policy_number", "text", HealthPlanID},
		{"account_number", "text", AccountNumber},
		{"acct_no", "varchar(20)", AccountNumber},
		{"phone", "text", Phone},
		{"phone_number", "varchar(20)", Phone},
		{"mobile", "text", Phone},
		{"cell_phone", "text", Phone},
		{"fax", "text", Fax},
		{"email", "text", Email},
		{"email_address", "citext", Email},
		{"address_line1", "text", Geographic},
		{"street", "text", Geographic},
		{"city", "text", Geographic},
		{"zip", "char(5)", Geographic},
		{"zip_code", "text", Geographic},
		{"postal_code", "text", Geographic},
		{"county", "text", Geographic},
		{"ip_address", "inet", IPAddress},
		{"client_ip", "inet", IPAddress},
		{"drivers_license", "text", CertificateLicense},
		{"license_number", "text", CertificateLicense},
		{"vin", "char(17)", Vehicle},
		{"license_plate", "text", Vehicle},
		{"device_serial", "text", Device},
		{"udi", "text", Device},
		{"url", "text", URL},
		{"website", "text", URL},
		{"fingerprint", "bytea", Biometric},
		{"voice_print", "bytea", Biometric},
		{"photo", "bytea", Photo},
		{"face_image", "bytea", Photo},
		{"admission_date", "date", Date},
		{"discharge_date", "timestamptz", Date},
		{"date_of_death", "date", Date},
		{"date_of_service", "date", Date},
		{"service_date", "date", Date},
		{"icd10_code", "text", HealthInfo},
		{"ICD10Code", "", HealthInfo},
		{"diagnosis", "text", HealthInfo},
		{"primary_diagnosis", "text", HealthInfo},
		{"cpt_code", "text", HealthInfo},
		{"procedure_code", "text", HealthInfo},
		{"medication", "text", HealthInfo},
		{"clinical_notes", "text", HealthInfo},
		{"lab_result", "numeric", HealthInfo},
		{"person_source_value", "varchar(50)", MRN},
	}
	var c Classifier
	for _, tt := range tests {
		ms := c.Column("t", tt.column, tt.typ)
		m := top(ms)
		if m.Identifier != tt.want || m.Confidence < confToken {
			t.Errorf("Column(%q, %q) = %+v, want %s at >= %.2f", tt.column, tt.typ, ms, tt.want, confToken)
		}
		if m.Reason == "" || !strings.Contains(m.Reason, tt.column) {
			t.Errorf("Column(%q): reason %q does not name the column", tt.column, m.Reason)
		}
	}
}

func TestColumnConfidenceLevels(t *testing.T) {
	tests := []struct {
		column, typ string
		want        Identifier
		conf        float64
	}{
		{"first_name", "text", Name, confExact},          // whole name in the dictionary
		{"patient_fname", "text", Name, confToken},       // part of the name
		{"name", "text", Name, confWeak},                 // product, company or person
		{"patient_id", "text", MRN, confWeak},            // text patient keys are often MRNs
		{"member_id", "integer", HealthPlanID, confWeak}, // may be a surrogate key
		{"scheduled_date_time", "timestamptz", Date, confWeak},
		{"condition_start_date", "date", Date, confWeak},
		{"age", "integer", Date, confWeak},
		{"year_of_birth", "integer", Date, confYear},
		{"month_of_birth", "integer", Date, confToken},
		{"city_id", "integer", Geographic, confKeyRef},
		{"condition_concept_id", "integer", HealthInfo, confWeak},
		{"peer_addr", "inet", IPAddress, confWeak}, // by type alone
		{"claim_number", "text", OtherUniqueID, confWeak},
	}
	for _, tt := range tests {
		ms := classifyColumn(tt.column, tt.typ)
		m := top(ms)
		if m.Identifier != tt.want || m.Confidence != tt.conf {
			t.Errorf("classifyColumn(%q, %q) = %+v, want %s at %.2f", tt.column, tt.typ, ms, tt.want, tt.conf)
		}
	}
}

func TestColumnFalseFriends(t *testing.T) {
	tests := []struct {
		column, typ string
	}{
		{"created_at", "timestamptz"},
		{"updated_at", "timestamp with time zone"},
		{"received_at", "timestamptz"},
		{"last_login_at", "timestamptz"},
		{"id", "bigint"},
		{"status", "text"},
		{"city_id", "integer"},
		{"address_id", "bigint"},
		{"state", "char(2)"},
		{"country", "text"},
		{"npi", "text"},
		{"billing_npi", "char(10)"},
		{"dea_number", "text"},
		{"dea_license_number", "text"}, // a provider's registration, not a patient's licence
		{"email_sent", "boolean"},
		{"email_sent", "text"},
		{"email_verified", "bool"},
		{"phone_verified", "boolean"},
		{"phone_type", "text"},
		{"password_hash", "text"},
		{"api_token", "text"},
		{"ip_allowlist", "cidr[]"},
		{"ip_allowlist", "text[]"},
		{"patient_id", "bigint"},
		{"patient_id", "uuid"},
		{"provider_id", "integer"},
		{"organization_name", "text"},
		{"table_name", "text"},
		{"concept_name", "varchar(255)"},
		{"pend_reason", "text"},
		{"billed_amount", "numeric(12,2)"},
		{"phone_count", "integer"},
		{"num_addresses", "integer"},
		{"number_of_claims", "int4"},
		{"is_deceased", "text"},
		{"mailing_flag", "boolean"},
		{"taxonomy_code", "text"},
		{"day_of_week", "smallint"},
		{"gender_concept_id", "integer"},
		{"location", "text"},
		{"description", "text"},
		{"first_name", "integer"}, // a key to a names table
		{"last_name", "date"},     // date columns hold dates only
		{"email", "integer"},
		{"ssn", "numeric"},
	}
	var c Classifier
	for _, tt := range tests {
		for _, m := range c.Column("t", tt.column, tt.typ) {
			if m.Confidence >= confWeak {
				t.Errorf("Column(%q, %q) = %+v, want nothing at >= %.2f", tt.column, tt.typ, m, confWeak)
			}
		}
	}
	// Stricter cases: no match at all.
	for _, tt := range []struct{ column, typ string }{
		{"state", "char(2)"}, {"npi", "text"}, {"email_sent", "boolean"}, {"phone_verified", "boolean"},
		{"password_hash", "text"}, {"ip_allowlist", "cidr[]"}, {"created_at", "timestamptz"}, {"id", "bigint"},
	} {
		if ms := c.Column("t", tt.column, tt.typ); ms != nil {
			t.Errorf("Column(%q, %q) = %+v, want nil", tt.column, tt.typ, ms)
		}
	}
}

func TestColumnTypeRules(t *testing.T) {
	tests := []struct {
		column, typ string
		want        Identifier // 0: no match at >= 0.5
	}{
		{"phone", "text", Phone},
		{"phone", "boolean", 0},
		{"phone", "bigint", Phone}, // phone numbers stored as numbers
		{"zip", "integer", Geographic},
		{"mrn", "integer", MRN},
		{"dob", "integer", Date}, // yyyymmdd
		{"dob", "timestamp(3) with time zone", Date},
		{"ssn", "bytea", SSN}, // encrypted, still an SSN column
		{"photo", "bytea", Photo},
		{"photo_id", "integer", 0},
		{"latitude", "double precision", Geographic},
		{"home_location", "geography", Geographic},
		{"device_mac", "macaddr", Device},
		{"client_ip", "inet", IPAddress},
		{"client_ip", "text", IPAddress},
		{"email", "_text", Email}, // udt_name of text[]
		{"visit_count", "integer", 0},
		{"lab_value", "numeric(8,3)", HealthInfo},
		{"diagnosis_date", "date", Date},
		{"diagnosis", "date", Date},
		{"street", "pg_catalog.text", Geographic},
		{"birth_place", "text", Geographic}, // a place (a city), not a date: no date word or type
		{"admission_type", "text", 0},
		{"condition_occurrence_id", "bigint", 0},        // the key of a clinical row (OMOP)
		{"condition_concept_id", "integer", HealthInfo}, // the diagnosis, coded
		{"admittime", "timestamp", Date},                // MIMIC's run-together event times
		{"given_nm", "varchar(40)", Name},
	}
	for _, tt := range tests {
		ms := classifyColumn(tt.column, tt.typ)
		m := top(ms)
		if tt.want == 0 {
			if m.Confidence >= confWeak {
				t.Errorf("classifyColumn(%q, %q) = %+v, want nothing at >= %.2f", tt.column, tt.typ, ms, confWeak)
			}
			continue
		}
		if m.Identifier != tt.want || m.Confidence < confWeak {
			t.Errorf("classifyColumn(%q, %q) = %+v, want %s", tt.column, tt.typ, ms, tt.want)
		}
	}
}

func TestColumnSpecificEntriesWin(t *testing.T) {
	tests := []struct {
		column  string
		want    Identifier
		notWant Identifier
	}{
		{"email_address", Email, Geographic},
		{"ip_address", IPAddress, Geographic},
		{"mac_address", Device, Geographic},
		{"web_address", URL, Geographic},
		{"license_plate", Vehicle, CertificateLicense},
		{"ipv4_address", IPAddress, Geographic},
		{"fax_phone", Fax, Phone},
		{"login_ip", IPAddress, OtherUniqueID},
	}
	for _, tt := range tests {
		ms := classifyColumn(tt.column, "text")
		if top(ms).Identifier != tt.want {
			t.Errorf("classifyColumn(%q) = %+v, want %s first", tt.column, ms, tt.want)
		}
		for _, m := range ms {
			if m.Identifier == tt.notWant {
				t.Errorf("classifyColumn(%q) also matched %s: %+v", tt.column, tt.notWant, ms)
			}
		}
	}
}

func TestColumnMatchesSortedAndDistinct(t *testing.T) {
	ms := classifyColumn("photo_url", "text")
	if len(ms) != 2 || ms[0].Identifier != URL || ms[1].Identifier != Photo {
		t.Fatalf("photo_url = %+v, want URL then Photo", ms)
	}
	ms = classifyColumn("street_address", "text") // two Geographic words, one match
	if len(ms) != 1 || ms[0].Identifier != Geographic {
		t.Errorf("street_address = %+v, want one Geographic match", ms)
	}
	ms = classifyColumn("diagnosis_date", "text") // clinical content and a date
	if len(ms) != 2 || ms[0].Confidence < ms[1].Confidence {
		t.Errorf("diagnosis_date = %+v, want two matches, best first", ms)
	}
}

func TestClassifyType(t *testing.T) {
	tests := []struct {
		in   string
		want typeClass
	}{
		{"", tUnknown},
		{"boolean", tBool},
		{"bool", tBool},
		{"int4", tInt},
		{"bigint", tInt},
		{"smallint", tInt},
		{"numeric(12,2)", tNum},
		{"double precision", tNum},
		{"money", tNum},
		{"date", tDate},
		{"timestamptz", tDate},
		{"timestamp(3) without time zone", tDate},
		{"time with time zone", tTime},
		{"interval", tTime},
		{"character varying(20)", tText},
		{"char(2)", tText},
		{"my_enum", tText},
		{"uuid", tUUID},
		{"inet", tInet},
		{"cidr[]", tCidr},
		{"_int8", tInt},
		{"macaddr8", tMac},
		{"bytea", tBytes},
		{"jsonb", tDoc},
		{"pg_catalog.int4", tInt},
		{"geography(Point,4326)", tGeo},
	}
	for _, tt := range tests {
		if got := classifyType(tt.in); got != tt.want {
			t.Errorf("classifyType(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
