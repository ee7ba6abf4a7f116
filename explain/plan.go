// Package explain gets and reads PostgreSQL query plans: generic plans for normalised
// statements with $n parameters (no values needed), custom plans with representative
// values taken from pg_stats, and EXPLAIN ANALYZE in a transaction that is always rolled
// back. Plans are parsed from EXPLAIN's JSON into a typed tree.
package explain

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Plan is one EXPLAIN result.
type Plan struct {
	Root        *Node   `json:"root"`
	PlanningMs  float64 `json:"planning_ms,omitempty"`
	ExecutionMs float64 `json:"execution_ms,omitempty"`
	Analyzed    bool    `json:"analyzed"`
	// Generic is set for a generic plan (parameters unknown to the planner); Custom for a
	// plan made with representative values.
	Generic bool `json:"generic"`
	Custom  bool `json:"custom"`
	JIT     *JIT `json:"jit,omitempty"`
}

// JIT is EXPLAIN's JIT summary.
type JIT struct {
	Functions int     `json:"functions"`
	TotalMs   float64 `json:"total_ms"`
}

// Node is one plan node.
type Node struct {
	Type        string   `json:"type"`
	Relation    string   `json:"relation,omitempty"`
	Schema      string   `json:"schema,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	Index       string   `json:"index,omitempty"`
	JoinType    string   `json:"join_type,omitempty"`
	Strategy    string   `json:"strategy,omitempty"`
	ParentRel   string   `json:"parent_relationship,omitempty"`
	SubplanName string   `json:"subplan_name,omitempty"`
	StartupCost float64  `json:"startup_cost"`
	TotalCost   float64  `json:"total_cost"`
	PlanRows    float64  `json:"plan_rows"`
	PlanWidth   int      `json:"plan_width"`
	Filter      string   `json:"filter,omitempty"`
	IndexCond   string   `json:"index_cond,omitempty"`
	RecheckCond string   `json:"recheck_cond,omitempty"`
	JoinFilter  string   `json:"join_filter,omitempty"`
	HashCond    string   `json:"hash_cond,omitempty"`
	MergeCond   string   `json:"merge_cond,omitempty"`
	SortKey     []string `json:"sort_key,omitempty"`
	GroupKey    []string `json:"group_key,omitempty"`
	Output      []string `json:"output,omitempty"`
	WorkersPlan int      `json:"workers_planned,omitempty"`
	ScanDir     string   `json:"scan_direction,omitempty"`

	// With ANALYZE.
	ActualRows      *float64 `json:"actual_rows,omitempty"`
	ActualLoops     *float64 `json:"actual_loops,omitempty"`
	ActualTotalMs   *float64 `json:"actual_total_ms,omitempty"`
	RowsRemoved     *float64 `json:"rows_removed_by_filter,omitempty"`
	RowsRemovedJoin *float64 `json:"rows_removed_by_join_filter,omitempty"`
	SortMethod      string   `json:"sort_method,omitempty"`
	SortSpaceType   string   `json:"sort_space_type,omitempty"` // "Disk" or "Memory"
	SortSpaceKB     float64  `json:"sort_space_kb,omitempty"`
	HashBatches     float64  `json:"hash_batches,omitempty"`
	OrigHashBatches float64  `json:"original_hash_batches,omitempty"`
	PeakMemoryKB    float64  `json:"peak_memory_kb,omitempty"`
	HeapFetches     *float64 `json:"heap_fetches,omitempty"`
	SharedHit       float64  `json:"shared_hit_blocks,omitempty"`
	SharedRead      float64  `json:"shared_read_blocks,omitempty"`
	TempRead        float64  `json:"temp_read_blocks,omitempty"`
	TempWritten     float64  `json:"temp_written_blocks,omitempty"`

	Children []*Node `json:"children,omitempty"`
}

// Walk visits the node and its descendants, depth first.
func (n *Node) Walk(fn func(*Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Children {
		c.Walk(fn)
	}
}

// Nodes returns every node of the plan.
func (p *Plan) Nodes() []*Node {
	var out []*Node
	p.Root.Walk(func(n *Node) { out = append(out, n) })
	return out
}

// TotalCost is the root's estimated total cost.
func (p *Plan) TotalCost() float64 {
	if p == nil || p.Root == nil {
		return 0
	}
	return p.Root.TotalCost
}

// IsScan reports whether the node reads a relation.
func (n *Node) IsScan() bool { return n.Relation != "" }

// QualifiedRelation is schema.relation (relation alone when EXPLAIN gave no schema).
func (n *Node) QualifiedRelation() string {
	if n.Schema == "" {
		return n.Relation
	}
	return n.Schema + "." + n.Relation
}

// UsesIndex reports whether any node scans through the named index.
func (p *Plan) UsesIndex(name string) bool {
	found := false
	p.Root.Walk(func(n *Node) {
		if n.Index == name {
			found = true
		}
	})
	return found
}

// rawNode mirrors EXPLAIN (FORMAT JSON).
type rawNode struct {
	NodeType        string    `json:"Node Type"`
	RelationName    string    `json:"Relation Name"`
	Schema          string    `json:"Schema"`
	Alias           string    `json:"Alias"`
	IndexName       string    `json:"Index Name"`
	JoinType        string    `json:"Join Type"`
	Strategy        string    `json:"Strategy"`
	ParentRel       string    `json:"Parent Relationship"`
	SubplanName     string    `json:"Subplan Name"`
	StartupCost     float64   `json:"Startup Cost"`
	TotalCost       float64   `json:"Total Cost"`
	PlanRows        float64   `json:"Plan Rows"`
	PlanWidth       int       `json:"Plan Width"`
	Filter          string    `json:"Filter"`
	IndexCond       string    `json:"Index Cond"`
	RecheckCond     string    `json:"Recheck Cond"`
	JoinFilter      string    `json:"Join Filter"`
	HashCond        string    `json:"Hash Cond"`
	MergeCond       string    `json:"Merge Cond"`
	SortKey         []string  `json:"Sort Key"`
	PresortedKey    []string  `json:"Presorted Key"`
	GroupKey        []string  `json:"Group Key"`
	Output          []string  `json:"Output"`
	WorkersPlanned  int       `json:"Workers Planned"`
	ScanDirection   string    `json:"Scan Direction"`
	ActualRows      *float64  `json:"Actual Rows"`
	ActualLoops     *float64  `json:"Actual Loops"`
	ActualTotalTime *float64  `json:"Actual Total Time"`
	RowsRemoved     *float64  `json:"Rows Removed by Filter"`
	RowsRemovedJoin *float64  `json:"Rows Removed by Join Filter"`
	SortMethod      string    `json:"Sort Method"`
	SortSpaceUsed   float64   `json:"Sort Space Used"`
	SortSpaceType   string    `json:"Sort Space Type"`
	HashBatches     float64   `json:"Hash Batches"`
	OrigHashBatches float64   `json:"Original Hash Batches"`
	PeakMemory      float64   `json:"Peak Memory Usage"`
	HeapFetches     *float64  `json:"Heap Fetches"`
	SharedHit       float64   `json:"Shared Hit Blocks"`
	SharedRead      float64   `json:"Shared Read Blocks"`
	TempRead        float64   `json:"Temp Read Blocks"`
	TempWritten     float64   `json:"Temp Written Blocks"`
	Plans           []rawNode `json:"Plans"`
}

type rawPlan struct {
	Plan          rawNode  `json:"Plan"`
	PlanningTime  *float64 `json:"Planning Time"`
	ExecutionTime *float64 `json:"Execution Time"`
	JIT           *struct {
		Functions int `json:"Functions"`
		Timing    *struct {
			Total float64 `json:"Total"`
		} `json:"Timing"`
	} `json:"JIT"`
}

// ParseJSON reads the output of EXPLAIN (FORMAT JSON).
func ParseJSON(data []byte) (*Plan, error) {
	var raws []rawPlan
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("explain: reading the JSON plan: %w", err)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("explain: empty plan")
	}
	r := raws[0]
	p := &Plan{Root: convert(&r.Plan)}
	if r.PlanningTime != nil {
		p.PlanningMs = *r.PlanningTime
	}
	if r.ExecutionTime != nil {
		p.ExecutionMs = *r.ExecutionTime
		p.Analyzed = true
	}
	if r.JIT != nil {
		p.JIT = &JIT{Functions: r.JIT.Functions}
		if r.JIT.Timing != nil {
			p.JIT.TotalMs = r.JIT.Timing.Total
		}
	}
	return p, nil
}

func convert(r *rawNode) *Node {
	n := &Node{
		Type: r.NodeType, Relation: r.RelationName, Schema: r.Schema, Alias: r.Alias, Index: r.IndexName,
		JoinType: r.JoinType, Strategy: r.Strategy, ParentRel: r.ParentRel, SubplanName: r.SubplanName,
		StartupCost: r.StartupCost, TotalCost: r.TotalCost, PlanRows: r.PlanRows, PlanWidth: r.PlanWidth,
		Filter: r.Filter, IndexCond: r.IndexCond, RecheckCond: r.RecheckCond, JoinFilter: r.JoinFilter,
		HashCond: r.HashCond, MergeCond: r.MergeCond, SortKey: r.SortKey, GroupKey: r.GroupKey, Output: r.Output,
		WorkersPlan: r.WorkersPlanned, ScanDir: r.ScanDirection,
		ActualRows: r.ActualRows, ActualLoops: r.ActualLoops, ActualTotalMs: r.ActualTotalTime,
		RowsRemoved: r.RowsRemoved, RowsRemovedJoin: r.RowsRemovedJoin, SortMethod: r.SortMethod,
		SortSpaceType: r.SortSpaceType, SortSpaceKB: r.SortSpaceUsed, HashBatches: r.HashBatches,
		OrigHashBatches: r.OrigHashBatches, PeakMemoryKB: r.PeakMemory, HeapFetches: r.HeapFetches,
		SharedHit: r.SharedHit, SharedRead: r.SharedRead, TempRead: r.TempRead, TempWritten: r.TempWritten,
	}
	for i := range r.Plans {
		n.Children = append(n.Children, convert(&r.Plans[i]))
	}
	return n
}

// Text renders the plan as an indented tree, one node per line, with the conditions
// scrubbed by scrub (pass nil to keep them as they are).
func (p *Plan) Text(scrub func(string) string) string {
	var b strings.Builder
	var walk func(n *Node, depth int)
	clean := func(s string) string {
		if scrub != nil {
			return scrub(s)
		}
		return s
	}
	walk = func(n *Node, depth int) {
		indent := strings.Repeat("  ", depth)
		arrow := ""
		if depth > 0 {
			arrow = "-> "
		}
		fmt.Fprintf(&b, "%s%s%s", indent, arrow, n.Type)
		if n.Index != "" {
			fmt.Fprintf(&b, " using %s", n.Index)
		}
		if n.Relation != "" {
			fmt.Fprintf(&b, " on %s", n.QualifiedRelation())
			if n.Alias != "" && n.Alias != n.Relation {
				fmt.Fprintf(&b, " %s", n.Alias)
			}
		}
		fmt.Fprintf(&b, "  (cost=%.2f..%.2f rows=%.0f width=%d)", n.StartupCost, n.TotalCost, n.PlanRows, n.PlanWidth)
		if n.ActualTotalMs != nil && n.ActualRows != nil {
			loops := 1.0
			if n.ActualLoops != nil {
				loops = *n.ActualLoops
			}
			fmt.Fprintf(&b, " (actual time=%.3f rows=%.0f loops=%.0f)", *n.ActualTotalMs, *n.ActualRows, loops)
		}
		b.WriteByte('\n')
		for _, kv := range [][2]string{{"Index Cond", n.IndexCond}, {"Recheck Cond", n.RecheckCond}, {"Filter", n.Filter},
			{"Join Filter", n.JoinFilter}, {"Hash Cond", n.HashCond}, {"Merge Cond", n.MergeCond}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "%s      %s: %s\n", indent, kv[0], clean(kv[1]))
			}
		}
		if n.RowsRemoved != nil {
			fmt.Fprintf(&b, "%s      Rows Removed by Filter: %.0f\n", indent, *n.RowsRemoved)
		}
		if len(n.SortKey) > 0 {
			fmt.Fprintf(&b, "%s      Sort Key: %s\n", indent, strings.Join(n.SortKey, ", "))
		}
		if n.SortMethod != "" {
			fmt.Fprintf(&b, "%s      Sort Method: %s  %s: %.0fkB\n", indent, n.SortMethod, n.SortSpaceType, n.SortSpaceKB)
		}
		if n.TempWritten > 0 {
			fmt.Fprintf(&b, "%s      Temp Written Blocks: %.0f\n", indent, n.TempWritten)
		}
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(p.Root, 0)
	if p.Analyzed {
		fmt.Fprintf(&b, "Planning Time: %.3f ms\nExecution Time: %.3f ms\n", p.PlanningMs, p.ExecutionMs)
	} else if p.PlanningMs > 0 {
		fmt.Fprintf(&b, "Planning Time: %.3f ms\n", p.PlanningMs)
	}
	return b.String()
}
