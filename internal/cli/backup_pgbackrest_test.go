package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/backup"
	"github.com/pgmedic/pgmedic/internal/localpg"
)

// TestPgBackRestCommands: plan --apply on a private cluster, a restart, a full backup
// with the real pgbackrest, then status, verify --pgbackrest and check read it.
func TestPgBackRestCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base, err := os.MkdirTemp("", "pgmedic-cli-pgbr-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(base, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background()); os.RemoveAll(base) })
	dsn := c.SocketURI("postgres")
	conf := filepath.Join(base, "etc", "pgbackrest.conf")
	stanza := "cli" + strconv.FormatInt(time.Now().UnixNano(), 36)
	r := run(t, "backup", "plan", "--pgbackrest", "--dsn", dsn, "--repo", filepath.Join(base, "repo"), "--config-out", conf,
		"--lock-path", filepath.Join(base, "lock"), "--stanza", stanza, "--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "stanza-create") || !strings.Contains(r.stdout, "restart") {
		t.Fatalf("plan --apply: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if st, err := os.Stat(conf); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the configuration must be written with mode 0600: %v", err)
	}
	if r := run(t, "backup", "plan", "--pgbackrest", "--dsn", dsn, "--config-out", conf, "--apply"); r.code != ExitUsage || !strings.Contains(oneErrorLine(t, r), "cipher pass") {
		t.Fatalf("an existing configuration must be kept: %d %s", r.code, r.stderr)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(base, "cluster")}); err != nil {
		t.Fatal(err)
	}
	as, err := backup.AsUser("postgres")
	if err != nil {
		t.Fatal(err)
	}
	br := &backup.PgBackRest{ConfigPath: conf, Stanza: stanza, As: as}
	for _, args := range [][]string{{"stanza-create"}, {"check"}, {"backup", "--type=full"}} {
		if _, err := br.Run(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	records := filepath.Join(base, "records")
	os.Mkdir(records, 0o700)
	r = run(t, "backup", "status", "--dsn", dsn, "--pgbackrest-config", conf, "--stanza", stanza)
	if r.code != 0 || !strings.Contains(r.stdout, "cipher aes-256-cbc") || !strings.Contains(r.stdout, "last full:") || !strings.Contains(r.stdout, "RPO now:") {
		t.Fatalf("status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "backup", "verify", "--pgbackrest", "--pgbackrest-config", conf, "--stanza", stanza, "--record-dir", records)
	if r.code != 0 || !strings.Contains(r.stdout, "measured RTO") {
		t.Fatalf("verify --pgbackrest: %d %s %s", r.code, r.stdout, r.stderr)
	}
	t.Setenv("PGMEDIC_BACKUP_PGBACKREST_CONFIG", conf)
	t.Setenv("PGMEDIC_BACKUP_PGBACKREST_STANZA", stanza)
	t.Setenv("PGMEDIC_BACKUP_DIR", records)
	r = run(t, "check", "--dsn", dsn, "--format", "json")
	for _, bad := range []string{"No backup restore has been verified", "backup evidence could not be read", "not archived"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("check with fresh, verified pgBackRest backups reports %q", bad)
		}
	}
	r = run(t, "backup", "status", "--dsn", dsn)
	if r.code != 0 || !strings.Contains(r.stdout, "last verified restore: pgbackrest stanza "+stanza) {
		t.Fatalf("status from the configuration: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
