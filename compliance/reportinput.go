package compliance

import (
	"fmt"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/snapshot"
)

// CheckInfos describes the audit checks for the report formats.
func CheckInfos() []report.CheckInfo {
	var out []report.CheckInfo
	for _, c := range Checks() {
		out = append(out, report.CheckInfo{ID: "hipaa." + c.ID, Area: "safeguards", Title: c.Title,
			Description: c.Paragraph + ": " + c.Fix, Severity: c.Severity,
			References: []finding.Reference{finding.HIPAARef(c.Standard)}})
	}
	return out
}

// Notes are the score lines a report shows near the top.
func (r *Report) Notes() []string {
	notes := []string{r.Summary()}
	for _, s := range r.Standards {
		notes = append(notes, fmt.Sprintf("%s %s: %.1f", s.Paragraph, s.Title, s.Score))
	}
	return notes
}

// Input builds the input of the HTML and SARIF formats: failed and unknown checks become
// findings, and the score goes into the notes.
func (r *Report) Input(tool string) *report.Input {
	in := &report.Input{Tool: tool, CollectedAt: r.Collected, Findings: Findings(r.Results()),
		Checks: CheckInfos(), Notes: r.Notes()}
	for _, p := range r.Parts {
		in.Parts = append(in.Parts, snapshot.Part{Name: "hipaa." + p.Name, DurationMs: p.DurationMs, Status: p.Status, Reason: p.Reason})
	}
	return in
}
