package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const complySchema = `
CREATE TABLE pt (pt_no text PRIMARY KEY, given_nm text, soc_sec text, x1 text, rsn text);
INSERT INTO pt SELECT 'A' || lpad(i::text, 7, '0'), 'Hiro' || i,
    format('%s-%s-%s', 100 + i % 500, lpad((1 + i % 98)::text, 2, '0'), lpad((1 + i % 9998)::text, 4, '0')),
    format('%s-%s-%s', 200 + i % 300, lpad((1 + i % 97)::text, 2, '0'), lpad((3 + i % 9990)::text, 4, '0')), 'cough'
FROM generate_series(1, 300) i;
CREATE TABLE visit (id bigint PRIMARY KEY, pt_ref text REFERENCES pt, vdate date);`

func TestPHICommand(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, complySchema)
	r := run(t, "phi", "--dsn", db.URI, "--format", "json")
	if r.code != 0 {
		t.Fatalf("phi: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Columns []struct {
			Schema, Table, Column, Category string
			Confidence                      float64
			Evidence                        []string
		} `json:"columns"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("phi json: %v", err)
	}
	got := map[string]string{}
	for _, c := range out.Columns {
		got[c.Table+"."+c.Column] = c.Category
		if c.Schema != "public" || len(c.Evidence) == 0 || c.Confidence <= 0 {
			t.Errorf("column %+v", c)
		}
	}
	for k, want := range map[string]string{"pt.soc_sec": "ssn", "pt.x1": "ssn", "pt.given_nm": "name",
		"pt.pt_no": "medical_record_number", "visit.pt_ref": "medical_record_number"} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	// No sampled value in any output.
	for _, v := range db.QueryStrings(t, "SELECT soc_sec FROM pt UNION ALL SELECT x1 FROM pt UNION ALL SELECT given_nm FROM pt") {
		for _, format := range []string{"text", "markdown"} {
			if r := run(t, "phi", "--dsn", db.URI, "--format", format, "--all"); strings.Contains(r.stdout+r.stderr, v) {
				t.Fatalf("a sampled value in the %s output", format)
			}
		}
		break // the text runs are slow-ish; the JSON check below covers every value
	}
	for _, v := range db.QueryStrings(t, "SELECT soc_sec FROM pt UNION ALL SELECT x1 FROM pt") {
		if strings.Contains(r.stdout, v) {
			t.Fatal("a sampled value in the JSON output")
		}
	}
}

func TestComplyCommand(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, complySchema)
	r := run(t, "comply", "--dsn", db.URI, "--format", "json")
	if r.code != 0 {
		t.Fatalf("comply: exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Score     *float64 `json:"score"`
		Standards []struct {
			Paragraph string
			Checks    []struct{ ID, Status string }
		} `json:"standards"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Score == nil || len(rep.Standards) != 5 {
		t.Fatalf("comply json: %v %s", err, r.stdout[:min(300, len(r.stdout))])
	}
	// The test cluster runs with fsync off: a critical failure caps the score.
	if *rep.Score > 50 {
		t.Errorf("score %.1f despite fsync = off", *rep.Score)
	}
	if r := run(t, "comply", "--dsn", db.URI, "--min-score", "90"); r.code != 1 {
		t.Errorf("--min-score 90: exit %d", r.code)
	}
	for _, format := range []string{"html", "sarif", "markdown", "text"} {
		if r := run(t, "comply", "--dsn", db.URI, "--format", format); r.code != 0 || !strings.Contains(r.stdout, "164.312") {
			t.Errorf("--format %s: exit %d %s", format, r.code, r.stderr)
		}
	}
}

func TestComplyBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"phi", "--format", "yaml"},
		{"phi", "--sample", "-5"},
		{"comply", "--format", "pdf"},
		{"comply", "--min-score", "120"},
		{"comply", "--fail-on", "severe"},
	} {
		r := run(t, args...)
		if line := oneErrorLine(t, r); r.code != 2 || !strings.Contains(line, "hint:") {
			t.Errorf("%v: exit %d, %q", args, r.code, line)
		}
	}
	cfg := writeConfig(t, "profiles:\n  production:\n    compliance:\n      attestations: [disk_encrypted]\n")
	r := run(t, "comply", "--config", cfg, "--dsn", "postgres://127.0.0.1:1/x")
	if line := oneErrorLine(t, r); r.code != 2 || !strings.Contains(line, "disk_encryption") {
		t.Errorf("unknown attestation: exit %d, %q", r.code, line)
	}
}

func TestComplyFixDryRunAndBadInput(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, complySchema)
	r := run(t, "comply", "fix", "--dsn", db.URI, "--skip", "settings,pgaudit")
	if r.code != 0 || !strings.Contains(r.stdout, "CREATE ROLE \"app_readonly\"") || !strings.Contains(r.stdout, "dry run") ||
		strings.Contains(r.stdout, "ALTER SYSTEM") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_roles WHERE rolname = 'app_readonly'"); n != 0 {
		t.Fatal("the dry run created a role")
	}
	dir := t.TempDir()
	loose := filepath.Join(dir, "k")
	if err := os.WriteFile(loose, []byte(strings.Repeat("ab", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--skip", "everything"}, 2, "unknown part"},
		{[]string{"--encrypt", "public.pt.soc_sec"}, 2, "exactly one of --key-file and --key-env"},
		{[]string{"--key-file", loose}, 2, "go with --encrypt"},
		{[]string{"--encrypt", "public.pt.soc_sec", "--key-file", loose}, 2, "chmod 600"},
		{[]string{"--encrypt", "public.pt.soc_sec", "--key-env", "PGMEDIC_TEST_NO_SUCH_KEY"}, 2, "is not set"},
		{[]string{"--encrypt", "pt", "--key-env", "PGMEDIC_TEST_KEY"}, 2, "schema.table.column"},
		{[]string{"--encrypt", "public.pt.no_such", "--key-env", "PGMEDIC_TEST_KEY"}, 1, "no such column"},
		{[]string{"--encrypt", "public.visit.vdate", "--key-env", "PGMEDIC_TEST_KEY", "--apply"}, 0, ""},
	} {
		t.Setenv("PGMEDIC_TEST_KEY", strings.Repeat("cd", 32))
		r := run(t, append([]string{"comply", "fix", "--dsn", db.URI, "--skip", "roles,grants,rls,audit,pgaudit,settings"}, c.args...)...)
		if c.code == 0 {
			if r.code != 0 {
				t.Errorf("%v: exit %d %s", c.args, r.code, r.stderr)
			}
			continue
		}
		if line := oneErrorLine(t, r); r.code != c.code || !strings.Contains(line, c.want) || !strings.Contains(line, "hint:") {
			t.Errorf("%v: exit %d, %q", c.args, r.code, line)
		}
	}
}

// bench harden runs end to end on a private cluster: three profiles, one baseline, no
// workload errors with the audit trigger and pgaudit on.
func TestBenchHarden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	r := run(t, "bench", "harden", "--dir", dir, "--scale", "0.01", "--duration", "3s", "--rounds", "1", "--clients", "2", "--format", "json")
	if r.code != 0 {
		t.Fatalf("bench harden: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Runs []struct {
			Profile      string  `json:"profile"`
			OpsPerSecond float64 `json:"ops_per_second"`
			Ratio        float64 `json:"throughput_ratio"`
			Errors       int64   `json:"errors"`
			WriteOps     float64 `json:"write_ops_per_second"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Runs) != 3 {
		t.Fatalf("bench json: %v\n%s", err, r.stdout)
	}
	for i, run := range out.Runs {
		if run.OpsPerSecond <= 0 || run.Errors != 0 || run.WriteOps <= 0 || (i == 0 && run.Ratio != 1) || run.Ratio <= 0 {
			t.Errorf("run %+v", run)
		}
	}
	if out.Runs[1].Profile != "audit trigger" || out.Runs[2].Profile != "audit trigger + pgaudit" {
		t.Errorf("profiles %+v", out.Runs)
	}
	if r := run(t, "bench", "harden", "--rounds", "0"); r.code != 2 {
		t.Errorf("--rounds 0: exit %d", r.code)
	}
}
