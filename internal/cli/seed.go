package cli

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/internal/synth"
)

type seedFlags struct {
	scale   float64
	seed    uint64
	force   bool
	workers int
}

func (a *app) seedCommand() *cobra.Command {
	var f seedFlags
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create the healthcare reference schema and load synthetic data into an empty database",
		Long: `seed creates pgmedic's healthcare reference schema (patients, providers, payers and
plans, claims and claim lines, code tables, appointments, availabilities, payments,
users, audit logs) with primary and foreign keys only, and loads synthetic data made
from --seed: the same seed and scale give the same rows. Scale 1.0 is 100,000
patients, 5,000 providers, 1,000,000 claims with their lines and 500,000 appointments.
Every value is synthetic; none belongs to a real person.`,
		Example: `  pgmedic seed --dsn postgres://me@localhost/scratch --scale 0.1
  pgmedic seed --dsn postgres://me@localhost/scratch --scale 1 --seed 7 --force`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkScale(f.scale); err != nil {
				return err
			}
			if f.workers < 0 {
				return usageErrorf("--workers must be 0 (automatic) or more, got %d", f.workers)
			}
			noTimeout := time.Duration(0)
			pool, err := a.pool(writes, int32(max(f.workers, 4)), &noTimeout)
			if err != nil {
				return err
			}
			defer pool.Close()
			_, err = a.seed(pool, f, a.stdout)
			return err
		},
	}
	cmd.Flags().Float64Var(&f.scale, "scale", 1.0, "dataset size: 1.0 = 100,000 patients and 1,000,000 claims")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "random seed: the same seed and scale give the same data")
	cmd.Flags().BoolVar(&f.force, "force", false, "drop the healthcare tables first if the database already has them")
	cmd.Flags().IntVar(&f.workers, "workers", 0, "parallel COPY sessions (0 = CPUs + 1)")
	return cmd
}

func checkScale(scale float64) error {
	if !(scale > 0) || scale > synth.MaxScale {
		return usageHint("1.0 = 100,000 patients and 1,000,000 claims; the demo uses 0.2",
			"--scale must be greater than 0 and at most %d, got %v", synth.MaxScale, scale)
	}
	return nil
}

// seed loads the dataset into pool's database and prints a summary to out.
func (a *app) seed(pool *pgxpool.Pool, f seedFlags, out io.Writer) (*synth.LoadResult, error) {
	ctx := a.ctx
	existing, err := synth.ExistingTables(ctx, pool)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		if !f.force {
			return nil, usageHint("pass --force to drop them and load afresh, or choose an empty database",
				"the database already has the healthcare tables (%d of %d, e.g. %s)", len(existing), len(synth.TableNames()), existing[0])
		}
		a.logf("dropping the existing healthcare tables (--force)")
		if err := synth.DropTables(ctx, pool); err != nil {
			return nil, err
		}
	}
	counts := synth.PlannedCounts(f.scale)
	a.logf("loading synthetic healthcare data: scale %g (%d patients, %d providers, %d claims, %d appointments), seed %d",
		f.scale, counts.Patients, counts.Providers, counts.Claims, counts.Appointments, f.seed)
	prog := a.newProgress()
	res, err := synth.Load(ctx, pool, synth.LoadOptions{
		Options:  synth.Options{Scale: f.scale, Seed: f.seed},
		Workers:  f.workers,
		Progress: prog.update,
	})
	prog.finish()
	if err != nil {
		var exists *synth.ErrSchemaExists
		if errors.As(err, &exists) {
			return nil, usageHint("pass --force to drop them and load afresh", "%v", exists)
		}
		return nil, err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\t")
	for _, name := range synth.TableNames() {
		fmt.Fprintf(tw, "%s\t%d\t\n", name, res.Rows[name])
	}
	fmt.Fprintf(tw, "total\t%d\t\n", res.TotalRows)
	tw.Flush()
	fmt.Fprintf(out, "loaded %d rows (%.1f MB) in %.1fs: COPY %.1fs (%.0f rows/s), keys %.1fs, VACUUM ANALYZE %.1fs\n",
		res.TotalRows, float64(res.CopyBytes)/1e6, res.Total.Seconds(), res.CopyTime.Seconds(),
		float64(res.TotalRows)/res.CopyTime.Seconds(), res.KeysTime.Seconds(), res.VacuumTime.Seconds())
	return res, nil
}

// progress shows a bar on a terminal and one line per phase elsewhere.
type progress struct {
	a     *app
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	phase string
}

func (a *app) newProgress() *progress { return &progress{a: a} }

var phaseNames = map[string]string{"load": "loading rows", "keys": "adding keys", "analyze": "VACUUM ANALYZE"}

func (p *progress) update(s synth.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.a.quiet {
		return
	}
	if s.Phase != p.phase {
		if p.bar != nil {
			_ = p.bar.Finish()
			fmt.Fprintln(p.a.stderr)
		}
		p.phase = s.Phase
		p.bar = nil
		if isTerminal(p.a.stderr) {
			p.bar = progressbar.NewOptions64(s.Total,
				progressbar.OptionSetWriter(p.a.stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("%-15s", phaseNames[s.Phase])),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetPredictTime(true))
		} else {
			p.a.logf("%s ...", phaseNames[s.Phase])
		}
	}
	if p.bar != nil {
		_ = p.bar.Set64(s.Done)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.a.stderr)
		p.bar = nil
	}
}
