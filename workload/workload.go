// Package workload turns the statements a database runs (from pg_stat_statements, a
// server log or a SQL file) into the workload pgmedic's analyzers reason about: one
// Statement per shape (pg_query fingerprint of its plannable form), with its merged
// statistics, the constants each raw sample carried, and, once prepared, the types the
// server gave its parameters. Statements that cannot be planned stay in the workload
// with a precise reason and their share of it, so coverage is measured, not assumed.
//
//	stmts, excluded := workload.Group(workload.FromSnapshot(snap), parser)
//	for _, s := range stmts {
//		if err := s.Prepare(ctx, planner); err == nil { ... }
//	}
package workload

import (
	"strings"

	"github.com/pgmedic/pgmedic/snapshot"
)

// Input is one statement text with what is known of its execution.
type Input struct {
	Text string
	// Raw is set for statements as the application sent them (a SQL file, a log), where
	// literal values may appear; pg_stat_statements texts are normalised.
	Raw bool
	// Truncated: the text is cut short (pgmedic's snapshot keeps texts up to a limit).
	Truncated    bool
	QueryID      int64
	Calls        int64
	TotalMs      float64
	MeanMs       float64
	MaxMs        float64
	Rows         int64
	SharedHit    int64
	SharedRead   int64
	TempWritten  int64
	TotalPlanMs  float64
	JITTimeMs    float64
	JITFunctions int64
	HasStats     bool
	Source       string // "pg_stat_statements", "file", "log", "query"
}

// Sources of inputs.
const (
	SourceStatements = "pg_stat_statements"
	SourceFile       = "file"
	SourceLog        = "log"
	SourceQuery      = "query"
)

// FromSnapshot turns a snapshot's pg_stat_statements entries for its database into
// inputs. Statements other tools and people run about the database rather than for
// the application (EXPLAIN, SET, transaction control, DDL) are left out here; the
// rest, plannable or not, is the workload.
func FromSnapshot(s *snapshot.Snapshot) []Input {
	var out []Input
	for _, st := range s.Workload.Statements {
		if st.Database != s.Server.Database || !st.TopLevel || !IsQuery(st.Query) {
			continue
		}
		out = append(out, Input{Text: st.Query, Truncated: st.Truncated, QueryID: st.QueryID, Calls: st.Calls,
			TotalMs: st.TotalExecMs, MeanMs: st.MeanExecMs, MaxMs: st.MaxExecMs, Rows: st.Rows,
			SharedHit: st.SharedBlksHit, SharedRead: st.SharedBlksRead, TempWritten: st.TempBlksWritten,
			TotalPlanMs: st.TotalPlanMs, JITTimeMs: st.JITTimeMs, JITFunctions: st.JITFunctions, HasStats: true,
			Source: SourceStatements})
	}
	return out
}

// IsQuery: the first keyword opens a statement an application runs to read or change
// data (planned or not: COPY, CALL and DO are part of the workload too), rather than one
// about the session or the schema (SET, BEGIN, SAVEPOINT, DDL, EXPLAIN).
func IsQuery(q string) bool {
	f := strings.Fields(strings.TrimSpace(stripLeadingComments(q)))
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(strings.TrimLeft(f[0], "(")) {
	case "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE",
		"COPY", "CALL", "DO", "DECLARE", "FETCH", "MOVE", "EXECUTE":
		return true
	case "CREATE":
		// CREATE TABLE ... AS SELECT is a query; other CREATEs are DDL.
		up := strings.ToUpper(q)
		return strings.Contains(up, " AS SELECT") || strings.Contains(up, " AS WITH") || strings.Contains(up, " AS (")
	}
	return false
}

// stripLeadingComments drops comments before the first keyword (ORM markers).
func stripLeadingComments(q string) string {
	for {
		q = strings.TrimSpace(q)
		switch {
		case strings.HasPrefix(q, "/*"):
			end := strings.Index(q, "*/")
			if end < 0 {
				return ""
			}
			q = q[end+2:]
		case strings.HasPrefix(q, "--"):
			end := strings.IndexByte(q, '\n')
			if end < 0 {
				return ""
			}
			q = q[end+1:]
		default:
			return q
		}
	}
}

// merge adds in's statistics to dst.
func merge(dst *Input, in Input) {
	dst.Calls += in.Calls
	dst.TotalMs += in.TotalMs
	dst.Rows += in.Rows
	dst.SharedHit += in.SharedHit
	dst.SharedRead += in.SharedRead
	dst.TempWritten += in.TempWritten
	dst.TotalPlanMs += in.TotalPlanMs
	dst.JITTimeMs += in.JITTimeMs
	dst.JITFunctions += in.JITFunctions
	if in.MaxMs > dst.MaxMs {
		dst.MaxMs = in.MaxMs
	}
	if dst.Calls > 0 {
		dst.MeanMs = dst.TotalMs / float64(dst.Calls)
	}
	dst.HasStats = dst.HasStats || in.HasStats
}
