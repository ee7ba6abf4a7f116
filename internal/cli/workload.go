package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/internal/synth"
)

type workloadFlags struct {
	duration time.Duration
	clients  int
	seed     uint64
	format   string
	only     []string
}

func (a *app) workloadCommand() *cobra.Command {
	var f workloadFlags
	cmd := &cobra.Command{
		Use:   "workload",
		Short: "Run a realistic claims and scheduling workload against a seeded database",
		Long: `workload drives a database loaded by 'pgmedic seed' with the mix a claims and
scheduling application produces: patient lookup by MRN, search by name and birth
date, a patient's claim history (paged), a provider's claims in a date range, the
pended-claims work queue, monthly totals by diagnosis, claim submission with its
lines in one transaction, a provider's week of appointments, a patient's upcoming
appointments, provider availability, pending payments, and login by e-mail. All
statements are parameterised. It reports throughput and p50/p95/p99 latency per
operation, and exits 1 if any operation failed.

Operations: ` + strings.Join(synth.Operations(), ", "),
		Example: `  pgmedic workload --dsn postgres://me@localhost/scratch --duration 30s --clients 8
  pgmedic workload --duration 10s --only patient_by_mrn,claim_history --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			pool, err := a.poolFor(a.dsn, writes, int32(f.clients), nil, "pgmedic-workload")
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := a.runWorkload(pool, f)
			if err != nil {
				return err
			}
			if err := writeWorkload(a.stdout, res, f.format); err != nil {
				return err
			}
			if res.Errors > 0 {
				return &jobError{msg: fmt.Sprintf("%d of %d operations failed", res.Errors, res.Errors+res.Operations),
					hint: "the per-operation table shows the first error of each"}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&f.duration, "duration", 30*time.Second, "how long to run")
	cmd.Flags().IntVar(&f.clients, "clients", 4, "concurrent sessions")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "random seed for the choice of operations and values")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text or json")
	cmd.Flags().StringSliceVar(&f.only, "only", nil, "run only these operations (comma-separated)")
	return cmd
}

func (f *workloadFlags) validate() error {
	if f.duration <= 0 {
		return usageErrorf("--duration must be positive, got %s", f.duration)
	}
	if f.clients < 1 || f.clients > 1000 {
		return usageErrorf("--clients must be between 1 and 1000, got %d", f.clients)
	}
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	for _, op := range f.only {
		if !slices.Contains(synth.Operations(), op) {
			return usageHint("known operations: "+strings.Join(synth.Operations(), ", "), "unknown operation %q in --only", op)
		}
	}
	return nil
}

func (a *app) runWorkload(pool *pgxpool.Pool, f workloadFlags) (*synth.WorkloadResult, error) {
	a.logf("running the workload: %d clients for %s", f.clients, f.duration)
	res, err := synth.RunWorkload(a.ctx, pool, synth.WorkloadOptions{
		Duration: f.duration, Clients: f.clients, Seed: f.seed, Only: f.only,
	})
	if err != nil {
		return nil, &jobError{msg: err.Error(), err: err, hint: "load the healthcare dataset with 'pgmedic seed' first"}
	}
	return res, nil
}

func writeWorkload(out io.Writer, res *synth.WorkloadResult, format string) error {
	if format == "json" {
		return writeJSON(out, res)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\terrors\tmean ms\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	for _, op := range res.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", op.Name, op.Count, op.Errors, op.MeanMs, op.P50Ms, op.P95Ms, op.P99Ms, op.MaxMs)
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t\t%.2f\t%.2f\t%.2f\t\t\n", res.Operations, res.Errors, res.P50Ms, res.P95Ms, res.P99Ms)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%.0f operations/s over %.1fs with %d clients\n", res.OpsPerSecond, res.DurationSeconds, res.Clients)
	for _, op := range res.Ops {
		if op.FirstError != "" {
			fmt.Fprintf(out, "first error of %s: %s\n", op.Name, op.FirstError)
		}
	}
	return nil
}
