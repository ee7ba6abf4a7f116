package health

import (
	"fmt"

	"github.com/pgmedic/pgmedic/finding"
)

// FixPlan gathers the fixes of a check's open findings (of one object, when object is
// not empty) into one plan, and counts the findings it found with and without one.
func FixPlan(findings []finding.Finding, check, object string) (plan *finding.Plan, fixable, manual int) {
	plan = &finding.Plan{}
	for _, f := range findings {
		if f.Check != check || f.Status != finding.Open || object != "" && f.Object != object {
			continue
		}
		if f.Fix == nil || len(f.Fix.Steps) == 0 {
			manual++
			continue
		}
		fixable++
		plan.Steps = append(plan.Steps, f.Fix.Steps...)
	}
	plan.Summary = fmt.Sprintf("fix %d finding(s) of %s", fixable, check)
	return plan, fixable, manual
}

// IsCheck reports whether id names a health check.
func IsCheck(id string) bool {
	for _, c := range Checks() {
		if c.ID == id {
			return true
		}
	}
	return false
}
