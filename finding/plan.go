package finding

import (
	"fmt"
	"strings"
)

// Plan is an ordered list of SQL steps that fixes a finding. Steps are written to be
// idempotent (IF NOT EXISTS, IF EXISTS, checks before changes), so a plan that was
// interrupted can be run again from the start.
type Plan struct {
	Summary string `json:"summary"`
	Steps   []Step `json:"steps"`
}

// Step is one statement of a plan.
type Step struct {
	Description string `json:"description"`
	SQL         string `json:"sql"`
	// Lock names the strongest table lock the step takes (e.g. "SHARE UPDATE
	// EXCLUSIVE"), so an operator can judge when to run it.
	Lock string `json:"lock,omitempty"`
	// NoTransaction is set for statements that cannot run inside a transaction block
	// (CREATE INDEX CONCURRENTLY, VACUUM, ALTER SYSTEM).
	NoTransaction bool `json:"no_transaction,omitempty"`
	// Long marks steps whose duration grows with table size (progress is reported).
	Long bool `json:"long,omitempty"`
}

// SQL renders the plan as a script with each step's description as a comment.
func (p *Plan) SQL() string {
	var b strings.Builder
	if p.Summary != "" {
		fmt.Fprintf(&b, "-- %s\n", p.Summary)
	}
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "-- step %d: %s", i+1, s.Description)
		if s.Lock != "" {
			fmt.Fprintf(&b, " (takes %s)", s.Lock)
		}
		b.WriteString("\n")
		sql := strings.TrimSpace(s.SQL)
		if !strings.HasSuffix(sql, ";") {
			sql += ";"
		}
		b.WriteString(sql + "\n")
	}
	return b.String()
}
