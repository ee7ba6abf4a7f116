package compliance

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/phicrypt"
)

func demoDB(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.02", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.02, Seed: 3})
	})
}

// harden plans and runs the hardening through the executor, returning the run.
func harden(t *testing.T, db *pgtest.DB) *change.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	read := db.ConnAs(t, "postgres", pgconn.Policy{})
	disc, err := Discover(ctx, read, config.Healthcare{}, DiscoverOptions{Sample: 200})
	if err != nil {
		t.Fatal(err)
	}
	plan, _, err := HardenPlan(ctx, read, disc, Collect(ctx, read, disc, nil), HardenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return run(t, db, plan, nil)
}

func run(t *testing.T, db *pgtest.DB, plan *finding.Plan, runners map[string]change.Runner) *change.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := change.New(db.Conn(t), change.Options{Tool: "compliance test", Runners: runners}).Run(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.Status == change.StatusFailed {
			t.Errorf("step %d %s: %s", s.Step, s.Description, s.Detail)
		}
	}
	return res
}

func resetHardening(t *testing.T, db *pgtest.DB) {
	db.Exec(t, "ALTER SYSTEM RESET ALL")
	db.Exec(t, "SELECT pg_reload_conf()")
	for _, r := range []string{"hard_provider", "hard_writer", RoleReadOnly, RoleReadWrite, RoleAdmin, RoleAuditor} {
		db.Exec(t, "DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '"+r+"') THEN EXECUTE 'DROP OWNED BY "+r+"; DROP ROLE "+r+"'; END IF; END$$")
	}
}

// The judged outcome on the demo schema: a score of 90 or more after the fix, nothing
// left to do on a second run, a provider that sees only its patients, and an audit trail
// the application cannot rewrite.
func TestHardenDemoDatabase(t *testing.T) {
	db := demoDB(t)
	t.Cleanup(func() { resetHardening(t, db) })
	before := auditReport(t, db.SocketURI)
	first := harden(t, db)
	if first.Done < 40 {
		t.Errorf("first run did %d steps", first.Done)
	}
	alterSystem(t, db, map[string]string{"fsync": "on"}) // wait for the reload the plan sent
	after := auditReport(t, db.SocketURI)
	t.Logf("score %.1f -> %.1f", before.Score, after.Score)
	if after.Score < 90 {
		for _, r := range after.Failed() {
			t.Logf("still failing: %s %v", r.ID, r.Objects)
		}
		t.Errorf("score after hardening %.1f, want >= 90", after.Score)
	}
	second := harden(t, db)
	if second.Done != 0 || second.Skipped != len(second.Steps) {
		for _, s := range second.Steps {
			if s.Status != change.StatusSkipped {
				t.Logf("second run: step %d %s: %s", s.Step, s.Description, s.Status)
			}
		}
		t.Errorf("second run: %d done, %d of %d skipped", second.Done, second.Skipped, len(second.Steps))
	}

	// A provider's session sees only the patients it has appointments with.
	db.Exec(t, "CREATE ROLE hard_provider LOGIN IN ROLE "+RoleReadOnly+"; CREATE ROLE hard_writer LOGIN IN ROLE "+RoleReadWrite)
	provider := db.QueryInt64(t, "SELECT provider_id FROM appointments GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
	want := db.QueryInt64(t, "SELECT count(DISTINCT patient_id) FROM appointments WHERE provider_id = $1", provider)
	all := db.QueryInt64(t, "SELECT count(*) FROM patients")
	ctx := context.Background()
	pc := db.ConnAs(t, "hard_provider", pgconn.Policy{})
	var seen, none int64
	if err := pc.QueryRow(ctx, "SELECT count(*) FROM patients").Scan(&none); err != nil {
		t.Fatal(err)
	}
	tx, err := pc.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('app.current_provider_id', $1, true)", fmt.Sprint(provider)); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM patients").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if seen != want || want == 0 || none != 0 || seen == all {
		t.Errorf("provider %d sees %d patients (want %d of %d), %d without the setting", provider, seen, want, all, none)
	}

	// The application writes; the trigger records it; the trail cannot be rewritten.
	wc := db.ConnAs(t, "hard_writer", pgconn.Policy{Write: true})
	if _, err := wc.Exec(ctx, fmt.Sprintf("BEGIN; SET LOCAL app.current_provider_id = '%d'; SET LOCAL app.current_user_id = 'nurse-42'; UPDATE appointments SET reason = 'follow-up' WHERE provider_id = %[1]d; COMMIT", provider)); err != nil {
		t.Fatalf("writer update: %v", err)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit.phi_changes WHERE app_user = 'nurse-42' AND table_name = 'appointments' AND operation = 'UPDATE'"); n == 0 {
		t.Error("no audit row for the writer's update")
	}
	for _, sql := range []string{"UPDATE audit.phi_changes SET app_user = 'x'", "DELETE FROM audit.phi_changes",
		"UPDATE audit_logs SET action = 'Read'", "DELETE FROM audit_logs", "DELETE FROM patients"} {
		if _, err := wc.Exec(ctx, sql); !pgerr.Privilege(err) {
			t.Errorf("%s as an application role: %v, want permission denied", sql, err)
		}
	}
	// A day that landed in the default partition is skipped by a later run, not failed.
	late := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 10)
	db.Exec(t, "INSERT INTO audit.phi_changes (changed_at, table_schema, table_name, operation) VALUES ($1, 'public', 'x', 'INSERT')", late.Add(time.Hour))
	read := db.ConnAs(t, "postgres", pgconn.Policy{})
	disc, err := Discover(ctx, read, config.Healthcare{}, DiscoverOptions{Sample: 50})
	if err != nil {
		t.Fatal(err)
	}
	plan, _, err := HardenPlan(ctx, read, disc, nil, HardenOptions{Skip: []string{"roles", "grants", "rls", "pgaudit", "settings"}, AuditDaysAhead: 12})
	if err != nil {
		t.Fatal(err)
	}
	run(t, db, plan, nil)
	if got := db.QueryStrings(t, "SELECT relname FROM pg_class WHERE relname IN ($1, $2) ORDER BY 1",
		"phi_changes_"+late.Format("20060102"), "phi_changes_"+late.AddDate(0, 0, 1).Format("20060102")); len(got) != 1 || got[0] != "phi_changes_"+late.AddDate(0, 0, 1).Format("20060102") {
		t.Errorf("partitions after a late run: %v", got)
	}
	// Even the owner cannot rewrite the trail.
	if _, err := db.Conn(t).Exec(ctx, "DELETE FROM audit.phi_changes"); err == nil {
		t.Error("the owner deleted from the append-only trail")
	}
}

func auditReport(t *testing.T, uri string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	r, err := Audit(ctx, conn, &config.Profile{}, AuditOptions{Discover: DiscoverOptions{Sample: 200}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An encrypted column round-trips through phicrypt, its plaintext is gone from the table
// and from a fresh pg_dump, and the blind index finds rows.
func TestEncryptColumn(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	type row struct{ id, ssn string }
	var rows []row
	for _, s := range db.QueryStrings(t, "SELECT id || ' ' || ssn FROM patients WHERE ssn IS NOT NULL ORDER BY id") {
		p := strings.SplitN(s, " ", 2)
		rows = append(rows, row{p[0], p[1]})
	}
	if len(rows) < 1000 {
		t.Fatalf("%d patients with an SSN", len(rows))
	}
	ssnShape := regexp.MustCompile(`\d{3}-\d{2}-\d{4}`)
	planted := map[string]bool{}
	for _, r := range rows {
		planted[r.ssn] = true
	}
	leaks := func() int {
		dump, err := exec.Command(filepath.Join(pg.Bin.Dir, "pg_dump"), "--dbname", db.SocketURI).Output()
		if err != nil || len(dump) < 100000 {
			t.Fatalf("pg_dump: %v (%d bytes)", err, len(dump))
		}
		n := 0
		for _, m := range ssnShape.FindAll(dump, -1) {
			if planted[string(m)] {
				n++
			}
		}
		return n
	}
	if n := leaks(); n != len(rows) { // the check below can see a leak
		t.Fatalf("before encryption the dump holds %d of %d SSNs", n, len(rows))
	}
	master, err := phicrypt.NewMasterKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	conn := db.Conn(t)
	plan, runners, err := EncryptPlan(ctx, conn, EncryptTarget{Schema: "public", Table: "patients", Column: "ssn", Master: master, Batch: 300})
	if err != nil {
		t.Fatal(err)
	}
	run(t, db, plan, runners)
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'ssn' AND NOT attisdropped"); n != 0 {
		t.Fatal("the plaintext column is still there")
	}
	col, err := phicrypt.Open(ctx, conn, master, "public", "patients", "ssn")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var ct []byte
		if err := conn.QueryRow(ctx, "SELECT ssn_enc FROM patients WHERE id = $1::bigint", r.id).Scan(&ct); err != nil {
			t.Fatal(err)
		}
		pt, err := col.Open(ct)
		if err != nil || string(pt) != r.ssn {
			t.Fatalf("patient %s: decrypts to a different value (%v)", r.id, err)
		}
	}
	var found string
	if err := conn.QueryRow(ctx, "SELECT id::text FROM patients WHERE ssn_bidx = $1", col.BlindIndex([]byte(strings.ReplaceAll(rows[5].ssn, "-", "")))).Scan(&found); err != nil || found != rows[5].id {
		t.Errorf("blind index lookup: %q %v, want %s", found, err, rows[5].id)
	}
	// Another master key opens nothing.
	other, _ := phicrypt.NewMasterKey(bytes.Repeat([]byte{8}, 32))
	if _, err := phicrypt.Open(ctx, conn, other, "public", "patients", "ssn"); err == nil {
		t.Error("a different master key opened the data key")
	}
	if n := leaks(); n != 0 {
		t.Fatalf("%d SSNs are in a pg_dump taken after encryption", n)
	}
	// A second run changes nothing.
	plan2, runners2, err := EncryptPlan(ctx, conn, EncryptTarget{Schema: "public", Table: "patients", Column: "ssn", Master: master})
	if err != nil {
		t.Fatal(err)
	}
	if res := run(t, db, plan2, runners2); res.Done != 0 {
		t.Errorf("second run did %d steps", res.Done)
	}
}
