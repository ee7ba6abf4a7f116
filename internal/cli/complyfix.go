package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/internal/keyfile"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/phicrypt"
)

type complyFixFlags struct {
	apply     bool
	skip      []string
	encrypt   []string
	keyFile   string
	keyEnv    string
	sample    int
	daysAhead int
}

func (a *app) complyFixCommand() *cobra.Command {
	var f complyFixFlags
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Plan (or with --apply, run) the HIPAA hardening: roles, grants, RLS, audit trail, pgaudit, settings",
		Long: `fix plans what closes the audit's findings, each step with the lock it takes and a check
that skips it when its effect is already in place (a second run changes nothing):

  roles     app_readonly, app_readwrite (no DELETE on PHI), app_admin, with least
            privilege on every PHI table; audit logs append-only for the application
  grants    PUBLIC loses every privilege on PHI tables, and CREATE on schema public
  rls       a provider's session (SET LOCAL app.current_provider_id = ...) sees only its
            own rows, through the table's provider column, a linking table such as
            appointments, or a parent row; the indexes the policies need are built
            concurrently first; app_admin sees every row
  audit     audit.phi_changes, partitioned by day and append-only, written by a trigger
            on every PHI table (old and new row as jsonb, app.current_user_id, client)
  pgaudit   the extension, object auditing of PHI reads, ddl/role/write classes
            (loading pgaudit needs a restart: the plan says so)
  settings  connection logging, log_line_prefix, idle timeouts, SCRAM, TLS 1.2+,
            fsync, and no statement values in the log, then a reload

Nothing changes without --apply; the steps run through pgmedic's executor (lock
timeouts, retries, an audit row per step in pgmedic.actions).`,
		Example: `  pgmedic comply fix --dsn postgres://admin@db.example.org/ehr
  pgmedic comply fix --skip rls,pgaudit --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.complyFix(f) },
	}
	cmd.Flags().BoolVar(&f.apply, "apply", false, "run the plan (default: print it)")
	cmd.Flags().StringSliceVar(&f.skip, "skip", nil, "parts to leave out: "+strings.Join(compliance.HardenParts(), ", "))
	cmd.Flags().IntVar(&f.sample, "sample", 500, "rows sampled per table for PHI discovery (0: names only)")
	cmd.Flags().IntVar(&f.daysAhead, "audit-days-ahead", 7, "daily partitions of the audit trail to create ahead")
	cmd.Flags().StringSliceVar(&f.encrypt, "encrypt", nil, "encrypt these PHI columns (schema.table.column) with AES-256-GCM in pgmedic; the plaintext column is dropped at the end")
	cmd.Flags().StringVar(&f.keyFile, "key-file", "", "master key for --encrypt: a file of 32 bytes (raw, hex or base64), mode 0600")
	cmd.Flags().StringVar(&f.keyEnv, "key-env", "", "master key for --encrypt from this environment variable (hex or base64)")
	return cmd
}

func (a *app) complyFix(f complyFixFlags) error {
	for _, s := range f.skip {
		if !slices.Contains(compliance.HardenParts(), s) {
			return usageHint("parts are "+strings.Join(compliance.HardenParts(), ", "), "--skip: unknown part %q", s)
		}
	}
	if f.sample < 0 || f.daysAhead < 1 || f.daysAhead > 366 {
		return usageHint("e.g. --sample 500 --audit-days-ahead 7", "--sample must be 0 or more and --audit-days-ahead between 1 and 366")
	}
	master, err := a.masterKey(f)
	if err != nil {
		return err
	}
	cfg, err := a.complianceConfig()
	if err != nil {
		return err
	}
	plan, notes, err := a.hardenPlan(a.dsn, cfg, f)
	if err != nil {
		return err
	}
	runners, err := a.encryptSteps(cfg, plan, f.encrypt, master)
	if err != nil {
		return err
	}
	for _, n := range notes {
		a.logf("pgmedic: note: %s", n)
	}
	if !f.apply {
		if err := change.DryRun(display.NewWriter(a.stdout), plan); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "-- dry run: nothing was changed; add --apply to run these steps")
		return nil
	}
	run, err := a.executeOn(a.dsn, cfg, plan, "pgmedic comply fix", runners)
	if err != nil {
		return err
	}
	return a.reportRun(run)
}

// hardenPlan discovers the PHI and reads the facts on a read-only session, then plans.
func (a *app) hardenPlan(dsn string, cfg *config.Profile, f complyFixFlags) (*finding.Plan, []string, error) {
	conn, err := pgconn.Connect(a.ctx, dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(a.ctx)
	disc, err := compliance.Discover(a.ctx, conn, cfg.Healthcare, discoverOptions(f.sample))
	if err != nil {
		return nil, nil, &jobError{msg: "PHI discovery failed: " + a.scrub(err.Error()), hint: "check that the role may read the catalog"}
	}
	facts := compliance.Collect(a.ctx, conn, disc, cfg.Compliance.Attestations)
	plan, notes, err := compliance.HardenPlan(a.ctx, conn, disc, facts, compliance.HardenOptions{Skip: f.skip, AuditDaysAhead: f.daysAhead})
	if err != nil {
		return nil, nil, &jobError{msg: "planning the hardening failed: " + a.scrub(err.Error()), hint: "check that the role may read the catalog"}
	}
	return plan, notes, nil
}

// masterKey loads the key --encrypt needs; without --encrypt there is none.
func (a *app) masterKey(f complyFixFlags) (*phicrypt.MasterKey, error) {
	switch {
	case len(f.encrypt) == 0 && f.keyFile == "" && f.keyEnv == "":
		return nil, nil
	case len(f.encrypt) == 0:
		return nil, usageHint("e.g. --encrypt public.patients.ssn --key-file /etc/pgmedic/phi.key", "--key-file and --key-env go with --encrypt")
	case (f.keyFile == "") == (f.keyEnv == ""):
		return nil, usageHint("create a key with 'openssl rand -hex 32 > phi.key; chmod 600 phi.key' and keep it off the database server", "--encrypt needs exactly one of --key-file and --key-env")
	}
	var key []byte
	var err error
	if f.keyFile != "" {
		key, err = keyfile.Load(f.keyFile, "openssl rand -hex 32 > "+f.keyFile+"; chmod 600 "+f.keyFile)
	} else {
		key, err = keyfile.FromEnv(f.keyEnv, os.LookupEnv)
	}
	var ke *keyfile.Error
	if errors.As(err, &ke) {
		return nil, usageHint(ke.Hint, "%s", ke.Error())
	}
	if err != nil {
		return nil, err
	}
	return phicrypt.NewMasterKey(key)
}

// encryptSteps appends the encryption of each --encrypt column to the plan.
func (a *app) encryptSteps(cfg *config.Profile, plan *finding.Plan, cols []string, master *phicrypt.MasterKey) (map[string]change.Runner, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return nil, err
	}
	defer conn.Close(a.ctx)
	runners := map[string]change.Runner{}
	for _, c := range cols {
		schema, table, column, err := compliance.ParseColumn(c)
		if err != nil {
			return nil, usageHint("e.g. --encrypt public.patients.ssn", "--encrypt: %v", err)
		}
		p, rs, err := compliance.EncryptPlan(a.ctx, conn, compliance.EncryptTarget{Schema: schema, Table: table, Column: column,
			Master: master, Progress: func(msg string) { a.logf("%s", msg) }})
		if errors.Is(err, compliance.ErrNotEncryptable) {
			return nil, &jobError{msg: err.Error(), hint: "pick a column of a table with a single-column primary key ('pgmedic phi' lists the PHI columns)"}
		}
		if err != nil {
			return nil, err
		}
		plan.Steps = append(plan.Steps, p.Steps...)
		for k, r := range rs {
			runners[k] = r
		}
	}
	return runners, nil
}
