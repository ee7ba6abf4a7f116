package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/backup"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
)

type backupFlags struct {
	to  string
	key string
}

func (a *app) backupCommand() *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Take an encrypted logical backup whose content is proven, and prove it by restoring it",
		Long: `backup runs pg_dump (custom format) in a snapshot it exports, and encrypts the dump on
this machine as it streams (AES-256-GCM in 1 MiB records, each bound to its position
and to the end of the stream, so a cut, reordered or altered file is refused). In the
same snapshot it counts and hashes every table; the manifest beside the file holds
those counts and keyed hashes, the server, the LSN and the file's SHA-256, and a copy
travels inside the encrypted file. File and manifest are written atomically. The key
never leaves this machine; the last line printed is the backup file's path.

'backup verify' restores a file into a private cluster and compares it with its
manifest, runs amcheck, and reports the restore time: the recovery time measured for
a backup of that size.`,
		Example: `  pgmedic backup keygen --key /etc/pgmedic/backup.key
  pgmedic backup --dsn postgres://backup@db/clinic --to /backups --key /etc/pgmedic/backup.key
  pgmedic backup verify /backups/pgmedic-clinic-20260301T020000.000Z.pgmb --key /etc/pgmedic/backup.key
  pgmedic backup prune --to /backups --keep 7 --max-age 35d --apply`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.backup(f) },
	}
	cmd.Flags().StringVar(&f.to, "to", "", "directory to write the backup and its manifest to")
	cmd.Flags().StringVar(&f.key, "key", "", "key file: 32 random bytes, raw, hex or base64, readable only by its owner")
	cmd.AddCommand(a.backupVerifyCommand(), a.backupPruneCommand(), a.backupKeygenCommand(), a.backupPlanCommand(), a.backupStatusCommand())
	return cmd
}

// loadKey reads a key file; a bad one is bad input.
func loadKey(path string) ([]byte, error) {
	if path == "" {
		return nil, usageHint("create one with 'pgmedic backup keygen --key FILE'", "--key is required")
	}
	key, err := backup.LoadKey(path)
	var ke *backup.KeyError
	if errors.As(err, &ke) {
		return nil, usageHint(ke.Hint, "%s", ke.Error())
	}
	return key, err
}

func (a *app) backup(f backupFlags) error {
	if f.to == "" {
		return usageHint("name the directory the backup goes to", "--to is required")
	}
	if st, err := os.Stat(f.to); err != nil || !st.IsDir() {
		return usageHint("create it first, or choose an existing directory", "--to %s is not a directory", f.to)
	}
	key, err := loadKey(f.key)
	if err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	res, err := backup.Run(a.ctx, backup.Options{DSN: a.dsn, Policy: a.policy(cfg, readOnly), Dir: f.to, Key: key,
		Log: a.progressWriter()})
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Fprintf(a.stdout, "backed up %s (%s, PostgreSQL %s) at LSN %s: %d tables, %d rows\n",
		display.Escape(m.Server.Database), display.Escape(m.Server.Host), display.Escape(m.Server.Version), m.LSN, len(m.Tables), m.Rows())
	fmt.Fprintf(a.stdout, "%s encrypted (dump %s) in %.1fs; sha256 %s; key id %s\n",
		finding.HumanBytes(m.Bytes), finding.HumanBytes(m.DumpBytes), res.Elapsed.Seconds(), m.SHA256, m.KeyID)
	fmt.Fprintf(a.stdout, "manifest %s\n", display.Escape(backup.ManifestPath(res.Path)))
	fmt.Fprintln(a.stdout, display.Escape(res.Path))
	return nil
}

// progressWriter is stderr unless --quiet.
func (a *app) progressWriter() io.Writer {
	if a.quiet {
		return io.Discard
	}
	return display.NewWriter(a.stderr)
}

type verifyFlags struct {
	key        string
	format     string
	work       string
	pgbackrest bool
	stanza     string
	conf       string
	record     string
}

func (a *app) backupVerifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify FILE | --pgbackrest",
		Short: "Restore a backup into a private cluster, compare it with its manifest and run amcheck",
		Long: `verify first reads the whole file and authenticates every record (a truncated,
reordered, altered or wrongly keyed file is refused before anything is restored),
then starts a private PostgreSQL cluster, streams the decrypted dump into pg_restore,
compares every table's row count and content hash with the manifest taken in the
dump's snapshot, and runs amcheck (verify_heapam with TOAST, and bt_index_check with
heapallindexed on every B-tree index). The restore time is reported as the recovery
time measured for this backup's size. The outcome is recorded beside the file
(FILE.verified.json), which 'backup status' and 'backup prune' read. Exit 1 when the
file is refused or the copy differs.

With --pgbackrest instead of a file, the stanza's newest backup and its WAL are
restored into a scratch directory, a server is started on it (no TCP, archiving off)
until recovery ends, and amcheck reads every database; the time from restore to
promotion is the measured recovery time, recorded in backup.dir (or --record-dir).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.pgbackrest && len(args) == 0:
				return a.backupVerifyPhysical(f)
			case f.pgbackrest || len(args) == 0:
				return usageErrorf("give either a backup FILE or --pgbackrest")
			}
			return a.backupVerify(args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.key, "key", "", "key file the backup was made with")
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	cmd.Flags().StringVar(&f.work, "work-dir", "", "directory for the private cluster (default: the system temporary directory)")
	cmd.Flags().BoolVar(&f.pgbackrest, "pgbackrest", false, "verify the newest pgBackRest backup instead of a file")
	cmd.Flags().StringVar(&f.stanza, "stanza", "", "pgBackRest stanza (default backup.pgbackrestStanza)")
	cmd.Flags().StringVar(&f.conf, "pgbackrest-config", "", "pgbackrest.conf (default backup.pgbackrestConfig)")
	cmd.Flags().StringVar(&f.record, "record-dir", "", "where the pgBackRest verification record goes (default backup.dir)")
	return cmd
}

func (a *app) backupVerifyPhysical(f verifyFlags) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	o, err := statusOptions(cfg, f.stanza, f.conf, "")
	if err != nil {
		return err
	}
	if o.PgBackRest == nil {
		return usageHint("set backup.pgbackrestConfig in pgmedic.yaml or pass --pgbackrest-config", "no pgBackRest configuration given")
	}
	v, err := backup.VerifyPhysical(a.ctx, backup.PhysicalOptions{PgBackRest: o.PgBackRest, WorkIn: f.work,
		RecordDir: cmpOr(f.record, cfg.Backup.Dir), Log: a.progressWriter()})
	if err != nil {
		var ce *backup.CorruptionError
		if errors.As(err, &ce) {
			return &jobError{msg: err.Error(), hint: "the repository's newest backup restores with damage; take a new full backup and investigate", err: err}
		}
		return err
	}
	if f.format == "json" {
		return a.writeTo("", func(w io.Writer) error { return writeJSON(w, v) })
	}
	fmt.Fprintf(display.NewWriter(a.stdout), "verified %s: restored and recovered in %.1fs (%s of databases): measured RTO %.1fs; amcheck read %d tables and %d indexes, no problems\n",
		v.File, v.RestoreSeconds, finding.HumanBytes(v.DatabaseBytes), v.RestoreSeconds, v.Amcheck.Tables, v.Amcheck.Indexes)
	return nil
}

func (a *app) backupVerify(path string, f verifyFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErrorf("--format must be text or json, got %q", f.format)
	}
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return usageHint("give the path of a backup file written by 'pgmedic backup'", "%s is not a readable file", path)
	}
	key, err := loadKey(f.key)
	if err != nil {
		return err
	}
	v, err := backup.Verify(a.ctx, backup.VerifyOptions{Path: path, Key: key, WorkIn: f.work, Log: a.progressWriter()})
	if v != nil && f.format == "json" {
		if werr := a.writeTo("", func(w io.Writer) error { return writeJSON(w, v) }); werr != nil {
			return werr
		}
	}
	if err != nil {
		var me *backup.MismatchError
		var ce *backup.CorruptionError
		var re *backup.RestoreError
		if errors.As(err, &re) {
			return &jobError{msg: err.Error(), hint: "install what the error names on this machine (an extension, a language), or restore where it exists", err: err}
		}
		if errors.As(err, &me) || errors.As(err, &ce) {
			return &jobError{msg: err.Error(), hint: "the backup does not restore to what was dumped; take a new backup and keep this one for investigation", err: err}
		}
		return err
	}
	if f.format == "json" {
		return nil
	}
	fmt.Fprintf(a.stdout, "verified %s: %d tables, %d rows match the manifest; amcheck read %d tables and %d indexes, no problems\n",
		display.Escape(filepath.Base(path)), v.Tables, v.Rows, v.Amcheck.Tables, v.Amcheck.Indexes)
	fmt.Fprintf(a.stdout, "restore took %.1fs for %s encrypted (%s restored database): measured RTO %.1fs at this size (cluster start %.1fs, amcheck %.1fs)\n",
		v.RestoreSeconds, finding.HumanBytes(v.Bytes), finding.HumanBytes(v.DatabaseBytes), v.RestoreSeconds, v.ClusterSeconds, v.AmcheckSeconds)
	return nil
}

type pruneFlags struct {
	to     string
	keep   int
	maxAge ageValue
	apply  bool
}

// ageValue is a duration flag that also takes days ("35d").
type ageValue struct{ d time.Duration }

func (v *ageValue) String() string {
	if v.d == 0 {
		return "0"
	}
	return v.d.String()
}
func (v *ageValue) Type() string { return "age" }
func (v *ageValue) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a number of days", s)
		}
		v.d = time.Duration(n) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not an age (use e.g. 35d or 12h)", s)
	}
	v.d = d
	return nil
}

func (a *app) backupPruneCommand() *cobra.Command {
	var f pruneFlags
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove old backup files by count and age (dry run unless --apply)",
		Long: `prune keeps the newest --keep backups, every backup younger than --max-age, and
the newest backup whose restore was verified, and removes the others with their
manifests and verification records. Without --apply it only lists what it would do.
Files that are not pgmedic backups are never touched.`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.backupPrune(f) },
	}
	cmd.Flags().StringVar(&f.to, "to", "", "directory holding the backups")
	cmd.Flags().IntVar(&f.keep, "keep", 7, "newest backups always kept (at least 1)")
	cmd.Flags().Var(&f.maxAge, "max-age", "also keep backups younger than this (e.g. 35d, 12h; 0: age keeps none)")
	cmd.Flags().BoolVar(&f.apply, "apply", false, "remove the files (default: only list them)")
	return cmd
}

func (a *app) backupPrune(f pruneFlags) error {
	if f.to == "" {
		return usageHint("name the directory that holds the backups", "--to is required")
	}
	if f.keep < 1 {
		return usageErrorf("--keep must be at least 1, got %d", f.keep)
	}
	keep, remove, err := backup.Plan(f.to, backup.Retention{Keep: f.keep, MaxAge: f.maxAge.d})
	if err != nil {
		return usageHint("check the --to directory", "%v", err)
	}
	tw := tabwriter.NewWriter(display.NewWriter(a.stdout), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "action\tbackup\ttaken\tsize\treason")
	verb := "would remove"
	if f.apply {
		verb = "remove"
	}
	for _, e := range keep {
		fmt.Fprintf(tw, "keep\t%s\t%s\t%s\t%s\n", filepath.Base(e.Path), e.Taken.Format(time.RFC3339), finding.HumanBytes(e.Bytes), e.Reason)
	}
	for _, e := range remove {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", verb, filepath.Base(e.Path), e.Taken.Format(time.RFC3339), finding.HumanBytes(e.Bytes), e.Reason)
	}
	tw.Flush()
	if !f.apply {
		fmt.Fprintf(a.stdout, "%d kept, %d to remove; run again with --apply to remove them\n", len(keep), len(remove))
		return nil
	}
	for _, e := range remove {
		if err := backup.Remove(e); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "%d kept, %d removed\n", len(keep), len(remove))
	return nil
}

func (a *app) backupKeygenCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Write a new random backup key (hex, mode 0600); an existing file is never replaced",
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usageErrorf("--key is required")
			}
			if err := backup.GenerateKey(path); err != nil {
				var ke *backup.KeyError
				if errors.As(err, &ke) {
					return usageHint(ke.Hint, "%s", ke.Error())
				}
				return err
			}
			fmt.Fprintf(a.stdout, "wrote a new key to %s (key id %s); keep a copy apart from the backups: without it they cannot be restored\n",
				display.Escape(path), keyID(path))
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "key", "", "path of the new key file")
	return cmd
}

func keyID(path string) string {
	k, err := backup.LoadKey(path)
	if err != nil {
		return "unknown"
	}
	return backup.KeyID(k)
}
