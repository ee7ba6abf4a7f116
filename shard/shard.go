// Package shard plans distributing a healthcare schema with Citus: it picks the
// distribution column (the patient's key, or an organisation's) that keeps the most
// workload time on one shard, co-locates the tables that carry that key (claims with
// their lines), makes small shared tables reference tables, lists the constraint changes
// Citus needs and the statements that would turn multi-shard, and writes the DDL as a
// plan. It reads a snapshot only; Citus itself is not needed.
package shard

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Options tune the plan.
type Options struct {
	// Classifier gives table roles (default: healthcare.New with no overrides).
	Classifier *healthcare.Classifier
	// ReferenceMaxRows: larger tables are not copied to every node (default 1,000,000).
	ReferenceMaxRows float64
	// MaxStatements lists at most this many multi-shard statements (default 20).
	MaxStatements int
}

// Plan is the sharding plan.
type Plan struct {
	Key         Candidate     `json:"key"`
	Candidates  []Candidate   `json:"candidates"`
	Distributed []Distributed `json:"distributed"`
	Reference   []string      `json:"reference"`
	Local       []string      `json:"local"`
	Constraints []string      `json:"constraint_changes"`
	MultiShard  []Statement   `json:"multi_shard_statements"`
	Notes       []string      `json:"notes,omitempty"`
}

// Candidate is one possible distribution key, scored on the workload.
type Candidate struct {
	Entity string `json:"entity"` // "patient" or "organisation"
	Table  string `json:"table"`
	Column string `json:"column"`
	// SingleShardPct is the share of the time of statements on distributed tables that
	// filter on the key with an equality, so run on one shard.
	SingleShardPct float64 `json:"single_shard_pct"`
	Tables         int     `json:"tables"` // tables that would be distributed
}

// Distributed is a table distributed by the key.
type Distributed struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	// Via names the table through which the key reaches this one when the table lacks
	// the column (claim_lines through claims): it must be added and filled first.
	Via     string `json:"via,omitempty"`
	Missing bool   `json:"missing_column,omitempty"`
	// The foreign key to Via: its columns here and there.
	viaCols, viaRefCols []string
}

// Statement is a workload statement that would run on every shard.
type Statement struct {
	Query    string  `json:"query"`
	Calls    int64   `json:"calls"`
	SharePct float64 `json:"share_pct"`
	Reason   string  `json:"reason"`
}

// graph is the schema as the planner sees it.
type graph struct {
	tables map[string]*snapshot.Table
	roles  map[string]healthcare.Role
	pk     map[string][]string
	fks    map[string][]fk // by referencing table
	order  []string
}

type fk struct {
	cols, refCols []string
	ref           string
}

func qualified(schema, name string) string { return schema + "." + name }

func newGraph(snap *snapshot.Snapshot, cls *healthcare.Classifier) *graph {
	g := &graph{tables: map[string]*snapshot.Table{}, roles: map[string]healthcare.Role{}, pk: map[string][]string{}, fks: map[string][]fk{}}
	for i := range snap.Tables {
		t := &snap.Tables[i]
		if t.Kind != "table" && t.Kind != "partitioned" {
			continue
		}
		q := qualified(t.Schema, t.Name)
		g.tables[q] = t
		g.order = append(g.order, q)
		in := healthcare.TableInput{Schema: t.Schema, Name: t.Name}
		for _, c := range t.Columns {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		g.roles[q] = cls.Table(in).Role
	}
	for _, c := range snap.Constraints {
		q := qualified(c.Schema, c.Table)
		switch c.Type {
		case "primary":
			g.pk[q] = c.Columns
		case "foreign":
			g.fks[q] = append(g.fks[q], fk{cols: c.Columns, refCols: c.RefColumns, ref: qualified(c.RefSchema, c.RefTable)})
		}
	}
	slices.Sort(g.order)
	return g
}

// candidates are the patient tables and the organisation tables (providers, payers)
// with a one-column primary key.
func (g *graph) candidates() []Candidate {
	var out []Candidate
	for _, q := range g.order {
		entity := ""
		switch g.roles[q] {
		case healthcare.Patient:
			entity = "patient"
		case healthcare.Provider, healthcare.Payer:
			entity = "organisation"
		}
		if entity == "" || len(g.pk[q]) != 1 {
			continue
		}
		out = append(out, Candidate{Entity: entity, Table: q, Column: g.pk[q][0]})
	}
	return out
}

// distribute finds, for a key, the tables that carry it directly (a one-column foreign
// key to the root) or through one such table (their column must be added).
func (g *graph) distribute(c Candidate) []Distributed {
	out := []Distributed{{Table: c.Table, Column: c.Column}}
	direct := map[string]string{c.Table: c.Column}
	for _, q := range g.order {
		for _, f := range g.fks[q] {
			if q != c.Table && f.ref == c.Table && len(f.cols) == 1 && f.refCols[0] == c.Column {
				if _, seen := direct[q]; !seen {
					direct[q] = f.cols[0]
					out = append(out, Distributed{Table: q, Column: f.cols[0]})
				}
			}
		}
	}
	for _, q := range g.order {
		if _, ok := direct[q]; ok {
			continue
		}
		for _, f := range g.fks[q] {
			col, ok := direct[f.ref]
			// Only children (claim lines of a claim), not look-ups of a shared table.
			if ok && f.ref != c.Table && g.roles[q] != healthcare.Reference && isChild(g.roles[q], g.roles[f.ref]) {
				out = append(out, Distributed{Table: q, Column: col, Via: f.ref, Missing: true, viaCols: f.cols, viaRefCols: f.refCols})
				break
			}
		}
	}
	return out
}

// isChild: a table that belongs to rows of another (claim lines to claims, payments to
// claims, encounters' details) rather than referring to shared data.
func isChild(child, parent healthcare.Role) bool {
	switch parent {
	case healthcare.Claim:
		return child == healthcare.ClaimLine || child == healthcare.Payment || child == healthcare.Other
	case healthcare.Encounter, healthcare.Appointment:
		return child != healthcare.Provider && child != healthcare.Payer && child != healthcare.Reference
	}
	return false
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func byShare(a, b Statement) int { return cmp.Compare(b.SharePct, a.SharePct) }

func unqualified(q string) string { return q[strings.IndexByte(q, '.')+1:] }

func describe(d Distributed) string {
	if d.Missing {
		return fmt.Sprintf("%s (add %s, filled from %s)", d.Table, d.Column, d.Via)
	}
	return d.Table + "." + d.Column
}
