package pool

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// advised runs the demo workload on a seeded database and sizes the profiles from it.
func advised(t *testing.T) (*Advice, string) {
	t.Helper()
	db := seeded(t)
	ctx := context.Background()
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	wp, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true, ApplicationName: "pgmedic-workload"})
	if err != nil {
		t.Fatal(err)
	}
	defer wp.Close()
	res, err := synth.RunWorkload(ctx, wp, synth.WorkloadOptions{Duration: 2 * time.Second, Clients: 2, Seed: 3})
	if err != nil || res.Errors > 0 {
		t.Fatalf("workload: %v (%d errors)", err, res.Errors)
	}
	conn := db.Conn(t)
	adv, err := Advise(ctx, conn, true, AdviseOptions{CPUs: 2})
	if err != nil {
		t.Fatalf("Advise: %v", err)
	}
	return adv, db.Name
}

func TestAdviseSizesProfilesByLittlesLaw(t *testing.T) {
	adv, _ := advised(t)
	byName := map[Workload]ProfileAdvice{}
	total := 0
	for _, p := range adv.Profiles {
		byName[p.Name] = p
		total += p.Size
		if p.Calls > 0 {
			want := p.PerSecond * p.MeanHoldMs / 1000
			if diff := p.Busy - want; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("%s: busy %.4f, want λ×W = %.4f", p.Name, p.Busy, want)
			}
		}
	}
	if byName[PatientRead].Calls == 0 || byName[ClaimsWrite].Calls == 0 {
		t.Fatalf("the demo workload's reads and writes were not assigned: %+v", adv.Profiles)
	}
	if a := byName[Audit]; !a.Reserved || a.MinConns != a.Size {
		t.Errorf("audit is not reserved (min = size): %+v", a)
	}
	if total > adv.Server.Ceiling {
		t.Errorf("sizes add up to %d, over the ceiling %d", total, adv.Server.Ceiling)
	}
	if adv.Server.ActiveTarget != 5 {
		t.Errorf("active target for 2 cores = %d, want 5", adv.Server.ActiveTarget)
	}
}

func TestAdviseScalesDownToTheCeiling(t *testing.T) {
	snap := &snapshot.Snapshot{CollectedAt: time.Unix(1000, 0), Server: snapshot.Server{StartedAt: time.Unix(0, 0)},
		Settings: []snapshot.Setting{{Name: "max_connections", Value: "20"}, {Name: "superuser_reserved_connections", Value: "3"}},
		Workload: snapshot.Workload{Available: true, Statements: []snapshot.Statement{
			// 100/s × 200 ms = 20 busy connections of claims writes.
			{Query: "UPDATE claims SET status = $1 WHERE id = $2", Calls: 100000, TotalExecMs: 100000 * 200, Rows: 100000},
			{Query: "SELECT * FROM patients WHERE id = $1", Calls: 10000, TotalExecMs: 10000, Rows: 10000},
		}}}
	adv, err := AdviseSnapshot(snap, AdviseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range adv.Profiles {
		total += p.Size
	}
	if adv.Server.Ceiling != 12 || total > 12 || len(adv.Notes) == 0 {
		t.Fatalf("ceiling %d, total %d, notes %v: want total within 12 and a note", adv.Server.Ceiling, total, adv.Notes)
	}
}

func TestPgBouncerConfigRunsOnTheInstalledPgBouncer(t *testing.T) {
	adv, dbName := advised(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var secret string
	if err := pg.NewDB(t).Conn(t).QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	cert, key, err := pg.ServerTLSFiles()
	if err != nil {
		t.Fatal(err)
	}
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pgmedic-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := WritePgBouncer(dir, adv, PgBouncerOptions{Version: "1.18.0", Host: "127.0.0.1", Port: pg.Port(),
		Database: dbName, User: "postgres", ServerCAFile: pg.CAFile, ListenPort: port,
		ClientCertFile: cert, ClientKeyFile: key, AuthSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ini, _ := os.ReadFile(files.Ini)
	for _, want := range []string{"server_tls_sslmode = verify-full", "client_tls_sslmode = require", "auth_type = scram-sha-256"} {
		if !strings.Contains(string(ini), want) {
			t.Errorf("pgbouncer.ini lacks %q", want)
		}
	}
	if strings.Contains(string(ini), "max_prepared_statements") {
		t.Error("pgbouncer.ini sets max_prepared_statements, which 1.18 refuses")
	}
	b, err := localpg.StartPgBouncer(ctx, files.Ini, fmt.Sprintf("127.0.0.1:%d", port), false, files.AuthFile)
	if err != nil {
		t.Fatalf("pgbouncer refused the generated configuration: %v", err)
	}
	defer b.Stop()
	for _, p := range adv.Profiles {
		checkAlias(t, ctx, port, p)
	}
	// PgBouncer's console shows one pool per alias.
	pw, err := pg.Password()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {pg.CAFile}, "default_query_exec_mode": {"simple_protocol"}}
	admin, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@localhost:%d/pgbouncer?%s", url.QueryEscape(pw), port, q.Encode()))
	if err != nil {
		t.Fatalf("admin console: %v", err)
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, "SHOW POOLS")
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string]bool{}
	for rows.Next() {
		vals, _ := rows.Values()
		pools[fmt.Sprint(vals[0])] = true
	}
	for _, p := range adv.Profiles {
		if !pools[string(p.Name)] {
			t.Errorf("SHOW POOLS has no %s pool: %v", p.Name, pools)
		}
	}
}

// checkAlias connects through PgBouncer to the profile's alias over verified TLS and
// checks that the alias reaches the database with the profile's statement timeout.
func checkAlias(t *testing.T, ctx context.Context, port int, p ProfileAdvice) {
	t.Helper()
	pw, err := pg.Password()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {pg.CAFile}, "default_query_exec_mode": {"exec"}}
	uri := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?%s", url.QueryEscape(pw), port, p.Name, q.Encode())
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatalf("%s through pgbouncer: %v", p.Name, err)
	}
	defer conn.Close(ctx)
	var timeout string
	var patients int64
	if err := conn.QueryRow(ctx, "SELECT current_setting('statement_timeout'), (SELECT count(*) FROM patients)").Scan(&timeout, &patients); err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	want := (time.Duration(p.StatementTime) * time.Millisecond).String()
	if patients == 0 || !sameTimeout(timeout, p.StatementTime) {
		t.Errorf("%s: statement_timeout %s (want %s), patients %d", p.Name, timeout, want, patients)
	}
}

// sameTimeout compares PostgreSQL's display of a timeout ("2s", "5min", "30min") with ms.
func sameTimeout(shown string, ms int64) bool {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case ms%60000 == 0:
		return shown == fmt.Sprintf("%dmin", ms/60000)
	case ms%1000 == 0:
		return shown == fmt.Sprintf("%ds", ms/1000)
	}
	return shown == fmt.Sprintf("%dms", d.Milliseconds())
}

func TestAdviseCountsOnlyItsDatabase(t *testing.T) {
	snap := &snapshot.Snapshot{CollectedAt: time.Unix(100, 0), Server: snapshot.Server{StartedAt: time.Unix(0, 0), Database: "clinic"},
		Settings: []snapshot.Setting{{Name: "max_connections", Value: "100"}},
		Workload: snapshot.Workload{Available: true, Statements: []snapshot.Statement{
			{Database: "clinic", Query: "SELECT * FROM patients WHERE id = $1", Calls: 1000, TotalExecMs: 1000, Rows: 1000},
			{Database: "billing", Query: "SELECT * FROM patients WHERE id = $1", Calls: 500000, TotalExecMs: 500000, Rows: 500000},
		}}}
	adv, err := AdviseSnapshot(snap, AdviseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range adv.Profiles {
		if p.Name == PatientRead && p.Calls != 1000 {
			t.Fatalf("patient_read calls = %d, want the 1000 of database clinic only", p.Calls)
		}
	}
}

func TestAdviseConfigBoundsTheTotal(t *testing.T) {
	snap := &snapshot.Snapshot{CollectedAt: time.Unix(1000, 0), Server: snapshot.Server{StartedAt: time.Unix(0, 0)},
		Settings: []snapshot.Setting{{Name: "max_connections", Value: "200"}},
		Workload: snapshot.Workload{Available: true, Statements: []snapshot.Statement{
			// 100/s × 100 ms = 10 busy claims connections; 50/s × 2 ms = 0.1 busy reads.
			{Query: "UPDATE claims SET status = $1 WHERE id = $2", Calls: 100000, TotalExecMs: 100000 * 100, Rows: 100000},
			{Query: "SELECT * FROM patients WHERE id = $1", Calls: 50000, TotalExecMs: 50000 * 2, Rows: 50000},
		}}}
	adv, err := AdviseSnapshot(snap, AdviseOptions{MinConnections: 12, MaxConnections: 14})
	if err != nil {
		t.Fatal(err)
	}
	total, open := 0, 0
	by := map[Workload]ProfileAdvice{}
	for _, p := range adv.Profiles {
		total += p.Size
		open += p.MinConns
		by[p.Name] = p
		if p.MinConns > p.Size {
			t.Errorf("%s keeps %d open but may have %d", p.Name, p.MinConns, p.Size)
		}
	}
	if !adv.Server.CappedByConfig || adv.Server.Ceiling != 14 || total > 14 {
		t.Fatalf("ceiling %d (capped %v), total %d: want at most connectionPool.maxConnections 14", adv.Server.Ceiling, adv.Server.CappedByConfig, total)
	}
	if open != 12 {
		t.Fatalf("connections kept open = %d, want connectionPool.minConnections 12", open)
	}
	if by[ClaimsWrite].MinConns <= by[PatientRead].MinConns {
		t.Fatalf("the busy claims profile keeps %d open, the idle reads %d: the minimum follows the load", by[ClaimsWrite].MinConns, by[PatientRead].MinConns)
	}
}
