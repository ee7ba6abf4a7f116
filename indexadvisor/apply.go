package indexadvisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// ApplyOptions control how advice is carried out.
type ApplyOptions struct {
	LockTimeout time.Duration // per attempt (default 2s)
	Retries     int           // attempts after a lock timeout (default 5)
	Backoff     time.Duration // first wait between attempts, doubling (default 1s)
	Progress    func(msg string)
	// ProgressEvery is how often a running build's phase is read (default 1s).
	ProgressEvery time.Duration
	Tool          string // recorded with each action
	SkipDrops     bool
}

// StepResult is what happened to one recommendation or drop.
type StepResult struct {
	Object    string `json:"object"`
	SQL       string `json:"sql"`
	Status    string `json:"status"` // done, skipped, failed
	Detail    string `json:"detail,omitempty"`
	Attempts  int    `json:"attempts"`
	Confirmed int    `json:"statements_using_it,omitempty"`
	Targets   int    `json:"target_statements,omitempty"`

	action int64    // its row in pgmedic.actions
	also   []string // the partitions' index names, which plans show instead
}

// ApplyResult reports a run.
type ApplyResult struct {
	Steps  []StepResult `json:"steps"`
	Failed int          `json:"failed"`
	// Denied counts failures for want of privilege (CREATE INDEX needs the table's
	// owner): running again will not help.
	Denied int `json:"denied,omitempty"`
}

// ErrActionsDenied: the role may not create the pgmedic schema that records the steps.
var ErrActionsDenied = errors.New("cannot create the pgmedic.actions table that records every step: permission denied")

// add records a step and counts its failure.
func (res *ApplyResult) add(step StepResult) {
	if step.Status == "failed" {
		res.Failed++
		if deniedDetail(step.Detail) {
			res.Denied++
		}
	}
	res.Steps = append(res.Steps, step)
}

// deniedDetail: the failure was insufficient privilege (pgx ends a server error with
// its SQLSTATE).
func deniedDetail(detail string) bool { return strings.Contains(detail, "(SQLSTATE 42501)") }

// ReadAdvice reads advice JSON (from 'pgmedic index advise --format json') and refuses
// any statement that is not a concurrent index build or drop: the file may have been
// edited, and apply runs what it says.
func ReadAdvice(data []byte) (*Advice, error) {
	var adv Advice
	if err := json.Unmarshal(data, &adv); err != nil {
		return nil, fmt.Errorf("the advice is not JSON from 'pgmedic index advise --format json': %w", err)
	}
	for _, r := range adv.Recommendations {
		if !createRE.MatchString(r.SQL) || strings.Contains(strings.TrimRight(strings.TrimSpace(r.SQL), ";"), ";") {
			return nil, fmt.Errorf("recommendation %q: %q is not a single CREATE INDEX CONCURRENTLY statement", r.Name, sqlparse.Shorten(r.SQL, 80))
		}
		if _, err := sqlparse.Split(r.SQL); err != nil {
			return nil, fmt.Errorf("recommendation %q does not parse: %w", r.Name, err)
		}
	}
	for _, d := range adv.Drops {
		if !dropRE.MatchString(d.SQL) || strings.Contains(strings.TrimRight(strings.TrimSpace(d.SQL), ";"), ";") {
			return nil, fmt.Errorf("drop %q: %q is not a single DROP INDEX CONCURRENTLY statement", d.Index, sqlparse.Shorten(d.SQL, 80))
		}
	}
	return &adv, nil
}

var (
	createRE = regexp.MustCompile(`(?is)^\s*CREATE\s+INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s`)
	dropRE   = regexp.MustCompile(`(?is)^\s*DROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\s`)
)

// Plan renders the advice as the steps apply would run.
func (adv *Advice) Plan() *finding.Plan {
	p := &finding.Plan{Summary: fmt.Sprintf("%d indexes to build, %d to drop; each build runs concurrently (reads and writes go on)", len(adv.Recommendations), len(adv.Drops))}
	for _, r := range adv.Recommendations {
		p.Steps = append(p.Steps, finding.Step{Description: fmt.Sprintf("build %s on %s (%s)", r.Name, r.Table, strings.Join(r.Columns, ", ")),
			SQL: r.SQL, Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true})
	}
	for _, d := range adv.Drops {
		p.Steps = append(p.Steps, finding.Step{Description: "drop " + d.Index + ": " + d.Reason, SQL: d.SQL, Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true})
	}
	return p
}

// Applier carries out advice on a read-write session, watching progress from a second
// session and confirming with a planner that the new indexes are used.
type Applier struct {
	conn    *pgx.Conn        // read-write, runs the builds
	watch   *pgx.Conn        // reads pg_stat_progress_create_index
	planner *explain.Planner // read-only, confirms plans use the new indexes
	opts    ApplyOptions
}

// NewApplier prepares an applier; watch and planner may be nil (no progress, no
// confirmation).
func NewApplier(conn, watch *pgx.Conn, planner *explain.Planner, opts ApplyOptions) *Applier {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	return &Applier{conn: conn, watch: watch, planner: planner, opts: opts}
}

// actionsDDL is pgmedic's own audit trail in the target database.
const actionsDDL = `CREATE SCHEMA IF NOT EXISTS pgmedic;
CREATE TABLE IF NOT EXISTS pgmedic.actions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    actor       text NOT NULL DEFAULT session_user,
    client      text DEFAULT inet_client_addr()::text,
    tool        text,
    kind        text NOT NULL,
    object      text NOT NULL,
    statement   text NOT NULL,
    status      text NOT NULL,
    detail      text
);
COMMENT ON TABLE pgmedic.actions IS 'Changes pgmedic made to this database: who, when, what.'`

// Apply runs the builds one at a time, then the drops.
func (ap *Applier) Apply(ctx context.Context, adv *Advice) (*ApplyResult, error) {
	if _, err := ap.conn.Exec(ctx, actionsDDL); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return nil, ErrActionsDenied
		}
		return nil, fmt.Errorf("indexadvisor: creating pgmedic.actions: %w", err)
	}
	res := &ApplyResult{}
	for _, r := range adv.Recommendations {
		res.add(ap.build(ctx, r))
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	// Indexes that work together (an OR's branches, a join's two sides) are used only
	// once all are built: confirm again those that were not yet used.
	for i, r := range adv.Recommendations {
		step := &res.Steps[i]
		if step.Status != "done" || step.Confirmed >= step.Targets {
			continue
		}
		if targets, using := ap.confirm(ctx, r, step.also...); using > step.Confirmed {
			step.Targets, step.Confirmed = targets, using
			step.Detail = fmt.Sprintf("%d of %d target statements plan with it once every index is built", using, targets)
			ap.finish(step.action, "done", step.Detail)
		}
	}
	if !ap.opts.SkipDrops {
		builtAll := res.Failed == 0
		for _, d := range adv.Drops {
			if !builtAll {
				// A drop may be the old index a failed build was to replace: dropping it
				// would leave its queries with neither.
				res.add(StepResult{Object: d.Index, SQL: d.SQL, Status: "skipped", Detail: "not dropped: a build failed, and drops wait until every build has succeeded"})
				continue
			}
			res.add(ap.drop(ctx, d))
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	return res, nil
}

func (ap *Applier) record(ctx context.Context, kind, object, sql string) int64 {
	var id int64
	err := ap.conn.QueryRow(ctx, policy.Marker+`INSERT INTO pgmedic.actions (tool, kind, object, statement, status) VALUES ($1, $2, $3, $4, 'running') RETURNING id`,
		ap.opts.Tool, kind, object, sql).Scan(&id)
	if err != nil {
		return 0
	}
	return id
}

func (ap *Applier) finish(id int64, status, detail string) {
	if id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = ap.conn.Exec(ctx, policy.Marker+`UPDATE pgmedic.actions SET finished_at = now(), status = $2, detail = $3 WHERE id = $1`, id, status, detail)
}

// indexState reports whether an index of that name exists on the schema, and if it is
// valid.
func (ap *Applier) indexState(ctx context.Context, schema, name string) (exists, valid bool, err error) {
	err = ap.conn.QueryRow(ctx, policy.Marker+`SELECT true, i.indisvalid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_index i ON i.indexrelid = c.oid WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&exists, &valid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	return exists, valid, err
}

func (ap *Applier) build(ctx context.Context, r Recommendation) StepResult {
	step := StepResult{Object: r.Table + "." + r.Name, SQL: r.SQL}
	schema, _ := splitQualified(r.Table)
	exists, valid, err := ap.indexState(ctx, schema, r.Name)
	if err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		return step
	}
	if exists && valid {
		step.Status, step.Detail = "skipped", "already exists"
		ap.opts.Progress(fmt.Sprintf("%s already exists", r.Name))
		return step
	}
	id := ap.record(ctx, "create_index", step.Object, r.SQL)
	step.action = id
	var kind string
	_ = ap.conn.QueryRow(ctx, policy.Marker+"SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
		schema, strings.TrimPrefix(r.Table, schema+".")).Scan(&kind)
	if kind == "p" {
		return ap.buildPartitioned(ctx, r, schema, id, step)
	}
	if exists && !valid {
		// A build killed earlier left an invalid index with this name: IF NOT EXISTS
		// would skip it, so it goes first.
		ap.opts.Progress(fmt.Sprintf("dropping the invalid leftover %s from an earlier attempt", r.Name))
		if err := ap.dropIndex(ctx, schema, r.Name); err != nil {
			ap.finish(id, "failed", sqlparse.OneLine(explain.SafeError(err)))
			step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
			return step
		}
	}
	for attempt := 1; attempt <= ap.opts.Retries+1; attempt++ {
		step.Attempts = attempt
		ap.opts.Progress(fmt.Sprintf("building %s (attempt %d)", r.Name, attempt))
		err = ap.runWithProgress(ctx, r.SQL, r.Name)
		if err == nil {
			break
		}
		// Whatever failed, a concurrent build leaves an invalid index behind.
		if _, v, _ := ap.indexState(ctx, schema, r.Name); !v {
			_ = ap.dropIndex(ctx, schema, r.Name)
		}
		if !isLockTimeout(err) || ctx.Err() != nil {
			break
		}
		wait := ap.opts.Backoff << (attempt - 1)
		ap.opts.Progress(fmt.Sprintf("%s: lock not granted within %s; retrying in %s", r.Name, ap.opts.LockTimeout, wait))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		ap.finish(id, "failed", step.Detail)
		return step
	}
	step.Status = "done"
	step.Targets, step.Confirmed = ap.confirm(ctx, r)
	step.Detail = fmt.Sprintf("%d of %d target statements now plan with it", step.Confirmed, step.Targets)
	ap.finish(id, "done", step.Detail)
	ap.opts.Progress(fmt.Sprintf("built %s: %s", r.Name, step.Detail))
	return step
}

// buildPartitioned builds an index on a partitioned table without long locks, which
// CREATE INDEX CONCURRENTLY cannot do on the parent: each partition's index is built
// concurrently, then an index is created ON ONLY the parent (no data to read) and every
// partition's index attached to it; the parent's index becomes valid with the last one.
func (ap *Applier) buildPartitioned(ctx context.Context, r Recommendation, schema string, id int64, step StepResult) StepResult {
	table := strings.TrimPrefix(r.Table, schema+".")
	on := " ON " + pgx.Identifier{schema, table}.Sanitize() + " "
	i := strings.Index(r.SQL, on)
	if i < 0 {
		step.Status, step.Detail = "failed", "cannot split the index definition for a partitioned table"
		ap.finish(id, "failed", step.Detail)
		return step
	}
	rest := r.SQL[i+len(on):]
	rows, err := ap.conn.Query(ctx, policy.Marker+`SELECT n.nspname, c.relname FROM pg_partition_tree($1::regclass) t
		JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.isleaf ORDER BY 1, 2`,
		pgx.Identifier{schema, table}.Sanitize())
	if err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		ap.finish(id, "failed", step.Detail)
		return step
	}
	parts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		err := row.Scan(&p[0], &p[1])
		return p, err
	})
	if err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		ap.finish(id, "failed", step.Detail)
		return step
	}
	var children, childNames []string
	for _, p := range parts {
		child := childIndexName(p[1], r.Name)
		children = append(children, pgx.Identifier{p[0], child}.Sanitize())
		childNames = append(childNames, child)
		if exists, valid, _ := ap.indexState(ctx, p[0], child); exists && !valid {
			_ = ap.dropIndex(ctx, p[0], child)
		}
		sql := "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + pgx.Identifier{child}.Sanitize() + " ON " + pgx.Identifier{p[0], p[1]}.Sanitize() + " " + rest
		ap.opts.Progress(fmt.Sprintf("building %s on partition %s", child, p[1]))
		if err := ap.retrying(ctx, sql); err != nil {
			if _, v, _ := ap.indexState(ctx, p[0], child); !v {
				_ = ap.dropIndex(ctx, p[0], child)
			}
			step.Status, step.Detail = "failed", fmt.Sprintf("partition %s: %s", p[1], sqlparse.OneLine(explain.SafeError(err)))
			ap.finish(id, "failed", step.Detail)
			return step
		}
	}
	parent := "CREATE INDEX IF NOT EXISTS " + pgx.Identifier{r.Name}.Sanitize() + " ON ONLY " + pgx.Identifier{schema, table}.Sanitize() + " " + rest
	if err := ap.retrying(ctx, parent); err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		ap.finish(id, "failed", step.Detail)
		return step
	}
	for _, c := range children {
		attach := "ALTER INDEX " + pgx.Identifier{schema, r.Name}.Sanitize() + " ATTACH PARTITION " + c
		if err := ap.retrying(ctx, attach); err != nil && !strings.Contains(err.Error(), "already attached") &&
			!strings.Contains(err.Error(), "is already") {
			step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
			ap.finish(id, "failed", step.Detail)
			return step
		}
	}
	step.Status, step.Attempts = "done", 1
	step.also = childNames
	step.Targets, step.Confirmed = ap.confirm(ctx, r, childNames...)
	step.Detail = fmt.Sprintf("built on %d partitions and attached; %d of %d target statements now plan with it", len(parts), step.Confirmed, step.Targets)
	ap.finish(id, "done", step.Detail)
	ap.opts.Progress(fmt.Sprintf("built %s: %s", r.Name, step.Detail))
	return step
}

// childIndexName names a partition's index after the partition and the parent index.
func childIndexName(partition, index string) string {
	name := partition + "_" + strings.TrimSuffix(index, "_idx")
	if len(name) > 55 {
		h := fnvHash(name)
		name = fmt.Sprintf("%s_%08x", name[:46], h)
	}
	return name + "_idx"
}

// retrying runs a statement, retrying with backoff while a lock is not granted.
func (ap *Applier) retrying(ctx context.Context, sql string) error {
	var err error
	for attempt := 1; attempt <= ap.opts.Retries+1; attempt++ {
		if err = ap.exec(ctx, sql); err == nil || !isLockTimeout(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ap.opts.Backoff << (attempt - 1)):
		}
	}
	return err
}

func (ap *Applier) drop(ctx context.Context, d Drop) StepResult {
	step := StepResult{Object: d.Index, SQL: d.SQL}
	id := ap.record(ctx, "drop_index", d.Index, d.SQL)
	var err error
	for attempt := 1; attempt <= ap.opts.Retries+1; attempt++ {
		step.Attempts = attempt
		err = ap.exec(ctx, d.SQL)
		if err == nil || !isLockTimeout(err) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(ap.opts.Backoff << (attempt - 1)):
		}
	}
	if err != nil {
		step.Status, step.Detail = "failed", sqlparse.OneLine(explain.SafeError(err))
		ap.finish(id, "failed", step.Detail)
		return step
	}
	step.Status = "done"
	ap.finish(id, "done", "")
	ap.opts.Progress("dropped " + d.Index)
	return step
}

func (ap *Applier) dropIndex(ctx context.Context, schema, name string) error {
	return ap.exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+pgx.Identifier{schema, name}.Sanitize())
}

// exec runs one non-transactional statement under the lock timeout, without a
// statement timeout (a build takes as long as the table needs).
func (ap *Applier) exec(ctx context.Context, sql string) error {
	setup := fmt.Sprintf("SET lock_timeout = %d; SET statement_timeout = 0", ap.opts.LockTimeout.Milliseconds())
	if _, err := ap.conn.Exec(ctx, setup); err != nil {
		return err
	}
	_, err := ap.conn.Exec(ctx, sql)
	return err
}

// runWithProgress runs a build while the watch session reports its phase and blocks.
func (ap *Applier) runWithProgress(ctx context.Context, sql, name string) error {
	done := make(chan struct{})
	var pid int
	_ = ap.conn.QueryRow(ctx, policy.Marker+"SELECT pg_backend_pid()").Scan(&pid)
	if ap.watch != nil && pid > 0 {
		go func() {
			tick := time.NewTicker(ap.opts.ProgressEvery)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					var phase string
					var blocksDone, blocksTotal, tuplesDone, tuplesTotal int64
					err := ap.watch.QueryRow(ctx, policy.Marker+`SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
						FROM pg_stat_progress_create_index WHERE pid = $1`, pid).Scan(&phase, &blocksDone, &blocksTotal, &tuplesDone, &tuplesTotal)
					if err != nil {
						continue
					}
					msg := fmt.Sprintf("%s: %s", name, phase)
					if blocksTotal > 0 {
						msg += fmt.Sprintf(", %d%% of blocks", 100*blocksDone/blocksTotal)
					} else if tuplesTotal > 0 {
						msg += fmt.Sprintf(", %d%% of rows", 100*tuplesDone/tuplesTotal)
					}
					ap.opts.Progress(msg)
				}
			}
		}()
	}
	err := ap.exec(ctx, sql)
	close(done)
	return err
}

// confirm plans the recommendation's target statements and counts those that use the
// new index.
func (ap *Applier) confirm(ctx context.Context, r Recommendation, also ...string) (targets, using int) {
	uses := func(p *explain.Plan) bool {
		if p.UsesIndex(r.Name) {
			return true
		}
		for _, n := range also {
			if p.UsesIndex(n) {
				return true
			}
		}
		return false
	}
	if ap.planner == nil {
		return len(r.Statements), 0
	}
	for _, q := range r.Statements {
		s, _, err := ap.planner.Take(ctx, q, nil)
		if err != nil {
			continue
		}
		targets++
		plan, err := ap.planner.Plan(ctx, s, nil)
		if err != nil {
			continue
		}
		if vals, ok := ap.planner.Representative(ctx, s); ok {
			// A partial index serves the statement for its predicate's constant.
			for col, v := range partialConstants(r.Table, r.Where) {
				for _, p := range s.Parsed.Predicates {
					if p.Column == col && p.Op == "=" && p.Param >= 1 && p.Param <= len(vals) {
						vv := v
						vals[p.Param-1] = &vv
					}
				}
			}
			if custom, err := ap.planner.Plan(ctx, s, vals); err == nil && uses(custom) {
				plan = custom
			}
		}
		if uses(plan) {
			using++
		}
	}
	return targets, using
}

// partialConstants reads the column = constant pairs of a partial index predicate.
func partialConstants(table, where string) map[string]string {
	out := map[string]string{}
	if where == "" {
		return out
	}
	schema, name := splitQualified(table)
	st, err := sqlparse.NewParser(nil, 0).Parse("SELECT 1 FROM " + pgx.Identifier{schema, name}.Sanitize() + " WHERE " + where)
	if err != nil {
		return out
	}
	for _, p := range st.Predicates {
		if p.Op == "=" && p.Value == sqlparse.ValConst {
			out[p.Column] = p.ConstValue()
		}
	}
	return out
}

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01")
}

// fnvHash is a short, stable hash for names (FNV-1a, 32 bits).
func fnvHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
