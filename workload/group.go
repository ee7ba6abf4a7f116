package workload

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// Statement is one shape of the workload: every input whose plannable form has the
// same fingerprint.
type Statement struct {
	Fingerprint string
	// Display is the normalised text, the only form that may be printed.
	Display string
	Source  string
	// Stats are the inputs' statistics, summed.
	Stats    Input
	QueryIDs []int64
	// Intake and Parsed are the plannable form (nil when NotPlannable is set).
	Intake *sqlparse.Intake
	Parsed *sqlparse.Statement
	// NotPlannable says why the text cannot be planned at all.
	NotPlannable *sqlparse.NotPlannable
	// Prepared is set once Prepare succeeded; PlanError when it failed.
	Prepared  *explain.Statement
	PlanError error

	raw      []string              // raw texts (a few samples), never printed
	samples  [][]*sqlparse.Literal // each raw sample's constants, by parameter
	nSamples int
}

// maxSamples bounds what a statement keeps of its raw samples.
const maxSamples = 200

// Raw returns a few of the raw texts the statement was seen as (files and logs). They
// can hold patients' values: never print them.
func (s *Statement) Raw() []string { return s.raw }

// Samples is how many raw texts the statement was seen as.
func (s *Statement) Samples() int { return s.nSamples }

// Planned reports whether the statement has been prepared for planning.
func (s *Statement) Planned() bool { return s.Prepared != nil }

// NaturallyPlanless: the statement has no plan of its own to find (COPY of a table,
// CALL, DO, EXECUTE, FETCH), as opposed to one pgmedic failed to plan.
func (s *Statement) NaturallyPlanless() bool {
	if s.NotPlannable == nil {
		return false
	}
	switch s.NotPlannable.Code {
	case sqlparse.ReasonProcedural, sqlparse.ReasonCall, sqlparse.ReasonExecute, sqlparse.ReasonCopy, sqlparse.ReasonCursor:
		return true
	}
	return false
}

// Reason says why the statement was not planned ("" when it was or may be).
func (s *Statement) Reason() string {
	switch {
	case s.NotPlannable != nil:
		return s.NotPlannable.Reason
	case s.PlanError != nil:
		return s.PlanError.Error()
	}
	return ""
}

// Constant returns the literal $n held in every raw sample, when the workload shows it
// at least twice and always the same: a constant of the statement (status =
// 'pended'), not a value that happened to be in one sample.
func (s *Statement) Constant(n int) (*sqlparse.Literal, bool) {
	if s.nSamples < 2 {
		return nil, false
	}
	var first *sqlparse.Literal
	for _, lits := range s.samples {
		if n > len(lits) || lits[n-1] == nil {
			return nil, false
		}
		l := lits[n-1]
		if first == nil {
			first = l
		} else if l.Kind != first.Kind || l.Value() != first.Value() {
			return nil, false
		}
	}
	return first, first != nil
}

// Hidden counts the statements whose text the role may not read, and their calls.
func Hidden(stmts []*Statement) (n int, calls int64) {
	for _, s := range stmts {
		if s.NotPlannable != nil && s.NotPlannable.Code == sqlparse.ReasonHidden {
			n++
			calls += s.Stats.Calls
		}
	}
	return n, calls
}

// Excluded counts inputs left out of the workload: statements about the database
// rather than of the application (SET, VACUUM, DDL). Seen counts every input.
type Excluded struct {
	Inputs int
	Seen   int
}

// Group parses every input and groups the inputs by fingerprint. parser resolves names
// for the analyzers (its catalog) and caches parses.
func Group(inputs []Input, parser *sqlparse.Parser) ([]*Statement, Excluded) {
	return GroupSeq(slices.Values(inputs), parser)
}

// GroupSeq is Group over a stream: a statement file or log is grouped as it is read,
// and only each statement's few samples are kept.
func GroupSeq(inputs iter.Seq[Input], parser *sqlparse.Parser) ([]*Statement, Excluded) {
	g := &grouper{parser: parser, byKey: map[string]*Statement{}}
	for in := range inputs {
		g.excluded.Seen++
		g.add(in)
	}
	return g.order, g.excluded
}

type grouper struct {
	parser   *sqlparse.Parser
	byKey    map[string]*Statement
	order    []*Statement
	excluded Excluded
}

func (g *grouper) add(in Input) {
	if in.Truncated {
		np := &sqlparse.NotPlannable{Code: sqlparse.ReasonTruncated, Reason: "the statement's text was longer than the snapshot keeps, so it was cut short; plan it from a log or a file"}
		g.notPlannable(in, np)
		return
	}
	intake, err := sqlparse.Take(in.Text)
	if np, ok := sqlparse.IsNotPlannable(err); ok {
		switch np.Code {
		case sqlparse.ReasonUtility, sqlparse.ReasonEmpty:
			g.excluded.Inputs++
		case sqlparse.ReasonSeveral:
			g.split(in)
		default:
			g.notPlannable(in, np)
		}
		return
	}
	if err != nil {
		g.notPlannable(in, &sqlparse.NotPlannable{Code: sqlparse.ReasonSyntax, Reason: sqlparse.OneLine(err.Error())})
		return
	}
	st, err := g.parser.Parse(intake.Text)
	if err != nil {
		g.notPlannable(in, &sqlparse.NotPlannable{Code: sqlparse.ReasonSyntax, Reason: sqlparse.OneLine(err.Error())})
		return
	}
	s := g.statement(st.Fingerprint, in, intake.Display)
	if s.Intake == nil {
		s.Intake, s.Parsed = intake, st
	}
	// A text with values in it is raw whatever its source says.
	if in.Raw || len(intake.Literals) > 0 {
		s.nSamples++
		if len(s.raw) < 5 {
			s.raw = append(s.raw, in.Text)
		}
		if len(s.samples) < maxSamples {
			s.samples = append(s.samples, intake.Literals)
		}
	}
}

// split plans the statements of a multi-statement string one by one; each carries the
// string's calls and an equal part of its time.
func (g *grouper) split(in Input) {
	parts, err := sqlparse.Split(in.Text)
	if err != nil || len(parts) < 2 {
		g.notPlannable(in, &sqlparse.NotPlannable{Code: sqlparse.ReasonSeveral, Reason: "the text holds several statements that could not be told apart"})
		return
	}
	k := float64(len(parts))
	for _, p := range parts {
		part := in
		part.Text = p
		part.TotalMs, part.MaxMs, part.MeanMs, part.TotalPlanMs = in.TotalMs/k, in.MaxMs/k, in.MeanMs/k, in.TotalPlanMs/k
		g.add(part)
	}
}

func (g *grouper) notPlannable(in Input, np *sqlparse.NotPlannable) {
	key := "text:" + sqlparse.SafeText(in.Text, 200)
	if np.Code == sqlparse.ReasonHidden {
		key = fmt.Sprintf("hidden:%d", in.QueryID) // one per statement, not one for them all
	}
	if fp, err := pg_query.Fingerprint(in.Text); err == nil {
		key = fp
	}
	display := sqlparse.SafeText(in.Text, 400)
	if np.Code == sqlparse.ReasonHidden {
		display = fmt.Sprintf("(text hidden; queryid %d)", in.QueryID)
	}
	s := g.statement(key, in, display)
	if s.NotPlannable == nil && s.Intake == nil {
		s.NotPlannable = np
	}
}

func (g *grouper) statement(key string, in Input, display string) *Statement {
	s := g.byKey[key]
	if s == nil {
		s = &Statement{Fingerprint: key, Display: display, Source: in.Source, Stats: in}
		s.Stats.Text, s.Stats.QueryID = "", 0
		g.byKey[key] = s
		g.order = append(g.order, s)
	} else {
		merge(&s.Stats, in)
	}
	if in.QueryID != 0 {
		s.QueryIDs = append(s.QueryIDs, in.QueryID)
	}
	return s
}

// Prepare gets the server to accept the statement for planning (see
// explain.Planner.Prepare). A statement that cannot be planned keeps the error.
func (s *Statement) Prepare(ctx context.Context, p *explain.Planner) error {
	if s.Prepared != nil {
		return nil
	}
	if s.NotPlannable != nil {
		return s.NotPlannable
	}
	if s.PlanError != nil {
		return s.PlanError
	}
	prep, err := p.Prepare(ctx, s.Intake, s.Parsed)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.PlanError = err
		return err
	}
	s.Prepared = prep
	return nil
}

// Values chooses the values of a custom plan: a constant of the workload where the
// statement has one (and its column does not name a person), else a representative
// value (explain.Planner.Representative). A parameter nothing gives a value stays nil;
// the plan is custom only when none does (see Complete).
func (s *Statement) Values(ctx context.Context, p *explain.Planner) []*string {
	if s.Prepared == nil || s.Prepared.Params() == 0 {
		return nil
	}
	vals, _ := p.Representative(ctx, s.Prepared)
	n := s.Prepared.Params()
	if len(vals) != n {
		vals = make([]*string, n)
	}
	for i := 1; i <= n; i++ {
		lit, constant := s.Constant(i)
		if !constant && s.nSamples == 1 && len(s.samples) == 1 && i <= len(s.samples[0]) {
			lit = s.samples[0][i-1] // one sample: its own value is the best guess of the plan
		}
		if lit == nil || lit.Kind == "null" || p.SensitiveParam(s.Parsed, i) {
			continue
		}
		v := lit.Value()
		vals[i-1] = &v
	}
	return vals
}

// Complete reports whether every parameter has a value.
func Complete(vals []*string) bool {
	for _, v := range vals {
		if v == nil {
			return false
		}
	}
	return len(vals) > 0
}

// ErrNotPrepared is returned for plans of statements Prepare did not accept.
var ErrNotPrepared = errors.New("workload: the statement is not prepared")

// Plan plans the prepared statement: a custom plan with Values when there are values,
// else the generic plan. kind is "custom", "generic" or "plain" (no parameters).
func (s *Statement) Plan(ctx context.Context, p *explain.Planner) (pl *explain.Plan, kind string, err error) {
	if s.Prepared == nil {
		return nil, "", ErrNotPrepared
	}
	if s.Prepared.Params() == 0 {
		pl, err = p.Plan(ctx, s.Prepared, nil)
		return pl, "plain", err
	}
	if vals := s.Values(ctx, p); Complete(vals) {
		if pl, err = p.Plan(ctx, s.Prepared, vals); err == nil {
			return pl, "custom", nil
		}
	}
	pl, err = p.Plan(ctx, s.Prepared, nil)
	if err != nil {
		return nil, "", err
	}
	return pl, "generic", nil
}
