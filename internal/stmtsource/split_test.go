package stmtsource

import (
	"fmt"
	"strings"
	"testing"
)

// got is a statement or a problem, as the assertions compare them: "3: SELECT 1" or
// "3! reason".
func readAll(t *testing.T, in string, max int) ([]string, Result) {
	t.Helper()
	var out []string
	res, err := read(strings.NewReader(in), func(s Statement) error {
		if s.Source != SourceFile || s.HasStats || s.Calls != 0 {
			t.Errorf("script statement %+v", s)
		}
		out = append(out, fmt.Sprintf("%d: %s", s.Line, s.Text))
		return nil
	}, max)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if res.Format != FormatSQL {
		t.Fatalf("format %q, want %q", res.Format, FormatSQL)
	}
	return out, res
}

func problems(res Result) []string {
	var out []string
	for _, p := range res.Problems {
		out = append(out, fmt.Sprintf("%d! %s", p.Line, p.Reason))
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // statements, then problems
	}{
		{"plain", "SELECT 1;\nSELECT 2;", []string{"1: SELECT 1", "2: SELECT 2"}},
		{"last without semicolon, blank and empty statements", ";;\n\n  SELECT 1;;\n;SELECT 2\n\n", []string{"3: SELECT 1", "4: SELECT 2"}},
		{"CRLF and a byte order mark", "\xEF\xBB\xBFSELECT 1;\r\nSELECT 2;\r\n", []string{"1: SELECT 1", "2: SELECT 2"}},
		{"semicolons in strings and identifiers",
			"SELECT 'a;b', 'it''s;', \"we;\"\"ird\" FROM t;\nSELECT 2;",
			[]string{`1: SELECT 'a;b', 'it''s;', "we;""ird" FROM t`, "2: SELECT 2"}},
		{"E strings escape, standard strings do not",
			"SELECT E'\\';', e'\\\\', '\\';\nSELECT date'2024-01-01', '\\';SELECT 3;",
			[]string{`1: SELECT E'\';', e'\\', '\'`, `2: SELECT date'2024-01-01', '\'`, "2: SELECT 3"}},
		{"dollar quotes with tags",
			"CREATE FUNCTION f() RETURNS int AS $fn$\nBEGIN\n  RETURN (SELECT $$;$$::int);\nEND; $f$ $fn$ LANGUAGE plpgsql;\nSELECT $1, $2::int, $_x9$;$_x9$;",
			[]string{"1: CREATE FUNCTION f() RETURNS int AS $fn$\nBEGIN\n  RETURN (SELECT $$;$$::int);\nEND; $f$ $fn$ LANGUAGE plpgsql", "5: SELECT $1, $2::int, $_x9$;$_x9$"}},
		{"dollar signs inside identifiers open nothing", "SELECT a$b$ FROM t;\nSELECT 2;", []string{"1: SELECT a$b$ FROM t", "2: SELECT 2"}},
		{"comments, nested, before and inside",
			"-- header; not a statement\n/* outer /* inner; */ still; */ SELECT 1 -- trailing;\n , 2;\n/* closing note */",
			[]string{"2: -- header; not a statement\n/* outer /* inner; */ still; */ SELECT 1 -- trailing;\n , 2"}},
		{"parentheses hold semicolons",
			"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 3;",
			[]string{"1: CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))", "2: SELECT 3"}},
		{"BEGIN ATOMIC bodies",
			"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;\nBEGIN; SELECT 3; END;",
			[]string{"1: CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND", "6: BEGIN", "6: SELECT 3", "6: END"}},
		{"statements psql's heuristic joins are separated again",
			"CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql SET search_path = begin;\n\n  SELECT 2;",
			[]string{"1: CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql SET search_path = begin", "3: SELECT 2"}},
		{"psql meta-commands",
			"\\set pid 42\nSELECT 1;\n\\echo :pid\nSELECT 2\n  \\g\nSELECT 3 \\gset\n\\pset format aligned \\\\ SELECT 4;\n\\x\n\\zzz 'Ann'\nSELECT 5 \\; SELECT 6;\n\\if :flag\nSELECT 7;\n\\endif",
			[]string{"2: SELECT 1", "4: SELECT 2", "6: SELECT 3", "7: SELECT 4", "10: SELECT 5", "10: SELECT 6", "12: SELECT 7",
				`1! psql meta-command \set skipped (not SQL)`, `3! psql meta-command \echo skipped (not SQL)`,
				`7! psql meta-command \pset skipped (not SQL)`, `8! psql meta-command \x skipped (not SQL)`,
				`9! psql meta-command skipped (not SQL)`, `11! psql meta-command \if skipped (not SQL)`, `13! psql meta-command \endif skipped (not SQL)`}},
		{"COPY FROM STDIN data",
			"COPY patients (id, name) FROM stdin;\n1\tAnn; O'Neil\n2\tBob \"B\"\n\\.\nSELECT 1;\ncopy t from STDIN with (format csv);\n\\.\n\\copy t (a) from stdin\n7\n\\.\nCOPY t TO stdout;\nSELECT 2;\nCOPY t FROM stdin;\n3\n",
			[]string{"1: COPY patients (id, name) FROM stdin", "5: SELECT 1", "6: copy t from STDIN with (format csv)", "11: COPY t TO stdout", "12: SELECT 2", "13: COPY t FROM stdin",
				"2! COPY FROM STDIN data skipped (2 lines)", `8! psql meta-command \copy skipped (not SQL)`, "9! COPY FROM STDIN data skipped (1 line)", "14! COPY FROM STDIN data skipped (1 line)"}},
		{"a syntax error in the middle",
			"SELECT 1;\nSELEC name FROM patients WHERE mrn = 'MRN-4417';\nSELECT 3;",
			[]string{"1: SELECT 1", "3: SELECT 3", "2! does not parse (syntax error at or near a token)"}},
		{"a syntax error lines into a statement",
			"SELECT 1;\n-- lookup\nSELECT id,\n  name\n  FROM patients WHERE mrn = 'MRN-4417' 'x';\nSELECT 3;",
			[]string{"1: SELECT 1", "6: SELECT 3", "3! does not parse (syntax error at or near a token, at line 5)"}},
		{"an unterminated string runs to the end", "SELECT 1;\nSELECT 'Ann;\nSELECT 2;\n", []string{"1: SELECT 1", "2! the file ends inside a string opened at line 2"}},
		{"an unterminated E string", "SELECT E'Ann\\';", []string{"1! the file ends inside a string opened at line 1"}},
		{"an unterminated dollar quote", "SELECT 1;\nSELECT $t$ Ann $$ ;\n", []string{"1: SELECT 1", "2! the file ends inside a dollar-quoted string opened at line 2"}},
		{"an unterminated comment", "SELECT 1;\n/* Ann /* */\n", []string{"1: SELECT 1", "2! the file ends inside a comment opened at line 2"}},
		{"an unterminated identifier", "SELECT \"Ann;", []string{"1! the file ends inside a quoted identifier opened at line 1"}},
		{"a NUL byte", "SELECT 1;\nSELECT '\x00';\nSELECT 3;", []string{"1: SELECT 1", "3: SELECT 3", "2! holds a NUL byte"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stmts, res := readAll(t, tc.in, maxStatement)
			got := append(stmts, problems(res)...)
			if strings.Join(got, "\n|") != strings.Join(tc.want, "\n|") {
				t.Errorf("got\n  %q\nwant\n  %q", got, tc.want)
			}
			if res.Statements != len(stmts) || res.Skipped != len(res.Problems) {
				t.Errorf("counts: %d statements, %d skipped; result %+v", len(stmts), len(res.Problems), res)
			}
			checkNoText(t, res, "Ann", "MRN", "4417", "name", "patients", "'x'", "42", "zzz")
		})
	}
}

// checkNoText fails when a problem repeats text from the file.
func checkNoText(t *testing.T, res Result, secrets ...string) {
	t.Helper()
	for _, p := range res.Problems {
		for _, s := range secrets {
			if strings.Contains(p.Reason, s) {
				t.Errorf("problem at line %d quotes the file (%q): %q", p.Line, s, p.Reason)
			}
		}
	}
}

func TestSplitQuotedTokens(t *testing.T) {
	// Parser messages quote the token they stop at; a token with a double quote in it
	// defeats a simple match, and other messages quote names.
	for _, in := range []string{
		`SELECT 1 'a"MRN-4417'`,
		`SELECT 1 'MRN-4417`,
		`SELECT "MRN-4417`,
		`SELECT 1 FROM t WHERE a = "" 'MRN-4417'`,
		`CREATE ROLE r WITH MRN4417`,
		`SELECT U&'\Ann' UESCAPE 'MRN4417'`,
	} {
		_, res := readAll(t, in+";\nSELECT 2;", maxStatement)
		if res.Skipped == 0 {
			t.Errorf("%q was accepted", in)
		}
		checkNoText(t, res, "MRN", "4417")
	}
}

func TestSplitLongStatements(t *testing.T) {
	long := "SELECT '" + strings.Repeat("Ann ", 100) + "'"
	stmts, res := readAll(t, "SELECT 1;\n"+long+";\nSELECT 3;\n"+long, 256)
	if want := []string{"1: SELECT 1", "3: SELECT 3"}; strings.Join(stmts, "|") != strings.Join(want, "|") {
		t.Errorf("statements %q, want %q", stmts, want)
	}
	if want := []string{"2! statement longer than 256 bytes", "4! statement longer than 256 bytes"}; strings.Join(problems(res), "|") != strings.Join(want, "|") {
		t.Errorf("problems %q, want %q", problems(res), want)
	}
	// Longer than the reader's buffer and within the limit: kept whole.
	huge := "SELECT '" + strings.Repeat("x", 3*readBufferSize) + "'"
	stmts, res = readAll(t, huge+";"+huge, maxStatement)
	if len(stmts) != 2 || stmts[1] != "1: "+huge || res.Skipped != 0 {
		t.Errorf("%d statements, %d skipped", len(stmts), res.Skipped)
	}
}

func TestSplitProblemsCapped(t *testing.T) {
	var b strings.Builder
	for i := range 3 * MaxProblems {
		fmt.Fprintf(&b, "SELECT %d;\nSELEC %d;\n", i, i)
	}
	stmts, res := readAll(t, b.String(), maxStatement)
	if len(stmts) != 3*MaxProblems || res.Skipped != 3*MaxProblems || len(res.Problems) != MaxProblems {
		t.Errorf("%d statements, %d skipped, %d kept", len(stmts), res.Skipped, len(res.Problems))
	}
	if res.Problems[0].Line != 2 || res.Problems[MaxProblems-1].Line != 2*MaxProblems {
		t.Errorf("kept problems: first at %d, last at %d", res.Problems[0].Line, res.Problems[MaxProblems-1].Line)
	}
}
