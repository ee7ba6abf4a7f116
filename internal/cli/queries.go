package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

type queriesFlags struct {
	top    int
	format string
	file   string
	output string
	failOn string
}

func (a *app) queriesCommand() *cobra.Command {
	var f queriesFlags
	cmd := &cobra.Command{
		Use:   "queries",
		Short: "Analyse the statements that cost the most: plans, rules, HIPAA query rules, grades",
		Long: `queries ranks the workload from pg_stat_statements (or the statements in --file: a SQL
script, or a PostgreSQL log written with log_min_duration_statement or auto_explain)
by total time, groups it by pg_query fingerprint, plans every statement without
needing parameter values (generic plans; custom plans with representative values
from pg_stats where that changes the costing), and applies the plan rules (full
scans for few rows, predicates no index can serve, spills, nested loops over large
inputs, OFFSET paging, SELECT *, unbounded results, N+1 patterns, planning and JIT
overhead) and the HIPAA query rules (broad reads of patient data, identifiers in
reports, values written into SQL text, PHI joins with no patient restriction). Each
statement gets a score and a grade, A to F. Statement texts are normalised: values
never appear in the output.`,
		Example: `  pgmedic queries --dsn postgres://me@localhost/claims --top 20
  pgmedic queries --file /var/log/postgresql/postgresql-15-main.log --format markdown
  pgmedic queries --file app-queries.sql --format json`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.queries(f) },
	}
	cmd.Flags().IntVar(&f.top, "top", 0, "statements shown (default: queryAnalyzer.topStatements)")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text, json, markdown or html")
	cmd.Flags().StringVar(&f.file, "file", "", "analyse the statements in this SQL file or PostgreSQL log instead of pg_stat_statements")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding at or above this severity exists")
	return cmd
}

func (a *app) queries(f queriesFlags) error {
	switch f.format {
	case "text", "json", "markdown", "html":
	default:
		return usageErrorf("--format must be text, json, markdown or html, got %q", f.format)
	}
	if f.top < 0 {
		return usageErrorf("--top must be positive, got %d", f.top)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	var failOn *finding.Severity
	if f.failOn != "" {
		s, err := finding.ParseSeverity(f.failOn)
		if err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
		failOn = &s
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if f.top == 0 {
		f.top = cfg.QueryAnalyzer.TopStatements
	}
	var file *statementFile
	if f.file != "" {
		if file, err = a.openStatements(f.file); err != nil {
			return err
		}
	}
	sess, err := a.openAnalysis(cfg, a.dsn, false)
	if err != nil {
		return err
	}
	defer sess.close()
	opts := queryperf.DatabaseOptions{Options: queryperf.Options{Planner: sess.planner}, Source: workload.Source{Snapshot: sess.snap}}
	if file != nil {
		opts.Inputs = file.inputs(a)
	}
	res, err := queryperf.AnalyzeDatabase(a.ctx, sess.conn, cfg, opts)
	var nw *queryperf.NoWorkloadError
	if errors.As(err, &nw) {
		return &jobError{msg: nw.Error(), hint: "enable pg_stat_statements (see 'pgmedic check'), or give statements with --file"}
	}
	if err != nil {
		return checkupError(err)
	}
	if file != nil {
		if err := file.finish(a); err != nil {
			return err
		}
	}
	a.logf("analysed %d statements (%d distinct; %d planned, %d not planned) in %.1fs, %.1fs of it in EXPLAIN",
		res.Stats.Inputs, res.Stats.Statements, res.Stats.Planned, res.Stats.NotPlanned,
		res.Stats.TotalMs/1000, res.Stats.ExplainMs/1000)
	err = a.writeTo(f.output, func(w io.Writer) error { return writeQueries(w, f.format, res, sess.snap.Server.Database, f.top) })
	if err != nil {
		return err
	}
	if failOn != nil && finding.AtLeast(res.Findings, *failOn) {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// checkupError makes a configuration error (a check override, the healthcare section)
// a usage error; others pass.
func checkupError(err error) error {
	var oe *health.OverrideError
	if errors.As(err, &oe) {
		hint := oe.Hint
		if hint == "" {
			hint = "run 'pgmedic checks' for the check ids and thresholds"
		}
		return &usageError{msg: oe.Msg, hint: hint}
	}
	var ce *healthcare.ConfigError
	if errors.As(err, &ce) {
		return usageErrorf("%v", err)
	}
	return err
}

// analysisSession is a read-only session with a snapshot and a planner on it.
type analysisSession struct {
	conn    *pgx.Conn
	snap    *snapshot.Snapshot
	planner *explain.Planner
}

func (s *analysisSession) close() { s.conn.Close(context.Background()) }

func (a *app) openAnalysis(cfg *config.Profile, dsn string, write bool) (*analysisSession, error) {
	snap, err := a.collectSnapshot(dsn, collectFlags{maxStatements: 1000})
	if err != nil {
		return nil, err
	}
	what := readOnly
	if write {
		what = writes
	}
	conn, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, what))
	if err != nil {
		return nil, err
	}
	p, err := explain.New(a.ctx, conn)
	if err != nil {
		conn.Close(a.ctx)
		return nil, err
	}
	return &analysisSession{conn: conn, snap: snap, planner: p}, nil
}

func writeQueries(w io.Writer, format string, res *queryperf.Result, database string, top int) error {
	if format == "text" {
		w = display.NewWriter(w)
	}
	shown := res.Shown(top)
	switch format {
	case "json":
		out := struct {
			Version    string                       `json:"version"`
			Database   string                       `json:"database"`
			Coverage   workload.Coverage            `json:"coverage"`
			Statements []*queryperf.StatementResult `json:"statements"`
			Stats      queryperf.RunStats           `json:"stats"`
			Summary    finding.Summary              `json:"summary"`
		}{"1", database, res.Coverage, shown, res.Stats, finding.Summarize(res.Findings)}
		return writeJSON(w, out)
	case "text":
		fmt.Fprintln(w, res.Coverage.Sentence())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "#\tGRADE\tTOTAL MS\tSHARE\tCALLS\tMEAN MS\tROWS/CALL\tPLAN\tSTATEMENT\n")
		for i, s := range shown {
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.1f%%\t%d\t%.2f\t%.1f\t%s\t%s\n", i+1, gradeLabel(s), s.TotalMs, s.SharePct,
				s.Calls, s.MeanMs, s.RowsPerCall, planLabel(s), display.Shorten(s.Query, 70))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "\n%d distinct statements, %d shown; %d planned, %d not planned.\n",
			res.Stats.Statements, len(shown), res.Stats.Planned, res.Stats.NotPlanned)
		for _, l := range res.Coverage.Left {
			fmt.Fprintf(w, "not planned (%.1f%%): %s\n    reason: %s\n", l.SharePct, display.Shorten(l.Query, 100), l.Reason)
		}
		fmt.Fprintln(w)
	}
	in := res.Report(top)
	f := report.Text
	if format == "text" {
		in.Notes = nil // the table above already grades each statement
	}
	switch format {
	case "markdown":
		f = report.Markdown
	case "html":
		f = report.HTML
	}
	return report.Write(w, f, in, report.Options{})
}

func gradeLabel(s *queryperf.StatementResult) string {
	if s.Score == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%d)", s.Grade, *s.Score)
}

func planLabel(s *queryperf.StatementResult) string {
	if s.NotPlanned != "" {
		return "not planned"
	}
	if s.PlanKind == "" {
		return "-"
	}
	return s.PlanKind
}

type explainFlags struct {
	analyze     bool
	allowWrites bool
	showValues  bool
	format      string
	timeout     time.Duration
}

func (a *app) explainCommand() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [flags] SQL",
		Short: "Plan one statement and say what is wrong with it",
		Long: `explain plans one statement and applies the query rules to it. Statements with $n
parameters get a generic plan (no values needed). With --analyze the statement runs
under EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back, with a
statement timeout; statements that write are refused unless --allow-writes is given.
Values in plan conditions are hidden unless --show-values.`,
		Example: `  pgmedic explain "SELECT * FROM claims WHERE patient_id = \$1 ORDER BY date_of_service DESC LIMIT 20"
  pgmedic explain --analyze "SELECT count(*) FROM claims WHERE status = 'pended'"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("explain takes one SQL statement (quote it), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return a.explain(args[0], f) },
	}
	cmd.Flags().BoolVar(&f.analyze, "analyze", false, "run the statement with EXPLAIN ANALYZE (rolled back)")
	cmd.Flags().BoolVar(&f.allowWrites, "allow-writes", false, "allow --analyze of statements that write (still rolled back)")
	cmd.Flags().BoolVar(&f.showValues, "show-values", false, "show literal values in plan conditions")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "statement timeout for --analyze")
	return cmd
}

func (a *app) explain(sql string, f explainFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	if f.allowWrites && !f.analyze {
		return usageErrorf("--allow-writes only makes sense with --analyze")
	}
	intake, err := sqlparse.Take(sql)
	if err != nil {
		return usageHint("give exactly one SQL statement that has a plan (SELECT, INSERT, UPDATE, DELETE, MERGE), quoted for the shell", "cannot explain this: %v", err)
	}
	st, err := sqlparse.NewParser(nil, 0).Parse(intake.Text)
	if err != nil {
		return usageHint("give exactly one SQL statement, quoted for the shell", "%v", err)
	}
	if f.analyze && st.Writes && !f.allowWrites {
		return usageHint("EXPLAIN ANALYZE executes the statement; pass --allow-writes to run it in a transaction that is rolled back",
			"refusing to EXPLAIN ANALYZE a %s statement without --allow-writes", strings.ToUpper(string(st.Kind)))
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	sess, err := a.openAnalysis(cfg, a.dsn, f.allowWrites)
	if err != nil {
		return err
	}
	defer sess.close()
	an, err := queryperf.New(cfg, sess.snap, queryperf.Options{Planner: sess.planner,
		Analyze: f.analyze, AllowWrites: f.allowWrites, AnalyzeTimeout: f.timeout})
	if err != nil {
		return checkupError(err)
	}
	sr, err := an.AnalyzeQuery(a.ctx, sql)
	if err != nil {
		var wr *queryperf.WriteRefusedError
		if errors.As(err, &wr) {
			return usageErrorf("%v", err)
		}
		return err
	}
	if sr.NotPlanned != "" {
		return &jobError{msg: "cannot plan: " + sr.NotPlanned, hint: "check the statement against the database's schema; a parameter whose type nothing fixes can be cast, e.g. $1::date"}
	}
	if f.format == "json" {
		out := struct {
			*queryperf.StatementResult
			Plan *explain.Plan `json:"plan"`
		}{sr, sr.Plan}
		if !f.showValues && sr.Plan != nil {
			// The JSON carries conditions; scrub them as the text does.
			scrubPlan(sr.Plan)
		}
		return writeJSON(a.stdout, out)
	}
	scrub := snapshot.ScrubLiterals
	if f.showValues {
		scrub = nil
	}
	out := display.NewWriter(a.stdout) // the plan names objects of the database
	fmt.Fprintf(out, "Statement (%s plan): %s\n\n", sr.PlanKind, display.Shorten(sr.Query, 400))
	if sr.Plan != nil {
		fmt.Fprint(out, sr.Plan.Text(scrub))
	}
	fmt.Fprintf(out, "\nGrade %s\n\n", gradeLabel(sr))
	if len(sr.Findings) == 0 {
		fmt.Fprintln(a.stdout, "No findings.")
		return nil
	}
	in := report.FromSnapshot(sess.snap, sr.Findings, queryperf.RuleInfos(), nil)
	in.TableSizes, in.TopStatements, in.Parts = nil, nil, nil
	return report.Write(a.stdout, report.Text, in, report.Options{Color: !a.noColor && isTerminal(a.stdout)})
}

func scrubPlan(p *explain.Plan) {
	p.Root.Walk(func(n *explain.Node) {
		for _, s := range []*string{&n.Filter, &n.IndexCond, &n.RecheckCond, &n.JoinFilter, &n.HashCond, &n.MergeCond} {
			*s = snapshot.ScrubLiterals(*s)
		}
		n.Output = nil
	})
}
