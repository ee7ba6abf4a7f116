package finding

// References every engine cites are made here, so a title or an address is written
// once.

// DocsRef cites a page of the current PostgreSQL documentation (page may carry an
// #anchor).
func DocsRef(page, title string) Reference {
	return Reference{Title: "PostgreSQL documentation: " + title, URL: "https://www.postgresql.org/docs/current/" + page}
}

// HIPAARule is a section of the HIPAA Security or Privacy Rule a finding can cite.
type HIPAARule int

// The sections pgmedic cites.
const (
	AccessControl        HIPAARule = iota + 1 // 164.312(a)(1)
	AuditControls                             // 164.312(b)
	Integrity                                 // 164.312(c)(1)
	Authentication                            // 164.312(d)
	TransmissionSecurity                      // 164.312(e)(1)
	MinimumNecessary                          // 164.502(b)
)

// HIPAARef cites a section of 45 CFR Part 164 in the eCFR.
func HIPAARef(r HIPAARule) Reference {
	section, para, title := "164.312", "", ""
	switch r {
	case AccessControl:
		para, title = "(a)(1)", "access control"
	case AuditControls:
		para, title = "(b)", "audit controls"
	case Integrity:
		para, title = "(c)(1)", "integrity"
	case Authentication:
		para, title = "(d)", "person or entity authentication"
	case TransmissionSecurity:
		para, title = "(e)(1)", "transmission security"
	case MinimumNecessary:
		section, para, title = "164.502", "(b)", "minimum necessary"
	default:
		return Reference{Title: "HIPAA 45 CFR Part 164", URL: "https://www.ecfr.gov/current/title-45/part-164"}
	}
	return Reference{Title: "HIPAA 45 CFR " + section + para + " " + title,
		URL: "https://www.ecfr.gov/current/title-45/section-" + section + "#p-" + section + para}
}
