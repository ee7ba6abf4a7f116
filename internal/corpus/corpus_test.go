package corpus

import (
	"bytes"
	"strings"
	"testing"
)

func TestSourcesLoad(t *testing.T) {
	sources := Sources()
	if len(sources) < 10 {
		t.Fatalf("Sources() = %v, want the ORM, query builder and pgbench captures", sources)
	}
	for _, want := range []string{"sqlalchemy-core", "django", "activerecord", "gorm", "pgbench-prepared"} {
		found := false
		for _, s := range sources {
			found = found || s == want
		}
		if !found {
			t.Errorf("Sources() = %v, missing %q", sources, want)
		}
	}
	for _, s := range sources {
		stmts, err := Load(s)
		if err != nil {
			t.Errorf("Load(%q): %v", s, err)
			continue
		}
		if len(stmts) == 0 {
			t.Errorf("Load(%q): no statements", s)
		}
		var calls int64
		for _, st := range stmts {
			if strings.TrimSpace(st.Query) == "" {
				t.Errorf("Load(%q): empty query in %+v", s, st)
			}
			if st.Calls < 1 {
				t.Errorf("Load(%q): %q has calls %d", s, st.Query, st.Calls)
			}
			calls += st.Calls
		}
		lg, err := Log(s)
		if err != nil {
			t.Errorf("Log(%q): %v", s, err)
			continue
		}
		if len(lg) == 0 || !bytes.Contains(lg, []byte(" LOG:  duration: ")) {
			t.Errorf("Log(%q): %d bytes, no duration lines", s, len(lg))
		}
		if len(lg) > 2<<20 {
			t.Errorf("Log(%q) is %d bytes, want at most 2 MiB", s, len(lg))
		}
		t.Logf("%s: %d statements, %d calls, log %d bytes", s, len(stmts), calls, len(lg))
	}
}

func TestBadSource(t *testing.T) {
	for _, s := range []string{"", "nope", "../corpus", "pgbench/reporting"} {
		if _, err := Load(s); err == nil {
			t.Errorf("Load(%q): no error", s)
		}
		if _, err := Log(s); err == nil {
			t.Errorf("Log(%q): no error", s)
		}
	}
}
