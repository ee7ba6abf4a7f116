package pglog

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Hand-written snippets cover what the test server cannot easily produce: other
// prefixes, syslog, older csvlog, damaged lines, PostgreSQL 16's plan parameters.

func parseString(t *testing.T, log string, opts Options) ([]Entry, []Problem) {
	t.Helper()
	entries, problems, err := Parse(strings.NewReader(log), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return entries, problems
}

// brief is what most assertions compare: the entry without its plan.
type brief struct {
	Kind, Statement string
	DurationMs      float64
	ParamCount      int
	User, DB, App   string
	SQLState        string
	Line            int
}

func briefs(entries []Entry) []brief {
	out := make([]brief, 0, len(entries))
	for _, e := range entries {
		out = append(out, brief{e.Kind, e.Statement, e.DurationMs, e.ParamCount, e.User, e.Database, e.Application, e.SQLState, e.Line})
	}
	return out
}

func wantBriefs(t *testing.T, got []Entry, want []brief) {
	t.Helper()
	g := briefs(got)
	if !reflect.DeepEqual(g, want) {
		t.Errorf("entries:\n got %s\nwant %s", fmtBriefs(g), fmtBriefs(want))
	}
}

func fmtBriefs(bs []brief) string {
	var b strings.Builder
	for _, x := range bs {
		fmt.Fprintf(&b, "\n  %+v", x)
	}
	return b.String()
}

func noProblems(t *testing.T, problems []Problem) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("unexpected problems: %+v", problems)
	}
}

// checkProblemsHideText fails when a problem quotes any of the secrets.
func checkProblemsHideText(t *testing.T, problems []Problem, secrets ...string) {
	t.Helper()
	for _, p := range problems {
		for _, s := range secrets {
			if strings.Contains(p.Msg, s) {
				t.Errorf("problem at line %d quotes the log: %q", p.Line, p.Msg)
			}
		}
	}
}

func TestDetect(t *testing.T) {
	csv26 := `2024-05-01 10:00:00.123 UTC,"clin","ehr",4242,"[local]",66321a80.1092,3,"SELECT",2024-05-01 09:59:00 UTC,3/7,0,LOG,00000,"duration: 1.000 ms  statement: SELECT 1",,,,,,,,,"psql","client backend",,0` + "\n"
	for _, tc := range []struct {
		name string
		head string
		want Format
	}{
		{"empty", "", FormatStderr},
		{"stderr default prefix", "2024-05-01 10:00:00.123 UTC [4242] LOG:  database system is ready to accept connections\n", FormatStderr},
		{"stderr no prefix", "LOG:  database system is ready\n", FormatStderr},
		{"stderr prefix with a comma", "2024-05-01 10:00:00.123 UTC,4242 LOG:  ready\n", FormatStderr},
		{"syslog", "May  1 10:00:00 db1 postgres[4242]: [1-1] LOG:  ready\n", FormatStderr},
		{"csvlog", csv26, FormatCSV},
		{"csvlog after blank lines and a BOM", "\xEF\xBB\xBF\n\r\n" + csv26, FormatCSV},
		{"csvlog cut inside a quoted field", strings.TrimSuffix(csv26, `SELECT 1",,,,,,,,,"psql","client backend",,0`+"\n"), FormatCSV},
		{"jsonlog", `{"timestamp":"2024-05-01 10:00:00.123 UTC","pid":4242,"error_severity":"LOG","message":"ready"}` + "\n", FormatJSON},
		{"jsonlog cut short", `{"timestamp":"2024-05-01 10:00:00.123 UTC","pid":42`, FormatJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect([]byte(tc.head)); got != tc.want {
				t.Errorf("Detect = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCountParams(t *testing.T) {
	for _, tc := range []struct {
		list string
		want int
	}{
		{"$1 = '42'", 1},
		{"$1 = NULL, $2 = 'x'", 2},
		{"$1 = 'O''Brien, Pat', $2 = '2'", 2},
		{"$1 = 'it has\n\ta newline', $2 = NULL, $3 = '3'", 3},
		{"$1 = 'looks like more: '', $2 = ''x'", 1},
		{"$1 = 'a '', $2 = ''b', $2 = 'c'", 2},
		{"$1 = 'a', $2 = 'b' and then prose", 2},
		{"$1 = 'truncated by a cut fi", 1},
		{"$1 = 'abc...', $2 = 'def...'", 2}, // log_parameter_max_length
		{"$10 = '1', $11 = '2'", 2},
		{"", 0},
		{"no list", 0},
		{"$1 = unquoted", 0},
	} {
		if got, _ := countParams(tc.list); got != tc.want {
			t.Errorf("countParams(%q) = %d, want %d", tc.list, got, tc.want)
		}
	}
}

// pgBadger's recommended prefix, with multi-line SQL, parameters holding newlines and
// quotes, errors, and the noise of a real server.
const pgBadgerLog = `2024-05-01 10:00:00 UTC [101]: [1-1] user=,db=,app=,client= LOG:  checkpoint starting: time
2024-05-01 10:00:01 UTC [202]: [1-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 12.345 ms  statement: SELECT p.id,
	       p.name
	  FROM patients p
	 WHERE p.ward = 7
2024-05-01 10:00:02 UTC [202]: [2-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 0.101 ms  parse <unnamed>: SELECT * FROM patients WHERE name = $1 AND dob = $2
2024-05-01 10:00:02 UTC [202]: [3-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 0.202 ms  bind <unnamed>: SELECT * FROM patients WHERE name = $1 AND dob = $2
2024-05-01 10:00:02 UTC [202]: [4-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 DETAIL:  parameters: $1 = 'Ann O''Neil, RN
	LOG:  not a message', $2 = '1970-01-01'
2024-05-01 10:00:02 UTC [202]: [5-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 1.500 ms  execute <unnamed>: SELECT * FROM patients WHERE name = $1 AND dob = $2
2024-05-01 10:00:02 UTC [202]: [6-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 DETAIL:  parameters: $1 = 'Ann O''Neil, RN
	LOG:  not a message', $2 = '1970-01-01'
2024-05-01 10:00:03 UTC [202]: [7-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 0.050 ms
2024-05-01 10:00:04 UTC [202]: [8-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 ERROR:  relation "patient" does not exist at character 15
2024-05-01 10:00:04 UTC [202]: [9-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 HINT:  Perhaps you meant to reference the table "patients".
2024-05-01 10:00:04 UTC [202]: [10-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 STATEMENT:  SELECT * FROM patient
	WHERE id = 1
2024-05-01 10:00:05 UTC [303]: [1-1] user=,db=,app=,client= LOG:  automatic vacuum of table "ehr.public.patients": index scans: 0
	pages: 0 removed, 1 remain
2024-05-01 10:00:06 UTC [202]: [11-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  statement: DELETE FROM patients WHERE id = 9
`

func TestPgBadgerPrefix(t *testing.T) {
	want := []brief{
		{KindStatement, "SELECT p.id,\n       p.name\n  FROM patients p\n WHERE p.ward = 7", 12.345, 0, "clin", "ehr", "ward app", "", 2},
		{KindExecute, "SELECT * FROM patients WHERE name = $1 AND dob = $2", 1.5, 2, "clin", "ehr", "ward app", "", 10},
		{KindError, "SELECT * FROM patient\nWHERE id = 1", 0, 0, "clin", "ehr", "ward app", "", 14},
		{KindStatement, "DELETE FROM patients WHERE id = 9", 0, 0, "clin", "ehr", "ward app", "", 20},
	}
	for _, opts := range []Options{{}, {Format: FormatStderr, Prefix: "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "}} {
		entries, problems := parseString(t, pgBadgerLog, opts)
		noProblems(t, problems)
		wantBriefs(t, entries, want)
		for _, e := range entries {
			if strings.Contains(e.Statement, "Neil") || strings.Contains(e.Statement, "1970") {
				t.Errorf("a parameter value reached the entry at line %d", e.Line)
			}
		}
	}
}

func TestCommonPrefixes(t *testing.T) {
	const stmt = "SELECT 1"
	for _, tc := range []struct {
		name, line        string
		user, db, app, st string
	}{
		{"default", "2024-05-01 10:00:00.123 UTC [42] LOG:  duration: 1.000 ms  statement: SELECT 1", "", "", "", ""},
		{"debian", "2024-05-01 10:00:00.123 UTC [42] clin@ehr LOG:  duration: 1.000 ms  statement: SELECT 1", "clin", "ehr", "", ""},
		{"debian with app", "2024-05-01 10:00:00.123 UTC [42] clin@ehr/psql LOG:  duration: 1.000 ms  statement: SELECT 1", "clin", "ehr", "psql", ""},
		{"rds", "2024-05-01 10:00:00 UTC:10.0.0.7(53412):clin@ehr:[42]:LOG:  duration: 1.000 ms  statement: SELECT 1", "clin", "ehr", "", ""},
		{"red hat", "< 2024-05-01 10:00:00.123 UTC > LOG:  duration: 1.000 ms  statement: SELECT 1", "", "", "", ""},
		{"none", "LOG:  duration: 1.000 ms  statement: SELECT 1", "", "", "", ""},
		{"unknown, key=value", "[42] 2024-05-01T10:00:00 app=ward app user=clin db=ehr sqlstate=00000 LOG:  duration: 1.000 ms  statement: SELECT 1", "clin", "ehr", "ward app", ""},
		{"unknown, user@db", "42 | 2024-05-01 10:00:00 | clin@ehr | LOG:  duration: 1.000 ms  statement: SELECT 1", "clin", "ehr", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A non-session line too, as servers write them between session lines.
			log := tc.line + "\n" + strings.Replace(tc.line, "duration: 1.000 ms  statement: SELECT 1", "checkpoint starting: time", 1) + "\n"
			entries, problems := parseString(t, log, Options{})
			noProblems(t, problems)
			wantBriefs(t, entries, []brief{{KindStatement, stmt, 1, 0, tc.user, tc.db, tc.app, tc.st, 1}})
		})
	}
}

func TestGivenPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, line string
		want               brief
	}{
		{"padding and %e", "%m [%-6p] %e %10u %-5d ",
			"2024-05-01 10:00:00.123 UTC [42    ] 22012       clin ehr   ERROR:  division by zero\n" +
				"2024-05-01 10:00:00.123 UTC [42    ] 22012       clin ehr   STATEMENT:  SELECT 1/0",
			brief{KindError, "SELECT 1/0", 0, 0, "clin", "ehr", "", "22012", 1}},
		{"%q with a non-session line first", "%m %q%u@%d %a: ",
			"2024-05-01 10:00:00.123 UTC LOG:  checkpoint complete: clin@ehr x: LOG:  ...\n" +
				"2024-05-01 10:00:00.124 UTC clin@ehr my app: LOG:  execute S_1: SELECT $1\n" +
				"2024-05-01 10:00:00.124 UTC clin@ehr my app: DETAIL:  parameters: $1 = 'x'",
			brief{KindExecute, "SELECT $1", 0, 1, "clin", "ehr", "my app", "", 2}},
		{"session id and epoch", "%n %c %% %u ",
			"1714557600.123 66321a80.1092 % clin LOG:  statement: SELECT 2",
			brief{KindStatement, "SELECT 2", 0, 0, "clin", "", "", "", 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, problems := parseString(t, tc.line+"\n", Options{Prefix: tc.prefix})
			noProblems(t, problems)
			wantBriefs(t, entries, []brief{tc.want})
		})
	}
}

func TestPrefixChangesMidway(t *testing.T) {
	// The prefix given (or detected from the start of the file) stops fitting: lines
	// that start like entries are still read.
	const log = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 1.000 ms  statement: SELECT 1
2024-05-01 10:00:01 UTC [8]: [1-1] user=clin,db=ehr,app=psql,client=[local] LOG:  duration: 2.000 ms  execute <unnamed>: SELECT $1
2024-05-01 10:00:01 UTC [8]: [2-1] user=clin,db=ehr,app=psql,client=[local] DETAIL:  parameters: $1 = '1'
`
	entries, problems := parseString(t, log, Options{Prefix: "%m [%p] "})
	noProblems(t, problems)
	wantBriefs(t, entries, []brief{
		{KindStatement, "SELECT 1", 1, 0, "", "", "", "", 1},
		{KindExecute, "SELECT $1", 2, 1, "clin", "ehr", "psql", "", 2},
	})
}

func TestContinuationAndProblems(t *testing.T) {
	const log = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 2.000 ms  statement: SELECT a,
	b
FROM t -- a line some tool wrote without the tab
2024-05-01 10:00:01.000 UTC [7] this line lost its severity: secret-1
	and its continuation: secret-2
2024-05-01 10:00:02.000 UTC [7] LOG:  duration: 1,5 ms  statement: SELECT 'secret-3'
2024-05-01 10:00:03.000 UTC [7] LOG:  duration: 3.000 ms  execute S_1 without text secret-4
2024-05-01 10:00:04.000 UTC [7] LOG:  duration: 4.000 ms  plan:
	Query Text: SELECT 'secret-5'
2024-05-01 10:00:05.000 UTC [7] LOG:  duration: 5.000 ms  bananas: secret-6
2024-05-01 10:00:06.000 UTC [7] LOG:  duration: 6.000 ms  execute <unnamed>: SELECT $1
2024-05-01 10:00:06.000 UTC [7] DETAIL:  parameters: secret-7
2024-05-01 10:00:07.000 UTC [7] LOG:  statement: SELECT 3
`
	entries, problems := parseString(t, log, Options{})
	wantBriefs(t, entries, []brief{
		{KindStatement, "SELECT a,\nb\nFROM t -- a line some tool wrote without the tab", 2, 0, "", "", "", "", 1},
		{KindExecute, "SELECT $1", 6, 0, "", "", "", "", 11},
		{KindStatement, "SELECT 3", 0, 0, "", "", "", "", 13},
	})
	var lines []int
	for _, p := range problems {
		lines = append(lines, p.Line)
	}
	if want := []int{4, 6, 7, 8, 10, 11}; !reflect.DeepEqual(lines, want) {
		t.Errorf("problem lines = %v, want %v (%+v)", lines, want, problems)
	}
	checkProblemsHideText(t, problems, "secret", "SELECT", "bananas")
}

func TestInterleavedSessions(t *testing.T) {
	// Two sessions' lines interleaved (as syslog or a merged file can): each DETAIL
	// and STATEMENT goes to its own session's message.
	const log = `2024-05-01 10:00:00.000 UTC [1] LOG:  duration: 1.000 ms  execute <unnamed>: SELECT $1, $2
2024-05-01 10:00:00.000 UTC [2] ERROR:  division by zero
2024-05-01 10:00:00.000 UTC [1] DETAIL:  parameters: $1 = '1', $2 = '2'
2024-05-01 10:00:00.000 UTC [2] STATEMENT:  SELECT 1/0
2024-05-01 10:00:00.000 UTC [3] STATEMENT:  SELECT 'orphan'
`
	entries, problems := parseString(t, log, Options{})
	noProblems(t, problems)
	wantBriefs(t, entries, []brief{
		{KindExecute, "SELECT $1, $2", 1, 2, "", "", "", "", 1},
		{KindError, "SELECT 1/0", 0, 0, "", "", "", "", 2},
	})
}

// rsyslog: PostgreSQL numbers its lines [line-chunk], sends every line of a message
// (DETAIL included) as a chunk, and rsyslog writes the continuation tab as #011.
const syslogLog = `May  1 10:00:00 db1 postgres[4242]: [5-1] user=clin,db=ehr,app=psql LOG:  duration: 1.234 ms  statement: SELECT id,
May  1 10:00:00 db1 postgres[4243]: [3-1] user=nurse,db=ehr,app=web LOG:  duration: 0.500 ms  execute <unnamed>: SELECT 1 WHERE $1 = $2
May  1 10:00:00 db1 postgres[4242]: [5-2] #011       name
May  1 10:00:00 db1 CRON[99]: (root) CMD (run-parts /etc/cron.hourly)
May  1 10:00:00 db1 postgres[4243]: [3-2] user=nurse,db=ehr,app=web DETAIL:  parameters: $1 = 'a', $2 = 'b
May  1 10:00:00 db1 postgres[4243]: [3-3] #011c'
May  1 10:00:00 db1 postgres[4242]: [5-3] #011  FROM patients
May  1 10:00:01 db1 postgres[4242]: [6-1] user=clin,db=ehr,app=psql ERROR:  division by zero
May  1 10:00:01 db1 postgres[4242]: [6-2] user=clin,db=ehr,app=psql STATEMENT:  SELECT 1/0
May  1 10:00:02 db1 postgres[4242]: [7-1] user=clin,db=ehr,app=psql garbled
May  1 10:00:03 db1 postgres[4244]: [2-1] user=clin,db=ehr,app=psql LOG:  duration: 2.000 ms  statement: SELECT 'a long line split by sysl
May  1 10:00:03 db1 postgres[4244]: [2-2] og at 900 bytes'
`

func TestSyslog(t *testing.T) {
	entries, problems := parseString(t, syslogLog, Options{})
	wantBriefs(t, entries, []brief{
		{KindStatement, "SELECT id,\n       name\n  FROM patients", 1.234, 0, "clin", "ehr", "psql", "", 1},
		{KindExecute, "SELECT 1 WHERE $1 = $2", 0.5, 2, "nurse", "ehr", "web", "", 2},
		{KindError, "SELECT 1/0", 0, 0, "clin", "ehr", "psql", "", 8},
		{KindStatement, "SELECT 'a long line split by syslog at 900 bytes'", 2, 0, "clin", "ehr", "psql", "", 11},
	})
	if len(problems) != 1 || problems[0].Line != 10 {
		t.Errorf("problems = %+v, want one at line 10", problems)
	}
}

func TestAutoExplainFormats(t *testing.T) {
	// PostgreSQL 16+ lists the parameters of the explained statement ("Query
	// Parameters"); they are counted and removed.
	const textLog = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 0.050 ms  plan:
	Query Text: SELECT *
	  FROM patients
	 WHERE name = $1 AND id = $2
	Query Parameters: $1 = 'Ann O''Neil,
	RN', $2 = '5'
	Index Scan using patients_pkey on patients  (cost=0.15..8.17 rows=1 width=68)
	  Index Cond: (id = $2)
`
	const jsonLog = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 0.060 ms  plan:
	{
	  "Query Text": "SELECT * FROM patients WHERE name = $1",
	  "Query Parameters": "$1 = 'Ann O''Neil, RN'",
	  "Plan": {
	    "Node Type": "Seq Scan",
	    "Startup Cost": 0.00
	  }
	}
`
	const yamlLog = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 0.070 ms  plan:
	Query Text: "SELECT * FROM patients WHERE name = $1 -- \"quoted\""
	Query Parameters: "$1 = 'Ann O''Neil, RN'"
	Plan: 
	  Node Type: "Seq Scan"
`
	const xmlLog = `2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 0.080 ms  plan:
	<explain xmlns="http://www.postgresql.org/2009/explain">
	  <Query-Text>SELECT * FROM patients WHERE name &lt;&gt; $1 AND note = 'a&amp;b'</Query-Text>
	  <Query-Parameters>$1 = 'Ann O''Neil, RN'</Query-Parameters>
	  <Plan>
	    <Node-Type>Seq Scan</Node-Type>
	  </Plan>
	</explain>
`
	for _, tc := range []struct {
		name, log, query string
		params           int
		planStart        string
	}{
		{"text", textLog, "SELECT *\n  FROM patients\n WHERE name = $1 AND id = $2", 2, "Index Scan using patients_pkey"},
		{"json", jsonLog, "SELECT * FROM patients WHERE name = $1", 1, "{\n  \"Plan\": {\n    \"Node Type\": \"Seq Scan\",\n    \"Startup Cost\": 0.00"},
		{"yaml", yamlLog, `SELECT * FROM patients WHERE name = $1 -- "quoted"`, 1, "Plan: \n  Node Type:"},
		{"xml", xmlLog, "SELECT * FROM patients WHERE name <> $1 AND note = 'a&b'", 1, "<explain xmlns="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, problems := parseString(t, tc.log, Options{})
			noProblems(t, problems)
			if len(entries) != 1 {
				t.Fatalf("%d entries, want 1", len(entries))
			}
			e := entries[0]
			if e.Kind != KindPlan || e.Statement != tc.query || e.ParamCount != tc.params || e.DurationMs <= 0 {
				t.Errorf("entry = %+v", briefs(entries)[0])
			}
			if !strings.HasPrefix(e.PlanText, tc.planStart) {
				t.Errorf("plan starts %q, want %q", e.PlanText, tc.planStart)
			}
			for _, leak := range []string{"Neil", "Query Text", "Query-Text", "Query Parameters", "Query-Parameters"} {
				if strings.Contains(e.PlanText, leak) {
					t.Errorf("plan still holds %q: %q", leak, e.PlanText)
				}
			}
		})
	}

	// A text plan whose root line is not recognisable keeps a one-line query text.
	entries, problems := parseString(t, "LOG:  duration: 1.000 ms  plan:\n\tQuery Text: SELECT 1\n\tResult\n", Options{})
	noProblems(t, problems)
	if len(entries) != 1 || entries[0].Statement != "SELECT 1" || entries[0].PlanText != "Result" {
		t.Errorf("entries = %+v", entries)
	}
	// Damaged plans are problems.
	for _, log := range []string{
		"LOG:  duration: 1.000 ms  plan:\n\t{\"Query Text\": \"SELECT 'secret'\", \"Plan\": \n",
		"LOG:  duration: 1.000 ms  plan:\n\tQuery Text: SELECT 'secret'\n",
		"LOG:  duration: 1.000 ms  plan:\n\tSeq Scan on secret\n",
		"LOG:  duration: 1.000 ms  plan:\n\t<explain><Plan/></explain>\n",
	} {
		entries, problems := parseString(t, log, Options{})
		if len(entries) != 0 || len(problems) != 1 || problems[0].Line != 1 {
			t.Errorf("%q: entries %+v, problems %+v", log, entries, problems)
		}
		checkProblemsHideText(t, problems, "secret")
	}
}

func TestCSV(t *testing.T) {
	// PostgreSQL 12 (23 columns), 13 (24), 14+ (26); a multi-line quoted statement;
	// an error with its statement in the query column.
	const log = `2024-05-01 10:00:00.000 UTC,"clin","ehr",42,"[local]",1.2a,1,"SELECT",2024-05-01 09:00:00 UTC,3/1,0,LOG,00000,"duration: 1.500 ms  statement: SELECT 1",,,,,,,,,"psql"
2024-05-01 10:00:01.000 UTC,"clin","ehr",42,"[local]",1.2a,2,"SELECT",2024-05-01 09:00:00 UTC,3/2,0,LOG,00000,"duration: 2.500 ms  execute <unnamed>: SELECT $1
  FROM patients","parameters: $1 = 'Ann ""O''Neil"",
RN'",,,,,,,,"web","client backend"
2024-05-01 10:00:02.000 UTC,"clin","ehr",42,"[local]",1.2a,3,"SELECT",2024-05-01 09:00:00 UTC,3/3,0,ERROR,22012,"division by zero",,,,,,"SELECT 1/0",,,"psql","client backend",,-123
2024-05-01 10:00:03.000 UTC,"clin","ehr",42,"[local]",1.2a,4,"SELECT",2024-05-01 09:00:00 UTC,3/3,0,LOG,00000,"too few fields secret"
2024-05-01 10:00:04.000 UTC,"clin","ehr",42,"[local]",1.2a,5,"SELECT",2024-05-01 09:00:00 UTC,3/3,0,"LOG,00000,"bad "quote" secret",,,,,,,,,"psql","client backend",,0
2024-05-01 10:00:05.000 UTC,"clin","ehr",42,"[local]",1.2a,6,"SELECT",2024-05-01 09:00:00 UTC,3/3,0,SECRET,00000,"x",,,,,,,,,"psql","client backend",,0
2024-05-01 10:00:06.000 UTC,,,43,,1.2b,1,,2024-05-01 09:00:00 UTC,,0,LOG,00000,"checkpoint starting: time",,,,,,,,,"","checkpointer",,0
2024-05-01 10:00:07.000 UTC,"clin","ehr",42,"[local]",1.2a,7,"SELECT",2024-05-01 09:00:00 UTC,3/4,0,LOG,00000,"statement: SELECT 2",,,,,,,,,"psql","client backend",,0
`
	entries, problems := parseString(t, log, Options{})
	wantBriefs(t, entries, []brief{
		{KindStatement, "SELECT 1", 1.5, 0, "clin", "ehr", "psql", "", 1},
		{KindExecute, "SELECT $1\n  FROM patients", 2.5, 1, "clin", "ehr", "web", "", 2},
		{KindError, "SELECT 1/0", 0, 0, "clin", "ehr", "psql", "22012", 5},
		{KindStatement, "SELECT 2", 0, 0, "clin", "ehr", "psql", "", 10},
	})
	var lines []int
	for _, p := range problems {
		lines = append(lines, p.Line)
	}
	if want := []int{6, 7, 8}; !reflect.DeepEqual(lines, want) {
		t.Errorf("problem lines = %v, want %v (%+v)", lines, want, problems)
	}
	checkProblemsHideText(t, problems, "secret", "SECRET", "bad ")
}

func TestJSON(t *testing.T) {
	const log = `{"timestamp":"2024-05-01 10:00:00.000 UTC","user":"clin","dbname":"ehr","pid":42,"error_severity":"LOG","message":"duration: 3.250 ms  execute S_1: SELECT $1,\n  $2","detail":"parameters: $1 = 'a\nb', $2 = NULL","application_name":"web"}

{"timestamp":"2024-05-01 10:00:01.000 UTC","user":"clin","dbname":"ehr","pid":42,"error_severity":"ERROR","state_code":"42P01","message":"relation \"x\" does not exist","statement":"SELECT * FROM x","application_name":"web"}
{"timestamp":"2024-05-01 10:00:02.000 UTC","user":"clin","message":"cut short secret
{"timestamp":"2024-05-01 10:00:03.000 UTC","message":"no severity secret"}
{"timestamp":"2024-05-01 10:00:04.000 UTC","pid":43,"error_severity":"LOG","message":"checkpoint complete","backend_type":"checkpointer"}
`
	entries, problems := parseString(t, log, Options{})
	wantBriefs(t, entries, []brief{
		{KindExecute, "SELECT $1,\n  $2", 3.25, 2, "clin", "ehr", "web", "", 1},
		{KindError, "SELECT * FROM x", 0, 0, "clin", "ehr", "web", "42P01", 3},
	})
	if len(problems) != 2 || problems[0].Line != 4 || problems[1].Line != 5 {
		t.Errorf("problems = %+v, want lines 4 and 5", problems)
	}
	checkProblemsHideText(t, problems, "secret")
}

func TestLongLines(t *testing.T) {
	// A statement far longer than the read buffer, in every format.
	long := "SELECT '" + strings.Repeat("x", 3*readBufferSize) + "'"
	logs := map[Format]string{
		FormatStderr: "2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 1.000 ms  statement: " + long + "\n",
		FormatCSV:    `2024-05-01 10:00:00.000 UTC,"u","d",7,"[local]",1.2,1,"SELECT",2024-05-01 09:00:00 UTC,3/1,0,LOG,00000,"duration: 1.000 ms  statement: ` + strings.ReplaceAll(long, `"`, `""`) + `",,,,,,,,,"app","client backend",,0` + "\n",
		FormatJSON:   `{"timestamp":"2024-05-01 10:00:00.000 UTC","pid":7,"error_severity":"LOG","message":"duration: 1.000 ms  statement: ` + long + `"}` + "\n",
	}
	for format, log := range logs {
		t.Run(string(format), func(t *testing.T) {
			entries, problems := parseString(t, log+log, Options{})
			noProblems(t, problems)
			if len(entries) != 2 || entries[0].Statement != long || entries[1].Statement != long || entries[1].Line != 2 {
				t.Errorf("got %d entries", len(entries))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	if _, _, err := Parse(strings.NewReader(""), Options{Format: "eventlog"}); err == nil {
		t.Error("an unknown format was accepted")
	}
	boom := errors.New("disk on fire")
	_, _, err := Parse(&failingReader{err: boom, after: "LOG:  statement: SELECT 1\n"}, Options{})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want it to wrap %v", err, boom)
	}
	entries, problems, err := Parse(strings.NewReader(""), Options{})
	if err != nil || len(entries) != 0 || len(problems) != 0 {
		t.Errorf("empty log: %v %v %v", entries, problems, err)
	}
	// Windows line ends and a log that ends without one.
	entries, _, err = Parse(strings.NewReader("LOG:  statement: SELECT 1\r\n\tFROM t\r\nLOG:  statement: SELECT 2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, entries, []brief{
		{KindStatement, "SELECT 1\nFROM t", 0, 0, "", "", "", "", 1},
		{KindStatement, "SELECT 2", 0, 0, "", "", "", "", 3},
	})
}

// failingReader returns its text, then an error.
type failingReader struct {
	err   error
	after string
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.after == "" {
		return 0, r.err
	}
	n := copy(p, r.after)
	r.after = r.after[n:]
	return n, nil
}
