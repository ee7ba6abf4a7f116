package explain_test

import (
	"fmt"

	"github.com/pgmedic/pgmedic/explain"
)

// ParseJSON reads EXPLAIN (FORMAT JSON) output, from pgmedic's planner or from a
// file; Text prints it with literal values scrubbed by the caller's function.
func ExampleParseJSON() {
	raw := []byte(`[{"Plan": {"Node Type": "Index Scan", "Relation Name": "claims", "Schema": "public",
		"Index Name": "claims_patient_id_idx", "Startup Cost": 0.42, "Total Cost": 8.44, "Plan Rows": 1, "Plan Width": 64,
		"Index Cond": "(patient_id = 42)"}}]`)
	pl, err := explain.ParseJSON(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pl.TotalCost(), pl.UsesIndex("claims_patient_id_idx"))
	for _, n := range pl.Nodes() {
		fmt.Println(n.Type, n.QualifiedRelation(), n.Index)
	}
	// Output:
	// 8.44 true
	// Index Scan public.claims claims_patient_id_idx
}
