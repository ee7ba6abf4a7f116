// Package cli holds pgmedic's commands: it turns flags and configuration into calls to
// the library packages and their results into output and exit codes, and nothing else.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/pgconn"
)

// version is set at build time (-ldflags "-X .../internal/cli.version=...").
var version = "dev"

// Exit codes.
const (
	ExitOK      = 0 // success, nothing to report
	ExitFailure = 1 // findings at or above --fail-on, or the job failed
	ExitUsage   = 2 // bad usage or input
)

// app is one invocation: its streams, global flags and what it has loaded. Commands are
// built per invocation, so nothing is shared between runs (tests call Run many times).
type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	configPath string
	profile    string
	dsn        string
	noColor    bool
	quiet      bool

	cfg     *config.Profile
	secrets []string // strings to scrub from anything printed (passwords)
}

// Run executes pgmedic with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	return a.report(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pgmedic",
		Short: "Diagnose, optimise and harden PostgreSQL databases that hold healthcare data",
		Long: `pgmedic examines PostgreSQL databases that hold patient, provider, claims and
appointment data. This version:
  - runs the health checks (connections, locks, schema, vacuum, storage, WAL,
    replication, settings) and the HIPAA query rules (check);
  - ranks, plans and grades the workload's statements from pg_stat_statements, a SQL
    file or a server log (queries, explain);
  - recommends indexes for the whole workload, measured with HypoPG, and builds or
    drops them online (index advise, index apply);
  - carries out the fixes of health findings (fix) and keeps an audit log of every
    change it makes (actions);
  - finds the PHI in every column from names, sampled values and foreign keys (phi),
    audits and scores the HIPAA technical safeguards of 45 CFR 164.312 and hardens
    them: roles, RLS, an audit trail, pgaudit, column encryption (comply, comply fix),
    and measures what the audit trail and pgaudit cost the workload (bench harden);
  - sizes connection pools per workload and writes PgBouncer's configuration
    (pool advise); the pool package routes reads to standbys for applications;
  - reports standbys' replication and failover readiness and plans new standbys
    (replica), and plans distributing the schema with Citus (shard);
  - proposes materialized views for heavy repeated aggregates and keeps them fresh
    (matview advise, matview refresh);
  - takes encrypted logical backups and proves them by restoring them, configures
    pgBackRest archiving and reports the RPO and RTO (backup, backup verify, backup status);
  - finds statements worth a Redis cache and installs the triggers that invalidate
    it (cache advise, cache install);
  - watches servers with alerts, Prometheus metrics and a dashboard (monitor);
  - plans and carries out online conversions to partitioned tables, their
    maintenance and retention (partition).
Analysis is read-only; anything that changes a database is printed as a plan and runs
only with --apply.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a subcommand, show help rather than doing anything.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for pgmedic; run 'pgmedic --help' for the list", args[0])
			}
			return cmd.Help()
		},
		Args: cobra.ArbitraryArgs,
	}
	root.SetVersionTemplate("pgmedic {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "configuration file (default ./pgmedic.yaml when present)")
	pf.StringVar(&a.profile, "profile", "", "configuration profile: production or development, or one defined in the file (default from the file, else production)")
	pf.StringVar(&a.dsn, "dsn", "", "connection string or URI (default: the libpq environment PGHOST, PGPORT, PGUSER, PGDATABASE ...)")
	pf.BoolVar(&a.noColor, "no-color", false, "never colour the output")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print only results and errors")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{msg: err.Error(), hint: fmt.Sprintf("run '%s --help' for the flags it takes", cmd.CommandPath())}
	})

	root.AddCommand(
		a.demoCommand(),
		a.seedCommand(),
		a.workloadCommand(),
		a.collectCommand(),
		a.checkCommand(),
		a.checksCommand(),
		a.queriesCommand(),
		a.explainCommand(),
		a.indexCommand(),
		a.fixCommand(),
		a.actionsCommand(),
		a.phiCommand(),
		a.complyCommand(),
		a.benchCommand(),
		a.configCommand(),
		a.poolCommand(),
		a.replicaCommand(),
		a.shardCommand(),
		a.matviewCommand(),
		a.backupCommand(),
		a.cacheCommand(),
		a.monitorCommand(),
		a.partitionCommand(),
	)
	setNoArgs(root)
	return root
}

// setNoArgs makes every command without its own argument rule refuse stray arguments.
func setNoArgs(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		if c.Args == nil {
			c.Args = noArgs
		}
		setNoArgs(c)
	}
}

// noArgs rejects stray positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usageErrorf("unknown command %q for %s; run '%s --help' for the list", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// usageError is bad usage or input: exit code 2.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func usageHint(hint, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// jobError is a failure of the job itself with a remedy: exit code 1.
type jobError struct {
	msg  string
	hint string
	err  error
}

func (e *jobError) Error() string { return e.msg }
func (e *jobError) Unwrap() error { return e.err }

// exitError carries a chosen exit code without a message (findings already printed).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// report prints err as one line with a hint and returns its exit code.
func (a *app) report(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	code := ExitFailure
	msg := err.Error()
	hint := ""

	var ue *usageError
	var ie *pgconn.InputError
	var pe *pgconn.PolicyError
	var ce *pgconn.ConnectError
	var cfgErr *config.Error
	var je *jobError
	var hinter interface{ Hint() string }
	switch {
	case errors.As(err, &ue):
		code, hint = ExitUsage, ue.hint
	case errors.As(err, &ie):
		code, hint = ExitUsage, ie.Hint
	case errors.As(err, &pe):
		code, hint = ExitUsage, pe.Hint
	case errors.As(err, &cfgErr):
		code, hint = ExitUsage, cfgErr.Hint
	case errors.As(err, &ce):
		hint = ce.Hint
	case errors.As(err, &je):
		hint = je.hint
	case errors.Is(err, context.Canceled):
		msg, hint = "interrupted", ""
	case errors.As(err, &hinter):
		hint = hinter.Hint()
	}
	if code == ExitFailure && strings.HasPrefix(msg, "unknown command") {
		code = ExitUsage
	}
	line := "pgmedic: " + oneLine(msg)
	if hint != "" {
		line += " (hint: " + oneLine(hint) + ")"
	}
	fmt.Fprintln(a.stderr, a.scrub(line))
	return code
}

// scrub removes every password pgmedic knows of from text it is about to print.
func (a *app) scrub(s string) string {
	for _, secret := range append(a.secrets, pgconn.Secrets(a.dsn)...) {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return display.Escape(pgconn.Redact(s)) // errors quote names from the database and the user
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// isTerminal reports whether w is a terminal (progress bars and colour only then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logf prints a progress line to stderr unless --quiet.
func (a *app) logf(format string, args ...any) {
	if a.quiet {
		return
	}
	fmt.Fprintln(a.stderr, display.Escape(fmt.Sprintf(format, args...)))
}
