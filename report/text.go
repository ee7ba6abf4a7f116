package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/snapshot"
)

// ANSI sequences of the text format.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiBoldRd = "\x1b[1;31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiPurple = "\x1b[35m"
)

// Indentation of a finding's body and of its fix script.
const (
	bodyIndent = "  "
	sqlIndent  = "    "
)

// textWriter accumulates the text report; it writes once at the end so a failing
// writer is reported once.
type textWriter struct {
	b     strings.Builder
	width int
	color bool
}

func writeText(w io.Writer, v *view) error {
	t := &textWriter{width: v.width, color: v.colorize}
	t.header(v)
	t.summary(v)
	for _, g := range groupByArea(v.open) {
		area := g.Area
		if area == "" {
			area = "other"
		}
		t.heading(area)
		for _, f := range g.Findings {
			t.finding(f)
		}
	}
	if len(v.unknown) > 0 {
		t.heading("Could not decide")
		for _, f := range v.unknown {
			t.finding(f)
		}
	}
	t.collection(v.in.Parts)
	_, err := io.WriteString(w, t.b.String())
	return err
}

func (t *textWriter) header(v *view) {
	in := v.in
	title := "pgmedic report"
	if in.Tool != "" {
		title = in.Tool + " report"
	}
	t.line(t.paint(ansiBold, clean(title)))
	db := in.Server.Database
	if db == "" {
		db = "unknown"
	}
	if in.Server.User != "" {
		db += " (user " + in.Server.User + ")"
	}
	t.para("Server:    ", "           ", serverLine(in.Server))
	t.para("Database:  ", "           ", db)
	t.para("Collected: ", "           ", collectedLine(in.CollectedAt))
	for _, n := range in.Notes {
		t.para("Note: ", "      ", n)
	}
	t.line("")
}

func (t *textWriter) summary(v *view) {
	s := v.summary
	var words []string
	if s.Total == 0 {
		words = append(words, "Summary:", "no", "open", "findings")
	} else {
		noun := "findings"
		if s.Total == 1 {
			noun = "finding"
		}
		words = append(words, "Summary:", fmt.Sprint(s.Total), "open", noun)
		for i, sev := range severityOrder() {
			w := fmt.Sprintf("%s %d", sev, s.BySeverity[sev.String()])
			if i == 0 {
				w = "(" + w
			}
			if i == len(severityOrder())-1 {
				w += ")"
			} else {
				w += ","
			}
			words = append(words, w)
		}
	}
	if s.Unknown > 0 {
		words[len(words)-1] += ";"
		words = append(words, fmt.Sprint(s.Unknown), "could", "not", "be", "decided")
	}
	lines := wrapWords(words, "", "         ", t.width)
	if t.color {
		// Colour each non-zero severity count; wrapping was measured on the plain text.
		for i := range lines {
			for _, sev := range severityOrder() {
				if n := s.BySeverity[sev.String()]; n > 0 {
					plain := fmt.Sprintf("%s %d", sev, n)
					lines[i] = strings.Replace(lines[i], plain, t.paint(severityColor(sev), plain), 1)
				}
			}
		}
	}
	for _, l := range lines {
		t.line(l)
	}
}

func (t *textWriter) heading(name string) {
	t.line("")
	t.line(t.paint(ansiBold, "== "+clean(name)+" =="))
}

func (t *textWriter) finding(f finding.Finding) {
	t.line("")
	tag := "[" + severityLabel(f.Severity) + "]"
	color := severityColor(f.Severity)
	if f.Status == finding.Unknown {
		tag, color = "[UNKNOWN]", ansiPurple
	}
	lines := wrapWords(append([]string{tag}, strings.Fields(clean(f.Title))...), "", bodyIndent, t.width)
	lines[0] = t.paint(color, tag) + strings.TrimPrefix(lines[0], tag)
	for _, l := range lines {
		t.line(l)
	}
	var about []string
	if f.Object != "" {
		about = append(about, "object:")
		about = append(about, strings.Fields(clean(f.Object))...)
		if f.PHI {
			about = append(about, "[PHI]")
		}
	}
	if f.Check != "" {
		if len(about) > 0 {
			about = append(about, "·")
		}
		about = append(about, "check:", clean(f.Check))
	}
	if len(about) > 0 {
		t.wrapped(about, bodyIndent, bodyIndent+"  ")
	}
	if f.Detail != "" {
		first := ""
		if f.Status == finding.Unknown {
			first = "reason: "
		}
		for i, l := range strings.Split(f.Detail, "\n") {
			if i > 0 {
				first = ""
			}
			t.para(bodyIndent+first, bodyIndent, l)
		}
	}
	if len(f.Evidence) > 0 {
		words := []string{"evidence:"}
		for i, e := range f.Evidence {
			// "name=value unit" is one word, so a value is never parted from its unit.
			pair := []string{clean(evidenceText(e))}
			if e.Unit == "bytes" && math.Abs(e.Value) >= 1024 && math.Abs(e.Value) < math.MaxInt64 {
				pair = append(pair, "("+humanBytes(int64(e.Value))+")")
			}
			if i < len(f.Evidence)-1 {
				pair[len(pair)-1] += ","
			}
			words = append(words, pair...)
		}
		t.wrapped(words, bodyIndent, bodyIndent+"  ")
	}
	if f.Recommendation != "" {
		t.para(bodyIndent+"recommendation: ", bodyIndent+"  ", f.Recommendation)
	}
	if f.Fix != nil && len(f.Fix.Steps) > 0 {
		t.line(bodyIndent + "fix:")
		// SQL is never wrapped: a wrapped "--" comment would turn its tail into SQL.
		for _, l := range strings.Split(strings.TrimRight(f.Fix.SQL(), "\n"), "\n") {
			t.line(sqlIndent + clean(l))
		}
	}
	if len(f.References) > 0 {
		for _, r := range f.References {
			words := append([]string{"see:"}, strings.Fields(clean(r.Title))...)
			if r.URL != "" {
				words = append(words, "<"+clean(r.URL)+">")
			}
			t.wrapped(words, bodyIndent, bodyIndent+"  ")
		}
	}
}

// collection ends the report with how the collection went, naming the parts that could
// not be read: a check that needed them is missing, not passed.
func (t *textWriter) collection(parts []snapshot.Part) {
	if len(parts) == 0 {
		return
	}
	var total float64
	var problems []string
	for _, p := range parts {
		total += p.DurationMs
		if p.Status != snapshot.PartOK {
			s := p.Name + " " + p.Status
			if p.Reason != "" {
				s += " (" + p.Reason + ")"
			}
			problems = append(problems, s)
		}
	}
	t.line("")
	words := strings.Fields(fmt.Sprintf("Collection: %d parts in %s", len(parts), humanMs(total)))
	if len(problems) > 0 {
		words[len(words)-1] += ";"
		for i, p := range problems {
			if i < len(problems)-1 {
				p += ";"
			}
			words = append(words, strings.Fields(clean(p))...)
		}
	}
	t.wrapped(words, "", "  ")
}

func (t *textWriter) line(s string) {
	t.b.WriteString(strings.TrimRight(s, " "))
	t.b.WriteByte('\n')
}

// para wraps one line of prose after prefix, continuing under rest.
func (t *textWriter) para(prefix, rest, s string) {
	if words := strings.Fields(clean(s)); len(words) > 0 {
		t.wrapped(words, prefix, rest)
	}
}

func (t *textWriter) wrapped(words []string, first, rest string) {
	for _, l := range wrapWords(words, first, rest, t.width) {
		t.line(l)
	}
}

func (t *textWriter) paint(code, s string) string {
	if !t.color {
		return s
	}
	return code + s + ansiReset
}

func severityColor(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return ansiBoldRd
	case finding.High:
		return ansiRed
	case finding.Medium:
		return ansiYellow
	case finding.Low:
		return ansiCyan
	default:
		return ansiDim
	}
}

// wrapWords fills lines of at most width runes with words, the first line starting with
// first and the others with rest. A word longer than a line gets a line of its own rather
// than being cut: object names and URLs must stay copyable.
func wrapWords(words []string, first, rest string, width int) []string {
	var lines []string
	cur := first
	empty := true
	for _, w := range words {
		if empty {
			cur += w
			empty = false
			continue
		}
		if utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, cur)
			cur = rest + w
			continue
		}
		cur += " " + w
	}
	if !empty || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// clean makes text from the database safe for a terminal (display.Escape): an escape
// sequence in an object name could rewrite the screen.
func clean(s string) string { return display.Escape(s) }
