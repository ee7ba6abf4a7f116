package monitor

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// TargetSummary is one target's history, summarised for the monitoring report.
type TargetSummary struct {
	Target         string
	From, To       time.Time
	Samples        int
	UpPct          float64
	MaxConnections int
	AvgTPS         float64
	MinCacheHitPct float64 // -1: never measured
	MaxReplLagSecs float64
	MaxBlocked     int
	P95CollectMs   float64
	Points         []Point
	Alerts         []Alert // transitions, oldest first
}

// Summarise groups a history file's records by target.
func Summarise(recs []HistoryRecord) []TargetSummary {
	by := map[string]*TargetSummary{}
	var names []string
	for _, r := range recs {
		s := by[r.Target]
		if s == nil {
			s = &TargetSummary{Target: r.Target, MinCacheHitPct: -1}
			by[r.Target] = s
			names = append(names, r.Target)
		}
		if r.Alert != nil {
			s.Alerts = append(s.Alerts, *r.Alert)
		} else {
			s.Points = append(s.Points, r.Point)
		}
	}
	out := make([]TargetSummary, 0, len(names))
	for _, n := range names {
		s := by[n]
		s.summarise()
		out = append(out, *s)
	}
	return out
}

func (s *TargetSummary) summarise() {
	sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].At.Before(s.Points[j].At) })
	s.Samples = len(s.Points)
	if s.Samples == 0 {
		return
	}
	s.From, s.To = s.Points[0].At, s.Points[s.Samples-1].At
	up, tps := 0, 0.0
	var collect []float64
	for _, p := range s.Points {
		collect = append(collect, p.CollectMs)
		if !p.Up {
			continue
		}
		up++
		tps += p.TPS
		s.MaxConnections = max(s.MaxConnections, p.Connections)
		s.MaxBlocked = max(s.MaxBlocked, p.Blocked)
		s.MaxReplLagSecs = max(s.MaxReplLagSecs, p.ReplLagSecs)
		if p.CacheHitPct >= 0 && (s.MinCacheHitPct < 0 || p.CacheHitPct < s.MinCacheHitPct) {
			s.MinCacheHitPct = p.CacheHitPct
		}
	}
	s.UpPct = 100 * float64(up) / float64(s.Samples)
	if up > 0 {
		s.AvgTPS = tps / float64(up)
	}
	sort.Float64s(collect)
	s.P95CollectMs = collect[min(len(collect)-1, len(collect)*95/100)]
}

// WriteReport renders the summaries as "markdown" or "html" (self-contained, SVG charts).
func WriteReport(w io.Writer, format string, sums []TargetSummary) error {
	switch format {
	case "markdown", "md":
		return writeMarkdown(w, sums)
	case "html":
		return reportHTML.Execute(w, htmlReport{Generated: time.Now().UTC(), Targets: htmlTargets(sums)})
	}
	return fmt.Errorf("unknown report format %q (markdown or html)", format)
}

func cacheText(v float64) string {
	if v < 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.2f%%", v)
}

func writeMarkdown(w io.Writer, sums []TargetSummary) error {
	var b strings.Builder
	b.WriteString("# pgmedic monitoring report\n\nStatistics only: no statement text and no table contents.\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "\n## %s\n\n", mdEscape(s.Target))
		if s.Samples == 0 {
			b.WriteString("No samples.\n")
			continue
		}
		fmt.Fprintf(&b, "From %s to %s, %d samples.\n\n", s.From.UTC().Format(time.RFC3339), s.To.UTC().Format(time.RFC3339), s.Samples)
		b.WriteString("| measure | value |\n| --- | --- |\n")
		fmt.Fprintf(&b, "| availability | %.2f%% of samples up |\n", s.UpPct)
		fmt.Fprintf(&b, "| client sessions, most | %d |\n", s.MaxConnections)
		fmt.Fprintf(&b, "| transactions per second, mean | %.1f |\n", s.AvgTPS)
		fmt.Fprintf(&b, "| buffer cache hit ratio, lowest interval | %s |\n", cacheText(s.MinCacheHitPct))
		fmt.Fprintf(&b, "| replication lag, most | %.1f s |\n", s.MaxReplLagSecs)
		fmt.Fprintf(&b, "| blocked sessions, most | %d |\n", s.MaxBlocked)
		fmt.Fprintf(&b, "| collection time, p95 | %.1f ms |\n", s.P95CollectMs)
		if len(s.Alerts) > 0 {
			b.WriteString("\n### Alerts\n\n| when | alert | state | severity | summary |\n| --- | --- | --- | --- | --- |\n")
			for _, a := range s.Alerts {
				when := a.StartedAt
				if a.ResolvedAt != nil {
					when = *a.ResolvedAt
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", when.UTC().Format(time.RFC3339), a.Name, a.State, a.Severity, mdEscape(a.Summary))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

type htmlReport struct {
	Generated time.Time
	Targets   []htmlTarget
}

type htmlTarget struct {
	TargetSummary
	Cache  string
	Charts []htmlChart
}

type htmlChart struct {
	Title string
	SVG   template.HTML
}

func htmlTargets(sums []TargetSummary) []htmlTarget {
	var out []htmlTarget
	for _, s := range sums {
		svg := func(f func(Point) (float64, bool)) template.HTML { return template.HTML(Chart(s.Points, f)) }
		out = append(out, htmlTarget{TargetSummary: s, Cache: cacheText(s.MinCacheHitPct), Charts: []htmlChart{
			{"Client sessions", svg(func(p Point) (float64, bool) { return float64(p.Connections), p.Up })},
			{"Transactions per second", svg(func(p Point) (float64, bool) { return p.TPS, p.Up })},
			{"Cache hit %", svg(func(p Point) (float64, bool) { return p.CacheHitPct, p.CacheHitPct >= 0 })},
			{"Replication lag (s)", svg(func(p Point) (float64, bool) { return p.ReplLagSecs, p.Up })},
			{"Up", svg(func(p Point) (float64, bool) { return b2f(p.Up), true })},
		}})
	}
	return out
}

var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"t": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"pt": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>pgmedic monitoring report</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #eee}.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:.85em;color:#555}</style>
</head><body><h1>pgmedic monitoring report</h1>
<p>Generated {{t .Generated}}. Statistics only: no statement text and no table contents.</p>
{{range .Targets}}<section><h2>{{.Target}}</h2>
{{if .Samples}}<p>From {{t .From}} to {{t .To}}, {{.Samples}} samples.</p>
<table><tr><th>Availability</th><td>{{printf "%.2f" .UpPct}}% of samples up</td></tr>
<tr><th>Client sessions, most</th><td>{{.MaxConnections}}</td></tr>
<tr><th>Transactions per second, mean</th><td>{{printf "%.1f" .AvgTPS}}</td></tr>
<tr><th>Buffer cache hit ratio, lowest interval</th><td>{{.Cache}}</td></tr>
<tr><th>Replication lag, most</th><td>{{printf "%.1f" .MaxReplLagSecs}} s</td></tr>
<tr><th>Blocked sessions, most</th><td>{{.MaxBlocked}}</td></tr>
<tr><th>Collection time, p95</th><td>{{printf "%.1f" .P95CollectMs}} ms</td></tr></table>
<div class="charts">{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>{{end}}</div>
{{else}}<p>No samples.</p>{{end}}
{{if .Alerts}}<h3>Alerts</h3><table><tr><th>alert</th><th>state</th><th>severity</th><th>summary</th><th>started</th><th>resolved</th></tr>
{{range .Alerts}}<tr><td>{{.Name}}</td><td>{{.State}}</td><td>{{.Severity}}</td><td>{{.Summary}}</td><td>{{t .StartedAt}}</td><td>{{pt .ResolvedAt}}</td></tr>{{end}}</table>{{end}}
</section>{{end}}
</body></html>
`))
