package pool

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgerr"
)

// Read runs fn in a read-only transaction of workload w (a read profile), on a replica
// that has replayed after, or on the primary. When the replica fails under it (the
// connection is lost, the server shuts down), the replica is benched and fn runs again
// on the primary, as it does when the replica cancelled the read for a conflict with
// replay: a read-only transaction is safe to repeat.
func (p *Pools) Read(ctx context.Context, w Workload, after Token, fn func(Tx) error) error {
	c, err := p.Acquire(ctx, w, after)
	if err != nil {
		return err
	}
	err = c.readTx(ctx, fn)
	// Lost: the connection died under the transaction, or the server is shutting down.
	// An error of the application's own leaves the connection open and is returned.
	lost := err != nil && (c.c.Conn().IsClosed() || pgerr.Is(err, pgerr.AdminShutdown, pgerr.CrashShutdown, pgerr.CannotConnectNow))
	// A standby cancels reads that conflict with replay (40001); the primary has none.
	conflict := pgerr.Is(err, pgerr.SerializationFailure)
	c.Release()
	if err == nil || c.node.primary || ctx.Err() != nil || !(lost || conflict) {
		return err
	}
	if lost {
		p.benchNode(c.node, err)
	}
	c, err = p.acquire(ctx, w, after, true)
	if err != nil {
		return err
	}
	defer c.Release()
	return c.readTx(ctx, fn)
}

func (c *Conn) readTx(ctx context.Context, fn func(Tx) error) error {
	return pgx.BeginTxFunc(ctx, c.c, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(Tx{tx: tx, guard: c.prof.guard})
	})
}

// Write runs fn in a transaction of workload w on the primary, commits, and returns the
// token a later read passes to see what fn wrote.
func (p *Pools) Write(ctx context.Context, w Workload, fn func(Tx) error) (Token, error) {
	pr, ok := p.profiles[w]
	if !ok {
		return Token{}, fmt.Errorf("%w: %s", ErrUnknownWorkload, w)
	}
	if pr.Intent != Write {
		return Token{}, fmt.Errorf("pool: profile %s is declared for reads; write through a write profile", w)
	}
	c, err := p.Acquire(ctx, w, Token{})
	if err != nil {
		return Token{}, err
	}
	defer c.Release()
	return c.writeTx(ctx, fn)
}

// writeTx runs fn in a transaction and sends COMMIT and the WAL position query in one
// round trip (two statements in one simple-protocol message): the token costs no extra
// wait.
func (c *Conn) writeTx(ctx context.Context, fn func(Tx) error) (Token, error) {
	conn := c.c.Conn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Token{}, err
	}
	if err := fn(Tx{tx: tx, guard: c.prof.guard}); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return Token{}, err
	}
	res, err := conn.PgConn().Exec(ctx, "COMMIT; "+currentLSNSQL).ReadAll()
	if err != nil {
		return Token{}, fmt.Errorf("pool: committing: %w", err)
	}
	if len(res) != 2 || res[0].CommandTag.String() != "COMMIT" {
		// The server answers ROLLBACK to the COMMIT of a failed transaction.
		return Token{}, pgx.ErrTxCommitRollback
	}
	if len(res[1].Rows) != 1 || len(res[1].Rows[0]) != 1 {
		return Token{}, errors.New("pool: the WAL position query returned no row")
	}
	lsn, err := strconv.ParseInt(string(res[1].Rows[0][0]), 10, 64)
	if err != nil {
		return Token{}, fmt.Errorf("pool: reading the WAL position: %w", err)
	}
	return Token{LSN: uint64(lsn)}, nil
}

// Token reads the primary's WAL insert position on this connection: after a commit on
// it, a read carrying the token sees that commit.
func (c *Conn) Token(ctx context.Context) (Token, error) {
	if !c.node.primary {
		return Token{}, errors.New("pool: a token comes from the primary; this connection is on a replica")
	}
	var lsn int64
	if err := c.c.QueryRow(context.WithValue(ctx, checkedKey{}, true), currentLSNSQL).Scan(&lsn); err != nil {
		return Token{}, fmt.Errorf("pool: reading the WAL position: %w", err)
	}
	return Token{LSN: uint64(lsn)}, nil
}

// Tx is a transaction whose statements pass the profile's guard before they are sent.
type Tx struct {
	tx    pgx.Tx
	guard *profileGuard
}

// Raw is the pgx transaction (the guard still applies, as a tracer).
func (t Tx) Raw() pgx.Tx { return t.tx }

// Exec runs a statement.
func (t Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.guard.check(sql); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.tx.Exec(context.WithValue(ctx, checkedKey{}, true), sql, args...)
}

// Query runs a statement that returns rows.
func (t Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.guard.check(sql); err != nil {
		return nil, err
	}
	return t.tx.Query(context.WithValue(ctx, checkedKey{}, true), sql, args...)
}

// QueryRow runs a statement that returns one row.
func (t Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.guard.check(sql); err != nil {
		return errRow{err}
	}
	return t.tx.QueryRow(context.WithValue(ctx, checkedKey{}, true), sql, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
