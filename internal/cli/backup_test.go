package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/backup"
	"github.com/pgmedic/pgmedic/config"
)

func TestBackupCommands(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE patients_bk (id int PRIMARY KEY, name text);
		INSERT INTO patients_bk SELECT i, 'Zebediah' || i FROM generate_series(1, 2000) i`)
	dir := t.TempDir()
	key := filepath.Join(dir, "k.key")
	if r := run(t, "backup", "keygen", "--key", key); r.code != 0 {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	if r := run(t, "backup", "keygen", "--key", key); r.code != ExitUsage || !strings.Contains(oneErrorLine(t, r), "already exists") {
		t.Fatalf("keygen over an existing key: %d %s", r.code, r.stderr)
	}
	open := filepath.Join(dir, "open.key")
	raw, _ := os.ReadFile(key)
	os.WriteFile(open, raw, 0o644)
	os.Chmod(open, 0o644)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	r := run(t, "backup", "--dsn", db.URI, "--to", out, "--key", open)
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "readable by others") || !strings.Contains(line, "chmod 600") {
		t.Fatalf("a key readable by others: %d %s", r.code, r.stderr)
	}

	r = run(t, "backup", "--dsn", db.URI, "--to", out, "--key", key)
	if r.code != 0 {
		t.Fatalf("backup: %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	path := lines[len(lines)-1]
	if filepath.Dir(path) != out || !strings.HasSuffix(path, ".pgmb") {
		t.Fatalf("the last line must be the backup's path, got %q", path)
	}
	if _, err := os.Stat(path + ".manifest.json"); err != nil {
		t.Fatalf("no manifest: %v", err)
	}

	r = run(t, "backup", "verify", path, "--key", key)
	if r.code != 0 || !strings.Contains(r.stdout, "2000 rows match the manifest") || !strings.Contains(r.stdout, "measured RTO") {
		t.Fatalf("verify: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, "Zebediah") {
			t.Fatal("verify printed table data")
		}
	}

	file, _ := os.ReadFile(path)
	bad := map[string][]byte{"cut.pgmb": file[:len(file)-7], "flip.pgmb": flip(file)}
	for name, content := range bad {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, 0o600)
		r := run(t, "backup", "verify", p, "--key", key)
		if line := oneErrorLine(t, r); r.code != ExitFailure || !strings.Contains(line, name) {
			t.Fatalf("%s: want one line and exit 1, got %d %s", name, r.code, r.stderr)
		}
	}
	other := filepath.Join(dir, "other.key")
	run(t, "backup", "keygen", "--key", other)
	r = run(t, "backup", "verify", path, "--key", other)
	if line := oneErrorLine(t, r); r.code != ExitFailure || !strings.Contains(line, "wrong key") {
		t.Fatalf("wrong key: %d %s", r.code, r.stderr)
	}

	// A second backup; prune keeping one lists the older, and removes it with --apply.
	r = run(t, "backup", "--dsn", db.URI, "--to", out, "--key", key, "-q")
	if r.code != 0 {
		t.Fatalf("second backup: %s", r.stderr)
	}
	// The first backup is the newest verified one: it stays.
	r = run(t, "backup", "prune", "--to", out, "--keep", "1", "--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "the newest verified backup") || !strings.Contains(r.stdout, "2 kept, 0 removed") {
		t.Fatalf("prune must keep the newest verified backup: %d %s %s", r.code, r.stdout, r.stderr)
	}
	os.Remove(path + ".verified.json")
	r = run(t, "backup", "prune", "--to", out, "--keep", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "1 kept, 1 to remove") {
		t.Fatalf("prune dry run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("a dry run removed a file")
	}
	if r = run(t, "backup", "prune", "--to", out, "--keep", "1", "--apply"); !strings.Contains(r.stdout, "1 kept, 1 removed") {
		t.Fatalf("prune --apply: %s %s", r.stdout, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("prune --apply left the older backup")
	}
}

func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0x08
	return c
}

func TestBackupPlanDryRun(t *testing.T) {
	db := pg.NewDB(t)
	conf := filepath.Join(t.TempDir(), "pgbackrest.conf")
	r := run(t, "backup", "plan", "--pgbackrest", "--dsn", db.URI, "--repo", "/var/lib/pgbackrest", "--config-out", conf, "--stanza", "clinic")
	if r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	for _, want := range []string{"repo1-cipher-type=aes-256-cbc", "repo1-cipher-pass=<generated>", "[clinic]",
		"ALTER SYSTEM SET archive_mode = 'on'", "archive-push %p", "ALTER SYSTEM SET archive_timeout = '60s'", "dry run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Fatal("a dry run wrote the configuration")
	}
	r = run(t, "backup", "plan", "--dsn", db.URI)
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "--pgbackrest") {
		t.Fatalf("plan without --pgbackrest: %d %s", r.code, r.stderr)
	}
	r = run(t, "backup", "verify")
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "FILE or --pgbackrest") {
		t.Fatalf("verify without a file: %d %s", r.code, r.stderr)
	}
	r = run(t, "backup", "verify", "--pgbackrest")
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "no pgBackRest configuration") {
		t.Fatalf("verify --pgbackrest without a configuration: %d %s", r.code, r.stderr)
	}
	r = run(t, "backup", "plan", "--pgbackrest", "--dsn", db.URI, "--config-out", "relative.conf")
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "absolute") {
		t.Fatalf("relative config path: %d %s", r.code, r.stderr)
	}
}

// TestBackupStatusAndCheck: the status names the last verified restore, and check
// reports a directory of backups none of which was verified.
func TestBackupStatusAndCheck(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)")
	dir := t.TempDir()
	key := filepath.Join(dir, "k.key")
	run(t, "backup", "keygen", "--key", key)
	out := filepath.Join(dir, "b")
	os.Mkdir(out, 0o700)
	r := run(t, "backup", "--dsn", db.URI, "--to", out, "--key", key, "-q")
	if r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	path := lines[len(lines)-1]

	t.Setenv("PGMEDIC_BACKUP_DIR", out)
	r = run(t, "check", "--dsn", db.URI, "--format", "json")
	if !strings.Contains(r.stdout, `"backup.restore"`) || !strings.Contains(r.stdout, "No backup restore has been verified") {
		t.Fatalf("check must report backups never verified: %d %s", r.code, r.stderr)
	}
	r = run(t, "backup", "status", "--dsn", db.URI)
	if r.code != 0 || !strings.Contains(r.stdout, "last verified restore: none found") {
		t.Fatalf("status before verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "backup", "verify", path, "--key", key, "-q"); r.code != 0 {
		t.Fatalf("verify: %s", r.stderr)
	}
	r = run(t, "backup", "status", "--dsn", db.URI)
	if r.code != 0 || !strings.Contains(r.stdout, "last verified restore: "+filepath.Base(path)) {
		t.Fatalf("status after verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "check", "--dsn", db.URI, "--format", "json")
	if strings.Contains(r.stdout, "No backup restore has been verified") {
		t.Fatalf("check still reports no verified restore: %s", r.stdout)
	}
}

func TestCacheCommands(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE availability_slots (id int PRIMARY KEY, status text)")
	r := run(t, "cache", "install", "--dsn", db.URI, "--table", "public.availability_slots:id")
	if r.code != 0 || !strings.Contains(r.stdout, "CREATE TRIGGER pgmedic_cache_rows") || !strings.Contains(r.stdout, "dry run") {
		t.Fatalf("install dry run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgmedic_cache%'"); n != 0 {
		t.Fatal("a dry run installed triggers")
	}
	r = run(t, "cache", "install", "--dsn", db.URI, "--table", "public.availability_slots:id", "--apply")
	if r.code != 0 {
		t.Fatalf("install --apply: %d %s", r.code, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgmedic_cache%'"); n != 2 {
		t.Fatalf("want the row and truncate triggers, got %d", n)
	}
	if r = run(t, "cache", "install", "--dsn", db.URI, "--table", "public.availability_slots:id", "--apply"); r.code != 0 || !strings.Contains(r.stdout, "skipped") {
		t.Fatalf("a second install must skip every step: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "cache", "install", "--dsn", db.URI, "--table", "availability_slots")
	if line := oneErrorLine(t, r); r.code != ExitUsage || !strings.Contains(line, "key_column") {
		t.Fatalf("a table without a key column: %d %s", r.code, r.stderr)
	}
	if r = run(t, "cache", "advise", "--dsn", db.URI); r.code != 0 {
		t.Fatalf("advise: %d %s", r.code, r.stderr)
	}
}

func TestBackupStatusProblems(t *testing.T) {
	cfg, err := config.Defaults(config.Production)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	failed, archived := now.Add(-time.Minute), now.Add(-time.Hour)
	lag := 1800.0
	st := &backup.Status{Now: now,
		Archiver:     backup.Archiving{Mode: "on", Failed: 3, LastFailedTime: &failed, LastArchivedTime: &archived, Failing: true, RPOSeconds: &lag},
		Repo:         &backup.RepoStatus{Stanza: "main", Status: "error (missing stanza path)", OK: false},
		LastVerified: &backup.Verification{Verified: now.Add(-10 * 24 * time.Hour), OK: true}}
	got := statusProblems(cfg, st)
	if len(got) != 4 || !strings.Contains(got[0], "failing") || !strings.Contains(got[1], "RPO target") ||
		!strings.Contains(got[2], "missing stanza path") || !strings.Contains(got[3], "verified restore") {
		t.Fatalf("problems: %q", got)
	}
	ok := 10.0
	healthy := &backup.Status{Now: now, Archiver: backup.Archiving{Mode: "on", RPOSeconds: &ok},
		LastVerified: &backup.Verification{Verified: now.Add(-time.Hour), OK: true}}
	if got := statusProblems(cfg, healthy); len(got) != 0 {
		t.Fatalf("a healthy status has no problems: %q", got)
	}
}
