package explain

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Statement is a statement the server has accepted for planning: the intake's text
// and the type of every parameter.
type Statement struct {
	Intake *sqlparse.Intake
	Parsed *sqlparse.Statement
	oids   []uint32
	types  []*typeInfo
}

// Params is the number of parameters.
func (s *Statement) Params() int { return len(s.oids) }

// TypeName is the type of $n as the server names it ("" when unknown).
func (s *Statement) TypeName(n int) string {
	if n < 1 || n > len(s.types) || s.types[n-1] == nil {
		return ""
	}
	return s.types[n-1].name
}

// Prepare gets the server to accept a statement for planning. PostgreSQL infers most
// parameter types itself; where it cannot ("could not determine data type of parameter
// $3", "operator is not unique: unknown || unknown"), the types come from the parse
// tree and the catalog (see inferType), tried from the least to the most assertive.
func (p *Planner) Prepare(ctx context.Context, in *sqlparse.Intake, st *sqlparse.Statement) (*Statement, error) {
	if oids, ok := p.accepted[in.Text]; ok {
		return p.statement(ctx, in, st, oids), nil
	}
	n := max(in.Params, st.ParamCount)
	attempts := []func(i int) uint32{
		func(i int) uint32 { return p.inferDeclared(ctx, in, i) },
		func(i int) uint32 { return p.inferType(ctx, in, st, i, true) },
		func(i int) uint32 { return p.inferType(ctx, in, st, i, false) },
		func(i int) uint32 {
			if t := p.inferType(ctx, in, st, i, false); t != 0 {
				return t
			}
			return p.typeOID(ctx, "text") // nothing says: text, as an untyped literal would be
		},
	}
	var lastErr error
	var prev []uint32
	for k, attempt := range attempts {
		oids := make([]uint32, n)
		for i := range oids {
			oids[i] = attempt(i + 1)
		}
		if k > 0 && equalOIDs(oids, prev) {
			continue
		}
		prev = oids
		got, err := p.describe(ctx, in.Text, oids)
		if err == nil {
			if len(p.accepted) < maxAccepted {
				p.accepted[in.Text] = got
			}
			return p.statement(ctx, in, st, got), nil
		}
		lastErr = err
		if !typeProblem(err) {
			break
		}
	}
	if typeProblem(lastErr) {
		if got, err := p.searchTypes(ctx, in, st, prev); err == nil {
			if len(p.accepted) < maxAccepted {
				p.accepted[in.Text] = got
			}
			return p.statement(ctx, in, st, got), nil
		}
	}
	if temporaryObject(in.Text) {
		return nil, &CannotPlanError{SQLState: sqlState(lastErr), Reason: "it reads a temporary object (pg_temp) that exists only in the session that created it"}
	}
	return nil, cannotPlan(lastErr)
}

// searchCandidates are the types tried, one parameter at a time, for parameters whose
// only uses are operators between expressions of unknown type (date $1 + $2 + $3).
var searchCandidates = []string{"int4", "numeric", "interval", "text", "timestamptz", "date"}

// maxSearch bounds the round trips one statement may spend on the search.
const maxSearch = 30

// searchTypes tries other types for the weakly typed parameters, one at a time, keeping
// the rest as inferred.
func (p *Planner) searchTypes(ctx context.Context, in *sqlparse.Intake, st *sqlparse.Statement, base []uint32) ([]uint32, error) {
	tries := 0
	var lastErr error
	for i := range base {
		if !p.weaklyTyped(st, i+1) {
			continue
		}
		for _, name := range searchCandidates {
			oids := append([]uint32(nil), base...)
			oids[i] = p.typeOID(ctx, name)
			if oids[i] == base[i] {
				continue
			}
			if tries++; tries > maxSearch {
				return nil, lastErr
			}
			got, err := p.describe(ctx, in.Text, oids)
			if err == nil {
				return got, nil
			}
			lastErr = err
			if !typeProblem(err) {
				break
			}
		}
	}
	if lastErr == nil {
		lastErr = errors.New("explain: no other types to try")
	}
	return nil, lastErr
}

// weaklyTyped: nothing but operators, tests or the select list say what $n is.
func (p *Planner) weaklyTyped(st *sqlparse.Statement, n int) bool {
	for _, u := range st.UsesOf(n) {
		switch u.Kind {
		case sqlparse.UseColumn, sqlparse.UseArray, sqlparse.UseCast, sqlparse.UseLimit, sqlparse.UseFunc:
			return false
		}
	}
	return true
}

// temporaryObject: the statement names pg_temp, whose objects belong to one session.
func temporaryObject(text string) bool {
	return strings.Contains(strings.ToLower(text), "pg_temp.")
}

func sqlState(err error) string { return pgerr.Code(err) }

func (p *Planner) inferDeclared(ctx context.Context, in *sqlparse.Intake, n int) uint32 {
	if n <= len(in.Declared) && in.Declared[n-1] != "" {
		return p.typeOID(ctx, in.Declared[n-1])
	}
	return 0
}

func equalOIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// typeProblem: PREPARE failed over parameter types, which other types may fix.
func typeProblem(err error) bool { return pgerr.TypeResolution(err) }

func (p *Planner) statement(ctx context.Context, in *sqlparse.Intake, st *sqlparse.Statement, oids []uint32) *Statement {
	s := &Statement{Intake: in, Parsed: st, oids: oids, types: make([]*typeInfo, len(oids))}
	for i, oid := range oids {
		s.types[i] = p.typeOf(ctx, oid)
	}
	return s
}

// describe prepares text with the given parameter types and returns the types the
// server settled on; the statement is closed again in the same round trip.
func (p *Planner) describe(ctx context.Context, text string, oids []uint32) ([]uint32, error) {
	pl := p.conn.PgConn().StartPipeline(ctx)
	pl.SendPrepare(stmtName, text, oids)
	pl.SendDeallocate(stmtName)
	var got []uint32
	err := drain(pl, func(r any) {
		if sd, ok := r.(*pgconn.StatementDescription); ok {
			got = sd.ParamOIDs
		}
	}, nil)
	if err != nil {
		p.cleanup()
	}
	return got, err
}

// drain syncs a pipeline and reads its results up to the sync, passing each on; the
// rows of the one result reader a plan needs go to rows. It returns the first error.
func drain(pl *pgconn.Pipeline, each func(any), rows *[][]byte) error {
	if err := pl.Sync(); err != nil {
		_ = pl.Close()
		return err
	}
	var first error
	for {
		r, err := pl.GetResults()
		if err != nil {
			if first == nil {
				first = err
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				_ = pl.Close()
				return first // the connection broke: nothing more will come
			}
			continue
		}
		switch v := r.(type) {
		case nil:
			if cerr := pl.Close(); first == nil {
				first = cerr
			}
			return first
		case *pgconn.PipelineSync:
			if cerr := pl.Close(); first == nil {
				first = cerr
			}
			return first
		case *pgconn.ResultReader:
			res := v.Read()
			if res.Err != nil && first == nil {
				first = res.Err
			}
			if rows != nil {
				for _, row := range res.Rows {
					if len(row) > 0 {
						*rows = append(*rows, append([]byte(nil), row[0]...))
					}
				}
			}
		default:
			if each != nil {
				each(v)
			}
		}
	}
}

// cleanup leaves the session as it was: no open transaction, no prepared statement.
func (p *Planner) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc := p.conn.PgConn()
	if pc.TxStatus() != 'I' {
		_ = pc.Exec(ctx, "ROLLBACK").Close()
	}
	_ = pc.Deallocate(ctx, stmtName)
}

// setValues puts the plan cache mode and the values in session settings: the values
// are bound parameters of one fixed statement, never part of a statement text.
const setValues = policy.Marker + `SELECT pg_catalog.set_config('plan_cache_mode', $1, false)
FROM (SELECT count(pg_catalog.set_config('pgmedic.p' || a.n, a.v, false))
      FROM unnest($2::int[], $3::text[]) AS a(n, v)) s` // unnest of two arrays exists only unqualified, in FROM

// Plan gets the plan of a prepared statement. With values == nil the plan is generic
// (as a prepared statement's generic plan: the parameters' values unknown); otherwise
// values[i] is the text of $i+1 (nil for NULL) and the plan is the custom plan for them.
func (p *Planner) Plan(ctx context.Context, s *Statement, values []*string) (*Plan, error) {
	out, err := p.run(ctx, s, values, "EXPLAIN (VERBOSE, FORMAT JSON) ")
	if err != nil {
		return nil, cannotPlan(err) // without what the message quotes of a value
	}
	return parseOne(out, values == nil && s.Params() > 0, values != nil)
}

// run prepares the statement, sets the values, runs explain + EXECUTE and closes the
// statement, in one round trip.
func (p *Planner) run(ctx context.Context, s *Statement, values []*string, explain string) ([][]byte, error) {
	mode := "force_generic_plan"
	if values != nil {
		mode = "force_custom_plan"
	}
	var pos, vals []string
	args := make([]string, s.Params())
	for i := range args {
		args[i] = "NULL"
		if i < len(values) && values[i] != nil && s.TypeName(i+1) != "" {
			pos = append(pos, strconv.Itoa(i+1))
			vals = append(vals, arrayElem(*values[i]))
			args[i] = fmt.Sprintf("pg_catalog.current_setting('pgmedic.p%d')::%s", i+1, s.TypeName(i+1))
		}
	}
	execute := "EXECUTE " + stmtName
	if len(args) > 0 {
		execute += "(" + strings.Join(args, ", ") + ")"
	}
	pl := p.conn.PgConn().StartPipeline(ctx)
	pl.SendPrepare(stmtName, s.Intake.Text, s.oids)
	pl.SendQueryParams(setValues, [][]byte{[]byte(mode), []byte("{" + strings.Join(pos, ",") + "}"), []byte("{" + strings.Join(vals, ",") + "}")}, nil, nil, nil)
	pl.SendQueryParams(policy.Marker+explain+execute, nil, nil, nil, nil)
	pl.SendDeallocate(stmtName)
	var rows [][]byte
	err := drain(pl, nil, &rows)
	if err != nil {
		p.cleanup()
		return nil, err
	}
	return rows, nil
}

// AnalyzeOptions bound an EXPLAIN ANALYZE.
type AnalyzeOptions struct {
	// AllowWrites runs statements that write (in a transaction that is rolled back).
	AllowWrites bool
	// Timeout is the statement timeout for the execution (default 30s).
	Timeout time.Duration
}

// Analyze runs EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back, so even
// a write leaves nothing behind. The caller decides whether the statement may write;
// without AllowWrites the transaction is READ ONLY as a second guard.
func (p *Planner) Analyze(ctx context.Context, s *Statement, values []*string, opts AnalyzeOptions) (*Plan, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	mode := "READ ONLY"
	if opts.AllowWrites {
		mode = "READ WRITE"
	}
	begin := fmt.Sprintf("BEGIN %s; SET LOCAL statement_timeout = %d", mode, opts.Timeout.Milliseconds())
	if err := p.conn.PgConn().Exec(ctx, begin).Close(); err != nil {
		p.cleanup()
		return nil, cannotPlan(err)
	}
	if values == nil {
		values = make([]*string, s.Params()) // NULLs: a custom plan of what runs
	}
	out, err := p.run(ctx, s, values, "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) ")
	p.cleanup()
	if err != nil {
		return nil, cannotPlan(err)
	}
	return parseOne(out, false, false)
}

// PlanSQL plans one statement given as text: values it spells out are bound as
// parameters (a custom plan for them), $n parameters get a generic plan. For callers
// that plan a statement once (a confirmation, a one-off explain).
func (p *Planner) PlanSQL(ctx context.Context, sql string) (*Plan, error) {
	s, vals, err := p.Take(ctx, sql, nil)
	if err != nil {
		return nil, err
	}
	return p.Plan(ctx, s, vals)
}

// Take runs a text through the whole intake (sqlparse.Take, parse, Prepare) and returns
// the values its own literals give (nil when it had $n parameters of its own). parser
// resolves names (nil: none).
func (p *Planner) Take(ctx context.Context, sql string, parser *sqlparse.Parser) (*Statement, []*string, error) {
	in, err := sqlparse.Take(sql)
	if err != nil {
		return nil, nil, err
	}
	if parser == nil {
		parser = sqlparse.NewParser(nil, 16)
	}
	st, err := parser.Parse(in.Text)
	if err != nil {
		return nil, nil, err
	}
	s, err := p.Prepare(ctx, in, st)
	if err != nil {
		return nil, nil, err
	}
	return s, LiteralValues(in), nil
}

// LiteralValues is the values a raw text's own literals give its parameters, or nil
// when some parameter had no literal (a $n of the text itself).
func LiteralValues(in *sqlparse.Intake) []*string {
	if in.Params == 0 || len(in.Literals) < in.Params {
		return nil
	}
	vals := make([]*string, in.Params)
	for i, l := range in.Literals[:in.Params] {
		if l == nil {
			return nil
		}
		if l.Kind != "null" {
			v := l.Value()
			vals[i] = &v
		}
	}
	return vals
}
