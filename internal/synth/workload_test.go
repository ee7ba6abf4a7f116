package synth

import (
	"context"
	"testing"
	"time"
)

func TestWorkloadRunsEveryOperationWithoutErrors(t *testing.T) {
	db := pg.NewDB(t)
	pool := db.Pool(t)
	ctx := context.Background()
	// Anchor today, so upcoming appointments exist relative to now().
	if _, err := Load(ctx, pool, LoadOptions{Options: Options{Scale: 0.01, Seed: 3}}); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	claimsBefore := db.QueryInt64(t, "SELECT count(*) FROM claims")
	res, err := RunWorkload(ctx, pool, WorkloadOptions{Duration: 3 * time.Second, Clients: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		for _, op := range res.Ops {
			if op.Errors > 0 {
				t.Errorf("%s: %d errors, first: %s", op.Name, op.Errors, op.FirstError)
			}
		}
	}
	if len(res.Ops) != len(Operations()) {
		t.Fatalf("%d operations reported, want %d", len(res.Ops), len(Operations()))
	}
	for _, op := range res.Ops {
		if op.Count == 0 {
			t.Errorf("%s never ran", op.Name)
		}
		if op.Count > 0 && !(op.P50Ms <= op.P95Ms && op.P95Ms <= op.P99Ms && op.P99Ms <= op.MaxMs) {
			t.Errorf("%s: percentiles out of order: %+v", op.Name, op)
		}
	}
	if res.OpsPerSecond <= 0 || res.Operations == 0 {
		t.Fatalf("no throughput: %+v", res)
	}
	// Writes landed, and pg_stat_statements saw the parameterised statements.
	if after := db.QueryInt64(t, "SELECT count(*) FROM claims"); after <= claimsBefore {
		t.Errorf("claims %d -> %d: submissions did not commit", claimsBefore, after)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%FROM patients WHERE mrn = $1%'"); n == 0 {
		t.Error("pg_stat_statements has no normalised patient lookup")
	}
}

func TestWorkloadBadInput(t *testing.T) {
	db := pg.NewDB(t)
	pool := db.Pool(t)
	ctx := context.Background()
	if _, err := RunWorkload(ctx, pool, WorkloadOptions{Duration: time.Second, Clients: 0}); err == nil {
		t.Error("zero clients accepted")
	}
	if _, err := RunWorkload(ctx, pool, WorkloadOptions{Duration: time.Second, Clients: 1}); err == nil {
		t.Error("a database without the schema was accepted")
	}
	if _, err := RunWorkload(ctx, pool, WorkloadOptions{Duration: time.Second, Clients: 1, Only: []string{"nope"}}); err == nil {
		t.Error("an unknown operation was accepted")
	}
}
