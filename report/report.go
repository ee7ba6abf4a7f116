// Package report renders pgmedic findings for people and machines: text for a terminal,
// JSON for scripts, Markdown for tickets, a self-contained HTML page, and SARIF for CI
// code-scanning UIs. Renderers only show what is in Input; they never reach a database.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// SchemaVersion is the version of the JSON report layout (see SCHEMA.md). Fields are only
// added within a version; a removal or change of meaning bumps it.
const SchemaVersion = "1"

// Format names an output format.
type Format string

// The formats Write knows.
const (
	Text     Format = "text"
	JSON     Format = "json"
	Markdown Format = "markdown"
	HTML     Format = "html"
	SARIF    Format = "sarif"
)

// allFormats is the order Formats and error messages list them in (a function, so no
// package state can be changed by a caller).
func allFormats() []Format { return []Format{Text, JSON, Markdown, HTML, SARIF} }

// Limits of the HTML charts: more bars than this stop being readable.
const (
	maxTableSizes    = 15
	maxTopStatements = 10
)

// Formats lists the format names ParseFormat accepts.
func Formats() []string {
	fs := allFormats()
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// ParseFormat reads a format name, case-insensitively; "md" is accepted for markdown.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "md" {
		return Markdown, nil
	}
	for _, f := range allFormats() {
		if name == string(f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown report format %q (allowed: %s)", s, strings.Join(Formats(), ", "))
}

// CheckInfo describes one check that ran: it becomes a SARIF rule and a row of the HTML
// appendix.
type CheckInfo struct {
	ID          string
	Area        string
	Title       string
	Description string
	Severity    finding.Severity
	References  []finding.Reference
}

// Server is what the report says about the server and the collecting session.
type Server struct {
	Version    string `json:"version"`
	Database   string `json:"database"`
	User       string `json:"user"`
	InRecovery bool   `json:"in_recovery"`
	Host       string `json:"host,omitempty"`
}

// Size is the on-disk size of one table.
type Size struct {
	Name  string // schema.table
	Bytes int64
	PHI   bool // the table holds protected health information
}

// StatementTime is the execution time of one normalised statement.
type StatementTime struct {
	Query   string // normalised text, as pg_stat_statements keeps it
	Calls   int64
	TotalMs float64
	MeanMs  float64
}

// Input is everything a report shows.
type Input struct {
	Tool          string // e.g. "pgmedic 0.1.0"
	CollectedAt   time.Time
	Server        Server
	Findings      []finding.Finding
	Checks        []CheckInfo     // the checks that ran; may be empty
	TableSizes    []Size          // biggest first; at most 15 are shown
	TopStatements []StatementTime // by total time; at most 10 are shown
	Parts         []snapshot.Part // collection timing and parts that could not be read
	Notes         []string        // free lines shown near the top
}

// Options tune the text format.
type Options struct {
	Color bool // ANSI colours in text
	Width int  // wrap text at this many columns; 0 means 100
}

const defaultWidth = 100

// minWidth keeps wrapping sane when a caller passes a tiny terminal width.
const minWidth = 20

// FromSnapshot builds the input of a report from a snapshot and the findings of its
// analysis. phiTables holds the schema.table names that hold PHI. The server's host is
// left empty: a snapshot does not know what the user called it.
func FromSnapshot(s *snapshot.Snapshot, findings []finding.Finding, checks []CheckInfo, phiTables map[string]bool) *Input {
	in := &Input{Findings: findings, Checks: checks}
	if s == nil {
		return in
	}
	in.Tool = s.Tool
	in.CollectedAt = s.CollectedAt
	in.Server = Server{
		Version:    s.Server.Version,
		Database:   s.Server.Database,
		User:       s.Server.User,
		InRecovery: s.Server.InRecovery,
	}
	for i := range s.Tables {
		t := &s.Tables[i]
		name := t.QualifiedName()
		in.TableSizes = append(in.TableSizes, Size{Name: name, Bytes: t.TotalBytes, PHI: phiTables[name]})
	}
	in.TableSizes = topSizes(in.TableSizes)
	for _, st := range s.Workload.Statements {
		in.TopStatements = append(in.TopStatements, StatementTime{
			Query:   st.Query,
			Calls:   st.Calls,
			TotalMs: st.TotalExecMs,
			MeanMs:  st.MeanExecMs,
		})
	}
	in.TopStatements = topStatements(in.TopStatements)
	in.Parts = slices.Clone(s.Parts)
	return in
}

// topSizes returns the largest tables first, at most maxTableSizes, without changing sizes.
func topSizes(sizes []Size) []Size {
	out := slices.Clone(sizes)
	slices.SortStableFunc(out, func(a, b Size) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Name, b.Name))
	})
	if len(out) > maxTableSizes {
		out = out[:maxTableSizes]
	}
	return out
}

// topStatements returns the statements with the most total time first, at most
// maxTopStatements, without changing sts.
func topStatements(sts []StatementTime) []StatementTime {
	out := slices.Clone(sts)
	slices.SortStableFunc(out, func(a, b StatementTime) int {
		return cmp.Or(cmp.Compare(b.TotalMs, a.TotalMs), cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Query, b.Query))
	})
	if len(out) > maxTopStatements {
		out = out[:maxTopStatements]
	}
	return out
}

// view is the Input every renderer works from: findings sorted and split, charts capped.
// Building it copies, so Write never reorders the caller's slices.
type view struct {
	in       *Input
	all      []finding.Finding // sorted: open findings first, most severe first
	open     []finding.Finding
	unknown  []finding.Finding
	summary  finding.Summary
	sizes    []Size
	stmts    []StatementTime
	width    int
	colorize bool
}

func newView(in *Input, opts Options) *view {
	v := &view{in: in, width: opts.Width, colorize: opts.Color}
	if v.width <= 0 {
		v.width = defaultWidth
	}
	v.width = max(v.width, minWidth)
	v.all = slices.Clone(in.Findings)
	finding.Sort(v.all)
	for _, f := range v.all {
		if f.Status == finding.Unknown {
			v.unknown = append(v.unknown, f)
		} else {
			v.open = append(v.open, f)
		}
	}
	v.summary = finding.Summarize(v.all)
	v.sizes = topSizes(in.TableSizes)
	v.stmts = topStatements(in.TopStatements)
	return v
}

// Write renders in as format f.
func Write(w io.Writer, f Format, in *Input, opts Options) error {
	if in == nil {
		return errors.New("report: no input")
	}
	if w == nil {
		return errors.New("report: no writer")
	}
	f, err := ParseFormat(string(f))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	v := newView(in, opts)
	switch f {
	case Text:
		err = writeText(w, v)
	case JSON:
		err = writeJSON(w, v)
	case Markdown:
		err = writeMarkdown(w, v)
	case HTML:
		err = writeHTML(w, v)
	case SARIF:
		err = writeSARIF(w, v)
	}
	if err != nil {
		return fmt.Errorf("report: writing %s: %w", f, err)
	}
	return nil
}

// severityOrder is the order summaries list severities in, most urgent first.
func severityOrder() []finding.Severity {
	return []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info}
}

// areaGroup is the open findings of one area.
type areaGroup struct {
	Area     string
	Findings []finding.Finding
}

// groupByArea groups sorted findings by area; an area comes where its most severe
// finding does, so the worst problems stay at the top.
func groupByArea(fs []finding.Finding) []areaGroup {
	var groups []areaGroup
	index := map[string]int{}
	for _, f := range fs {
		i, ok := index[f.Area]
		if !ok {
			i = len(groups)
			index[f.Area] = i
			groups = append(groups, areaGroup{Area: f.Area})
		}
		groups[i].Findings = append(groups[i].Findings, f)
	}
	return groups
}
