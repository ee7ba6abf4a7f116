package partition

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// attachedSQL is true when the partition exists and is attached to a parent.
func attachedSQL(q string) string {
	return "SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(" + ident.Literal(q) + ") AND NOT inhdetachpending)"
}

func (t *TableMaintenance) steps(o MaintainOptions) []finding.Step {
	var out []finding.Step
	parent := ident.Quote(t.schema, t.table)
	defaultLock := ""
	if t.defaultName != "" {
		defaultLock = "; ACCESS EXCLUSIVE on the default partition, which is scanned"
	}
	for _, p := range t.newParts {
		out = append(out, t.premakeStep(p, parent, defaultLock))
	}
	for _, name := range t.Expired {
		out = append(out, t.retentionSteps(name, o)...)
	}
	return out
}

// partmanStep hands a table pg_partman manages to pg_partman's own maintenance.
func (t *TableMaintenance) partmanStep() finding.Step {
	return finding.Step{Description: "run pg_partman's maintenance for " + t.Parent + " (it manages this table's partitions and retention)", Kind: "maintenance",
		Object: t.Parent, Lock: "as pg_partman takes them: SHARE UPDATE EXCLUSIVE to attach; its retention detaches with ACCESS EXCLUSIVE on the parent",
		SQL: fmt.Sprintf("SELECT %s.run_maintenance(p_parent_table := %s)", ident.Quote(t.Partman), ident.Literal(t.Parent))}
}

// premakeStep creates a partition beside the parent and attaches it, so the parent is
// never locked exclusively. Rows of its range that landed in the default partition
// move into it in the same transaction, under a lock on the default partition taken
// after the parent's (the order ATTACH takes them), so none is lost or left behind.
func (t *TableMaintenance) premakeStep(p ChildPart, parent, defaultLock string) finding.Step {
	q := ident.Quote(t.schema, p.Name)
	chk := ident.Quote(childName(p.Name, "bound"))
	c := ident.Quote(t.Column)
	sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED INCLUDING COMPRESSION);\n", q, parent)
	desc := "create partition " + p.Name + " ahead of time (LIKE, CHECK, ATTACH)"
	if n := t.Moves[p.Name]; n > 0 {
		def := ident.Quote(t.schema, t.defaultName)
		sql += fmt.Sprintf(`LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE;
LOCK TABLE %s IN ACCESS EXCLUSIVE MODE;
INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s;
DELETE FROM %s WHERE %s;
`, parent, def, q, t.columns, t.columns, def, t.inBound(p), def, t.inBound(p))
		desc = fmt.Sprintf("create partition %s and move the %d row(s) of its range out of the default partition", p.Name, n)
	}
	sql += fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL AND %s);
ALTER TABLE %s ATTACH PARTITION %s %s;
ALTER TABLE %s DROP CONSTRAINT %s`, q, chk, c, t.inBound(p), parent, q, p.Bound, q, chk)
	return finding.Step{Description: desc, Kind: "ddl", Object: t.schema + "." + p.Name,
		Lock: "SHARE UPDATE EXCLUSIVE on " + t.table + defaultLock, SQL: sql, Check: attachedSQL(q)}
}

func (t *TableMaintenance) retentionSteps(name string, o MaintainOptions) []finding.Step {
	parent := ident.Quote(t.schema, t.table)
	q := ident.Quote(t.schema, name)
	detached := "SELECT NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(" + ident.Literal(q) + "))"
	detach := finding.Step{Description: "detach " + name + " (past the retention by its catalog bound)", Kind: "ddl", Object: t.schema + "." + name, Check: detached}
	if t.defaultName != "" {
		detach.SQL = fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s", parent, q)
		detach.Lock = "ACCESS EXCLUSIVE on " + t.table + " briefly: a default partition rules out DETACH CONCURRENTLY (under lock_timeout, retried)"
	} else {
		detach.SQL = fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY", parent, q)
		detach.Lock, detach.NoTransaction = "SHARE UPDATE EXCLUSIVE on "+t.table, true
		detach.CleanupCheck = "SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(" + ident.Literal(q) + ") AND inhdetachpending)"
		detach.Cleanup = fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", parent, q)
	}
	archived := fmt.Sprintf("SELECT EXISTS (SELECT FROM pgmedic.partition_archives WHERE partition = %s)", ident.Literal(t.schema+"."+name))
	arch := finding.Step{Description: "archive " + name + " (pg_dump, SHA-256 manifest), restore it into a scratch database and compare", Kind: "data",
		Object: t.schema + "." + name, Lock: "ACCESS SHARE on the detached table", Long: true, Runner: "partition.archive:" + t.schema + "." + name,
		SQL: fmt.Sprintf("-- pg_dump -Fc -t %s into %s; pg_restore into a scratch database; compare rows and content hash", q, o.Archive.Dir), Check: archived}
	drop := finding.Step{Description: "drop " + name + " (archived and checked)", Kind: "ddl", Object: t.schema + "." + name, Lock: "ACCESS EXCLUSIVE on the detached table only",
		SQL: fmt.Sprintf(`DO $pgmedic$ BEGIN
  IF NOT (%s) THEN RAISE EXCEPTION 'pgmedic: %s has no checked archive; it is not dropped'; END IF;
END $pgmedic$;
DROP TABLE %s;
UPDATE pgmedic.partition_archives SET dropped_at = now() WHERE partition = %s`, strings.TrimPrefix(archived, "SELECT "), strings.ReplaceAll(name, "'", ""), q, ident.Literal(t.schema+"."+name)),
		Check: "SELECT to_regclass(" + ident.Literal(q) + ") IS NULL"}
	return []finding.Step{detach, arch, drop}
}

// runners returns the archive runners of the plan.
func (r *MaintainResult) runners(o ArchiveOptions) map[string]change.Runner {
	out := map[string]change.Runner{}
	for _, t := range r.Tables {
		for _, name := range t.Expired {
			bound := ""
			for _, p := range t.Partitions {
				if p.Name == name {
					bound = p.Bound
				}
			}
			t, name := t, name
			out["partition.archive:"+t.schema+"."+name] = func(ctx context.Context, conn *pgx.Conn) error {
				return archive(ctx, conn, o, t.Parent, t.schema, name, bound)
			}
		}
	}
	return out
}

// RunMaintenance carries out a maintenance plan through the executor. Its steps are
// independent: one that fails (an ATTACH the default partition's rows stop) does not
// stop the others, but an archive that fails keeps its partition (the drop checks it).
func RunMaintenance(ctx context.Context, conn *pgx.Conn, res *MaintainResult, o MaintainOptions, mo MigrateOptions) (*change.Result, error) {
	mo.defaults()
	ex := change.New(conn, change.Options{Tool: mo.Tool, LockTimeout: mo.LockTimeout, Retries: executorRetries, Backoff: 200 * time.Millisecond,
		Runners: res.runners(o.Archive), Progress: mo.Log, Hook: mo.Hook, KeepGoing: true})
	return runWaiting(ctx, ex, res.Plan, mo.LockWait)
}
