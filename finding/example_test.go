package finding_test

import (
	"fmt"

	"github.com/pgmedic/pgmedic/finding"
)

// Findings from every engine share one shape, one order and one severity scale.
func ExampleSort() {
	fs := []finding.Finding{
		{Check: "settings.work_mem", Severity: finding.Low, Object: "server", Title: "work_mem is small for the workload"},
		{Check: "indexes.invalid", Severity: finding.High, Object: "public.claims_status_idx", Title: "Invalid index"},
	}
	finding.Sort(fs)
	for _, f := range fs {
		fmt.Println(f.Severity, f.Check, f.Object)
	}
	high, _ := finding.ParseSeverity("high")
	fmt.Println("fail the pipeline:", finding.AtLeast(fs, high))
	// Output:
	// high indexes.invalid public.claims_status_idx
	// low settings.work_mem server
	// fail the pipeline: true
}
