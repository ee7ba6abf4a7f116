package report

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/pgmedic/pgmedic/finding"
)

// SARIF constants of the log we emit.
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	toolName     = "pgmedic"
	toolURI      = "https://github.com/pgmedic/pgmedic"
)

// The subset of SARIF 2.1.0 pgmedic emits. Structs keep the key order fixed.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name,omitempty"`
		ShortDescription     sarifMessage   `json:"shortDescription"`
		FullDescription      sarifMessage   `json:"fullDescription"`
		HelpURI              string         `json:"helpUri,omitempty"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           sarifRuleProps `json:"properties"`
	}
	sarifRuleProps struct {
		Tags []string `json:"tags,omitempty"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifMessage      `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          sarifProps        `json:"properties"`
	}
	sarifProps struct {
		Severity string             `json:"severity"`
		Area     string             `json:"area"`
		Evidence []finding.Evidence `json:"evidence"`
		PHI      bool               `json:"phi,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical  `json:"physicalLocation"`
		LogicalLocations []sarifLogical `json:"logicalLocations"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level          string          `json:"level"`
		Message        sarifMessage    `json:"message"`
		AssociatedRule *sarifRuleRef   `json:"associatedRule,omitempty"`
		Locations      []sarifLocation `json:"locations"`
		Properties     sarifProps      `json:"properties"`
	}
	sarifRuleRef struct {
		ID    string `json:"id"`
		Index int    `json:"index"`
	}
)

// unnamedCheck is the rule id of a finding that names no check; SARIF needs one.
const unnamedCheck = "pgmedic.unnamed"

func writeSARIF(w io.Writer, v *view) error {
	in := v.in
	rules, index := sarifRules(in.Checks, v.all)
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           toolName,
			Version:        toolVersion(in.Tool),
			InformationURI: toolURI,
			Rules:          rules,
		}},
		Results: []sarifResult{},
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, f := range v.all {
		id := ruleID(f.Check)
		props := sarifProps{Severity: f.Severity.String(), Area: f.Area, Evidence: f.Evidence, PHI: f.PHI}
		if props.Evidence == nil {
			props.Evidence = []finding.Evidence{}
		}
		loc := sarifLocationOf(in.Server.Database, f.Object)
		if f.Status == finding.Unknown {
			// A check that could not decide is a fact about the run, not a result: CI
			// must not count it as a problem nor as a pass.
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level:          "warning",
				Message:        sarifMessage{Text: sentences("Could not decide: "+f.Title, f.Detail, f.Recommendation)},
				AssociatedRule: &sarifRuleRef{ID: id, Index: index[id]},
				Locations:      []sarifLocation{loc},
				Properties:     props,
			})
			continue
		}
		run.Results = append(run.Results, sarifResult{
			RuleID:              id,
			RuleIndex:           index[id],
			Level:               sarifLevel(f.Severity),
			Message:             sarifMessage{Text: sentences(f.Title, f.Detail, f.Recommendation)},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"pgmedicFindingId": f.ID},
			Properties:          props,
		})
	}
	run.Invocations = []sarifInvocation{inv}
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// sarifRules returns a rule per check that ran, in the order given, then one per check
// that produced a finding but was not listed (sorted by id), and each rule's index.
func sarifRules(checks []CheckInfo, fs []finding.Finding) ([]sarifRule, map[string]int) {
	rules := []sarifRule{}
	index := map[string]int{}
	add := func(r sarifRule) {
		if _, dup := index[r.ID]; dup {
			return
		}
		index[r.ID] = len(rules)
		rules = append(rules, r)
	}
	for _, c := range checks {
		add(newRule(c))
	}
	// fs is sorted most severe first, so a rule made from a check's first finding gets
	// the check's highest severity.
	var extra []sarifRule
	seen := map[string]bool{}
	for _, f := range fs {
		id := ruleID(f.Check)
		if _, ok := index[id]; ok || seen[id] {
			continue
		}
		seen[id] = true
		extra = append(extra, newRule(CheckInfo{
			ID: id, Area: f.Area, Title: f.Title, Severity: f.Severity, References: f.References,
		}))
	}
	slices.SortFunc(extra, func(a, b sarifRule) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range extra {
		add(r)
	}
	return rules, index
}

func newRule(c CheckInfo) sarifRule {
	id := ruleID(c.ID)
	short := oneLine(c.Title)
	if short == "" {
		short = id
	}
	full := oneLine(c.Description)
	if full == "" {
		full = short
	}
	r := sarifRule{
		ID:                   id,
		Name:                 pascalName(id),
		ShortDescription:     sarifMessage{Text: short},
		FullDescription:      sarifMessage{Text: full},
		DefaultConfiguration: sarifConfig{Level: sarifLevel(c.Severity)},
	}
	for _, ref := range c.References {
		if ref.URL != "" {
			r.HelpURI = ref.URL
			break
		}
	}
	if c.Area != "" {
		r.Properties.Tags = []string{c.Area}
	}
	return r
}

func ruleID(check string) string {
	if check == "" {
		return unnamedCheck
	}
	return check
}

// sarifLevel maps a severity to a SARIF level: critical and high fail CI as errors.
func sarifLevel(s finding.Severity) string {
	switch {
	case s >= finding.High:
		return "error"
	case s == finding.Medium:
		return "warning"
	default:
		return "note"
	}
}

// sarifLocationOf names the object both logically and as a postgresql:// URI, which
// code-scanning UIs need to show a result at all.
func sarifLocationOf(database, object string) sarifLocation {
	name, fqn := object, database+"/"+object
	if object == "" {
		name, fqn = database, database
	}
	uri := "postgresql://" + escapeURIPart(database) + "/" + escapeURIPart(object)
	return sarifLocation{
		PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}},
		LogicalLocations: []sarifLogical{{Name: name, FullyQualifiedName: fqn, Kind: "object"}},
	}
}

// escapeURIPart percent-encodes everything but RFC 3986 unreserved characters, so a
// database name cannot read as user info or port, nor an object name as a path or query.
func escapeURIPart(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// toolVersion takes the version from a tool string like "pgmedic 0.1.0".
func toolVersion(tool string) string {
	f := strings.Fields(tool)
	if len(f) < 2 {
		return ""
	}
	return f[len(f)-1]
}

// pascalName turns a check id like "index.missing-fk" into "IndexMissingFk", the form
// SARIF suggests for rule names.
func pascalName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
