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
	// Kind sets the step's statement_timeout: "index" and "maintenance" steps take as
	// long as the table needs, "ddl" and "setting" steps are quick (see change.Timeouts).
	Kind string `json:"kind,omitempty"`
	// Check is SQL returning one boolean, true when the step's effect is already in
	// place: the step is then skipped, which makes every plan safe to run again.
	Check string `json:"check,omitempty"`
	// Verify is SQL returning one boolean, true when the step worked (default: Check).
	Verify string `json:"verify,omitempty"`
	// Cleanup removes what an interrupted or failed attempt left behind (an INVALID
	// index from a concurrent build); CleanupCheck is SQL returning true when there is
	// something to remove.
	Cleanup      string `json:"cleanup,omitempty"`
	CleanupCheck string `json:"cleanup_check,omitempty"`
	// Undo reverses the step where that is possible.
	Undo string `json:"undo,omitempty"`
	// Progress names the pg_stat_progress_ view that follows the step ("create_index",
	// "vacuum", "analyze", "cluster").
	Progress string `json:"progress,omitempty"`
	// Object is what the step changes (schema.table, schema.index), for the audit log.
	Object string `json:"object,omitempty"`
	// EstimateSeconds is how long the step is expected to take, 0 when unknown.
	EstimateSeconds float64 `json:"estimate_seconds,omitempty"`
	// Runner names a Go function registered with the executor (change.Options.Runners)
	// that carries out a step too long or too conditional for one statement (a batched
	// copy); SQL then describes what it does, for the dry run and the audit log.
	Runner string `json:"runner,omitempty"`
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
		if s.EstimateSeconds > 0 {
			fmt.Fprintf(&b, " (about %s)", humanSeconds(s.EstimateSeconds))
		}
		if s.Check != "" {
			b.WriteString("; skipped when already done")
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

// humanSeconds writes a duration estimate: "5 s", "3 min", "2.5 h".
func humanSeconds(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.0f s", max(s, 1))
	case s < 3600:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}
