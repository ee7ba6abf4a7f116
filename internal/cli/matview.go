package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/matview"
	"github.com/pgmedic/pgmedic/pgconn"
)

type matviewFlags struct {
	format, output  string
	apply, blocking bool
	minCalls        int64
	refresh         time.Duration
	minTotal        time.Duration
	olderThan       time.Duration
	views           []string
}

func (a *app) matviewCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "matview", Short: "Materialized views for heavy repeated aggregates: advice, creation, refreshes and staleness"}
	var f matviewFlags
	advise := &cobra.Command{
		Use:   "advise",
		Short: "Propose materialized views that serve the workload's heavy aggregates exactly",
		Long: `advise reads pg_stat_statements for aggregate statements (GROUP BY, count, sum, avg,
min, max) that are called often and cost time, and designs for each a materialized view
that keeps partial aggregates grouped by the statement's keys and by the columns its
parameters filter, so that the rewritten statement, with the same parameters, returns
the same rows from the view. A view is proposed only when the planner expects it to be
at least ten times smaller than the largest table the statement reads. Each proposal
comes with the unique index REFRESH ... CONCURRENTLY needs, the rewritten statement and
a refresh interval. Statements a view cannot serve exactly (count(DISTINCT ...),
parameters inside expressions, window functions) are listed with the reason.
With --apply the views and their indexes are created through the executor.`,
		Example: `  pgmedic matview advise --dsn postgres://me@db/claims
  pgmedic matview advise --format sql > views.sql
  pgmedic matview advise --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.matviewAdvise(f) },
	}
	advise.Flags().StringVar(&f.format, "format", "text", "output format: text, json or sql")
	advise.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	advise.Flags().BoolVar(&f.apply, "apply", false, "create the proposed views and their unique indexes")
	advise.Flags().Int64Var(&f.minCalls, "min-calls", 20, "statements called fewer times are left alone")
	advise.Flags().DurationVar(&f.minTotal, "min-total", time.Second, "statements that took less time in all are left alone")
	advise.Flags().DurationVar(&f.refresh, "refresh", 15*time.Minute, "refresh interval to propose (the staleness the application accepts)")
	refresh := &cobra.Command{
		Use:   "refresh",
		Short: "Show how stale each materialized view is; with --apply refresh them concurrently",
		Long: `refresh lists the database's materialized views with the age of their data (from the
refreshes pgmedic recorded), and plans a refresh of each: CONCURRENTLY when a unique
index allows it, so readers are never blocked. Views without one are left out unless
--allow-blocking. With --apply the refreshes run through the executor, each recorded
with its duration in pgmedic.matview_refresh in the same transaction; --older-than
skips views refreshed more recently, so a scheduler can run it every few minutes.`,
		Example: `  pgmedic matview refresh --dsn postgres://me@db/claims
  pgmedic matview refresh --apply --older-than 15m`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.matviewRefresh(f) },
	}
	refresh.Flags().BoolVar(&f.apply, "apply", false, "run the refreshes (default: print the plan)")
	refresh.Flags().DurationVar(&f.olderThan, "older-than", 0, "skip views pgmedic refreshed more recently than this")
	refresh.Flags().StringSliceVar(&f.views, "view", nil, "only these views (schema.view)")
	refresh.Flags().BoolVar(&f.blocking, "allow-blocking", false, "refresh views without a unique index too (blocks their readers)")
	refresh.Flags().StringVar(&f.format, "format", "text", "output format of the staleness list: text or json")
	cmd.AddCommand(advise, refresh)
	return cmd
}

func (a *app) matviewAdvise(f matviewFlags) error {
	switch f.format {
	case "text", "json", "sql":
	default:
		return usageHint("run 'pgmedic matview advise --help'", "--format must be text, json or sql, got %q", f.format)
	}
	if f.minCalls < 1 || f.refresh < time.Minute || f.minTotal <= 0 {
		return usageHint("e.g. --min-calls 20 --min-total 1s --refresh 15m", "--min-calls must be at least 1, --min-total positive and --refresh at least 1m")
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	sess, err := a.openAnalysis(cfg, a.dsn, false)
	if err != nil {
		return err
	}
	defer sess.close()
	if !sess.snap.Workload.Available {
		return &jobError{msg: "no workload to advise on: " + sess.snap.Workload.Reason, hint: "enable pg_stat_statements (see 'pgmedic check')"}
	}
	adv, err := matview.Advise(a.ctx, sess.conn, sess.snap, matview.Options{MinCalls: f.minCalls, Refresh: f.refresh,
		MinTotalMs: float64(f.minTotal) / float64(time.Millisecond)})
	if err != nil {
		return &jobError{msg: "materialized view advice failed: " + a.scrub(err.Error()), hint: "check that the role may run EXPLAIN on the tables"}
	}
	if err := a.writeTo(f.output, func(w io.Writer) error { return writeMatviewAdvice(w, f.format, adv) }); err != nil {
		return err
	}
	if !f.apply || len(adv.Proposals) == 0 {
		return nil
	}
	run, err := a.execute(cfg, matview.CreatePlan(adv), "pgmedic matview advise")
	if err != nil {
		return err
	}
	return a.reportRun(run)
}

func writeMatviewAdvice(w io.Writer, format string, adv *matview.Advice) error {
	switch format {
	case "json":
		return writeJSON(w, adv)
	case "sql":
		return change.DryRun(w, matview.CreatePlan(adv))
	}
	out := display.NewWriter(w)
	fmt.Fprintf(out, "%d materialized views proposed, %d heavy aggregates left alone\n", len(adv.Proposals), len(adv.Skipped))
	for _, p := range adv.Proposals {
		fmt.Fprintf(out, "\n%s: %d calls, %.0f ms in all (%.1f ms each); about %.0f rows instead of %.0f\n  statement: %s\n  %s;\n  %s;\n  then run: %s\n  refresh every %s: pgmedic matview refresh --apply --older-than %s\n",
			p.Name, p.Calls, p.TotalMs, p.MeanMs, p.ViewRows, p.SourceRows, p.Statement, p.Create, p.UniqueIndex, p.Rewritten,
			time.Duration(p.RefreshSecs)*time.Second, time.Duration(p.RefreshSecs)*time.Second)
		for _, n := range p.Notes {
			fmt.Fprintf(out, "  note: %s\n", n)
		}
	}
	for _, s := range adv.Skipped {
		fmt.Fprintf(out, "\nleft alone (%s): %s\n", s.Reason, s.Statement)
	}
	return nil
}

func (a *app) matviewRefresh(f matviewFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageHint("run 'pgmedic matview refresh --help'", "--format must be text or json, got %q", f.format)
	}
	if f.olderThan < 0 {
		return usageHint("e.g. --older-than 15m", "--older-than must not be negative")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	views, err := matview.Views(a.ctx, conn)
	conn.Close(a.ctx)
	if err != nil {
		return &jobError{msg: a.scrub(err.Error()), hint: "check that the role may read the catalog"}
	}
	if err := writeViews(a.stdout, f.format, views); err != nil {
		return err
	}
	plan, notes := matview.RefreshPlan(views, matview.RefreshOptions{Names: f.views, OlderThan: f.olderThan, AllowBlocking: f.blocking})
	for _, n := range notes {
		a.logf("pgmedic: note: %s", n)
	}
	if len(plan.Steps) == 0 {
		return nil
	}
	if !f.apply {
		if f.format == "json" {
			return nil
		}
		if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	run, err := a.execute(cfg, plan, "pgmedic matview refresh")
	if err != nil {
		return err
	}
	return a.reportRun(run)
}

func writeViews(w io.Writer, format string, views []matview.View) error {
	if format == "json" {
		if views == nil {
			views = []matview.View{}
		}
		return writeJSON(w, map[string]any{"views": views})
	}
	tw := tabwriter.NewWriter(display.NewWriter(w), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VIEW\tSIZE\tCONCURRENT\tLAST REFRESH\tAGE\tTOOK")
	for _, v := range views {
		last, age, took := "never by pgmedic", "unknown", ""
		if v.LastRefresh != nil {
			last = v.LastRefresh.UTC().Format(time.RFC3339)
			age = (time.Duration(v.AgeSeconds) * time.Second).String()
			took = fmt.Sprintf("%.1fs", v.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", v.Name, finding.HumanBytes(v.Bytes), v.Concurrent, last, age, took)
	}
	return tw.Flush()
}
