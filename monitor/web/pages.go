package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/snapshot"
)

type pages struct{ t *template.Template }

func newPages() (*pages, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"since":   func(t *time.Time, now time.Time) string { return since(t, now) },
		"ms":      func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"pct":     func(v float64) string { return pctText(v) },
		"shorten": func(s string) string { return display.Shorten(strings.Join(strings.Fields(s), " "), 300) },
		"time":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"ptime": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"labels": labelText,
	}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parsing the dashboard templates: %w", err)
	}
	return &pages{t: t}, nil
}

func (p *pages) render(w io.Writer, name string, data any) {
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, name, data); err != nil {
		fmt.Fprintf(w, "template error: %s", template.HTMLEscapeString(err.Error()))
		return
	}
	w.Write(buf.Bytes())
}

// targetView is one target as the pages show it.
type targetView struct {
	Name    string
	Sample  *monitor.Sample
	Snap    *snapshot.Snapshot
	Last    monitor.Point
	Charts  []chartView
	Firing  int
	Top     []snapshot.Statement
	Session []snapshot.Session
	// Compliance is the score from the compliance checks, when a source gives one.
	Compliance *float64
}

type chartView struct {
	Title string
	SVG   template.HTML
}

type pageData struct {
	Page string
	// ShowText: the viewer's token may see statement texts.
	ShowText bool
	Now      time.Time
	Targets  []targetView
	Alerts   []monitor.Alert
	Firing   int
}

func (s *Server) page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, _ := r.Context().Value(roleKey{}).(string)
		d := pageData{Page: name, Now: time.Now(), Alerts: s.m.Alerts(), ShowText: role == roleAdmin}
		for _, a := range d.Alerts {
			if a.State == monitor.Firing {
				d.Firing++
			}
		}
		for _, name := range s.m.Targets() {
			d.Targets = append(d.Targets, s.targetView(name, d.Alerts))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		s.pages.render(w, name, d)
	})
}

func (s *Server) targetView(name string, alerts []monitor.Alert) targetView {
	v := targetView{Name: name, Sample: s.m.Latest(name)}
	if src := s.m.Compliance(); src != nil {
		if score, ok := src.ComplianceScore(name); ok {
			v.Compliance = &score
		}
	}
	hist := s.m.History(name)
	if len(hist) > 0 {
		v.Last = hist[len(hist)-1]
	}
	for _, a := range alerts {
		if a.State == monitor.Firing && a.Labels["target"] == name {
			v.Firing++
		}
	}
	if v.Sample != nil && v.Sample.Snap != nil {
		v.Snap = v.Sample.Snap
		v.Top = topStatements(v.Snap.Workload.Statements, 25)
		for _, x := range v.Snap.Sessions {
			if x.BackendType == "client backend" {
				v.Session = append(v.Session, x)
			}
		}
	}
	v.Charts = []chartView{
		{"Client sessions", chart(hist, func(p monitor.Point) (float64, bool) { return float64(p.Connections), p.Up })},
		{"Transactions per second", chart(hist, func(p monitor.Point) (float64, bool) { return p.TPS, p.Up })},
		{"Cache hit %", chart(hist, func(p monitor.Point) (float64, bool) { return p.CacheHitPct, p.CacheHitPct >= 0 })},
		{"Blocked sessions", chart(hist, func(p monitor.Point) (float64, bool) { return float64(p.Blocked), p.Up })},
		{"Replication lag (s)", chart(hist, func(p monitor.Point) (float64, bool) { return p.ReplLagSecs, p.Up })},
		{"Collection (ms)", chart(hist, func(p monitor.Point) (float64, bool) { return p.CollectMs, true })},
	}
	return v
}

// topStatements orders by total time; the texts are pg_stat_statements' normalised
// ones, scrubbed by snapshot of any literal left.
func topStatements(all []snapshot.Statement, n int) []snapshot.Statement {
	out := append([]snapshot.Statement(nil), all...)
	sort.Slice(out, func(i, j int) bool { return out[i].TotalExecMs > out[j].TotalExecMs })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func since(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	return now.Sub(*t).Round(time.Second).String()
}

func pctText(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func labelText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		if k != "target" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, " ")
}

// chart is monitor.Chart for a template: SVG built from numbers only.
func chart(points []monitor.Point, value func(monitor.Point) (float64, bool)) template.HTML {
	return template.HTML(monitor.Chart(points, value))
}
