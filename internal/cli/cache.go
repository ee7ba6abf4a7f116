package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/cache"
	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/display"
)

func (a *app) cacheCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Find statements worth caching in Redis and install the triggers that invalidate the cache",
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.cacheAdviseCommand(), a.cacheInstallCommand())
	return cmd
}

func (a *app) cacheAdviseCommand() *cobra.Command {
	var minCalls int64
	var format string
	cmd := &cobra.Command{
		Use:   "advise",
		Short: "Name hot SELECTs on read-mostly tables, worth a read-through cache (from pg_stat_statements)",
		Long: `advise reads the workload (pg_stat_statements) and the tables' statistics and lists the
SELECTs called at least --min-calls times whose tables see few updates and deletes per
scan, by total time, with the key column a lookup filters on. Tables that hold PHI are
marked: the cache package does not cache them unless configured to, and then encrypts.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json, got %q", format)
			}
			if minCalls < 1 {
				return usageErrorf("--min-calls must be at least 1, got %d", minCalls)
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			snap, err := a.collectSnapshot(a.dsn, collectFlags{maxStatements: 1000})
			if err != nil {
				return err
			}
			if !snap.Workload.Available {
				return &jobError{msg: "no workload to advise from: " + snap.Workload.Reason, hint: "CREATE EXTENSION pg_stat_statements (preloaded) and let the application run"}
			}
			cls, err := healthcare.New(cfg.Healthcare)
			if err != nil {
				return usageErrorf("%v", err)
			}
			advice := cache.Advise(snap, cls, cache.AdviseOptions{MinCalls: minCalls})
			if format == "json" {
				return a.writeTo("", func(w io.Writer) error { return writeJSON(w, advice) })
			}
			writeCacheAdvice(display.NewWriter(a.stdout), advice)
			return nil
		},
	}
	cmd.Flags().Int64Var(&minCalls, "min-calls", 100, "statements called fewer times are not advised")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func writeCacheAdvice(w io.Writer, advice []cache.Advice) {
	if len(advice) == 0 {
		fmt.Fprintln(w, "no hot statement on read-mostly tables: nothing to cache")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "calls\tmean ms\ttotal ms\tupd+del/scan\tkey\tPHI\tstatement")
	for _, ad := range advice {
		phi := ""
		if ad.PHI {
			phi = "PHI"
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.0f\t%.3f\t%s\t%s\t%s\n", ad.Calls, ad.MeanMs, ad.TotalMs, ad.WriteRatio, ad.KeyColumn, phi, display.Shorten(ad.Statement, 80))
	}
	tw.Flush()
}

func (a *app) cacheInstallCommand() *cobra.Command {
	var tables []string
	var channel string
	var apply bool
	cmd := &cobra.Command{
		Use:   "install --table schema.table:key_column ...",
		Short: "Install the triggers that tell the cache which rows changed (dry run unless --apply)",
		Long: `install creates pgmedic.cache_notify() and, on each table, a row trigger that sends
NOTIFY with the table and the changed key (old and new) and a TRUNCATE trigger that
invalidates the whole table. Notifications are delivered at commit. The steps run
through pgmedic's executor (audited, lock timeout, skipped when already in place).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ts []cache.Table
			for _, spec := range tables {
				name, key, ok := strings.Cut(spec, ":")
				if !ok || key == "" || name == "" {
					return usageErrorf("--table %q: write it as schema.table:key_column", spec)
				}
				t := cache.Table{Name: name, KeyColumn: key}
				if s, n, dotted := strings.Cut(name, "."); dotted {
					t.Schema, t.Name = s, n
				}
				ts = append(ts, t)
			}
			if len(ts) == 0 {
				return usageErrorf("name at least one --table schema.table:key_column")
			}
			plan := cache.TriggerPlan(ts, channel)
			if !apply {
				if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
				return nil
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			run, err := a.execute(cfg, plan, "pgmedic cache install")
			if err != nil {
				return err
			}
			return a.reportRun(run)
		},
	}
	cmd.Flags().StringArrayVar(&tables, "table", nil, "table and the column the application looks rows up by, e.g. public.availability_slots:id (repeatable)")
	cmd.Flags().StringVar(&channel, "channel", cache.DefaultChannel, "NOTIFY channel")
	cmd.Flags().BoolVar(&apply, "apply", false, "make the changes (without it, only the plan is printed)")
	return cmd
}
