// Package checkup is what `pgmedic check` does, as one call: the health checks and the
// query analysis on a snapshot, merged into one sorted list of findings, with the
// report input ready to render.
//
//	res, err := checkup.Check(ctx, conn, cfg, checkup.Options{})
//	report.Write(os.Stdout, report.Text, res.Report, report.Options{})
package checkup

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Options tune a check-up.
type Options struct {
	// Baseline is an earlier snapshot of the same database, for growth and rates.
	Baseline *snapshot.Snapshot
	// Planner lets the query analysis plan the workload's statements (Check makes one).
	Planner *explain.Planner
	// Snapshot tunes the collection Check makes.
	Snapshot snapshot.Options
	// Compliance is a HIPAA audit to include (Check runs one on a live database when
	// queryAnalyzer.enableHealthcareCompliance is on); nil leaves the section out.
	Compliance *compliance.Report
}

// Result is a check-up's findings and the report input that renders them.
type Result struct {
	Findings []finding.Finding
	Report   *report.Input
	// Queries is the query analysis, nil when the snapshot has no workload.
	Queries *queryperf.Result
	// Compliance is the HIPAA audit, when one ran (Options.Compliance).
	Compliance *compliance.Report
}

// Check collects a snapshot on conn (a read-only session is enough), plans the
// workload's statements on it, and analyses both.
func Check(ctx context.Context, conn *pgx.Conn, cfg *config.Profile, opts Options) (*Result, error) {
	snap, err := snapshot.Collect(ctx, conn, opts.Snapshot)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	if opts.Compliance == nil && cfg.QueryAnalyzer.EnableHealthcareCompliance {
		if cfg, opts.Compliance, err = Comply(ctx, conn, cfg); err != nil {
			return nil, err
		}
	}
	if opts.Planner == nil && snap.Workload.Available && cfg.QueryAnalyzer.EnableQueryPlan {
		if opts.Planner, err = explain.New(ctx, conn); err != nil {
			return nil, err
		}
	}
	return Analyse(ctx, cfg, snap, opts)
}

// Analyse runs the health checks and the query analysis (with plans when a planner is
// given) on a snapshot. Configuration errors come back as *health.OverrideError or the
// healthcare classifier's error.
func Analyse(ctx context.Context, cfg *config.Profile, snap *snapshot.Snapshot, opts Options) (*Result, error) {
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	cls, err := healthcare.New(cfg.Healthcare)
	if err != nil {
		return nil, fmt.Errorf("healthcare configuration: %w", err)
	}
	fs, err := health.Run(snap, health.Options{Config: cfg, Baseline: opts.Baseline, Classifier: cls, OtherChecks: queryperf.KnownRules()})
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if snap.Workload.Available {
		an, err := queryperf.New(cfg, snap, queryperf.Options{Planner: opts.Planner, Classifier: cls})
		if err != nil {
			return nil, err
		}
		if res.Queries, err = an.Analyze(ctx); err != nil {
			return nil, err
		}
		for _, f := range res.Queries.Findings {
			// health's statements.slow already reports slow statements.
			if f.Check != "query.slow" {
				fs = append(fs, f)
			}
		}
		finding.Sort(fs)
	}
	checks := Checks(cfg)
	var notes []string
	if c := opts.Compliance; c != nil {
		fs = append(fs, compliance.Findings(c.Results())...)
		finding.Sort(fs)
		checks = append(checks, compliance.CheckInfos()...)
		notes = c.Notes()
		res.Compliance = c
	}
	res.Findings = fs
	res.Report = report.FromSnapshot(snap, fs, checks, PHITables(snap, cls))
	res.Report.Notes = append(res.Report.Notes, notes...)
	if opts.Baseline != nil {
		res.Report.Notes = append(res.Report.Notes, fmt.Sprintf("Compared with a snapshot taken %s earlier (%s).",
			snap.CollectedAt.Sub(opts.Baseline.CollectedAt).Round(time.Minute), opts.Baseline.CollectedAt.Format(time.RFC3339)))
	}
	return res, nil
}

// Comply discovers the PHI on conn (sampling values read-only) and audits the HIPAA
// technical safeguards. The returned profile adds the discovered PHI columns and tables
// to cfg's healthcare section, so the health checks and query rules see them too.
func Comply(ctx context.Context, conn *pgx.Conn, cfg *config.Profile) (*config.Profile, *compliance.Report, error) {
	disc, err := compliance.Discover(ctx, conn, cfg.Healthcare, compliance.DiscoverOptions{})
	if err != nil {
		return cfg, nil, fmt.Errorf("PHI discovery: %w", err)
	}
	rep, err := compliance.Audit(ctx, conn, cfg, compliance.AuditOptions{Discovery: disc})
	if err != nil {
		return cfg, nil, err
	}
	enriched := *cfg
	enriched.Healthcare = disc.Healthcare(cfg.Healthcare)
	return &enriched, rep, nil
}

// Checks describes every health check and query rule for reports.
func Checks(cfg *config.Profile) []report.CheckInfo {
	var out []report.CheckInfo
	for _, c := range health.List(cfg) {
		out = append(out, report.CheckInfo{ID: c.ID, Area: c.Area, Title: c.Title, Description: c.Description,
			Severity: c.Severity, References: c.References})
	}
	return append(out, queryperf.RuleInfos()...)
}

// PHITables names the snapshot's tables the classifier takes for PHI.
func PHITables(snap *snapshot.Snapshot, cls *healthcare.Classifier) map[string]bool {
	phi := map[string]bool{}
	for _, t := range snap.Tables {
		in := healthcare.TableInput{Schema: t.Schema, Name: t.Name}
		for _, c := range t.Columns {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		if cls.Table(in).PHI {
			phi[t.QualifiedName()] = true
		}
	}
	return phi
}
