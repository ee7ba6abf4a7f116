package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/pool"
	"github.com/pgmedic/pgmedic/replica"
)

func TestPoolAdviseJSONAndPgBouncerFiles(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE patients (id bigint PRIMARY KEY, mrn text, first_name text, last_name text, date_of_birth date)")
	db.Exec(t, "CREATE TABLE claims (id bigint PRIMARY KEY, patient_id bigint, status text)")
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	conn := db.Conn(t)
	ctx := context.Background()
	for i := range 200 {
		if _, err := conn.Exec(ctx, "INSERT INTO claims VALUES ($1, $2, 'new')", i, i); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SELECT * FROM patients WHERE id = $1", i); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // the statistics must cover at least a second
	dir := t.TempDir()
	r := run(t, "pool", "advise", "--dsn", db.URI, "--format", "json", "--server-cpus", "2",
		"--pgbouncer", dir, "--pgbouncer-version", "1.18.0", "--tls-cert", "/etc/ssl/bouncer.crt", "--tls-key", "/etc/ssl/bouncer.key")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var adv pool.Advice
	if err := json.Unmarshal([]byte(r.stdout), &adv); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	calls := map[pool.Workload]int64{}
	for _, p := range adv.Profiles {
		calls[p.Name] = p.Calls
		if p.Size < 1 {
			t.Errorf("%s: size %d", p.Name, p.Size)
		}
	}
	if len(adv.Profiles) != 5 || calls[pool.PatientRead] < 200 || calls[pool.ClaimsWrite] < 200 {
		t.Fatalf("profiles %+v", adv.Profiles)
	}
	ini, err := os.ReadFile(filepath.Join(dir, "pgbouncer.ini"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"patient_read =", "claims_write =", "reporting =", "audit =", "batch ="} {
		if !strings.Contains(string(ini), alias) {
			t.Errorf("pgbouncer.ini has no %s alias", alias)
		}
	}
	auth, err := os.ReadFile(filepath.Join(dir, "userlist.txt"))
	if err != nil || !strings.Contains(string(auth), `"postgres" "SCRAM-SHA-256$`) {
		t.Fatalf("userlist.txt: %v %q", err, auth)
	}
	if st, _ := os.Stat(filepath.Join(dir, "userlist.txt")); st.Mode().Perm() != 0o600 {
		t.Errorf("userlist.txt mode %v, want 0600", st.Mode().Perm())
	}
}

func TestPoolAdviseBadInput(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"pool", "advise", "--dsn", "postgres://app@db.example.org/clinic?sslmode=prefer"}, "refusing to connect"},
		{[]string{"pool", "advise", "--pgbouncer", "/tmp/x"}, "--pgbouncer needs --tls-cert and --tls-key"},
		{[]string{"pool", "advise", "--format", "xml"}, "--format must be text or json"},
		{[]string{"replica", "add"}, "--dir is required"},
		{[]string{"replica", "status", "--interval", "0s"}, "--interval must be positive"},
	} {
		r := run(t, tt.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", tt.args, r.code, r.stderr)
			continue
		}
		if line := oneErrorLine(t, r); !strings.Contains(line, tt.want) || !strings.Contains(line, "hint:") {
			t.Errorf("%v: %q, want %q and a hint", tt.args, line, tt.want)
		}
	}
}

func TestReplicaStatusAgainstARealStandby(t *testing.T) {
	db := pg.NewDB(t)
	sb := pg.NewStandby(t, nil)
	ctx := context.Background()
	standby, err := pgconn.Connect(ctx, sb.URI(db.Name), pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close(ctx)
	// Wait for the standby to stream.
	deadline := time.Now().Add(time.Minute)
	for db.QueryInt64(t, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the standby never streamed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	status := func() replica.Status {
		r := run(t, "replica", "status", "--dsn", db.URI, "--format", "json", "--standby", sb.URI(db.Name), "--interval", "200ms")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		for _, k := range []string{"ready", "reasons", "replicas"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("JSON has no %q: %s", k, r.stdout)
			}
		}
		var st replica.Status
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := status()
	if len(st.Replicas) != 1 || st.Replicas[0].Lagging || st.Replicas[0].State != "streaming" {
		t.Fatalf("caught-up standby: %+v", st.Replicas)
	}
	// This package's cluster does not archive: not ready, and the reason says so.
	if st.Ready || !strings.Contains(strings.Join(st.Reasons, " "), "archive_mode is off") {
		t.Fatalf("ready=%v reasons=%v, want not ready for archiving", st.Ready, st.Reasons)
	}
	if _, err := standby.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	st = status()
	if r := st.Replicas[0]; !r.Lagging || r.Paused == nil || !*r.Paused {
		t.Fatalf("paused standby: %+v", r)
	}
	r := run(t, "replica", "status", "--dsn", db.URI, "--standby", sb.URI(db.Name), "--interval", "200ms", "--fail-if-not-ready")
	if r.code != 1 || !strings.Contains(r.stdout, "NOT READY") || !strings.Contains(r.stdout, "paused") {
		t.Fatalf("--fail-if-not-ready: exit %d\n%s", r.code, r.stdout)
	}
}

func TestReplicaAddPlansAndAppliesThroughTheExecutor(t *testing.T) {
	db := pg.NewDB(t)
	r := run(t, "replica", "add", "--dsn", db.URI, "--dir", "/srv/pg/standby-7")
	if r.code != 0 || !strings.Contains(r.stdout, "pg_create_physical_replication_slot('pgmedic_standby_7')") ||
		!strings.Contains(r.stdout, "dry run") || !strings.Contains(r.stdout, "pg_basebackup -h 127.0.0.1") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgmedic_standby_7'"); n != 0 {
		t.Fatal("the dry run created the slot")
	}
	t.Cleanup(func() {
		db.Exec(t, "SELECT pg_drop_replication_slot('pgmedic_standby_7')")
		db.Exec(t, "DROP ROLE IF EXISTS pgmedic_replication")
	})
	r = run(t, "replica", "add", "--dsn", db.URI, "--dir", "/srv/pg/standby-7", "--apply")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgmedic_standby_7'"); n != 1 {
		t.Fatal("apply did not create the slot")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_roles WHERE rolname = 'pgmedic_replication' AND rolreplication"); n != 1 {
		t.Fatal("apply did not create the replication role")
	}
	// Again: every step's effect is in place, so nothing runs twice.
	r = run(t, "replica", "add", "--dsn", db.URI, "--dir", "/srv/pg/standby-7", "--apply")
	if r.code != 0 || strings.Count(r.stdout, "skipped") < 2 {
		t.Fatalf("second apply: exit %d\n%s", r.code, r.stdout)
	}
}

func TestShardPlanOnTheDemoSchema(t *testing.T) {
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.005"); r.code != 0 {
		t.Fatalf("seed: exit %d: %s", r.code, r.stderr)
	}
	// No workload: the key comes from the schema alone, and the plan says so.
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	r := run(t, "shard", "plan", "--dsn", db.URI, "--format", "sql")
	if r.code != 0 {
		t.Fatalf("shard plan: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"create_distributed_table('public.patients', 'id')",
		"create_distributed_table('public.claims', 'patient_id', colocate_with => 'public.patients')", "create_reference_table("} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the DDL lacks %s:\n%s", want, r.stdout)
		}
	}
	r = run(t, "shard", "plan", "--dsn", db.URI)
	if r.code != 0 || !strings.Contains(r.stdout, "Distribute by public.patients.id") || !strings.Contains(r.stdout, "create_distributed_table") ||
		!strings.Contains(r.stdout, "chosen from the schema alone") {
		t.Fatalf("text: exit %d\n%s", r.code, r.stdout)
	}
}
