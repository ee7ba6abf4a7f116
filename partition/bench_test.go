package partition_test

import (
	"context"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/partition"
)

// BenchmarkMigrate1M converts a 1,000,000-row claims table while a paced writer
// (about 1,000 transactions/s, each a change and its mirror) runs, and reports in one
// run: the copy's rows/s with capture on, a plain INSERT ... SELECT of the same table
// into a table with the same primary key under the same writer, before and after
// (rows/s, the mean) and the ratio of the two, the
// longest writer transaction, and the cut-over lock time. Then it checks the result
// against the mirror.
//
//	go test -run '^$' -bench Migrate1M -benchtime 1x ./partition/
func BenchmarkMigrate1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		db := claimsDB(b, 1000000)
		w := startPacedWriter(b, db, 1000000, 2, 2*time.Millisecond)
		// The baseline runs under the same writer, before and after the migration (the
		// mean is used), so both figures see the same machine.
		plainBefore := plainCopy(b, db)
		conn := writeConn(b, db)
		start := time.Now()
		res, err := partition.Migrate(context.Background(), conn, monthly(), partition.MigrateOptions{})
		total := time.Since(start)
		if err != nil || res.Run.Failed > 0 {
			w.halt(b)
			b.Fatalf("migrate: %v %+v", err, res)
		}
		plain := (plainBefore + plainCopy(b, db)) / 2
		w.waitOps(200)
		w.halt(b)
		sameRows(b, db)
		assertMonthly(b, db)
		b.ReportMetric(res.CopyRowsPerSec, "copy_rows/s")
		b.ReportMetric(plain, "plain_insert_select_rows/s")
		b.ReportMetric(res.CopyRowsPerSec/plain, "ratio")
		b.ReportMetric(float64(w.maxStall.Load())/1e6, "max_writer_stall_ms")
		b.ReportMetric(float64(res.CutoverLock.Microseconds())/1000, "cutover_lock_ms")
		b.ReportMetric(total.Seconds(), "migrate_s")
		b.ReportMetric(float64(w.ops.Load())/total.Seconds(), "writer_tx/s")
	}
}

// plainCopy times INSERT INTO a copy with the same primary key SELECT * FROM claims, in
// rows/s.
func plainCopy(b *testing.B, db *pgtest.DB) float64 {
	db.Exec(b, "CREATE TABLE claims_plain (LIKE claims INCLUDING DEFAULTS INCLUDING CONSTRAINTS); ALTER TABLE claims_plain ADD PRIMARY KEY (claim_id)")
	t0 := time.Now()
	db.Exec(b, "INSERT INTO claims_plain SELECT * FROM claims")
	rate := float64(db.QueryInt64(b, "SELECT count(*) FROM claims_plain")) / time.Since(t0).Seconds()
	db.Exec(b, "DROP TABLE claims_plain; CHECKPOINT")
	return rate
}
