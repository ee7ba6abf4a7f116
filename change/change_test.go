package change_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

// TestMain doubles as the executor process the kill tests kill: with
// PGMEDIC_EXECUTOR_CHILD set, the test binary runs one plan and nothing else.
func TestMain(m *testing.M) {
	if os.Getenv("PGMEDIC_EXECUTOR_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(pgtest.Main(m, &pg))
}

// child runs the plan in PGMEDIC_PLAN against PGMEDIC_DSN; at the point named in
// PGMEDIC_STOP_AT it says so on stdout and waits to be killed.
func child() int {
	ctx := context.Background()
	var plan finding.Plan
	if err := json.Unmarshal([]byte(os.Getenv("PGMEDIC_PLAN")), &plan); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{Write: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	stopAt := os.Getenv("PGMEDIC_STOP_AT")
	ex := change.New(conn, change.Options{Tool: "test child", LockTimeout: 500 * time.Millisecond, Backoff: 200 * time.Millisecond,
		Hook: func(point string) {
			fmt.Printf("AT %s\n", point)
			if point == stopAt {
				select {} // killed here
			}
		}})
	res, err := ex.Run(ctx, &plan)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("DONE %d %d %d\n", res.Done, res.Skipped, res.Failed)
	return 0
}

// demoPlan builds an index concurrently, adds a constraint NOT VALID and validates it.
func demoPlan() *finding.Plan {
	return &finding.Plan{Summary: "index, constraint, validation", Steps: []finding.Step{
		{Description: "build the val index", Object: "public.big_val_idx", Kind: "index", NoTransaction: true, Progress: "create_index",
			SQL:          "CREATE INDEX CONCURRENTLY IF NOT EXISTS big_val_idx ON big (val)",
			Check:        "SELECT EXISTS (SELECT FROM pg_index WHERE indexrelid = to_regclass('public.big_val_idx') AND indisvalid)",
			CleanupCheck: "SELECT EXISTS (SELECT FROM pg_index WHERE indexrelid = to_regclass('public.big_val_idx') AND NOT indisvalid)",
			Cleanup:      "DROP INDEX CONCURRENTLY IF EXISTS big_val_idx", Lock: "SHARE UPDATE EXCLUSIVE"},
		{Description: "add the check constraint without reading the table", Object: "public.big", Kind: "ddl",
			SQL:   "ALTER TABLE big ADD CONSTRAINT big_val_positive CHECK (val >= 0) NOT VALID",
			Check: "SELECT EXISTS (SELECT FROM pg_constraint WHERE conname = 'big_val_positive' AND conrelid = 'big'::regclass)", Lock: "ACCESS EXCLUSIVE"},
		{Description: "validate the constraint", Object: "public.big", Kind: "maintenance",
			SQL:   "ALTER TABLE big VALIDATE CONSTRAINT big_val_positive",
			Check: "SELECT coalesce((SELECT convalidated FROM pg_constraint WHERE conname = 'big_val_positive' AND conrelid = 'big'::regclass), false)", Lock: "SHARE UPDATE EXCLUSIVE"},
	}}
}

func bigTable(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE big (id bigint PRIMARY KEY, val int NOT NULL); INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 100000) g; ANALYZE big")
	return db
}

// startChild runs the executor process; it returns once the process reached stopAt
// (or ended, when stopAt is "").
func startChild(t *testing.T, db *pgtest.DB, plan *finding.Plan, stopAt string) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(plan)
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "PGMEDIC_EXECUTOR_CHILD=1", "PGMEDIC_DSN="+db.URI, "PGMEDIC_PLAN="+string(raw), "PGMEDIC_STOP_AT="+stopAt)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if stopAt != "" && lines.Text() == "AT "+stopAt {
			return cmd
		}
		if strings.HasPrefix(lines.Text(), "DONE") {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("executor process: %v\n%s", err, stderr.String())
	}
	if stopAt != "" {
		t.Fatalf("the executor finished without reaching %s", stopAt)
	}
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred function runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// waitFor polls a boolean query until it holds.
func waitFor(t *testing.T, db *pgtest.DB, what, sql string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if db.QueryInt64(t, "SELECT ("+sql+")::int") == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type action struct {
	step           int
	kind, status   string
	attempt        int
	detail         string
	finished       bool
	statementShort string
}

func actions(t *testing.T, db *pgtest.DB) []action {
	t.Helper()
	conn := db.Conn(t)
	rows, err := conn.Query(context.Background(), `SELECT coalesce(step, 0), kind, status, coalesce(attempt, 0), coalesce(detail, ''),
		finished_at IS NOT NULL, left(statement, 40) FROM pgmedic.actions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (action, error) {
		var a action
		err := r.Scan(&a.step, &a.kind, &a.status, &a.attempt, &a.detail, &a.finished, &a.statementShort)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The executor is killed (SIGKILL) at four points of a plan that builds an index
// concurrently, adds a NOT VALID constraint and validates it: with its audit row
// written and nothing run; in the middle of the concurrent build; with the constraint
// added and its row not yet closed; while the validation waits for a lock. Each rerun
// picks up where the last stopped, and the last leaves the database as planned, no
// INVALID index behind, and a log that tells what happened step by step.
func TestKilledExecutorResumes(t *testing.T) {
	db := bigTable(t)
	plan := demoPlan()

	// 1. Killed after writing step 1's row, before running it.
	kill(t, startChild(t, db, plan, "before:1/1"))

	// 2. Killed in the middle of the concurrent build: an open snapshot holds the build
	// in its wait, the process dies, the server notices the lost client and aborts the
	// build, leaving an INVALID index.
	hold := db.Conn(t)
	ctx := context.Background()
	if _, err := hold.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM big"); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(plan)
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "PGMEDIC_EXECUTOR_CHILD=1", "PGMEDIC_DSN="+db.URI, "PGMEDIC_PLAN="+string(raw))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, db, "the concurrent build to wait for the open snapshot",
		"EXISTS (SELECT FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.relid WHERE c.relname = 'big' AND p.phase LIKE 'waiting%')")
	kill(t, cmd)
	waitFor(t, db, "the build's backend to end",
		"NOT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE '%CREATE INDEX CONCURRENTLY IF NOT EXISTS big_val_idx%' AND pid <> pg_backend_pid())")
	if _, err := hold.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if db.QueryInt64(t, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.big_val_idx') AND NOT indisvalid") != 1 {
		t.Fatal("the interrupted build did not leave the INVALID index this test is about")
	}

	// 3. Killed after step 2 ran, before its row was closed.
	kill(t, startChild(t, db, plan, "after:2/1"))

	// 4. Killed while the validation waits for a lock another session holds.
	if _, err := hold.Exec(ctx, "BEGIN; LOCK TABLE big IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cmd = startChild(t, db, plan, "before:3/2") // the first attempt ended with a lock timeout
	kill(t, cmd)
	if _, err := hold.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}

	// The rerun finishes the plan.
	startChild(t, db, plan, "")
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('public.big_val_idx') AND indisvalid"); n != 1 {
		t.Error("the index is not there, valid")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = 'big' AND NOT i.indisvalid"); n != 0 {
		t.Errorf("%d INVALID indexes left", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_constraint WHERE conname = 'big_val_positive' AND convalidated"); n != 1 {
		t.Error("the constraint is not validated")
	}
	log := actions(t, db)
	var report []string
	kinds := map[string]int{}
	for _, a := range log {
		report = append(report, fmt.Sprintf("step %d attempt %d %-8s %-11s %s", a.step, a.attempt, a.kind, a.status, a.detail))
		kinds[a.status]++
		kinds["kind:"+a.kind]++
		if a.status == "running" || !a.finished {
			t.Errorf("a row is left running: %+v", a)
		}
	}
	t.Logf("the actions log:\n%s", strings.Join(report, "\n"))
	if kinds["interrupted"] != 4 || kinds["kind:cleanup"] != 1 || kinds["retry"] != 1 || kinds["done"] != 3 {
		t.Errorf("want 4 interrupted attempts, 1 clean-up, at least one retry and the steps done: %v", kinds)
	}

	// A second run changes nothing and writes no row.
	before := len(log)
	startChild(t, db, plan, "")
	if after := len(actions(t, db)); after != before {
		t.Errorf("a run with everything in place wrote %d rows", after-before)
	}
}

// With pgmedic.actions unwritable for the role, no step runs: no audit row, no change.
func TestNoAuditRowNoChange(t *testing.T) {
	db := bigTable(t)
	ctx := context.Background()
	role := "changer_" + filepath.Base(t.TempDir())
	db.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'changer-pw'; ALTER TABLE big OWNER TO %[1]s;
		GRANT CREATE ON DATABASE %s TO %[1]s`, role, db.Name))
	// The schema exists (an earlier run made it), but the role may not add rows.
	super := db.Conn(t)
	if _, err := change.New(super, change.Options{}).Run(ctx, &finding.Plan{}); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, fmt.Sprintf("GRANT USAGE ON SCHEMA pgmedic TO %s; GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA pgmedic TO %[1]s", role))
	conn, err := pgconn.Connect(ctx, roleURI(t, db.URI, role, "changer-pw"), pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res, err := change.New(conn, change.Options{}).Run(ctx, demoPlan())
	if !errors.Is(err, change.ErrAuditUnavailable) {
		t.Fatalf("want ErrAuditUnavailable, got %v (%+v)", err, res)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = 'big_val_idx'"); n != 0 {
		t.Error("the index was built without an audit row")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions"); n != 0 {
		t.Errorf("%d action rows", n)
	}
}

// Two executors on one database: the second is refused and told who holds the lock.
func TestOneExecutorAtATime(t *testing.T) {
	db := bigTable(t)
	ctx := context.Background()
	first, second := db.Conn(t), db.Conn(t)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ex := change.New(first, change.Options{Tool: "first", Hook: func(p string) {
			if p == "before:1/1" {
				close(started)
				<-release
			}
		}})
		_, err := ex.Run(ctx, demoPlan())
		done <- err
	}()
	<-started
	_, err := change.New(second, change.Options{Tool: "second"}).Run(ctx, demoPlan())
	var busy *change.BusyError
	if !errors.As(err, &busy) || busy.PID != int(first.PgConn().PID()) || !strings.Contains(err.Error(), fmt.Sprint(busy.PID)) {
		t.Fatalf("want the holder named, got %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once the first has finished, the second runs (and finds everything in place).
	res, err := change.New(second, change.Options{}).Run(ctx, demoPlan())
	if err != nil || res.Skipped != 3 {
		t.Fatalf("second run: %v %+v", err, res)
	}
}

// A schema made by a newer pgmedic is refused.
func TestNewerSchemaRefused(t *testing.T) {
	db := bigTable(t)
	ctx := context.Background()
	conn := db.Conn(t)
	if _, err := change.New(conn, change.Options{}).Run(ctx, &finding.Plan{}); err != nil {
		t.Fatal(err)
	}
	if n := db.QueryInt64(t, "SELECT max(version) FROM pgmedic.schema_version"); n != int64(change.SchemaVersion()) || n < 2 {
		t.Fatalf("schema version %d, want %d", n, change.SchemaVersion())
	}
	db.Exec(t, "INSERT INTO pgmedic.schema_version (version) VALUES (999)")
	_, err := change.New(conn, change.Options{}).Run(ctx, demoPlan())
	if !errors.Is(err, change.ErrNewerSchema) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("want ErrNewerSchema naming 999, got %v", err)
	}
}

func roleURI(t *testing.T, uri, role, password string) string {
	t.Helper()
	i := strings.Index(uri, "://")
	j := strings.Index(uri, "@")
	if i < 0 || j < 0 {
		t.Fatalf("unexpected URI %s", uri)
	}
	out := uri[:i+3] + role + ":" + password + uri[j:]
	k := strings.Index(out, "passfile=")
	if k >= 0 {
		end := strings.IndexByte(out[k:], '&')
		if end < 0 {
			out = out[:k-1]
		} else {
			out = out[:k] + out[k+end+1:]
		}
	}
	return out
}

// A step naming a runner is carried out by the Go function registered under that name,
// on the executor's session, with its audit row written first; a second run skips it by
// its check; a step naming a runner that is not registered fails without running.
func TestRunnerStep(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)")
	ctx := context.Background()
	conn := db.Conn(t)
	calls := 0
	runners := map[string]change.Runner{"bump": func(ctx context.Context, c *pgx.Conn) error {
		calls++
		for i := 0; i < 3; i++ { // several transactions of its own
			if _, err := c.Exec(ctx, "UPDATE counter SET n = n + 1"); err != nil {
				return err
			}
		}
		return nil
	}}
	plan := &finding.Plan{Steps: []finding.Step{{Description: "bump three times", Runner: "bump", SQL: "-- three updates of counter",
		Check: "SELECT n >= 3 FROM counter", Object: "public.counter"}}}
	res, err := change.New(conn, change.Options{Runners: runners}).Run(ctx, plan)
	if err != nil || res.Done != 1 || calls != 1 {
		t.Fatalf("first run: %+v, %v, calls %d", res, err, calls)
	}
	if n := db.QueryInt64(t, "SELECT n FROM counter"); n != 3 {
		t.Fatalf("counter = %d, want 3", n)
	}
	res, err = change.New(conn, change.Options{Runners: runners}).Run(ctx, plan)
	if err != nil || res.Skipped != 1 || calls != 1 {
		t.Fatalf("second run: %+v, %v, calls %d", res, err, calls)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE statement LIKE '-- three updates%' AND status = 'done'"); n != 1 {
		t.Fatalf("audit rows for the runner step: %d, want 1", n)
	}
	plan.Steps[0].Runner, plan.Steps[0].Check = "missing", ""
	res, err = change.New(conn, change.Options{Runners: runners}).Run(ctx, plan)
	if err != nil || res.Failed != 1 || !strings.Contains(res.Steps[0].Detail, "missing") {
		t.Fatalf("missing runner: %+v, %v", res, err)
	}
}
