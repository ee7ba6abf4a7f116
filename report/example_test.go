package report_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/report"
)

// Write renders one input in any of the formats: text, json, markdown, html, sarif.
func ExampleWrite() {
	in := &report.Input{
		Tool:        "pgmedic example",
		CollectedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Findings: []finding.Finding{{ID: "indexes.invalid:public.claims_status_idx", Check: "indexes.invalid",
			Area: "indexes", Severity: finding.High, Status: finding.Open, Object: "public.claims_status_idx",
			Title: "Invalid index public.claims_status_idx"}},
	}
	for _, name := range []string{"markdown", "sarif"} {
		f, err := report.ParseFormat(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		var buf bytes.Buffer
		if err := report.Write(&buf, f, in, report.Options{}); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(name, strings.Contains(buf.String(), "claims_status_idx"))
	}
	// Output:
	// markdown true
	// sarif true
}
