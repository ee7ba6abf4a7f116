package compliance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pgmedic/pgmedic/internal/display"
)

// WriteDiscoveryJSON writes the discovery as JSON: {"columns": [...], "tables": [...]}.
// With all false, only PHI columns are listed.
func WriteDiscoveryJSON(w io.Writer, d *Discovery, all bool) error {
	out := *d
	if !all {
		out.Columns = d.PHIColumns()
	}
	if out.Columns == nil {
		out.Columns = []Column{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteDiscoveryText writes one line per PHI column (every column with all), then the
// tables whose values could not be read.
func WriteDiscoveryText(w io.Writer, d *Discovery, all bool) error {
	ew := display.NewWriter(w)
	phi := d.PHIColumns()
	fmt.Fprintf(ew, "PHI discovery: %d PHI columns in %d tables (%d columns in %d tables examined, up to %d rows sampled per table)\n\n",
		len(phi), len(d.PHITables()), len(d.Columns), len(d.Tables), d.Sample)
	tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tCATEGORY\tCONFIDENCE\tEVIDENCE")
	for _, c := range d.Columns {
		if !c.PHI && !all {
			continue
		}
		ev := strings.Join(c.Evidence, "; ")
		if c.NameOnly {
			ev += " [name only]"
		}
		fmt.Fprintf(tw, "%s.%s.%s\t%s\t%.2f\t%s\n", c.Schema, c.Table, c.Column, c.Category, c.Confidence, ev)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeNotSampled(ew, d, "\n", "  ")
}

// WriteDiscoveryMarkdown writes the PHI columns as a Markdown table.
func WriteDiscoveryMarkdown(w io.Writer, d *Discovery, all bool) error {
	ew := display.NewWriter(w)
	fmt.Fprintf(ew, "# PHI discovery\n\n%d PHI columns in %d tables; %d columns in %d tables examined, up to %d rows sampled per table.\n\n",
		len(d.PHIColumns()), len(d.PHITables()), len(d.Columns), len(d.Tables), d.Sample)
	fmt.Fprintln(ew, "| Column | Category | Confidence | Evidence |\n| --- | --- | --- | --- |")
	for _, c := range d.Columns {
		if !c.PHI && !all {
			continue
		}
		ev := strings.Join(c.Evidence, "; ")
		if c.NameOnly {
			ev += " (name only)"
		}
		fmt.Fprintf(ew, "| `%s.%s.%s` | %s | %.2f | %s |\n", c.Schema, c.Table, c.Column, c.Category, c.Confidence, mdCell(ev))
	}
	return writeNotSampled(ew, d, "\n## Not sampled\n\n", "- ")
}

func writeNotSampled(w io.Writer, d *Discovery, head, bullet string) error {
	first := true
	for _, t := range d.Tables {
		if t.NotSampled == "" {
			continue
		}
		if first {
			fmt.Fprint(w, head)
			if bullet == "  " {
				fmt.Fprintln(w, "Tables judged by names only:")
			}
			first = false
		}
		fmt.Fprintf(w, "%s%s.%s: %s\n", bullet, t.Schema, t.Name, t.NotSampled)
	}
	return nil
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// WriteReportJSON writes the audit: {"score": ..., "standards": [{"checks": [...]}], ...}.
func WriteReportJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// statusMark is how a check's status reads in text and Markdown.
func statusMark(s Status) string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Unknown:
		return "UNKNOWN"
	case Disabled:
		return "OFF"
	}
	return "N/A"
}

// Summary is the one-line verdict: "HIPAA 164.312 score 72.5/100 (capped: a critical check failed)".
func (r *Report) Summary() string {
	s := fmt.Sprintf("HIPAA 164.312 score %.1f/100", r.Score)
	if r.Capped {
		s += fmt.Sprintf(" (capped at %d: a critical check failed)", CriticalCap)
	}
	if r.Unknown > 0 {
		s += fmt.Sprintf("; %d checks unknown", r.Unknown)
	}
	if r.Disabled > 0 {
		s += fmt.Sprintf("; %d checks disabled by configuration", r.Disabled)
	}
	return s
}

// WriteReportText writes the score, each standard, and each check with its status.
func WriteReportText(w io.Writer, r *Report) error {
	ew := display.NewWriter(w)
	fmt.Fprintf(ew, "%s\n%d PHI columns in %d tables (as %s)\n", r.Summary(), r.PHIColumns, len(r.PHITables), r.User)
	for _, s := range r.Standards {
		fmt.Fprintf(ew, "\n%s %s: %.1f\n", s.Paragraph, s.Title, s.Score)
		for _, c := range s.Checks {
			if c.Status == Pass || c.Status == NotApplicable || c.Status == Disabled {
				fmt.Fprintf(ew, "  %-7s %-8s %s\n", statusMark(c.Status), c.Severity, c.ID)
				continue
			}
			fmt.Fprintf(ew, "  %-7s %-8s %s: %s", statusMark(c.Status), c.Severity, c.ID, c.Title)
			if c.Detail != "" {
				fmt.Fprintf(ew, " (%s)", c.Detail)
			}
			fmt.Fprintln(ew)
			if c.Status == Fail {
				for _, o := range c.Objects {
					fmt.Fprintf(ew, "            - %s\n", o)
				}
				if c.Fix != "" {
					fmt.Fprintf(ew, "            fix: %s\n", c.Fix)
				}
			}
		}
	}
	return nil
}

// WriteReportMarkdown writes the audit as Markdown.
func WriteReportMarkdown(w io.Writer, r *Report) error {
	ew := display.NewWriter(w)
	fmt.Fprintf(ew, "# HIPAA technical safeguards\n\n**%s**. %d PHI columns in %d tables.\n", r.Summary(), r.PHIColumns, len(r.PHITables))
	for _, s := range r.Standards {
		fmt.Fprintf(ew, "\n## %s %s: %.1f\n\n| Status | Severity | Check | Detail |\n| --- | --- | --- | --- |\n", s.Paragraph, s.Title, s.Score)
		for _, c := range s.Checks {
			detail := c.Detail
			if len(c.Objects) > 0 {
				detail += ": " + strings.Join(c.Objects, ", ")
			}
			fmt.Fprintf(ew, "| %s | %s | %s (`%s`, %s) | %s |\n", statusMark(c.Status), c.Severity, c.Title, c.ID, c.Paragraph, mdCell(detail))
		}
	}
	return nil
}
