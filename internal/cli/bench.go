package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/synth"
)

type benchFlags struct {
	dir, format string
	scale       float64
	duration    time.Duration
	clients     int
	seed        uint64
	rounds      int
}

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure what a change costs, on a private PostgreSQL, against a baseline in the same run",
	}
	var f benchFlags
	harden := &cobra.Command{
		Use:   "harden",
		Short: "Throughput and p95 of the demo workload before and after the audit trigger and pgaudit",
		Long: `bench harden starts a private PostgreSQL (as demo does), loads the synthetic healthcare
dataset and runs the demo workload three times: as it is; after 'comply fix' has
installed the audit trail and its trigger on every PHI table; and after pgaudit's
object auditing of PHI reads and its ddl, role and write classes are added. It prints
operations per second and p95 latency of each run side by side, with the ratio to the
baseline. The runs share one machine and one cluster, so the ratios hold even where
the absolute numbers are noisy.`,
		Example: `  pgmedic bench harden
  pgmedic bench harden --scale 0.1 --duration 1m --clients 8 --format json`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.benchHarden(f) },
	}
	harden.Flags().StringVar(&f.dir, "dir", filepath.Join(".pgmedic", "bench"), "directory for the private cluster")
	harden.Flags().Float64Var(&f.scale, "scale", 0.05, "dataset size (1.0 = 100,000 patients and 1,000,000 claims)")
	harden.Flags().DurationVar(&f.duration, "duration", 30*time.Second, "workload time per profile, split into --rounds runs")
	harden.Flags().IntVar(&f.clients, "clients", 4, "concurrent workload sessions")
	harden.Flags().Uint64Var(&f.seed, "seed", 1, "random seed of the dataset and workload")
	harden.Flags().StringVar(&f.format, "format", "text", "output format: text or json")
	harden.Flags().IntVar(&f.rounds, "rounds", 3, "rounds per profile; --duration is split among them")
	cmd.AddCommand(harden)
	return cmd
}

// benchRun is one measured workload run.
type benchRun struct {
	Profile      string  `json:"profile"`
	OpsPerSecond float64 `json:"ops_per_second"`
	P95Ms        float64 `json:"p95_ms"`
	Errors       int64   `json:"errors"`
	// Ratio is throughput over the baseline's.
	Ratio float64 `json:"throughput_ratio"`
	// WriteOpsPerSecond counts the operations that change PHI rows, which the trigger costs.
	WriteOpsPerSecond float64 `json:"write_ops_per_second"`
	WriteP95Ms        float64 `json:"write_p95_ms"`
}

func (a *app) benchHarden(f benchFlags) (err error) {
	if err := (&demoFlags{scale: f.scale, duration: f.duration, clients: f.clients, dir: f.dir}).validate(); err != nil {
		return err
	}
	if f.rounds < 1 || f.rounds > 100 {
		return usageHint("e.g. --rounds 3", "--rounds must be between 1 and 100, got %d", f.rounds)
	}
	if f.format != "text" && f.format != "json" {
		return usageHint("run 'pgmedic bench harden --help'", "--format must be text or json, got %q", f.format)
	}
	if _, err := a.loadConfig(); err != nil {
		return err
	}
	a.logf("starting a private PostgreSQL in %s", f.dir)
	cluster, err := localpg.Start(a.ctx, localpg.Options{Dir: f.dir, Log: logWriter{a},
		Settings: map[string]string{"shared_buffers": "256MB", "work_mem": "8MB"}})
	if err != nil {
		return &jobError{msg: err.Error(), err: err, hint: hintFor(err, "see the server log in "+f.dir)}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if serr := cluster.Stop(ctx); serr != nil && err == nil {
			err = serr
		}
	}()
	if !cluster.Bin.HasLibrary("pgaudit") {
		return usageHint("install it (Debian: apt-get install postgresql-15-pgaudit)", "bench harden needs the pgaudit library, which this PostgreSQL installation lacks")
	}
	if err := a.recreateDatabase(cluster, demoDatabase); err != nil {
		return err
	}
	dsn := cluster.SocketURI(demoDatabase)
	noTimeout := time.Duration(0)
	pool, err := a.poolFor(dsn, writes, 8, &noTimeout, "")
	if err != nil {
		return err
	}
	_, err = a.seed(pool, seedFlags{scale: f.scale, seed: f.seed}, io.Discard)
	pool.Close()
	if err != nil {
		return err
	}
	// Install everything once, then switch each profile on and off between runs: on a
	// shared machine, rounds in rotating order keep the ratios honest.
	if err := a.applyParts(dsn, []string{"roles", "audit", "pgaudit"}); err != nil {
		return err
	}
	profiles := benchProfiles()
	samples := map[string][]*synth.WorkloadResult{}
	rounds := max(1, f.rounds)
	per := f.duration / time.Duration(rounds)
	for round := 0; round < rounds; round++ {
		for i := range profiles {
			p := profiles[(i+round)%len(profiles)]
			if err := a.switchProfile(dsn, p); err != nil {
				return err
			}
			res, err := a.benchRun(dsn, f, per)
			if err != nil {
				return err
			}
			samples[p.name] = append(samples[p.name], res)
		}
	}
	var runs []benchRun
	for _, p := range profiles {
		runs = append(runs, summarise(p.name, samples[p.name], runs))
	}
	return writeBench(a.stdout, f.format, runs, rounds, per)
}

// benchProfile is what is switched on for one kind of run.
type benchProfile struct {
	name             string
	trigger, pgaudit bool
}

func benchProfiles() []benchProfile {
	return []benchProfile{{"baseline", false, false}, {"audit trigger", true, false}, {"audit trigger + pgaudit", true, true}}
}

// switchProfile enables or disables the audit triggers and pgaudit's logging, through
// the executor like every change.
func (a *app) switchProfile(dsn string, p benchProfile) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	plan := compliance.BenchSwitchPlan(p.trigger, p.pgaudit)
	res, err := a.executeOn(dsn, cfg, plan, "pgmedic bench harden", nil)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return a.reportRun(res)
	}
	time.Sleep(300 * time.Millisecond) // the postmaster processes the reload
	return nil
}

func (a *app) benchRun(dsn string, f benchFlags, d time.Duration) (*synth.WorkloadResult, error) {
	wpool, err := a.poolFor(dsn, writes, int32(f.clients), nil, "pgmedic-workload")
	if err != nil {
		return nil, err
	}
	defer wpool.Close()
	return a.runWorkload(wpool, workloadFlags{duration: d, clients: f.clients, seed: f.seed})
}

// applyParts runs the named parts of the hardening plan on dsn.
func (a *app) applyParts(dsn string, parts []string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var skip []string
	for _, p := range compliance.HardenParts() {
		keep := false
		for _, q := range parts {
			keep = keep || p == q
		}
		if !keep {
			skip = append(skip, p)
		}
	}
	plan, _, err := a.hardenPlan(dsn, cfg, complyFixFlags{skip: skip, sample: 200, daysAhead: 2})
	if err != nil {
		return err
	}
	plan.Steps = append(plan.Steps, compliance.ReloadStep()) // pgaudit's settings need it
	res, err := a.executeOn(dsn, cfg, plan, "pgmedic bench harden", nil)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return a.reportRun(res)
	}
	return nil
}

// summarise takes the median of a profile's rounds; the ratio is to the baseline's.
func summarise(profile string, rs []*synth.WorkloadResult, before []benchRun) benchRun {
	r := benchRun{Profile: profile, Ratio: 1}
	var ops, p95, wops, wp95 []float64
	for _, res := range rs {
		r.Errors += res.Errors
		ops, p95 = append(ops, res.OpsPerSecond), append(p95, res.P95Ms)
		var writes int64
		var worst float64
		for _, op := range res.Ops {
			if synth.Writes(op.Name) {
				writes += op.Count
				worst = max(worst, op.P95Ms)
			}
		}
		wops, wp95 = append(wops, float64(writes)/max(res.DurationSeconds, 0.001)), append(wp95, worst)
	}
	r.OpsPerSecond, r.P95Ms, r.WriteOpsPerSecond, r.WriteP95Ms = median(ops), median(p95), median(wops), median(wp95)
	if len(before) > 0 && before[0].OpsPerSecond > 0 {
		r.Ratio = r.OpsPerSecond / before[0].OpsPerSecond
	}
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeBench(w io.Writer, format string, runs []benchRun, rounds int, per time.Duration) error {
	if format == "json" {
		return writeJSON(w, map[string]any{"runs": runs, "rounds": rounds, "seconds_per_run": per.Seconds()})
	}
	fmt.Fprintf(w, "medians of %d rounds of %s per profile, in rotating order\n", rounds, per)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tops/s\tp95 ms\tvs baseline\twrites/s\twrite p95 ms\terrors")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.3f (%+.1f%%)\t%.0f\t%.2f\t%d\n", r.Profile, r.OpsPerSecond, r.P95Ms, r.Ratio, 100*(r.Ratio-1),
			r.WriteOpsPerSecond, r.WriteP95Ms, r.Errors)
	}
	return tw.Flush()
}
