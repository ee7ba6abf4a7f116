package queryperf

import (
	"strings"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/snapshot"
)

// tableInfo is what the rules know about a table from the snapshot.
type tableInfo struct {
	t       *snapshot.Table
	class   healthcare.TableClass
	cols    map[string]*snapshot.Column
	phiCols map[string]healthcare.Identifier // direct identifiers (names, SSN, MRN, birth date ...)
	indexes []*snapshot.Index
}

func buildTables(s *snapshot.Snapshot, cls *healthcare.Classifier) map[string]*tableInfo {
	out := map[string]*tableInfo{}
	if s == nil {
		return out
	}
	refs := map[string][]string{}
	for _, k := range s.Constraints {
		if k.Type == "foreign" {
			refs[k.Schema+"."+k.Table] = append(refs[k.Schema+"."+k.Table], k.RefSchema+"."+k.RefTable)
		}
	}
	for i := range s.Tables {
		t := &s.Tables[i]
		ti := &tableInfo{t: t, cols: map[string]*snapshot.Column{}, phiCols: map[string]healthcare.Identifier{}}
		in := healthcare.TableInput{Schema: t.Schema, Name: t.Name, References: refs[t.QualifiedName()]}
		for j := range t.Columns {
			c := &t.Columns[j]
			ti.cols[c.Name] = c
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		ti.class = cls.Table(in)
		for col, matches := range ti.class.Identifiers {
			for _, m := range matches {
				if m.Identifier.IsIdentifier() && m.Confidence >= 0.75 {
					ti.phiCols[col] = m.Identifier
					break
				}
			}
		}
		ti.indexes = s.TableIndexes(t.Schema, t.Name)
		out[t.QualifiedName()] = ti
	}
	return out
}

// catalog resolves names for the parser from the snapshot.
type catalog struct{ tables map[string]*tableInfo }

func (c catalog) FindTable(schema, name string) (string, bool) {
	if schema != "" {
		_, ok := c.tables[schema+"."+name]
		return schema, ok
	}
	if _, ok := c.tables["public."+name]; ok {
		return "public", true
	}
	for key := range c.tables {
		if s, n, _ := strings.Cut(key, "."); n == name {
			return s, true
		}
	}
	return "", false
}

func (c catalog) HasColumn(schema, table, column string) bool {
	if schema == "" {
		schema = "public"
	}
	ti := c.tables[schema+"."+table]
	return ti != nil && ti.cols[column] != nil
}

// rows is the planner's row estimate for a table (0 when unknown).
func (a *Analyzer) rows(table string) float64 {
	if ti := a.tables[table]; ti != nil {
		return ti.t.RowEstimate
	}
	return 0
}

// lowCardinality reports whether a column has few distinct values (a status or a flag),
// where a constant in SQL is a legitimate part of the query rather than a value that
// belongs in a parameter.
func (a *Analyzer) lowCardinality(table, column string) bool {
	ti := a.tables[table]
	if ti == nil {
		return false
	}
	c := ti.cols[column]
	if c == nil || c.NDistinct == nil {
		return c != nil && (c.TypeName == "bool")
	}
	nd := *c.NDistinct
	if nd < 0 {
		nd = -nd * ti.t.RowEstimate
	}
	return nd > 0 && nd <= 50
}

// hasExpressionIndex reports whether a valid index of the table is on fn(column).
func (a *Analyzer) hasExpressionIndex(table, fn, column string) bool {
	ti := a.tables[table]
	if ti == nil {
		return false
	}
	for _, ix := range ti.indexes {
		if !ix.Valid || len(ix.Columns) == 0 {
			continue
		}
		lead := strings.ToLower(ix.Columns[0])
		if strings.Contains(lead, strings.ToLower(fn)+"(") && strings.Contains(lead, strings.ToLower(column)) {
			return true
		}
	}
	return false
}
