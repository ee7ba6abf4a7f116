package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain()) // a test started this binary as pgmedic (see monitor_test.go)
	}
	os.Exit(pgtest.Main(m, &pg))
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := Run(ctx, args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// oneErrorLine checks the shape every failure must have: one line, no stack trace.
func oneErrorLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "pgmedic: ") {
		t.Fatalf("error line should start with 'pgmedic: ': %q", r.stderr)
	}
	for _, bad := range []string{"panic", "goroutine ", ".go:"} {
		if strings.Contains(r.stderr, bad) {
			t.Fatalf("stderr looks like a stack trace (%q): %s", bad, r.stderr)
		}
	}
	return last
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestHelpForEveryCommand(t *testing.T) {
	a := &app{ctx: context.Background()}
	var walk func(c *cobra.Command)
	var paths [][]string
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCommand())
	if len(paths) < 7 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		r := run(t, append(p, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("pgmedic %s --help: exit %d, output %q", strings.Join(p, " "), r.code, r.stdout)
		}
	}
}

// The root help promises only commands that exist: every "(command, command)" it
// names is one, and every command is named.
func TestRootHelpNamesRealCommands(t *testing.T) {
	root := (&app{ctx: context.Background()}).rootCommand()
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(([a-z ,]+)\)`).FindAllStringSubmatch(root.Long, -1) {
		for _, name := range strings.Split(m[1], ",") {
			name = strings.TrimSpace(name)
			named[name] = true
			if c, rest, err := root.Find(strings.Fields(name)); err != nil || len(rest) > 0 || c == root {
				t.Errorf("the root help names %q, which is no command", name)
			}
		}
	}
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help", "completion", "config", "checks", "collect", "demo", "seed", "workload":
			continue // set-up and listing commands, not engines
		}
		sub := false // a command named by one of its subcommands ("index advise", "bench harden")
		for _, s := range c.Commands() {
			sub = sub || named[c.Name()+" "+s.Name()]
		}
		if !named[c.Name()] && !sub {
			t.Errorf("the root help does not say what %q does", c.Name())
		}
	}
	if len(named) < 7 {
		t.Fatalf("found only %v in the root help", named)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if r := run(t, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "pgmedic ") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := run(t, "completion", shell); r.code != 0 || len(r.stdout) < 200 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, r.code, len(r.stdout))
		}
	}
}

func TestBadInput(t *testing.T) {
	const secret = "Secr3tPassw0rd"
	port := closedPort(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"seed", "--bogus"}, 2, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"stray argument", []string{"seed", "extra"}, 2, "takes no arguments"},
		{"negative scale", []string{"seed", "--scale", "-1", "--dsn", pg.URI("postgres")}, 2, "--scale"},
		{"zero scale", []string{"demo", "--scale", "0"}, 2, "--scale"},
		{"non-numeric scale", []string{"seed", "--scale", "lots"}, 2, "invalid argument"},
		{"malformed DSN", []string{"seed", "--scale", "0.01", "--dsn", "postgres://u:" + secret + "@host:notaport/db"}, 2, "malformed connection string"},
		{"closed port", []string{"seed", "--scale", "0.01", "--dsn", fmt.Sprintf("postgres://u:%s@127.0.0.1:%d/db?sslmode=disable", secret, port)}, 1, fmt.Sprint(port)},
		{"remote host without TLS in production", []string{"seed", "--scale", "0.01", "--dsn", "postgres://u:" + secret + "@db.example.org/claims"}, 2, "verify-full"},
		{"unknown profile", []string{"--profile", "nope", "seed", "--scale", "0.01"}, 2, "nope"},
		{"missing config file", []string{"--config", "/nonexistent/pgmedic.yaml", "seed"}, 2, "pgmedic.yaml"},
		{"zero clients", []string{"workload", "--clients", "0"}, 2, "--clients"},
		{"bad format", []string{"workload", "--format", "xml"}, 2, "--format"},
		{"unknown operation", []string{"workload", "--only", "nope"}, 2, "unknown operation"},
		{"demo stop without cluster", []string{"demo", "stop", "--dir", t.TempDir()}, 2, "no demo cluster"},
		{"wrong password", []string{"workload", "--duration", "1s", "--dsn", fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s", secret, pg.Port(), pg.CAFile)}, 1, "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			line := oneErrorLine(t, r)
			if !strings.Contains(line, tc.want) {
				t.Errorf("error line %q should mention %q", line, tc.want)
			}
			if strings.Contains(r.stderr+r.stdout, secret) {
				t.Errorf("the password leaked: %s", r.stderr)
			}
		})
	}
}

func TestSeedRefusesSeededDatabaseUnlessForced(t *testing.T) {
	db := pg.NewDB(t)
	r := run(t, "seed", "--dsn", db.URI, "--scale", "0.002", "--seed", "5")
	if r.code != 0 {
		t.Fatalf("seed: exit %d: %s", r.code, r.stderr)
	}
	want := synth.PlannedCounts(0.002)
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims"); n != want.Claims {
		t.Fatalf("claims = %d, want %d", n, want.Claims)
	}
	if !strings.Contains(r.stdout, "claim_lines") || !strings.Contains(r.stdout, "rows/s") {
		t.Errorf("summary lacks the table list or the rate: %s", r.stdout)
	}

	again := run(t, "seed", "--dsn", db.URI, "--scale", "0.002")
	if again.code != 2 {
		t.Fatalf("second seed: exit %d, want 2", again.code)
	}
	if line := oneErrorLine(t, again); !strings.Contains(line, "already has the healthcare tables") || !strings.Contains(line, "--force") {
		t.Errorf("error line: %q", line)
	}
	// Nothing was touched by the refusal.
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims"); n != want.Claims {
		t.Fatalf("claims = %d after a refused seed", n)
	}

	forced := run(t, "seed", "--dsn", db.URI, "--scale", "0.003", "--force")
	if forced.code != 0 {
		t.Fatalf("seed --force: exit %d: %s", forced.code, forced.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims"); n != synth.PlannedCounts(0.003).Claims {
		t.Fatalf("claims = %d after --force", n)
	}
}

func TestWorkloadJSON(t *testing.T) {
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.005"); r.code != 0 {
		t.Fatalf("seed: %s", r.stderr)
	}
	r := run(t, "workload", "--dsn", db.URI, "--duration", "2s", "--clients", "2", "--format", "json")
	if r.code != 0 {
		t.Fatalf("workload: exit %d: %s", r.code, r.stderr)
	}
	var res synth.WorkloadResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if res.Errors != 0 || res.Operations == 0 || len(res.Ops) != len(synth.Operations()) {
		t.Fatalf("unexpected result: %+v", res)
	}
}

func TestDemoKeepPrintsURIThenStops(t *testing.T) {
	dir, err := os.MkdirTemp("", "pgmedic-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	demoDir := filepath.Join(dir, "demo")
	r := run(t, "demo", "--dir", demoDir, "--scale", "0.005", "--duration", "2s", "--keep")
	defer func() {
		if c, err := localpg.Attach(context.Background(), demoDir); err == nil {
			_ = c.Stop(context.Background())
		}
	}()
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	uri := lines[len(lines)-1]
	if !strings.HasPrefix(uri, "postgres://") || !strings.Contains(uri, "sslmode=verify-full") {
		t.Fatalf("last line is not the connection URI: %q", uri)
	}
	if !strings.Contains(r.stdout, "top statements by total time") || !strings.Contains(r.stdout, "patient_by_mrn") {
		t.Errorf("summary lacks the workload or the statements:\n%s", r.stdout)
	}
	pw, err := os.ReadFile(filepath.Join(demoDir, "superuser.pw"))
	if err != nil || strings.Contains(r.stdout+r.stderr, string(pw)) {
		t.Fatalf("the superuser password appears in the output (or could not be read: %v)", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatalf("connecting to the kept cluster: %v", err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM claims").Scan(&n); err != nil || n == 0 {
		t.Fatalf("claims in the demo database: %d (%v)", n, err)
	}
	conn.Close(ctx)

	stop := run(t, "demo", "stop", "--dir", demoDir)
	if stop.code != 0 {
		t.Fatalf("demo stop: exit %d: %s", stop.code, stop.stderr)
	}
	c, err := localpg.Attach(ctx, demoDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("the cluster still runs after demo stop")
	}
}

var update = flag.Bool("update", false, "rewrite the golden files")

// The JSON and Markdown reports of a fixed snapshot are golden files: any change in
// what the checks decide or how reports look shows up in review.
func TestCheckGoldenReports(t *testing.T) {
	for _, tc := range []struct{ format, golden string }{
		{"json", "testdata/check.json.golden"},
		{"markdown", "testdata/check.md.golden"},
	} {
		r := run(t, "check", "--snapshot", "testdata/snapshot.json", "--format", tc.format)
		if r.code != 0 {
			t.Fatalf("check --format %s: exit %d: %s", tc.format, r.code, r.stderr)
		}
		if *update {
			if err := os.WriteFile(tc.golden, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(tc.golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if r.stdout != string(want) {
			t.Errorf("%s report differs from %s (run go test ./internal/cli -run Golden -update after checking the change)", tc.format, tc.golden)
		}
	}
}

func TestCollectThenCheck(t *testing.T) {
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.003"); r.code != 0 {
		t.Fatalf("seed: %s", r.stderr)
	}
	snapPath := filepath.Join(t.TempDir(), "snap.json")
	if r := run(t, "collect", "--dsn", db.URI, "--output", snapPath); r.code != 0 {
		t.Fatalf("collect: exit %d: %s", r.code, r.stderr)
	}
	r := run(t, "check", "--snapshot", snapPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("check: exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Version  string            `json:"version"`
		Findings []json.RawMessage `json:"findings"`
		Summary  struct {
			Total int `json:"total"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Version == "" || rep.Summary.Total == 0 || len(rep.Findings) == 0 {
		t.Fatalf("report: %v %+v", err, rep)
	}
	// The seeded schema has unindexed foreign keys, so --fail-on low fails the run.
	if r := run(t, "check", "--dsn", db.URI, "--fail-on", "low", "--format", "sarif", "--output", filepath.Join(t.TempDir(), "x.sarif")); r.code != 1 {
		t.Errorf("--fail-on low: exit %d, want 1: %s", r.code, r.stderr)
	}
	// The test cluster runs with fsync off (for speed): the HIPAA audit's durability check
	// is critical, so --fail-on critical fails until the check is switched off.
	if r := run(t, "check", "--dsn", db.URI, "--fail-on", "critical", "--format", "json"); r.code != 1 || !strings.Contains(r.stdout, `"hipaa.integrity.durability"`) {
		t.Errorf("--fail-on critical with fsync off: exit %d, want 1: %s", r.code, r.stderr)
	}
	noDurability := writeConfig(t, "profiles:\n  production:\n    compliance:\n      disabled: [integrity.durability]\n")
	if r := run(t, "check", "--config", noDurability, "--dsn", db.URI, "--fail-on", "critical"); r.code != 0 {
		t.Errorf("--fail-on critical: exit %d, want 0: %s", r.code, r.stderr)
	}
	for _, format := range []string{"text", "markdown", "html", "sarif"} {
		if r := run(t, "check", "--snapshot", snapPath, "--format", format); r.code != 0 || len(r.stdout) < 500 {
			t.Errorf("--format %s: exit %d, %d bytes", format, r.code, len(r.stdout))
		}
	}
}

func TestCheckWithoutPgStatStatements(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "DROP EXTENSION pg_stat_statements")
	r := run(t, "check", "--dsn", db.URI, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "pg_stat_statements extension is not installed") {
		t.Errorf("stderr should say why statement checks are limited: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, `"statements.unavailable"`) {
		t.Error("the report lacks the statements.unavailable finding")
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "notjson.json")
	future := filepath.Join(dir, "future.json")
	os.WriteFile(notJSON, []byte("this is not json"), 0o644)
	os.WriteFile(future, []byte(`{"format_version": 42}`), 0o644)
	port := closedPort(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"snapshot not JSON", []string{"check", "--snapshot", notJSON}, 2, "not JSON"},
		{"snapshot of an unknown version", []string{"check", "--snapshot", future}, 2, "format version 42"},
		{"missing snapshot", []string{"check", "--snapshot", filepath.Join(dir, "nope.json")}, 2, "cannot open"},
		{"snapshot and dsn", []string{"check", "--snapshot", "testdata/snapshot.json", "--dsn", pg.URI("postgres")}, 2, "either --snapshot or --dsn"},
		{"unreachable server", []string{"check", "--dsn", fmt.Sprintf("postgres://u@127.0.0.1:%d/db?sslmode=disable", port)}, 1, "cannot connect"},
		{"bad format", []string{"check", "--snapshot", "testdata/snapshot.json", "--format", "pdf"}, 2, "pdf"},
		{"bad fail-on", []string{"check", "--snapshot", "testdata/snapshot.json", "--fail-on", "severe"}, 2, "severe"},
		{"bad server memory", []string{"collect", "--server-memory", "lots", "--dsn", pg.URI("postgres")}, 2, "--server-memory"},
		{"unwritable output", []string{"check", "--snapshot", "testdata/snapshot.json", "--output", "/nonexistent/dir/r.html"}, 1, "cannot write"},
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
}

func TestChecksList(t *testing.T) {
	r := run(t, "checks")
	if r.code != 0 || !strings.Contains(r.stdout, "sessions.idle_in_transaction") || !strings.Contains(r.stdout, "min_seconds=60s") {
		t.Fatalf("checks: %d\n%s", r.code, r.stdout)
	}
	r = run(t, "checks", "--format", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) < 30 {
		t.Fatalf("checks --format json: %v, %d entries", err, len(list))
	}
	// Thresholds from the profile show their configured values.
	r = run(t, "--profile", "development", "checks")
	if !strings.Contains(r.stdout, "warn_pct=90%") {
		t.Errorf("development's connection threshold (90) is not shown:\n%s", r.stdout)
	}
}

func TestQueriesAndExplain(t *testing.T) {
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.01"); r.code != 0 {
		t.Fatalf("seed: %s", r.stderr)
	}
	if r := run(t, "workload", "--dsn", db.URI, "--duration", "2s", "--clients", "2"); r.code != 0 {
		t.Fatalf("workload: %s", r.stderr)
	}
	r := run(t, "queries", "--dsn", db.URI, "--top", "5", "--format", "json")
	if r.code != 0 {
		t.Fatalf("queries: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Statements []struct {
			Query, Grade string
			NotPlanned   string `json:"not_planned"`
			Calls        int64
			Findings     []json.RawMessage
		}
		Stats struct{ Statements, Planned int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.stdout)
	}
	if len(out.Statements) != 5 || out.Stats.Planned < 10 {
		t.Fatalf("statements %d planned %d", len(out.Statements), out.Stats.Planned)
	}
	for _, s := range out.Statements {
		// A statement is graded, or says why it has no plan (the seed's COPY has none).
		if (s.Grade == "") == (s.NotPlanned == "") || s.Calls == 0 || strings.Contains(s.Query, "pg_catalog") {
			t.Errorf("statement %q grade %q not planned %q", s.Query, s.Grade, s.NotPlanned)
		}
	}
	for _, format := range []string{"text", "markdown", "html"} {
		if r := run(t, "queries", "--dsn", db.URI, "--format", format); r.code != 0 || len(r.stdout) < 300 {
			t.Errorf("queries --format %s: exit %d, %d bytes: %s", format, r.code, len(r.stdout), r.stderr)
		}
	}

	// A SQL file with a literal MRN: analysed, and the value never printed.
	var mrn string
	conn := db.Conn(t)
	if err := conn.QueryRow(context.Background(), "SELECT mrn FROM patients LIMIT 1").Scan(&mrn); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "app.sql")
	os.WriteFile(file, []byte("SELECT * FROM patients WHERE mrn = '"+mrn+"';\nSELECT id FROM claims WHERE status = 'pended' LIMIT 10;\n"), 0o644)
	r = run(t, "queries", "--dsn", db.URI, "--file", file)
	if r.code != 0 {
		t.Fatalf("queries --file: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, mrn) {
		t.Fatalf("the MRN from the file was printed")
	}
	if !strings.Contains(r.stdout, "hipaa.literals_in_sql") {
		t.Errorf("the literal MRN was not reported:\n%s", r.stdout)
	}

	// A server log: statements with durations, bind values never shown.
	logFile := filepath.Join(t.TempDir(), "postgresql.log")
	os.WriteFile(logFile, []byte(`2026-11-22 10:00:00.123 UTC [1234] app@claims LOG:  duration: 12.500 ms  statement: SELECT * FROM patients WHERE mrn = '`+mrn+`'
2026-11-22 10:00:01.123 UTC [1234] app@claims LOG:  duration: 2.000 ms  execute <unnamed>: SELECT id FROM claims WHERE patient_id = $1
2026-11-22 10:00:01.124 UTC [1234] app@claims DETAIL:  parameters: $1 = 'secret-bind-value'
2026-11-22 10:00:02.123 UTC [1234] app@claims LOG:  duration: 3.000 ms  execute <unnamed>: SELECT id FROM claims WHERE patient_id = $1
2026-11-22 10:00:02.124 UTC [1234] app@claims DETAIL:  parameters: $1 = '43'
`), 0o644)
	r = run(t, "queries", "--dsn", db.URI, "--file", logFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("queries --file log: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, mrn) || strings.Contains(r.stdout, "secret-bind-value") {
		t.Fatal("a value from the log was printed")
	}
	if !strings.Contains(r.stdout, `"calls": 2`) || !strings.Contains(r.stdout, "hipaa.literals_in_sql") {
		t.Errorf("log analysis: want the two executions merged and the literal reported:\n%s", r.stdout)
	}

	// explain
	r = run(t, "explain", "--dsn", db.URI, "SELECT * FROM claims WHERE patient_id = $1 ORDER BY date_of_service DESC LIMIT 20 OFFSET 40")
	if r.code != 0 || !strings.Contains(r.stdout, "Seq Scan on public.claims") || !strings.Contains(r.stdout, "Grade") {
		t.Errorf("explain: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "explain", "--dsn", db.URI, "--analyze", "--format", "json", "SELECT count(*) FROM claims")
	if r.code != 0 || !strings.Contains(r.stdout, `"analyzed": true`) {
		t.Errorf("explain --analyze: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	before := db.QueryInt64(t, "SELECT count(*) FROM audit_logs")
	if r := run(t, "explain", "--dsn", db.URI, "--analyze", "--allow-writes", "DELETE FROM audit_logs"); r.code != 0 {
		t.Errorf("explain --analyze --allow-writes: exit %d: %s", r.code, r.stderr)
	}
	if after := db.QueryInt64(t, "SELECT count(*) FROM audit_logs"); after != before {
		t.Fatalf("explain --analyze of a DELETE deleted rows: %d -> %d", before, after)
	}

	bad := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"explain", "--dsn", db.URI, "--analyze", "DELETE FROM audit_logs"}, 2, "--allow-writes"},
		{[]string{"explain", "--dsn", db.URI, "SELEC broken"}, 2, "does not parse"},
		{[]string{"explain", "--dsn", db.URI, "SELECT * FROM patients WHERE no_such_column = $1"}, 1, "does not exist"},
		{[]string{"explain", "--dsn", db.URI, "CALL archive_claims($1)"}, 2, "procedure"},
		{[]string{"explain", "--dsn", db.URI}, 2, "one SQL statement"},
		{[]string{"explain", "--dsn", db.URI, "SELECT 1; SELECT 2"}, 2, "2 statements"},
		{[]string{"queries", "--dsn", db.URI, "--file", filepath.Join(t.TempDir(), "none.sql")}, 2, "cannot open"},
		{[]string{"queries", "--dsn", db.URI, "--format", "pdf"}, 2, "--format"},
	}
	for _, tc := range bad {
		r := run(t, tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, r.code, tc.code, r.stderr)
			continue
		}
		if line := oneErrorLine(t, r); !strings.Contains(line, tc.want) {
			t.Errorf("%v: %q should mention %q", tc.args, line, tc.want)
		}
	}
	// Without pg_stat_statements there is nothing to rank: one clear line.
	db2 := pg.NewDB(t)
	db2.Exec(t, "DROP EXTENSION pg_stat_statements")
	r = run(t, "queries", "--dsn", db2.URI)
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), "pg_stat_statements") {
		t.Errorf("queries without pg_stat_statements: exit %d: %s", r.code, r.stderr)
	}
}
