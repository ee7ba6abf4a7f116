package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/matview"
	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/monitor/web"
	"github.com/pgmedic/pgmedic/partition"
	"github.com/pgmedic/pgmedic/pgconn"
)

type monitorFlags struct {
	dsns      []string
	listen    string
	tokenFile string
	tlsCert   string
	tlsKey    string
	rules     bool
}

func (a *app) monitorCommand() *cobra.Command {
	var f monitorFlags
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Watch servers on an interval: alerts, Prometheus /metrics and a dashboard",
		Long: `monitor reads each target every monitor.monitoringInterval through one read-only
session (statement and lock timeouts, its queries marked so that workload analysis
leaves them out), keeps monitor.retentionPeriod days of history in memory (bounded),
and raises alerts from the rules listed by --rules, with thresholds from
monitor.alertThresholds. Alerts go to the log (standard error, JSON), and to
monitor.webhookURL and monitor.alertmanagerURL when set.

It serves /metrics (Prometheus), /api/v1/alerts (JSON), /healthz and a dashboard on
--listen. Everything but /healthz needs the token (monitor.token,
PGMEDIC_MONITOR_TOKEN or --token-file); listening beyond loopback needs a token and
TLS. SIGTERM or Ctrl-C stops it cleanly.`,
		Example: `  PGMEDIC_MONITOR_TOKEN=$(cat /etc/pgmedic/token) pgmedic monitor --dsn postgres://monitor@db1/claims --dsn postgres://monitor@db2/claims
  PGMEDIC_MONITOR_MONITORING_INTERVAL=1000 pgmedic monitor --listen 127.0.0.1:9188
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9188/metrics
  pgmedic monitor --rules`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.rules {
				return a.listRules()
			}
			return a.runMonitor(f)
		},
	}
	fl := cmd.Flags()
	// A repeatable --dsn of its own shadows the global single one.
	fl.StringArrayVar(&f.dsns, "dsn", nil, "a server to watch (repeat for several; also monitor.targets; default: the libpq environment)")
	fl.StringVar(&f.listen, "listen", "", "HTTP address (default monitor.listen, 127.0.0.1:9188)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (default monitor.tokenFile)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate for HTTPS (default monitor.tlsCert)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS key for HTTPS (default monitor.tlsKey)")
	fl.BoolVar(&f.rules, "rules", false, "list the alert rules in effect and exit")
	cmd.AddCommand(a.monitorReportCommand())
	return cmd
}

func (a *app) monitorReportCommand() *cobra.Command {
	var from, format, output string
	cmd := &cobra.Command{
		Use:     "report",
		Short:   "Summarise a monitor history file (monitor.historyFile) as Markdown or HTML with charts",
		Example: `  pgmedic monitor report --from /var/lib/pgmedic/history.jsonl --format html --output monitoring.html`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageHint("give the file monitor.historyFile names", "--from is required")
			}
			if format != "markdown" && format != "html" {
				return usageErrorf("--format %q is not markdown or html", format)
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			recs, err := monitor.ReadHistory(from)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // the path is in the message already
				}
				return usageHint("check the path; the monitor writes it when monitor.historyFile is set", "cannot read the history file %s: %v", from, err)
			}
			sums := monitor.Summarise(recs)
			return a.writeTo(output, func(w io.Writer) error { return monitor.WriteReport(w, format, sums) })
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "history file written by the monitor")
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or html")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) listRules() error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	opts := monitor.OptionsFromConfig(cfg)
	rules, err := monitor.Rules(opts.Thresholds, opts.Overrides)
	if err != nil {
		return usageHint("fix monitor.rules in the configuration", "%v", err)
	}
	return a.writeTo("", func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tSEVERITY\tFOR\tFIRES WHEN")
		for _, r := range rules {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Severity, r.ForText(opts.Interval), r.Description)
		}
		return tw.Flush()
	})
}

func (a *app) runMonitor(f monitorFlags) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	m := cfg.Monitor
	token, err := monitorToken(m, f.tokenFile)
	if err != nil {
		return err
	}
	w := web.Options{Listen: firstSet(f.listen, m.Listen), Token: token, ViewerToken: m.ViewerToken, TLSCert: firstSet(f.tlsCert, m.TLSCert), TLSKey: firstSet(f.tlsKey, m.TLSKey)}
	if w.ViewerToken != "" && (w.Token == "" || w.ViewerToken == w.Token) {
		return usageHint("set monitor.token too, to a different value", "monitor.viewerToken needs a separate monitor.token")
	}
	if (w.TLSCert == "") != (w.TLSKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	if err := web.CheckListen(w.Listen, w.Token, w.TLSCert != ""); err != nil {
		var le *web.ListenError
		if errors.As(err, &le) {
			return usageHint(le.Hint, "%s", le.Msg)
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(a.stderr, nil))
	w.Audit = log
	opts := monitor.OptionsFromConfig(cfg)
	opts.Policy = a.policy(cfg, readOnly)
	opts.Logger = log
	opts.Sinks = []monitor.Sink{monitor.LogSink{Logger: log}}
	if m.WebhookURL != "" {
		opts.Sinks = append(opts.Sinks, monitor.WebhookSink{URL: m.WebhookURL})
	}
	if m.AlertmanagerURL != "" {
		opts.Sinks = append(opts.Sinks, monitor.AlertmanagerSink{URL: m.AlertmanagerURL})
	}
	dsns := append(append([]string{}, f.dsns...), m.Targets...)
	if len(dsns) == 0 {
		dsns = []string{a.dsn} // the libpq environment
	}
	for _, d := range dsns {
		a.secrets = append(a.secrets, pgconn.Secrets(d)...)
	}
	opts.Jobs = a.monitorJobs(cfg, dsns)
	var scores *compliance.ScoreSource
	if cfg.QueryAnalyzer.EnableHealthcareCompliance {
		scores = compliance.NewScoreSource(cfg, opts.Policy, 10*time.Minute, func(target string, err error) {
			log.Warn("monitor: HIPAA audit failed", "target", target, "error", a.scrub(err.Error()))
		})
		opts.Compliance = scores
	}
	mon, err := monitor.New(dsns, opts)
	if err != nil {
		var re *monitor.RuleError
		if errors.As(err, &re) {
			return usageHint("fix monitor.rules in the configuration (see pgmedic monitor --rules)", "%v", err)
		}
		return err
	}
	if scores != nil {
		for i, name := range mon.Targets() {
			scores.Add(name, dsns[i])
		}
		go scores.Run(a.ctx)
	}
	srv, err := web.New(mon, w)
	if err != nil {
		return err
	}
	return a.serveMonitor(mon, srv, w)
}

// serveMonitor runs the collectors and the HTTP server until the context ends (SIGTERM,
// Ctrl-C) or the server fails.
func (a *app) serveMonitor(mon *monitor.Monitor, srv *web.Server, w web.Options) error {
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	scheme := "http"
	if w.TLSCert != "" {
		scheme = "https"
	}
	err := srv.Serve(ctx, func(addr fmt.Stringer) {
		a.logf("pgmedic: monitoring %s every %s; serving %s://%s/ (metrics at /metrics)", strings.Join(mon.Targets(), ", "),
			mon.Interval(), scheme, addr)
	})
	cancel()
	runErr := <-done
	if err != nil {
		return &jobError{msg: fmt.Sprintf("the monitor's HTTP server failed: %v", err), hint: "check --listen (is the port free?)", err: err}
	}
	return runErr
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// monitorToken reads the token: --token-file, else monitor.token (PGMEDIC_MONITOR_TOKEN
// sets it), else monitor.tokenFile.
func monitorToken(m config.Monitor, flagFile string) (string, error) {
	file := firstSet(flagFile, "")
	if file == "" && m.Token != "" {
		return m.Token, nil
	}
	if file == "" {
		file = m.TokenFile
	}
	if file == "" {
		return "", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", usageHint("check the token file's path and permissions", "cannot read the token file %s: %v", file, err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", usageHint("write the token into the file", "the token file %s is empty", file)
	}
	return tok, nil
}

// monitorJobs schedules the maintenance the configuration asks the monitor to run: view
// refreshes and partition maintenance, each target on its own, through the executor.
func (a *app) monitorJobs(cfg *config.Profile, dsns []string) []monitor.Job {
	var jobs []monitor.Job
	for i, dsn := range dsns {
		if every := cfg.Monitor.RefreshMaterializedViews.Duration; every > 0 {
			jobs = append(jobs, monitor.Job{Name: fmt.Sprintf("matview refresh (target %d)", i+1), Every: every,
				Run: func(ctx context.Context) error { return a.refreshViews(ctx, cfg, dsn, every) }})
		}
		if every := cfg.Monitor.PartitionMaintenance.Duration; every > 0 {
			jobs = append(jobs, monitor.Job{Name: fmt.Sprintf("partition maintain (target %d)", i+1), Every: every,
				Run: func(ctx context.Context) error { return a.maintainPartitions(ctx, cfg, dsn) }})
		}
	}
	return jobs
}

// refreshViews refreshes the views not refreshed within the interval.
func (a *app) refreshViews(ctx context.Context, cfg *config.Profile, dsn string, every time.Duration) error {
	conn, err := pgconn.Connect(ctx, dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	views, err := matview.Views(ctx, conn)
	conn.Close(context.Background())
	if err != nil {
		return err
	}
	// A little under the interval, so a refresh due now is not skipped for seconds.
	plan, _ := matview.RefreshPlan(views, matview.RefreshOptions{OlderThan: every * 9 / 10})
	if len(plan.Steps) == 0 {
		return nil
	}
	run, err := a.executeOn(dsn, cfg, plan, "pgmedic monitor (matview refresh)", nil)
	if err != nil {
		return err
	}
	if run.Failed > 0 {
		return fmt.Errorf("%d of %d view refreshes failed (see pgmedic actions)", run.Failed, len(plan.Steps))
	}
	return nil
}

// maintainPartitions runs partition maintain --apply with the configuration's settings.
func (a *app) maintainPartitions(ctx context.Context, cfg *config.Profile, dsn string) error {
	p := cfg.Partitioner
	o := partition.MaintainOptions{Premake: p.Premake, RetentionMonths: p.RetentionPeriod, LegalHolds: p.LegalHolds,
		Archive: partition.ArchiveOptions{Dir: p.ArchiveDir, DSN: dsn, Recipients: p.ArchiveRecipients, IdentityFile: p.ArchiveIdentityFile}}
	conn, err := pgconn.Connect(ctx, dsn, a.policy(cfg, writes))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	res, err := partition.Maintain(ctx, conn, o)
	if err != nil || len(res.Plan.Steps) == 0 {
		return err
	}
	run, err := partition.RunMaintenance(ctx, conn, res, o, a.migrateOptions(0))
	if err == nil && run != nil && run.Failed > 0 {
		err = fmt.Errorf("%d partition maintenance steps failed (see pgmedic actions)", run.Failed)
	}
	return err
}
