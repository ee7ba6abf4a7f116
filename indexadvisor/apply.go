package indexadvisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// ApplyOptions control how advice is carried out (see change.Options).
type ApplyOptions struct {
	LockTimeout time.Duration // per attempt (default 2s)
	Retries     int           // attempts after a lock timeout (default 5)
	Backoff     time.Duration // first wait between attempts, doubling, jittered (default 1s)
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
	Status    string `json:"status"` // done, skipped, failed, not run
	Detail    string `json:"detail,omitempty"`
	Attempts  int    `json:"attempts"`
	Confirmed int    `json:"statements_using_it,omitempty"`
	Targets   int    `json:"target_statements,omitempty"`

	also []string // the partitions' index names, which plans show instead
}

// ApplyResult reports a run.
type ApplyResult struct {
	Steps  []StepResult `json:"steps"`
	Failed int          `json:"failed"`
	// Denied counts failures for want of privilege (CREATE INDEX needs the table's
	// owner): running again will not help.
	Denied int `json:"denied,omitempty"`
	// Interrupted counts steps an earlier run was killed in the middle of.
	Interrupted int `json:"interrupted,omitempty"`
}

// ReadAdvice reads advice JSON (from 'pgmedic index advise --format json') and refuses
// any statement that is not a concurrent index build or drop: the file may have been
// edited, and apply runs what it says.
func ReadAdvice(data []byte) (*Advice, error) {
	var adv Advice
	if err := json.Unmarshal(data, &adv); err != nil {
		return nil, fmt.Errorf("the advice is not JSON from 'pgmedic index advise --format json': %w", err)
	}
	for _, r := range adv.Recommendations {
		if err := checkBuild(r); err != nil {
			return nil, fmt.Errorf("recommendation %q: %v", r.Name, err)
		}
	}
	for _, d := range adv.Drops {
		if err := checkDrop(d); err != nil {
			return nil, fmt.Errorf("drop %q: %v", d.Index, err)
		}
	}
	return &adv, nil
}

// checkBuild: the statement is one concurrent CREATE INDEX IF NOT EXISTS of the index
// the recommendation names, on the table it names.
func checkBuild(r Recommendation) error {
	ddl, err := sqlparse.ReadIndexDDL(r.SQL)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not one CREATE INDEX CONCURRENTLY IF NOT EXISTS statement: %v", sqlparse.Shorten(r.SQL, 80), err)
	case ddl.Drop || !ddl.Concurrently || !ddl.IfExists:
		return fmt.Errorf("%q is not a CREATE INDEX CONCURRENTLY IF NOT EXISTS", sqlparse.Shorten(r.SQL, 80))
	case ddl.Name != r.Name:
		return fmt.Errorf("its statement builds %q, not the index it names", ddl.Name)
	case qualified(ddl.Schema, ddl.Table) != qualified(splitQualified(r.Table)):
		return fmt.Errorf("its statement is on %s, not on %s", qualified(ddl.Schema, ddl.Table), r.Table)
	case ddl.Unique:
		return fmt.Errorf("its statement builds a UNIQUE index, which pgmedic never recommends")
	}
	return nil
}

// checkDrop: the statement is one concurrent DROP INDEX IF EXISTS of the index named.
func checkDrop(d Drop) error {
	ddl, err := sqlparse.ReadIndexDDL(d.SQL)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not one DROP INDEX CONCURRENTLY IF EXISTS statement: %v", sqlparse.Shorten(d.SQL, 80), err)
	case !ddl.Drop || !ddl.Concurrently || !ddl.IfExists:
		return fmt.Errorf("%q is not a DROP INDEX CONCURRENTLY IF EXISTS", sqlparse.Shorten(d.SQL, 80))
	case qualified(ddl.Schema, ddl.Name) != qualified(splitQualified(d.Index)):
		return fmt.Errorf("its statement drops %s, not the index it names", qualified(ddl.Schema, ddl.Name))
	}
	return nil
}

func qualified(schema, name string) string {
	if schema == "" {
		schema = "public"
	}
	return schema + "." + name
}

// Plan renders the advice as the steps apply would run. A partitioned table's index
// is built per partition when it runs (see Applier); here it is one step.
func (adv *Advice) Plan() *finding.Plan {
	p := &finding.Plan{Summary: fmt.Sprintf("%d indexes to build, %d to drop; each build runs concurrently (reads and writes go on)", len(adv.Recommendations), len(adv.Drops))}
	for _, r := range adv.Recommendations {
		schema, _ := splitQualified(r.Table)
		desc := fmt.Sprintf("build %s on %s (%s)", r.Name, r.Table, strings.Join(r.Columns, ", "))
		if r.Partitioned {
			desc += ", partition by partition, then attached to an index on the parent"
		}
		p.Steps = append(p.Steps, buildStep(schema, r.Name, r.SQL, desc))
	}
	for _, d := range adv.Drops {
		p.Steps = append(p.Steps, dropStep(d))
	}
	return p
}

func buildStep(schema, name, sql, desc string) finding.Step {
	return change.BuildIndexStep(schema, name, sql, desc)
}

func dropStep(d Drop) finding.Step {
	schema, name := splitQualified(d.Index)
	step := change.DropIndexStep(schema, name, "drop "+d.Index+": "+d.Reason)
	step.SQL = d.SQL
	return step
}

// Applier carries out advice through the shared executor (package change), watching
// progress from a second session and confirming with a planner that the new indexes
// are used. What is specific to indexes stays here: the steps of a partitioned
// table's build, and the confirmation.
type Applier struct {
	conn    *pgx.Conn        // read-write, runs the builds
	watch   *pgx.Conn        // reads pg_stat_progress_create_index
	planner *explain.Planner // read-only, confirms plans use the new indexes
	opts    ApplyOptions
	hook    func(string)
}

// NewApplier prepares an applier; watch and planner may be nil (no progress, no
// confirmation).
func NewApplier(conn, watch *pgx.Conn, planner *explain.Planner, opts ApplyOptions) *Applier {
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	return &Applier{conn: conn, watch: watch, planner: planner, opts: opts}
}

func (ap *Applier) executor(keepGoing bool) *change.Executor {
	return change.New(ap.conn, change.Options{Tool: ap.opts.Tool, LockTimeout: ap.opts.LockTimeout, Retries: ap.opts.Retries,
		Backoff: ap.opts.Backoff, KeepGoing: keepGoing, Watch: ap.watch, Progress: ap.opts.Progress,
		ProgressEvery: ap.opts.ProgressEvery, Hook: ap.hook})
}

// Apply builds the recommended indexes, one at a time, then, when every build
// succeeded, the drops.
func (ap *Applier) Apply(ctx context.Context, adv *Advice) (*ApplyResult, error) {
	plan, owners, err := ap.buildPlan(ctx, adv)
	if err != nil {
		return nil, err
	}
	run, err := ap.executor(true).Run(ctx, plan)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Interrupted: run.Interrupted}
	for i, r := range adv.Recommendations {
		res.add(ap.outcome(ctx, r, run, owners[i]))
	}
	ap.confirmTogether(ctx, adv, res)
	if ap.opts.SkipDrops || len(adv.Drops) == 0 {
		return res, nil
	}
	if res.Failed > 0 {
		// A drop may be the old index a failed build was to replace: dropping it
		// would leave its queries with neither.
		for _, d := range adv.Drops {
			res.add(StepResult{Object: d.Index, SQL: d.SQL, Status: change.StatusNotRun, Detail: "not dropped: a build failed, and drops wait until every build has succeeded"})
		}
		return res, nil
	}
	drops := &finding.Plan{Summary: "drops"}
	for _, d := range adv.Drops {
		drops.Steps = append(drops.Steps, dropStep(d))
	}
	dropRun, err := ap.executor(true).Run(ctx, drops)
	if err != nil {
		return res, err
	}
	for _, s := range dropRun.Steps {
		res.add(StepResult{Object: s.Object, SQL: s.SQL, Status: s.Status, Detail: s.Detail, Attempts: s.Attempts})
		if s.Denied {
			res.Denied++
		}
	}
	return res, nil
}

// owner says which plan steps carry out one recommendation.
type owner struct {
	first, last int      // step indexes, inclusive
	children    []string // partition index names
}

// buildPlan makes the executor's steps: one concurrent build per recommendation, or,
// for a partitioned table (where CREATE INDEX CONCURRENTLY cannot run on the parent),
// a concurrent build on every partition, an index ON ONLY the parent (no data to
// read), and each partition's index attached to it; the parent's index becomes valid
// with the last attachment.
func (ap *Applier) buildPlan(ctx context.Context, adv *Advice) (*finding.Plan, []owner, error) {
	plan := &finding.Plan{Summary: adv.Plan().Summary}
	owners := make([]owner, len(adv.Recommendations))
	for i, r := range adv.Recommendations {
		schema, table := splitQualified(r.Table)
		owners[i].first = len(plan.Steps)
		parts, err := ap.partitions(ctx, schema, table)
		if err != nil {
			return nil, nil, fmt.Errorf("indexadvisor: listing the partitions of %s: %w", r.Table, err)
		}
		if len(parts) == 0 {
			plan.Steps = append(plan.Steps, buildStep(schema, r.Name, r.SQL, fmt.Sprintf("build %s on %s (%s)", r.Name, r.Table, strings.Join(r.Columns, ", "))))
		} else {
			steps, children, err := partitionedSteps(r, schema, table, parts)
			if err != nil {
				return nil, nil, err
			}
			plan.Steps = append(plan.Steps, steps...)
			owners[i].children = children
		}
		owners[i].last = len(plan.Steps) - 1
	}
	return plan, owners, nil
}

// partitions lists a partitioned table's leaf partitions (none for a plain table).
func (ap *Applier) partitions(ctx context.Context, schema, table string) ([][2]string, error) {
	rows, err := ap.conn.Query(ctx, policy.Marker+`SELECT n.nspname, c.relname FROM pg_partition_tree($1::regclass) t
		JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE t.isleaf AND t.level > 0 ORDER BY 1, 2`, pgx.Identifier{schema, table}.Sanitize())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		err := row.Scan(&p[0], &p[1])
		return p, err
	})
}

func partitionedSteps(r Recommendation, schema, table string, parts [][2]string) ([]finding.Step, []string, error) {
	on := " ON " + pgx.Identifier{schema, table}.Sanitize() + " "
	i := strings.Index(r.SQL, on)
	if i < 0 {
		return nil, nil, fmt.Errorf("indexadvisor: cannot split the definition of %s for a partitioned table", r.Name)
	}
	rest := r.SQL[i+len(on):]
	var steps []finding.Step
	var children []string
	for _, p := range parts {
		child := ident.PartitionIndexName(p[1], r.Name)
		children = append(children, child)
		sql := "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + pgx.Identifier{child}.Sanitize() + " ON " + pgx.Identifier{p[0], p[1]}.Sanitize() + " " + rest
		steps = append(steps, buildStep(p[0], child, sql, fmt.Sprintf("build %s on partition %s", child, p[1])))
	}
	parent := pgx.Identifier{schema, r.Name}.Sanitize()
	steps = append(steps, finding.Step{Description: fmt.Sprintf("create %s on the parent only (reads no rows)", r.Name), Object: schema + "." + r.Name,
		SQL:  "CREATE INDEX IF NOT EXISTS " + pgx.Identifier{r.Name}.Sanitize() + " ON ONLY " + pgx.Identifier{schema, table}.Sanitize() + " " + rest,
		Kind: "ddl", Lock: "SHARE", Check: change.IndexExists(schema, r.Name, "")})
	for j, p := range parts {
		child := pgx.Identifier{p[0], children[j]}.Sanitize()
		steps = append(steps, finding.Step{Description: fmt.Sprintf("attach %s to %s", children[j], r.Name), Object: schema + "." + r.Name,
			SQL: "ALTER INDEX " + parent + " ATTACH PARTITION " + child, Kind: "ddl", Lock: "SHARE UPDATE EXCLUSIVE",
			Check: "SELECT EXISTS (SELECT FROM pg_catalog.pg_inherits WHERE inhrelid = pg_catalog.to_regclass(" + quoteLiteral(child) +
				") AND inhparent = pg_catalog.to_regclass(" + quoteLiteral(parent) + "))"})
	}
	return steps, children, nil
}

// outcome sums up the steps of one recommendation and confirms a finished build.
func (ap *Applier) outcome(ctx context.Context, r Recommendation, run *change.Result, o owner) StepResult {
	step := StepResult{Object: r.Table + "." + r.Name, SQL: r.SQL, Status: change.StatusSkipped, also: o.children}
	for i := o.first; i <= o.last && i < len(run.Steps); i++ {
		s := run.Steps[i]
		step.Attempts += s.Attempts
		switch {
		case s.Status == change.StatusFailed || s.Status == change.StatusNotRun:
			step.Status, step.Detail = change.StatusFailed, s.Detail
			return step
		case s.Status == change.StatusDone:
			step.Status = change.StatusDone
		}
	}
	if step.Status == change.StatusSkipped {
		step.Detail = "already exists"
		ap.opts.Progress(fmt.Sprintf("%s already exists", r.Name))
		return step
	}
	step.Targets, step.Confirmed = ap.confirm(ctx, r, o.children...)
	step.Detail = fmt.Sprintf("%d of %d target statements now plan with it", step.Confirmed, step.Targets)
	if len(o.children) > 0 {
		step.Detail = fmt.Sprintf("built on %d partitions and attached; %s", len(o.children), step.Detail)
	}
	ap.opts.Progress(fmt.Sprintf("built %s: %s", r.Name, step.Detail))
	return step
}

// confirmTogether confirms again the indexes that work together (an OR's branches, a
// join's two sides), which plans use only once all are built.
func (ap *Applier) confirmTogether(ctx context.Context, adv *Advice, res *ApplyResult) {
	for i, r := range adv.Recommendations {
		step := &res.Steps[i]
		if step.Status != change.StatusDone || step.Confirmed >= step.Targets {
			continue
		}
		if targets, using := ap.confirm(ctx, r, step.also...); using > step.Confirmed {
			step.Targets, step.Confirmed = targets, using
			step.Detail = fmt.Sprintf("%d of %d target statements plan with it once every index is built", using, targets)
		}
	}
}

// add records a step and counts its failure.
func (res *ApplyResult) add(step StepResult) {
	if step.Status == change.StatusFailed {
		res.Failed++
		if strings.Contains(step.Detail, "(SQLSTATE 42501)") {
			res.Denied++
		}
	}
	res.Steps = append(res.Steps, step)
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
