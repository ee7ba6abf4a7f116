package partition

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// cleanupSQL drops pgmedic's capture objects of a conversion.
func (s *Spec) cleanupSQL() string {
	return fmt.Sprintf(`DROP TABLE IF EXISTS %s;
DROP TABLE IF EXISTS %s;
DROP FUNCTION IF EXISTS %s();
DROP FUNCTION IF EXISTS %s();
DROP FUNCTION IF EXISTS %s()`, s.logTable(), s.rlogTable(), s.captureFn(), s.rcaptureFn(), s.noTruncateFn())
}

// RollbackSteps undoes a conversion: before the cut-over it removes the capture and the
// new table; after it, it swaps the old table back (every change made since applied to
// it by the reverse capture) and then drops the new one.
func RollbackSteps(s *Spec, phase string) *finding.Plan {
	p := &finding.Plan{Summary: "undo the conversion of " + s.source()}
	done := fmt.Sprintf("SELECT EXISTS (SELECT FROM pgmedic.partition_migrations WHERE id = %d AND phase = 'rolled_back')", s.id())
	if phase == PhaseSwapped {
		p.Steps = append(p.Steps, finding.Step{Description: "swap the old table back, with the changes made to the new one since the cut-over", Kind: "ddl",
			Object: s.source(), Lock: "ACCESS EXCLUSIVE on both tables for the swap only (under lock_timeout, retried)", Runner: RunnerRollback,
			SQL: fmt.Sprintf("-- drain %s into %s under the lock; swap the names back; views, sequences and triggers back", s.rlogTable(), s.retired()), Check: done})
		p.Steps = append(p.Steps, finding.Step{Description: "drop the partitioned table and pgmedic's capture objects", Kind: "ddl", Object: s.Schema + "." + s.Shadow,
			Lock: "ACCESS EXCLUSIVE on the partitioned table (no longer in use)", SQL: "DROP TABLE IF EXISTS " + s.shadow() + ";\n" + s.cleanupSQL(),
			Check: "SELECT to_regclass(" + ident.Literal(s.shadow()) + ") IS NULL AND to_regclass(" + ident.Literal(s.rlogTable()) + ") IS NULL"})
		return p
	}
	p.Steps = append(p.Steps, finding.Step{Description: "remove the change capture from " + s.Table + " and drop the unfinished partitioned table", Kind: "ddl",
		Object: s.source(), Lock: "ACCESS EXCLUSIVE on " + s.Table + " briefly (dropping its triggers; under lock_timeout, retried)",
		SQL: fmt.Sprintf(`DROP TRIGGER IF EXISTS pgmedic_capture ON %s;
DROP TRIGGER IF EXISTS pgmedic_no_truncate ON %s;
DROP TABLE IF EXISTS %s;
%s;
UPDATE pgmedic.partition_migrations SET phase = 'rolled_back', updated_at = now() WHERE id = %d`, s.source(), s.source(), s.shadow(), s.cleanupSQL(), s.id()),
		Check: done})
	return p
}

// FinishSteps ends a conversion after the cut-over: the reverse capture goes and the old
// table is dropped, after which a rollback is no longer possible.
func FinishSteps(s *Spec) *finding.Plan {
	return &finding.Plan{Summary: "finish the conversion of " + s.source() + " (the old table is dropped)", Steps: []finding.Step{{
		Description: "stop the reverse capture and drop the old table " + s.Retired, Kind: "ddl", Object: s.source(),
		Lock: "ACCESS EXCLUSIVE on " + s.Table + " briefly (dropping its triggers; under lock_timeout, retried)",
		SQL: fmt.Sprintf(`DROP TRIGGER IF EXISTS pgmedic_capture_reverse ON %s;
DROP TRIGGER IF EXISTS pgmedic_no_truncate ON %s;
DROP TABLE IF EXISTS %s;
%s;
UPDATE pgmedic.partition_migrations SET phase = 'finished', finished_at = now(), updated_at = now() WHERE id = %d`, s.source(), s.source(), s.retired(), s.cleanupSQL(), s.id()),
		Check: s.atOrAfter(PhaseFinished)}}}
}

// ErrNotSwapped: finish needs a conversion that has cut over.
var ErrNotSwapped = fmt.Errorf("the conversion has not cut over yet")

// UndoPlan returns the plan rollback (or, with finish, finish) runs for the table's
// conversion under way.
func UndoPlan(ctx context.Context, conn *pgx.Conn, schema, table string, finish bool) (*Spec, *finding.Plan, error) {
	st, err := ReadState(ctx, conn, schema, table, false)
	if err != nil {
		return nil, nil, err
	}
	if finish {
		if st.Phase != PhaseSwapped {
			return nil, nil, fmt.Errorf("%w (phase %s)", ErrNotSwapped, st.Phase)
		}
		return st.Spec, FinishSteps(st.Spec), nil
	}
	return st.Spec, RollbackSteps(st.Spec, st.Phase), nil
}

// Undo runs rollback or finish through the executor.
func Undo(ctx context.Context, conn *pgx.Conn, schema, table string, finish bool, mo MigrateOptions) (*change.Result, error) {
	mo.defaults()
	spec, plan, err := UndoPlan(ctx, conn, schema, table, finish)
	if err != nil {
		return nil, err
	}
	r := &runners{s: spec, o: &mo}
	ex := change.New(conn, change.Options{Tool: mo.Tool, LockTimeout: mo.LockTimeout, Retries: executorRetries, Backoff: 200 * time.Millisecond,
		Runners: r.all(), Progress: mo.Log, Hook: mo.Hook})
	return runWaiting(ctx, ex, plan, mo.LockWait)
}
