package pglog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtureEntries is what every log in testdata records (see testdata/README.md).
func fixtureEntries(csvLines bool) []brief {
	// The jsonlog has one line per record; the csvlog's two-line SELECT takes two.
	errLine, execLine, lastLine := 9, 12, 13
	if !csvLines {
		errLine, execLine, lastLine = 8, 11, 12
	}
	return []brief{
		{KindStatement, "CREATE TABLE patients (id int PRIMARY KEY, name text)", 3.21, 0, "postgres", "ehr", "ward-app", "", 5},
		{KindStatement, "INSERT INTO patients VALUES (1, 'Ann O''Neil')", 0.592, 0, "postgres", "ehr", "ward-app", "", 6},
		{KindStatement, "SELECT name\n  FROM patients WHERE id = 1", 0.31, 0, "postgres", "ehr", "ward-app", "", 7},
		{KindError, "SELECT 1/0", 0, 0, "postgres", "ehr", "ward-app", "22012", errLine},
		{KindExecute, "SELECT id, name FROM patients WHERE id = $1;", 0.013, 1, "postgres", "ehr", "ward-app", "", execLine},
		{KindStatement, "SELECT count(*) FROM patients WHERE name LIKE 'Ann%'", 0.864, 0, "postgres", "ehr", "ward-app", "", lastLine},
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCSVShapes reads csvlog as PostgreSQL 9.0-12 (23 columns), 13 (24) and 14+ (26)
// write it, each file on its own and all three one after the other.
func TestCSVShapes(t *testing.T) {
	shapes := []struct {
		file   string
		fields int
	}{{"csvlog-23cols-pg12.csv", 23}, {"csvlog-24cols-pg13.csv", 24}, {"csvlog-26cols-pg15.csv", 26}}
	var all []byte
	var want []brief
	for _, sh := range shapes {
		raw := readFixture(t, sh.file)
		t.Run(fmt.Sprint(sh.fields), func(t *testing.T) {
			cr := csv.NewReader(bytes.NewReader(raw))
			cr.FieldsPerRecord = sh.fields // fails on a record of another width
			if _, err := cr.ReadAll(); err != nil {
				t.Fatalf("%s: %v", sh.file, err)
			}
			if f := Detect(raw); f != FormatCSV {
				t.Errorf("Detect = %q", f)
			}
			entries, problems := parseString(t, string(raw), Options{})
			noProblems(t, problems)
			wantBriefs(t, entries, fixtureEntries(true))
		})
		for _, b := range fixtureEntries(true) {
			b.Line += bytes.Count(all, []byte("\n"))
			want = append(want, b)
		}
		all = append(all, raw...)
	}
	t.Run("mixed", func(t *testing.T) {
		entries, problems := parseString(t, string(all), Options{})
		noProblems(t, problems)
		wantBriefs(t, entries, want)
	})
}

// TestCSVShapesDerived checks that the older shapes are the 15 file with its trailing
// columns cut, as testdata/README.md says.
func TestCSVShapesDerived(t *testing.T) {
	pg15 := readFixture(t, "csvlog-26cols-pg15.csv")
	for file, drop := range map[string]int{"csvlog-24cols-pg13.csv": 2, "csvlog-23cols-pg12.csv": 3} {
		if got, want := string(readFixture(t, file)), dropColumns(t, pg15, drop); got != want {
			t.Errorf("%s is not the 15 file without its last %d columns", file, drop)
		}
	}
}

// dropColumns cuts the last n fields of every record; they must hold no comma.
func dropColumns(t *testing.T, raw []byte, n int) string {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(raw))
	var b strings.Builder
	start := int64(0)
	for {
		if _, err := cr.Read(); errors.Is(err, io.EOF) {
			return b.String()
		} else if err != nil {
			t.Fatal(err)
		}
		rec := strings.TrimSuffix(string(raw[start:cr.InputOffset()]), "\n")
		start = cr.InputOffset()
		for range n {
			rec = rec[:strings.LastIndexByte(rec, ',')]
		}
		b.WriteString(rec + "\n")
	}
}

func TestJSONAndStderrFixtures(t *testing.T) {
	entries, problems := parseString(t, string(readFixture(t, "jsonlog-pg15.json")), Options{})
	noProblems(t, problems)
	wantBriefs(t, entries, fixtureEntries(false))

	// The stderr log's prefix has no application; its SQLSTATE is not logged.
	entries, problems = parseString(t, string(readFixture(t, "stderr-pg15.log")), Options{})
	noProblems(t, problems)
	wantBriefs(t, entries, []brief{
		{KindExecute, "SELECT id, name FROM patients WHERE id = $1;", 0.036, 1, "postgres", "ehr", "", "", 7},
		{KindStatement, "SELECT name\n  FROM patients WHERE id = 1", 0.687, 0, "postgres", "ehr", "", "", 9},
		{KindError, "SELECT 1/0", 0, 0, "postgres", "ehr", "", "", 11},
		{KindStatement, "SELECT count(*) FROM patients WHERE name LIKE 'Ann%'", 0.425, 0, "postgres", "ehr", "", "", 13},
	})
}

// TestScanOrder: sessions whose messages complete out of order still reach the
// callbacks in file order, entries and problems interleaved by line.
func TestScanOrder(t *testing.T) {
	const log = `2024-05-01 10:00:00.000 UTC [1] LOG:  duration: 1.000 ms  execute <unnamed>: SELECT $1
2024-05-01 10:00:00.000 UTC [2] LOG:  duration: 2.000 ms  statement: SELECT 2
2024-05-01 10:00:00.000 UTC [2] ERROR:  division by zero
2024-05-01 10:00:00.000 UTC [2] STATEMENT:  SELECT 1/0
2024-05-01 10:00:00.000 UTC [9] garbled secret
2024-05-01 10:00:00.000 UTC [1] DETAIL:  parameters: $1 = 'secret'
2024-05-01 10:00:00.000 UTC [3] LOG:  duration: 3.000 ms  statement: SELECT 3
`
	var got []string
	err := Scan(strings.NewReader(log), Options{},
		func(e Entry) error { got = append(got, fmt.Sprintf("%d %s", e.Line, e.Kind)); return nil },
		func(p Problem) { got = append(got, fmt.Sprintf("%d problem", p.Line)) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1 execute", "2 statement", "3 error", "5 problem", "7 statement"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}

	// An error from the callback stops the scan and comes back as it is.
	stop := errors.New("enough")
	n := 0
	err = Scan(strings.NewReader(log), Options{}, func(Entry) error { n++; return stop }, nil)
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d entries, want %v after 1", err, n, stop)
	}
}

// TestScanStreams: the first entries of a long log arrive before the reader has gone
// much past them, and entries are not kept once handed over.
func TestScanStreams(t *testing.T) {
	for _, format := range []Format{FormatStderr, FormatCSV, FormatJSON} {
		t.Run(string(format), func(t *testing.T) {
			line := map[Format]string{
				FormatStderr: "2024-05-01 10:00:00.000 UTC [%d] LOG:  duration: 1.000 ms  statement: SELECT %d\n",
				FormatCSV:    `2024-05-01 10:00:00.000 UTC,"u","d",%d,"[local]",1.2,1,"SELECT",2024-05-01 09:00:00 UTC,3/1,0,LOG,00000,"duration: 1.000 ms  statement: SELECT %d",,,,,,,,,"app","client backend",,0` + "\n",
				FormatJSON:   `{"timestamp":"2024-05-01 10:00:00.000 UTC","pid":%d,"error_severity":"LOG","message":"duration: 1.000 ms  statement: SELECT %d"}` + "\n",
			}[format]
			var b bytes.Buffer
			for i := 0; b.Len() < 32<<20; i++ {
				fmt.Fprintf(&b, line, 100+i%50, i) // fifty sessions taking turns
			}
			cr := &countingReader{r: bytes.NewReader(b.Bytes())}
			var first int64
			n := 0
			err := Scan(cr, Options{}, func(e Entry) error {
				if n == 0 {
					first = cr.n
				}
				if e.Statement != fmt.Sprintf("SELECT %d", n) {
					t.Fatalf("entry %d is %q", n, e.Statement)
				}
				n++
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if first > 4<<20 {
				t.Errorf("the first entry came after %d bytes of %d had been read", first, b.Len())
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
