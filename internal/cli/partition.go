package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/partition"
	"github.com/pgmedic/pgmedic/pgconn"
)

type partitionFlags struct {
	table, column, strategy, interval, retention string
	modulus, premake, batch                      int
	noDefault, apply                             bool
	format, output                               string
}

func (a *app) partitionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "partition",
		Short: "Plan, convert online, maintain and retire partitioned tables",
		Long: `partition turns a live table into a partitioned one without losing a row: plan shows
the partitions, keys, locks and what stops a conversion; migrate builds the new table
beside the old one, captures every change with a trigger, copies in keyset batches
while replaying the changes, verifies the two tables are equal and cuts over in one
short transaction; rollback swaps the old table back (nothing written since is lost)
until finish drops it. maintain creates future partitions and applies retention.`,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.partitionPlanCommand(), a.partitionMigrateCommand(), a.partitionUndoCommand("rollback"),
		a.partitionUndoCommand("finish"), a.partitionMaintainCommand())
	return cmd
}

func (f *partitionFlags) shape(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "the table to partition (schema.table; public when unqualified)")
	fl.StringVar(&f.column, "column", "", "the partition key column")
	fl.StringVar(&f.strategy, "strategy", "", "range, hash or list (default: partitioner.strategy)")
	fl.StringVar(&f.interval, "interval", "", "range partition size: day, week, month, quarter or year (default: partitioner.partitionSize)")
	fl.IntVar(&f.modulus, "modulus", 0, "hash partitions, a power of two (default: partitioner.hashPartitions)")
	fl.IntVar(&f.premake, "premake", 0, "range partitions made ahead of now (default: partitioner.premake)")
	fl.StringVar(&f.retention, "retention", "", "how long rows are kept, e.g. 84mo or 7y (default: partitioner.retentionPeriod)")
	fl.BoolVar(&f.noDefault, "no-default", false, "no default partition (rows outside the ranges then stop the plan)")
}

func (a *app) partitionPlanCommand() *cobra.Command {
	var f partitionFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show how a table would be partitioned, and what stops it",
		Example: `  pgmedic partition plan --table claims --column date_of_service --strategy range --interval month
  pgmedic partition plan --table patients_visits --column patient_id --strategy hash --modulus 16 --format json
  pgmedic partition plan --table claims --column date_of_service --format sql`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.partitionPlan(f) },
	}
	f.shape(cmd)
	cmd.Flags().StringVar(&f.format, "format", "text", "text, json or sql")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// partitionOptions turns flags and the partitioner section into engine options.
func (a *app) partitionOptions(f partitionFlags) (*config.Profile, partition.Options, error) {
	if f.table == "" || f.column == "" {
		return nil, partition.Options{}, usageHint("name the table and its partition key: --table claims --column date_of_service", "--table and --column are required")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, partition.Options{}, err
	}
	p := cfg.Partitioner
	o := partition.Options{Table: f.table, Column: f.column, Strategy: pick(f.strategy, p.Strategy), Interval: pick(f.interval, p.PartitionSize),
		Modulus: pickInt(f.modulus, p.HashPartitions), Premake: pickInt(f.premake, p.Premake), NoDefault: f.noDefault, RetentionMonths: p.RetentionPeriod}
	if f.retention != "" {
		if o.RetentionMonths, err = partition.ParseRetention(f.retention); err != nil {
			return nil, o, usageErrorf("%v", err)
		}
	}
	if err := o.Validate(); err != nil {
		return nil, o, partitionError(err)
	}
	return cfg, o, nil
}

func pick(flag, cfg string) string {
	if flag != "" {
		return flag
	}
	return cfg
}

func pickInt(flag, cfg int) int {
	if flag != 0 {
		return flag
	}
	return cfg
}

// partitionError turns the engine's errors into one line with a hint.
func partitionError(err error) error {
	var refused *partition.RefusedError
	var verify *partition.VerifyError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, partition.ErrBadOptions):
		return usageHint("run 'pgmedic partition plan --help' for the strategies, intervals and moduli", "%v", err)
	case errors.Is(err, partition.ErrNoTable):
		return usageHint("check the name and the schema (schema.table)", "%v", err)
	case errors.As(err, &refused):
		return &jobError{msg: err.Error(), err: err, hint: "'pgmedic partition plan' lists each reason with what to do"}
	case errors.As(err, &verify):
		return &jobError{msg: err.Error(), err: err, hint: "nothing was swapped; 'pgmedic partition rollback --apply' removes the new table"}
	case errors.Is(err, partition.ErrNoMigration), errors.Is(err, partition.ErrNotSwapped):
		return &jobError{msg: err.Error(), err: err, hint: "see 'pgmedic partition plan' and 'pgmedic partition migrate'"}
	}
	return executorError(err)
}

func (a *app) partitionPlan(f partitionFlags) error {
	switch f.format {
	case "text", "json", "sql":
	default:
		return usageErrorf("--format must be text, json or sql, got %q", f.format)
	}
	cfg, opts, err := a.partitionOptions(f)
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	res, perr := partition.Plan(a.ctx, conn, opts)
	if res == nil {
		return partitionError(perr)
	}
	werr := a.writeTo(f.output, func(w io.Writer) error {
		switch f.format {
		case "json":
			return writeJSON(w, res)
		case "sql":
			if res.Steps == nil {
				return nil
			}
			return change.DryRun(display.NewWriter(w), res.Steps)
		}
		return res.WriteText(display.NewWriter(w))
	})
	if perr != nil {
		return partitionError(perr)
	}
	return werr
}

func (a *app) partitionMigrateCommand() *cobra.Command {
	var f partitionFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Convert a live table into a partitioned one (a dry run unless --apply)",
		Long: `migrate runs the plan through pgmedic's executor: the partitioned table beside the live
one, change capture (a trigger installed under a short lock_timeout, retried), the
keyset copy with the captured changes replayed from the current rows, indexes, a
verification in one snapshot (counts per range, content hashes per chunk, keys both
ways) and the cut-over in one short transaction. Its state is kept in the pgmedic
schema: run the same command again after an interruption and it resumes. The old
table stays, kept current by reverse capture, until 'pgmedic partition finish'.`,
		Example: `  pgmedic partition migrate --table claims --column date_of_service
  pgmedic partition migrate --table claims --column date_of_service --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.partitionMigrate(f) },
	}
	f.shape(cmd)
	cmd.Flags().BoolVar(&f.apply, "apply", false, "make the changes (without it, only the plan is printed)")
	cmd.Flags().IntVar(&f.batch, "batch-size", 0, "rows per copy transaction (default 20000)")
	return cmd
}

func (a *app) partitionMigrate(f partitionFlags) error {
	cfg, opts, err := a.partitionOptions(f)
	if err != nil {
		return err
	}
	if !f.apply {
		conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, plan, resumed, err := partition.PlanOrResume(a.ctx, conn, opts)
		if err != nil {
			return partitionError(err)
		}
		if resumed {
			fmt.Fprintln(a.stdout, "-- a conversion of this table is under way; these steps resume it (finished ones are skipped)")
		}
		if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, writes))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	res, err := partition.Migrate(a.ctx, conn, opts, a.migrateOptions(f.batch))
	if res != nil && res.Run != nil {
		if rerr := a.reportRun(res.Run); rerr != nil && err == nil {
			err = rerr
		}
	}
	if res != nil && res.CopyRowsPerSec > 0 {
		fmt.Fprintf(a.stdout, "copied at %.0f rows/s", res.CopyRowsPerSec)
		if res.CutoverLock > 0 {
			fmt.Fprintf(a.stdout, "; the cut-over held its lock for %s", res.CutoverLock.Round(time.Millisecond))
		}
		fmt.Fprintln(a.stdout)
	}
	return partitionError(err)
}

func (a *app) migrateOptions(batch int) partition.MigrateOptions {
	return partition.MigrateOptions{Tool: "pgmedic partition (" + version + ")", BatchSize: batch,
		Log: func(msg string) { a.logf("%s", msg) },
		Progress: func(p partition.Progress) {
			if p.Message != "" {
				a.logf("%s: %s", p.Phase, p.Message)
				return
			}
			a.logf("%s: %s", p.Phase, progressBar(p))
		}}
}

// progressBar draws the copy's progress with its rate and the time left.
func progressBar(p partition.Progress) string {
	const width = 30
	frac := 0.0
	if p.Total > 0 {
		frac = min(1, float64(p.Copied)/float64(p.Total))
	}
	n := int(frac * width)
	bar := ""
	for i := 0; i < width; i++ {
		if i < n {
			bar += "#"
		} else {
			bar += "."
		}
	}
	return fmt.Sprintf("[%s] %3.0f%% %d/%d rows, %.0f rows/s, %d changes replayed, ETA %s", bar, 100*frac, p.Copied, p.Total, p.RowsPerSec, p.Replayed, p.ETA.Round(time.Second))
}

func (a *app) partitionUndoCommand(which string) *cobra.Command {
	var f partitionFlags
	short := "Undo a conversion: swap the old table back, with everything written since (a dry run unless --apply)"
	if which == "finish" {
		short = "End a conversion: stop the reverse capture and drop the old table (a dry run unless --apply)"
	}
	cmd := &cobra.Command{
		Use:     which,
		Short:   short,
		Example: fmt.Sprintf("  pgmedic partition %s --table claims --apply", which),
		RunE:    func(cmd *cobra.Command, args []string) error { return a.partitionUndo(f, which == "finish") },
	}
	cmd.Flags().StringVar(&f.table, "table", "", "the table being converted (schema.table)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "make the changes (without it, only the plan is printed)")
	return cmd
}

func (a *app) partitionUndo(f partitionFlags, finish bool) error {
	if f.table == "" {
		return usageErrorf("--table is required")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	schema, table := splitTable(f.table)
	what := readOnly
	if f.apply {
		what = writes
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, what))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if !f.apply {
		_, plan, err := partition.UndoPlan(a.ctx, conn, schema, table, finish)
		if err != nil {
			return partitionError(err)
		}
		if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	run, err := partition.Undo(a.ctx, conn, schema, table, finish, a.migrateOptions(0))
	if run != nil {
		if rerr := a.reportRun(run); rerr != nil && err == nil {
			err = rerr
		}
	}
	return partitionError(err)
}

func splitTable(name string) (string, string) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i], name[i+1:]
		}
	}
	return "public", name
}

var _ = pgx.ErrNoRows

type maintainFlags struct {
	tables     []string
	premake    int
	retention  string
	archiveDir string
	apply      bool
	format     string
}

func (a *app) partitionMaintainCommand() *cobra.Command {
	var f maintainFlags
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Create future partitions and apply retention (a dry run unless --apply)",
		Long: `maintain looks at every table range-partitioned on a date or timestamp column (or the
ones named with --table): it creates the partitions premake intervals ahead with
CREATE TABLE (LIKE), a CHECK that matches the bound, and ATTACH PARTITION, so the parent
is never locked exclusively; it reports rows in the default partition, and those of
them a new partition would need (they stop its ATTACH); and it retires partitions whose
upper bound (read from the catalog, never from the name) is older than the retention:
DETACH (CONCURRENTLY when there is no default partition), pg_dump with a SHA-256
manifest, a restore into a scratch database compared by rows and content hash, and only
then DROP. Partitions and tables under partitioner.legalHolds are never dropped.`,
		Example: `  pgmedic partition maintain
  pgmedic partition maintain --table audit_events --retention 84mo --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.partitionMaintain(f) },
	}
	cmd.Flags().StringSliceVar(&f.tables, "table", nil, "only these partitioned tables (schema.table; repeatable)")
	cmd.Flags().IntVar(&f.premake, "premake", 0, "partitions kept ahead of now (default: partitioner.premake)")
	cmd.Flags().StringVar(&f.retention, "retention", "", "retention, e.g. 84mo or 7y; 0 keeps everything (default: partitioner.retentionPeriod)")
	cmd.Flags().StringVar(&f.archiveDir, "archive-dir", "", "where archives go (default: partitioner.archiveDir)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "make the changes (without it, only the report and the plan are printed)")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	return cmd
}

func (a *app) partitionMaintain(f maintainFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	p := cfg.Partitioner
	o := partition.MaintainOptions{Tables: f.tables, Premake: pickInt(f.premake, p.Premake), RetentionMonths: p.RetentionPeriod,
		LegalHolds: p.LegalHolds, Archive: partition.ArchiveOptions{Dir: pick(f.archiveDir, p.ArchiveDir), DSN: a.dsn,
			Recipients: p.ArchiveRecipients, IdentityFile: p.ArchiveIdentityFile}}
	if f.retention != "" {
		if o.RetentionMonths, err = partition.ParseRetention(f.retention); err != nil {
			return usageErrorf("%v", err)
		}
	}
	what := readOnly
	if f.apply {
		what = writes
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, what))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	res, err := partition.Maintain(a.ctx, conn, o)
	if err != nil {
		return partitionError(err)
	}
	if f.format == "json" {
		if err := writeJSON(a.stdout, res); err != nil {
			return err
		}
	} else if err := res.WriteText(display.NewWriter(a.stdout)); err != nil {
		return err
	}
	if !f.apply || len(res.Plan.Steps) == 0 {
		return nil
	}
	run, err := partition.RunMaintenance(a.ctx, conn, res, o, a.migrateOptions(0))
	if run != nil {
		if rerr := a.reportRun(run); rerr != nil && err == nil {
			err = rerr
		}
	}
	return partitionError(err)
}
