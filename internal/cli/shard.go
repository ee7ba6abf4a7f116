package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/shard"
)

type shardPlanFlags struct {
	format, output string
}

func (a *app) shardCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shard",
		Short: "Plan distributing the schema with Citus",
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var f shardPlanFlags
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Distribution column, co-location, reference tables and the Citus DDL",
		Long: `plan chooses the distribution column, the patient's key or an organisation's
(provider, payer), that lets one shard answer the largest share of the workload's time
(statements from pg_stat_statements with an equality on the key; inserts carry theirs),
co-locates the tables that carry the key (and, through their parent, claim lines,
which must first get the column), makes small tables the distributed ones refer to
reference tables, lists the keys and foreign keys Citus needs changed, and the
statements that would run on every shard. The DDL (create_reference_table,
create_distributed_table ... colocate_with) is printed as a plan; Citus is not needed
to plan, and nothing is changed.`,
		Example: `  pgmedic shard plan --dsn postgres://me@db/claims
  pgmedic shard plan --format sql > distribute.sql`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.shardPlan(f) },
	}
	plan.Flags().StringVar(&f.format, "format", "text", "text, json or sql")
	plan.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.AddCommand(plan)
	return cmd
}

func (a *app) shardPlan(f shardPlanFlags) error {
	switch f.format {
	case "text", "json", "sql":
	default:
		return usageHint("use --format text, json or sql", "--format must be text, json or sql, got %q", f.format)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	snap, err := a.collectSnapshot(a.dsn, collectFlags{maxStatements: 1000})
	if err != nil {
		return err
	}
	p, err := shard.PlanSnapshot(snap, shard.Options{})
	if errors.Is(err, shard.ErrNoCandidate) {
		return &jobError{msg: err.Error(), err: err, hint: "name the patient table with healthcare.patientTables in the configuration"}
	}
	if err != nil {
		return err
	}
	return a.writeTo(f.output, func(w io.Writer) error { return writeShardPlan(w, f.format, p) })
}

func writeShardPlan(w io.Writer, format string, p *shard.Plan) error {
	switch format {
	case "json":
		return writeJSON(w, struct {
			*shard.Plan
			DDL any `json:"ddl"`
		}{p, p.DDL()})
	case "sql":
		_, err := io.WriteString(w, p.DDL().SQL())
		return err
	}
	w = display.NewWriter(w)
	fmt.Fprintf(w, "Distribute by %s.%s (%s): %.1f%% of the workload's time on distributed tables runs on one shard.\n",
		p.Key.Table, p.Key.Column, p.Key.Entity, p.Key.SingleShardPct)
	for _, c := range p.Candidates {
		fmt.Fprintf(w, "  candidate %s.%s (%s): %.1f%% single-shard, %d tables\n", c.Table, c.Column, c.Entity, c.SingleShardPct, c.Tables)
	}
	fmt.Fprintln(w, "\nCo-located tables:")
	for _, d := range p.Distributed {
		if d.Missing {
			fmt.Fprintf(w, "  %s by %s (the column must be added, filled from %s)\n", d.Table, d.Column, d.Via)
		} else {
			fmt.Fprintf(w, "  %s by %s\n", d.Table, d.Column)
		}
	}
	fmt.Fprintf(w, "Reference tables: %v\nLocal tables: %v\n", p.Reference, p.Local)
	if len(p.Constraints) > 0 {
		fmt.Fprintln(w, "\nConstraint changes Citus needs first:")
		for _, c := range p.Constraints {
			fmt.Fprintf(w, "  - %s\n", c)
		}
	}
	if len(p.MultiShard) > 0 {
		fmt.Fprintln(w, "\nStatements that would run on every shard (share of time on distributed tables):")
		for _, s := range p.MultiShard {
			fmt.Fprintf(w, "  %5.1f%%  %s\n         %s\n", s.SharePct, display.Shorten(s.Query, 110), s.Reason)
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	return change.DryRun(w, p.DDL())
}
