package finding

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSeverityParseAndJSON(t *testing.T) {
	for i, name := range []string{"info", "low", "medium", "high", "critical"} {
		s, err := ParseSeverity(" " + strings.ToUpper(name) + " ")
		if err != nil || s != Severity(i) || s.String() != name {
			t.Errorf("ParseSeverity(%q) = %v, %v", name, s, err)
		}
		b, _ := json.Marshal(s)
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("JSON round trip of %s: %s -> %v (%v)", s, b, back, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil || !strings.Contains(err.Error(), "critical, high, medium, low, info") {
		t.Errorf("bad severity error: %v", err)
	}
	if High.Raise(1) != Critical || Critical.Raise(3) != Critical || Low.Raise(0) != Low {
		t.Error("Raise")
	}
}

func TestSortSummarizeAtLeast(t *testing.T) {
	fs := []Finding{
		{Check: "b", Area: "x", Severity: Low, Status: Open},
		{Check: "a", Area: "x", Severity: Info, Status: Unknown},
		{Check: "c", Area: "y", Severity: Critical, Status: Open},
		{Check: "a", Area: "x", Severity: Low, Status: Open, Object: "z"},
		{Check: "a", Area: "x", Severity: Low, Status: Open, Object: "a"},
	}
	Sort(fs)
	order := []string{"c", "a:a", "a:z", "b", "a"}
	for i, f := range fs {
		got := f.Check
		if f.Object != "" {
			got += ":" + f.Object
		}
		if got != order[i] {
			t.Fatalf("position %d: %s, want %s", i, got, order[i])
		}
	}
	s := Summarize(fs)
	if s.Total != 4 || s.Unknown != 1 || s.BySeverity["low"] != 3 || s.BySeverity["critical"] != 1 || s.Highest != "critical" || s.ByArea["x"] != 3 {
		t.Errorf("summary: %+v", s)
	}
	if !AtLeast(fs, Critical) || AtLeast(fs[1:], Medium) {
		t.Error("AtLeast")
	}
	// Unknowns never trip --fail-on.
	if AtLeast([]Finding{{Severity: Critical, Status: Unknown}}, Low) {
		t.Error("an unknown counted as a finding")
	}
}

func TestPlanSQL(t *testing.T) {
	p := Plan{Summary: "fix it", Steps: []Step{
		{Description: "first", SQL: "CREATE INDEX CONCURRENTLY i ON t (a)", Lock: "SHARE UPDATE EXCLUSIVE"},
		{Description: "second", SQL: "ANALYZE t;"},
	}}
	want := "-- fix it\n-- step 1: first (takes SHARE UPDATE EXCLUSIVE)\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- step 2: second\nANALYZE t;\n"
	if got := p.SQL(); got != want {
		t.Errorf("SQL() =\n%s\nwant\n%s", got, want)
	}
}

// Every cited HIPAA section has its own title and eCFR anchor.
func TestHIPAARefs(t *testing.T) {
	seen := map[string]bool{}
	for r := AccessControl; r <= MinimumNecessary; r++ {
		ref := HIPAARef(r)
		if !strings.HasPrefix(ref.Title, "HIPAA 45 CFR 164.") || !strings.Contains(ref.URL, "#p-164.") || seen[ref.URL] {
			t.Errorf("rule %d: %+v", r, ref)
		}
		seen[ref.URL] = true
	}
	if got := HIPAARef(MinimumNecessary).URL; got != "https://www.ecfr.gov/current/title-45/section-164.502#p-164.502(b)" {
		t.Errorf("minimum necessary: %s", got)
	}
	if got := DocsRef("indexes.html", "Indexes"); got.URL != "https://www.postgresql.org/docs/current/indexes.html" || got.Title != "PostgreSQL documentation: Indexes" {
		t.Errorf("docs: %+v", got)
	}
}
