package partition_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/partition"
	"github.com/pgmedic/pgmedic/pgconn"
)

// The migration is stopped (its context cancelled, its session gone) at several points
// while the writer keeps writing: before the shadow table is made, in the middle of the
// copy after a batch and after a replay, after an index build, before the verification
// and with the cut-over lock held. Each run resumes where the last one stopped, and the
// end result equals the mirror row for row, with no error seen by the writer.
func TestMigrateKilledAndResumed(t *testing.T) {
	db := claimsDB(t, 60000)
	w := startWriter(t, db, 60000, 2)
	stops := []struct {
		point string
		nth   int
	}{{"before:2/1", 1}, {"copy:batch", 3}, {"copy:replay", 4}, {"after:9/1", 1}, {"before:11/1", 1}, {"cutover:locked", 1}}
	mo := partition.MigrateOptions{BatchSize: 2000, ReplayBatch: 1000}
	for _, stop := range stops {
		ctx, cancel := context.WithCancel(context.Background())
		seen := 0
		mo.Hook = func(point string) {
			if point == stop.point {
				if seen++; seen == stop.nth {
					cancel()
				}
			}
		}
		res, err := migrateRetrying(t, ctx, db, mo)
		cancel()
		if err == nil && (res.Run.Failed == 0 && res.State != nil && res.State.Phase == partition.PhaseSwapped) {
			w.halt(t)
			t.Fatalf("the run stopped at %s finished anyway", stop.point)
		}
		if seen < stop.nth {
			w.halt(t)
			t.Fatalf("the run never reached %s (%v)", stop.point, err)
		}
		w.waitOps(100)
	}
	mo.Hook = nil
	res, err := migrateRetrying(t, context.Background(), db, mo)
	if err != nil || res.Run.Failed > 0 {
		w.halt(t)
		t.Fatalf("final run: %v %+v", err, res)
	}
	if !res.Resumed || res.Run.Interrupted == 0 && res.Run.Skipped == 0 {
		t.Errorf("the final run did not resume: %+v", res.Run)
	}
	w.waitOps(300)
	w.halt(t)
	sameRows(t, db)
	assertMonthly(t, db)
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims_pgmedic_old"); n == 0 {
		t.Errorf("the old table is empty")
	}
}

// migrateRetrying runs Migrate on a fresh session, waiting while the session of a
// stopped run still holds the executor lock.
func migrateRetrying(t *testing.T, ctx context.Context, db *pgtest.DB, mo partition.MigrateOptions) (*partition.MigrateResult, error) {
	t.Helper()
	for {
		conn, err := pgconn.Connect(context.Background(), db.URI, pgconn.Policy{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := partition.Migrate(ctx, conn, monthly(), mo)
		conn.Close(context.Background())
		if !busy(err) {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The verification catches a new table that differs from the old one (here a row
// changed behind pgmedic's back after the copy): the cut-over does not happen, and a
// rollback before the cut-over removes the capture and the new table.
func TestVerifyStopsCutover(t *testing.T) {
	db := claimsDB(t, 20000)
	conn := writeConn(t, db)
	ctx := context.Background()
	_, plan, _, err := partition.PlanOrResume(ctx, conn, monthly())
	if err != nil {
		t.Fatal(err)
	}
	verify := 0
	for i, s := range plan.Steps {
		if s.Runner == partition.RunnerVerify {
			verify = i + 1
		}
	}
	mo := partition.MigrateOptions{Hook: func(point string) {
		if point == "before:"+strconv.Itoa(verify)+"/1" {
			db.Exec(t, "UPDATE claims_pgmedic_new SET billed_amount = billed_amount + 1 WHERE claim_id = 77")
		}
	}}
	res, err := partition.Migrate(ctx, conn, monthly(), mo)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Failed != 1 || res.Verified == nil || res.Verified.OK() || len(res.Verified.Mismatched) != 1 ||
		!strings.Contains(res.Run.Steps[verify-1].Detail, "1 of") {
		t.Fatalf("verification: %+v / %+v", res.Verified, res.Run.Steps[verify-1])
	}
	if k := db.QueryStrings(t, "SELECT relkind::text FROM pg_class WHERE oid = 'claims'::regclass"); k[0] != "r" {
		t.Fatalf("claims was swapped despite the difference")
	}
	if run, err := partition.Undo(ctx, conn, "public", "claims", false, partition.MigrateOptions{}); err != nil || run.Failed > 0 {
		t.Fatalf("rollback: %v %+v", err, run)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'claims'::regclass AND tgname LIKE 'pgmedic%'"); n != 0 {
		t.Errorf("%d capture trigger(s) left", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname LIKE 'claims_pgmedic%' OR relname LIKE 'partition_log%'"); n != 0 {
		t.Errorf("%d relation(s) left", n)
	}
}

// The migration process is killed with SIGKILL (no deferred function runs, its session
// just disappears) at points read from its state while the writer keeps writing: early in
// the copy, later in the copy, after the copy, and once at a random moment; each new
// process resumes, and the last one's result equals the mirror row for row.
func TestMigrateProcessKilled(t *testing.T) {
	db := claimsDB(t, 100000)
	w := startWriter(t, db, 100000, 2)
	killAt := []string{
		"phase = 'copying' AND rows_copied >= 15000",
		"phase = 'copying' AND rows_copied >= 60000",
		"phase IN ('copied', 'indexed', 'verified')",
	}
	state := func(cond string) bool {
		return db.QueryInt64(t, "SELECT count(*) FROM pg_tables WHERE schemaname = 'pgmedic' AND tablename = 'partition_migrations'") == 1 &&
			db.QueryInt64(t, "SELECT count(*) FROM pgmedic.partition_migrations WHERE "+cond) == 1
	}
	killed := 0
	for _, cond := range append(killAt, "random") {
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), "PGMEDIC_PARTITION_CHILD=1", "PGMEDIC_DSN="+db.URI)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(time.Duration(rand.IntN(1500)+200) * time.Millisecond)
	wait:
		for {
			select {
			case err := <-done:
				w.halt(t)
				t.Fatalf("the migration ended before the kill at %q: %v\n%s", cond, err, stderr.String())
			case <-deadline:
				if cond == "random" {
					break wait
				}
			case <-time.After(10 * time.Millisecond):
				if cond != "random" && state(cond) {
					break wait
				}
			}
		}
		_ = cmd.Process.Kill()
		<-done
		killed++
		w.waitOps(100)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "PGMEDIC_PARTITION_CHILD=1", "PGMEDIC_DSN="+db.URI)
	if out, err := cmd.CombinedOutput(); err != nil {
		w.halt(t)
		t.Fatalf("final run after %d kills: %v\n%s", killed, err, out)
	}
	w.waitOps(300)
	w.halt(t)
	sameRows(t, db)
	assertMonthly(t, db)
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.actions WHERE status = 'interrupted'"); n < 3 {
		t.Errorf("%d interrupted step(s) recorded, want one per kill at least", n)
	}
}
