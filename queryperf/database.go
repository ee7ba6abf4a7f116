package queryperf

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

// DatabaseOptions tune AnalyzeDatabase.
type DatabaseOptions struct {
	// Options tune the analyzer; a planner is made on the connection when Planner is nil
	// (unless queryAnalyzer.enableQueryPlan is false).
	Options
	// Source gives the statements (nil Inputs: pg_stat_statements) and the snapshot.
	workload.Source
}

// NoWorkloadError says there was nothing to analyse: no statements were given and
// pg_stat_statements cannot be read.
type NoWorkloadError struct{ Reason string }

func (e *NoWorkloadError) Error() string { return "there is no workload to analyse: " + e.Reason }

// AnalyzeDatabase is what `pgmedic queries` does, as one call: it collects a snapshot on
// conn (a read-only session is enough), plans the statements on the same session, and
// analyses the workload: pg_stat_statements, or opts.Inputs.
func AnalyzeDatabase(ctx context.Context, conn *pgx.Conn, cfg *config.Profile, opts DatabaseOptions) (*Result, error) {
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	snap, inputs, fromStats, err := opts.Open(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("queryperf: %w", err)
	}
	if fromStats && !snap.Workload.Available {
		return nil, &NoWorkloadError{Reason: snap.Workload.Reason}
	}
	if opts.Planner == nil && cfg.QueryAnalyzer.EnableQueryPlan {
		p, err := explain.New(ctx, conn)
		if err != nil {
			return nil, err
		}
		opts.Planner = p
	}
	a, err := New(cfg, snap, opts.Options)
	if err != nil {
		return nil, err
	}
	return a.AnalyzeSeq(ctx, inputs)
}

// Shown is the top statements by total time, as reports show them.
func (r *Result) Shown(top int) []*StatementResult {
	if top <= 0 || top >= len(r.Statements) {
		return r.Statements
	}
	return r.Statements[:top]
}

// Report is the report input for the top statements: their findings, the coverage, and
// each statement's grade (or why it has none) as notes.
func (r *Result) Report(top int) *report.Input {
	shown := r.Shown(top)
	keep := map[string]bool{}
	for _, s := range shown {
		keep["query "+s.Fingerprint] = true
	}
	var fs []finding.Finding
	for _, f := range r.Findings {
		if keep[f.Object] {
			fs = append(fs, f)
		}
	}
	snap := r.snap
	if snap == nil {
		snap = &snapshot.Snapshot{}
	}
	in := report.FromSnapshot(snap, fs, RuleInfos(), nil)
	in.TableSizes = nil
	in.TopStatements = nil
	in.Notes = append(in.Notes, r.Coverage.Sentence())
	for _, s := range shown {
		in.TopStatements = append(in.TopStatements, report.StatementTime{Query: s.Query, Calls: s.Calls, TotalMs: s.TotalMs, MeanMs: s.MeanMs})
		if s.Score == nil {
			why := s.NotPlanned
			if why == "" {
				why = r.Coverage.Off
			}
			in.Notes = append(in.Notes, fmt.Sprintf("Not planned (%s): %s", why, display.Shorten(s.Query, 120)))
			continue
		}
		in.Notes = append(in.Notes, fmt.Sprintf("Grade %s (%d): %s", s.Grade, *s.Score, display.Shorten(s.Query, 120)))
	}
	return in
}
