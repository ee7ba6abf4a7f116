package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/checkup"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/pgconn"
)

type fixFlags struct {
	check, object string
	apply         bool
}

func (a *app) fixCommand() *cobra.Command {
	var f fixFlags
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Carry out the fix of a health check's findings (a dry run unless --apply)",
		Long: `fix runs the health checks, gathers the fix plans of the findings of one check (of
one object with --object), and prints them with the lock each step takes. With --apply
it carries them out through pgmedic's executor: one executor per database at a time,
every attempt recorded in pgmedic.actions before it runs (nothing runs when it cannot
be recorded), lock timeouts with retries, and steps already in place skipped, so
running it again after an interruption finishes the job.`,
		Example: `  pgmedic fix --check schema.fk_without_index
  pgmedic fix --check triggers.disabled --object public.patients --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.fix(f) },
	}
	cmd.Flags().StringVar(&f.check, "check", "", "the check whose findings to fix (see 'pgmedic checks')")
	cmd.Flags().StringVar(&f.object, "object", "", "fix only the finding about this object (as the report names it)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "make the changes (without it, only the plan is printed)")
	return cmd
}

func (a *app) fix(f fixFlags) error {
	if f.check == "" {
		return usageHint("run 'pgmedic checks' for the ids", "--check is required")
	}
	if !health.IsCheck(f.check) {
		return usageHint("run 'pgmedic checks' for the ids", "--check %q is not a health check", f.check)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	snap, err := a.collectSnapshot(a.dsn, collectFlags{maxStatements: 1000})
	if err != nil {
		return err
	}
	res, err := checkup.Analyse(a.ctx, cfg, snap, checkup.Options{})
	if err != nil {
		return checkupError(err)
	}
	plan, fixable, manual := health.FixPlan(res.Findings, f.check, f.object)
	switch {
	case fixable == 0 && manual == 0:
		fmt.Fprintf(a.stdout, "%s finds nothing to fix%s.\n", f.check, objectSuffix(f.object))
		return nil
	case fixable == 0:
		fmt.Fprintf(a.stdout, "%s found %d finding(s)%s, none with a fix pgmedic can run: see 'pgmedic check' for the recommendation.\n", f.check, manual, objectSuffix(f.object))
		return nil
	}
	if !f.apply {
		if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	run, err := a.execute(cfg, plan, "pgmedic fix "+f.check)
	if err != nil {
		return err
	}
	return a.reportRun(run)
}

func objectSuffix(object string) string {
	if object == "" {
		return ""
	}
	return " on " + object
}

// execute runs a plan through the executor on a read-write session, with a second one
// watching progress.
func (a *app) execute(cfg *config.Profile, plan *finding.Plan, tool string) (*change.Result, error) {
	return a.executeOn(a.dsn, cfg, plan, tool, nil)
}

// executeOn is execute on another database, for plans with Go-driven steps too (their
// runners by name).
func (a *app) executeOn(dsn string, cfg *config.Profile, plan *finding.Plan, tool string, runners map[string]change.Runner) (*change.Result, error) {
	conn, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, writes))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	watch, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, err
	}
	defer watch.Close(context.Background())
	ex := change.New(conn, change.Options{Tool: tool + " (" + version + ")", LockTimeout: cfg.Connection.LockTimeout.Duration,
		Watch: watch, Progress: func(msg string) { a.logf("%s", msg) }, Runners: runners})
	run, err := ex.Run(a.ctx, plan)
	return run, executorError(err)
}

// executorError turns what stopped a run into one line with a hint.
func executorError(err error) error {
	var busy *change.BusyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &busy):
		return &jobError{msg: err.Error(), err: err, hint: "wait for it to finish, or stop it; one executor changes a database at a time"}
	case errors.Is(err, change.ErrAuditUnavailable):
		return &jobError{msg: err.Error(), err: err,
			hint: "let the role create the pgmedic schema once (GRANT CREATE ON DATABASE <db> TO <role>) and write to pgmedic.actions"}
	case errors.Is(err, change.ErrNewerSchema):
		return &jobError{msg: err.Error(), err: err, hint: "a newer pgmedic has changed this database: upgrade pgmedic"}
	}
	return err
}

// reportRun prints each step's outcome; a failed step makes the run fail.
func (a *app) reportRun(run *change.Result) error {
	out := display.NewWriter(a.stdout) // descriptions and details name database objects
	for _, s := range run.Steps {
		fmt.Fprintf(out, "%-8s step %d: %s", s.Status, s.Step, s.Description)
		if s.Detail != "" {
			fmt.Fprintf(out, " (%s)", s.Detail)
		}
		fmt.Fprintln(out)
	}
	if run.Interrupted > 0 {
		a.logf("pgmedic: note: %d step(s) of an earlier, interrupted run were checked again", run.Interrupted)
	}
	switch {
	case run.Denied > 0:
		return &jobError{msg: fmt.Sprintf("%d of %d steps failed, %d of them for want of privilege", run.Failed, len(run.Steps), run.Denied),
			hint: "run it as the objects' owner (finished steps are skipped on the next run)"}
	case run.Failed > 0:
		return &jobError{msg: fmt.Sprintf("%d of %d steps failed", run.Failed, len(run.Steps)),
			hint: "see 'pgmedic actions' for what happened; run the same command again to resume"}
	}
	return nil
}

type actionsFlags struct {
	since  time.Duration
	format string
}

func (a *app) actionsCommand() *cobra.Command {
	var f actionsFlags
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "List what pgmedic changed in the database, when and as whom",
		Long: `actions lists pgmedic.actions, the audit trail pgmedic keeps in every database it
changes: each attempt of each step, who ran it from where, the statement, the outcome,
how long it took, and steps an interrupted run left behind.`,
		Example: `  pgmedic actions --since 24h
  pgmedic actions --since 720h --format json`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.actions(f) },
	}
	cmd.Flags().DurationVar(&f.since, "since", 7*24*time.Hour, "how far back to list (e.g. 24h, 720h)")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	return cmd
}

func (a *app) actions(f actionsFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	if f.since <= 0 {
		return usageErrorf("--since must be a positive duration such as 24h, got %s", f.since)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	list, found, err := change.ReadActions(a.ctx, conn, time.Now().Add(-f.since))
	if pgerr.Privilege(err) {
		return &jobError{msg: "this role may not read pgmedic's audit trail (pgmedic.actions)", err: err,
			hint: "GRANT USAGE ON SCHEMA pgmedic TO <role>; GRANT SELECT ON pgmedic.actions TO <role>"}
	}
	if err != nil {
		return err
	}
	if f.format == "json" {
		return writeJSON(a.stdout, list)
	}
	if !found {
		fmt.Fprintln(a.stdout, "pgmedic has changed nothing in this database (it has no pgmedic.actions).")
		return nil
	}
	return writeActions(a.stdout, list, f.since)
}

func writeActions(w io.Writer, list []change.Action, since time.Duration) error {
	w = display.NewWriter(w)
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "No change in the last %s.\n", since)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tACTOR\tTOOL\tKIND\tOBJECT\tSTEP\tSTATUS\tSECONDS\tDETAIL")
	for _, a := range list {
		step := ""
		if a.Step > 0 {
			step = fmt.Sprintf("%d/%d", a.Step, a.Attempt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", a.StartedAt.UTC().Format("2006-01-02 15:04:05"), a.Actor,
			a.Tool, a.Kind, a.Object, step, a.Status, a.DurationMs/1000, display.Shorten(a.Detail, 80))
	}
	return tw.Flush()
}
