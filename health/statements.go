package health

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
)

func statementChecks() []Check {
	return []Check{
		{
			ID: "statements.unavailable", Area: "statements", Severity: finding.Medium,
			Title:       "pg_stat_statements is not collecting",
			Description: "Without pg_stat_statements there is no record of which statements use the server's time, and no workload to optimise indexes for.",
			Needs:       []string{"workload", "settings"},
			References:  []finding.Reference{finding.DocsRef("pgstatstatements.html", "pg_stat_statements")},
			Run:         checkStatementsAvailable,
		},
		{
			ID: "statements.slow", Area: "statements", Severity: finding.Medium,
			Title:       "Slow statements",
			Description: "Statements whose mean execution time exceeds queryAnalyzer.slowQueryThreshold, and statements on patient data whose slowest run exceeds the patient response-time target.",
			Needs:       []string{"workload"},
			Thresholds: []Threshold{
				{Name: "mean_ms", Unit: "ms", FromConfig: func(p *config.Profile) float64 { return float64(p.QueryAnalyzer.SlowQueryThreshold.Milliseconds()) }},
				{Name: "patient_max_ms", Unit: "ms", FromConfig: func(p *config.Profile) float64 { return float64(p.QueryAnalyzer.PatientResponseTime.Milliseconds()) }},
				{Name: "min_calls", Default: 5},
			},
			References: []finding.Reference{finding.DocsRef("pgstatstatements.html", "pg_stat_statements")},
			Run:        checkSlowStatements,
		},
	}
}

func checkStatementsAvailable(c *Context) []finding.Finding {
	w := c.Snap.Workload
	if w.Available {
		return nil
	}
	f := c.New("pg_stat_statements", "pg_stat_statements is not collecting statement statistics")
	f.Detail = w.Reason + "."
	preload, _ := c.Snap.Setting("shared_preload_libraries")
	libs := splitSettingList(preload.Value)
	var steps []finding.Step
	if !slices.Contains(libs, "pg_stat_statements") {
		libs = append(libs, "pg_stat_statements")
		steps = append(steps, finding.Step{
			Description:   "load the library at server start (takes effect after a restart)",
			SQL:           fmt.Sprintf("ALTER SYSTEM SET shared_preload_libraries = %s", quoteLiteral(strings.Join(libs, ","))),
			NoTransaction: true,
		})
		f.Detail += " Loading it needs a server restart."
	}
	steps = append(steps, finding.Step{Description: "create the view in this database", SQL: "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"})
	f.Recommendation = "Load pg_stat_statements (it costs a few percent at most) and create the extension; pgmedic then reports slow statements and advises indexes from the real workload."
	f.Fix = &finding.Plan{Summary: "Enable pg_stat_statements", Steps: steps}
	return []finding.Finding{*f}
}

func splitSettingList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.Trim(strings.TrimSpace(p), `"`); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var wordRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_$]*`)

// phiTablesIn names the PHI tables a statement's text mentions.
func phiTablesIn(c *Context, query string) []string {
	words := map[string]bool{}
	for _, w := range wordRE.FindAllString(strings.ToLower(query), -1) {
		words[w] = true
	}
	var out []string
	for _, t := range c.Snap.Tables {
		if words[strings.ToLower(t.Name)] && c.Class(t.Schema, t.Name).PHI {
			out = append(out, t.Name)
		}
	}
	return out
}

func checkSlowStatements(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, st := range c.Snap.Workload.Statements {
		if st.Database != c.Snap.Server.Database || float64(st.Calls) < c.T("min_calls") || !st.TopLevel {
			continue
		}
		phi := phiTablesIn(c, st.Query)
		slowMean := st.MeanExecMs >= c.T("mean_ms")
		slowPatient := len(phi) > 0 && st.MaxExecMs >= c.T("patient_max_ms")
		if !slowMean && !slowPatient {
			continue
		}
		f := c.New(fmt.Sprintf("query %d", st.QueryID), fmt.Sprintf("Statement averages %.0f ms over %d calls", st.MeanExecMs, st.Calls))
		f.PHI = len(phi) > 0
		if slowPatient {
			f.Severity = finding.High
			f.Title = fmt.Sprintf("Statement on patient data takes up to %.0f ms (target %.0f ms)", st.MaxExecMs, c.T("patient_max_ms"))
		}
		share := pct(st.TotalExecMs, c.Snap.Workload.TotalTimeMs)
		f.Evidence = []finding.Evidence{ev("mean_ms", round1(st.MeanExecMs), "ms"), ev("max_ms", round1(st.MaxExecMs), "ms"),
			ev("calls", float64(st.Calls), ""), ev("total_ms", round1(st.TotalExecMs), "ms"), ev("share_of_total_pct", round1(share), "%"),
			ev("rows_per_call", round1(float64(st.Rows)/float64(max(st.Calls, 1))), "")}
		f.Detail = "Statement: " + display.Shorten(st.Query, 400)
		if len(phi) > 0 {
			f.Detail += " It reads PHI tables: " + strings.Join(phi, ", ") + "."
		}
		f.Recommendation = "See its plan with 'pgmedic explain' and the analysis in 'pgmedic queries'; 'pgmedic index advise' decides which indexes serve it and the rest of the workload."
		out = append(out, *f)
	}
	return out
}
