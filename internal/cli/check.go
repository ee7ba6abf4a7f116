package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/checkup"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/snapshot"
)

type collectFlags struct {
	output        string
	serverMemory  string
	serverCPUs    int
	maxStatements int
}

func (f *collectFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.serverMemory, "server-memory", "", "the database server's memory (e.g. 64GB), when it is not this machine; memory settings are judged against it")
	cmd.Flags().IntVar(&f.serverCPUs, "server-cpus", 0, "the database server's CPU count, when it is not this machine")
	cmd.Flags().IntVar(&f.maxStatements, "max-statements", 1000, "pg_stat_statements entries kept, by total time")
}

func (a *app) collectCommand() *cobra.Command {
	var f collectFlags
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Collect a snapshot of a database's catalogs, statistics and workload as JSON",
		Long: `collect reads, in one read-only pass, everything pgmedic's checks need: settings,
tables, indexes, constraints, sequences, triggers, roles, activity, locks,
replication, archiving, checkpoints and the pg_stat_statements workload. The JSON it
writes never contains row values, so it can be collected inside a hospital's
network and analysed elsewhere with 'pgmedic check --snapshot'. Parts the role may
not read are recorded as unknown, with the reason.`,
		Example: `  pgmedic collect --dsn postgres://monitor@db.internal/claims?sslmode=verify-full > snap.json
  pgmedic check --snapshot snap.json --format html --output report.html`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			snap, err := a.collectSnapshot(a.dsn, f)
			if err != nil {
				return err
			}
			return a.writeTo(f.output, func(w io.Writer) error { return snapshot.Write(w, snap) })
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// collectSnapshot connects read-only and collects.
func (a *app) collectSnapshot(dsn string, f collectFlags) (*snapshot.Snapshot, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	opts := snapshot.Options{Tool: "pgmedic " + version, MaxStatements: f.maxStatements, CPUs: f.serverCPUs}
	if f.serverMemory != "" {
		b, err := config.ParseByteSize(f.serverMemory)
		if err != nil || b <= 0 {
			return nil, usageErrorf("--server-memory %q is not a size such as 64GB or 512MiB", f.serverMemory)
		}
		opts.MemoryBytes = int64(b)
	}
	if f.maxStatements < 1 {
		return nil, usageErrorf("--max-statements must be at least 1, got %d", f.maxStatements)
	}
	p := a.policy(cfg, readOnly)
	cc, err := pgconn.ParseConfig(dsn, p)
	if err != nil {
		return nil, err
	}
	if cc.Password != "" {
		a.secrets = append(a.secrets, cc.Password)
	}
	opts.Local = pgconn.IsLocal(cc.Host)
	conn, err := pgconn.Connect(a.ctx, dsn, p)
	if err != nil {
		return nil, err
	}
	defer conn.Close(a.ctx)
	start := time.Now()
	snap, err := snapshot.Collect(a.ctx, conn, opts)
	if err != nil {
		return nil, &jobError{msg: err.Error(), err: err, hint: "check that the role can read pg_catalog; grant pg_monitor for the statistics views"}
	}
	snap.Backups = a.backupEvidence(cfg, conn)
	unknown := 0
	for _, p := range snap.Parts {
		if p.Status == snapshot.PartUnknown {
			unknown++
		}
	}
	a.logf("collected %d tables, %d indexes and %d statements from %s in %.1fs (%d parts unknown)",
		len(snap.Tables), len(snap.Indexes), len(snap.Workload.Statements), snap.Server.Database, time.Since(start).Seconds(), unknown)
	return snap, nil
}

type checkFlags struct {
	collectFlags
	snapshotPath string
	baselinePath string
	format       string
	failOn       string
}

func (a *app) checkCommand() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run the health checks and report the findings",
		Long: `check collects a snapshot (or reads one with --snapshot), runs every health check
on it and reports the findings: connections, sessions and locks, schema (foreign
keys without indexes, missing primary keys, NOT VALID constraints, invalid indexes,
sequences and integer keys near their limits, disabled triggers), maintenance
(bloat, dead rows, statistics, autovacuum, wraparound), storage, WAL, replication,
slow statements, and memory and planner settings. Findings on patient and claims
tables are raised in priority. 'pgmedic checks' lists the checks and thresholds.

With --fail-on SEVERITY the exit code is 1 when a finding at or above that severity
exists, for CI pipelines.`,
		Example: `  pgmedic check --dsn postgres://me@localhost/claims
  pgmedic check --snapshot snap.json --format html --output report.html
  pgmedic check --format sarif --output pgmedic.sarif --fail-on high`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.check(f)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.snapshotPath, "snapshot", "", "analyse this snapshot file (from 'pgmedic collect') instead of connecting")
	cmd.Flags().StringVar(&f.baselinePath, "baseline", "", "an earlier snapshot of the same database, for growth and rates")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: "+strings.Join(report.Formats(), ", "))
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding at or above this severity exists: "+strings.Join(finding.SeverityNames(), ", "))
	return cmd
}

func (a *app) check(f checkFlags) error {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	var failOn *finding.Severity
	if f.failOn != "" {
		sev, err := finding.ParseSeverity(f.failOn)
		if err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
		failOn = &sev
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var baseline *snapshot.Snapshot
	if f.baselinePath != "" {
		if baseline, err = readSnapshotFile(f.baselinePath, "--baseline"); err != nil {
			return err
		}
	}
	var snap *snapshot.Snapshot
	if f.snapshotPath != "" {
		if a.dsn != "" {
			return usageErrorf("give either --snapshot or --dsn, not both")
		}
		if snap, err = readSnapshotFile(f.snapshotPath, "--snapshot"); err != nil {
			return err
		}
		if f.serverMemory != "" {
			b, err := config.ParseByteSize(f.serverMemory)
			if err != nil || b <= 0 {
				return usageErrorf("--server-memory %q is not a size such as 64GB or 512MiB", f.serverMemory)
			}
			snap.Host = &snapshot.Host{MemoryBytes: int64(b), CPUs: f.serverCPUs, Source: "flag"}
		}
	} else if snap, err = a.collectSnapshot(a.dsn, f.collectFlags); err != nil {
		return err
	}
	copts := checkup.Options{Baseline: baseline}
	if f.snapshotPath == "" {
		var done func()
		if cfg, done, err = a.liveCheck(cfg, snap, &copts); err != nil {
			return err
		}
		defer done()
	}
	res, err := checkup.Analyse(a.ctx, cfg, snap, copts)
	if err != nil {
		return checkupError(err)
	}
	if !snap.Workload.Available {
		a.logf("pgmedic: warning: %s; statement checks are limited (see the statements.unavailable finding)", snap.Workload.Reason)
	}
	opts := report.Options{Color: format == report.Text && f.output == "" && !a.noColor && isTerminal(a.stdout)}
	if err := a.writeTo(f.output, func(w io.Writer) error { return report.Write(w, format, res.Report, opts) }); err != nil {
		return err
	}
	if f.output != "" {
		a.logf("wrote the %s report to %s", format, f.output)
	}
	if failOn != nil && finding.AtLeast(res.Findings, *failOn) {
		return &exitError{code: ExitFailure}
	}
	return nil
}

func readSnapshotFile(path, flag string) (*snapshot.Snapshot, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, usageHint("create one with: pgmedic collect --dsn URI > snap.json", "%s: cannot open %s: %v", flag, path, errors.Unwrap(err))
	}
	defer fh.Close()
	s, err := snapshot.Read(fh)
	if err != nil {
		var fe *snapshot.FormatError
		if errors.As(err, &fe) {
			return nil, usageHint(fe.Hint, "%s %s: %s", flag, path, fe.Msg)
		}
		return nil, err
	}
	return s, nil
}

func (a *app) checksCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List every health check with its severity and thresholds",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			list := health.List(cfg)
			for _, r := range queryperf.Rules() {
				info := health.Info{ID: r.ID, Area: r.Area, Title: r.Title, Description: r.Description, Severity: r.Severity, References: r.References}
				for _, t := range r.Thresholds {
					if t.FromConfig != nil {
						t.Default = t.FromConfig(cfg)
					}
					info.Thresholds = append(info.Thresholds, t)
				}
				list = append(list, info)
			}
			switch format {
			case "json":
				type threshold struct {
					Name  string  `json:"name"`
					Value float64 `json:"value"`
					Unit  string  `json:"unit,omitempty"`
				}
				type entry struct {
					ID          string      `json:"id"`
					Area        string      `json:"area"`
					Severity    string      `json:"severity"`
					Title       string      `json:"title"`
					Description string      `json:"description"`
					Thresholds  []threshold `json:"thresholds,omitempty"`
				}
				var out []entry
				for _, c := range list {
					e := entry{ID: c.ID, Area: c.Area, Severity: c.Severity.String(), Title: c.Title, Description: c.Description}
					for _, t := range c.Thresholds {
						e.Thresholds = append(e.Thresholds, threshold{t.Name, t.Default, t.Unit})
					}
					out = append(out, e)
				}
				return writeJSON(a.stdout, out)
			case "text":
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tAREA\tSEVERITY\tTITLE\tTHRESHOLDS")
				for _, c := range list {
					var ts []string
					for _, t := range c.Thresholds {
						// Plain digits, never 5.24288e+07: the value is copied into overrides.
						ts = append(ts, t.Name+"="+strconv.FormatFloat(t.Default, 'f', -1, 64)+unitSuffix(t.Unit))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Area, c.Severity, c.Title, strings.Join(ts, " "))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "\n%d checks. Override thresholds in pgmedic.yaml under checks.thresholds, e.g. \"sessions.idle_in_transaction.min_seconds=30\".\n", len(list))
				return nil
			default:
				return usageErrorf("--format must be text or json, got %q", format)
			}
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func unitSuffix(u string) string {
	switch u {
	case "", "bytes":
		return ""
	case "%", "s", "ms":
		return u
	}
	return ""
}

// liveCheck opens the read-only session a check of a live database uses: the HIPAA audit
// (whose PHI discovery also feeds the other checks) and the planner for the workload.
// The returned function closes the session, which the planner needs until the analysis ends.
func (a *app) liveCheck(cfg *config.Profile, snap *snapshot.Snapshot, copts *checkup.Options) (*config.Profile, func(), error) {
	if !snap.Workload.Available && !cfg.QueryAnalyzer.EnableHealthcareCompliance {
		return cfg, func() {}, nil
	}
	if cfg.QueryAnalyzer.EnableHealthcareCompliance {
		if err := a.checkComplianceConfig(cfg); err != nil {
			return nil, nil, err
		}
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, nil, err
	}
	done := func() { conn.Close(context.Background()) }
	if cfg.QueryAnalyzer.EnableHealthcareCompliance {
		enriched, rep, err := checkup.Comply(a.ctx, conn, cfg)
		if err != nil {
			a.logf("pgmedic: warning: the HIPAA audit could not run (%s); the report leaves it out", a.scrub(err.Error()))
		} else {
			cfg, copts.Compliance = enriched, rep
		}
	}
	if snap.Workload.Available {
		// Plans make the statement findings specific; the session is read-only.
		if copts.Planner, err = explain.New(a.ctx, conn); err != nil {
			done()
			return nil, nil, err
		}
	}
	return cfg, done, nil
}
