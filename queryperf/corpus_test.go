package queryperf_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/internal/corpus"
	"github.com/pgmedic/pgmedic/internal/stmtsource"
	"github.com/pgmedic/pgmedic/workload"
)

// pgbenchTables are the tables pgbench's built-in scripts use, filled as pgbench -i -s 1
// would (fewer accounts).
const pgbenchTables = `
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
INSERT INTO pgbench_branches SELECT 1, 0, '';
INSERT INTO pgbench_tellers SELECT g, 1, 0, '' FROM generate_series(1, 10) g;
INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 10000) g;
ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history;`

// coverageRow is one line of the corpus report.
type coverageRow struct {
	source   string
	cov      workload.Coverage
	failures []string
}

// The statements real clients send, captured from pg_stat_statements and from server
// logs (internal/corpus), are planned: at least 98 % of the distinct statements and 99 %
// of the workload time, over all sources. Every statement still left out is listed
// with its reason.
func TestCorpusPlans(t *testing.T) {
	db := seeded(t)
	db.Exec(t, pgbenchTables)
	e := setup(t, db, false)
	var rows []coverageRow
	for _, src := range corpus.Sources() {
		stmts, err := corpus.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		var inputs []workload.Input
		for _, s := range stmts {
			if s.TopLevel && workload.IsQuery(s.Query) {
				inputs = append(inputs, workload.Input{Text: s.Query, Calls: s.Calls, TotalMs: s.TotalMs, Rows: s.Rows,
					HasStats: true, Source: workload.SourceStatements})
			}
		}
		rows = append(rows, analyseCorpus(t, e, src+" (pg_stat_statements)", inputs))
		log, err := corpus.Log(src)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, analyseCorpus(t, e, src+" (log)", logInputs(t, log)))
	}
	rows = append(rows, livePgbench(t, e)...)
	var planned, plannable int
	var plannedMs, plannableMs float64
	var report strings.Builder
	fmt.Fprintf(&report, "%-36s %10s %10s %8s\n", "source", "planned", "of", "time %")
	for _, r := range rows {
		fmt.Fprintf(&report, "%-36s %10d %10d %7.1f%%\n", r.source, r.cov.Planned, r.cov.Planned+r.cov.NotPlanned, r.cov.PlannedPct)
		planned += r.cov.Planned
		plannable += r.cov.Planned + r.cov.NotPlanned
		for _, f := range r.failures {
			fmt.Fprintf(&report, "    not planned: %s\n", f)
		}
		// Time shares weigh each source by its own total; summed over sources they are
		// percentages of equal weight.
		plannedMs += r.cov.PlannedPct
		plannableMs += 100
	}
	stmtPct := 100 * float64(planned) / float64(plannable)
	timePct := 100 * plannedMs / plannableMs
	fmt.Fprintf(&report, "all sources: %d of %d distinct statements planned (%.1f%%), %.1f%% of the time", planned, plannable, stmtPct, timePct)
	t.Log("\n" + report.String())
	if stmtPct < 98 || timePct < 99 {
		t.Errorf("planned %.1f%% of the statements and %.1f%% of the time, want at least 98%% and 99%%", stmtPct, timePct)
	}
}

func analyseCorpus(t *testing.T, e *env, source string, inputs []workload.Input) coverageRow {
	t.Helper()
	if len(inputs) == 0 {
		t.Fatalf("%s: no statements", source)
	}
	res, err := e.analyzer(t).AnalyzeInputs(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	row := coverageRow{source: source, cov: res.Coverage}
	for _, s := range res.Statements {
		if s.NotPlanned != "" && (s.Grade != "" || s.Score != nil) {
			t.Errorf("%s: graded without a plan: %s", source, s.Query)
		}
	}
	for _, l := range res.Coverage.Left {
		row.failures = append(row.failures, fmt.Sprintf("%s\n        %s", strings.Join(strings.Fields(l.Query), " "), l.Reason))
	}
	if res.Coverage.Planned == 0 {
		t.Errorf("%s: nothing planned", source)
	}
	return row
}

// logInputs reads a server log the way `--file` does.
func logInputs(t *testing.T, log []byte) []workload.Input {
	t.Helper()
	var out []workload.Input
	_, err := stmtsource.Read(bytes.NewReader(log), func(s stmtsource.Statement) error {
		if workload.IsQuery(s.Text) {
			out = append(out, workload.Input{Text: s.Text, Raw: true, Source: s.Source, Calls: max(s.Calls, 1),
				TotalMs: s.TotalMs, HasStats: s.HasStats})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// livePgbench runs pgbench's built-in scripts and the corpus's own in the three
// protocols against the test database now, and plans what pg_stat_statements recorded.
func livePgbench(t *testing.T, e *env) []coverageRow {
	t.Helper()
	bin := pg.Bin.Tool("pgbench")
	scripts, err := corpus.PgbenchScripts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var rows []coverageRow
	for _, mode := range []string{"simple", "extended", "prepared"} {
		e.db.Exec(t, "SELECT pg_stat_statements_reset()")
		args := []string{"-n", "-M", mode, "-t", "20", "-c", "2", "-b", "tpcb-like", "-b", "simple-update", "-b", "select-only"}
		for _, s := range scripts {
			args = append(args, "-f", s)
		}
		cmd := exec.Command(bin, append(args, e.db.SocketURI)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pgbench -M %s: %v\n%s", mode, err, out)
		}
		var inputs []workload.Input
		r, err := e.conn.Query(context.Background(), `SELECT query, calls, total_exec_time, rows FROM pg_stat_statements s
			JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.toplevel`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var in workload.Input
			if err := r.Scan(&in.Text, &in.Calls, &in.TotalMs, &in.Rows); err != nil {
				t.Fatal(err)
			}
			if workload.IsQuery(in.Text) && !strings.HasPrefix(in.Text, "/* pgmedic */") {
				in.HasStats, in.Source = true, workload.SourceStatements
				inputs = append(inputs, in)
			}
		}
		r.Close()
		sort.Slice(inputs, func(i, j int) bool { return inputs[i].Text < inputs[j].Text })
		rows = append(rows, analyseCorpus(t, e, "pgbench -M "+mode+" (live)", inputs))
	}
	return rows
}
