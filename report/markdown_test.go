package report

import (
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/finding"
)

func TestMarkdownEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"a | b":                    `a \| b`,
		`"public"."Patient<Data>"`: `"public"."Patient\<Data\>"`,
		"*bold* _it_ snake_case":   `\*bold\* \_it\_ snake_case`,
		"[x](javascript:y)":        `\[x\](javascript:y)`,
		"`code` ~~s~~ #1 @team":    "\\`code\\` \\~\\~s\\~\\~ \\#1 \\@team",
		"$1 &amp; \\":              `\$1 \&amp; \\`,
		"two\nlines":               "two lines",
	} {
		if got := mdInline(in); got != want {
			t.Errorf("mdInline(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := mdParagraph("x\n- item\n1. first\n+ y\n\n# h"), "x\n\\- item\n1\\. first\n\\+ y\n\\# h"; got != want {
		t.Errorf("mdParagraph = %q, want %q", got, want)
	}
	if got, want := mdCode("a`b"), "``a`b``"; got != want {
		t.Errorf("mdCode = %q, want %q", got, want)
	}
	if got, want := mdCode("`x"), "`` `x ``"; got != want {
		t.Errorf("mdCode = %q, want %q", got, want)
	}
	if got, want := mdFence("SELECT 1 -- ```` here"), "`````"; got != want {
		t.Errorf("mdFence = %q, want %q", got, want)
	}
	for r, want := range map[finding.Reference]string{
		{Title: "Docs", URL: "https://example.org/a_(b)"}: "[Docs](https://example.org/a_%28b%29)",
		{Title: "Run", URL: "javascript:alert(1)"}:        "Run (`javascript:alert(1)`)",
		{Title: "Plain"}:                 "Plain",
		{URL: "https://example.org/x y"}: "[https://example.org/x y](https://example.org/x%20y)",
	} {
		if got := mdLink(r); got != want {
			t.Errorf("mdLink(%+v) = %q, want %q", r, got, want)
		}
	}
}

// Every table row has as many unescaped pipes as its header, so no cell splits.
func TestMarkdownTables(t *testing.T) {
	out := render(t, Markdown, fixture(), Options{})
	pipes := func(l string) int {
		n := 0
		for i := range l {
			if l[i] == '|' && (i == 0 || l[i-1] != '\\') {
				n++
			}
		}
		return n
	}
	want := 0
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "|") {
			want = 0
			continue
		}
		rows++
		if want == 0 {
			want = pipes(l)
			continue
		}
		if got := pipes(l); got != want {
			t.Errorf("row %q has %d cell separators, its header %d", l, got, want)
		}
	}
	if rows < 20 {
		t.Errorf("only %d table rows found", rows)
	}
}

func TestMarkdownContent(t *testing.T) {
	out := render(t, Markdown, fixture(), Options{})
	for _, want := range []string{
		"# pgmedic report: clinic\n",
		"| critical | 1 |\n| high | 2 |\n| medium | 2 |\n| low | 1 |\n| info | 1 |\n",
		"| could not decide | 1 |\n",
		"\n### [CRITICAL] PHI table without row-level security — \"public\".\"Patient\\<Data\\>\"\n",
		"\n### [MEDIUM] Statement \\| slow on average — SELECT p.id, p.last_name \\|\\| ', ' \\|\\| p.first_name",
		"| roles_with_select | 7 | roles |\n",
		"```sql\n-- enable row-level security on \"public\".\"Patient<Data>\"\n-- step 1: enable row-level security (takes ACCESS EXCLUSIVE)\n",
		"- [PostgreSQL: row security policies](https://www.postgresql.org/docs/15/ddl-rowsecurity.html)\n",
		"## Could not decide\n\n### [UNKNOWN] Audit logging could not be checked\n",
		"**Reason:** pgaudit is not installed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(out, "\n\n\n") {
		t.Error("markdown has runs of blank lines")
	}
	// Open findings in severity order, the unknown one after them.
	last := -1
	for _, tag := range []string{"[CRITICAL]", "[HIGH]", "[MEDIUM]", "[LOW]", "[INFO]", "[UNKNOWN]"} {
		i := strings.Index(out, "### "+tag)
		if i < last {
			t.Errorf("%s comes before a less severe finding", tag)
		}
		last = i
	}
}
