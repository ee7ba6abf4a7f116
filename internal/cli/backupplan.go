package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/backup"
	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

type planFlags struct {
	pgbackrest bool
	repo       string
	configOut  string
	stanza     string
	lockPath   string
	apply      bool
}

func (a *app) backupPlanCommand() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --pgbackrest",
		Short: "Plan WAL archiving to an encrypted pgBackRest repository (dry run unless --apply)",
		Long: `plan --pgbackrest reads where the cluster keeps its data and writes a pgBackRest
configuration for it: one repository with encryption on (aes-256-cbc, a new random
cipher pass), full-backup retention, lz4 compression. It sets archive_mode,
archive_command (pgbackrest archive-push to that repository) and archive_timeout
(no longer than backup.rpoTarget) through pgmedic's executor, audited in
pgmedic.actions. Without --apply it prints the configuration (cipher pass withheld)
and the steps. archive_mode takes effect at the next restart; then run the
stanza-create and check commands it prints. An existing configuration file is never
replaced: its cipher pass may be the only key to a repository.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.backupPlan(f) },
	}
	cmd.Flags().BoolVar(&f.pgbackrest, "pgbackrest", false, "plan for pgBackRest (the only tool supported)")
	cmd.Flags().StringVar(&f.repo, "repo", "/var/lib/pgbackrest", "repository directory (repo1-path)")
	cmd.Flags().StringVar(&f.configOut, "config-out", "/etc/pgbackrest/pgbackrest.conf", "where to write pgbackrest.conf")
	cmd.Flags().StringVar(&f.stanza, "stanza", "", "stanza name (default backup.pgbackrestStanza)")
	cmd.Flags().StringVar(&f.lockPath, "lock-path", "", "pgBackRest lock-path (default: pgBackRest's)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "write the configuration and change the settings")
	return cmd
}

func (a *app) backupPlan(f planFlags) error {
	if !f.pgbackrest {
		return usageHint("pgmedic does not archive WAL itself; it configures pgBackRest", "backup plan needs --pgbackrest")
	}
	for name, p := range map[string]string{"--repo": f.repo, "--config-out": f.configOut} {
		if !filepath.IsAbs(p) {
			return usageErrorf("%s must be an absolute path (archive_command runs in the server's directory), got %q", name, p)
		}
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if f.stanza == "" {
		f.stanza = cfg.Backup.PgBackRestStanza
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	plan, err := backup.PlanPgBackRest(a.ctx, conn, backup.PgBackRestOptions{Stanza: f.stanza, Repo: f.repo, ConfigPath: f.configOut,
		LockPath: f.lockPath, ArchiveTimeout: min(cfg.Backup.RPOTarget.Duration, time.Minute)})
	if err != nil {
		return usageHint("use plain absolute paths and a simple stanza name", "%v", err)
	}
	out := display.NewWriter(a.stdout)
	next := fmt.Sprintf("then: pgbackrest --config=%s --stanza=%s stanza-create && pgbackrest --config=%[1]s --stanza=%[2]s check && pgbackrest --config=%[1]s --stanza=%[2]s backup --type=full",
		plan.ConfigPath, plan.Stanza)
	if !f.apply {
		fmt.Fprintf(out, "-- %s (cipher pass withheld; a new one is generated with --apply):\n", plan.ConfigPath)
		for _, line := range strings.Split(strings.TrimRight(plan.Config, "\n"), "\n") {
			if strings.HasPrefix(line, "repo1-cipher-pass=") {
				line = "repo1-cipher-pass=<generated>"
			}
			fmt.Fprintf(out, "--   %s\n", line)
		}
		if err := change.DryRun(out, plan.Settings); err != nil {
			return err
		}
		fmt.Fprintln(out, "-- dry run: nothing was written or changed; add --apply")
		return nil
	}
	return a.applyBackupPlan(cfg, plan, next)
}

func (a *app) applyBackupPlan(cfg *config.Profile, plan *backup.PgBackRestPlan, next string) error {
	owner := plan.ServerOwner()
	if err := plan.Prepare(owner); err != nil {
		return err
	}
	if err := plan.WriteConfig(owner); err != nil {
		if errors.Is(err, backup.ErrConfigExists) {
			return usageHint("keep it (it holds the repository's cipher pass) or choose another --config-out", "%v", err)
		}
		return err
	}
	if owner == nil {
		a.logf("wrote %s (mode 0600): the account the server runs as must own it", plan.ConfigPath)
	} else {
		a.logf("wrote %s (mode 0600, owned by the data directory's owner)", plan.ConfigPath)
	}
	run, err := a.execute(cfg, plan.Settings, "pgmedic backup plan")
	if err != nil {
		return err
	}
	if err := a.reportRun(run); err != nil {
		return err
	}
	if plan.RestartNeeded {
		fmt.Fprintln(a.stdout, "archive_mode (or wal_level) changes at the next restart: restart the server,")
	}
	fmt.Fprintln(display.NewWriter(a.stdout), next)
	return nil
}

type statusFlags struct {
	stanza string
	conf   string
	dir    string
	format string
}

func (a *app) backupStatusCommand() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Last full and incremental backups, archive lag (the RPO now) and the last verified restore",
		Long: `status reads 'pgbackrest info --output=json' (when backup.pgbackrestConfig or
--pgbackrest-config is set), pg_stat_archiver against the current WAL position, and
the verification records of pgmedic's backups in backup.dir (or --to). The RPO now is
zero when every WAL byte is archived, else the time since the last archived segment.
Exit 1 when archiving fails or an objective is missed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.backupStatus(f) },
	}
	cmd.Flags().StringVar(&f.stanza, "stanza", "", "pgBackRest stanza (default backup.pgbackrestStanza)")
	cmd.Flags().StringVar(&f.conf, "pgbackrest-config", "", "pgbackrest.conf (default backup.pgbackrestConfig)")
	cmd.Flags().StringVar(&f.dir, "to", "", "directory of pgmedic's backups (default backup.dir)")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	return cmd
}

// statusOptions resolves where backup evidence is, from flags over the configuration.
func statusOptions(cfg *config.Profile, stanza, conf, dir string) (backup.StatusOptions, error) {
	o := backup.StatusOptions{Dir: cmpOr(dir, cfg.Backup.Dir)}
	if conf = cmpOr(conf, cfg.Backup.PgBackRestConfig); conf != "" {
		o.PgBackRest = &backup.PgBackRest{ConfigPath: conf, Stanza: cmpOr(stanza, cfg.Backup.PgBackRestStanza, "main")}
		as, err := backup.AsUser("postgres")
		if err != nil {
			return o, err
		}
		o.PgBackRest.As = as
	}
	return o, nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (a *app) backupStatus(f statusFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	o, err := statusOptions(cfg, f.stanza, f.conf, f.dir)
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	st, err := backup.ReadStatus(a.ctx, conn, o)
	if err != nil {
		return err
	}
	problems := statusProblems(cfg, st)
	if f.format == "json" {
		err = a.writeTo("", func(w io.Writer) error { return writeJSON(w, st) })
	} else {
		writeStatus(display.NewWriter(a.stdout), cfg, st, problems)
	}
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &jobError{msg: problems[0], hint: "see 'pgmedic backup status' and 'pgmedic check' for the details"}
	}
	return nil
}

// statusProblems are the objectives the status misses, worst first.
func statusProblems(cfg *config.Profile, st *backup.Status) []string {
	var out []string
	a := st.Archiver
	if a.Failing {
		out = append(out, fmt.Sprintf("WAL archiving is failing (last failure %s, %s)", a.LastFailedTime.UTC().Format(time.RFC3339), a.LastFailedWAL))
	}
	if rpo := cfg.Backup.RPOTarget.Seconds(); a.RPOSeconds != nil && *a.RPOSeconds > rpo {
		out = append(out, fmt.Sprintf("%.0fs of committed work is not archived, beyond the RPO target of %.0fs", *a.RPOSeconds, rpo))
	}
	if r := st.Repo; r != nil && !r.OK {
		out = append(out, "pgBackRest stanza "+r.Stanza+": "+r.Status)
	}
	if v := st.LastVerified; v != nil && st.Now.Sub(v.Verified) > cfg.Backup.MaxVerifiedAge.Duration {
		out = append(out, fmt.Sprintf("the newest verified restore is %s old (allowed %s)", st.Now.Sub(v.Verified).Round(time.Hour), cfg.Backup.MaxVerifiedAge.Duration))
	}
	return out
}

func writeStatus(w io.Writer, cfg *config.Profile, st *backup.Status, problems []string) {
	a := st.Archiver
	fmt.Fprintf(w, "archiving: mode %s, %d archived, %d failed", a.Mode, a.Archived, a.Failed)
	if a.LastArchivedTime != nil {
		fmt.Fprintf(w, ", last %s at %s", a.LastArchivedWAL, a.LastArchivedTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	switch {
	case a.RPOSeconds != nil:
		fmt.Fprintf(w, "RPO now: %.0fs (target %s)", *a.RPOSeconds, cfg.Backup.RPOTarget.Duration)
		if a.PendingBytes != nil {
			fmt.Fprintf(w, "; %s of WAL not yet archived", finding.HumanBytes(*a.PendingBytes))
		}
		fmt.Fprintln(w)
	default:
		fmt.Fprintln(w, "RPO now: unknown (archiving off, nothing archived yet, or a standby)")
	}
	if r := st.Repo; r != nil {
		fmt.Fprintf(w, "pgBackRest stanza %s: %s, cipher %s, %d backups\n", r.Stanza, r.Status, r.Cipher, r.Backups)
		for _, e := range []*backup.BackupEntry{r.LastFull, r.LastIncr} {
			if e != nil {
				fmt.Fprintf(w, "  last %s: %s, %s to %s, %s (%s in the repository)\n", e.Type, e.Label,
					e.Start.Format(time.RFC3339), e.Stop.Format(time.RFC3339), finding.HumanBytes(e.Size), finding.HumanBytes(e.RepoSize))
			}
		}
	}
	if v := st.LastVerified; v != nil {
		fmt.Fprintf(w, "last verified restore: %s, %s old, restore %.1fs for %s (RTO target %s)\n", filepath.Base(v.File),
			st.Now.Sub(v.Verified).Round(time.Minute), v.RestoreSeconds, finding.HumanBytes(v.DatabaseBytes), cfg.Backup.RTOTarget.Duration)
	} else {
		fmt.Fprintln(w, "last verified restore: none found (run 'pgmedic backup verify')")
	}
	for _, p := range problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
}

// backupEvidence reads the configured backup evidence for the health checks; nil when
// the configuration names none.
func (a *app) backupEvidence(cfg *config.Profile, conn *pgx.Conn) *snapshot.Backups {
	if cfg.Backup.Dir == "" && cfg.Backup.PgBackRestConfig == "" {
		return nil
	}
	o, err := statusOptions(cfg, "", "", "")
	if err != nil {
		return &snapshot.Backups{Gathered: time.Now().UTC(), Problems: []string{err.Error()}}
	}
	return backup.Evidence(a.ctx, conn, o)
}
