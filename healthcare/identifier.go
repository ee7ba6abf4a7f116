package healthcare

import (
	"fmt"
	"strings"
)

// Identifier is one of the 18 Safe Harbor identifiers of 45 CFR 164.514(b)(2)(i)(A)-(R), or
// HealthInfo. The zero value is not an identifier, so an unset Match field cannot be
// mistaken for Name.
type Identifier int

// The Safe Harbor identifiers, in the order of the regulation, then HealthInfo.
const (
	Name               Identifier = iota + 1 // (A)
	Geographic                               // (B) subdivisions smaller than a State
	Date                                     // (C) date elements other than the year; ages over 89
	Phone                                    // (D)
	Fax                                      // (E)
	Email                                    // (F)
	SSN                                      // (G)
	MRN                                      // (H)
	HealthPlanID                             // (I) health plan beneficiary number
	AccountNumber                            // (J)
	CertificateLicense                       // (K)
	Vehicle                                  // (L) vehicle identifiers, serial numbers, plates
	Device                                   // (M) device identifiers and serial numbers
	URL                                      // (N)
	IPAddress                                // (O)
	Biometric                                // (P) finger and voice prints
	Photo                                    // (Q) full-face photographs and comparable images
	OtherUniqueID                            // (R) any other unique identifying number or code

	// HealthInfo is clinical content (diagnoses, procedures, medications, notes, results).
	// It identifies no one, but it is what turns a record linked to an identifier into PHI.
	HealthInfo
)

// identifierInfo is the read-only description of each Identifier, indexed by its value.
var identifierInfo = [...]struct {
	name, paragraph, description string
}{
	Name:               {"name", "(A)", "name"},
	Geographic:         {"geographic", "(B)", "geographic subdivision smaller than a state"},
	Date:               {"date", "(C)", "date related to an individual"},
	Phone:              {"phone", "(D)", "telephone number"},
	Fax:                {"fax", "(E)", "fax number"},
	Email:              {"email", "(F)", "email address"},
	SSN:                {"ssn", "(G)", "Social Security number"},
	MRN:                {"medical_record_number", "(H)", "medical record number"},
	HealthPlanID:       {"health_plan_beneficiary_number", "(I)", "health plan beneficiary number"},
	AccountNumber:      {"account_number", "(J)", "account number"},
	CertificateLicense: {"certificate_license_number", "(K)", "certificate or license number"},
	Vehicle:            {"vehicle_identifier", "(L)", "vehicle identifier or license plate"},
	Device:             {"device_identifier", "(M)", "device identifier or serial number"},
	URL:                {"url", "(N)", "web URL"},
	IPAddress:          {"ip_address", "(O)", "IP address"},
	Biometric:          {"biometric", "(P)", "biometric identifier"},
	Photo:              {"photo", "(Q)", "full-face photograph or comparable image"},
	OtherUniqueID:      {"other_unique_id", "(R)", "other unique identifying number or code"},
	HealthInfo:         {"health_info", "", "health information"},
}

func (id Identifier) valid() bool { return id >= Name && id <= HealthInfo }

// String returns a stable snake_case name ("ssn", "medical_record_number"), suitable for
// JSON and configuration.
func (id Identifier) String() string {
	if !id.valid() {
		return fmt.Sprintf("identifier(%d)", int(id))
	}
	return identifierInfo[id].name
}

// Paragraph returns the paragraph letter of 164.514(b)(2)(i) as written in the
// regulation, e.g. "(G)"; it is empty for HealthInfo, which is not a Safe Harbor identifier.
func (id Identifier) Paragraph() string {
	if !id.valid() {
		return ""
	}
	return identifierInfo[id].paragraph
}

// Description is a short human-readable phrase, e.g. "Social Security number".
func (id Identifier) Description() string {
	if !id.valid() {
		return id.String()
	}
	return identifierInfo[id].description
}

// Identifies reports whether a value of this kind can name a person on its own: every
// identifier but dates, which do so only with others (a birth date alone is one of
// thousands of people's). Values of such columns must never leave pgmedic's process.
func (id Identifier) Identifies() bool { return id.IsIdentifier() && id != Date }

// IsIdentifier reports whether id is one of the 18 Safe Harbor identifiers (not HealthInfo).
func (id Identifier) IsIdentifier() bool { return id >= Name && id <= OtherUniqueID }

// label is the description followed by the paragraph, as used in reasons.
func (id Identifier) label() string {
	if p := id.Paragraph(); p != "" {
		return id.Description() + " " + p
	}
	return id.Description()
}

// Identifiers returns the 18 Safe Harbor identifiers in regulation order (a fresh slice).
func Identifiers() []Identifier {
	out := make([]Identifier, 0, OtherUniqueID)
	for id := Name; id <= OtherUniqueID; id++ {
		out = append(out, id)
	}
	return out
}

// ParseIdentifier is the inverse of String; it also accepts the paragraph letter, with or
// without parentheses ("G", "(G)").
func ParseIdentifier(s string) (Identifier, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for id := Name; id <= HealthInfo; id++ {
		p := strings.ToLower(identifierInfo[id].paragraph)
		if t == identifierInfo[id].name || (p != "" && (t == p || t == strings.Trim(p, "()"))) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("healthcare: unknown identifier %q", s)
}

// MarshalText encodes the identifier as its String form.
func (id Identifier) MarshalText() ([]byte, error) {
	if !id.valid() {
		return nil, fmt.Errorf("healthcare: cannot marshal identifier(%d)", int(id))
	}
	return []byte(id.String()), nil
}

// UnmarshalText decodes the String form.
func (id *Identifier) UnmarshalText(b []byte) error {
	v, err := ParseIdentifier(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
