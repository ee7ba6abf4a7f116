package pool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.01", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.01, Seed: 11})
	})
}

// topology is a seeded database on the package's primary, a fresh streaming standby,
// and pools over both.
type topology struct {
	db      *pgtest.DB
	standby *localpg.Cluster
	pools   *Pools
	logs    *bytes.Buffer
}

func open(t *testing.T, standbySettings map[string]string, tweak func(*Config)) *topology {
	t.Helper()
	db := seeded(t)
	sb := pg.NewStandby(t, standbySettings)
	logs := &bytes.Buffer{}
	cfg := Config{Primary: db.URI, Replicas: []string{sb.URI(db.Name)}, CheckInterval: 20 * time.Millisecond,
		BenchFor: time.Minute, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(p.Close)
	return &topology{db: db, standby: sb, pools: p, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitFor polls cond until it holds; the deadline only bounds a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func replicaReady(p *Pools) func() bool {
	return func() bool {
		s := p.Nodes()[1]
		return s.Healthy && s.InRecovery && s.LagBytes == 0 && !s.Paused
	}
}

// servedBy runs a read and reports whether the server that answered was in recovery.
func servedBy(t *testing.T, p *Pools, w Workload, after Token, sql string, args ...any) (onReplica bool, n int64) {
	t.Helper()
	err := p.Read(context.Background(), w, after, func(tx Tx) error {
		if err := tx.QueryRow(context.Background(), "SELECT pg_is_in_recovery()").Scan(&onReplica); err != nil {
			return err
		}
		return tx.QueryRow(context.Background(), sql, args...).Scan(&n)
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return onReplica, n
}

func superExec(t *testing.T, uri, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

const countNotes = "SELECT count(*) FROM audit_logs WHERE record_id = $1"

func writeNote(t *testing.T, p *Pools, note string) Token {
	t.Helper()
	tok, err := p.Write(context.Background(), Audit, func(tx Tx) error {
		_, err := tx.Exec(context.Background(), "INSERT INTO audit_logs (action, table_name, record_id) VALUES ('Read', 'patients', $1)", note)
		return err
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if tok.LSN == 0 {
		t.Fatal("Write returned the zero token")
	}
	return tok
}

func TestReadsRouteToStandbyAndSeeTheirWrites(t *testing.T) {
	top := open(t, nil, nil)
	p := top.pools
	waitFor(t, "the replica to be checked", replicaReady(p))
	onReplica, _ := servedBy(t, p, PatientRead, Token{}, "SELECT count(*) FROM patients")
	if !onReplica {
		t.Fatal("a patient read with no token went to the primary while the standby was caught up")
	}

	// Read-your-writes with replay paused: the write cannot reach the standby, so the read
	// carrying its token must go to the primary, and see the row.
	superExec(t, top.standby.URI(top.db.Name), "SELECT pg_wal_replay_pause()")
	tok := writeNote(t, p, "ryw-probe")
	onReplica, n := servedBy(t, p, Reporting, tok, countNotes, "ryw-probe")
	if onReplica || n != 1 {
		t.Fatalf("read after write: on replica=%v, rows=%d; want the primary and 1 row", onReplica, n)
	}
	// The standby really lacks the row: without the token the answer would have been wrong.
	conn, err := pgx.Connect(context.Background(), top.standby.URI(top.db.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var onStandby int64
	if err := conn.QueryRow(context.Background(), countNotes, "ryw-probe").Scan(&onStandby); err != nil {
		t.Fatal(err)
	}
	if onStandby != 0 {
		t.Fatalf("the paused standby has %d probe rows; the test proves nothing", onStandby)
	}
	// Once the monitor sees the pause, even reads without a token avoid the standby.
	waitFor(t, "the pause to be seen", func() bool { return p.Nodes()[1].Paused })
	if onReplica, _ := servedBy(t, p, PatientRead, Token{}, "SELECT count(*) FROM patients"); onReplica {
		t.Fatal("a read went to a standby whose replay is paused")
	}

	// Resumed, the standby catches up and serves the token's read itself.
	superExec(t, top.standby.URI(top.db.Name), "SELECT pg_wal_replay_resume()")
	waitFor(t, "the standby to replay the write", func() bool {
		s := p.Nodes()[1]
		return !s.Paused && s.ReplayLSN >= tok.LSN
	})
	onReplica, n = servedBy(t, p, Reporting, tok, countNotes, "ryw-probe")
	if !onReplica || n != 1 {
		t.Fatalf("after catch-up: on replica=%v, rows=%d; want the standby and 1 row", onReplica, n)
	}
}

func TestStoppedStandbySendsReadsToPrimaryWithoutFailures(t *testing.T) {
	top := open(t, nil, nil)
	p := top.pools
	waitFor(t, "the replica to be checked", replicaReady(p))
	// Warm replica connections so the pool holds some that will die with the server.
	for range 4 {
		if onReplica, _ := servedBy(t, p, PatientRead, Token{}, "SELECT count(*) FROM patients"); !onReplica {
			t.Fatal("read did not go to the standby")
		}
	}
	// Eight clients read without pause while the standby shuts down under them.
	var mu sync.Mutex
	var failures []error
	served := map[bool]int{}
	stopped := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0
			for after < 50 {
				var onReplica bool
				err := p.Read(context.Background(), PatientRead, Token{}, func(tx Tx) error {
					var n int64
					if err := tx.QueryRow(context.Background(), "SELECT pg_is_in_recovery()").Scan(&onReplica); err != nil {
						return err
					}
					return tx.QueryRow(context.Background(), "SELECT count(*) FROM patients WHERE id < 50").Scan(&n)
				})
				select {
				case <-stopped:
					after++
				default:
				}
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					served[onReplica]++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the readers get going on the standby
	if err := top.standby.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stopped)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d reads failed while the standby stopped; first: %v", len(failures), failures[0])
	}
	if served[true] == 0 || served[false] < 8*50 {
		t.Fatalf("served by the standby %d, by the primary %d; want some on the standby and every read after the stop on the primary",
			served[true], served[false])
	}
	t.Logf("%d reads on the standby, %d on the primary, none failed", served[true], served[false])
	s := p.Nodes()[1]
	if s.Healthy || s.BenchedUntil.IsZero() || s.LastError == "" {
		t.Fatalf("stopped standby not benched: %+v", s)
	}
	if got := counterValue(t, p, "pgmedic_pool_replica_benched_total", nil); got < 1 {
		t.Fatalf("benched counter = %v", got)
	}
}

func TestLaggingStandbyIsBenchedFromReads(t *testing.T) {
	// recovery_min_apply_delay holds replay back without pausing it: the standby streams
	// but stays behind, which only the lag bound can catch.
	top := open(t, map[string]string{"recovery_min_apply_delay": "1h"}, func(c *Config) { c.MaxLagBytes = 64 << 10 })
	p := top.pools
	waitFor(t, "the replica to be checked", func() bool { return p.Nodes()[1].Healthy })
	top.db.Exec(t, "INSERT INTO audit_logs (action, table_name, record_id) SELECT 'Read', 'patients', 'bulk' FROM generate_series(1, 5000)")
	waitFor(t, "the lag to be seen", func() bool { return p.Nodes()[1].LagBytes > 64<<10 })
	s := p.Nodes()[1]
	if s.Paused {
		t.Fatal("the delayed standby reports paused; the test is about lag")
	}
	if onReplica, _ := servedBy(t, p, PatientRead, Token{}, "SELECT count(*) FROM patients"); onReplica {
		t.Fatalf("a read went to a standby %d bytes behind (bound %d)", s.LagBytes, 64<<10)
	}
	if got := counterValue(t, p, "pgmedic_pool_routed_total", map[string]string{"pool": "patient_read", "target": "primary"}); got < 1 {
		t.Fatalf("routed to primary = %v", got)
	}
}

func TestGuardRejectsBroadPHIReadAndLogsWithoutArguments(t *testing.T) {
	top := open(t, nil, nil)
	p := top.pools
	ctx := context.Background()
	err := p.Read(ctx, PatientRead, Token{}, func(tx Tx) error {
		rows, err := tx.Query(ctx, "SELECT * FROM patients")
		if err == nil {
			rows.Close()
		}
		return err
	})
	var ge *GuardError
	if !errors.As(err, &ge) || ge.Profile != PatientRead || len(ge.Tables) == 0 {
		t.Fatalf("SELECT * FROM patients in patient_read: err = %v, want a GuardError", err)
	}
	// The parameterised lookups pass.
	var id int64
	var mrn string
	if err := p.Read(ctx, PatientRead, Token{}, func(tx Tx) error {
		rows, err := tx.Query(ctx, "SELECT * FROM patients WHERE id = $1", 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			return errors.New("patient 1 not found")
		}
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		mrn, _ = vals[1].(string)
		return nil
	}); err != nil || mrn == "" {
		t.Fatalf("SELECT * FROM patients WHERE id = $1: %v", err)
	}
	if err := p.Read(ctx, PatientRead, Token{}, func(tx Tx) error {
		return tx.QueryRow(ctx, "SELECT id FROM patients WHERE mrn = $1", mrn).Scan(&id)
	}); err != nil || id != 1 {
		t.Fatalf("lookup by MRN: id=%d err=%v", id, err)
	}
	// Raw pgx statements are guarded too (by the tracer) and never reach the server.
	c, err := p.Acquire(ctx, PatientRead, Token{})
	if err != nil {
		t.Fatal(err)
	}
	_, rawErr := c.Raw().Exec(ctx, "SELECT first_name, ssn FROM patients")
	c.Release()
	if rawErr == nil {
		t.Fatal("a broad PHI read through the raw connection was not refused")
	}
	// Reporting logs broad reads instead: once per fingerprint, never the argument.
	secret := "MRN-SECRET-4417"
	for range 3 {
		if err := p.Read(ctx, Reporting, Token{}, func(tx Tx) error {
			var n int64
			return tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT first_name FROM patients WHERE mrn LIKE $1) s", secret).Scan(&n)
		}); err != nil {
			t.Fatalf("reporting read: %v", err)
		}
		if err := p.Read(ctx, Reporting, Token{}, func(tx Tx) error {
			rows, err := tx.Query(ctx, "SELECT first_name FROM patients WHERE last_name LIKE $1", secret)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}); err != nil {
			t.Fatalf("reporting read: %v", err)
		}
	}
	logs := top.logs.String()
	if strings.Contains(logs, secret) {
		t.Fatal("the guard's log holds an argument")
	}
	if got := strings.Count(logs, "action=log"); got != 1 {
		t.Fatalf("log-mode lines = %d, want 1 (once per fingerprint):\n%s", got, logs)
	}
	if got := counterValue(t, p, "pgmedic_pool_guard_broad_phi_reads_total", map[string]string{"pool": "reporting"}); got != 3 {
		t.Fatalf("guarded reporting reads = %v, want 3", got)
	}
}

func TestAuditConnectionsAreReservedAgainstClaims(t *testing.T) {
	db := seeded(t)
	profiles := DefaultProfiles()
	for i := range profiles {
		if profiles[i].Name == ClaimsWrite {
			profiles[i].MinConns, profiles[i].MaxConns, profiles[i].AcquireTimeout = 3, 3, 200*time.Millisecond
		}
	}
	ctx := context.Background()
	p, err := Open(ctx, Config{Primary: db.URI, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Audit's connections exist before anyone asked for one.
	var audit int64
	if err := db.Conn(t).QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgmedic-pool-audit'").Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if audit != 2 {
		t.Fatalf("reserved audit sessions at Open = %d, want 2", audit)
	}
	// Claims takes everything it may...
	var held []*Conn
	for range 3 {
		c, err := p.Acquire(ctx, ClaimsWrite, Token{})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if _, err := p.Acquire(ctx, ClaimsWrite, Token{}); !errors.Is(err, ErrAcquireTimeout) {
		t.Fatalf("a fourth claims connection: err = %v, want ErrAcquireTimeout", err)
	}
	// ...and audit still writes, on its own connections.
	for range 2 {
		if _, err := p.Write(ctx, Audit, func(tx Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO audit_logs (action, table_name, record_id) VALUES ('Create', 'claims', 'reserved')")
			return err
		}); err != nil {
			t.Fatalf("audit write while claims is saturated: %v", err)
		}
	}
	for _, c := range held {
		c.Release()
	}
	if got := counterValue(t, p, "pgmedic_pool_rejected_total", map[string]string{"pool": "claims_write"}); got != 1 {
		t.Fatalf("claims rejections = %v, want 1", got)
	}
}

func TestTLSPolicyRefusesPlaintextFallback(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app@db.example.org:5432/clinic?sslmode=prefer",
		"postgres://app@db.example.org:5432/clinic?sslmode=disable",
		"postgres://app@db.example.org:5432/clinic?sslmode=require",
		"postgres://app@db.example.org:5432/clinic", // libpq's default is prefer
	} {
		_, err := Open(context.Background(), Config{Primary: "postgres://app@127.0.0.1/x", Replicas: []string{dsn}, PHITables: []string{}})
		var pe *pgconn.PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a policy refusal", dsn, err)
		}
	}
}

func counterValue(t *testing.T, p *Pools, name string, labels map[string]string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestProfilesCarryTheirSettingsAndWritesRollBack(t *testing.T) {
	db := seeded(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	p, err := Open(ctx, Config{Primary: db.URI, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	defer checkExported(t, reg)
	var timeout, readOnly string
	if err := p.Read(ctx, PatientRead, Token{}, func(tx Tx) error {
		return tx.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only')").Scan(&timeout, &readOnly)
	}); err != nil {
		t.Fatal(err)
	}
	if timeout != "2s" || readOnly != "on" {
		t.Fatalf("patient_read: statement_timeout %s, read only %s; want 2s and on", timeout, readOnly)
	}
	if _, err := p.Write(ctx, Batch, func(tx Tx) error {
		return tx.QueryRow(ctx, "SELECT current_setting('statement_timeout')").Scan(&timeout)
	}); err != nil || timeout != "30min" {
		t.Fatalf("batch: statement_timeout %s (%v), want 30min", timeout, err)
	}
	if _, err := p.Write(ctx, PatientRead, func(Tx) error { return nil }); err == nil {
		t.Fatal("a write through a read profile was accepted")
	}
	failing := errors.New("the application gave up")
	tok, err := p.Write(ctx, ClaimsWrite, func(tx Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO audit_logs (action, table_name, record_id) VALUES ('Create', 'claims', 'rolled-back')"); err != nil {
			return err
		}
		return failing
	})
	if !errors.Is(err, failing) || tok.LSN != 0 {
		t.Fatalf("failed write: token %v, err %v", tok, err)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_logs WHERE record_id = 'rolled-back'"); n != 0 {
		t.Fatalf("the failed write left %d rows", n)
	}
	// A deferred failure at COMMIT is reported, not taken for success.
	db.Exec(t, "CREATE TABLE deferred_check (id int PRIMARY KEY, parent int REFERENCES deferred_check DEFERRABLE INITIALLY DEFERRED)")
	if _, err := p.Write(ctx, ClaimsWrite, func(tx Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO deferred_check VALUES (1, 42)")
		return err
	}); err == nil {
		t.Fatal("a COMMIT that failed a deferred constraint was reported as success")
	}
	// The connection is usable afterwards.
	if _, err := p.Write(ctx, ClaimsWrite, func(tx Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO deferred_check VALUES (2, NULL)")
		return err
	}); err != nil {
		t.Fatalf("write after a failed commit: %v", err)
	}
}

func TestApplicationErrorOnAReplicaIsNotAFailure(t *testing.T) {
	top := open(t, nil, nil)
	p := top.pools
	waitFor(t, "the replica to be checked", replicaReady(p))
	mine := errors.New("no such appointment")
	calls := 0
	err := p.Read(context.Background(), PatientRead, Token{}, func(tx Tx) error {
		calls++
		return mine
	})
	if !errors.Is(err, mine) || calls != 1 {
		t.Fatalf("err = %v after %d calls; want the application's error, once", err, calls)
	}
	if s := p.Nodes()[1]; !s.Healthy || !s.BenchedUntil.IsZero() {
		t.Fatalf("the replica was benched for the application's error: %+v", s)
	}
}

// checkExported gathers the registry the pools registered with: the acquire-wait
// histogram has observations, and the gauges describe every pool.
func checkExported(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		seen[mf.GetName()] = mf
	}
	for _, name := range []string{"pgmedic_pool_acquire_wait_seconds", "pgmedic_pool_connections_in_use", "pgmedic_pool_connections_idle",
		"pgmedic_pool_connections", "pgmedic_pool_admission_limit", "pgmedic_pool_routed_total"} {
		if seen[name] == nil {
			t.Errorf("metric %s is not exported", name)
		}
	}
	if h := seen["pgmedic_pool_acquire_wait_seconds"]; h != nil {
		var n uint64
		for _, m := range h.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
		if n == 0 {
			t.Error("the acquire-wait histogram has no observations")
		}
	}
	if g := seen["pgmedic_pool_admission_limit"]; g != nil && len(g.GetMetric()) != 5 {
		t.Errorf("admission limits for %d pools, want 5", len(g.GetMetric()))
	}
}
