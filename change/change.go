// Package change runs the plans that change a database: index builds, constraint
// validations, maintenance, settings. It is the one path every pgmedic engine takes to
// change anything, and it is careful about it:
//
//   - one executor per database at a time (an advisory lock; the other is told who
//     holds it);
//
//   - every attempt of every step is a row of pgmedic.actions, written before the step
//     runs; when that row cannot be written nothing runs (no audit row, no change);
//
//   - each step runs under lock_timeout, with retries and jittered back-off when a lock
//     is not granted, and a statement_timeout chosen by the step's kind;
//
//   - a step whose Check says it is already done is skipped, so a plan can be run again
//     after a crash or a kill: steps left running by a dead executor are marked
//     interrupted, what they left behind is cleaned up, and they are retried;
//
//   - long steps report progress from pg_stat_progress_*.
//
//     ex := change.New(conn, change.Options{Tool: "pgmedic fix"})
//     res, err := ex.Run(ctx, plan)
package change

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Options tune an executor.
type Options struct {
	// Tool names the command in the audit log ("pgmedic index apply").
	Tool string
	// LockTimeout bounds each wait for a table lock (default 2s); Retries is how many
	// times a step whose lock was not granted is tried again (default 5), after
	// Backoff, doubled each time, with jitter (default 1s).
	LockTimeout time.Duration
	Retries     int
	Backoff     time.Duration
	// Timeouts sets statement_timeout per step kind (see Timeouts()); 0 means none.
	Timeouts map[string]time.Duration
	// KeepGoing runs the remaining steps after one failed (for plans of independent
	// steps); by default the run stops there.
	KeepGoing bool
	// Watch, when set, is a second session that reads pg_stat_progress_* for long steps.
	Watch         *pgx.Conn
	Progress      func(msg string)
	ProgressEvery time.Duration
	// Runners carry out steps whose Runner names them, on the executor's session (the
	// executor holds its lock and has recorded the attempt; the runner manages its own
	// transactions and timeouts). A step naming a runner that is missing fails.
	Runners map[string]Runner
	// Hook is called at points of a run ("before:N/A" once attempt A of step N has its
	// audit row, "after:N/A" once its SQL returned): tests stop the process there.
	Hook func(point string)
}

// Runner is a Go-driven step: it must be safe to run again after an interruption (the
// step's Check says when it is done), and it returns a retryable error (a lock not
// granted) only when running it again is the right response.
type Runner func(ctx context.Context, conn *pgx.Conn) error

// Timeouts are the default statement timeouts by step kind: builds and maintenance
// take as long as the table needs, catalog changes are quick or something is wrong.
func Timeouts() map[string]time.Duration {
	return map[string]time.Duration{
		"index": 0, "maintenance": 0, "data": 0,
		"ddl": 5 * time.Minute, "setting": 30 * time.Second, "": 5 * time.Minute,
	}
}

// Executor runs plans on one read-write session.
type Executor struct {
	conn  *pgx.Conn
	opts  Options
	runID string
}

// New prepares an executor on conn, a read-write session (pgconn with Write: true).
func New(conn *pgx.Conn, opts Options) *Executor {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Timeouts == nil {
		opts.Timeouts = Timeouts()
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	if opts.Hook == nil {
		opts.Hook = func(string) {}
	}
	if opts.Tool == "" {
		opts.Tool = "pgmedic"
	}
	return &Executor{conn: conn, opts: opts}
}

// Step statuses.
const (
	StatusDone    = "done"
	StatusSkipped = "skipped" // already in place
	StatusFailed  = "failed"
	StatusNotRun  = "not run" // an earlier step failed
)

// StepResult is what became of one step.
type StepResult struct {
	Step        int     `json:"step"`
	Description string  `json:"description"`
	Object      string  `json:"object,omitempty"`
	SQL         string  `json:"sql"`
	Status      string  `json:"status"`
	Attempts    int     `json:"attempts"`
	Detail      string  `json:"detail,omitempty"`
	Seconds     float64 `json:"seconds"`
	// Denied: the role lacks a privilege the step needs.
	Denied bool `json:"denied,omitempty"`
}

// Result is what a run did.
type Result struct {
	RunID string       `json:"run_id"`
	Steps []StepResult `json:"steps"`
	Done  int          `json:"done"`
	// Skipped steps were already in place; Failed ones did not complete; Interrupted
	// counts steps an earlier, dead executor had left running.
	Skipped     int `json:"skipped"`
	Failed      int `json:"failed"`
	Denied      int `json:"denied"`
	Interrupted int `json:"interrupted"`
}

// Run carries out the plan. The error is for what stopped the run as a whole (the lock
// is held by another executor, the audit trail cannot be written); a step that fails
// is in the result.
func (e *Executor) Run(ctx context.Context, plan *finding.Plan) (*Result, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	if err := migrate(ctx, e.conn, e.opts.Tool); err != nil {
		return nil, err
	}
	// A dead pgmedic's server work ends soon after: the server checks the connection.
	_, _ = e.conn.Exec(ctx, policy.Marker+"SET client_connection_check_interval = '1s'")
	e.runID = fmt.Sprintf("%x-%04x", time.Now().UnixNano(), rand.IntN(1<<16))
	res := &Result{RunID: e.runID, Steps: []StepResult{}}
	n, err := e.markInterrupted(ctx)
	if err != nil {
		return nil, err
	}
	res.Interrupted = n
	failed := false
	for i, s := range plan.Steps {
		if failed && !e.opts.KeepGoing {
			res.add(StepResult{Step: i + 1, Description: s.Description, Object: s.Object, SQL: s.SQL, Status: StatusNotRun,
				Detail: "not run: an earlier step failed"})
			continue
		}
		sr, err := e.step(ctx, i+1, s)
		if err != nil {
			return res, err
		}
		res.add(sr)
		failed = failed || sr.Status == StatusFailed
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

func (r *Result) add(s StepResult) {
	r.Steps = append(r.Steps, s)
	switch s.Status {
	case StatusDone:
		r.Done++
	case StatusSkipped:
		r.Skipped++
	case StatusFailed:
		r.Failed++
		if s.Denied {
			r.Denied++
		}
	}
}

// DryRun writes the plan as it would run: each step with the lock it takes, its
// estimated time, and whether it is skipped when already done.
func DryRun(w io.Writer, plan *finding.Plan) error {
	_, err := io.WriteString(w, plan.SQL())
	return err
}
