package workload

import (
	"fmt"
	"math"
	"sort"
)

// Coverage says how much of a workload was planned. Shares are of execution time when
// the inputs carry it, else of calls.
type Coverage struct {
	Statements int `json:"statements"`
	Planned    int `json:"planned"`
	// NotPlanned could have a plan but pgmedic could not get one; NoPlan have none of
	// their own (COPY of a table, CALL, DO, EXECUTE, FETCH).
	NotPlanned int `json:"not_planned"`
	NoPlan     int `json:"no_plan"`
	// Measure is "time" or "calls": what the shares are shares of.
	Measure string `json:"measure"`
	// StatementsPct is the share of the statements that can have a plan that got one;
	// PlannedPct the same for their time (or calls).
	StatementsPct float64 `json:"statements_planned_pct"`
	PlannedPct    float64 `json:"planned_pct"`
	NoPlanPct     float64 `json:"no_plan_pct"`
	// Left lists the largest statements left unplanned, with their reasons.
	Left []Left `json:"left_out"`
	// Off says why no statement was planned at all (no planner, or planning switched
	// off in the configuration); the other fields are then zero.
	Off string `json:"planning_off,omitempty"`
}

// Sentence says how much of the workload was planned, for the first line of a report,
// so a reader knows how much the grades and advice speak for.
func (c Coverage) Sentence() string {
	if c.Off != "" {
		return fmt.Sprintf("No statement was planned: %s.", c.Off)
	}
	measure := "calls"
	if c.Measure == "time" {
		measure = "time"
	}
	line := fmt.Sprintf("Planned %.1f%% of the workload's %s (%d of %d statements that can have a plan)",
		c.PlannedPct, measure, c.Planned, c.Planned+c.NotPlanned)
	if c.NoPlan > 0 {
		line += fmt.Sprintf("; %d statements (%.1f%%) have no plan of their own", c.NoPlan, c.NoPlanPct)
	}
	return line + "."
}

// Left is a statement that was not planned.
type Left struct {
	Query    string  `json:"query"`
	Reason   string  `json:"reason"`
	SharePct float64 `json:"share_pct"`
	Calls    int64   `json:"calls"`
	TotalMs  float64 `json:"total_ms"`
}

// MeasureCoverage computes the coverage of statements after planning (Prepare decides
// what counts as planned). maxLeft bounds the list of statements left out.
func MeasureCoverage(stmts []*Statement, maxLeft int) Coverage {
	c := Coverage{Measure: "calls", Left: []Left{}}
	weight := func(s *Statement) float64 { return float64(max(s.Stats.Calls, 1)) }
	for _, s := range stmts {
		if s.Stats.TotalMs > 0 {
			c.Measure = "time"
			weight = func(s *Statement) float64 { return s.Stats.TotalMs }
			break
		}
	}
	var total, planned, noPlan float64
	var left []Left
	for _, s := range stmts {
		w := weight(s)
		total += w
		c.Statements++
		switch {
		case s.Planned():
			c.Planned++
			planned += w
		case s.NaturallyPlanless():
			c.NoPlan++
			noPlan += w
		default:
			c.NotPlanned++
			left = append(left, Left{Query: s.Display, Reason: s.Reason(), SharePct: w, Calls: s.Stats.Calls, TotalMs: s.Stats.TotalMs})
		}
	}
	c.StatementsPct, c.PlannedPct = 100, 100
	if n := c.Planned + c.NotPlanned; n > 0 {
		c.StatementsPct = round1(100 * float64(c.Planned) / float64(n))
	}
	if t := total - noPlan; t > 0 {
		c.PlannedPct = round1(100 * planned / t)
	}
	if total > 0 {
		c.NoPlanPct = round1(100 * noPlan / total)
	}
	sort.SliceStable(left, func(i, j int) bool { return left[i].SharePct > left[j].SharePct })
	if len(left) > maxLeft {
		left = left[:maxLeft]
	}
	for i := range left {
		if total > 0 {
			left[i].SharePct = round1(100 * left[i].SharePct / total)
		}
	}
	c.Left = append(c.Left, left...)
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
