package backup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
)

// BenchmarkBackupVsPgDump times pgmedic's backup (dump, encryption, same-snapshot
// counts and hashes, manifest) against plain `pg_dump -Fc` to a file, alternating the
// two in the same run, and reports the speed ratio (1.0 = as fast as plain pg_dump).
//
//	PGMEDIC_BENCH_SCALE=0.3 go test -run '^$' -bench BackupVsPgDump -benchtime 1x ./backup/
func BenchmarkBackupVsPgDump(b *testing.B) {
	scale := 0.1
	if s, err := strconv.ParseFloat(os.Getenv("PGMEDIC_BENCH_SCALE"), 64); err == nil && s > 0 {
		scale = s
	}
	db := pg.NewDB(b)
	ctx := context.Background()
	pool, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := synth.Load(ctx, pool, synth.LoadOptions{Options: synth.Options{Scale: scale, Seed: 3}}); err != nil {
		b.Fatal(err)
	}
	pool.Close()
	pgDump, err := findTool(ctx, "", "pg_dump")
	if err != nil {
		b.Fatal(err)
	}
	dir, key := b.TempDir(), make([]byte, KeySize)
	var plain, ours time.Duration
	var plainBytes, ourBytes int64
	var last *Result
	plainRun := func() {
		began := time.Now()
		out := filepath.Join(dir, "plain.dump")
		cmd := exec.Command(pgDump, "-Fc", "-f", out, "-d", db.SocketURI)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pg_dump: %v %s", err, msg)
		}
		plain += time.Since(began)
		st, _ := os.Stat(out)
		plainBytes = st.Size()
		os.Remove(out)
	}
	ourRun := func() {
		if last != nil {
			os.Remove(last.Path)
			os.Remove(ManifestPath(last.Path))
		}
		began := time.Now()
		res, err := Run(ctx, Options{DSN: db.SocketURI, Dir: dir, Key: key})
		if err != nil {
			b.Fatal(err)
		}
		ours += time.Since(began)
		ourBytes = res.Manifest.Bytes
		last = res
	}
	// A warm-up dump reads the tables into the cache; then the order alternates, so
	// neither side always runs first.
	plainRun()
	plain = 0
	for i := 0; i < b.N*4; i++ {
		if i%2 == 0 {
			plainRun()
			ourRun()
		} else {
			ourRun()
			plainRun()
		}
	}
	// The last backup is proven: its restore time is the RTO measured at this size.
	v, err := Verify(ctx, VerifyOptions{Path: last.Path, Key: key})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(v.RestoreSeconds, "restore-s")
	b.Logf("verify: restore %.2fs (%s database), amcheck %.2fs over %d tables and %d indexes",
		v.RestoreSeconds, finding.HumanBytes(v.DatabaseBytes), v.AmcheckSeconds, v.Amcheck.Tables, v.Amcheck.Indexes)
	ratio := plain.Seconds() / ours.Seconds()
	b.ReportMetric(ratio, "speed-vs-pg_dump")
	b.ReportMetric(float64(plainBytes)/1e6, "pg_dump-MB")
	b.ReportMetric(float64(ourBytes)/1e6, "backup-MB")
	b.Logf("scale %g: pg_dump -Fc %.2fs, pgmedic backup %.2fs per run (speed ratio %.2f); %d vs %d bytes",
		scale, plain.Seconds()/float64(b.N*4), ours.Seconds()/float64(b.N*4), ratio, plainBytes, ourBytes)
}
