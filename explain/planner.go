package explain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Planner plans statements on one dedicated session. HypoPG's hypothetical indexes live
// in a session, so the index advisor plans through the same Planner it creates them on.
// A Planner is not safe for concurrent use.
type Planner struct {
	conn      *pgx.Conn
	major     int
	seq       int
	statCache map[string]columnStats
	// paramCount remembers how many parameters the server found in a statement, so
	// that planning it again takes one round trip instead of four.
	paramCount map[string]int
}

// maxParamCounts bounds paramCount on long runs over many distinct statements.
const maxParamCounts = 100000

// New wraps a session (opened by pgconn; read-only unless EXPLAIN ANALYZE of writes is
// wanted).
func New(ctx context.Context, conn *pgx.Conn) (*Planner, error) {
	var num int
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return nil, fmt.Errorf("explain: reading the server version: %w", err)
	}
	return &Planner{conn: conn, major: num / 10000, paramCount: map[string]int{}}, nil
}

// Conn is the session the planner uses (for HypoPG calls on the same backend).
func (p *Planner) Conn() *pgx.Conn { return p.conn }

// CannotPlanError is a statement PostgreSQL would not plan: unknown parameter types, a
// missing relation, a syntax it rejects. The analysis of that statement is skipped; the
// run goes on.
type CannotPlanError struct {
	SQLState string
	Reason   string
}

func (e *CannotPlanError) Error() string { return "cannot plan: " + e.Reason }

// cannotPlan keeps what an error says about the statement's shape and drops what it
// could quote of a value: data exceptions (class 22: "invalid input syntax for type
// bigint: "MRN-1234"") lose their message, syntax errors their quoted token. The
// statement can come from a file or a log, with patients' values in it.
func cannotPlan(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return &CannotPlanError{SQLState: pgErr.Code, Reason: safeMessage(pgErr)}
	}
	return err
}

func safeMessage(pgErr *pgconn.PgError) string {
	switch {
	case strings.HasPrefix(pgErr.Code, "22"):
		return "a value does not fit its column's type or function"
	case pgErr.Code == "42601":
		return sqlparse.RedactNear(pgErr.Message)
	}
	return pgErr.Message
}

// SafeError is an error's text without what PostgreSQL may quote of a value (see
// cannotPlan): for messages about statements that read or build on patients' rows.
func SafeError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return safeMessage(pgErr) + " (SQLSTATE " + pgErr.Code + ")"
	}
	return err.Error()
}

// results runs SQL over the simple protocol (one or more statements) and returns the
// first column of every row of every result.
func (p *Planner) simple(ctx context.Context, sql string) ([][]byte, error) {
	res, err := p.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, row := range r.Rows {
			if len(row) > 0 {
				out = append(out, append([]byte(nil), row[0]...))
			}
		}
	}
	return out, nil
}

// cleanup leaves the session as it was: no open transaction, no prepared statement.
func (p *Planner) cleanup(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.conn.PgConn().TxStatus() != 'I' {
		_, _ = p.simple(ctx, "ROLLBACK")
	}
	if name != "" {
		_, _ = p.simple(ctx, "DEALLOCATE "+name)
	}
}

func trimStatement(sql string) string {
	return strings.TrimRight(strings.TrimSpace(sql), "; \n\t")
}

// Plan gets a plan for sql, which may carry $n parameters. With values == nil the plan
// is generic (the parameters' values unknown, as for a prepared statement's generic
// plan); otherwise values[i] is the text of $i+1 (nil for NULL) and the plan is the
// custom plan for those values.
func (p *Planner) Plan(ctx context.Context, sql string, params int, values []*string) (*Plan, error) {
	sql = trimStatement(sql)
	if params == 0 {
		out, err := p.simple(ctx, "EXPLAIN (VERBOSE, FORMAT JSON) "+sql)
		if err != nil {
			p.cleanup("")
			return nil, cannotPlan(err)
		}
		return parseOne(out, false, false)
	}
	if values == nil && p.major >= 16 {
		out, err := p.simple(ctx, "EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) "+sql)
		if err != nil {
			p.cleanup("")
			return nil, cannotPlan(err)
		}
		return parseOne(out, true, false)
	}
	p.seq++
	name := fmt.Sprintf("pgmedic_plan_%d", p.seq)
	n, known := p.paramCount[sql]
	if !known {
		if _, err := p.simple(ctx, "PREPARE "+name+" AS "+sql); err != nil {
			p.cleanup("")
			return nil, cannotPlan(err)
		}
		if err := p.conn.QueryRow(ctx, policy.Marker+"SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1", name).Scan(&n); err != nil {
			p.cleanup(name)
			return nil, fmt.Errorf("explain: counting parameters: %w", err)
		}
		if len(p.paramCount) < maxParamCounts {
			p.paramCount[sql] = n
		}
	}
	mode := "force_generic_plan"
	args := make([]string, n)
	for i := range args {
		args[i] = "NULL"
		if values != nil && i < len(values) && values[i] != nil {
			args[i] = quoteLiteral(*values[i])
		}
	}
	if values != nil {
		mode = "force_custom_plan"
	}
	execute := "EXECUTE " + name
	if n > 0 {
		execute += "(" + strings.Join(args, ", ") + ")"
	}
	// The plan is made fresh on every EXECUTE of a new prepared statement, so it sees
	// the session's hypothetical indexes; the statement goes in the same round trip.
	script := "BEGIN; SET LOCAL plan_cache_mode = " + mode + "; EXPLAIN (VERBOSE, FORMAT JSON) " + execute + "; ROLLBACK; DEALLOCATE " + name
	if known {
		// The newline ends a trailing -- comment in the statement.
		script = "PREPARE " + name + " AS " + sql + "\n; " + script
	}
	out, err := p.simple(ctx, script)
	if err != nil {
		p.cleanup(name)
		if values != nil {
			// The error may quote a value from pg_stats: keep only its class.
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				return nil, &CannotPlanError{SQLState: pgErr.Code, Reason: "planning with representative values failed (SQLSTATE " + pgErr.Code + ")"}
			}
		}
		return nil, cannotPlan(err)
	}
	return parseOne(out, values == nil, values != nil)
}

func parseOne(out [][]byte, generic, custom bool) (*Plan, error) {
	if len(out) == 0 {
		return nil, fmt.Errorf("explain: EXPLAIN returned nothing")
	}
	pl, err := ParseJSON(out[len(out)-1])
	if err != nil {
		return nil, err
	}
	pl.Generic, pl.Custom = generic, custom
	return pl, nil
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
func (p *Planner) Analyze(ctx context.Context, sql string, params int, values []*string, opts AnalyzeOptions) (*Plan, error) {
	sql = trimStatement(sql)
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	mode := "READ ONLY"
	if opts.AllowWrites {
		mode = "READ WRITE"
	}
	target := sql
	name := ""
	if params > 0 {
		p.seq++
		name = fmt.Sprintf("pgmedic_plan_%d", p.seq)
		if _, err := p.simple(ctx, "PREPARE "+name+" AS "+sql); err != nil {
			p.cleanup("")
			return nil, cannotPlan(err)
		}
		args := make([]string, params)
		for i := range args {
			args[i] = "NULL"
			if i < len(values) && values[i] != nil {
				args[i] = quoteLiteral(*values[i])
			}
		}
		target = "EXECUTE " + name + "(" + strings.Join(args, ", ") + ")"
	}
	defer p.cleanup(name)
	script := fmt.Sprintf("BEGIN %s; SET LOCAL statement_timeout = %d; EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) %s; ROLLBACK",
		mode, opts.Timeout.Milliseconds(), target)
	out, err := p.simple(ctx, script)
	if err != nil {
		return nil, cannotPlan(err)
	}
	return parseOne(out, false, false)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
