package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadStatements: --file keeps the statements that parse, says on stderr which
// lines it skipped and why, and never repeats a value from the file.
func TestReadStatements(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	read := func(path string) (int, string, error) {
		var stderr bytes.Buffer
		a := &app{ctx: context.Background(), stderr: &stderr}
		inputs, err := a.readStatements(path)
		for _, in := range inputs {
			if !in.Raw || in.Text == "" {
				t.Errorf("input %+v", in)
			}
		}
		return len(inputs), stderr.String(), err
	}

	var script strings.Builder
	script.WriteString("SELECT id FROM claims WHERE status = 'pended';\n\\set mrn 'MRN-4417'\nSELEC * FROM patients WHERE mrn = 'MRN-4417';\n")
	for i := range 12 {
		fmt.Fprintf(&script, "SELECT %d FROM patients WHERE mrn = 'MRN-4417' 'x';\n", i)
	}
	script.WriteString("SELECT * FROM patients\n WHERE mrn = 'MRN-4417';\n")
	n, stderr, err := read(write("app.sql", script.String()))
	if err != nil || n != 2 {
		t.Fatalf("%d statements, err %v", n, err)
	}
	for _, want := range []string{"14 statements or lines of the SQL file skipped", `line 2: psql meta-command \set skipped`,
		"line 3: does not parse (syntax error at or near a token)", "line 11: does not parse", "and 4 more"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr should say %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "4417") {
		t.Errorf("stderr repeats a value from the file:\n%s", stderr)
	}

	// Every statement bad: a usage error that says where the first one is.
	_, _, err = read(write("bad.sql", "SELEC 1;\nSELEC 'MRN-4417';\n"))
	if err == nil || !strings.Contains(err.Error(), "does not parse as SQL: 2 statements or lines skipped, the first at line 1") || strings.Contains(err.Error(), "4417") {
		t.Errorf("all statements bad: %v", err)
	}
	r := run(t, "queries", "--dsn", fmt.Sprintf("postgres://nobody@127.0.0.1:%d/none", closedPort(t)), "--file", filepath.Join(dir, "bad.sql"))
	if r.code != ExitUsage || !strings.Contains(oneErrorLine(t, r), "does not parse as SQL") {
		t.Errorf("queries --file bad.sql: exit %d: %s", r.code, r.stderr)
	}

	// A log: durations become statistics; failed statements are left out.
	a := &app{ctx: context.Background(), stderr: &bytes.Buffer{}}
	inputs, err := a.readStatements(write("pg.log", `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 2.500 ms  statement: SELECT 1
2024-05-01 10:00:01.000 UTC [7] ERROR:  division by zero
2024-05-01 10:00:01.000 UTC [7] STATEMENT:  SELECT 1/0
`))
	if err != nil || len(inputs) != 1 || inputs[0].Source != "log" || !inputs[0].HasStats || inputs[0].Calls != 1 || inputs[0].MeanMs != 2.5 {
		t.Errorf("log: %+v, %v", inputs, err)
	}

	for _, tc := range []struct{ path, want string }{
		{write("empty.sql", "-- nothing here\n"), "holds no statements"},
		{write("quiet.log", "2024-05-01 10:00:00.000 UTC [7] LOG:  checkpoint starting: time\n"), "no statements found in the log"},
		{filepath.Join(dir, "none.sql"), "cannot open"},
		{dir, "it is a directory"},
	} {
		if _, _, err := read(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}
