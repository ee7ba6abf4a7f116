package compliance

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
)

// CriticalCap is the most a database with any failed critical check can score.
const CriticalCap = 50

// weight of a check in its standard's score, by severity.
func weight(s finding.Severity) float64 {
	switch s {
	case finding.Critical:
		return 10
	case finding.High:
		return 5
	case finding.Medium:
		return 3
	case finding.Low:
		return 1
	}
	return 0
}

// Standard is one 164.312 standard with its score and checks.
type Standard struct {
	Paragraph string   `json:"paragraph"`
	Title     string   `json:"title"`
	Score     float64  `json:"score"`
	Checks    []Result `json:"checks"`
}

// Report is the audit: the score, each standard, and the discovery summary.
type Report struct {
	Score float64 `json:"score"`
	// Capped: a critical check failed, so Score is at most CriticalCap.
	Capped     bool       `json:"capped"`
	Standards  []Standard `json:"standards"`
	PHIColumns int        `json:"phi_columns"`
	PHITables  []string   `json:"phi_tables"`
	Unknown    int        `json:"unknown_checks"`
	Disabled   int        `json:"disabled_checks"`
	Parts      []Part     `json:"parts"`
	Collected  time.Time  `json:"collected_at"`
	User       string     `json:"user"`
}

// Failed returns the failed checks.
func (r *Report) Failed() []Result {
	var out []Result
	for _, s := range r.Standards {
		for _, c := range s.Checks {
			if c.Status == Fail {
				out = append(out, c)
			}
		}
	}
	return out
}

// Results returns every check's result in declaration order.
func (r *Report) Results() []Result {
	var out []Result
	for _, s := range r.Standards {
		out = append(out, s.Checks...)
	}
	return out
}

// standards lists the five 164.312 standards in the regulation's order.
func standards() []struct {
	rule      finding.HIPAARule
	paragraph string
	title     string
} {
	return []struct {
		rule      finding.HIPAARule
		paragraph string
		title     string
	}{
		{finding.AccessControl, "164.312(a)", "Access control"},
		{finding.AuditControls, "164.312(b)", "Audit controls"},
		{finding.Integrity, "164.312(c)", "Integrity"},
		{finding.Authentication, "164.312(d)", "Person or entity authentication"},
		{finding.TransmissionSecurity, "164.312(e)", "Transmission security"},
	}
}

// Score groups results by standard and scores them: per standard, the weight of passed
// checks over the weight of checks that apply (unknown counts against: what cannot be
// seen cannot be credited; unattested manual safeguards are left out); overall, the
// mean of the five standards, capped at CriticalCap by any failed critical check.
func Score(results []Result) (float64, bool, []Standard) {
	byRule := map[string]finding.HIPAARule{}
	manual := map[string]bool{}
	for _, c := range Checks() {
		byRule[c.ID] = c.Standard
		manual[c.ID] = c.Attestation != ""
	}
	var out []Standard
	capped := false
	total := 0.0
	for _, st := range standards() {
		s := Standard{Paragraph: st.paragraph, Title: st.title}
		var got, max float64
		for _, r := range results {
			if byRule[r.ID] != st.rule {
				continue
			}
			s.Checks = append(s.Checks, r)
			w := weight(r.Severity)
			switch {
			case r.Status == Pass:
				got += w
				max += w
			case r.Status == Fail:
				max += w
				capped = capped || r.Severity == finding.Critical
			case r.Status == Unknown && !manual[r.ID]:
				max += w
			}
		}
		s.Score = 100
		if max > 0 {
			s.Score = math.Round(1000*got/max) / 10
		}
		total += s.Score
		out = append(out, s)
	}
	score := math.Round(10*total/float64(len(out))) / 10
	if capped {
		score = math.Min(score, CriticalCap)
	}
	return score, capped, out
}

// AuditOptions tune an audit.
type AuditOptions struct {
	Discover DiscoverOptions
	// Discovery, when set, is used instead of running discovery again.
	Discovery *Discovery
}

// Audit discovers the PHI, collects the facts, runs the checks and scores them: `pgmedic
// comply` in one call. It only reads.
func Audit(ctx context.Context, conn *pgx.Conn, cfg *config.Profile, opts AuditOptions) (*Report, error) {
	disc := opts.Discovery
	if disc == nil {
		var err error
		if disc, err = Discover(ctx, conn, cfg.Healthcare, opts.Discover); err != nil {
			return nil, fmt.Errorf("PHI discovery: %w", err)
		}
	}
	facts := Collect(ctx, conn, disc, cfg.Compliance.Attestations)
	if err := ValidateDisabled(cfg.Compliance.Disabled); err != nil {
		return nil, err
	}
	results := Evaluate(facts, cfg.Compliance.Disabled)
	r := &Report{PHIColumns: len(disc.PHIColumns()), PHITables: disc.PHITables(), Parts: facts.Parts,
		Collected: facts.Collected, User: facts.User}
	r.Score, r.Capped, r.Standards = Score(results)
	for _, res := range results {
		switch res.Status {
		case Unknown:
			r.Unknown++
		case Disabled:
			r.Disabled++
		}
	}
	return r, nil
}
