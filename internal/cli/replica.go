package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/replica"
)

type replicaStatusFlags struct {
	format   string
	output   string
	standbys []string
	interval time.Duration
	failIf   bool
	patroni  string
}

func (a *app) replicaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replica",
		Short: "Standbys: replication state and failover readiness; adding a standby",
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.replicaStatusCommand(), a.replicaAddCommand())
	return cmd
}

func (a *app) replicaStatusCommand() *cobra.Command {
	var f replicaStatusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Every standby's positions and lag, slots, synchronous settings, archiving; ready or not",
		Long: `status reads the primary (--dsn) twice, --interval apart: every standby in
pg_stat_replication with its state, sent/write/flush/replay positions, lag in bytes
and seconds and slot; the replication slots; synchronous_standby_names and
synchronous_commit; the timeline; and WAL archiving. A standby whose replay stood
still between the readings while received WAL waited is stuck. With --standby URIs
(sessions on the standbys) a paused replay is seen even when nothing is written.
Ready means at least one streaming standby under the lag bound
(monitor.alertThresholds.replicationLag) and archiving healthy; every reason it is
not is listed. With --patroni, Patroni's /cluster is read as well: exactly one leader, not
paused, one timeline, and a replica within maximum lag that may fail over.`,
		Example: `  pgmedic replica status --dsn postgres://me@primary/postgres?sslmode=verify-full
  pgmedic replica status --format json --standby postgres://me@standby1/postgres
  pgmedic replica status --fail-if-not-ready   # exit 1 when not ready, for a probe`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.replicaStatus(f) },
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringArrayVar(&f.standbys, "standby", nil, "a standby's connection string (repeatable): shows paused replay")
	cmd.Flags().DurationVar(&f.interval, "interval", time.Second, "time between the two readings of the primary")
	cmd.Flags().BoolVar(&f.failIf, "fail-if-not-ready", false, "exit 1 when the cluster is not ready to fail over")
	cmd.Flags().StringVar(&f.patroni, "patroni", "", "Patroni REST API URL (e.g. http://10.0.0.5:8008): its /cluster is judged too")
	return cmd
}

func (a *app) replicaStatus(f replicaStatusFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageHint("use --format text or --format json", "--format must be text or json, got %q", f.format)
	}
	if f.interval <= 0 {
		return usageHint("give a duration such as 1s or 500ms", "--interval must be positive, got %s", f.interval)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	p := a.policy(cfg, readOnly)
	primary, err := pgconn.Connect(a.ctx, a.dsn, p)
	if err != nil {
		return err
	}
	defer primary.Close(a.ctx)
	opts := replica.Options{MaxLag: cfg.Monitor.AlertThresholds.ReplicationLag.Duration, Interval: f.interval,
		Standbys: map[string]replica.Querier{}, PatroniURL: f.patroni}
	for i, dsn := range f.standbys {
		c, err := pgconn.Connect(a.ctx, dsn, p)
		if err != nil {
			return err
		}
		defer c.Close(a.ctx)
		opts.Standbys[fmt.Sprintf("standby%d", i+1)] = c
	}
	st, err := replica.GetStatus(a.ctx, primary, opts)
	if err != nil {
		return &jobError{msg: err.Error(), err: err, hint: "grant pg_monitor to the role so it can read replication and archiving state"}
	}
	if err := a.writeTo(f.output, func(w io.Writer) error { return writeReplicaStatus(w, f.format, st) }); err != nil {
		return err
	}
	if f.failIf && !st.Ready {
		return &exitError{code: 1}
	}
	return nil
}

func writeReplicaStatus(w io.Writer, format string, st *replica.Status) error {
	if format == "json" {
		return writeJSON(w, st)
	}
	w = display.NewWriter(w)
	verdict := "READY to fail over"
	if !st.Ready {
		verdict = "NOT READY to fail over"
	}
	fmt.Fprintf(w, "%s.\n", verdict)
	for _, r := range st.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	pr := st.Primary
	fmt.Fprintf(w, "\nPrimary: timeline %d, WAL at %s; synchronous_standby_names=%q, synchronous_commit=%s.\n",
		pr.Timeline, pr.CurrentLSN, pr.SynchronousStandbyNames, pr.SynchronousCommit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nSTANDBY\tADDRESS\tSTATE\tSYNC\tSENT\tFLUSH\tREPLAY\tLAG BYTES\tLAG S\tSLOT\tPAUSED\tLAGGING\n")
	for _, r := range st.Replicas {
		lag, paused := "-", "?"
		if r.LagSeconds != nil {
			lag = fmt.Sprintf("%.2f", *r.LagSeconds)
		}
		if r.Paused != nil {
			paused = fmt.Sprint(*r.Paused)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%v\n", r.Name, r.ClientAddr, r.State, r.SyncState,
			r.SentLSN, r.FlushLSN, r.ReplayLSN, r.LagBytes, lag, r.Slot, paused, r.Lagging)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range st.Slots {
		retained := "?"
		if s.RetainedBytes != nil {
			retained = fmt.Sprint(*s.RetainedBytes)
		}
		fmt.Fprintf(w, "slot %s (%s): active=%v wal_status=%s retained=%s bytes\n", s.Name, s.Type, s.Active, s.WALStatus, retained)
	}
	ar := st.Archiving
	state := "healthy"
	if !ar.Healthy {
		state = "NOT healthy: " + ar.Reason
	}
	fmt.Fprintf(w, "archiving (archive_mode=%s): %d archived, %d failed; %s\n", ar.Mode, ar.Archived, ar.Failed, state)
	if p := st.Patroni; p != nil {
		fmt.Fprintf(w, "Patroni %s (scope %s): %d leader(s), paused=%v\n", p.URL, p.Scope, p.Leaders, p.Paused)
		for _, m := range p.Members {
			lag := "unknown"
			if m.LagBytes != nil {
				lag = fmt.Sprint(*m.LagBytes)
			}
			fmt.Fprintf(w, "  %s %s %s timeline %d lag %s\n", m.Name, m.Role, m.State, m.Timeline, lag)
		}
	}
	for _, s := range st.Standbys {
		if s.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", s.Name, s.Error)
			continue
		}
		fmt.Fprintf(w, "%s: timeline %d, received %s, replayed %s, replay %s\n", s.Name, s.Timeline, s.ReceiveLSN, s.ReplayLSN,
			strings.ReplaceAll(s.PauseState, "_", " "))
	}
	return nil
}

type replicaAddFlags struct {
	dir, role, slot string
	apply           bool
}

func (a *app) replicaAddCommand() *cobra.Command {
	var f replicaAddFlags
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Plan (or, with --apply, prepare the primary for) a new streaming standby",
		Long: `add plans a streaming standby of the primary (--dsn): settings the primary lacks
(wal_level, max_wal_senders, max_replication_slots), a replication role and a
physical replication slot, as steps for pgmedic's executor, and the commands to run
on the standby's machine (pg_hba.conf entry, pg_basebackup with -R and the slot, start).
Without --apply the plan is printed and nothing changes; with --apply the database
steps run through the executor (audited, resumable) and the commands are printed.`,
		Example: `  pgmedic replica add --dsn postgres://me@primary/postgres --dir /var/lib/postgresql/15/standby1
  pgmedic replica add --dsn postgres://me@primary/postgres --dir /srv/standby1 --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.replicaAdd(f) },
	}
	cmd.Flags().StringVar(&f.dir, "dir", "", "the standby's data directory on its machine (required)")
	cmd.Flags().StringVar(&f.role, "role", "pgmedic_replication", "the role the standby streams as")
	cmd.Flags().StringVar(&f.slot, "slot", "", "replication slot name (default: from --dir)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "run the database steps through the executor")
	return cmd
}

func (a *app) replicaAdd(f replicaAddFlags) error {
	if f.dir == "" {
		return usageHint("name the standby's data directory, e.g. --dir /var/lib/postgresql/15/standby1", "--dir is required")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	cc, err := pgconn.ParseConfig(a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(a.ctx)
	plan, err := replica.PlanAdd(a.ctx, conn, replica.AddOptions{Dir: f.dir, Host: cc.Host, Port: int(cc.Port), Role: f.role, Slot: f.slot})
	if err != nil {
		return &jobError{msg: err.Error(), err: err, hint: "grant pg_monitor to the role so it can read the replication settings"}
	}
	out := display.NewWriter(a.stdout)
	if !f.apply {
		if err := change.DryRun(out, &plan.Plan); err != nil {
			return err
		}
		fmt.Fprintln(out, "-- dry run: nothing was changed; add --apply to run these steps")
	} else {
		run, err := a.execute(cfg, &plan.Plan, "pgmedic replica add")
		if err != nil {
			return err
		}
		if err := a.reportRun(run); err != nil {
			return err
		}
	}
	for _, n := range plan.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	fmt.Fprintln(out, "\nThen, on the standby's machine:")
	for _, c := range plan.Commands {
		fmt.Fprintln(out, c)
	}
	return nil
}
