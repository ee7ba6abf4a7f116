package health_test

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func collect(t *testing.T, uri string) *snapshot.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{StatementTimeout: 30 * time.Second, LockTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := snapshot.Collect(ctx, conn, snapshot.Options{Tool: "test", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// profile returns production defaults with threshold overrides.
func profile(t *testing.T, thresholds ...string) *config.Profile {
	t.Helper()
	p, err := config.Defaults(config.Production)
	if err != nil {
		t.Fatal(err)
	}
	p.Checks.Thresholds = thresholds
	return p
}

func run(t *testing.T, s *snapshot.Snapshot, p *config.Profile) []finding.Finding {
	t.Helper()
	fs, err := health.Run(s, health.Options{Config: p})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func find(fs []finding.Finding, check, objectPart string) *finding.Finding {
	for i := range fs {
		if fs[i].Check == check && fs[i].Status == finding.Open && strings.Contains(fs[i].Object, objectPart) {
			return &fs[i]
		}
	}
	return nil
}

// conditions are the states the issue lists, created on a real cluster.
var conditions = []string{
	"sessions.idle_in_transaction", "locks.blocking", "indexes.invalid", "schema.not_valid_constraint",
	"sequences.exhaustion", "schema.integer_key_near_limit", "schema.no_primary_key", "triggers.disabled",
	"schema.fk_without_index", "vacuum.autovacuum_disabled", "replication.inactive_slot",
}

func TestHealthyDatabaseHasNoneOfTheConditions(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE parent (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
		CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id), note text);
		CREATE INDEX ON child (parent_id);
		CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
		CREATE TRIGGER child_touch BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
		INSERT INTO parent (name) SELECT 'p' || g FROM generate_series(1, 100) g;
		INSERT INTO child (parent_id) SELECT 1 + g % 100 FROM generate_series(1, 1000) g;
		ANALYZE`)
	s := collect(t, db.URI)
	fs := run(t, s, profile(t, "sessions.idle_in_transaction.min_seconds=0", "locks.blocking.min_wait_seconds=0"))
	for _, f := range fs {
		for _, c := range conditions {
			if f.Check == c && f.Status == finding.Open {
				t.Errorf("healthy database reports %s: %s (%s)", c, f.Title, f.Object)
			}
		}
	}
}

func TestIdleInTransaction(t *testing.T) {
	db := pg.NewDB(t)
	conn := db.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	s := collect(t, db.URI)
	fs := run(t, s, profile(t, "sessions.idle_in_transaction.min_seconds=1"))
	f := find(fs, "sessions.idle_in_transaction", "postgres@"+db.Name)
	if f == nil {
		t.Fatalf("no idle-in-transaction finding; findings: %v", titles(fs))
	}
	if v, _ := f.EvidenceValue("sessions"); v != 1 {
		t.Errorf("sessions = %v, want 1", v)
	}
	if f.Fix == nil || !strings.Contains(f.Fix.SQL(), "idle_in_transaction_session_timeout") {
		t.Errorf("fix should set the timeout: %+v", f.Fix)
	}
	// With the default threshold (60 s) a one-second idle session is not reported.
	if find(run(t, s, profile(t)), "sessions.idle_in_transaction", "") != nil {
		t.Error("reported below the default threshold")
	}
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

func TestBlockedQuery(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE locked (id int PRIMARY KEY); INSERT INTO locked VALUES (1)")
	ctx := context.Background()
	holder := db.Conn(t)
	if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var holderPID int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	waiter := db.Conn(t)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "SELECT count(*) FROM locked")
		done <- err
	}()
	// Wait until the waiter is queued on the lock.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if db.QueryInt64(t, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()") > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond)
	// The collector itself must not hang behind the lock.
	start := time.Now()
	s := collect(t, db.URI)
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("collection took %s behind a lock", el)
	}
	fs := run(t, s, profile(t))
	f := find(fs, "locks.blocking", "pid "+itoa(holderPID))
	if f == nil {
		t.Fatalf("no blocking finding for pid %d; findings: %v", holderPID, titles(fs))
	}
	if !strings.Contains(f.Title, "locked") {
		t.Errorf("title should name the relation: %q", f.Title)
	}
	if v, _ := f.EvidenceValue("waiting_sessions"); v < 1 {
		t.Errorf("waiting_sessions = %v", v)
	}
	if _, err := holder.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSchemaConditions(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `
		CREATE TABLE patients (id bigint PRIMARY KEY, mrn text NOT NULL, last_name text, date_of_birth date);
		INSERT INTO patients SELECT g, 'MRN' || g, 'Name', date '1970-01-01' + g FROM generate_series(1, 2000) g;
		CREATE TABLE visits (id bigint PRIMARY KEY, patient_id bigint REFERENCES patients (id), visit_date date);
		INSERT INTO visits SELECT g, 1 + g % 2000, date '2020-01-01' + g % 1000 FROM generate_series(1, 5000) g;
		CREATE TABLE dupes (id int PRIMARY KEY, code text);
		INSERT INTO dupes SELECT g, 'same' FROM generate_series(1, 10) g;
		ALTER TABLE visits ADD CONSTRAINT visit_date_recent CHECK (visit_date > date '2000-01-01') NOT VALID;
		CREATE SEQUENCE claim_no MAXVALUE 100;
		SELECT setval('claim_no', 95);
		CREATE TABLE legacy_keys (id integer PRIMARY KEY);
		INSERT INTO legacy_keys VALUES (2040109465);
		CREATE TABLE import_buffer (payload text);
		CREATE FUNCTION audit_patient() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
		CREATE TRIGGER patients_audit AFTER UPDATE ON patients FOR EACH ROW EXECUTE FUNCTION audit_patient();
		ALTER TABLE patients DISABLE TRIGGER patients_audit;
		CREATE TABLE scratch (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
		ANALYZE`)
	// A failed concurrent unique build leaves an invalid index behind.
	ctx := context.Background()
	conn := db.Conn(t)
	if _, err := conn.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY dupes_code_key ON dupes (code)"); err == nil {
		t.Fatal("the unique build on duplicates should fail")
	}

	s := collect(t, db.URI)
	fs := run(t, s, profile(t))
	expect := []struct{ check, object string }{
		{"indexes.invalid", "public.dupes"},
		{"schema.not_valid_constraint", "public.visits"},
		{"sequences.exhaustion", "public.claim_no"},
		{"schema.integer_key_near_limit", "public.legacy_keys"},
		{"schema.no_primary_key", "public.import_buffer"},
		{"triggers.disabled", "public.patients"},
		{"schema.fk_without_index", "public.visits"},
		{"vacuum.autovacuum_disabled", "public.scratch"},
	}
	for _, e := range expect {
		f := find(fs, e.check, e.object)
		if f == nil {
			t.Errorf("no %s finding on %s", e.check, e.object)
			continue
		}
		if f.Title == "" || f.Recommendation == "" || len(f.References) == 0 {
			t.Errorf("%s: incomplete finding %+v", e.check, f)
		}
	}
	if f := find(fs, "sequences.exhaustion", "claim_no"); f != nil && f.Severity != finding.High {
		t.Errorf("a sequence at 95%% should be high, got %s", f.Severity)
	}
	if f := find(fs, "schema.integer_key_near_limit", "legacy_keys"); f != nil {
		if v, _ := f.EvidenceValue("used_pct"); v < 94 || v > 96 {
			t.Errorf("used_pct = %v, want 95", v)
		}
	}
	// The disabled trigger is an audit trigger on a PHI table: high, with the HIPAA reference.
	if f := find(fs, "triggers.disabled", "patients"); f != nil {
		if f.Severity != finding.High || !f.PHI {
			t.Errorf("disabled audit trigger on patients: severity %s, phi %v", f.Severity, f.PHI)
		}
	}
	// Fixes are executable: apply them and the conditions go away.
	for _, check := range []string{"schema.fk_without_index", "schema.not_valid_constraint", "triggers.disabled", "vacuum.autovacuum_disabled", "indexes.invalid"} {
		f := find(fs, check, "")
		if f == nil || f.Fix == nil {
			t.Fatalf("%s has no fix", check)
		}
		if check == "indexes.invalid" {
			continue // rebuilding fails again on the duplicates, as it should
		}
		for _, st := range f.Fix.Steps {
			if _, err := conn.Exec(ctx, st.SQL); err != nil {
				t.Fatalf("%s fix %q: %v", check, st.SQL, err)
			}
		}
	}
	after := run(t, collect(t, db.URI), profile(t))
	for _, check := range []string{"schema.fk_without_index", "schema.not_valid_constraint", "triggers.disabled", "vacuum.autovacuum_disabled"} {
		if f := find(after, check, ""); f != nil {
			t.Errorf("%s still reported after applying its fix: %s", check, f.Title)
		}
	}
}

func TestInactiveReplicationSlot(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "SELECT pg_create_physical_replication_slot('pgmedic_test_unused', true)")
	t.Cleanup(func() { db.Exec(t, "SELECT pg_drop_replication_slot('pgmedic_test_unused')") })
	db.Exec(t, "CREATE TABLE w (x int); INSERT INTO w SELECT generate_series(1, 10000); SELECT pg_switch_wal()")
	fs := run(t, collect(t, db.URI), profile(t))
	f := find(fs, "replication.inactive_slot", "pgmedic_test_unused")
	if f == nil {
		t.Fatalf("no finding for the unused slot: %v", titles(fs))
	}
	if v, ok := f.EvidenceValue("retained_bytes"); !ok || v <= 0 {
		t.Errorf("retained_bytes = %v", v)
	}
	if f.Fix == nil || !strings.Contains(f.Fix.SQL(), "pg_drop_replication_slot('pgmedic_test_unused')") {
		t.Errorf("fix: %+v", f.Fix)
	}
}

func TestMonitorRoleGetsUnknownsNotCrashes(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE patients (id bigint PRIMARY KEY, mrn text, ssn text);
		INSERT INTO patients SELECT g, 'MRN' || g, '900-00-' || lpad(g::text, 4, '0') FROM generate_series(1, 5000) g;
		CREATE SEQUENCE private_seq; SELECT nextval('private_seq'); ANALYZE;
		DROP ROLE IF EXISTS health_monitor; CREATE ROLE health_monitor LOGIN; GRANT pg_monitor TO health_monitor`)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY health_monitor; DROP ROLE IF EXISTS health_monitor") })
	u, _ := url.Parse(db.SocketURI)
	u.User = url.User("health_monitor")
	s := collect(t, u.String())
	fs := run(t, s, profile(t))
	unknown := map[string]string{}
	for _, f := range fs {
		if f.Status == finding.Unknown {
			unknown[f.Check] = f.Detail
		}
	}
	for _, check := range []string{"bloat.table", "sequences.exhaustion"} {
		if unknown[check] == "" {
			t.Errorf("%s should be unknown to pg_monitor; unknowns: %v", check, unknown)
		}
	}
	// What pg_monitor can see is still decided.
	if find(fs, "schema.fk_without_index", "") != nil || unknown["schema.fk_without_index"] != "" {
		t.Errorf("fk check wrongly decided: %v", unknown)
	}
}

func titles(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check+": "+f.Title)
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
