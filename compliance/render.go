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
