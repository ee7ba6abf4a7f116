package queryperf

import (
	"github.com/pgmedic/pgmedic/finding"
)

// grade scores a statement from 100 down: its share of the workload's time, its
// findings, and its healthcare impact (patient-facing statements are held to the
// patient response-time target). A ≥ 90, B ≥ 80, C ≥ 65, D ≥ 50, F below.
func grade(a *Analyzer, sr *StatementResult) {
	score := 100
	switch {
	case sr.SharePct >= 20:
		score -= 20
	case sr.SharePct >= 10:
		score -= 10
	case sr.SharePct >= 5:
		score -= 5
	}
	penalty := 0
	for _, f := range sr.Findings {
		switch f.Severity {
		case finding.Critical:
			penalty += 40
		case finding.High:
			penalty += 25
		case finding.Medium:
			penalty += 12
		case finding.Low:
			penalty += 4
		}
	}
	if penalty > 60 {
		penalty = 60
	}
	score -= penalty
	slow := float64(a.cfg.QueryAnalyzer.SlowQueryThreshold.Milliseconds())
	patient := float64(a.cfg.QueryAnalyzer.PatientResponseTime.Milliseconds())
	if sr.Calls > 0 {
		if sr.Patient && sr.MeanMs >= patient {
			score -= 30
		} else if sr.Patient && sr.MaxMs >= patient {
			score -= 10
		}
		if sr.MeanMs >= slow {
			score -= 15
		}
	}
	if score < 0 {
		score = 0
	}
	sr.Score = &score
	switch {
	case score >= 90:
		sr.Grade = "A"
	case score >= 80:
		sr.Grade = "B"
	case score >= 65:
		sr.Grade = "C"
	case score >= 50:
		sr.Grade = "D"
	default:
		sr.Grade = "F"
	}
}
