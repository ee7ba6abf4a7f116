package cache

import (
	"sort"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Advice is one statement worth caching: read often, from tables written rarely.
type Advice struct {
	QueryID    int64    `json:"query_id"`
	Statement  string   `json:"statement"` // normalised: no values
	Calls      int64    `json:"calls"`
	MeanMs     float64  `json:"mean_ms"`
	TotalMs    float64  `json:"total_ms"`
	Tables     []string `json:"tables"`
	WriteRatio float64  `json:"write_ratio"` // rows updated or deleted per scan of those tables
	PHI        bool     `json:"phi"`         // not cached unless configured
	KeyColumn  string   `json:"key_column,omitempty"`
}

// AdviseOptions tune Advise.
type AdviseOptions struct {
	MinCalls      int64   // default 100
	MaxWriteRatio float64 // default 0.05 rows updated or deleted per table scan
	Top           int     // default 20
}

// Advise names read-mostly, hot statements of the snapshot's workload: SELECTs called
// at least MinCalls times whose tables see at most MaxWriteRatio rows updated or
// deleted per scan, ranked by the time they take in all. A key column is suggested when the
// statement filters one table by equality on a single column.
func Advise(snap *snapshot.Snapshot, cls *healthcare.Classifier, o AdviseOptions) []Advice {
	if o.MinCalls <= 0 {
		o.MinCalls = 100
	}
	if o.MaxWriteRatio <= 0 {
		o.MaxWriteRatio = 0.05
	}
	if o.Top <= 0 {
		o.Top = 20
	}
	p := sqlparse.NewParser(snapCatalog{snap}, 1000)
	var out []Advice
	for _, st := range snap.Workload.Statements {
		if st.Calls < o.MinCalls {
			continue
		}
		ps, err := p.Parse(st.Query)
		if err != nil || ps.Command != "SELECT" || ps.Writes || ps.ForUpdate || len(ps.Tables) == 0 {
			continue
		}
		a, ok := judge(snap, cls, ps, o)
		if !ok {
			continue
		}
		a.QueryID, a.Calls, a.MeanMs, a.TotalMs = st.QueryID, st.Calls, st.MeanExecMs, st.TotalExecMs
		a.Statement = sqlparse.SafeText(st.Query, 300)
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TotalMs > out[j].TotalMs })
	if len(out) > o.Top {
		out = out[:o.Top]
	}
	return out
}

func judge(snap *snapshot.Snapshot, cls *healthcare.Classifier, ps *sqlparse.Statement, o AdviseOptions) (Advice, bool) {
	var a Advice
	var written, scans float64
	for _, tr := range ps.Tables {
		t := snap.Table(tr.Schema, tr.Name)
		if t == nil {
			return a, false
		}
		a.Tables = append(a.Tables, t.QualifiedName())
		// Inserts add keys and change no cached entry (bulk loads of reference data
		// count as inserts); updates and deletes invalidate.
		written += float64(t.Updates + t.Deletes)
		scans += float64(t.SeqScan + t.IdxScan)
		in := healthcare.TableInput{Schema: t.Schema, Name: t.Name}
		for _, c := range t.Columns {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		if cls.Table(in).PHI {
			a.PHI = true
		}
	}
	if scans > 0 {
		a.WriteRatio = written / scans
	} else if written > 0 {
		return a, false
	}
	if a.WriteRatio > o.MaxWriteRatio {
		return a, false
	}
	if len(ps.Tables) == 1 {
		var eq []string
		for _, pr := range ps.Predicates {
			if pr.Op == "=" && pr.Column != "" {
				eq = append(eq, pr.Column)
			}
		}
		if len(eq) == 1 {
			a.KeyColumn = eq[0]
		}
	}
	return a, true
}

// snapCatalog resolves names against the snapshot's tables.
type snapCatalog struct{ s *snapshot.Snapshot }

func (c snapCatalog) FindTable(schema, name string) (string, bool) {
	if schema != "" {
		return schema, c.s.Table(schema, name) != nil
	}
	if c.s.Table("public", name) != nil {
		return "public", true
	}
	for _, t := range c.s.Tables {
		if t.Name == name {
			return t.Schema, true
		}
	}
	return "", false
}

func (c snapCatalog) HasColumn(schema, table, column string) bool {
	if schema == "" {
		schema = "public"
	}
	t := c.s.Table(schema, table)
	if t == nil {
		return false
	}
	for _, col := range t.Columns {
		if col.Name == column {
			return true
		}
	}
	return false
}
