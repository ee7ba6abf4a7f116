package stmtsource

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The logs pglog's tests read, written by a real server (../pglog/testdata/README.md).
const pglogTestdata = "../pglog/testdata"

func readLog(t *testing.T, r func(func(Statement) error) (Result, error)) ([]Statement, Result) {
	t.Helper()
	var out []Statement
	res, err := r(func(s Statement) error { out = append(out, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsLog() || res.Statements != len(out) {
		t.Fatalf("result %+v for %d statements", res, len(out))
	}
	return out, res
}

func logStatement(line int, text string, ms float64) Statement {
	return Statement{Text: text, Line: line, Source: SourceLog, Calls: 1, TotalMs: ms, HasStats: true}
}

// TestReadLogs reads every log shape: csvlog of 23, 24 and 26 columns, jsonlog and
// stderr. Failed statements are left out; durations become statistics.
func TestReadLogs(t *testing.T) {
	csvWant := []Statement{
		logStatement(5, "CREATE TABLE patients (id int PRIMARY KEY, name text)", 3.21),
		logStatement(6, "INSERT INTO patients VALUES (1, 'Ann O''Neil')", 0.592),
		logStatement(7, "SELECT name\n  FROM patients WHERE id = 1", 0.31),
		logStatement(12, "SELECT id, name FROM patients WHERE id = $1;", 0.013),
		logStatement(13, "SELECT count(*) FROM patients WHERE name LIKE 'Ann%'", 0.864),
	}
	jsonWant := append([]Statement(nil), csvWant...)
	jsonWant[3].Line, jsonWant[4].Line = 11, 12
	for _, tc := range []struct {
		file, format string
		want         []Statement
	}{
		{"csvlog-23cols-pg12.csv", "csvlog", csvWant},
		{"csvlog-24cols-pg13.csv", "csvlog", csvWant},
		{"csvlog-26cols-pg15.csv", "csvlog", csvWant},
		{"jsonlog-pg15.json", "jsonlog", jsonWant},
		{"stderr-pg15.log", "stderr", []Statement{
			logStatement(7, "SELECT id, name FROM patients WHERE id = $1;", 0.036),
			logStatement(9, "SELECT name\n  FROM patients WHERE id = 1", 0.687),
			logStatement(13, "SELECT count(*) FROM patients WHERE name LIKE 'Ann%'", 0.425),
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(pglogTestdata, tc.file)
			got, res := readLog(t, func(fn func(Statement) error) (Result, error) { return ReadFile(path, fn) })
			if res.Format != tc.format || res.Skipped != 0 {
				t.Errorf("result %+v, want format %s and nothing skipped", res, tc.format)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("statements\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestReadLogWithoutDurationsAndDamage(t *testing.T) {
	// log_statement = all: statements without statistics; a line pglog cannot read is
	// counted, and its text never repeated.
	const log = `2024-05-01 10:00:00.000 UTC [7] clin@ehr LOG:  statement: SELECT * FROM patients WHERE mrn = 'MRN-4417'
2024-05-01 10:00:00.000 UTC [7] clin@ehr LOG:  statement:    
2024-05-01 10:00:01.000 UTC [7] clin@ehr LOG:  duration: soon ms  statement: SELECT 'MRN-4417'
2024-05-01 10:00:02.000 UTC [7] clin@ehr LOG:  duration: 2.5 ms  statement: SELECT 2
`
	got, res := readLog(t, func(fn func(Statement) error) (Result, error) { return Read(strings.NewReader(log), fn) })
	want := []Statement{
		{Text: "SELECT * FROM patients WHERE mrn = 'MRN-4417'", Line: 1, Source: SourceLog, Calls: 1},
		logStatement(4, "SELECT 2", 2.5),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements\n got %+v\nwant %+v", got, want)
	}
	if res.Format != "stderr" || res.Skipped != 1 || res.Problems[0].Line != 3 {
		t.Errorf("result %+v", res)
	}
	checkNoText(t, res, "MRN", "4417")
}

func TestReadDetects(t *testing.T) {
	for in, want := range map[string]string{
		"":                              FormatSQL,
		"SELECT 1;":                     FormatSQL,
		"-- LOG in a comment\nSELECT 1": FormatSQL,
		"LOG:  statement: SELECT 1\n":   "stderr",
		`{"timestamp":"2024-05-01 10:00:00.000 UTC","error_severity":"LOG","message":"statement: SELECT 1"}` + "\n": "jsonlog",
	} {
		res, err := Read(strings.NewReader(in), func(Statement) error { return nil })
		if err != nil || res.Format != want {
			t.Errorf("%q: format %q (%v), want %q", in, res.Format, err, want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	// An error from the callback stops the reading and comes back.
	stop := errors.New("enough")
	for _, in := range []string{"SELECT 1; SELECT 2;", "LOG:  statement: SELECT 1\nLOG:  statement: SELECT 2\n"} {
		n := 0
		res, err := Read(strings.NewReader(in), func(Statement) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 || res.Statements != 1 {
			t.Errorf("%q: err %v after %d statements (%+v)", in, err, n, res)
		}
	}
	// A read failure, at the start and part way (past what detection looks at).
	boom := errors.New("disk on fire")
	for _, after := range []string{"", strings.Repeat("SELECT 1;\n", 20000), strings.Repeat("LOG:  statement: SELECT 1\n", 20000)} {
		if _, err := Read(&failingReader{after: after, err: boom}, func(Statement) error { return nil }); !errors.Is(err, boom) {
			t.Errorf("after %d bytes: err %v, want %v", len(after), err, boom)
		}
	}
	// A file that cannot be opened.
	_, err := ReadFile(filepath.Join(t.TempDir(), "none.sql"), func(Statement) error { return nil })
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

// failingReader returns its text, then an error.
type failingReader struct {
	after string
	err   error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.after == "" {
		return 0, r.err
	}
	n := copy(p, r.after)
	r.after = r.after[n:]
	return n, nil
}
