package compliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

const auditSchema = `
CREATE TABLE patients (id bigint PRIMARY KEY, mrn text, first_name text, last_name text, ssn text, provider_id int);
INSERT INTO patients SELECT i, 'MRN' || lpad(i::text, 8, '0'), 'Ann' || i, 'Lee' || i,
    format('%s-%s-%s', 100 + i % 500, lpad((1 + i % 98)::text, 2, '0'), lpad((1 + i % 9998)::text, 4, '0')), i % 5
FROM generate_series(1, 200) i;
DROP ROLE IF EXISTS audit_app; CREATE ROLE audit_app LOGIN;`

func audit(t *testing.T, uri string) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	for _, r := range auditReport(t, uri).Results() {
		out[r.ID] = r
	}
	return out
}

// alterSystem sets (or with value "" resets) server settings and waits until new
// sessions see them.
func alterSystem(t *testing.T, db *pgtest.DB, settings map[string]string) {
	t.Helper()
	for k, v := range settings {
		if v == "" {
			db.Exec(t, "ALTER SYSTEM RESET "+k)
		} else {
			db.Exec(t, "ALTER SYSTEM SET "+k+" = '"+v+"'")
		}
	}
	db.Exec(t, "SELECT pg_reload_conf()")
	deadline := time.Now().Add(10 * time.Second)
	for k, v := range settings {
		for {
			got := db.QueryStrings(t, "SELECT setting FROM pg_settings WHERE name = $1", k)
			if v == "" || (len(got) == 1 && strings.EqualFold(strings.Trim(got[0], "'"), strings.Trim(v, "'"))) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Every SQL-visible check fails when its weakness is created and passes when it is
// mended, on a real cluster.
func TestAuditChecksFailAndPass(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, auditSchema)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY audit_app; DROP ROLE IF EXISTS audit_app") })
	cases := []struct {
		check       string
		break_, fix func()
	}{
		{"tls.min_protocol",
			func() { alterSystem(t, db, map[string]string{"ssl_min_protocol_version": "TLSv1.1"}) },
			func() { alterSystem(t, db, map[string]string{"ssl_min_protocol_version": ""}) }},
		{"auth.password_encryption",
			func() { alterSystem(t, db, map[string]string{"password_encryption": "md5"}) },
			func() { alterSystem(t, db, map[string]string{"password_encryption": ""}) }},
		{"auth.md5_passwords",
			func() {
				db.Exec(t, "SET password_encryption = 'md5'; CREATE ROLE audit_md5 LOGIN PASSWORD 'not-a-real-one'")
			},
			func() { db.Exec(t, "DROP ROLE audit_md5") }},
		{"roles.superusers",
			func() { db.Exec(t, "CREATE ROLE audit_su2 LOGIN SUPERUSER") },
			func() { db.Exec(t, "DROP ROLE audit_su2") }},
		{"roles.powerful",
			func() { db.Exec(t, "ALTER ROLE audit_app BYPASSRLS") },
			func() { db.Exec(t, "ALTER ROLE audit_app NOBYPASSRLS") }},
		{"grants.public_phi",
			func() { db.Exec(t, "GRANT SELECT ON patients TO PUBLIC") },
			func() { db.Exec(t, "REVOKE ALL ON patients FROM PUBLIC") }},
		{"grants.default_public",
			func() { db.Exec(t, "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC") },
			func() { db.Exec(t, "ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM PUBLIC") }},
		{"schema.public_create",
			func() { db.Exec(t, "GRANT CREATE ON SCHEMA public TO PUBLIC") },
			func() { db.Exec(t, "REVOKE CREATE ON SCHEMA public FROM PUBLIC") }},
		{"functions.secdef_search_path",
			func() {
				db.Exec(t, "CREATE FUNCTION audit_sd() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
			},
			func() { db.Exec(t, "ALTER FUNCTION audit_sd() SET search_path = pg_catalog") }},
		{"rls.phi_tables",
			func() { db.Exec(t, "ALTER TABLE patients DISABLE ROW LEVEL SECURITY") },
			func() {
				db.Exec(t, `ALTER TABLE patients ENABLE ROW LEVEL SECURITY; ALTER TABLE patients FORCE ROW LEVEL SECURITY;
				    CREATE POLICY by_provider ON patients USING (provider_id = (SELECT current_setting('app.provider_id', true))::int)`)
			}},
		{"rls.always_true",
			func() { db.Exec(t, "CREATE POLICY everyone ON patients USING (true)") },
			func() { db.Exec(t, "DROP POLICY everyone ON patients") }},
		{"session.timeouts",
			func() { alterSystem(t, db, map[string]string{"idle_session_timeout": "0"}) },
			func() {
				alterSystem(t, db, map[string]string{"idle_session_timeout": "900000", "idle_in_transaction_session_timeout": "300000"})
			}},
		{"pgaudit.loaded",
			func() { db.Exec(t, "DROP EXTENSION IF EXISTS pgaudit") },
			func() { db.Exec(t, "CREATE EXTENSION pgaudit") }},
		{"pgaudit.classes",
			func() { alterSystem(t, db, map[string]string{"pgaudit.log": "none"}) },
			func() { alterSystem(t, db, map[string]string{"pgaudit.log": "ddl,role,write"}) }},
		{"pgaudit.classes", // a role that switches auditing off for itself
			func() { db.Exec(t, "ALTER ROLE audit_app SET pgaudit.log = 'none'") },
			func() { db.Exec(t, "ALTER ROLE audit_app RESET pgaudit.log") }},
		{"pgaudit.phi_reads",
			func() { db.Exec(t, "DROP ROLE IF EXISTS audit_auditor; CREATE ROLE audit_auditor NOLOGIN") },
			func() {
				db.Exec(t, "GRANT SELECT ON patients TO audit_auditor")
				alterSystem(t, db, map[string]string{"pgaudit.role": "audit_auditor"})
			}},
		{"audit.triggers",
			func() {},
			func() {
				db.Exec(t, `CREATE TABLE audit_trail (id bigserial, row_data jsonb);
				    CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO audit_trail(row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END$$;
				    CREATE TRIGGER patients_audit AFTER INSERT OR UPDATE OR DELETE ON patients FOR EACH ROW EXECUTE FUNCTION audit_row()`)
			}},
		{"audit.append_only",
			func() { db.Exec(t, "GRANT INSERT, UPDATE ON audit_trail TO audit_app") },
			func() { db.Exec(t, "REVOKE UPDATE ON audit_trail FROM audit_app") }},
		{"logging.connections",
			func() { alterSystem(t, db, map[string]string{"log_connections": "off"}) },
			func() { alterSystem(t, db, map[string]string{"log_connections": "on", "log_disconnections": "on"}) }},
		{"logging.line_prefix",
			func() { alterSystem(t, db, map[string]string{"log_line_prefix": "%m "}) },
			func() { alterSystem(t, db, map[string]string{"log_line_prefix": "%m [%p] %q%u@%d %a %h "}) }},
		{"logging.phi_in_logs",
			func() { alterSystem(t, db, map[string]string{"log_statement": "all"}) },
			func() { alterSystem(t, db, map[string]string{"log_statement": ""}) }},
		{"integrity.durability",
			func() { alterSystem(t, db, map[string]string{"fsync": "off"}) },
			func() { alterSystem(t, db, map[string]string{"fsync": "on", "full_page_writes": "on"}) }},
	}
	t.Cleanup(func() {
		alterSystem(t, db, map[string]string{"fsync": "off", "full_page_writes": "off", "idle_session_timeout": "",
			"idle_in_transaction_session_timeout": "", "pgaudit.log": "", "pgaudit.role": "", "log_connections": "",
			"log_disconnections": "", "log_line_prefix": "%m [%p] %q%u@%d "})
		db.Exec(t, "DROP OWNED BY audit_auditor; DROP ROLE IF EXISTS audit_auditor")
	})
	for _, c := range cases {
		c.break_()
		if r := audit(t, db.SocketURI)[c.check]; r.Status != Fail {
			t.Errorf("%s after breaking: %s (%s)", c.check, r.Status, r.Detail)
		}
		c.fix()
		if r := audit(t, db.SocketURI)[c.check]; r.Status != Pass {
			t.Errorf("%s after mending: %s (%s %v)", c.check, r.Status, r.Detail, r.Objects)
		}
	}
}

// pg_hba rules come from pg_hba_file_rules, the file on disk: each rule-based check
// fails on a line written for it and passes once the line is gone.
func TestAuditHBARules(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, auditSchema)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY audit_app; DROP ROLE IF EXISTS audit_app") })
	path := filepath.Join(pg.DataDir, "pg_hba.conf")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(path, orig, 0o600) })
	for check, line := range map[string]string{
		"hba.trust":            "host all all 10.0.0.0/8 trust",
		"hba.host_without_ssl": "host all audit_app 10.1.0.0/16 scram-sha-256",
		"hba.wide_network":     "hostssl all audit_app 0.0.0.0/0 scram-sha-256",
		"hba.md5":              "hostssl all audit_app 10.2.0.0/16 md5",
		"hba.remote_superuser": "hostssl all postgres 10.3.0.0/16 scram-sha-256",
	} {
		if err := os.WriteFile(path, append(append([]byte{}, orig...), []byte("\n"+line+"\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := audit(t, db.SocketURI)[check]; r.Status != Fail || len(r.Objects) != 1 {
			t.Errorf("%s with %q: %s %v", check, line, r.Status, r.Objects)
		}
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := audit(t, db.SocketURI)[check]; r.Status != Pass {
			t.Errorf("%s without the line: %s %v", check, r.Status, r.Objects)
		}
	}
}

// A pg_monitor-only role cannot read pg_hba_file_rules or pg_authid: those checks are
// unknown, never passed, and the score counts them against.
func TestAuditMonitorRoleGetsUnknowns(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, auditSchema+`; DROP ROLE IF EXISTS audit_mon; CREATE ROLE audit_mon LOGIN; GRANT pg_monitor TO audit_mon`)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY audit_app, audit_mon; DROP ROLE IF EXISTS audit_app, audit_mon") })
	got := audit(t, db.SocketURIAs("audit_mon"))
	for _, id := range []string{"hba.trust", "hba.md5", "hba.remote_superuser", "auth.md5_passwords"} {
		if got[id].Status != Unknown || !strings.Contains(got[id].Detail, "privilege") {
			t.Errorf("%s as pg_monitor: %s (%s)", id, got[id].Status, got[id].Detail)
		}
	}
	if got["tls.ssl"].Status != Pass {
		t.Errorf("tls.ssl as pg_monitor: %s", got["tls.ssl"].Status)
	}
}

func TestScoreWeightsAndCap(t *testing.T) {
	var results []Result
	for _, c := range Checks() {
		results = append(results, Result{ID: c.ID, Severity: c.Severity, Outcome: Outcome{Status: Pass}})
	}
	if s, capped, _ := Score(results); s != 100 || capped {
		t.Errorf("all pass: %.1f capped %v", s, capped)
	}
	for i := range results {
		if results[i].ID == "tls.ssl" {
			results[i].Status = Fail
		}
	}
	s, capped, stds := Score(results)
	if !capped || s > CriticalCap {
		t.Errorf("critical failure: %.1f capped %v", s, capped)
	}
	for _, st := range stds {
		if st.Paragraph == "164.312(e)" && st.Score >= 100 {
			t.Errorf("transmission standard still %.1f", st.Score)
		}
		if st.Paragraph != "164.312(e)" && st.Score != 100 {
			t.Errorf("%s: %.1f", st.Paragraph, st.Score)
		}
	}
}

// The monitor's source of scores audits a target on its own and serves the score.
func TestScoreSource(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, auditSchema)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY audit_app; DROP ROLE IF EXISTS audit_app") })
	src := NewScoreSource(&config.Profile{}, pgconn.Policy{}, time.Hour, func(string, error) {})
	if _, ok := src.ComplianceScore("db"); ok {
		t.Fatal("a score before any audit")
	}
	src.Add("db", db.SocketURI)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if score, ok := src.ComplianceScore("db"); ok {
			want := auditReport(t, db.SocketURI).Score
			if score != want {
				t.Errorf("source score %.1f, audit %.1f", score, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no score within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
}

// Safeguards SQL cannot see pass only when attested, and never count while unattested.
func TestAuditAttestations(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, auditSchema)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY audit_app; DROP ROLE IF EXISTS audit_app") })
	ctx := context.Background()
	conn := db.ConnAs(t, "postgres", pgconn.Policy{})
	plain, err := Audit(ctx, conn, &config.Profile{}, AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	attested, err := Audit(ctx, conn, &config.Profile{Compliance: config.Compliance{Attestations: Attestations()}}, AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"encryption.at_rest", "access.os", "access.emergency"} {
		var before, after Status
		for _, r := range plain.Results() {
			if r.ID == id {
				before = r.Status
			}
		}
		for _, r := range attested.Results() {
			if r.ID == id {
				after = r.Status
			}
		}
		if before != Unknown || after != Pass {
			t.Errorf("%s: %s unattested, %s attested", id, before, after)
		}
	}
	if attested.Score < plain.Score || attested.Unknown != plain.Unknown-3 {
		t.Errorf("scores %.1f -> %.1f, unknown %d -> %d", plain.Score, attested.Score, plain.Unknown, attested.Unknown)
	}
}
