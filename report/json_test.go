package report

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// jsonBack is the documented layout, decoded strictly so an unexpected key fails.
type jsonBack struct {
	Version     string            `json:"version"`
	Tool        string            `json:"tool"`
	CollectedAt string            `json:"collected_at"`
	Server      Server            `json:"server"`
	Findings    []finding.Finding `json:"findings"`
	Summary     finding.Summary   `json:"summary"`
	Parts       []snapshot.Part   `json:"parts"`
}

func decodeJSONReport(t *testing.T, out string) jsonBack {
	t.Helper()
	var r jsonBack
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("JSON report does not parse back: %v", err)
	}
	return r
}

func TestJSONReport(t *testing.T) {
	in := fixture()
	out := render(t, JSON, in, Options{})
	r := decodeJSONReport(t, out)

	if r.Version != SchemaVersion || r.Tool != "pgmedic 0.1.0" || r.Server != in.Server {
		t.Errorf("header = %q %q %+v", r.Version, r.Tool, r.Server)
	}
	at, err := time.Parse(time.RFC3339, r.CollectedAt)
	if err != nil || !at.Equal(in.CollectedAt) {
		t.Errorf("collected_at = %q (%v), want %s in RFC 3339", r.CollectedAt, err, in.CollectedAt)
	}

	want := finding.Summary{
		Total: 7, Unknown: 1, Highest: "critical",
		BySeverity: map[string]int{"critical": 1, "high": 2, "medium": 2, "low": 1, "info": 1},
		ByArea:     map[string]int{"config": 2, "indexes": 2, "performance": 1, "security": 1, "vacuum": 1},
	}
	if !reflect.DeepEqual(r.Summary, want) {
		t.Errorf("summary = %+v, want %+v", r.Summary, want)
	}

	// Findings come back complete and sorted.
	if len(r.Findings) != len(in.Findings) {
		t.Fatalf("%d findings, want %d", len(r.Findings), len(in.Findings))
	}
	sorted := slices.Clone(r.Findings)
	finding.Sort(sorted)
	if !reflect.DeepEqual(sorted, r.Findings) {
		t.Errorf("findings are not in finding.Sort order: %v", ids(r.Findings))
	}
	expected := slices.Clone(in.Findings)
	finding.Sort(expected)
	if !reflect.DeepEqual(expected, r.Findings) {
		t.Errorf("findings changed on the way through JSON")
	}
	if r.Findings[0].Severity != finding.Critical || r.Findings[len(r.Findings)-1].Status != finding.Unknown {
		t.Errorf("want the critical finding first and the unknown last: %v", ids(r.Findings))
	}
	if !reflect.DeepEqual(r.Parts, in.Parts) {
		t.Errorf("parts = %+v, want %+v", r.Parts, in.Parts)
	}
}

func ids(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// The top-level keys come in the documented order, so diffs of reports stay small.
func TestJSONKeyOrder(t *testing.T) {
	out := render(t, JSON, fixture(), Options{})
	dec := json.NewDecoder(strings.NewReader(out))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"version", "tool", "collected_at", "server", "findings", "summary", "parts"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if !strings.HasPrefix(out, "{\n  \"version\": \"1\",\n") {
		t.Errorf("output is not indented: %.40q", out)
	}
	if again := render(t, JSON, fixture(), Options{}); again != out {
		t.Error("two renderings of the same input differ")
	}
}

// An empty report has lists, not nulls, so consumers can iterate without checks.
func TestJSONEmpty(t *testing.T) {
	out := render(t, JSON, &Input{}, Options{})
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"findings", "parts"} {
		if string(raw[k]) != "[]" {
			t.Errorf("%s = %s, want []", k, raw[k])
		}
	}
	r := decodeJSONReport(t, out)
	if r.Summary.Total != 0 || r.Summary.Highest != "" || len(r.Summary.BySeverity) != 5 {
		t.Errorf("empty summary = %+v", r.Summary)
	}
}

// SCHEMA.md documents every key the report uses, so the doc cannot fall behind.
func TestSchemaDocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "# pgmedic JSON report, schema version "+SchemaVersion+"\n") {
		t.Errorf("SCHEMA.md is not about version %s", SchemaVersion)
	}
	var v any
	if err := json.Unmarshal([]byte(render(t, JSON, fixture(), Options{})), &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, val := range x {
				// by_severity and by_area are keyed by data, not by the schema.
				if path != "by_severity" && path != "by_area" {
					keys[k] = true
				}
				walk(k, val)
			}
		case []any:
			for _, val := range x {
				walk(path, val)
			}
		}
	}
	walk("", v)
	for k := range keys {
		if !strings.Contains(string(doc), "| `"+k+"` |") {
			t.Errorf("SCHEMA.md does not document %q", k)
		}
	}
}
