package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/checkup"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/report"
)

// demoDatabase is the database the demo loads.
const demoDatabase = "pgmedic_demo"

type demoFlags struct {
	dir      string
	scale    float64
	seed     uint64
	duration time.Duration
	clients  int
	keep     bool
	optimize bool
	// replicas and pgbouncer add streaming standbys and PgBouncer (demotopo.go).
	replicas  int
	pgbouncer bool
}

func (a *app) demoCommand() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a private PostgreSQL, load the healthcare dataset, run the workload and report",
		Long: `demo starts a private PostgreSQL cluster under --dir (TLS and SCRAM on loopback,
pg_stat_statements preloaded), loads the synthetic healthcare dataset into the
database pgmedic_demo, runs the realistic workload so pg_stat_statements has
something to show, and prints a summary. Without --keep the cluster is stopped at
the end; with --keep it stays up and the last line printed is its connection URI
(the password is read from a pgpass file next to the cluster, never printed).
'pgmedic demo stop' stops a kept cluster.`,
		Example: `  pgmedic demo
  pgmedic demo --scale 0.5 --duration 1m --keep
  pgmedic demo stop`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			return a.demo(f)
		},
	}
	cmd.Flags().StringVar(&f.dir, "dir", filepath.Join(".pgmedic", "demo"), "directory for the private cluster")
	cmd.Flags().Float64Var(&f.scale, "scale", 0.2, "dataset size (1.0 = 100,000 patients and 1,000,000 claims)")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "random seed of the dataset")
	cmd.Flags().DurationVar(&f.duration, "duration", 20*time.Second, "how long to run the workload")
	cmd.Flags().IntVar(&f.clients, "clients", 4, "concurrent workload sessions")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "leave the cluster running and print its connection URI last")
	cmd.Flags().BoolVar(&f.optimize, "optimize", false, "apply the index advice and run the workload again, comparing throughput and p95 latency")
	cmd.Flags().IntVar(&f.replicas, "replicas", 0, "streaming standbys to start beside the primary (see 'demo status')")
	cmd.Flags().BoolVar(&f.pgbouncer, "pgbouncer", false, "start PgBouncer in front, configured by 'pool advise' (one database per workload profile)")

	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop a demo cluster left running with --keep",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.demoStop(f.dir)
		},
	}
	stop.Flags().StringVar(&f.dir, "dir", filepath.Join(".pgmedic", "demo"), "directory of the demo cluster")
	cmd.AddCommand(stop, a.demoStatusCommand(&f.dir))
	return cmd
}

func (f *demoFlags) validate() error {
	if err := checkScale(f.scale); err != nil {
		return err
	}
	if f.duration <= 0 {
		return usageErrorf("--duration must be positive, got %s", f.duration)
	}
	if f.clients < 1 || f.clients > 200 {
		return usageErrorf("--clients must be between 1 and 200, got %d", f.clients)
	}
	if f.replicas < 0 || f.replicas > 5 {
		return usageHint("a laptop runs up to five", "--replicas must be between 0 and 5, got %d", f.replicas)
	}
	if strings.TrimSpace(f.dir) == "" {
		return usageErrorf("--dir must not be empty")
	}
	return nil
}

func (a *app) demo(f demoFlags) (err error) {
	began := time.Now()
	if _, err := a.loadConfig(); err != nil {
		return err
	}
	a.logf("starting a private PostgreSQL in %s", f.dir)
	cluster, err := localpg.Start(a.ctx, localpg.Options{
		Dir:      f.dir,
		Detached: f.keep,
		Log:      logWriter{a},
		Settings: map[string]string{"shared_buffers": "256MB", "work_mem": "8MB"},
	})
	if err != nil {
		return &jobError{msg: err.Error(), err: err, hint: hintFor(err, "see the server log in "+f.dir)}
	}
	if !f.keep {
		defer func() {
			// The invocation's context may be cancelled (Ctrl-C); stopping must still run.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if serr := cluster.Stop(ctx); serr != nil && err == nil {
				err = serr
			}
		}()
	}

	if err := a.recreateDatabase(cluster, demoDatabase); err != nil {
		return err
	}
	noTimeout := time.Duration(0)
	pool, err := a.poolFor(cluster.SocketURI(demoDatabase), writes, 8, &noTimeout, "")
	if err != nil {
		return err
	}
	defer pool.Close()

	out := a.stdout
	fmt.Fprintf(out, "pgmedic demo: PostgreSQL %s on 127.0.0.1:%d, database %s\n\n", cluster.Bin.Version, cluster.Port(), demoDatabase)
	if _, err := a.seed(pool, seedFlags{scale: f.scale, seed: f.seed}, out); err != nil {
		return err
	}
	if _, err := pool.Exec(a.ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return fmt.Errorf("resetting pg_stat_statements: %w", err)
	}

	wpool, err := a.poolFor(cluster.SocketURI(demoDatabase), writes, int32(f.clients), nil, "pgmedic-workload")
	if err != nil {
		return err
	}
	res, err := a.runWorkload(wpool, workloadFlags{duration: f.duration, clients: f.clients, seed: f.seed})
	wpool.Close()
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := writeWorkload(out, res, "text"); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := topStatements(a.ctx, pool, out, 8); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := a.demoReport(cluster, f.dir, out); err != nil {
		return err
	}
	if err := a.demoAdvice(cluster, f, res, out); err != nil {
		return err
	}
	if f.replicas > 0 || f.pgbouncer {
		stopTopology, err := a.startTopology(cluster, f, out)
		if err != nil {
			return err
		}
		if !f.keep {
			defer stopTopology()
		}
	}
	fmt.Fprintf(out, "\ndemo finished in %.0fs\n", time.Since(began).Seconds())
	if res.Errors > 0 {
		return &jobError{msg: fmt.Sprintf("%d workload operations failed", res.Errors), hint: "the table above shows the first error of each operation"}
	}
	if f.keep {
		a.logf("the cluster keeps running; stop it with: pgmedic demo stop --dir %s", f.dir)
		fmt.Fprintln(out, cluster.URI(demoDatabase))
	}
	return nil
}

// demoReport runs the health checks on the demo database and writes the HTML report
// next to the cluster's directory.
func (a *app) demoReport(cluster *localpg.Cluster, dir string, out io.Writer) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	sess, err := a.openAnalysis(cfg, cluster.SocketURI(demoDatabase), false)
	if err != nil {
		return err
	}
	defer sess.close()
	copts := checkup.Options{Planner: sess.planner}
	if cfg.QueryAnalyzer.EnableHealthcareCompliance {
		enriched, rep, err := checkup.Comply(a.ctx, sess.conn, cfg)
		if err != nil {
			return checkupError(err)
		}
		cfg, copts.Compliance = enriched, rep
	}
	res, err := checkup.Analyse(a.ctx, cfg, sess.snap, copts)
	if err != nil {
		return checkupError(err)
	}
	if res.Compliance != nil {
		fmt.Fprintf(out, "%s (pgmedic comply for the checks, pgmedic comply fix to harden)\n", res.Compliance.Summary())
	}
	sum := finding.Summarize(res.Findings)
	fmt.Fprintf(out, "health checks: %d findings (critical %d, high %d, medium %d, low %d, info %d), %d undecided\n",
		sum.Total, sum.BySeverity["critical"], sum.BySeverity["high"], sum.BySeverity["medium"], sum.BySeverity["low"], sum.BySeverity["info"], sum.Unknown)
	for _, f := range res.Findings {
		if f.Status == finding.Open && f.Severity >= finding.High {
			fmt.Fprintf(out, "  [%s] %s\n", strings.ToUpper(f.Severity.String()), f.Title)
		}
	}
	path := filepath.Join(dir, "report.html")
	if err := a.writeTo(path, func(w io.Writer) error { return report.Write(w, report.HTML, res.Report, report.Options{}) }); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fmt.Fprintf(out, "HTML report: %s\n", abs)
	return nil
}

// demoAdvice shows the index advice and, with --optimize, applies it and measures the
// workload again.
func (a *app) demoAdvice(cluster *localpg.Cluster, f demoFlags, before *synth.WorkloadResult, out io.Writer) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if !cluster.Bin.HasExtension("hypopg") {
		if f.optimize {
			return usageHint("install it (Debian: apt-get install postgresql-15-hypopg)", "--optimize needs the hypopg extension, which this PostgreSQL installation lacks")
		}
		fmt.Fprintln(out, "\nindex advice skipped: the hypopg extension is not installed (Debian: postgresql-15-hypopg)")
		return nil
	}
	dsn := cluster.SocketURI(demoDatabase)
	adv, err := a.computeAdvice(cfg, dsn, adviseFlags{weight: "auto"})
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := writeAdvice(out, "text", adv); err != nil {
		return err
	}
	if !f.optimize {
		return nil
	}
	fmt.Fprintln(out)
	res, err := a.runApply(cfg, dsn, adv)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return &jobError{msg: fmt.Sprintf("%d index builds failed", res.Failed)}
	}
	wpool, err := a.poolFor(dsn, writes, int32(f.clients), nil, "pgmedic-workload")
	if err != nil {
		return err
	}
	after, err := a.runWorkload(wpool, workloadFlags{duration: f.duration, clients: f.clients, seed: f.seed + 1})
	wpool.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nworkload with the recommended indexes (%d built):\n", len(adv.Recommendations))
	if err := writeWorkload(out, after, "text"); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nbefore: %.0f operations/s, p95 %.2f ms\nafter:  %.0f operations/s, p95 %.2f ms (%.1fx the throughput)\n",
		before.OpsPerSecond, before.P95Ms, after.OpsPerSecond, after.P95Ms, after.OpsPerSecond/before.OpsPerSecond)
	return nil
}

// recreateDatabase gives the demo a fresh database with the extensions it uses.
func (a *app) recreateDatabase(cluster *localpg.Cluster, name string) error {
	ctx := a.ctx
	admin, err := pgconn.Connect(ctx, cluster.SocketURI("postgres"), pgconn.Policy{Write: true})
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping the old demo database: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return fmt.Errorf("creating the demo database: %w", err)
	}
	conn, err := pgconn.Connect(ctx, cluster.SocketURI(name), pgconn.Policy{Write: true})
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, ext := range []string{"pg_stat_statements", "hypopg", "pg_qualstats"} {
		if !cluster.Bin.HasExtension(ext) {
			continue
		}
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{ext}.Sanitize()); err != nil {
			if ext == "pg_stat_statements" {
				return fmt.Errorf("creating pg_stat_statements: %w", err)
			}
			a.logf("pgmedic: note: extension %s is not available (%v)", ext, err)
		}
	}
	return nil
}

// topStatements prints the statements that took the most time, normalised (the text
// pg_stat_statements keeps has parameters, not values).
func topStatements(ctx context.Context, pool *pgxpool.Pool, out io.Writer, n int) error {
	rows, err := pool.Query(ctx, pgconn.Marker+`SELECT calls, total_exec_time, mean_exec_time, query
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query !~* '^\s*(begin|commit|rollback|set|reset|select pg_stat_statements_reset)'
		  AND left(ltrim(query), 13) <> '/* pgmedic */'
		ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	type stmt struct {
		calls       int64
		total, mean float64
		query       string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stmt, error) {
		var s stmt
		err := r.Scan(&s.calls, &s.total, &s.mean, &s.query)
		return s, err
	})
	if err != nil {
		return fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	fmt.Fprintln(out, "top statements by total time (pg_stat_statements):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  total ms\tcalls\tmean ms\tstatement")
	for _, s := range list {
		fmt.Fprintf(tw, "  %.0f\t%d\t%.2f\t%s\n", s.total, s.calls, s.mean, display.Shorten(s.query, 90))
	}
	return tw.Flush()
}

func (a *app) demoStop(dir string) error {
	cluster, err := localpg.Attach(a.ctx, dir)
	if err != nil {
		if errors.Is(err, localpg.ErrNotACluster) {
			return usageHint("give the --dir the demo was started with", "no demo cluster in %s", dir)
		}
		return err
	}
	if err := a.stopTopology(dir); err != nil {
		return err
	}
	if !cluster.Running() {
		a.logf("the demo cluster in %s is not running", dir)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cluster.Stop(ctx); err != nil {
		return err
	}
	a.logf("stopped the demo cluster in %s", dir)
	return nil
}

// logWriter sends localpg's step lines to stderr unless --quiet.
type logWriter struct{ a *app }

func (w logWriter) Write(p []byte) (int, error) {
	w.a.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// hintFor returns the hint an error carries, or def.
func hintFor(err error, def string) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	return def
}
