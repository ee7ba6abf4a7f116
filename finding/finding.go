// Package finding holds the one result type every pgmedic analyzer returns, and the
// fix plans attached to findings. Nothing here talks to a database.
package finding

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Severity orders findings by how soon someone should act.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads "critical", "high", "medium", "low" or "info".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (allowed: %s)", s, strings.Join(SeverityNames(), ", "))
}

// SeverityNames lists the severities from most to least urgent.
func SeverityNames() []string {
	out := slices.Clone(severityNames)
	slices.Reverse(out)
	return out
}

func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Raise moves a severity up by n steps, capped at Critical.
func (s Severity) Raise(n int) Severity {
	v := s + Severity(n)
	if v > Critical {
		return Critical
	}
	return v
}

// Status says whether a finding reports a problem or a check that could not decide.
type Status string

const (
	// Open is a problem the check found.
	Open Status = "open"
	// Unknown means the check could not decide (missing privilege, extension, data);
	// it is never a silent pass.
	Unknown Status = "unknown"
)

// Evidence is one number behind a finding.
type Evidence struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Reference points to where the finding's reasoning is documented.
type Reference struct {
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
}

// Finding is one result of one check about one object.
type Finding struct {
	// ID is stable across runs for the same check and object, so tickets and CI
	// baselines can follow a finding from one report to the next.
	ID             string      `json:"id"`
	Check          string      `json:"check"`
	Area           string      `json:"area"`
	Severity       Severity    `json:"severity"`
	Status         Status      `json:"status"`
	Object         string      `json:"object,omitempty"`
	Title          string      `json:"title"`
	Detail         string      `json:"detail,omitempty"`
	Evidence       []Evidence  `json:"evidence,omitempty"`
	Recommendation string      `json:"recommendation,omitempty"`
	Fix            *Plan       `json:"fix,omitempty"`
	References     []Reference `json:"references,omitempty"`
	// PHI is set when the object holds protected health information (the finding's
	// priority was raised for it).
	PHI bool `json:"phi,omitempty"`
}

// MakeID builds the stable id of a check's finding about object.
func MakeID(check, object string) string {
	if object == "" {
		return check
	}
	return check + ":" + object
}

// Evidence returns the value of the named evidence and whether it is present.
func (f *Finding) EvidenceValue(name string) (float64, bool) {
	for _, e := range f.Evidence {
		if e.Name == name {
			return e.Value, true
		}
	}
	return 0, false
}

// Sort orders findings most urgent first, then by area, check and object, so reports
// and golden files are stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if (a.Status == Unknown) != (b.Status == Unknown) {
			return b.Status == Unknown
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Area != b.Area {
			return a.Area < b.Area
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Object < b.Object
	})
}

// Summary counts findings by severity.
type Summary struct {
	Total      int            `json:"total"`
	Unknown    int            `json:"unknown"`
	BySeverity map[string]int `json:"by_severity"`
	ByArea     map[string]int `json:"by_area"`
	Highest    string         `json:"highest,omitempty"`
}

// Summarize counts open findings by severity and area, and unknowns apart.
func Summarize(fs []Finding) Summary {
	s := Summary{BySeverity: map[string]int{}, ByArea: map[string]int{}}
	for _, n := range severityNames {
		s.BySeverity[n] = 0
	}
	highest := Severity(-1)
	for _, f := range fs {
		if f.Status == Unknown {
			s.Unknown++
			continue
		}
		s.Total++
		s.BySeverity[f.Severity.String()]++
		s.ByArea[f.Area]++
		if f.Severity > highest {
			highest = f.Severity
		}
	}
	if highest >= 0 {
		s.Highest = highest.String()
	}
	return s
}

// AtLeast reports whether any open finding has severity s or above.
func AtLeast(fs []Finding, s Severity) bool {
	for _, f := range fs {
		if f.Status != Unknown && f.Severity >= s {
			return true
		}
	}
	return false
}
