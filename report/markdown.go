package report

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// mdDoc collects Markdown blocks; blocks are separated by exactly one blank line.
type mdDoc struct{ blocks []string }

func (d *mdDoc) add(format string, args ...any) {
	d.blocks = append(d.blocks, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

func writeMarkdown(w io.Writer, v *view) error {
	d := &mdDoc{}
	in := v.in
	title := "pgmedic report"
	if in.Server.Database != "" {
		title += ": " + in.Server.Database
	}
	d.add("# %s", mdInline(title))
	var meta strings.Builder
	if in.Tool != "" {
		fmt.Fprintf(&meta, "- **Tool:** %s\n", mdInline(in.Tool))
	}
	fmt.Fprintf(&meta, "- **Server:** %s\n", mdInline(serverLine(in.Server)))
	if in.Server.Database != "" {
		db := in.Server.Database
		if in.Server.User != "" {
			db += " (user " + in.Server.User + ")"
		}
		fmt.Fprintf(&meta, "- **Database:** %s\n", mdInline(db))
	}
	fmt.Fprintf(&meta, "- **Collected:** %s", mdInline(collectedLine(in.CollectedAt)))
	d.add("%s", meta.String())
	for _, n := range in.Notes {
		d.add("> %s", mdParagraph(oneLine(n)))
	}

	d.add("## Summary")
	var table strings.Builder
	table.WriteString("| Severity | Findings |\n| --- | ---: |\n")
	for _, sev := range severityOrder() {
		fmt.Fprintf(&table, "| %s | %d |\n", sev, v.summary.BySeverity[sev.String()])
	}
	fmt.Fprintf(&table, "| **total** | **%d** |\n", v.summary.Total)
	if v.summary.Unknown > 0 {
		fmt.Fprintf(&table, "| could not decide | %d |\n", v.summary.Unknown)
	}
	d.add("%s", table.String())

	if len(v.open) > 0 {
		d.add("## Findings")
		for _, f := range v.open {
			d.finding(f)
		}
	}
	if len(v.unknown) > 0 {
		d.add("## Could not decide")
		for _, f := range v.unknown {
			d.finding(f)
		}
	}
	d.collection(in.Parts)
	_, err := io.WriteString(w, strings.Join(d.blocks, "\n\n")+"\n")
	return err
}

func (d *mdDoc) finding(f finding.Finding) {
	tag := severityLabel(f.Severity)
	if f.Status == finding.Unknown {
		tag = "UNKNOWN"
	}
	head := mdInline(f.Title)
	if f.Object != "" {
		head += " — " + mdInline(f.Object)
	}
	d.add("### [%s] %s", tag, head)

	var meta []string
	if f.Check != "" {
		meta = append(meta, "**Check:** "+mdCode(f.Check))
	}
	if f.Area != "" {
		meta = append(meta, "**Area:** "+mdInline(f.Area))
	}
	if f.PHI {
		meta = append(meta, "**PHI:** yes")
	}
	if f.ID != "" {
		meta = append(meta, "**ID:** "+mdCode(f.ID))
	}
	if len(meta) > 0 {
		d.add("%s", strings.Join(meta, " · "))
	}
	if f.Detail != "" {
		lead := ""
		if f.Status == finding.Unknown {
			lead = "**Reason:** "
		}
		d.add("%s%s", lead, mdParagraph(f.Detail))
	}
	if len(f.Evidence) > 0 {
		var t strings.Builder
		t.WriteString("| Evidence | Value | Unit |\n| --- | ---: | --- |\n")
		for _, e := range f.Evidence {
			fmt.Fprintf(&t, "| %s | %s | %s |\n", mdInline(e.Name), formatValue(e.Value), mdInline(e.Unit))
		}
		d.add("%s", t.String())
	}
	if f.Recommendation != "" {
		d.add("**Recommendation:** %s", mdParagraph(f.Recommendation))
	}
	if f.Fix != nil && len(f.Fix.Steps) > 0 {
		fix := "**Fix:**"
		if f.Fix.Summary != "" {
			fix += " " + mdInline(f.Fix.Summary)
		}
		d.add("%s", fix)
		sql := f.Fix.SQL()
		fence := mdFence(sql)
		d.add("%ssql\n%s%s", fence, sql, fence)
	}
	if len(f.References) > 0 {
		d.add("**References:**")
		var l strings.Builder
		for _, r := range f.References {
			l.WriteString("- " + mdLink(r) + "\n")
		}
		d.add("%s", l.String())
	}
}

// collection names the parts of the collection that could not be read fully, since a
// check that needed them is missing rather than passed.
func (d *mdDoc) collection(parts []snapshot.Part) {
	if len(parts) == 0 {
		return
	}
	var total float64
	for _, p := range parts {
		total += p.DurationMs
	}
	d.add("## Collection")
	d.add("%d parts collected in %s.", len(parts), humanMs(total))
	var l strings.Builder
	for _, p := range parts {
		if p.Status == snapshot.PartOK {
			continue
		}
		line := mdCode(p.Name) + ": " + mdInline(p.Status)
		if p.Reason != "" {
			line += " — " + mdInline(p.Reason)
		}
		l.WriteString("- " + line + "\n")
	}
	if l.Len() > 0 {
		d.add("%s", l.String())
	}
}

// mdSpecial holds the characters that can start Markdown (GitHub flavour included)
// syntax inside a line: emphasis, code, links, HTML, tables, strike-through, headings,
// entities, math and @-mentions (which would notify people).
const mdSpecial = "\\`*[]<>|~#&$@"

// mdInline escapes s for use inside a line (heading, table cell, list item). Newlines
// become spaces: they would end a table row or a heading.
func mdInline(s string) string {
	s = oneLine(s)
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if r < 0x80 && strings.ContainsRune(mdSpecial, r) || r == '_' && !intraword(rs, i) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// intraword reports whether rs[i] sits between two letters or digits, where GitHub's
// Markdown never reads "_" as emphasis; escaping it there only makes tickets noisy.
func intraword(rs []rune, i int) bool {
	return i > 0 && i < len(rs)-1 && isAlnum(rs[i-1]) && isAlnum(rs[i+1])
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// mdBlockStart matches line starts that Markdown reads as a list, heading underline,
// rule or ordered list.
var mdBlockStart = regexp.MustCompile(`^(?:[-+=]|\d+[.)])`)

// mdParagraph escapes multi-line prose; every line is also kept from starting a block.
func mdParagraph(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	for _, l := range lines {
		l = mdInline(l)
		if l == "" {
			continue // a blank line would end the paragraph early
		}
		if m := mdBlockStart.FindString(l); m != "" {
			l = m[:len(m)-1] + "\\" + l[len(m)-1:]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// mdCode puts s in a code span whose backtick run is longer than any in s.
func mdCode(s string) string {
	s = oneLine(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	// Code spans are never put in table cells, where a pipe would need escaping.
	return ticks + s + ticks
}

// mdFence is a code fence longer than any backtick run in s.
func mdFence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c rune) int {
	best, n := 0, 0
	for _, r := range s {
		if r == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// mdLink renders a reference as a link when its URL is a web address; anything else
// (javascript:, data:) is shown as text only.
func mdLink(r finding.Reference) string {
	title := r.Title
	if title == "" {
		title = r.URL
	}
	u, err := url.Parse(strings.TrimSpace(r.URL))
	if r.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if r.URL == "" {
			return mdInline(title)
		}
		return mdInline(title) + " (" + mdCode(r.URL) + ")"
	}
	// u.String() percent-encodes spaces and brackets; parentheses are encoded so they
	// cannot end the link destination.
	dest := strings.NewReplacer("(", "%28", ")", "%29").Replace(u.String())
	return "[" + mdInline(title) + "](" + dest + ")"
}
