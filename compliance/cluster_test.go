package compliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
)

// A durable cluster with WAL archiving and without pgaudit preloaded: the integrity
// checks pass, TLS off fails, and the hardening plans the preload with its restart note.
func TestAuditOwnCluster(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgmedic-comply-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "c"), Durable: true, Settings: map[string]string{
		"archive_mode": "on", "archive_command": "/bin/true", "shared_preload_libraries": "pg_stat_statements"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	uri := c.SocketURI("postgres")
	got := audit(t, uri)
	for _, id := range []string{"integrity.checksums", "integrity.durability", "integrity.archiving", "tls.ssl"} {
		if got[id].Status != Pass {
			t.Errorf("%s: %s (%s)", id, got[id].Status, got[id].Detail)
		}
	}
	if r := got["pgaudit.loaded"]; r.Status != Fail || !strings.Contains(r.Detail, "shared_preload_libraries") {
		t.Errorf("pgaudit.loaded without the preload: %s (%s)", r.Status, r.Detail)
	}
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	disc, err := Discover(ctx, conn, config.Healthcare{}, DiscoverOptions{Sample: 10})
	if err != nil {
		t.Fatal(err)
	}
	plan, notes, err := HardenPlan(ctx, conn, disc, Collect(ctx, conn, disc, nil), HardenOptions{Skip: []string{"roles", "grants", "rls", "audit", "settings"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 1 || !strings.Contains(plan.Steps[0].SQL, "pg_stat_statements,pgaudit") ||
		len(notes) != 1 || !strings.Contains(notes[0], "restart") {
		t.Errorf("pgaudit preload plan: %+v %v", plan.Steps, notes)
	}
	// TLS switched off fails the transmission check.
	admin, err := pgconn.Connect(ctx, uri, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "ALTER SYSTEM SET ssl = off"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := audit(t, uri)["tls.ssl"]; r.Status == Fail {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("tls.ssl with ssl = off: %s", r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
