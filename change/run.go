package change

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// The executor lock: a session advisory lock, released by the server when the
// executor's connection ends, however it ends.
const (
	lockClass = 0x70676d65 // "pgme"
	lockObj   = 1
)

// BusyError: another executor holds the lock on this database.
type BusyError struct {
	PID         int
	User        string
	Application string
	Client      string
	Since       *time.Time
}

func (e *BusyError) Error() string {
	who := fmt.Sprintf("pid %d", e.PID)
	if e.User != "" {
		who += ", role " + e.User
	}
	if e.Application != "" {
		who += ", application " + e.Application
	}
	if e.Client != "" {
		who += ", from " + e.Client
	}
	if e.Since != nil {
		who += ", connected since " + e.Since.UTC().Format(time.RFC3339)
	}
	return "another pgmedic executor is changing this database (" + who + ")"
}

func (e *Executor) lock(ctx context.Context) error {
	var ok bool
	if err := e.conn.QueryRow(ctx, policy.Marker+"SELECT pg_try_advisory_lock($1, $2)", lockClass, lockObj).Scan(&ok); err != nil {
		return fmt.Errorf("change: taking the executor lock: %w", err)
	}
	if ok {
		return nil
	}
	busy := &BusyError{}
	err := e.conn.QueryRow(ctx, policy.Marker+`SELECT l.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''),
		coalesce(host(a.client_addr), ''), a.backend_start
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, lockClass, lockObj).Scan(&busy.PID, &busy.User, &busy.Application, &busy.Client, &busy.Since)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("change: finding who holds the executor lock: %w", err)
	}
	return busy
}

func (e *Executor) unlock() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.conn.Exec(ctx, policy.Marker+"SELECT pg_advisory_unlock($1, $2)", lockClass, lockObj)
}

// markInterrupted closes the rows an executor that died mid-step left running: with
// the lock held, no other executor is at work, so they can only be stale.
func (e *Executor) markInterrupted(ctx context.Context) (int, error) {
	tag, err := e.conn.Exec(ctx, policy.Marker+`UPDATE pgmedic.actions SET status = 'interrupted', finished_at = now(),
		detail = 'the executor stopped (backend ' || coalesce(pid::text, '?') || ') before this step finished; a later run checks it and, if it is not done, cleans up and retries it'
		WHERE status = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	if n := int(tag.RowsAffected()); n > 0 {
		e.opts.Progress(fmt.Sprintf("%d step(s) of an interrupted run found; they are checked again", n))
		return n, nil
	}
	return 0, nil
}

// step runs one step: skipped when already done, else cleaned up if an earlier
// attempt left something behind, then tried until it works, fails for good, or its
// retries for locks run out. An error return stops the run (the audit trail failed).
func (e *Executor) step(ctx context.Context, n int, s finding.Step) (StepResult, error) {
	sr := StepResult{Step: n, Description: s.Description, Object: s.Object, SQL: s.SQL}
	if done, err := e.truth(ctx, s.Check); err != nil {
		sr.Status, sr.Detail = StatusFailed, "checking whether it is done: "+pgerr.Safe(err)
		sr.Denied = pgerr.Privilege(err)
		return sr, nil
	} else if done {
		sr.Status, sr.Detail = StatusSkipped, "already in place"
		e.opts.Progress(fmt.Sprintf("step %d (%s): already in place", n, s.Description))
		return sr, nil
	}
	start := time.Now()
	for attempt := 1; attempt <= e.opts.Retries+1; attempt++ {
		sr.Attempts = attempt
		if err := e.cleanup(ctx, n, s); err != nil {
			return sr, err
		}
		id, err := e.record(ctx, n, attempt, s.Kind, s.Object, s.SQL)
		if err != nil {
			return sr, err // fail closed: no audit row, no change
		}
		e.opts.Hook(fmt.Sprintf("before:%d/%d", n, attempt))
		e.opts.Progress(fmt.Sprintf("step %d: %s (attempt %d)", n, s.Description, attempt))
		t0 := time.Now()
		err = e.execute(ctx, s)
		e.opts.Hook(fmt.Sprintf("after:%d/%d", n, attempt))
		if err == nil {
			err = e.verify(ctx, s)
		}
		secs := time.Since(t0).Seconds()
		if err == nil {
			sr.Status, sr.Seconds = StatusDone, time.Since(start).Seconds()
			return sr, e.finish(id, StatusDone, "", secs)
		}
		sr.Detail, sr.Denied = pgerr.Safe(err), pgerr.Privilege(err)
		if !pgerr.Retryable(err) || attempt > e.opts.Retries || ctx.Err() != nil {
			sr.Status, sr.Seconds = StatusFailed, time.Since(start).Seconds()
			if err := e.finish(id, StatusFailed, sr.Detail, secs); err != nil {
				return sr, err
			}
			return sr, e.cleanup(context.WithoutCancel(ctx), n, s) // leave nothing half-made
		}
		wait := e.backoff(attempt)
		if err := e.finish(id, "retry", fmt.Sprintf("lock not granted within %s (%s); trying again in %s", e.opts.LockTimeout, sr.Detail, wait.Round(time.Millisecond)), secs); err != nil {
			return sr, err
		}
		e.opts.Progress(fmt.Sprintf("step %d: lock not granted within %s; trying again in %s", n, e.opts.LockTimeout, wait.Round(time.Millisecond)))
		select {
		case <-ctx.Done():
			sr.Status = StatusFailed
			return sr, nil
		case <-time.After(wait):
		}
	}
	sr.Status = StatusFailed
	return sr, nil
}

// backoff doubles the wait with each attempt, with jitter so two waiting sessions do
// not come back together.
func (e *Executor) backoff(attempt int) time.Duration {
	base := e.opts.Backoff << (attempt - 1)
	return time.Duration(float64(base) * (0.5 + rand.Float64()))
}

// cleanup removes what an earlier attempt left (an INVALID index), as a row of its own.
func (e *Executor) cleanup(ctx context.Context, n int, s finding.Step) error {
	if s.Cleanup == "" || s.CleanupCheck == "" {
		return nil // without a check it would run before every attempt
	}
	if needed, err := e.truth(ctx, s.CleanupCheck); err != nil || !needed {
		return nil
	}
	id, err := e.record(ctx, n, 0, "cleanup", s.Object, s.Cleanup)
	if err != nil {
		return err
	}
	e.opts.Progress(fmt.Sprintf("step %d: removing what an interrupted attempt left behind", n))
	t0 := time.Now()
	err = e.execute(ctx, finding.Step{SQL: s.Cleanup, NoTransaction: s.NoTransaction, Kind: s.Kind})
	status, detail := StatusDone, ""
	if err != nil {
		status, detail = StatusFailed, pgerr.Safe(err)
	}
	return e.finish(id, status, detail, time.Since(t0).Seconds())
}

// truth runs SQL returning one boolean; empty SQL is false.
func (e *Executor) truth(ctx context.Context, sql string) (bool, error) {
	if sql == "" {
		return false, nil
	}
	var v bool
	err := e.conn.QueryRow(ctx, policy.Marker+sql).Scan(&v)
	return v, err
}

// errNoEffect: the step ran without error but its check says it did not take effect.
var errNoEffect = errors.New("the statement ran, but its effect is not in place")

func (e *Executor) verify(ctx context.Context, s finding.Step) error {
	check := s.Verify
	if check == "" {
		check = s.Check
	}
	if check == "" {
		return nil
	}
	ok, err := e.truth(ctx, check)
	if err != nil {
		return err
	}
	if !ok {
		return errNoEffect
	}
	return nil
}

// execute runs the step's SQL under the lock timeout and the statement timeout of its
// kind, in a transaction unless the statement cannot run in one.
func (e *Executor) execute(ctx context.Context, s finding.Step) error {
	if s.Runner != "" {
		run, ok := e.opts.Runners[s.Runner]
		if !ok {
			return fmt.Errorf("change: no runner %q is registered with this executor", s.Runner)
		}
		return run(ctx, e.conn)
	}
	timeout := e.opts.Timeouts[s.Kind]
	sql := policy.Marker + s.SQL
	stop := e.watch(ctx, s)
	defer stop()
	if s.NoTransaction {
		set := fmt.Sprintf("SET lock_timeout = %d; SET statement_timeout = %d", e.opts.LockTimeout.Milliseconds(), timeout.Milliseconds())
		if _, err := e.conn.Exec(ctx, set); err != nil {
			return err
		}
		defer e.resetTimeouts()
		_, err := e.conn.Exec(ctx, sql)
		return err
	}
	tx, err := e.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	set := fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = %d", e.opts.LockTimeout.Milliseconds(), timeout.Milliseconds())
	if _, err := tx.Exec(ctx, set); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (e *Executor) resetTimeouts() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.conn.Exec(ctx, "RESET lock_timeout; RESET statement_timeout")
}

// record writes an attempt's row before it runs.
func (e *Executor) record(ctx context.Context, step, attempt int, kind, object, sql string) (int64, error) {
	if kind == "" {
		kind = "change"
	}
	if object == "" {
		object = "database"
	}
	var id int64
	err := e.conn.QueryRow(ctx, policy.Marker+`INSERT INTO pgmedic.actions (tool, kind, object, statement, status, run_id, step, attempt)
		VALUES ($1, $2, $3, $4, 'running', $5, $6, nullif($7, 0)) RETURNING id`,
		e.opts.Tool, kind, object, sql, e.runID, step, attempt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrAuditUnavailable, pgerr.Safe(err))
	}
	return id, nil
}

// finish records an attempt's outcome. It runs even when ctx is done: the row must not
// stay running for a step that ended.
func (e *Executor) finish(id int64, status, detail string, seconds float64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.conn.Exec(ctx, policy.Marker+`UPDATE pgmedic.actions SET finished_at = now(), status = $2, detail = nullif($3, ''),
		duration_ms = $4 WHERE id = $1`, id, status, detail, seconds*1000)
	if err != nil {
		return fmt.Errorf("change: recording the outcome of action %d: %w", id, err)
	}
	return nil
}
