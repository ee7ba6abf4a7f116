package workload

import (
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

func group(t *testing.T, inputs ...Input) []*Statement {
	t.Helper()
	stmts, _ := Group(inputs, sqlparse.NewParser(nil, 0))
	return stmts
}

func TestGroupByShape(t *testing.T) {
	stmts := group(t,
		Input{Text: "SELECT id FROM claims WHERE status = 'pended' AND patient_id = 7", Raw: true, Calls: 1, TotalMs: 2},
		Input{Text: "select id from claims where status = 'pended' and patient_id = 9 -- from the ORM", Raw: true, Calls: 1, TotalMs: 3},
		Input{Text: "SELECT id FROM claims WHERE status = 'paid' AND patient_id = 9", Raw: true, Calls: 1, TotalMs: 1},
	)
	if len(stmts) != 1 {
		t.Fatalf("%d statements, want one shape", len(stmts))
	}
	s := stmts[0]
	if s.Stats.Calls != 3 || s.Stats.TotalMs != 6 || s.Samples() != 3 {
		t.Errorf("stats %+v samples %d", s.Stats, s.Samples())
	}
	if strings.Contains(s.Display, "pended") || strings.Contains(s.Display, "ORM") {
		t.Errorf("display shows a value or a comment: %q", s.Display)
	}
	// status differs between samples: no constant; patient_id too.
	for n := 1; n <= 2; n++ {
		if l, ok := s.Constant(n); ok {
			t.Errorf("$%d taken for a constant (%v)", n, l.Kind)
		}
	}
	same := group(t,
		Input{Text: "SELECT id FROM claims WHERE status = 'pended' AND patient_id = 7", Raw: true},
		Input{Text: "SELECT id FROM claims WHERE status = 'pended' AND patient_id = 8", Raw: true})[0]
	if l, ok := same.Constant(1); !ok || l.Value() != "pended" {
		t.Errorf("the status every sample has is a constant: %v %v", l, ok)
	}
	if _, ok := same.Constant(2); ok {
		t.Error("a patient id that changes is not a constant")
	}
	one := group(t, Input{Text: "SELECT id FROM claims WHERE status = 'pended'", Raw: true})[0]
	if _, ok := one.Constant(1); ok {
		t.Error("a literal seen once is not a constant of the workload")
	}
}

func TestGroupReasonsAndSplits(t *testing.T) {
	stmts, excl := Group([]Input{
		{Text: "SET search_path = public"},
		{Text: "DO $$ BEGIN PERFORM 1; END $$", Calls: 2, TotalMs: 10},
		{Text: "SELECT 1 FROM claims WHERE id = $1; SELECT 1 FROM payments WHERE id = $1", Calls: 4, TotalMs: 8},
		{Text: "SELECT id FROM claims WHERE", Truncated: true, Calls: 1, TotalMs: 1},
		{Text: sqlparse.HiddenText, QueryID: 5, Calls: 1, TotalMs: 1},
	}, sqlparse.NewParser(nil, 0))
	if excl.Inputs != 1 || excl.Seen != 5 {
		t.Errorf("excluded %+v", excl)
	}
	codes := map[string]int{}
	var split int
	for _, s := range stmts {
		if s.NotPlannable != nil {
			codes[s.NotPlannable.Code]++
			continue
		}
		split++
		if s.Stats.Calls != 4 || s.Stats.TotalMs != 4 {
			t.Errorf("a split statement carries the string's calls and its share of time: %+v", s.Stats)
		}
	}
	if split != 2 || codes[sqlparse.ReasonProcedural] != 1 || codes[sqlparse.ReasonTruncated] != 1 || codes[sqlparse.ReasonHidden] != 1 {
		t.Errorf("split %d, reasons %v", split, codes)
	}
	cov := MeasureCoverage(stmts, 5)
	// Nothing is prepared here: the DO block has no plan of its own, the rest count as
	// not planned.
	if cov.NoPlan != 1 || cov.NotPlanned != 4 || cov.PlannedPct != 0 || len(cov.Left) != 4 || cov.Measure != "time" {
		t.Errorf("coverage %+v", cov)
	}
	if h, calls := Hidden(stmts); h != 1 || calls != 1 {
		t.Errorf("hidden %d %d", h, calls)
	}
}

func TestIsQuery(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1": true, "/* app */ WITH x AS (SELECT 1) SELECT * FROM x": true, "COPY claims FROM STDIN": true,
		"CALL p()": true, "BEGIN": false, "SET x = 1": false, "EXPLAIN SELECT 1": false, "VACUUM": false,
		"CREATE TABLE t AS SELECT 1": true, "CREATE INDEX ON t (a)": false, "": false,
	} {
		if got := IsQuery(q); got != want {
			t.Errorf("IsQuery(%q) = %v", q, got)
		}
	}
}
