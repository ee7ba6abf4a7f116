package report

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/finding"
)

// sarifValidator checks the parts of SARIF 2.1.0 that pgmedic emits: required
// properties, enumerations, URIs, rule references, and no properties outside the
// specification for the objects we write.
type sarifValidator struct {
	errs  []string
	rules []string // driver rule ids, by index
}

func (v *sarifValidator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

func (v *sarifValidator) object(path string, x any, required []string, optional ...string) map[string]any {
	m, ok := x.(map[string]any)
	if !ok {
		v.fail(path, "is %T, want an object", x)
		return nil
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			v.fail(path, "required property %q is missing", k)
		}
	}
	for k := range m {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			v.fail(path, "property %q is not part of what SARIF 2.1.0 defines here", k)
		}
	}
	return m
}

func (v *sarifValidator) array(path string, x any) []any {
	a, ok := x.([]any)
	if !ok {
		v.fail(path, "is %T, want an array", x)
	}
	return a
}

func (v *sarifValidator) str(path string, x any) string {
	s, ok := x.(string)
	if !ok {
		v.fail(path, "is %T, want a string", x)
	} else if s == "" {
		v.fail(path, "is empty")
	}
	return s
}

func (v *sarifValidator) index(path string, x any) int {
	f, ok := x.(float64)
	if !ok || f != float64(int(f)) || f < -1 {
		v.fail(path, "is %v, want an integer >= -1", x)
		return -1
	}
	return int(f)
}

func (v *sarifValidator) uri(path string, x any) {
	u, err := url.Parse(v.str(path, x))
	if err != nil || !u.IsAbs() {
		v.fail(path, "is not an absolute URI (%v)", err)
	}
}

func (v *sarifValidator) level(path string, x any) {
	if s := v.str(path, x); !slices.Contains([]string{"none", "note", "warning", "error"}, s) {
		v.fail(path, "level %q is not none, note, warning or error", s)
	}
}

func (v *sarifValidator) message(path string, x any) {
	if m := v.object(path, x, []string{"text"}); m != nil {
		v.str(path+".text", m["text"])
	}
}

func (v *sarifValidator) ruleRef(path string, id string, idx int) {
	if idx < 0 || idx >= len(v.rules) {
		v.fail(path, "rule index %d is outside the %d rules", idx, len(v.rules))
	} else if v.rules[idx] != id {
		v.fail(path, "rule index %d is %q, not %q", idx, v.rules[idx], id)
	}
}

func (v *sarifValidator) location(path string, x any) {
	m := v.object(path, x, nil, "physicalLocation", "logicalLocations")
	if m == nil {
		return
	}
	if len(m) == 0 {
		v.fail(path, "names no location")
	}
	if p, ok := m["physicalLocation"]; ok {
		pm := v.object(path+".physicalLocation", p, []string{"artifactLocation"})
		if pm != nil {
			am := v.object(path+".physicalLocation.artifactLocation", pm["artifactLocation"], []string{"uri"})
			if am != nil {
				v.uri(path+".physicalLocation.artifactLocation.uri", am["uri"])
			}
		}
	}
	if l, ok := m["logicalLocations"]; ok {
		for i, x := range v.array(path+".logicalLocations", l) {
			lp := fmt.Sprintf("%s.logicalLocations[%d]", path, i)
			lm := v.object(lp, x, nil, "name", "fullyQualifiedName", "kind")
			if lm == nil {
				continue
			}
			for k, val := range lm {
				v.str(lp+"."+k, val)
			}
		}
	}
}

func (v *sarifValidator) properties(path string, x any) {
	if _, ok := x.(map[string]any); !ok {
		v.fail(path, "property bag is %T, want an object", x)
	}
}

// validateSARIF returns what is wrong with a SARIF log, nothing when it is valid.
func validateSARIF(doc []byte) []string {
	v := &sarifValidator{}
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	top := v.object("$", root, []string{"version", "runs"}, "$schema")
	if top == nil {
		return v.errs
	}
	if top["version"] != "2.1.0" {
		v.fail("$.version", "is %v, want 2.1.0", top["version"])
	}
	if s, ok := top["$schema"]; ok {
		v.uri("$.$schema", s)
	}
	for ri, run := range v.array("$.runs", top["runs"]) {
		rp := fmt.Sprintf("$.runs[%d]", ri)
		rm := v.object(rp, run, []string{"tool"}, "invocations", "results")
		if rm == nil {
			continue
		}
		tm := v.object(rp+".tool", rm["tool"], []string{"driver"})
		if tm == nil {
			continue
		}
		dp := rp + ".tool.driver"
		dm := v.object(dp, tm["driver"], []string{"name"}, "version", "informationUri", "rules")
		if dm == nil {
			continue
		}
		v.str(dp+".name", dm["name"])
		if x, ok := dm["version"]; ok {
			v.str(dp+".version", x)
		}
		if x, ok := dm["informationUri"]; ok {
			v.uri(dp+".informationUri", x)
		}
		v.rules = nil
		for i, r := range v.array(dp+".rules", dm["rules"]) {
			p := fmt.Sprintf("%s.rules[%d]", dp, i)
			m := v.object(p, r, []string{"id"}, "name", "shortDescription", "fullDescription", "helpUri", "defaultConfiguration", "properties")
			if m == nil {
				continue
			}
			id := v.str(p+".id", m["id"])
			if slices.Contains(v.rules, id) {
				v.fail(p+".id", "%q is not unique", id)
			}
			v.rules = append(v.rules, id)
			for _, k := range []string{"shortDescription", "fullDescription"} {
				if x, ok := m[k]; ok {
					v.message(p+"."+k, x)
				}
			}
			if x, ok := m["helpUri"]; ok {
				v.uri(p+".helpUri", x)
			}
			if x, ok := m["defaultConfiguration"]; ok {
				if cm := v.object(p+".defaultConfiguration", x, nil, "level"); cm != nil {
					v.level(p+".defaultConfiguration.level", cm["level"])
				}
			}
			if x, ok := m["properties"]; ok {
				v.properties(p+".properties", x)
			}
		}
		if x, ok := rm["invocations"]; ok {
			for i, inv := range v.array(rp+".invocations", x) {
				p := fmt.Sprintf("%s.invocations[%d]", rp, i)
				im := v.object(p, inv, []string{"executionSuccessful"}, "toolExecutionNotifications")
				if im == nil {
					continue
				}
				if _, ok := im["executionSuccessful"].(bool); !ok {
					v.fail(p+".executionSuccessful", "is not a boolean")
				}
				if nx, ok := im["toolExecutionNotifications"]; ok {
					for j, n := range v.array(p+".toolExecutionNotifications", nx) {
						np := fmt.Sprintf("%s.toolExecutionNotifications[%d]", p, j)
						nm := v.object(np, n, []string{"message"}, "level", "associatedRule", "locations", "properties")
						if nm == nil {
							continue
						}
						v.message(np+".message", nm["message"])
						if l, ok := nm["level"]; ok {
							v.level(np+".level", l)
						}
						if a, ok := nm["associatedRule"]; ok {
							if am := v.object(np+".associatedRule", a, []string{"id", "index"}); am != nil {
								v.ruleRef(np+".associatedRule", v.str(np+".associatedRule.id", am["id"]), v.index(np+".associatedRule.index", am["index"]))
							}
						}
						if l, ok := nm["locations"]; ok {
							for k, loc := range v.array(np+".locations", l) {
								v.location(fmt.Sprintf("%s.locations[%d]", np, k), loc)
							}
						}
					}
				}
			}
		}
		if x, ok := rm["results"]; ok {
			for i, res := range v.array(rp+".results", x) {
				p := fmt.Sprintf("%s.results[%d]", rp, i)
				m := v.object(p, res, []string{"message"}, "ruleId", "ruleIndex", "level", "locations", "partialFingerprints", "properties")
				if m == nil {
					continue
				}
				v.message(p+".message", m["message"])
				id := v.str(p+".ruleId", m["ruleId"])
				if idx, ok := m["ruleIndex"]; ok {
					v.ruleRef(p, id, v.index(p+".ruleIndex", idx))
				} else if !slices.Contains(v.rules, id) {
					v.fail(p+".ruleId", "%q has no rule", id)
				}
				if l, ok := m["level"]; ok {
					v.level(p+".level", l)
				}
				if l, ok := m["locations"]; ok {
					for k, loc := range v.array(p+".locations", l) {
						v.location(fmt.Sprintf("%s.locations[%d]", p, k), loc)
					}
				}
				if fp, ok := m["partialFingerprints"]; ok {
					if fm := v.object(p+".partialFingerprints", fp, nil, "pgmedicFindingId"); fm != nil {
						for k, val := range fm {
							v.str(p+".partialFingerprints."+k, val)
						}
					}
				}
				if x, ok := m["properties"]; ok {
					v.properties(p+".properties", x)
				}
			}
		}
	}
	return v.errs
}

// The validator must catch what it claims to, or the SARIF test proves nothing.
func TestSARIFValidatorCatchesErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"wrong version":  `{"version":"2.0.0","runs":[]}`,
		"no driver name": `{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		"bad level": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"a"}]}},
			"results":[{"ruleId":"a","ruleIndex":0,"level":"fatal","message":{"text":"m"}}]}]}`,
		"rule index mismatch": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"a"}]}},
			"results":[{"ruleId":"b","ruleIndex":0,"message":{"text":"m"}}]}]}`,
		"no message": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"a"}]}},"results":[{"ruleId":"a"}]}]}`,
		"relative uri": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"a"}]}},
			"results":[{"ruleId":"a","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"%zz"}}}]}]}]}`,
		"misspelt property":      `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"a","shortDesc":{"text":"t"}}]}}}]}`,
		"no executionSuccessful": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"invocations":[{}]}]}`,
	} {
		if errs := validateSARIF([]byte(doc)); len(errs) == 0 {
			t.Errorf("%s: validator accepted %s", name, doc)
		}
	}
}

// sarifDoc is the part of our SARIF output the tests read.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID                   string `json:"id"`
					HelpURI              string `json:"helpUri"`
					DefaultConfiguration struct{ Level string }
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful        bool `json:"executionSuccessful"`
			ToolExecutionNotifications []struct {
				Level          string
				Message        struct{ Text string }
				AssociatedRule struct{ ID string }
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			Level     string `json:"level"`
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					Name, FullyQualifiedName, Kind string
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          struct {
				Severity string
				Area     string
				Evidence []finding.Evidence
			} `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func TestSARIF(t *testing.T) {
	in := fixture()
	out := render(t, SARIF, in, Options{})
	if errs := validateSARIF([]byte(out)); len(errs) > 0 {
		t.Fatalf("invalid SARIF:\n%s", strings.Join(errs, "\n"))
	}
	var doc sarifDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "https://json.schemastore.org/sarif-2.1.0.json" || doc.Version != "2.1.0" || len(doc.Runs) != 1 {
		t.Fatalf("$schema %q, version %q, %d runs", doc.Schema, doc.Version, len(doc.Runs))
	}
	run := doc.Runs[0]
	d := run.Tool.Driver
	if d.Name != "pgmedic" || d.Version != "0.1.0" || d.InformationURI != "https://github.com/pgmedic/pgmedic" {
		t.Errorf("driver = %q %q %q", d.Name, d.Version, d.InformationURI)
	}

	rules := map[string]string{} // id → default level
	for _, r := range d.Rules {
		rules[r.ID] = r.DefaultConfiguration.Level
	}
	// Every check that ran, plus the checks that reported without being listed.
	for _, c := range in.Checks {
		if _, ok := rules[c.ID]; !ok {
			t.Errorf("no rule for check %s", c.ID)
		}
	}
	for _, id := range []string{"config.ssl", "security.pgaudit"} {
		if _, ok := rules[id]; !ok {
			t.Errorf("no rule for unlisted check %s", id)
		}
	}
	if rules["backup.archiving"] != "error" || rules["index.unused"] != "note" || rules["index.missing-fk"] != "warning" {
		t.Errorf("rule levels = %v", rules)
	}
	if d.Rules[0].ID != "security.rls-missing" || d.Rules[0].HelpURI != "https://www.postgresql.org/docs/15/ddl-rowsecurity.html" {
		t.Errorf("first rule %s has helpUri %q, want the first reference with a URL", d.Rules[0].ID, d.Rules[0].HelpURI)
	}

	byID := map[string]finding.Finding{}
	for _, f := range in.Findings {
		byID[f.ID] = f
	}
	wantLevel := map[finding.Severity]string{
		finding.Critical: "error", finding.High: "error", finding.Medium: "warning", finding.Low: "note", finding.Info: "note",
	}
	if len(run.Results) != 7 {
		t.Errorf("%d results, want the 7 open findings", len(run.Results))
	}
	for _, r := range run.Results {
		f, ok := byID[r.PartialFingerprints["pgmedicFindingId"]]
		if !ok {
			t.Errorf("result %s has fingerprint %v, not a finding id", r.RuleID, r.PartialFingerprints)
			continue
		}
		if f.Status == finding.Unknown {
			t.Errorf("unknown finding %s reported as a result", f.ID)
		}
		if _, ok := rules[r.RuleID]; !ok || r.RuleID != f.Check {
			t.Errorf("result ruleId %q: finding check %q, rule present %v", r.RuleID, f.Check, ok)
		}
		if r.Level != wantLevel[f.Severity] {
			t.Errorf("%s: level %q, want %q for %s", f.ID, r.Level, wantLevel[f.Severity], f.Severity)
		}
		if !strings.HasPrefix(r.Message.Text, f.Title) || !strings.Contains(r.Message.Text, f.Recommendation) {
			t.Errorf("%s: message %q lacks title or recommendation", f.ID, r.Message.Text)
		}
		if r.Properties.Severity != f.Severity.String() || r.Properties.Area != f.Area || len(r.Properties.Evidence) != len(f.Evidence) {
			t.Errorf("%s: properties = %+v", f.ID, r.Properties)
		}
		if len(r.Locations) != 1 || len(r.Locations[0].LogicalLocations) != 1 {
			t.Fatalf("%s: locations = %+v", f.ID, r.Locations)
		}
		loc := r.Locations[0]
		u, err := url.Parse(loc.PhysicalLocation.ArtifactLocation.URI)
		if err != nil || u.Scheme != "postgresql" || u.Host != "clinic" || strings.TrimPrefix(u.Path, "/") != f.Object {
			t.Errorf("%s: uri %q (%v) does not name clinic/%s", f.ID, loc.PhysicalLocation.ArtifactLocation.URI, err, f.Object)
		}
		if f.Object != "" {
			ll := loc.LogicalLocations[0]
			if ll.Name != f.Object || ll.FullyQualifiedName != "clinic/"+f.Object || ll.Kind != "object" {
				t.Errorf("%s: logical location = %+v", f.ID, ll)
			}
		}
	}

	if len(run.Invocations) != 1 || !run.Invocations[0].ExecutionSuccessful {
		t.Fatalf("invocations = %+v", run.Invocations)
	}
	notes := run.Invocations[0].ToolExecutionNotifications
	if len(notes) != 1 || notes[0].Level != "warning" || notes[0].AssociatedRule.ID != "security.pgaudit" ||
		!strings.Contains(notes[0].Message.Text, "pgaudit is not installed") {
		t.Errorf("notifications = %+v, want the unknown pgaudit check as a warning", notes)
	}
}

func TestSARIFEmpty(t *testing.T) {
	out := render(t, SARIF, &Input{}, Options{})
	if errs := validateSARIF([]byte(out)); len(errs) > 0 {
		t.Fatalf("invalid SARIF:\n%s", strings.Join(errs, "\n"))
	}
	// An empty results array says "ran and found nothing"; a missing one would not.
	if !strings.Contains(out, `"results": []`) {
		t.Errorf("no empty results array:\n%s", out)
	}
}

func TestSARIFHelpers(t *testing.T) {
	for in, want := range map[string]string{"index.missing-fk": "IndexMissingFk", "vacuum.xid_age": "VacuumXidAge", "": ""} {
		if got := pascalName(in); got != want {
			t.Errorf("pascalName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"pgmedic 0.1.0": "0.1.0", "pgmedic": "", "": ""} {
		if got := toolVersion(in); got != want {
			t.Errorf("toolVersion(%q) = %q, want %q", in, got, want)
		}
	}
	// A database name must not read as user info or a port.
	loc := sarifLocationOf("a@b:5432", "x/y?z")
	if got, want := loc.PhysicalLocation.ArtifactLocation.URI, "postgresql://a%40b%3A5432/x%2Fy%3Fz"; got != want {
		t.Errorf("uri = %q, want %q", got, want)
	}
	f := finding.Finding{ID: "a", Severity: finding.High, Title: "T"}
	out := render(t, SARIF, &Input{Findings: []finding.Finding{f}}, Options{})
	if !strings.Contains(out, `"ruleId": "`+unnamedCheck+`"`) {
		t.Errorf("a finding without a check has no rule id:\n%s", out)
	}
}
