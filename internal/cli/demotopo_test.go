package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/localpg"
)

func TestDemoWithStandbyAndPgBouncer(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgmedic-demo-topo-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	demoDir := filepath.Join(dir, "demo")
	r := run(t, "demo", "--dir", demoDir, "--scale", "0.005", "--duration", "2s", "--keep", "--replicas", "1", "--pgbouncer")
	defer run(t, "demo", "stop", "--dir", demoDir)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	st := run(t, "demo", "status", "--dir", demoDir, "--format", "json")
	if st.code != 0 {
		t.Fatalf("demo status: exit %d: %s", st.code, st.stderr)
	}
	var topo struct {
		Primary   string   `json:"primary"`
		Replicas  []string `json:"replicas"`
		PgBouncer string   `json:"pgbouncer"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &topo); err != nil || topo.Primary == "" || len(topo.Replicas) != 1 || topo.PgBouncer == "" {
		t.Fatalf("demo status: %v\n%s", err, st.stdout)
	}
	ctx := context.Background()
	inRecovery := func(uri string) bool {
		t.Helper()
		cfg, err := pgx.ParseConfig(uri)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec // PgBouncer 1.18 in transaction mode
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connecting to %s: %v", uri, err)
		}
		defer conn.Close(ctx)
		var rec bool
		var claims int64
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), (SELECT count(*) FROM claims)").Scan(&rec, &claims); err != nil || claims == 0 {
			t.Fatalf("%s: claims %d, %v", uri, claims, err)
		}
		return rec
	}
	if inRecovery(topo.Primary) || !inRecovery(topo.Replicas[0]) {
		t.Fatal("the primary is in recovery or the replica is not")
	}
	// PgBouncer's patient_read alias is served by the standby, over verified TLS.
	if !inRecovery(topo.PgBouncer) {
		t.Fatal("PgBouncer's patient_read alias does not reach the standby")
	}
	u, _ := url.Parse(topo.PgBouncer)
	u.Path = "/claims_write"
	if inRecovery(u.String()) {
		t.Fatal("PgBouncer's claims_write alias reaches a standby")
	}

	stop := run(t, "demo", "stop", "--dir", demoDir)
	if stop.code != 0 {
		t.Fatalf("demo stop: exit %d: %s", stop.code, stop.stderr)
	}
	for _, d := range []string{demoDir, filepath.Join(demoDir, "replica1")} {
		c, err := localpg.Attach(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if c.Running() {
			t.Fatalf("%s still runs after demo stop", d)
		}
	}
	if c, err := net.Dial("tcp", u.Host); err == nil {
		c.Close()
		t.Fatal("PgBouncer still listens after demo stop")
	}
}
