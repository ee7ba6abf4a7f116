package report

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgmedic/pgmedic/finding"
)

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTextColor(t *testing.T) {
	plain := render(t, Text, fixture(), Options{})
	if strings.Contains(plain, "\x1b") {
		t.Error("escape sequences without Color")
	}
	colored := render(t, Text, fixture(), Options{Color: true})
	for _, want := range []string{
		"\x1b[1;31m[CRITICAL]\x1b[0m", "\x1b[31m[HIGH]\x1b[0m", "\x1b[33m[MEDIUM]\x1b[0m",
		"\x1b[36m[LOW]\x1b[0m", "\x1b[2m[INFO]\x1b[0m",
	} {
		if !strings.Contains(colored, want) {
			t.Errorf("coloured output lacks %q", want)
		}
	}
	// Colour adds escape sequences and changes nothing else, wrapping included.
	if got := ansiRE.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("coloured output without its escapes differs from the plain output")
	}
}

// fixLines marks the lines of fix scripts, which are never wrapped.
func fixLines(lines []string) []bool {
	out := make([]bool, len(lines))
	in := false
	for i, l := range lines {
		switch {
		case l == bodyIndent+"fix:":
			in = true
		case in && strings.HasPrefix(l, sqlIndent):
			out[i] = true
		default:
			in = false
		}
	}
	return out
}

func TestTextWidth(t *testing.T) {
	counts := map[int]int{}
	for _, width := range []int{40, 60, 100} {
		out := render(t, Text, fixture(), Options{Width: width})
		lines := strings.Split(out, "\n")
		counts[width] = len(lines)
		sql := fixLines(lines)
		for i, l := range lines {
			if sql[i] || utf8.RuneCountInString(l) <= width {
				continue
			}
			// Only a single word longer than the line (a URL, a name) may overflow it.
			words := strings.Fields(l)
			if len(words) == 2 && (words[0] == "see:" || words[0] == "object:") || len(words) == 1 {
				continue
			}
			t.Errorf("width %d: line %d has %d columns: %q", width, i+1, utf8.RuneCountInString(l), l)
		}
	}
	if !(counts[40] > counts[60] && counts[60] > counts[100]) {
		t.Errorf("narrower widths should give more lines: %v", counts)
	}
	if render(t, Text, fixture(), Options{}) != render(t, Text, fixture(), Options{Width: 100}) {
		t.Error("width 0 does not mean 100")
	}
	// A silly width still gives readable lines, not one word per line.
	if tiny := render(t, Text, fixture(), Options{Width: 5}); tiny != render(t, Text, fixture(), Options{Width: minWidth}) {
		t.Error("widths below the minimum are not raised to it")
	}
}

func TestTextLayout(t *testing.T) {
	out := render(t, Text, fixture(), Options{})
	lines := strings.Split(out, "\n")
	if lines[0] != "pgmedic 0.1.0 report" || !strings.Contains(out, "Server:    PostgreSQL 15.18 on db1.example.org\n") ||
		!strings.Contains(out, "Collected: 2025-03-04 05:06:07 UTC\n") {
		t.Errorf("header:\n%s", strings.Join(lines[:5], "\n"))
	}
	if !strings.Contains(out, "\nSummary: 7 open findings (critical 1, high 2, medium 2, low 1, info 1); 1 could not be decided\n") {
		t.Error("summary line missing or wrong")
	}
	// Areas come in the order of their most severe finding; undecided checks last.
	var headings []string
	for _, l := range lines {
		if strings.HasPrefix(l, "== ") {
			headings = append(headings, strings.Trim(l, "= "))
		}
	}
	if got, want := strings.Join(headings, ","), "security,indexes,vacuum,config,performance,Could not decide"; got != want {
		t.Errorf("groups = %s, want %s", got, want)
	}
	unknown := out[strings.Index(out, "== Could not decide =="):]
	if !strings.Contains(unknown, "[UNKNOWN] Audit logging could not be checked") || !strings.Contains(unknown, "reason: pgaudit is not installed") {
		t.Errorf("unknown finding not in its group with its reason:\n%s", unknown)
	}
	for _, want := range []string{
		"evidence: rows=1250000 rows, roles_with_select=7 roles, policies=0\n",
		"table_size=8600000000 bytes (8 GiB)",
		"    -- step 2: limit rows to the care team\n",
		`    CREATE POLICY care_team ON "public"."Patient<Data>" USING (care_team_id = current_setting('app.care_team')::int);` + "\n",
		`object: "public"."Patient<Data>" [PHI] · check: security.rls-missing`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// Names from the database cannot send escape sequences to the terminal.
func TestTextControlCharacters(t *testing.T) {
	in := &Input{Findings: []finding.Finding{{
		ID: "x", Check: "x", Title: "bad\x1b[2Jname", Object: "t\x07\u202e", Detail: "a\rb", Status: finding.Open,
	}}}
	for _, color := range []bool{false, true} {
		out := render(t, Text, in, Options{Color: color})
		stripped := ansiRE.ReplaceAllString(out, "")
		if strings.ContainsAny(stripped, "\x1b\x07\r\u202e") {
			t.Errorf("color=%v: control characters reached the terminal: %q", color, out)
		}
		for _, want := range []string{`bad\x1b[2Jname`, `t\x07\u202e`, `a\x0db`} {
			if !strings.Contains(stripped, want) {
				t.Errorf("color=%v: %q not shown as %q", color, out, want)
			}
		}
	}
}

func TestWrapWords(t *testing.T) {
	got := wrapWords(strings.Fields("aa bb cc dd ee"), "> ", "  ", 8)
	if want := []string{"> aa bb", "  cc dd", "  ee"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrapWords = %q, want %q", got, want)
	}
	got = wrapWords([]string{"short", "averyveryverylongword", "x"}, "", "", 10)
	if want := []string{"short", "averyveryverylongword", "x"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("long word: %q, want %q", got, want)
	}
}
