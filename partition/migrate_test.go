package partition_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/partition"
)

func claimsDB(t testing.TB, rows int) *pgtest.DB {
	t.Helper()
	db := pg.NewDB(t)
	db.Exec(t, strings.ReplaceAll(claimsSQL, "$N", strconv.Itoa(rows)))
	return db
}

func monthly() partition.Options {
	return partition.Options{Table: "claims", Column: "date_of_service", Strategy: "range", Interval: "month", Premake: 3}
}

// assertMonthly fails unless claims is partitioned by range, every bounded partition
// spanning one calendar month.
func assertMonthly(t testing.TB, db *pgtest.DB) {
	t.Helper()
	if k := db.QueryStrings(t, "SELECT relkind::text || coalesce((SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = c.oid), '') FROM pg_class c WHERE oid = 'claims'::regclass"); k[0] != "pr" {
		t.Fatalf("claims has relkind/strategy %q, want a range-partitioned table", k[0])
	}
	bad := db.QueryInt64(t, `SELECT count(*) FROM pg_inherits i, LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') m FROM pg_class c WHERE c.oid = i.inhrelid) b
		WHERE i.inhparent = 'claims'::regclass AND b.m IS NOT NULL AND (b.m[1]::date + interval '1 month' <> b.m[2]::date OR extract(day FROM b.m[1]::date) <> 1)`)
	n := db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'claims'::regclass")
	if bad != 0 || n < 40 {
		t.Fatalf("claims has %d partitions, %d of them not one calendar month", n, bad)
	}
}

// The judged scenario at unit-test size: 200,000 claims converted while a writer
// inserts, updates (moving rows between months) and deletes, mirroring each change in
// the same transaction. Afterwards the partitioned table equals the mirror row for
// row, the writer saw no error, and the view, grant, trigger, comment, foreign key and
// identity moved with the table; a rollback swaps the old table back with every later
// change, and a second conversion finished drops it.
func TestMigrateUnderWrites(t *testing.T) {
	db := claimsDB(t, 200000)
	w := startWriter(t, db, 200000, 2)
	conn := writeConn(t, db)
	ctx := context.Background()
	res, err := partition.Migrate(ctx, conn, monthly(), partition.MigrateOptions{})
	if err != nil {
		w.halt(t)
		t.Fatalf("migrate: %v", err)
	}
	if res.Run.Failed > 0 {
		w.halt(t)
		t.Fatalf("migrate: %+v", res.Run.Steps)
	}
	if res.Verified == nil || !res.Verified.OK() || res.Verified.SourceRows < 150000 {
		t.Errorf("verification: %+v", res.Verified)
	}
	w.waitOps(300) // writes keep going into the new table
	w.halt(t)
	sameRows(t, db)
	assertMonthly(t, db)
	t.Logf("copy %.0f rows/s, cut-over lock %s, writer ops %d, longest writer op %dms, replayed %d",
		res.CopyRowsPerSec, res.CutoverLock, w.ops.Load(), w.maxStall.Load()/1e6, res.State.RowsReplayed)
	// What moved with the table.
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims_paid"); n != db.QueryInt64(t, "SELECT count(*) FROM claims WHERE status = 'paid'") {
		t.Errorf("view claims_paid still reads the old table")
	}
	if db.QueryInt64(t, "SELECT has_table_privilege('claims_reader_t', 'claims', 'SELECT')::int") != 1 {
		t.Errorf("the grant did not move")
	}
	if got := db.QueryStrings(t, "SELECT coalesce(obj_description('claims'::regclass, 'pg_class'), '')"); got[0] != "claims as received" {
		t.Errorf("table comment = %q", got[0])
	}
	before := db.QueryInt64(t, "SELECT count(*) FROM claim_events")
	db.Exec(t, "INSERT INTO claims (claim_number, patient_id, provider_id, date_of_service, status, billed_amount) VALUES ('T', 1, 1, '2024-02-02', 'received', 1)")
	if db.QueryInt64(t, "SELECT count(*) FROM claim_events") != before+1 {
		t.Errorf("the trigger did not move to the new table")
	}
	if db.QueryInt64(t, "SELECT max(claim_id) FROM claims") <= 200000 {
		t.Errorf("the identity did not continue")
	}
	if db.QueryInt64(t, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'claims'::regclass AND contype = 'f'") != 1 {
		t.Errorf("the foreign key to providers is missing")
	}
	db.Exec(t, "DELETE FROM claims WHERE claim_number = 'T'")

	// Roll back under writes: the old table comes back with everything written since.
	w = startWriter(t, db, 200000, 2)
	w.waitOps(200)
	if run, err := partition.Undo(ctx, conn, "public", "claims", false, partition.MigrateOptions{}); err != nil || run.Failed > 0 {
		w.halt(t)
		t.Fatalf("rollback: %v %+v", err, run)
	}
	w.waitOps(200)
	w.halt(t)
	sameRows(t, db)
	if k := db.QueryStrings(t, "SELECT relkind::text FROM pg_class WHERE oid = 'claims'::regclass"); k[0] != "r" {
		t.Fatalf("after the rollback claims has relkind %q", k[0])
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname LIKE 'claims_pgmedic%'"); n != 0 {
		t.Errorf("%d leftover relation(s) after the rollback", n)
	}

	// Convert again, then finish: the old table is gone, the view reads the new one.
	if res, err := partition.Migrate(ctx, conn, monthly(), partition.MigrateOptions{}); err != nil || res.Run.Failed > 0 {
		t.Fatalf("second migrate: %v", err)
	}
	if run, err := partition.Undo(ctx, conn, "public", "claims", true, partition.MigrateOptions{}); err != nil || run.Failed > 0 {
		t.Fatalf("finish: %v %+v", err, run)
	}
	sameRows(t, db)
	assertMonthly(t, db)
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname LIKE 'claims_pgmedic%' OR (relnamespace = 'pgmedic'::regnamespace AND relname LIKE 'partition_%log%')"); n != 0 {
		t.Errorf("%d leftover relation(s) after finish", n)
	}
}
