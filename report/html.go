package report

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/snapshot"
)

// htmlData is what the page template sees; everything is precomputed so the template
// only lays out, and html/template escapes every string that came from Input.
type htmlData struct {
	Title        string
	Tool         string
	Server       string
	Database     string
	User         string
	Collected    string
	CollectedISO string
	Notes        []string
	CSP          string
	CSS          template.CSS
	Script       template.JS

	Tiles   []htmlTile
	Total   int
	Unknown int
	Highest string
	Areas   []htmlArea

	Open         []htmlFinding
	Undecided    []htmlFinding
	Sizes        htmlChart
	Statements   htmlChart
	StatementRow []htmlStatement
	Parts        []htmlPart
	PartsTotal   string
	PartsIssues  int
	Checks       []htmlCheck
}

type htmlTile struct {
	Class string
	Label string
	Count int
}

type htmlArea struct {
	Name  string
	Count int
}

type htmlFinding struct {
	Anchor         string
	Class          string
	Badge          string
	Title          string
	Object         string
	PHI            bool
	Area           string
	Check          string
	ID             string
	Detail         string
	Evidence       []htmlEvidence
	Recommendation string
	FixSummary     string
	FixSteps       []finding.Step
	FixSQL         string
	References     []htmlRef
	HasDetails     bool
}

type htmlEvidence struct{ Name, Value, Unit string }

// htmlRef is a reference; Link is set only for http(s) addresses, so nothing else
// (javascript:, file:) becomes clickable.
type htmlRef struct {
	Title string
	URL   string
	Link  bool
}

type htmlPart struct {
	Name     string
	Status   string
	Duration string
	Reason   string
}

type htmlCheck struct {
	ID, Area, Title, Description, Severity string
	References                             []htmlRef
}

type htmlStatement struct {
	Rank  int
	Query string
	Calls string
	Total string
	Mean  string
}

// htmlChart is a horizontal bar chart laid out in SVG user units.
type htmlChart struct {
	ID     string
	Label  string // accessible name
	Width  int
	Height int
	LabelX int
	BarX   int
	BarH   int
	Bars   []htmlBar
	Mono   bool // labels are queries
}

type htmlBar struct {
	Class  string
	Title  string // tooltip: the full name or query
	Label  string // shortened
	Value  string
	Y      int // top of the bar
	TextY  int // baseline of the label
	Width  float64
	ValueX float64
}

// Chart geometry, in SVG user units (the viewBox is chartWidth wide).
const (
	chartWidth   = 900
	chartLabelX  = 292 // right edge of labels
	chartBarX    = 300
	chartBarMax  = 430
	chartRow     = 26
	chartBarH    = 18
	chartPad     = 6
	chartLabelCh = 40 // characters a label keeps
)

func writeHTML(w io.Writer, v *view) error {
	tmpl, err := template.New("report").Parse(htmlPage)
	if err != nil {
		return fmt.Errorf("parsing template: %w", err)
	}
	// Render fully before writing, so a template error never leaves half a page.
	var b bytes.Buffer
	if err := tmpl.Execute(&b, buildHTML(v)); err != nil {
		return fmt.Errorf("rendering template: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

func buildHTML(v *view) htmlData {
	in := v.in
	d := htmlData{
		Tool:      in.Tool,
		Server:    serverLine(in.Server),
		Database:  in.Server.Database,
		User:      in.Server.User,
		Collected: collectedLine(in.CollectedAt),
		Notes:     in.Notes,
		CSS:       template.CSS(htmlCSS),
		Script:    template.JS(htmlScript),
		Total:     v.summary.Total,
		Unknown:   v.summary.Unknown,
		Highest:   v.summary.Highest,
	}
	// The policy forbids every load and allows only this page's own style and script,
	// so the file cannot reach the network even if a browser is lax about file://.
	d.CSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src data:; base-uri 'none'; form-action 'none'",
		cspHash(htmlCSS), cspHash(htmlScript))
	if !in.CollectedAt.IsZero() {
		d.CollectedISO = in.CollectedAt.Format(time.RFC3339)
	}
	d.Title = "pgmedic report"
	if in.Server.Database != "" {
		d.Title += " — " + in.Server.Database
	}
	if !in.CollectedAt.IsZero() {
		d.Title += " — " + in.CollectedAt.Format("2006-01-02")
	}

	for _, sev := range severityOrder() {
		d.Tiles = append(d.Tiles, htmlTile{Class: "sev-" + sev.String(), Label: sev.String(), Count: v.summary.BySeverity[sev.String()]})
	}
	for name, n := range v.summary.ByArea {
		d.Areas = append(d.Areas, htmlArea{Name: name, Count: n})
	}
	slices.SortFunc(d.Areas, func(a, b htmlArea) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })

	for i, f := range v.open {
		d.Open = append(d.Open, htmlFindingOf(f, i+1))
	}
	for i, f := range v.unknown {
		d.Undecided = append(d.Undecided, htmlFindingOf(f, len(v.open)+i+1))
	}

	d.Sizes = sizeChart(v.sizes)
	d.Statements = statementChart(v.stmts)
	for i, s := range v.stmts {
		d.StatementRow = append(d.StatementRow, htmlStatement{
			Rank:  i + 1,
			Query: strings.TrimSpace(s.Query),
			Calls: groupDigits(s.Calls),
			Total: humanMs(s.TotalMs),
			Mean:  humanMs(s.MeanMs),
		})
	}

	var total float64
	for _, p := range in.Parts {
		total += p.DurationMs
		if p.Status != snapshot.PartOK {
			d.PartsIssues++
		}
		d.Parts = append(d.Parts, htmlPart{Name: p.Name, Status: p.Status, Duration: humanMs(p.DurationMs), Reason: p.Reason})
	}
	d.PartsTotal = humanMs(total)

	for _, c := range in.Checks {
		d.Checks = append(d.Checks, htmlCheck{
			ID: c.ID, Area: c.Area, Title: c.Title, Description: c.Description,
			Severity: c.Severity.String(), References: htmlRefs(c.References),
		})
	}
	return d
}

func htmlFindingOf(f finding.Finding, n int) htmlFinding {
	h := htmlFinding{
		Anchor:         fmt.Sprintf("finding-%d", n),
		Class:          "sev-" + f.Severity.String(),
		Badge:          f.Severity.String(),
		Title:          f.Title,
		Object:         f.Object,
		PHI:            f.PHI,
		Area:           f.Area,
		Check:          f.Check,
		ID:             f.ID,
		Detail:         strings.TrimSpace(f.Detail),
		Recommendation: strings.TrimSpace(f.Recommendation),
		References:     htmlRefs(f.References),
	}
	if f.Status == finding.Unknown {
		h.Class, h.Badge = "sev-unknown", "unknown"
	}
	for _, e := range f.Evidence {
		unit := e.Unit
		if unit == "bytes" && math.Abs(e.Value) >= 1024 && math.Abs(e.Value) < math.MaxInt64 {
			unit += " (" + humanBytes(int64(e.Value)) + ")"
		}
		h.Evidence = append(h.Evidence, htmlEvidence{Name: e.Name, Value: formatValue(e.Value), Unit: unit})
	}
	if f.Fix != nil && len(f.Fix.Steps) > 0 {
		h.FixSummary = f.Fix.Summary
		h.FixSteps = f.Fix.Steps
		h.FixSQL = f.Fix.SQL()
	}
	h.HasDetails = len(h.Evidence) > 0 || h.Recommendation != "" || h.FixSQL != "" || len(h.References) > 0
	return h
}

func htmlRefs(refs []finding.Reference) []htmlRef {
	var out []htmlRef
	for _, r := range refs {
		title := r.Title
		if title == "" {
			title = r.URL
		}
		u, err := url.Parse(strings.TrimSpace(r.URL))
		link := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
		out = append(out, htmlRef{Title: title, URL: r.URL, Link: link})
	}
	return out
}

func sizeChart(sizes []Size) htmlChart {
	c := newChart("chart-table-sizes", "Largest tables by total size (heap, TOAST and indexes)", false)
	var maxV float64
	for _, s := range sizes {
		maxV = max(maxV, float64(s.Bytes))
	}
	for i, s := range sizes {
		value := humanBytes(s.Bytes)
		class := "bar"
		title := s.Name + ": " + value
		if s.PHI {
			value += " · PHI"
			class += " phi"
			title += " (holds PHI)"
		}
		c.Bars = append(c.Bars, layoutBar(i, float64(s.Bytes), maxV, class, title, display.Shorten(s.Name, chartLabelCh), value))
	}
	c.Height = chartHeight(len(c.Bars))
	return c
}

func statementChart(sts []StatementTime) htmlChart {
	c := newChart("chart-top-statements", "Statements with the most total execution time", true)
	var maxV float64
	for _, s := range sts {
		maxV = max(maxV, s.TotalMs)
	}
	for i, s := range sts {
		label := fmt.Sprintf("%d. %s", i+1, display.Shorten(s.Query, chartLabelCh-4))
		value := humanMs(s.TotalMs) + " · " + groupDigits(s.Calls) + " calls"
		c.Bars = append(c.Bars, layoutBar(i, s.TotalMs, maxV, "bar stmt", strings.TrimSpace(s.Query), label, value))
	}
	c.Height = chartHeight(len(c.Bars))
	return c
}

func layoutBar(i int, v, maxV float64, class, title, label, value string) htmlBar {
	var w float64
	if maxV > 0 && v > 0 {
		// Keep a sliver visible for tiny values so no bar looks missing.
		w = max(2, v/maxV*chartBarMax)
	}
	y := chartPad + i*chartRow
	return htmlBar{
		Class:  class,
		Title:  title,
		Label:  label,
		Value:  value,
		Y:      y,
		TextY:  y + chartBarH - 5,
		Width:  float64(int(w*10)) / 10,
		ValueX: float64(int((chartBarX+w+6)*10)) / 10,
	}
}

// newChart sets a chart's geometry; bars are added by the caller.
func newChart(id, label string, mono bool) htmlChart {
	return htmlChart{ID: id, Label: label, Mono: mono, Width: chartWidth, LabelX: chartLabelX, BarX: chartBarX, BarH: chartBarH}
}

func chartHeight(bars int) int { return 2*chartPad + bars*chartRow }

// cspHash is the CSP source expression allowing exactly the inline text s.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// htmlScript is optional: it opens every <details> before printing (the print
// stylesheet does the same where the browser supports ::details-content) and closes
// them again afterwards. The page is complete without it.
const htmlScript = `(function(){var d=document;d.documentElement.classList.add("js");` +
	`addEventListener("beforeprint",function(){d.querySelectorAll("details:not([open])").forEach(function(e){e.open=true;e.setAttribute("data-print-opened","")})});` +
	`addEventListener("afterprint",function(){d.querySelectorAll("details[data-print-opened]").forEach(function(e){e.open=false;e.removeAttribute("data-print-opened")})})})();`

const htmlCSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--panel:#f6f8fa;
--critical:#a40e26;--high:#d1242f;--medium:#bf8700;--low:#0969da;--info:#6e7781;--unknown:#8250df;
--plain:#4c78a8;--phi:#e4572e;--stmt:#2a9d8f}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:1120px;padding:24px 28px 48px;color:var(--fg);background:var(--bg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:13px}
code{overflow-wrap:anywhere}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0}
h4{font-size:13px;margin:14px 0 4px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
a{color:#0969da}
header.page dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 0}
header.page dt{color:var(--muted)}
header.page dd{margin:0}
.notes{margin:12px 0 0;padding:8px 12px;border-left:4px solid var(--low);background:var(--panel)}
.notes p{margin:0}
nav.toc{margin:16px 0 0;display:flex;flex-wrap:wrap;gap:6px 16px;font-size:14px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:10px}
.tile{border:1px solid var(--line);border-top:5px solid var(--info);border-radius:6px;padding:8px 12px}
.tile .n{font-size:28px;font-weight:700;line-height:1.1}
.tile .l{color:var(--muted);text-transform:capitalize}
.tile.sev-critical{border-top-color:var(--critical)}.tile.sev-high{border-top-color:var(--high)}
.tile.sev-medium{border-top-color:var(--medium)}.tile.sev-low{border-top-color:var(--low)}
.tile.sev-unknown{border-top-color:var(--unknown)}
.tile.zero .n{color:var(--line)}
.tile.sev-unknown .l{text-transform:none}
p.lead{margin:12px 0}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:var(--panel);font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.areas{width:auto;min-width:280px;margin-top:12px}
.card{border:1px solid var(--line);border-left:6px solid var(--info);border-radius:6px;padding:12px 16px;margin:0 0 14px;background:var(--bg)}
.card.sev-critical{border-left-color:var(--critical)}.card.sev-high{border-left-color:var(--high)}
.card.sev-medium{border-left-color:var(--medium)}.card.sev-low{border-left-color:var(--low)}
.card.sev-unknown{border-left-color:var(--unknown)}
.card-head{display:flex;gap:10px;align-items:baseline}
.badge{display:inline-block;min-width:74px;text-align:center;padding:1px 8px;border-radius:10px;font-size:12px;
font-weight:700;text-transform:uppercase;letter-spacing:.03em;color:#fff;background:var(--info);flex:none}
.badge.sev-critical{background:var(--critical)}.badge.sev-high{background:var(--high)}
.badge.sev-medium{background:var(--medium);color:#1f2328}.badge.sev-low{background:var(--low)}
.badge.sev-unknown{background:var(--unknown)}
.phi-tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:700;color:#fff;background:var(--phi)}
.meta{margin:6px 0 0;color:var(--muted);font-size:14px}
.meta code{color:var(--fg)}
.detail,.rec{white-space:pre-line;margin:8px 0 0}
details{margin:10px 0 0}
summary{cursor:pointer;color:#0969da;font-size:14px}
pre{margin:6px 0 0;padding:10px 12px;background:var(--panel);border:1px solid var(--line);border-radius:6px;
overflow-x:auto;white-space:pre}
table.evidence{width:auto;min-width:50%}
ol.steps{margin:4px 0 0;padding-left:22px;font-size:14px}
.lock{color:var(--muted)}
.tag{display:inline-block;margin-left:4px;padding:0 5px;border:1px solid var(--line);border-radius:4px;font-size:12px;color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
svg.chart{display:block;width:100%;max-width:900px;height:auto;margin:4px 0 8px}
svg.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,"DejaVu Sans",sans-serif;fill:#1f2328}
svg.chart.mono text.label{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:11.5px}
svg.chart text.value{fill:#59636e}
svg.chart .bar rect{fill:var(--plain)}
svg.chart .bar.phi rect{fill:var(--phi)}
svg.chart .bar.stmt rect{fill:var(--stmt)}
svg.chart .bar:hover rect{opacity:.8}
.legend{display:flex;gap:18px;font-size:13px;color:var(--muted);margin:0 0 6px}
.legend svg{vertical-align:-2px;margin-right:5px}
.sw-plain{fill:var(--plain)}.sw-phi{fill:var(--phi)}
td.query code{white-space:pre-wrap;overflow-wrap:anywhere}
tr.status-unknown td{background:#fff1f0}
tr.status-partial td{background:#fff8c5}
footer{margin-top:40px;color:var(--muted);font-size:13px}
@media print{
@page{margin:14mm}
:root{--fg:#000;--muted:#000;--line:#000;--panel:#fff}
body{max-width:none;padding:0;color:#000;background:#fff;font-size:10.5pt}
*{box-shadow:none!important;text-shadow:none!important}
nav.toc,summary{display:none}
h2{break-after:avoid;page-break-after:avoid}
.card,.tile,tr,svg.chart,.legend{break-inside:avoid;page-break-inside:avoid}
.card,.tile{border-color:#000;background:#fff}
.badge,.phi-tag{color:#000!important;background:#fff!important;border:1px solid #000}
a{color:#000}
a.ref::after{content:" <" attr(href) ">";font-size:90%;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;overflow:visible;background:#fff;border-color:#000}
th{background:#fff}
tr.status-unknown td,tr.status-partial td{background:#fff;font-weight:700}
details:not([open])>*:not(summary){display:block}
}
@media print{details::details-content{content-visibility:visible;display:block}}
`

// htmlPage is the page. Every value from Input goes through html/template's contextual
// escaping; the only trusted values are the CSS and script constants above.
const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light">
{{with .Tool}}<meta name="generator" content="{{.}}">
{{end}}<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header class="page">
<h1>{{.Title}}</h1>
<dl>
{{with .Tool}}<dt>Tool</dt><dd>{{.}}</dd>
{{end}}<dt>Server</dt><dd>{{.Server}}</dd>
<dt>Database</dt><dd>{{if .Database}}<code>{{.Database}}</code>{{else}}unknown{{end}}{{with .User}} as <code>{{.}}</code>{{end}}</dd>
<dt>Collected</dt><dd>{{if .CollectedISO}}<time datetime="{{.CollectedISO}}">{{.Collected}}</time>{{else}}{{.Collected}}{{end}}</dd>
</dl>
{{if .Notes}}<div class="notes">{{range .Notes}}<p>{{.}}</p>{{end}}</div>
{{end}}<nav class="toc" aria-label="Sections">
<a href="#summary">Summary</a><a href="#findings">Findings</a><a href="#table-sizes">Table sizes</a><a href="#top-statements">Top statements</a><a href="#collection">Collection</a>{{if .Checks}}<a href="#checks">Checks</a>{{end}}
</nav>
</header>
<main>
<section id="summary" aria-labelledby="h-summary">
<h2 id="h-summary">Summary</h2>
<div class="tiles">
{{range .Tiles}}<div class="tile {{.Class}}{{if eq .Count 0}} zero{{end}}"><div class="n">{{.Count}}</div><div class="l">{{.Label}}</div></div>
{{end}}<div class="tile sev-unknown{{if eq .Unknown 0}} zero{{end}}"><div class="n">{{.Unknown}}</div><div class="l">could not decide</div></div>
</div>
<p class="lead">{{if .Total}}{{.Total}} open finding{{if ne .Total 1}}s{{end}}, the most severe <strong>{{.Highest}}</strong>.{{else}}No open findings.{{end}}{{if .Unknown}} {{.Unknown}} check{{if ne .Unknown 1}}s{{end}} could not decide; see the end of the findings.{{end}}</p>
{{if .Areas}}<table class="areas"><thead><tr><th>Area</th><th class="num">Open findings</th></tr></thead><tbody>
{{range .Areas}}<tr><td>{{.Name}}</td><td class="num">{{.Count}}</td></tr>
{{end}}</tbody></table>
{{end}}</section>

<section id="findings" aria-labelledby="h-findings">
<h2 id="h-findings">Findings</h2>
{{range .Open}}{{template "card" .}}{{else}}<p class="empty">No open findings.</p>
{{end}}{{if .Undecided}}<h3 class="undecided">Could not decide</h3>
<p class="lead">These checks could not reach a verdict; they are neither problems nor passes.</p>
{{range .Undecided}}{{template "card" .}}{{end}}{{end}}</section>

<section id="table-sizes" aria-labelledby="h-table-sizes">
<h2 id="h-table-sizes">Table sizes</h2>
{{if .Sizes.Bars}}<div class="legend"><span><svg width="12" height="12" aria-hidden="true"><rect class="sw-plain" width="12" height="12" rx="2"></rect></svg>table</span><span><svg width="12" height="12" aria-hidden="true"><rect class="sw-phi" width="12" height="12" rx="2"></rect></svg>holds PHI</span></div>
{{template "chart" .Sizes}}{{else}}<p class="empty">No table sizes in this report.</p>
{{end}}</section>

<section id="top-statements" aria-labelledby="h-top-statements">
<h2 id="h-top-statements">Top statements by total time</h2>
{{if .Statements.Bars}}{{template "chart" .Statements}}
<table class="statements"><thead><tr><th class="num">#</th><th>Normalised query</th><th class="num">Calls</th><th class="num">Total</th><th class="num">Mean</th></tr></thead><tbody>
{{range .StatementRow}}<tr><td class="num">{{.Rank}}</td><td class="query"><code>{{.Query}}</code></td><td class="num">{{.Calls}}</td><td class="num">{{.Total}}</td><td class="num">{{.Mean}}</td></tr>
{{end}}</tbody></table>
{{else}}<p class="empty">No statement statistics in this report.</p>
{{end}}</section>

<section id="collection" aria-labelledby="h-collection">
<h2 id="h-collection">Collection</h2>
{{if .Parts}}<p class="lead">{{len .Parts}} parts collected in {{.PartsTotal}}{{if .PartsIssues}}; {{.PartsIssues}} could not be read fully, and checks that needed them are missing rather than passed{{end}}.</p>
<table class="parts"><thead><tr><th>Part</th><th>Status</th><th class="num">Duration</th><th>Reason</th></tr></thead><tbody>
{{range .Parts}}<tr class="status-{{.Status}}"><td><code>{{.Name}}</code></td><td>{{.Status}}</td><td class="num">{{.Duration}}</td><td>{{.Reason}}</td></tr>
{{end}}</tbody></table>
{{else}}<p class="empty">No collection details in this report.</p>
{{end}}</section>
{{if .Checks}}
<section id="checks" aria-labelledby="h-checks">
<h2 id="h-checks">Appendix: checks that ran</h2>
<table class="checks"><thead><tr><th>Check</th><th>Area</th><th>Default severity</th><th>What it looks for</th></tr></thead><tbody>
{{range .Checks}}<tr><td><code>{{.ID}}</code></td><td>{{.Area}}</td><td>{{.Severity}}</td><td><strong>{{.Title}}</strong>{{with .Description}}<br>{{.}}{{end}}{{range .References}}<br>{{template "ref" .}}{{end}}</td></tr>
{{end}}</tbody></table>
</section>
{{end}}</main>
<footer>Generated by {{if .Tool}}{{.Tool}}{{else}}pgmedic{{end}}.</footer>
<script>{{.Script}}</script>
</body>
</html>
{{define "ref"}}{{if .Link}}<a class="ref" href="{{.URL}}" rel="noopener noreferrer">{{.Title}}</a>{{else}}{{.Title}}{{with .URL}} (<code>{{.}}</code>){{end}}{{end}}{{end}}
{{define "card"}}<article class="card {{.Class}}" id="{{.Anchor}}">
<div class="card-head"><span class="badge {{.Class}}">{{.Badge}}</span><h3>{{.Title}}</h3></div>
<p class="meta">{{with .Object}}<code class="object">{{.}}</code> {{end}}{{if .PHI}}<span class="phi-tag">PHI</span> {{end}}{{with .Area}}<span class="tag">{{.}}</span>{{end}}{{with .Check}}<span class="tag">{{.}}</span>{{end}}</p>
{{with .Detail}}<p class="detail">{{.}}</p>
{{end}}{{if .HasDetails}}<details>
<summary>Evidence, recommendation and fix</summary>
{{if .Evidence}}<h4>Evidence</h4>
<table class="evidence"><thead><tr><th>Measure</th><th class="num">Value</th><th>Unit</th></tr></thead><tbody>
{{range .Evidence}}<tr><td><code>{{.Name}}</code></td><td class="num">{{.Value}}</td><td>{{.Unit}}</td></tr>
{{end}}</tbody></table>
{{end}}{{with .Recommendation}}<h4>Recommendation</h4>
<p class="rec">{{.}}</p>
{{end}}{{if .FixSQL}}<h4>Fix</h4>
{{with .FixSummary}}<p>{{.}}</p>
{{end}}<ol class="steps">
{{range .FixSteps}}<li>{{.Description}}{{with .Lock}} <span class="lock">(takes {{.}})</span>{{end}}{{if .NoTransaction}} <span class="tag">outside a transaction</span>{{end}}{{if .Long}} <span class="tag">long-running</span>{{end}}</li>
{{end}}</ol>
<pre><code class="sql">{{.FixSQL}}</code></pre>
{{end}}{{if .References}}<h4>References</h4>
<ul class="refs">
{{range .References}}<li>{{template "ref" .}}</li>
{{end}}</ul>
{{end}}<p class="meta">Finding ID <code>{{.ID}}</code></p>
</details>
{{end}}</article>
{{end}}
{{define "chart"}}<svg class="chart{{if .Mono}} mono{{end}}" id="{{.ID}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="{{.ID}}-title">
<title id="{{.ID}}-title">{{.Label}}</title>
{{range .Bars}}<g class="{{.Class}}"><title>{{.Title}}</title><text class="label" x="{{$.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text><rect x="{{$.BarX}}" y="{{.Y}}" width="{{.Width}}" height="{{$.BarH}}" rx="2"></rect><text class="value" x="{{.ValueX}}" y="{{.TextY}}">{{.Value}}</text></g>
{{end}}</svg>
{{end}}`
