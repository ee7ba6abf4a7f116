package compliance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
)

// Status of one audit check.
type Status string

// Check outcomes. Unknown is what a role that cannot see the evidence gets: never a pass.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
	// NotApplicable: nothing to check (no PHI table, no audit table).
	NotApplicable Status = "n/a"
	// Disabled: switched off by compliance.disabled; left out of the score.
	Disabled Status = "disabled"
)

// Check is one declared audit check.
type Check struct {
	ID        string
	Standard  finding.HIPAARule
	Paragraph string // the implementation specification, e.g. "164.312(a)(2)(iii)"
	Title     string
	Severity  finding.Severity
	Needs     []string // fact parts it reads; any unknown makes the check unknown
	// Attestation names the manual safeguard the configuration may attest instead of SQL.
	Attestation string
	Fix         string // what to do, one sentence
	Run         func(*Facts) Outcome
}

// Outcome is what a check found.
type Outcome struct {
	Status  Status   `json:"status"`
	Detail  string   `json:"detail,omitempty"`
	Objects []string `json:"objects,omitempty"`
}

func pass(detail string) Outcome { return Outcome{Status: Pass, Detail: detail} }

func failOn(objects []string, format string, args ...any) Outcome {
	if len(objects) == 0 {
		return Outcome{Status: Pass}
	}
	sort.Strings(objects)
	return Outcome{Status: Fail, Detail: fmt.Sprintf(format, args...), Objects: objects}
}

func failIf(bad bool, detail string) Outcome {
	if bad {
		return Outcome{Status: Fail, Detail: detail}
	}
	return Outcome{Status: Pass, Detail: detail}
}

// Result is one check's outcome with its declaration.
type Result struct {
	ID        string           `json:"id"`
	Paragraph string           `json:"paragraph"`
	Title     string           `json:"title"`
	Severity  finding.Severity `json:"severity"`
	Outcome
	Fix string `json:"fix,omitempty"`
}

// Evaluate runs every check on the facts; disabled ones are reported, not run.
func Evaluate(f *Facts, disabled []string) []Result {
	off := map[string]bool{}
	for _, d := range disabled {
		off[strings.TrimPrefix(d, "hipaa.")] = true
	}
	var out []Result
	for _, c := range Checks() {
		if off[c.ID] {
			out = append(out, Result{ID: c.ID, Paragraph: c.Paragraph, Title: c.Title, Severity: c.Severity, Fix: c.Fix,
				Outcome: Outcome{Status: Disabled, Detail: "switched off by compliance.disabled"}})
			continue
		}
		out = append(out, c.evaluate(f))
	}
	return out
}

// ValidateDisabled checks compliance.disabled entries against the audit's check ids.
func ValidateDisabled(ids []string) error {
	known := map[string]bool{}
	for _, c := range Checks() {
		known[c.ID] = true
	}
	for _, d := range ids {
		if !known[strings.TrimPrefix(d, "hipaa.")] {
			return fmt.Errorf("compliance.disabled: %q names no audit check", d)
		}
	}
	return nil
}

func (c Check) evaluate(f *Facts) Result {
	r := Result{ID: c.ID, Paragraph: c.Paragraph, Title: c.Title, Severity: c.Severity, Fix: c.Fix}
	if c.Attestation != "" {
		if f.Attested[c.Attestation] {
			r.Outcome = pass("attested in the configuration (compliance.attestations: " + c.Attestation + ")")
		} else {
			r.Outcome = Outcome{Status: Unknown, Detail: "not visible from SQL; attest it with compliance.attestations: " + c.Attestation}
		}
		return r
	}
	var missing []string
	for _, n := range c.Needs {
		if p, ok := f.part(n); !ok {
			missing = append(missing, n+" ("+p.Reason+")")
		}
	}
	if len(missing) > 0 {
		r.Outcome = Outcome{Status: Unknown, Detail: "could not read " + strings.Join(missing, ", ")}
		return r
	}
	r.Outcome = c.Run(f)
	return r
}

// Findings turns failed and unknown checks into findings for the report formats.
func Findings(results []Result) []finding.Finding {
	var out []finding.Finding
	for _, r := range results {
		if r.Status != Fail && r.Status != Unknown {
			continue
		}
		f := finding.Finding{
			ID: finding.MakeID("hipaa."+r.ID, ""), Check: "hipaa." + r.ID, Area: "safeguards",
			Severity: r.Severity, Status: finding.Open, Title: r.Title,
			Detail: r.Detail, Recommendation: r.Fix, References: []finding.Reference{ruleOf(r.ID)},
		}
		if len(r.Objects) > 0 {
			f.Object = strings.Join(r.Objects, ", ")
		}
		if r.Status == Unknown {
			f.Status = finding.Unknown
		}
		out = append(out, f)
	}
	finding.Sort(out)
	return out
}

func ruleOf(id string) finding.Reference {
	for _, c := range Checks() {
		if c.ID == id {
			return finding.HIPAARef(c.Standard)
		}
	}
	return finding.HIPAARef(0)
}
