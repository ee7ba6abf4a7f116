package report

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/finding"
)

// golang.org/x/net/html is not a dependency of the module, so the page is checked with
// string assertions and the small tag-balance checker below.

var sectionIDs = []string{"summary", "findings", "table-sizes", "top-statements", "collection"}

func TestHTMLSections(t *testing.T) {
	out := render(t, HTML, fixture(), Options{})
	if !strings.HasPrefix(out, "<!DOCTYPE html>\n<html lang=\"en\">") {
		t.Errorf("page does not start with a doctype: %.60q", out)
	}
	for _, id := range append(sectionIDs, "checks") {
		if n := strings.Count(out, `<section id="`+id+`"`); n != 1 {
			t.Errorf("section %q appears %d times", id, n)
		}
	}
	for _, f := range fixture().Findings {
		if !strings.Contains(out, html.EscapeString(f.Title)) {
			t.Errorf("finding title %q missing", f.Title)
		}
	}
	if n := strings.Count(out, `<article class="card`); n != 8 {
		t.Errorf("%d finding cards, want 8", n)
	}
	if n := strings.Count(out, `<span class="badge sev-unknown">unknown</span>`); n != 1 {
		t.Errorf("%d unknown badges, want 1", n)
	}
	if n := strings.Count(out, "<details>"); n != 8 {
		t.Errorf("%d <details>, want one per finding", n)
	}
	// The fix of the two-step plan, in a <pre>, escaped.
	if !strings.Contains(out, `<pre><code class="sql">-- enable row-level security on &#34;public&#34;.&#34;Patient&lt;Data&gt;&#34;`) {
		t.Error("fix SQL of the two-step plan is not in a <pre>")
	}
	if err := checkTags(out); err != "" {
		t.Error(err)
	}
}

// chartBars returns the bars of the chart with the given id.
func chartBars(t *testing.T, page, id string) []string {
	t.Helper()
	i := strings.Index(page, ` id="`+id+`" viewBox`)
	if i < 0 {
		t.Fatalf("no chart %s", id)
	}
	start := strings.LastIndex(page[:i], "<svg")
	end := i + strings.Index(page[i:], "</svg>")
	return regexp.MustCompile(`(?s)<g class="[^"]*">.*?</g>`).FindAllString(page[start:end], -1)
}

func TestHTMLCharts(t *testing.T) {
	out := render(t, HTML, fixture(), Options{})
	sizes := chartBars(t, out, "chart-table-sizes")
	if len(sizes) != 15 {
		t.Errorf("%d table bars, want the 15 largest", len(sizes))
	}
	if !strings.Contains(sizes[0], `class="bar phi"`) || !strings.Contains(sizes[0], "Patient&lt;Data&gt;") {
		t.Errorf("largest table bar = %s, want the PHI patient table", sizes[0])
	}
	var phi int
	for _, b := range sizes {
		if strings.Contains(b, `class="bar phi"`) {
			phi++
			if !strings.Contains(b, "PHI") {
				t.Errorf("PHI bar is not labelled: %s", b)
			}
		}
	}
	if phi != 3 {
		t.Errorf("%d PHI bars, want 3", phi)
	}
	if !strings.Contains(out, `class="legend"`) || !strings.Contains(out, "holds PHI") {
		t.Error("no legend for PHI bars")
	}

	stmts := chartBars(t, out, "chart-top-statements")
	if len(stmts) != 10 {
		t.Fatalf("%d statement bars, want 10", len(stmts))
	}
	// The tooltip holds the full query, the label a shortened one.
	titleRE := regexp.MustCompile(`<title>(.*?)</title><text class="label"[^>]*>(.*?)</text>`)
	m := titleRE.FindStringSubmatch(stmts[0])
	if m == nil {
		t.Fatalf("first statement bar has no tooltip and label: %s", stmts[0])
	}
	if got := html.UnescapeString(m[1]); got != pipeQuery {
		t.Errorf("tooltip = %q, want the full query %q", got, pipeQuery)
	}
	if label := html.UnescapeString(m[2]); !strings.HasSuffix(label, "...") || len([]rune(label)) > chartLabelCh || !strings.HasPrefix(label, "1. SELECT p.id") {
		t.Errorf("label = %q, want a shortened query", label)
	}
	// Bars are scaled to the longest.
	widthRE := regexp.MustCompile(`<rect [^>]*width="([0-9.]+)"`)
	if w := widthRE.FindStringSubmatch(stmts[0]); w == nil || w[1] != "430" {
		t.Errorf("longest bar width = %v, want 430", w)
	}
}

func TestHTMLEscaping(t *testing.T) {
	out := render(t, HTML, fixture(), Options{})
	for _, raw := range []string{"<Data>", "Patient<", "< $2", `"public"."Patient`, `href="javascript`, "#ZgotmplZ"} {
		if strings.Contains(out, raw) {
			t.Errorf("output contains %q unescaped", raw)
		}
	}
	if !strings.Contains(out, "&#34;public&#34;.&#34;Patient&lt;Data&gt;&#34;") {
		t.Error("escaped object name missing")
	}
	// A reference with a non-web URL is shown as text, never as a link.
	if !strings.Contains(out, "<li>Internal runbook (<code>javascript:alert(1)</code>)</li>") {
		t.Error("javascript: reference is not shown as plain text")
	}
	// Evil input cannot break out of any context.
	in := &Input{
		Tool:   `pgmedic"><script>alert(1)</script>`,
		Server: Server{Database: `</title><script>x</script>`},
		Notes:  []string{`<img src=x onerror=alert(1)>`},
		Findings: []finding.Finding{{
			ID: "x", Check: `c"><b>`, Area: `</style>`, Title: `</svg><script>t</script>`, Object: `o'"<>`,
			Detail: "<iframe>", Status: finding.Open, Severity: finding.High,
			References: []finding.Reference{{Title: "<r>", URL: `https://e.x/"><script>`}},
		}},
		TableSizes:    []Size{{Name: `</text></svg><script>s</script>`, Bytes: 1}},
		TopStatements: []StatementTime{{Query: `SELECT '</title><script>q</script>'`, TotalMs: 1}},
	}
	evil := render(t, HTML, in, Options{})
	if n := strings.Count(evil, "<script"); n != 1 {
		t.Errorf("%d <script> tags, want only the report's own", n)
	}
	for _, bad := range []string{"<img", "<iframe", "<b>", "<r>", "</style><", `"><script`} {
		if strings.Contains(evil, bad) {
			t.Errorf("hostile input produced %q", bad)
		}
	}
	if err := checkTags(evil); err != "" {
		t.Error(err)
	}
}

func TestHTMLSelfContained(t *testing.T) {
	out := render(t, HTML, fixture(), Options{})
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script src", "<link", "@import", "url(http", "url(//", "<iframe", "<img", "<object", "<embed", "@font-face"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page loads something: found %q", bad)
		}
	}
	// Every src/href stays in the page, except reference links to documentation.
	attrRE := regexp.MustCompile(`(?i)<([a-z0-9]+)([^>]*?)\s(src|href)="([^"]*)"`)
	links := 0
	for _, m := range attrRE.FindAllStringSubmatch(out, -1) {
		tag, attrs, name, val := strings.ToLower(m[1]), m[2], m[3], m[4]
		switch {
		case strings.HasPrefix(val, "#"):
		case (strings.HasPrefix(val, "https://") || strings.HasPrefix(val, "http://")) && tag == "a" && name == "href" && strings.Contains(attrs, `class="ref"`):
			links++
		default:
			t.Errorf("<%s %s=%q> points outside the page", tag, name, val)
		}
	}
	if links == 0 {
		t.Error("no reference links found; the attribute scan is broken")
	}
	// The content security policy allows exactly the inline style and script.
	cspRE := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`)
	m := cspRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no Content-Security-Policy")
	}
	csp := html.UnescapeString(m[1])
	style := between(t, out, "<style>", "</style>")
	script := between(t, out, "<script>", "</script>")
	for _, want := range []string{"default-src 'none'", "style-src '" + cspHash(style) + "'", "script-src '" + cspHash(script) + "'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

func TestHTMLPrintStylesheet(t *testing.T) {
	out := render(t, HTML, fixture(), Options{})
	style := between(t, out, "<style>", "</style>")
	i := strings.Index(style, "@media print")
	if i < 0 {
		t.Fatal("no print stylesheet")
	}
	print := style[i:]
	for _, want := range []string{
		"details::details-content{content-visibility:visible", // open every <details>
		".card,", "break-inside:avoid", // no page break inside a card
		"color:#000", "background:#fff", // black on white
	} {
		if !strings.Contains(print, want) {
			t.Errorf("print stylesheet lacks %q", want)
		}
	}
	// The optional script opens the details too, where ::details-content is unknown.
	if script := between(t, out, "<script>", "</script>"); !strings.Contains(script, "beforeprint") {
		t.Error("script does not open details before printing")
	}
}

func TestHTMLEmpty(t *testing.T) {
	out := render(t, HTML, &Input{}, Options{})
	for _, id := range sectionIDs {
		if !strings.Contains(out, `<section id="`+id+`"`) {
			t.Errorf("empty report lacks section %s", id)
		}
	}
	for _, want := range []string{"No open findings.", "No table sizes in this report.", "No statement statistics in this report."} {
		if !strings.Contains(out, want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
	if strings.Contains(out, `id="checks"`) || strings.Contains(out, "<svg class=\"chart") {
		t.Error("empty report has an appendix or charts")
	}
	if err := checkTags(out); err != "" {
		t.Error(err)
	}
}

func between(t *testing.T, s, open, end string) string {
	t.Helper()
	i := strings.Index(s, open)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("no %s…%s", open, end)
	}
	return s[i+len(open) : j]
}

// checkTags reports the first unbalanced element of an HTML page ("" when balanced).
// Raw-text elements are skipped whole; void elements need no end tag.
func checkTags(page string) string {
	page = regexp.MustCompile(`(?s)<style>.*?</style>|<script>.*?</script>`).ReplaceAllString(page, "")
	void := []string{"meta", "br", "link", "img", "hr", "input", "col", "source", "wbr"}
	var stack []string
	for _, m := range regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>`).FindAllStringSubmatch(page, -1) {
		name := strings.ToLower(m[2])
		if slices.Contains(void, name) {
			continue
		}
		if m[1] == "" {
			stack = append(stack, name)
			continue
		}
		if len(stack) == 0 || stack[len(stack)-1] != name {
			return "unexpected </" + name + "> with open elements " + strings.Join(stack, " > ")
		}
		stack = stack[:len(stack)-1]
	}
	if len(stack) > 0 {
		return "unclosed elements: " + strings.Join(stack, " > ")
	}
	return ""
}
