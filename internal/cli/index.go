package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/workload"
)

type adviseFlags struct {
	format    string
	output    string
	file      string
	weight    string
	noPresets bool
}

func (a *app) indexCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Recommend indexes for the whole workload and build them safely",
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.adviseCommand(), a.applyCommand())
	return cmd
}

func (a *app) adviseCommand() *cobra.Command {
	var f adviseFlags
	cmd := &cobra.Command{
		Use:   "advise",
		Short: "Choose the indexes that serve the workload best (HypoPG-verified)",
		Long: `advise proposes index candidates from every statement of the workload (equality
columns first, most selective first, then a range column or the sort keys; join
keys; lower(col) expressions; partial indexes for constant predicates on
low-cardinality columns; INCLUDE columns for index-only scans), measures each with
HypoPG hypothetical indexes on one session (nothing is written), and picks the
fewest indexes that give most of the benefit across the workload, within
indexOptimizer.maxIndexesPerTable, maxStorageBytes and minImprovementPct, counting
the writes each index adds. It also lists indexes to drop: invalid, duplicate,
prefix-redundant, unused, and ones a recommended index replaces.

The database needs the hypopg extension (CREATE EXTENSION hypopg).`,
		Example: `  pgmedic index advise --dsn postgres://me@localhost/claims
  pgmedic index advise --format json --output advice.json
  pgmedic index advise --format sql | psql`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.advise(f) },
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "text, json or sql")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&f.file, "file", "", "advise for the statements in this SQL file or server log instead of pg_stat_statements")
	cmd.Flags().StringVar(&f.weight, "weight", "auto", "how statements are weighed: time (measured execution time), calls (plan cost × calls), equal, or auto (time when measured)")
	cmd.Flags().BoolVar(&f.noPresets, "no-presets", false, "leave out the healthcare access-path templates")
	return cmd
}

func (a *app) advise(f adviseFlags) error {
	switch f.format {
	case "text", "json", "sql":
	default:
		return usageErrorf("--format must be text, json or sql, got %q", f.format)
	}
	switch f.weight {
	case "auto", "time", "calls", "equal":
	default:
		return usageErrorf("--weight must be auto, time, calls or equal, got %q", f.weight)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	adv, err := a.computeAdvice(cfg, a.dsn, f)
	if err != nil {
		return err
	}
	return a.writeTo(f.output, func(w io.Writer) error { return writeAdvice(w, f.format, adv) })
}

func (a *app) computeAdvice(cfg *config.Profile, dsn string, f adviseFlags) (*indexadvisor.Advice, error) {
	var file *statementFile
	if f.file != "" {
		var err error
		if file, err = a.openStatements(f.file); err != nil {
			return nil, err
		}
	}
	sess, err := a.openAnalysis(cfg, dsn, false)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	if file == nil && !sess.snap.Workload.Available {
		a.logf("pgmedic: warning: %s; advising from the healthcare presets alone (--file takes the application's SQL or a server log instead)", sess.snap.Workload.Reason)
	}
	opts := indexadvisor.DatabaseOptions{Source: workload.Source{Snapshot: sess.snap}, Options: indexadvisor.Options{Planner: sess.planner,
		Weight: f.weight, Progress: func(msg string) { a.logf("%s", msg) }}}
	if f.noPresets {
		off := false
		opts.Presets = &off
	}
	if file != nil {
		opts.Inputs = file.inputs(a)
	}
	res, err := indexadvisor.AdviseDatabase(a.ctx, sess.conn, cfg, opts)
	if err == nil && file != nil {
		err = file.finish(a)
	}
	if errors.Is(err, indexadvisor.ErrNoHypoPG) {
		return nil, &jobError{msg: err.Error(), err: err,
			hint: "run CREATE EXTENSION hypopg in the database (Debian: postgresql-15-hypopg); it only adds functions, and hypothetical indexes live in pgmedic's session"}
	}
	if errors.Is(err, indexadvisor.ErrCannotRead) {
		return nil, &jobError{msg: err.Error(), err: err,
			hint: "EXPLAIN needs SELECT on the tables: connect as the application's role, or grant pg_read_all_data (or SELECT on the schema's tables) to this one"}
	}
	if err != nil {
		return nil, err
	}
	a.logf("evaluated %d candidates over %d statements with %d plans in %.1fs; workload cost %.0f -> %.0f (-%.1f%%)",
		res.Stats.Candidates, res.Stats.Statements, res.Stats.Evaluations, res.Stats.Seconds, res.Stats.BaselineCost, res.Stats.FinalCost, res.Stats.ImprovementPct)
	if w := coverageWarning(res.Coverage); w != "" {
		a.logf("pgmedic: warning: %s", w)
	}
	return res, nil
}

func writeAdvice(w io.Writer, format string, adv *indexadvisor.Advice) error {
	if format == "text" {
		w = display.NewWriter(w)
	}
	switch format {
	case "json":
		return writeJSON(w, adv)
	case "sql":
		fmt.Fprintln(w, "-- pgmedic index advice: run each statement on its own (not inside a transaction block)")
		for _, r := range adv.Recommendations {
			fmt.Fprintf(w, "%s;\n", r.SQL)
		}
		for _, d := range adv.Drops {
			fmt.Fprintf(w, "%s;\n", d.SQL)
		}
		return nil
	}
	fmt.Fprintln(w, adv.Coverage.Sentence())
	if warn := coverageWarning(adv.Coverage); warn != "" {
		fmt.Fprintf(w, "Warning: %s\n", warn)
	}
	fmt.Fprintln(w)
	if len(adv.Recommendations) == 0 {
		fmt.Fprintln(w, "No new indexes would pay for themselves on this workload.")
	} else {
		fmt.Fprintf(w, "Recommended indexes (%d); workload cost %.0f -> %.0f (-%.1f%%):\n\n", len(adv.Recommendations),
			adv.Stats.BaselineCost, adv.Stats.FinalCost, adv.Stats.ImprovementPct)
	}
	for i, r := range adv.Recommendations {
		fmt.Fprintf(w, "%2d. %s;\n", i+1, r.SQL)
		fmt.Fprintf(w, "    about %s; cost of the statements it serves %.0f -> %.0f (-%.1f%%)", finding.HumanBytes(r.EstimatedSizeBytes), r.CostBefore, r.CostAfter, r.ImprovementPct)
		if len(r.Sources) > 0 {
			fmt.Fprintf(w, "; from %s", strings.Join(r.Sources, ", "))
		}
		fmt.Fprintln(w)
		for _, s := range r.Statements {
			fmt.Fprintf(w, "      serves: %s\n", display.Shorten(s, 110))
		}
		if len(r.Replaces) > 0 {
			fmt.Fprintf(w, "      replaces: %s\n", strings.Join(r.Replaces, ", "))
		}
		if r.Note != "" {
			fmt.Fprintf(w, "      note: %s\n", r.Note)
		}
	}
	if len(adv.PassedOver) > 0 {
		fmt.Fprintf(w, "\nRelations given no index (%d):\n", len(adv.PassedOver))
		for _, p := range adv.PassedOver {
			fmt.Fprintf(w, " - %s: %s\n", p.Table, p.Reason)
		}
	}
	for _, n := range adv.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", n)
	}
	if len(adv.Drops) > 0 {
		fmt.Fprintf(w, "\nIndexes to drop (%d):\n", len(adv.Drops))
		for _, d := range adv.Drops {
			fmt.Fprintf(w, " - %s;  -- %s\n", d.SQL, d.Reason)
		}
	}
	const maxSkipped = 10
	for i, s := range adv.Skipped {
		if i == maxSkipped {
			fmt.Fprintf(w, "... and %d more statements skipped (--format json lists them all)\n", len(adv.Skipped)-maxSkipped)
			break
		}
		fmt.Fprintf(w, "skipped: %s (%s)\n", s.Query, s.Reason)
	}
	if adv.Stats.DropsByPlans && len(adv.Drops) > 0 {
		fmt.Fprintf(w, "\nHypoPG %s cannot hide indexes, so drops were judged from the plans that use them and their scan counts.\n", adv.Stats.HypoPGVersion)
	}
	if len(adv.Recommendations)+len(adv.Drops) > 0 {
		fmt.Fprintln(w, "\nCarry it out with: pgmedic index apply --apply (one index at a time, concurrently, with lock timeouts and retries).")
	}
	return nil
}

// coverageWarning warns when the advice speaks for less than 95% of the workload, and
// names the largest statements left out.
func coverageWarning(c workload.Coverage) string {
	if c.Statements == 0 || c.PlannedPct >= 95 {
		return ""
	}
	var names []string
	for i, l := range c.Left {
		if i == 3 {
			break
		}
		names = append(names, fmt.Sprintf("%s (%.1f%%: %s)", display.Shorten(l.Query, 60), l.SharePct, l.Reason))
	}
	return fmt.Sprintf("the advice covers only %.1f%% of the workload's %s; the largest statements left out: %s",
		c.PlannedPct, c.Measure, strings.Join(names, "; "))
}

type applyFlags struct {
	from      string
	apply     bool
	skipDrops bool
	weight    string
}

func (a *app) applyCommand() *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Build recommended indexes concurrently (a dry run unless --apply)",
		Long: `apply carries out index advice (from --from advice.json, or computed now). Without
--apply it prints the plan and changes nothing. With --apply it builds the indexes one
at a time with CREATE INDEX CONCURRENTLY under a lock timeout, retrying with backoff
when a lock is not granted, shows progress from pg_stat_progress_create_index, drops
the invalid index a failed build leaves, confirms that the target statements' plans
use the new index, then drops the indexes the advice lists. Every action is recorded
in the table pgmedic.actions. Running it again resumes: existing indexes are skipped,
invalid leftovers rebuilt.`,
		Example: `  pgmedic index advise --format json --output advice.json
  pgmedic index apply --from advice.json            # prints the plan
  pgmedic index apply --from advice.json --apply    # builds`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.applyIndexes(f) },
	}
	cmd.Flags().StringVar(&f.from, "from", "", "advice JSON from 'pgmedic index advise --format json' (default: advise now)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "make the changes (without it, only the plan is printed)")
	cmd.Flags().BoolVar(&f.skipDrops, "skip-drops", false, "build the recommended indexes but drop nothing")
	cmd.Flags().StringVar(&f.weight, "weight", "auto", "statement weighting when advising now: auto, time, calls or equal")
	return cmd
}

func (a *app) applyIndexes(f applyFlags) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var adv *indexadvisor.Advice
	if f.from != "" {
		raw, err := os.ReadFile(f.from)
		if err != nil {
			return usageErrorf("--from: cannot read %s: %v", f.from, errors.Unwrap(err))
		}
		if adv, err = indexadvisor.ReadAdvice(raw); err != nil {
			return usageHint("create it with: pgmedic index advise --format json --output advice.json", "--from %s: %v", f.from, err)
		}
	} else if adv, err = a.computeAdvice(cfg, a.dsn, adviseFlags{weight: f.weight}); err != nil {
		return err
	}
	if f.skipDrops {
		adv.Drops = nil
	}
	if !f.apply {
		fmt.Fprint(a.stdout, adv.Plan().SQL())
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	if len(adv.Recommendations)+len(adv.Drops) == 0 {
		fmt.Fprintln(a.stdout, "nothing to do")
		return nil
	}
	res, err := a.runApply(cfg, a.dsn, adv)
	if err != nil {
		return err
	}
	for _, s := range res.Steps {
		fmt.Fprintf(a.stdout, "%-7s %s  %s\n", s.Status, s.Object, s.Detail)
	}
	if res.Denied > 0 {
		return &jobError{msg: fmt.Sprintf("%d of %d steps failed, %d of them for want of privilege", res.Failed, len(res.Steps), res.Denied),
			hint: "CREATE and DROP INDEX need the table's owner: run apply as the owning role (finished steps are skipped)"}
	}
	if res.Failed > 0 {
		return &jobError{msg: fmt.Sprintf("%d of %d steps failed", res.Failed, len(res.Steps)),
			hint: "run the same command again to resume (finished steps are skipped, invalid leftovers rebuilt); if the schema changed since the advice, advise again"}
	}
	return nil
}

func (a *app) runApply(cfg *config.Profile, dsn string, adv *indexadvisor.Advice) (*indexadvisor.ApplyResult, error) {
	p := a.policy(cfg, writes)
	conn, err := pgconn.Connect(a.ctx, dsn, p)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	watch, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, err
	}
	defer watch.Close(context.Background())
	planConn, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, err
	}
	defer planConn.Close(context.Background())
	planner, err := explainNew(a, planConn)
	if err != nil {
		return nil, err
	}
	ap := indexadvisor.NewApplier(conn, watch, planner, indexadvisor.ApplyOptions{
		LockTimeout: cfg.Connection.LockTimeout.Duration,
		Tool:        "pgmedic " + version,
		Progress:    func(msg string) { a.logf("%s", msg) },
	})
	start := time.Now()
	res, err := ap.Apply(a.ctx, adv)
	if errors.Is(err, change.ErrAuditUnavailable) {
		return res, &jobError{msg: err.Error(), err: err,
			hint: "run apply as the tables' owner, or let this role create the schema once: GRANT CREATE ON DATABASE <db> TO <role>"}
	}
	if err != nil {
		return res, err
	}
	a.logf("applied %d steps in %.1fs", len(res.Steps), time.Since(start).Seconds())
	return res, nil
}

func explainNew(a *app, conn *pgx.Conn) (*explain.Planner, error) { return explain.New(a.ctx, conn) }
