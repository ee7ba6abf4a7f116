package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Names with characters every format must escape or keep intact.
const (
	patientTable = `"public"."Patient<Data>"`
	pipeQuery    = `SELECT p.id, p.last_name || ', ' || p.first_name FROM "Patient<Data>" p WHERE p.mrn = $1 AND p.age < $2`
)

// fixture is a fixed input covering every severity, an unknown finding, a two-step
// plan, evidence, references and names that need escaping. Findings are deliberately
// out of order.
func fixture() *Input {
	return &Input{
		Tool:        "pgmedic 0.1.0",
		CollectedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Server: Server{
			Version:  "15.18",
			Database: "clinic",
			User:     "pgmedic_ro",
			Host:     "db1.example.org",
		},
		Notes: []string{"compared with a snapshot taken 7 days earlier"},
		Findings: []finding.Finding{
			{
				ID: "index.unused:public.idx_*_old", Check: "index.unused", Area: "indexes",
				Severity: finding.Low, Status: finding.Open, Object: `public."idx_*_old"`,
				Title:          "Index is never used",
				Detail:         "The index has not been scanned since statistics were reset 41 days ago, but every write to the table maintains it.",
				Evidence:       []finding.Evidence{{Name: "scans", Value: 0}, {Name: "size", Value: 52428800, Unit: "bytes"}},
				Recommendation: "Drop the index after checking that no replica or monthly job relies on it.",
				Fix: &finding.Plan{Steps: []finding.Step{{
					Description: "drop the unused index", SQL: `DROP INDEX CONCURRENTLY IF EXISTS public."idx_*_old"`,
					Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true,
				}}},
			},
			{
				ID: "security.pgaudit", Check: "security.pgaudit", Area: "security",
				Severity: finding.High, Status: finding.Unknown,
				Title:          "Audit logging could not be checked",
				Detail:         "pgaudit is not installed and pg_settings hides pgaudit.log from this role.",
				Recommendation: "Grant pg_read_all_settings to the collecting role and collect again.",
			},
			{
				ID: "config.ssl", Check: "config.ssl", Area: "config",
				Severity: finding.Info, Status: finding.Open,
				Title:  "TLS is on with the default cipher list",
				Detail: "ssl_ciphers is HIGH:MEDIUM:+3DES:!aNULL.\n- that list still allows 3DES\n1. consider a stricter list",
				References: []finding.Reference{
					{Title: "Internal runbook", URL: "javascript:alert(1)"},
					{Title: "PostgreSQL: SSL support", URL: "https://www.postgresql.org/docs/15/ssl-tcp.html"},
				},
			},
			{
				ID: "security.rls-missing:" + patientTable, Check: "security.rls-missing", Area: "security",
				Severity: finding.Critical, Status: finding.Open, Object: patientTable, PHI: true,
				Title:  "PHI table without row-level security",
				Detail: "The table holds protected health information and every role with SELECT reads all rows; no policy limits access by care team.",
				Evidence: []finding.Evidence{
					{Name: "rows", Value: 1250000, Unit: "rows"},
					{Name: "roles_with_select", Value: 7, Unit: "roles"},
					{Name: "policies", Value: 0},
				},
				Recommendation: "Enable row-level security and add a policy that limits rows to the care team of the current user.",
				Fix: &finding.Plan{
					Summary: "enable row-level security on " + patientTable,
					Steps: []finding.Step{
						{Description: "enable row-level security", SQL: `ALTER TABLE "public"."Patient<Data>" ENABLE ROW LEVEL SECURITY`, Lock: "ACCESS EXCLUSIVE"},
						{Description: "limit rows to the care team", SQL: `CREATE POLICY care_team ON "public"."Patient<Data>" USING (care_team_id = current_setting('app.care_team')::int);`},
					},
				},
				References: []finding.Reference{
					{Title: "HIPAA §164.312(a)(1) access control", URL: "https://www.ecfr.gov/current/title-45/section-164.312"},
					{Title: "PostgreSQL: row security policies", URL: "https://www.postgresql.org/docs/15/ddl-rowsecurity.html"},
				},
			},
			{
				ID: "query.slow:" + pipeQuery, Check: "query.slow", Area: "performance",
				Severity: finding.Medium, Status: finding.Open, Object: pipeQuery, PHI: true,
				Title:          "Statement | slow on average",
				Detail:         "Mean execution time is 182 ms over 48,211 calls; most time is spent in a sequential scan.",
				Evidence:       []finding.Evidence{{Name: "mean_ms", Value: 182.4567, Unit: "ms"}, {Name: "calls", Value: 48211}},
				Recommendation: "Index the lookup column; see the index findings.",
			},
			{
				ID: "vacuum.xid-age:public.appointment", Check: "vacuum.xid-age", Area: "vacuum",
				Severity: finding.High, Status: finding.Open, Object: "public.appointment",
				Title:          "Transaction ID age is high",
				Detail:         "The table is 1.4 billion transactions from wraparound protection; autovacuum has not frozen it for 12 days.",
				Evidence:       []finding.Evidence{{Name: "xid_age", Value: 1.42e9, Unit: "xids"}, {Name: "share_of_limit", Value: 0.6625, Unit: "ratio"}},
				Recommendation: "Run VACUUM (FREEZE) on the table in a quiet hour.",
			},
			{
				ID: "config.shared-buffers", Check: "config.shared-buffers", Area: "config",
				Severity: finding.Medium, Status: finding.Open,
				Title:          "shared_buffers is the default 128MB",
				Detail:         "The server has 64 GiB of memory.",
				Evidence:       []finding.Evidence{{Name: "shared_buffers", Value: 134217728, Unit: "bytes"}},
				Recommendation: "Set shared_buffers to about a quarter of memory.",
			},
			{
				ID: "index.missing-fk:public.claim_line(claim_id)", Check: "index.missing-fk", Area: "indexes",
				Severity: finding.High, Status: finding.Open, Object: "public.claim_line(claim_id)",
				Title:          "Foreign key without an index",
				Detail:         "Deleting a claim scans claim_line in full.",
				Evidence:       []finding.Evidence{{Name: "seq_scans", Value: 18233}, {Name: "table_size", Value: 8.6e9, Unit: "bytes"}},
				Recommendation: "Create an index on claim_line(claim_id).",
				Fix: &finding.Plan{Steps: []finding.Step{{
					Description: "index the foreign key", SQL: "CREATE INDEX CONCURRENTLY IF NOT EXISTS claim_line_claim_id_idx ON public.claim_line (claim_id)",
					Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true,
				}}},
			},
		},
		Checks: []CheckInfo{
			{ID: "security.rls-missing", Area: "security", Title: "PHI tables without row-level security", Description: "Finds tables that hold PHI and have no row-level security policy.", Severity: finding.High,
				References: []finding.Reference{{Title: "HIPAA access control"}, {Title: "PostgreSQL docs", URL: "https://www.postgresql.org/docs/15/ddl-rowsecurity.html"}}},
			{ID: "index.missing-fk", Area: "indexes", Title: "Foreign keys without an index", Severity: finding.Medium},
			{ID: "index.unused", Area: "indexes", Title: "Unused indexes", Severity: finding.Low},
			{ID: "vacuum.xid-age", Area: "vacuum", Title: "Transaction ID wraparound", Severity: finding.High},
			{ID: "config.shared-buffers", Area: "config", Title: "shared_buffers sizing", Severity: finding.Medium},
			{ID: "query.slow", Area: "performance", Title: "Slow statements", Severity: finding.Medium},
			{ID: "backup.archiving", Area: "backup", Title: "WAL archiving works", Severity: finding.Critical},
			// config.ssl and security.pgaudit are left out: SARIF must add rules for them.
		},
		TableSizes:    fixtureSizes(),
		TopStatements: fixtureStatements(),
		Parts: []snapshot.Part{
			{Name: "server", DurationMs: 12.5, Status: snapshot.PartOK},
			{Name: "tables", DurationMs: 340, Status: snapshot.PartOK},
			{Name: "workload", DurationMs: 95.25, Status: snapshot.PartPartial, Reason: "pg_stat_statements.track is top; nested statements are missing"},
			{Name: "archiver", DurationMs: 1.2, Status: snapshot.PartUnknown, Reason: "permission denied for pg_stat_archiver <needs pg_monitor>"},
		},
	}
}

// fixtureSizes has more tables than a report shows, out of order.
func fixtureSizes() []Size {
	sizes := []Size{
		{Name: "public.audit_log", Bytes: 3 << 30},
		{Name: patientTable, Bytes: 12 << 30, PHI: true},
		{Name: "public.claim_line", Bytes: 8 << 30, PHI: true},
		{Name: "public.appointment", Bytes: 5 << 30, PHI: true},
	}
	for i := range 13 {
		sizes = append(sizes, Size{Name: "public.lookup_" + string(rune('a'+i)), Bytes: int64(i+1) << 20})
	}
	return sizes
}

// fixtureStatements has more statements than a report shows, out of order.
func fixtureStatements() []StatementTime {
	sts := []StatementTime{
		{Query: "UPDATE appointment SET status = $1 WHERE id = $2", Calls: 902113, TotalMs: 451000, MeanMs: 0.4999},
		{Query: pipeQuery, Calls: 48211, TotalMs: 8796000, MeanMs: 182.4567},
		{Query: "SELECT c.*\n  FROM claim c\n  JOIN claim_line l ON l.claim_id = c.id\n WHERE c.patient_id = $1 AND l.code IN ($2, $3, $4)", Calls: 120400, TotalMs: 2400000, MeanMs: 19.93},
	}
	for i := range 9 {
		sts = append(sts, StatementTime{Query: "SELECT * FROM lookup_" + string(rune('a'+i)) + " WHERE code = $1", Calls: int64(1000 * (i + 1)), TotalMs: float64(100 * (i + 1)), MeanMs: 0.1})
	}
	return sts
}

// render writes in as f and fails the test on error.
func render(t *testing.T, f Format, in *Input, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f, in, opts); err != nil {
		t.Fatalf("Write(%s): %v", f, err)
	}
	return b.String()
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./report -update to create it): %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %q\nwant: %q\n(run go test ./report -update if the change is intended)", name, i+1, g, w)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		format Format
		file   string
	}{
		{JSON, "report.json.golden"},
		{Markdown, "report.md.golden"},
		{Text, "report.txt.golden"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			golden(t, tc.file, render(t, tc.format, fixture(), Options{}))
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"text": Text, "JSON": JSON, " markdown ": Markdown, "md": Markdown, "html": HTML, "Sarif": SARIF,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseFormat("pdf")
	if err == nil {
		t.Fatal("ParseFormat(pdf) succeeded")
	}
	for _, name := range Formats() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
	if got, want := Formats(), []string{"text", "json", "markdown", "html", "sarif"}; !slices.Equal(got, want) {
		t.Errorf("Formats() = %q, want %q", got, want)
	}
	// Callers cannot change what later calls return.
	Formats()[0] = "changed"
	if Formats()[0] != "text" {
		t.Error("Formats shares its slice between calls")
	}
}

func TestWriteErrors(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, Format("pdf"), fixture(), Options{}); err == nil || !strings.Contains(err.Error(), "sarif") {
		t.Errorf("unknown format: err = %v, want one listing the formats", err)
	}
	if err := Write(&b, Text, nil, Options{}); err == nil {
		t.Error("nil input: no error")
	}
	for _, f := range Formats() {
		err := Write(failingWriter{}, Format(f), fixture(), Options{})
		if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), f) {
			t.Errorf("%s to a failing writer: err = %v, want the cause and the format", f, err)
		}
	}
}

// failingWriter fails every write, like a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Writing must not reorder or cap the caller's slices.
func TestWriteLeavesInputAlone(t *testing.T) {
	in := fixture()
	before := fixture()
	for _, f := range Formats() {
		render(t, Format(f), in, Options{Color: true})
	}
	if !reflect.DeepEqual(in, before) {
		t.Error("Write changed its input")
	}
}

func TestEmptyInput(t *testing.T) {
	for _, f := range Formats() {
		out := render(t, Format(f), &Input{}, Options{})
		if out == "" {
			t.Errorf("%s: empty output", f)
		}
	}
}

func TestFromSnapshot(t *testing.T) {
	s := &snapshot.Snapshot{
		Tool:        "pgmedic 0.1.0",
		CollectedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Server:      snapshot.Server{Version: "16.4", Database: "clinic", User: "ro", InRecovery: true},
		Parts:       []snapshot.Part{{Name: "tables", DurationMs: 3, Status: snapshot.PartOK}},
	}
	for i := range 20 {
		s.Tables = append(s.Tables, snapshot.Table{Schema: "public", Name: "t" + string(rune('a'+i)), TotalBytes: int64(i * 1000)})
	}
	for i := range 14 {
		s.Workload.Statements = append(s.Workload.Statements, snapshot.Statement{Query: "q" + string(rune('a'+i)), Calls: 1, TotalExecMs: float64(i), MeanExecMs: float64(i)})
	}
	fs := []finding.Finding{{ID: "x", Check: "x", Title: "X"}}
	in := FromSnapshot(s, fs, nil, map[string]bool{"public.tt": true, "public.tk": true})

	if in.Tool != s.Tool || !in.CollectedAt.Equal(s.CollectedAt) || len(in.Findings) != 1 {
		t.Errorf("tool, time or findings not copied: %+v", in)
	}
	if want := (Server{Version: "16.4", Database: "clinic", User: "ro", InRecovery: true}); in.Server != want {
		t.Errorf("Server = %+v, want %+v (host left empty)", in.Server, want)
	}
	if len(in.TableSizes) != 15 {
		t.Fatalf("%d table sizes, want 15", len(in.TableSizes))
	}
	if first := in.TableSizes[0]; first.Name != "public.tt" || first.Bytes != 19000 || !first.PHI {
		t.Errorf("largest table = %+v, want public.tt, 19000 bytes, PHI", first)
	}
	for i, sz := range in.TableSizes {
		if sz.PHI != (sz.Name == "public.tt" || sz.Name == "public.tk") {
			t.Errorf("table %s: PHI = %v", sz.Name, sz.PHI)
		}
		if i > 0 && sz.Bytes > in.TableSizes[i-1].Bytes {
			t.Errorf("table sizes not biggest first at %d", i)
		}
	}
	if len(in.TopStatements) != 10 || in.TopStatements[0].Query != "qn" || in.TopStatements[9].Query != "qe" {
		t.Errorf("top statements = %+v, want qn … qe", in.TopStatements)
	}
	if len(in.Parts) != 1 {
		t.Errorf("parts not copied")
	}
	if empty := FromSnapshot(nil, fs, nil, nil); len(empty.Findings) != 1 {
		t.Error("nil snapshot lost the findings")
	}
}
