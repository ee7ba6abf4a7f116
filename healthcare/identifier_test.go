package healthcare

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestIdentifierTaxonomy(t *testing.T) {
	tests := []struct {
		id        Identifier
		name      string
		paragraph string
	}{
		{Name, "name", "(A)"},
		{Geographic, "geographic", "(B)"},
		{Date, "date", "(C)"},
		{Phone, "phone", "(D)"},
		{Fax, "fax", "(E)"},
		{Email, "email", "(F)"},
		{SSN, "ssn", "(G)"},
		{MRN, "medical_record_number", "(H)"},
		{HealthPlanID, "health_plan_beneficiary_number", "(I)"},
		{AccountNumber, "account_number", "(J)"},
		{CertificateLicense, "certificate_license_number", "(K)"},
		{Vehicle, "vehicle_identifier", "(L)"},
		{Device, "device_identifier", "(M)"},
		{URL, "url", "(N)"},
		{IPAddress, "ip_address", "(O)"},
		{Biometric, "biometric", "(P)"},
		{Photo, "photo", "(Q)"},
		{OtherUniqueID, "other_unique_id", "(R)"},
		{HealthInfo, "health_info", ""},
	}
	snake := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", int(tt.id), got, tt.name)
		}
		if !snake.MatchString(tt.id.String()) {
			t.Errorf("%q is not snake_case", tt.id.String())
		}
		if got := tt.id.Paragraph(); got != tt.paragraph {
			t.Errorf("%s.Paragraph() = %q, want %q", tt.id, got, tt.paragraph)
		}
		if tt.id.Description() == "" || tt.id.Description() == tt.id.String() && tt.id != Name {
			t.Errorf("%s has no description of its own: %q", tt.id, tt.id.Description())
		}
		if got, want := tt.id.IsIdentifier(), tt.id != HealthInfo; got != want {
			t.Errorf("%s.IsIdentifier() = %v, want %v", tt.id, got, want)
		}
		back, err := ParseIdentifier(tt.name)
		if err != nil || back != tt.id {
			t.Errorf("ParseIdentifier(%q) = %v, %v; want %v", tt.name, back, err, tt.id)
		}
		if tt.paragraph != "" {
			if back, err := ParseIdentifier(strings.Trim(tt.paragraph, "()")); err != nil || back != tt.id {
				t.Errorf("ParseIdentifier(%q) = %v, %v; want %v", tt.paragraph, back, err, tt.id)
			}
		}
	}
	if SSN.Description() != "Social Security number" {
		t.Errorf("SSN.Description() = %q", SSN.Description())
	}
	if got := len(Identifiers()); got != 18 {
		t.Errorf("Identifiers() has %d entries, want 18", got)
	}
	if ids := Identifiers(); ids[0] != Name || ids[17] != OtherUniqueID {
		t.Errorf("Identifiers() not in regulation order: %v", ids)
	}
}

func TestIdentifierInvalid(t *testing.T) {
	var zero Identifier
	if zero.String() != "identifier(0)" || zero.Paragraph() != "" || zero.IsIdentifier() {
		t.Errorf("zero Identifier: %q %q %v", zero.String(), zero.Paragraph(), zero.IsIdentifier())
	}
	if _, err := zero.MarshalText(); err == nil {
		t.Error("MarshalText of the zero Identifier succeeded")
	}
	if _, err := ParseIdentifier("zodiac_sign"); err == nil {
		t.Error(`ParseIdentifier("zodiac_sign") succeeded`)
	}
}

func TestMatchJSON(t *testing.T) {
	b, err := json.Marshal(Match{Identifier: SSN, Confidence: 0.95, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"identifier":"ssn","confidence":0.95,"reason":"r"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var m Match
	if err := json.Unmarshal(b, &m); err != nil || m.Identifier != SSN {
		t.Errorf("round trip: %+v, %v", m, err)
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"first_name", "first name"},
		{"FirstName", "first name"},
		{"FIRST_NAME", "first name"},
		{"firstName", "first name"},
		{"patient_fname", "patient fname"},
		{"PatientFName", "patient f name"},
		{"MRNNumber", "mrn number"},
		{"ICD10Code", "icd 10 code"},
		{"address_line1", "address line 1"},
		{"e-mail", "e mail"},
		{"EMail", "e mail"},
		{"DOB", "dob"},
		{"MemberID", "member id"},
		{"  __x__ ", "x"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(tokenize(tt.in), " "); got != tt.want {
			t.Errorf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokEq(t *testing.T) {
	tests := []struct {
		word, tok string
		want      bool
	}{
		{"phone", "phones", true},
		{"address", "addresses", true},
		{"diagnosis", "diagnoses", true},
		{"allergy", "allergies", true},
		{"availability", "availabilities", true},
		{"phone", "phone", true},
		{"phone", "telephone", false},
		{"name", "names", true},
		{"name", "nam", false},
		{"zip", "zipper", false},
	}
	for _, tt := range tests {
		if got := tokEq(tt.word, tt.tok); got != tt.want {
			t.Errorf("tokEq(%q, %q) = %v, want %v", tt.word, tt.tok, got, tt.want)
		}
	}
}
