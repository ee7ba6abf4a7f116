package partition

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// MigrateOptions tune the online conversion. Zero values take the defaults.
type MigrateOptions struct {
	// Tool names the command in pgmedic.actions.
	Tool string
	// BatchSize rows per copy transaction (default 20000); ReplayBatch log entries
	// per replay transaction (default 5000).
	BatchSize, ReplayBatch int
	// LockTimeout bounds every wait for a lock on the live table: installing the
	// capture and the cut-over (default 500ms); writers wait at most that long behind
	// pgmedic. Retries is how often the cut-over tries again (default 30, the wait
	// growing by 200ms each time); other steps are retried 8 times with doubling waits.
	LockTimeout time.Duration
	Retries     int
	// CutoverBacklog: the cut-over starts only when a replay round finds fewer log
	// entries than this (default 2000), so the lock is held briefly.
	CutoverBacklog int
	// MaxReplicaLag pauses the copy while a streaming replica is further behind than
	// this many bytes of WAL (default 16 MiB; negative: never pause).
	MaxReplicaLag int64
	// Progress receives progress; ProgressEvery is how often (default 2s).
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Log receives the executor's messages.
	Log func(string)
	// LockWait is how long to wait for the executor lock when another session holds it
	// (default 15s): the session of a killed run holds it until the server notices.
	LockWait time.Duration
	// Hook is called at points of the copy ("copy:batch", "copy:replay", "cutover:locked"):
	// tests stop the run there.
	Hook func(point string)
}

func (o *MigrateOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 20000
	}
	if o.ReplayBatch <= 0 {
		o.ReplayBatch = 5000
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 500 * time.Millisecond
	}
	if o.Retries <= 0 {
		o.Retries = 30
	}
	if o.CutoverBacklog <= 0 {
		o.CutoverBacklog = 2000
	}
	if o.MaxReplicaLag == 0 {
		o.MaxReplicaLag = 16 << 20
	}
	if o.LockWait <= 0 {
		o.LockWait = 15 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	if o.Hook == nil {
		o.Hook = func(string) {}
	}
	if o.Tool == "" {
		o.Tool = "pgmedic partition migrate"
	}
}

// executorRetries is how often the executor retries a step whose lock was not granted:
// its back-off doubles from 200ms, so the last wait is under a minute.
const executorRetries = 8

// State is a conversion's row in pgmedic.partition_migrations.
type State struct {
	Spec         *Spec      `json:"spec"`
	Phase        string     `json:"phase"`
	RowsCopied   int64      `json:"rows_copied"`
	RowsReplayed int64      `json:"rows_replayed"`
	CutoverMS    *float64   `json:"cutover_ms,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	SwappedAt    *time.Time `json:"swapped_at,omitempty"`
}

// ErrNoMigration: no conversion of the table is under way.
var ErrNoMigration = errors.New("no conversion of this table is under way")

// ReadState returns the newest conversion of schema.table that is under way (or, with
// any set, the newest of any phase).
func ReadState(ctx context.Context, conn *pgx.Conn, schema, table string, any bool) (*State, error) {
	var exists bool
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT to_regclass('pgmedic.partition_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("partition: reading the conversion state: %w", err)
	}
	if !exists {
		return nil, ErrNoMigration
	}
	st := &State{}
	var raw []byte
	err := conn.QueryRow(ctx, policy.Marker+`SELECT spec, phase, rows_copied, rows_replayed, cutover_ms, started_at, swapped_at
		FROM pgmedic.partition_migrations WHERE source = $1 AND ($2 OR phase NOT IN ('finished', 'rolled_back'))
		ORDER BY started_at DESC LIMIT 1`, ident.Quote(schema, table), any).
		Scan(&raw, &st.Phase, &st.RowsCopied, &st.RowsReplayed, &st.CutoverMS, &st.StartedAt, &st.SwappedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoMigration
	}
	if err != nil {
		return nil, fmt.Errorf("partition: reading the conversion state: %w", err)
	}
	st.Spec = &Spec{}
	if err := json.Unmarshal(raw, st.Spec); err != nil {
		return nil, fmt.Errorf("partition: reading the stored plan: %w", err)
	}
	return st, nil
}

// MigrateResult is what a migration run did.
type MigrateResult struct {
	Run   *change.Result `json:"run"`
	State *State         `json:"state"`
	// Resumed: the run continued a conversion an earlier run had begun.
	Resumed bool `json:"resumed"`
	// CopyRowsPerSec is the copy's throughput in this run (0 when it copied nothing).
	CopyRowsPerSec float64 `json:"copy_rows_per_sec"`
	// CutoverLock is how long the cut-over held its ACCESS EXCLUSIVE lock.
	CutoverLock time.Duration `json:"cutover_lock_ns"`
	// Verified holds the verification's figures when this run verified.
	Verified *Verification `json:"verification,omitempty"`
}

// PlanOrResume returns the plan of a conversion under way, or a new one.
func PlanOrResume(ctx context.Context, conn *pgx.Conn, opts Options) (*Spec, *finding.Plan, bool, error) {
	if err := opts.normalise(); err != nil {
		return nil, nil, false, err
	}
	st, err := ReadState(ctx, conn, opts.Schema, opts.Table, false)
	switch {
	case err == nil:
		return st.Spec, Steps(st.Spec), true, nil
	case !errors.Is(err, ErrNoMigration):
		return nil, nil, false, err
	}
	res, err := Plan(ctx, conn, opts)
	if err != nil {
		return nil, nil, false, err
	}
	return res.Spec, res.Steps, false, nil
}

// Migrate converts the table online through the shared executor, or resumes the
// conversion an earlier run began. conn is a read-write session (pgconn Write: true).
// It stops after the cut-over: the old table is kept, filled by reverse capture, until
// Finish drops it or Rollback swaps it back.
func Migrate(ctx context.Context, conn *pgx.Conn, opts Options, mo MigrateOptions) (*MigrateResult, error) {
	mo.defaults()
	spec, plan, resumed, err := PlanOrResume(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	r := &runners{s: spec, o: &mo}
	ex := change.New(conn, change.Options{Tool: mo.Tool, LockTimeout: mo.LockTimeout, Retries: executorRetries, Backoff: 200 * time.Millisecond,
		Runners: r.all(), Progress: mo.Log, Hook: mo.Hook})
	run, err := runWaiting(ctx, ex, plan, mo.LockWait)
	out := &MigrateResult{Run: run, Resumed: resumed, CopyRowsPerSec: r.copyRate, CutoverLock: r.cutoverLock, Verified: r.verified}
	if err != nil {
		return out, err
	}
	st, serr := ReadState(ctx, conn, spec.Schema, spec.Table, true)
	if serr == nil {
		out.State = st
	}
	return out, nil
}

// runWaiting runs the plan, waiting up to wait while another session holds the
// executor lock: nothing has run when Run reports it busy, so trying again is safe.
func runWaiting(ctx context.Context, ex *change.Executor, plan *finding.Plan, wait time.Duration) (*change.Result, error) {
	deadline := time.Now().Add(wait)
	for {
		run, err := ex.Run(ctx, plan)
		var busy *change.BusyError
		if !errors.As(err, &busy) || time.Now().After(deadline) {
			return run, err
		}
		select {
		case <-ctx.Done():
			return run, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// runners are the Go-driven steps of one conversion.
type runners struct {
	s           *Spec
	o           *MigrateOptions
	copyRate    float64
	cutoverLock time.Duration
	verified    *Verification
}

func (r *runners) all() map[string]change.Runner {
	return map[string]change.Runner{RunnerCopy: r.copy, RunnerVerify: r.verify, RunnerCutover: r.cutover, RunnerRollback: r.rollback}
}

// copy is the keyset copy with the replay between batches.
func (r *runners) copy(ctx context.Context, conn *pgx.Conn) error {
	m := newMover(r.s, r.o, true)
	var done bool
	var copied, total int64
	if err := conn.QueryRow(ctx, policy.Marker+`SELECT m.copy_done, m.rows_copied, greatest(c.reltuples, 0)::bigint
		FROM pgmedic.partition_migrations m LEFT JOIN pg_class c ON c.oid = m.id WHERE m.id = $1`, r.s.id()).Scan(&done, &copied, &total); err != nil {
		return fmt.Errorf("partition: reading the copy's state: %w", err)
	}
	// Each batch has its own key range: a plan made for the values beats a generic one.
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_custom_plan"); err != nil {
		return fmt.Errorf("partition: copy: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "RESET plan_cache_mode")
	start, last := time.Now(), time.Now()
	var mine, replayed int64
	for batch := 0; !done; batch++ {
		n, d, err := m.copyBatch(ctx, conn)
		if err != nil {
			return fmt.Errorf("partition: copy: %w", err)
		}
		done, mine = d, mine+n
		r.o.Hook("copy:batch")
		k, _, err := m.catchUp(ctx, conn, r.o.ReplayBatch, 4)
		if err != nil {
			return fmt.Errorf("partition: replay: %w", err)
		}
		replayed += k
		r.o.Hook("copy:replay")
		if time.Since(last) >= r.o.ProgressEvery || done {
			last = time.Now()
			r.o.Progress(progress("copy", copied+mine, total, replayed, mine, time.Since(start)))
		}
		if batch%10 == 9 {
			if err := r.throttle(ctx, conn); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if secs := time.Since(start).Seconds(); mine > 0 && secs > 0 {
		r.copyRate = float64(mine) / secs
	}
	if _, _, err := m.catchUp(ctx, conn, r.o.CutoverBacklog, 1000); err != nil {
		return fmt.Errorf("partition: replay: %w", err)
	}
	_, err := conn.Exec(ctx, policy.Marker+r.s.setPhase(PhaseCopied))
	return err
}

func progress(phase string, copied, total, replayed, mine int64, elapsed time.Duration) Progress {
	p := Progress{Phase: phase, Copied: copied, Total: max(total, copied), Replayed: replayed}
	if secs := elapsed.Seconds(); secs > 0 {
		p.RowsPerSec = float64(mine) / secs
	}
	if p.RowsPerSec > 0 && p.Total > copied {
		p.ETA = time.Duration(float64(p.Total-copied) / p.RowsPerSec * float64(time.Second))
	}
	return p
}

// throttle waits while a streaming replica lags more than allowed: a copy that runs
// ahead of the replicas leaves none of them fit to take over.
func (r *runners) throttle(ctx context.Context, conn *pgx.Conn) error {
	if r.o.MaxReplicaLag < 0 {
		return nil
	}
	for {
		var lag int64
		err := conn.QueryRow(ctx, policy.Marker+`SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint
			FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&lag)
		if err != nil || lag <= r.o.MaxReplicaLag {
			return nil // without the view's privilege, no throttling rather than no copy
		}
		r.o.Progress(Progress{Phase: "copy", Message: fmt.Sprintf("paused: a replica is %s behind", finding.HumanBytes(lag))})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
