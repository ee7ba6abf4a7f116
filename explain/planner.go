package explain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Planner plans statements on one dedicated session. HypoPG's hypothetical indexes live
// in a session, so the index advisor plans through the same Planner it creates them on.
// A Planner is not safe for concurrent use.
//
// No value reaches a statement text: a statement is prepared over the extended protocol
// (parameters only), values travel as bound parameters of one fixed statement that puts
// them in session settings, and the plan comes from EXPLAIN EXECUTE of a fixed name
// whose arguments read those settings. pg_stat_statements therefore sees a handful of
// texts per run, all marked, none with a value.
type Planner struct {
	conn      *pgx.Conn
	major     int
	statCache map[string]columnStats
	cat       *catalogCache
	// accepted remembers the parameter types the server took for a text, so planning
	// it again is one round trip.
	accepted map[string][]uint32
	// sensitive says which columns hold patients' identifiers: their statistics never
	// give a value, a synthetic one of the same type is used.
	sensitive func(table, column string) bool
}

// stmtName is the one prepared statement the planner uses, prepared and closed around
// every plan: a new prepared statement has no cached plan, so every plan sees the
// session's current hypothetical indexes.
const stmtName = "pgmedic_plan"

// maxAccepted bounds accepted on long runs over many distinct statements.
const maxAccepted = 100000

// New wraps a session (opened by pgconn; read-only unless EXPLAIN ANALYZE of writes is
// wanted).
func New(ctx context.Context, conn *pgx.Conn) (*Planner, error) {
	var num int
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return nil, fmt.Errorf("explain: reading the server version: %w", err)
	}
	// Bound values are logged with log_statement = all unless this is 0; only roles
	// allowed to set it (superusers, or GRANT SET ON PARAMETER) can, others keep the
	// server's setting, and sensitive columns never give values anyway.
	_, _ = conn.Exec(ctx, policy.Marker+"SET log_parameter_max_length = 0")
	return &Planner{conn: conn, major: num / 10000, cat: newCatalogCache(), accepted: map[string][]uint32{}}, nil
}

// SetSensitive names the columns whose statistics must not give planning values.
func (p *Planner) SetSensitive(f func(table, column string) bool) { p.sensitive = f }

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
	msg := pgerr.Safe(pgErr)
	return strings.TrimSuffix(msg, " (SQLSTATE "+pgErr.Code+")")
}

// SafeError is pgerr.Safe: an error's text without what PostgreSQL may quote of a
// value, for messages about statements that read or build on patients' rows.
func SafeError(err error) string { return pgerr.Safe(err) }

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
