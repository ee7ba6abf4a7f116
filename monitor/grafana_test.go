package monitor_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgmedic/pgmedic/monitor"
)

// Every metric the Grafana dashboard queries is one the monitor exports.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana/pgmedic.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New([]string{"postgres://localhost/x"}, monitor.Options{Interval: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 100)
	m.Describe(ch)
	close(ch)
	exported := map[string]bool{}
	nameRE := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		exported[nameRE.FindStringSubmatch(d.String())[1]] = true
	}
	used := regexp.MustCompile(`\b(pg_[a-z_]+|pgmedic_[a-z_]+)\b`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range used.FindAllString(tg.Expr, -1) {
				n++
				if !exported[name] && !strings.HasSuffix(name, "_bucket") {
					t.Errorf("panel %q queries %s, which the monitor does not export", p.Title, name)
				}
			}
		}
	}
	if n < 15 {
		t.Errorf("the dashboard queries only %d metrics", n)
	}
}
