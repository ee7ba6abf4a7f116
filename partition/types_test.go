package partition_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/partition"
)

// A table keyed by uuid, partitioned on a timestamptz column by week (bounds in UTC),
// with a serial column and a generated column, converts and finishes with every row
// equal to a copy taken before; changes made during the run through a second session
// (a partition-key update, a delete, an insert) are in the result.
func TestMigrateUUIDTimestamptz(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE audit_logs (
		id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
		seq serial NOT NULL,
		logged_at timestamptz NOT NULL,
		action text NOT NULL,
		action_len int GENERATED ALWAYS AS (length(action)) STORED);
	INSERT INTO audit_logs (logged_at, action) SELECT TIMESTAMPTZ '2026-09-01 00:00:00+00' + g * interval '7 minutes', 'read ' || g FROM generate_series(1, 20000) g;`)
	conn := writeConn(t, db)
	ctx := context.Background()
	opts := partition.Options{Table: "audit_logs", Column: "logged_at", Strategy: "range", Interval: "week", Premake: 2}
	res, err := partition.Plan(ctx, conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Spec.Partitions[0].Bound, "+00'") || res.Spec.Columns[len(res.Spec.Columns)-1] != "action" {
		t.Fatalf("plan: bound %q, columns %v", res.Spec.Partitions[0].Bound, res.Spec.Columns)
	}
	changed := false
	mo := partition.MigrateOptions{BatchSize: 3000, Hook: func(point string) {
		if point == "copy:batch" && !changed {
			changed = true
			db.Exec(t, `UPDATE audit_logs SET logged_at = logged_at + interval '20 days' WHERE seq = 19000;
				DELETE FROM audit_logs WHERE seq = 5;
				INSERT INTO audit_logs (logged_at, action) VALUES ('2026-10-01 12:00:00+00', 'write')`)
		}
	}}
	db.Exec(t, "CREATE TABLE audit_before AS SELECT * FROM audit_logs WHERE false")
	r, err := partition.Migrate(ctx, conn, opts, mo)
	if err != nil || r.Run.Failed > 0 {
		t.Fatalf("migrate: %v %+v", err, r.Run.Steps)
	}
	if run, err := partition.Undo(ctx, conn, "public", "audit_logs", true, partition.MigrateOptions{}); err != nil || run.Failed > 0 {
		t.Fatalf("finish: %v %+v", err, run)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_logs"); n != 20000 {
		t.Errorf("rows: %d, want 20000 (one deleted, one inserted)", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_logs WHERE seq = 19000 AND logged_at = TIMESTAMPTZ '2026-09-01 00:00:00+00' + 19000 * interval '7 minutes' + interval '20 days'"); n != 1 {
		t.Errorf("the partition-key update is missing")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_logs WHERE seq = 5 OR (action = 'write' AND action_len = 5)"); n != 1 {
		t.Errorf("the delete or the insert is missing")
	}
	// Weekly bounds start on Monday at midnight UTC.
	if n := db.QueryInt64(t, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_logs'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
		AND extract(isodow FROM ((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AT TIME ZONE 'UTC')) <> 1`); n != 0 {
		t.Errorf("%d weekly partition(s) do not start on a Monday", n)
	}
	db.Exec(t, "INSERT INTO audit_logs (logged_at, action) VALUES (now(), 'after')") // the serial default still works
}

// A stray old date does not make a plan of thousands of partitions: the oldest ranges
// are left to the default partition, and the plan says so; hash and list plans have the
// partitions their strategy names.
func TestPlanShapes(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE visits (id bigint PRIMARY KEY, seen_on date NOT NULL, patient_id bigint NOT NULL, kind text NOT NULL);
		INSERT INTO visits SELECT g, DATE '2025-01-01' + g % 600, g % 97, (ARRAY['inpatient', 'outpatient', 'emergency'])[1 + g % 3] FROM generate_series(1, 3000) g;
		INSERT INTO visits VALUES (0, '1900-01-01', 1, 'inpatient');`)
	conn := writeConn(t, db)
	ctx := context.Background()
	res, err := partition.Plan(ctx, conn, partition.Options{Table: "visits", Column: "seen_on", Premake: 2, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	codes := ""
	for _, p := range res.Preflight {
		codes += p.Code + " "
	}
	if n := len(res.Spec.Partitions); n != 151 || res.RowsOutside != 1 || !strings.Contains(codes, "old_rows") {
		t.Fatalf("range plan: %d partitions, %d rows outside, preflight %s", n, res.RowsOutside, codes)
	}
	res, err = partition.Plan(ctx, conn, partition.Options{Table: "visits", Column: "patient_id", Strategy: "hash", Modulus: 4})
	if err != nil || len(res.Spec.Partitions) != 4 || res.Spec.Partitions[3].Bound != "FOR VALUES WITH (MODULUS 4, REMAINDER 3)" {
		t.Fatalf("hash plan: %v %+v", err, res)
	}
	res, err = partition.Plan(ctx, conn, partition.Options{Table: "visits", Column: "kind", Strategy: "list"})
	if err != nil || len(res.Spec.Partitions) != 4 || !res.Spec.Partitions[3].Default || res.Spec.Partitions[0].Bound != "FOR VALUES IN ('emergency')" {
		t.Fatalf("list plan: %v %+v", err, res.Spec.Partitions)
	}
	if strings.Join(res.Spec.PrimaryKey, ",") != "id,kind" {
		t.Errorf("list primary key: %v", res.Spec.PrimaryKey)
	}
}

// Hash partitioning by patient converts online too: a writer moving claims between
// patients (the partition key) and deleting and inserting while the copy runs leaves
// the result equal to the mirror.
func TestMigrateHashByPatient(t *testing.T) {
	db := claimsDB(t, 30000)
	w := startWriter(t, db, 30000, 1)
	conn := writeConn(t, db)
	res, err := partition.Migrate(context.Background(), conn,
		partition.Options{Table: "claims", Column: "patient_id", Strategy: "hash", Modulus: 8}, partition.MigrateOptions{BatchSize: 2000})
	if err != nil || res.Run.Failed > 0 {
		w.halt(t)
		t.Fatalf("migrate: %v %+v", err, res)
	}
	w.waitOps(200)
	w.halt(t)
	sameRows(t, db)
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'claims'::regclass AND partstrat = 'h'"); n != 1 {
		t.Fatalf("claims is not hash-partitioned")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'claims'::regclass"); n != 8 {
		t.Errorf("%d partitions, want 8", n)
	}
}
