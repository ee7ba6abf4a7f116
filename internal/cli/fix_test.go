package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const fixSchema = `
CREATE TABLE clinics (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE visits (id bigint PRIMARY KEY, clinic_id int NOT NULL REFERENCES clinics (id), amount numeric NOT NULL);
INSERT INTO clinics SELECT g, 'clinic ' || g FROM generate_series(1, 50) g;
INSERT INTO visits SELECT g, 1 + g % 50, g % 300 FROM generate_series(1, 20000) g;
ALTER TABLE visits ADD CONSTRAINT visits_amount_positive CHECK (amount >= 0) NOT VALID;
CREATE FUNCTION audit_visit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER visits_audit AFTER INSERT ON visits FOR EACH ROW EXECUTE FUNCTION audit_visit();
ALTER TABLE visits DISABLE TRIGGER visits_audit;
ALTER TABLE visits SET (autovacuum_enabled = off);
ANALYZE;
`

// checkFires reports whether the check has an open finding, through pgmedic check.
func checkFires(t *testing.T, dsn, id string) bool {
	t.Helper()
	r := run(t, "check", "--dsn", dsn, "--format", "json")
	if r.code != 0 {
		t.Fatalf("check: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Findings []struct{ Check, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("check JSON: %v", err)
	}
	for _, f := range out.Findings {
		if f.Check == id && f.Status == "open" {
			return true
		}
	}
	return false
}

// pgmedic fix --apply for four checks changes the database, the check no longer fires,
// and a second run does nothing.
func TestFixChecks(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, fixSchema)
	for _, id := range []string{"schema.fk_without_index", "schema.not_valid_constraint", "triggers.disabled", "vacuum.autovacuum_disabled"} {
		t.Run(id, func(t *testing.T) {
			if !checkFires(t, db.URI, id) {
				t.Fatalf("%s does not fire on the fixture", id)
			}
			dry := run(t, "fix", "--dsn", db.URI, "--check", id)
			if dry.code != 0 || !strings.Contains(dry.stdout, "dry run: nothing was changed") || !strings.Contains(dry.stdout, "takes") {
				t.Fatalf("dry run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
			}
			if !checkFires(t, db.URI, id) {
				t.Fatal("the dry run changed the database")
			}
			r := run(t, "fix", "--dsn", db.URI, "--check", id, "--apply")
			if r.code != 0 || !strings.Contains(r.stdout, "done") {
				t.Fatalf("fix --apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if checkFires(t, db.URI, id) {
				t.Errorf("%s still fires after its fix", id)
			}
			again := run(t, "fix", "--dsn", db.URI, "--check", id, "--apply")
			if again.code != 0 || !strings.Contains(again.stdout, "finds nothing to fix") {
				t.Errorf("second run: exit %d\n%s%s", again.code, again.stdout, again.stderr)
			}
		})
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE status <> 'done'"); n != 0 {
		t.Errorf("%d actions not done", n)
	}
	r := run(t, "actions", "--dsn", db.URI, "--since", "1h")
	if r.code != 0 || strings.Count(r.stdout, "\n") < 5 || !strings.Contains(r.stdout, "visits_audit") && !strings.Contains(r.stdout, "public.visits") {
		t.Errorf("actions: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var list []map[string]any
	if r := run(t, "actions", "--dsn", db.URI, "--format", "json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) < 4 {
		t.Errorf("actions --format json: exit %d, %d rows\n%s", r.code, len(list), r.stderr)
	}
	// A role that may not read the audit trail gets one line with the grants.
	db.Exec(t, "DROP ROLE IF EXISTS actions_reader; CREATE ROLE actions_reader LOGIN")
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY actions_reader; DROP ROLE IF EXISTS actions_reader") })
	u, _ := url.Parse(db.SocketURI)
	u.User = url.User("actions_reader")
	r = run(t, "actions", "--dsn", u.String())
	if line := oneErrorLine(t, r); r.code != 1 || !strings.Contains(line, "GRANT SELECT ON pgmedic.actions") {
		t.Errorf("no privilege on pgmedic: exit %d, %q", r.code, line)
	}
}

// Two executors on one database: the second exits 1, naming the holder.
func TestFixRefusesWhileAnotherExecutorRuns(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, fixSchema)
	holder := db.Conn(t)
	ctx := context.Background()
	var pid int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(x'70676d65'::int, 1)) l").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	r := run(t, "fix", "--dsn", db.URI, "--check", "triggers.disabled", "--apply")
	if line := oneErrorLine(t, r); r.code != 1 || !strings.Contains(line, fmt.Sprintf("pid %d", pid)) || !strings.Contains(line, "another pgmedic executor") {
		t.Errorf("exit %d: %s", r.code, line)
	}
	if !checkFires(t, db.URI, "triggers.disabled") {
		t.Error("the refused run changed the database")
	}
	bad := run(t, "fix", "--dsn", db.URI, "--check", "no.such_check")
	if line := oneErrorLine(t, bad); bad.code != 2 || !strings.Contains(line, "pgmedic checks") {
		t.Errorf("unknown check: exit %d: %s", bad.code, line)
	}
}
