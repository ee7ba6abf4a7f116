package monitor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/monitor"
)

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.01", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.01, Seed: 11})
	})
}

// The monitor's own statements, measured by pg_stat_statements while the demo workload
// runs, cost the server under 1 % of its statement time at a 10 s interval. The run
// collects every second (ten times as often) and scales its cost to 10 s; both are
// measured in the same run, so the ratio does not depend on the machine's speed.
func TestOverheadUnderOnePercent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo workload")
	}
	db := seeded(t)
	ctx := context.Background()
	pool := db.Pool(t)
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Interval = time.Second })
	const runFor = 20 * time.Second
	if _, err := synth.RunWorkload(ctx, pool, synth.WorkloadOptions{Duration: runFor, Clients: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	var monitorMs, appMs float64
	var monitorCalls int64
	err := pool.QueryRow(ctx, `SELECT
		coalesce(sum(total_exec_time + total_plan_time) FILTER (WHERE query LIKE '/* pgmedic */%'), 0),
		coalesce(sum(calls) FILTER (WHERE query LIKE '/* pgmedic */%'), 0)::int8,
		coalesce(sum(total_exec_time + total_plan_time) FILTER (WHERE query NOT LIKE '/* pgmedic */%'), 0)
		FROM pg_stat_statements`).Scan(&monitorMs, &monitorCalls, &appMs)
	if err != nil {
		t.Fatal(err)
	}
	if monitorCalls == 0 || appMs == 0 {
		t.Fatalf("nothing measured: monitor %.1f ms in %d calls, application %.1f ms", monitorMs, monitorCalls, appMs)
	}
	at1s := 100 * monitorMs / (monitorMs + appMs)
	at10s := 100 * (monitorMs / 10) / (monitorMs/10 + appMs)
	t.Logf("over %s of the demo workload: monitor %.1f ms server time in %d statements, application %.1f ms: %.2f%% at a 1 s interval, %.3f%% at 10 s",
		runFor, monitorMs, monitorCalls, appMs, at1s, at10s)
	if at10s >= 1 {
		t.Errorf("the monitor costs %.3f%% of the server's statement time at a 10 s interval, want under 1%%", at10s)
	}
}

// One collection of a cluster with 100 databases (database statistics, sizes and xid
// ages of all of them) completes well within a 10 s interval.
func TestCollectionOverHundredDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100 databases")
	}
	db := pg.NewDB(t)
	admin := db.Conn(t)
	ctx := context.Background()
	for i := range 100 {
		name := fmt.Sprintf("mon100_%03d", i)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	}
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) { o.Interval = 10 * time.Second })
	s := r.m.Latest(r.m.Targets()[0])
	if s == nil || !s.Up || len(s.Snap.Databases) < 100 {
		t.Fatalf("collection: %+v", s)
	}
	t.Logf("first collection over %d databases (catalogs included) took %s", len(s.Snap.Databases), s.Took)
	if s.Took >= 10*time.Second {
		t.Errorf("one collection took %s, longer than the 10 s interval", s.Took)
	}
}
