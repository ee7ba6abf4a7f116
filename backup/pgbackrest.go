package backup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/pgconn"
)

// pgmedic does not archive WAL itself: pgBackRest does, and pgmedic writes its
// configuration, sets archive_command through the executor, and reads its state.

// PgBackRestOptions describe the repository to plan.
type PgBackRestOptions struct {
	Stanza         string        // default "main"
	Repo           string        // repository directory (repo1-path)
	ConfigPath     string        // where pgbackrest.conf goes (and archive_command points)
	RetentionFull  int           // full backups kept (default 2)
	ArchiveTimeout time.Duration // bounds the RPO of a quiet server (default 60s)
	Binary         string        // pgbackrest executable (default "pgbackrest" on PATH)
	LockPath       string        // lock-path ("" leaves pgBackRest's default)
}

// PgBackRestPlan is the configuration file and the settings that make a cluster
// archive to pgBackRest.
type PgBackRestPlan struct {
	Stanza         string
	ConfigPath     string
	Config         string // file content; holds the repository's cipher pass
	ArchiveCommand string
	Settings       *finding.Plan // ALTER SYSTEM steps, run through the executor
	RestartNeeded  bool          // archive_mode or wal_level change: a restart is needed
	DataDir        string
	Repo           string
	LockPath       string
}

// PlanPgBackRest reads where the cluster lives and writes nothing: it returns the
// configuration (repository encryption on, with a new random cipher pass) and the
// settings plan.
func PlanPgBackRest(ctx context.Context, conn *pgx.Conn, o PgBackRestOptions) (*PgBackRestPlan, error) {
	if o.Stanza == "" {
		o.Stanza = "main"
	}
	if o.RetentionFull == 0 {
		o.RetentionFull = 2
	}
	if o.ArchiveTimeout == 0 {
		o.ArchiveTimeout = time.Minute
	}
	if o.Binary == "" {
		o.Binary = "pgbackrest"
	}
	if o.Repo == "" || o.ConfigPath == "" {
		return nil, errors.New("backup: pgBackRest needs a repository path and a configuration path")
	}
	for _, s := range []string{o.Stanza, o.Repo, o.ConfigPath, o.Binary, o.LockPath} {
		if strings.ContainsAny(s, "'\"\n\r\t =%") && s != o.Binary {
			return nil, fmt.Errorf("backup: %q: quotes, spaces, '=' and '%%' are not allowed in pgBackRest names and paths", s)
		}
	}
	var dataDir, socketDirs, port, archiveMode, walLevel, user string
	if err := conn.QueryRow(ctx, pgconn.Marker+`SELECT current_setting('data_directory'), current_setting('unix_socket_directories'),
		current_setting('port'), current_setting('archive_mode'), current_setting('wal_level'), current_user`).
		Scan(&dataDir, &socketDirs, &port, &archiveMode, &walLevel, &user); err != nil {
		return nil, fmt.Errorf("backup: reading the cluster's settings (data_directory needs superuser or pg_read_all_settings): %w", err)
	}
	pass := make([]byte, 48)
	if _, err := rand.Read(pass); err != nil {
		return nil, fmt.Errorf("backup: generating the cipher pass: %w", err)
	}
	socket := strings.TrimSpace(strings.Split(socketDirs, ",")[0])
	var b strings.Builder
	fmt.Fprintf(&b, "# pgBackRest configuration written by pgmedic on %s.\n", time.Now().UTC().Format(time.RFC3339))
	b.WriteString("# The repository is encrypted with the cipher pass below: keep a copy of it apart\n")
	b.WriteString("# from the repository; without it no backup in the repository can be restored.\n")
	b.WriteString("[global]\n")
	fmt.Fprintf(&b, "repo1-path=%s\n", o.Repo)
	b.WriteString("repo1-cipher-type=aes-256-cbc\n")
	fmt.Fprintf(&b, "repo1-cipher-pass=%s\n", base64.RawStdEncoding.EncodeToString(pass))
	fmt.Fprintf(&b, "repo1-retention-full=%d\n", o.RetentionFull)
	b.WriteString("compress-type=lz4\nstart-fast=y\narchive-check=y\nlog-level-console=warn\nlog-level-file=off\n")
	if o.LockPath != "" {
		fmt.Fprintf(&b, "lock-path=%s\n", o.LockPath)
	}
	fmt.Fprintf(&b, "\n[%s]\npg1-path=%s\npg1-port=%s\npg1-user=%s\n", o.Stanza, dataDir, port, user)
	if socket != "" {
		fmt.Fprintf(&b, "pg1-socket-path=%s\n", socket)
	}
	p := &PgBackRestPlan{Stanza: o.Stanza, ConfigPath: o.ConfigPath, Config: b.String(), DataDir: dataDir, Repo: o.Repo, LockPath: o.LockPath,
		ArchiveCommand: fmt.Sprintf("%s --config=%s --stanza=%s archive-push %%p", o.Binary, o.ConfigPath, o.Stanza)}
	p.RestartNeeded = archiveMode == "off" || walLevel == "minimal"
	p.Settings = settingsPlan(p, o, walLevel)
	return p, nil
}

// settingsPlan sets what archiving needs with ALTER SYSTEM; each step is skipped when
// the server's configuration files already hold the value.
func settingsPlan(p *PgBackRestPlan, o PgBackRestOptions, walLevel string) *finding.Plan {
	step := func(name, value, why string) finding.Step {
		return finding.Step{
			Description: fmt.Sprintf("set %s (%s)", name, why),
			SQL:         fmt.Sprintf("ALTER SYSTEM SET %s = %s", name, ident.Literal(value)),
			Kind:        "setting", NoTransaction: true, Object: name,
			Check: fmt.Sprintf(`SELECT COALESCE((SELECT setting FROM pg_catalog.pg_file_settings WHERE name = %s ORDER BY seqno DESC LIMIT 1), pg_catalog.current_setting(%s)) = %s`,
				ident.Literal(name), ident.Literal(name), ident.Literal(value)),
		}
	}
	steps := []finding.Step{
		step("archive_mode", "on", "needs a restart"),
		step("archive_command", p.ArchiveCommand, "push each WAL file to the encrypted pgBackRest repository"),
		step("archive_timeout", fmt.Sprintf("%ds", int(o.ArchiveTimeout.Seconds())), "switch WAL at least this often, which bounds the RPO of a quiet server"),
	}
	if walLevel == "minimal" {
		steps = append(steps, step("wal_level", "replica", "needs a restart"))
	}
	steps = append(steps, finding.Step{Description: "reload the configuration", SQL: "SELECT pg_catalog.pg_reload_conf()", Kind: "setting"})
	return &finding.Plan{Summary: "Archive WAL to pgBackRest stanza " + p.Stanza, Steps: steps}
}

// PgBackRest runs the pgbackrest command for one stanza.
type PgBackRest struct {
	Binary     string   // default "pgbackrest"
	ConfigPath string   // --config
	Stanza     string   // --stanza
	Env        []string // extra environment
	// As runs the command as another account (the cluster's owner); nil runs as this
	// process.
	As func(cmd *exec.Cmd)
}

// Run runs one pgbackrest command and returns its standard output. Errors carry the
// last error line pgBackRest printed.
func (p *PgBackRest) Run(ctx context.Context, args ...string) ([]byte, error) {
	bin := p.Binary
	if bin == "" {
		bin = "pgbackrest"
	}
	full := []string{"--config=" + p.ConfigPath, "--stanza=" + p.Stanza}
	cmd := exec.CommandContext(ctx, bin, append(full, args...)...)
	cmd.Env = append(os.Environ(), p.Env...)
	if p.As != nil {
		p.As(cmd)
	}
	tail := &stderrTail{}
	cmd.Stderr = tail
	out, err := cmd.Output()
	if err != nil {
		var nf *exec.Error
		if errors.As(err, &nf) {
			return nil, &ToolError{Tool: bin, Msg: "is not installed", Remedy: "install it: apt-get install pgbackrest (scripts/setup does)"}
		}
		return nil, fmt.Errorf("backup: pgbackrest %s failed (%s): %s", args[0], exitStatus(err), tail.lastError())
	}
	return out, nil
}

// ToolError is an external program that cannot be used.
type ToolError struct{ Tool, Msg, Remedy string }

func (e *ToolError) Error() string { return e.Tool + " " + e.Msg }

// Hint says how to get the program.
func (e *ToolError) Hint() string { return e.Remedy }

// RestoreToTime restores the stanza's backups and WAL into dataDir (empty, owned by
// the account that will run the server) for recovery up to target, after which the
// server is promoted.
func (p *PgBackRest) RestoreToTime(ctx context.Context, dataDir string, target time.Time) error {
	_, err := p.Run(ctx, "restore", "--pg1-path="+dataDir, "--type=time",
		"--target="+target.UTC().Format("2006-01-02 15:04:05.999999-07"), "--target-action=promote")
	return err
}

// AsUser returns a function that makes a command run as the named account when this
// process is root (pgBackRest must run as the cluster's owner), and nil otherwise.
func AsUser(name string) (func(*exec.Cmd), error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("backup: no %q account to run pgBackRest as: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(cmd.Env, "HOME="+u.HomeDir)
		cmd.Dir = os.TempDir()
	}, nil
}

// ErrConfigExists is returned by WriteConfig when the file is already there: its
// cipher pass may be the only key to an existing repository.
var ErrConfigExists = errors.New("already exists; it may hold the only copy of a repository's cipher pass")

// WriteConfig writes the configuration file (mode 0600) atomically and never over an
// existing file. chown, when set, hands the file to the account that runs pgBackRest.
func (p *PgBackRestPlan) WriteConfig(chown func(path string) error) error {
	dir := filepath.Dir(p.ConfigPath)
	tmp, err := os.CreateTemp(dir, ".pgbackrest-*.tmp")
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", p.ConfigPath, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(p.Config)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && chown != nil {
		err = chown(tmp.Name())
	}
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", p.ConfigPath, err)
	}
	// A hard link fails when the target exists, so an existing file is never replaced.
	if err := os.Link(tmp.Name(), p.ConfigPath); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("backup: %s %w", p.ConfigPath, ErrConfigExists)
		}
		return fmt.Errorf("backup: writing %s: %w", p.ConfigPath, err)
	}
	return syncDir(dir)
}

// ServerOwner returns a function that hands a path to the account owning the data
// directory, when this machine has it and this process may (root); otherwise nil:
// pgBackRest runs as that account and must read its configuration and repository.
func (p *PgBackRestPlan) ServerOwner() func(path string) error {
	st, err := os.Stat(p.DataDir)
	if err != nil || os.Geteuid() != 0 {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) == os.Geteuid() {
		return nil
	}
	return func(path string) error { return os.Chown(path, int(sys.Uid), int(sys.Gid)) }
}

// Prepare creates the repository (and lock) directories, mode 0750, for the server's
// account.
func (p *PgBackRestPlan) Prepare(chown func(string) error) error {
	if err := os.MkdirAll(filepath.Dir(p.ConfigPath), 0o755); err != nil {
		return fmt.Errorf("backup: creating %s: %w", filepath.Dir(p.ConfigPath), err)
	}
	for _, d := range []string{p.Repo, p.LockPath} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); err == nil {
			continue
		}
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("backup: creating %s: %w", d, err)
		}
		if chown != nil {
			if err := chown(d); err != nil {
				return fmt.Errorf("backup: handing %s to the server's account: %w", d, err)
			}
		}
	}
	return nil
}
