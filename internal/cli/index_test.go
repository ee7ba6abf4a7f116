package cli

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndexAdviseAndApply runs the commands the way an engineer would: advise in the
// three formats, a dry run that changes nothing, the build, and a second run that
// resumes instead of repeating.
func TestIndexAdviseAndApply(t *testing.T) {
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.02"); r.code != 0 {
		t.Fatalf("seed: %s", r.stderr)
	}
	if r := run(t, "workload", "--dsn", db.URI, "--duration", "3s", "--clients", "2"); r.code != 0 {
		t.Fatalf("workload: %s", r.stderr)
	}

	text := run(t, "index", "advise", "--dsn", db.URI)
	if text.code != 0 || !strings.Contains(text.stdout, "CREATE INDEX CONCURRENTLY IF NOT EXISTS") || !strings.Contains(text.stdout, "serves:") {
		t.Fatalf("advise text: exit %d\n%s\n%s", text.code, text.stdout, text.stderr)
	}

	adviceFile := filepath.Join(t.TempDir(), "advice.json")
	if r := run(t, "index", "advise", "--dsn", db.URI, "--format", "json", "--output", adviceFile); r.code != 0 || r.stdout != "" {
		t.Fatalf("advise json to a file: exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(adviceFile)
	if err != nil {
		t.Fatal(err)
	}
	var adv struct {
		Recommendations []map[string]json.RawMessage `json:"recommendations"`
		Drops           []map[string]json.RawMessage `json:"drops"`
	}
	if err := json.Unmarshal(raw, &adv); err != nil {
		t.Fatalf("advice is not JSON: %v", err)
	}
	if len(adv.Recommendations) == 0 {
		t.Fatalf("no recommendations on a workload of sequential scans:\n%s", raw)
	}
	var names []string
	for _, r := range adv.Recommendations {
		for _, field := range []string{"table", "columns", "include", "where", "method", "sql", "estimated_size_bytes", "cost_before", "cost_after", "improvement_pct", "statements"} {
			if _, ok := r[field]; !ok {
				t.Errorf("recommendation lacks %q: %v", field, r)
			}
		}
		var sql string
		json.Unmarshal(r["sql"], &sql)
		if !strings.HasPrefix(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS ") || strings.Contains(sql, ";") {
			t.Errorf("recommendation sql %q", sql)
		}
		names = append(names, strings.Trim(strings.Fields(strings.TrimPrefix(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "))[0], `"`))
	}

	sql := run(t, "index", "advise", "--dsn", db.URI, "--format", "sql")
	if sql.code != 0 {
		t.Fatalf("advise sql: %s", sql.stderr)
	}
	creates := 0
	for _, line := range strings.Split(strings.TrimSpace(sql.stdout), "\n") {
		switch {
		case strings.HasPrefix(line, "--"):
		case strings.HasPrefix(line, "CREATE INDEX CONCURRENTLY IF NOT EXISTS ") && strings.HasSuffix(line, ";"):
			creates++
		case strings.HasPrefix(line, "DROP INDEX CONCURRENTLY IF EXISTS ") && strings.HasSuffix(line, ";"):
		default:
			t.Errorf("--format sql printed a line that is not a statement: %q", line)
		}
	}
	if creates != len(adv.Recommendations) {
		t.Errorf("--format sql has %d CREATE statements, the JSON %d recommendations", creates, len(adv.Recommendations))
	}

	indexes := func() int64 {
		return db.QueryInt64(t, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
	}
	before := indexes()
	dry := run(t, "index", "apply", "--dsn", db.URI, "--from", adviceFile)
	if dry.code != 0 || !strings.Contains(dry.stdout, "CREATE INDEX CONCURRENTLY") || !strings.Contains(dry.stdout, "dry run") {
		t.Fatalf("dry run: exit %d\n%s\n%s", dry.code, dry.stdout, dry.stderr)
	}
	if indexes() != before {
		t.Fatal("the dry run changed the indexes")
	}

	applied := run(t, "index", "apply", "--dsn", db.URI, "--from", adviceFile, "--apply", "--skip-drops")
	if applied.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", applied.code, applied.stdout, applied.stderr)
	}
	for _, n := range names {
		if db.QueryInt64(t, "SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE c.relname = '"+n+"' AND x.indisvalid") != 1 {
			t.Errorf("index %s was not built (or is invalid)\n%s", n, applied.stdout)
		}
	}
	if got := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE status = 'done'"); got < int64(len(names)) {
		t.Errorf("pgmedic.actions records %d finished steps, want at least %d", got, len(names))
	}

	// Again: everything is there, so nothing is rebuilt.
	again := run(t, "index", "apply", "--dsn", db.URI, "--from", adviceFile, "--apply", "--skip-drops")
	if again.code != 0 {
		t.Fatalf("second apply: exit %d\n%s", again.code, again.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(again.stdout), "\n") {
		if !strings.HasPrefix(line, "skipped ") {
			t.Errorf("second apply repeated a step: %q", line)
		}
	}
	if indexes() != before+int64(len(names)) {
		t.Errorf("indexes %d, want %d", indexes(), before+int64(len(names)))
	}

	// From the application's SQL instead of pg_stat_statements: literal values are
	// used to plan but never printed.
	var mrn string
	if err := db.Conn(t).QueryRow(context.Background(), "SELECT mrn FROM patients ORDER BY id DESC LIMIT 1").Scan(&mrn); err != nil {
		t.Fatal(err)
	}
	appSQL := filepath.Join(t.TempDir(), "app.sql")
	os.WriteFile(appSQL, []byte("SELECT id, status FROM claims WHERE claim_number = 'CLM-"+mrn+"';\nSELECT * FROM patients WHERE mrn = '"+mrn+"';\n"), 0o644)
	fromFile := run(t, "index", "advise", "--dsn", db.URI, "--file", appSQL, "--no-presets")
	if fromFile.code != 0 || !strings.Contains(fromFile.stdout, `("claim_number")`) {
		t.Errorf("advise --file: exit %d\n%s\n%s", fromFile.code, fromFile.stdout, fromFile.stderr)
	}
	if strings.Contains(fromFile.stdout+fromFile.stderr, mrn) {
		t.Errorf("a literal from the SQL file was printed")
	}

	// A monitoring role that may not read the tables gets one clear error, not a page
	// of skipped statements and "nothing to do".
	db.Exec(t, "DROP ROLE IF EXISTS advise_monitor; CREATE ROLE advise_monitor LOGIN; GRANT pg_monitor TO advise_monitor")
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY advise_monitor; DROP ROLE IF EXISTS advise_monitor") })
	u, _ := url.Parse(db.SocketURI)
	u.User = url.User("advise_monitor")
	denied := run(t, "index", "advise", "--dsn", u.String())
	if denied.code != 1 {
		t.Errorf("advise as a role without SELECT: exit %d, want 1\n%s", denied.code, denied.stdout)
	} else if line := oneErrorLine(t, denied); !strings.Contains(line, "permission denied") || !strings.Contains(line, "pg_read_all_data") {
		t.Errorf("error line %q should say what is denied and how to grant it", line)
	}

	// Advising again: what was built is not recommended again.
	r := run(t, "index", "advise", "--dsn", db.URI, "--format", "json")
	for _, n := range names {
		if strings.Contains(r.stdout, `CREATE INDEX CONCURRENTLY IF NOT EXISTS \"`+n+`\"`) {
			t.Errorf("%s recommended again after it was built", n)
		}
	}
}

func TestIndexBadInput(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "DROP EXTENSION IF EXISTS hypopg")
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "advice.json")
	os.WriteFile(notJSON, []byte("CREATE INDEX ON x (y);"), 0o644)
	injected := filepath.Join(dir, "injected.json")
	os.WriteFile(injected, []byte(`{"recommendations": [{"table": "public.t", "columns": ["a"], "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS x ON t (a); DROP TABLE t"}], "drops": []}`), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no hypopg", []string{"index", "advise", "--dsn", db.URI}, 1, "CREATE EXTENSION hypopg"},
		{"bad format", []string{"index", "advise", "--dsn", db.URI, "--format", "yaml"}, 2, "--format"},
		{"bad weight", []string{"index", "advise", "--dsn", db.URI, "--weight", "heavy"}, 2, "--weight"},
		{"unwritable output, before any work", []string{"index", "advise", "--dsn", "postgres://u@127.0.0.1:1/x?sslmode=disable", "--output", "/nonexistent/dir/a.json"}, 1, "cannot write"},
		{"missing advice file", []string{"index", "apply", "--dsn", db.URI, "--from", filepath.Join(dir, "nope.json")}, 2, "cannot read"},
		{"advice not JSON", []string{"index", "apply", "--dsn", db.URI, "--from", notJSON}, 2, "index advise --format json"},
		{"advice with a second statement", []string{"index", "apply", "--dsn", db.URI, "--from", injected, "--apply"}, 2, injected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			if line := oneErrorLine(t, r); !strings.Contains(line, tc.want) {
				t.Errorf("%q should mention %q", line, tc.want)
			}
		})
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgmedic'"); n != 0 {
		t.Error("a refused apply created the pgmedic schema")
	}
}

// TestDemoOptimize: the demo applies its advice and the workload gets faster.
func TestDemoOptimize(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgmedic-demo-opt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	r := run(t, "demo", "--dir", filepath.Join(dir, "demo"), "--scale", "0.02", "--duration", "3s", "--optimize")
	if r.code != 0 {
		t.Fatalf("demo --optimize: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Recommended indexes", "workload with the recommended indexes", "before:", "after:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo --optimize output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Apply as a role that does not own the tables: one clear line with the grant or the
// role to use, never "run again to resume".
func TestIndexApplyWithoutPrivileges(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 50000) g; ANALYZE t")
	db.Exec(t, "DROP ROLE IF EXISTS apply_reader; CREATE ROLE apply_reader LOGIN; GRANT SELECT ON t TO apply_reader")
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY apply_reader; DROP ROLE IF EXISTS apply_reader") })
	advice := filepath.Join(t.TempDir(), "advice.json")
	os.WriteFile(advice, []byte(`{"recommendations": [{"table": "public.t", "name": "t_a_idx", "columns": ["a"], "include": [], "where": "", "method": "btree",
		"sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_a_idx\" ON \"public\".\"t\" (\"a\")", "statements": ["SELECT id FROM t WHERE a = $1"]}], "drops": []}`), 0o644)
	u, _ := url.Parse(db.SocketURI)
	u.User = url.User("apply_reader")

	r := run(t, "index", "apply", "--dsn", u.String(), "--from", advice, "--apply")
	if line := oneErrorLine(t, r); r.code != 1 || !strings.Contains(line, "pgmedic.actions") || !strings.Contains(line, "GRANT CREATE ON DATABASE") {
		t.Errorf("no schema privilege: exit %d, %q", r.code, line)
	}
	db.Exec(t, "GRANT CREATE ON DATABASE "+db.Name+" TO apply_reader")
	r = run(t, "index", "apply", "--dsn", u.String(), "--from", advice, "--apply")
	if line := oneErrorLine(t, r); r.code != 1 || !strings.Contains(line, "want of privilege") || strings.Contains(line, "resume") {
		t.Errorf("not the owner: exit %d, %q", r.code, line)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'"); n != 0 {
		t.Errorf("an index was left behind by a refused build")
	}
}
