package change_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/pgconn"
)

// A plan is printed by default; it runs only when the caller decides to.
func ExampleDryRun() {
	plan := &finding.Plan{Summary: "Index claims by patient", Steps: []finding.Step{
		change.BuildIndexStep("public", "claims_patient_id_idx",
			"CREATE INDEX CONCURRENTLY IF NOT EXISTS claims_patient_id_idx ON public.claims (patient_id)",
			"build the index without blocking writes"),
	}}
	if err := change.DryRun(os.Stdout, plan); err != nil {
		fmt.Println(err)
	}
	// Output:
	// -- Index claims by patient
	// -- step 1: build the index without blocking writes (takes SHARE UPDATE EXCLUSIVE); skipped when already done
	// CREATE INDEX CONCURRENTLY IF NOT EXISTS claims_patient_id_idx ON public.claims (patient_id);
}

// Run executes a plan: one executor per database, an audit row before each step, lock
// timeouts with retries, and a rerun that resumes where a killed run stopped.
func ExampleExecutor_Run() {
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{Write: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close(ctx)
	plan := &finding.Plan{Steps: []finding.Step{
		change.DropIndexStep("public", "claims_status_old_idx", "drop an index nothing uses"),
	}}
	res, err := change.New(conn, change.Options{Tool: "example", LockTimeout: 2 * time.Second}).Run(ctx, plan)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("run %s: %d done, %d already in place\n", res.RunID, res.Done, res.Skipped)
}
