package indexadvisor_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/pgconn"
)

// AdviseDatabase is `pgmedic index advise` as one call: candidates from the workload
// measured with HypoPG on one read-only session. The advice's plan is then run by
// NewApplier through the shared executor (pgmedic index apply).
func ExampleAdviseDatabase() {
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	defer conn.Close(ctx)
	adv, err := indexadvisor.AdviseDatabase(ctx, conn, nil, indexadvisor.DatabaseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(adv.Coverage.Sentence())
	for _, r := range adv.Recommendations {
		fmt.Printf("%s  -- %.1f%% less workload cost\n", r.SQL, r.ImprovementPct)
	}
	for _, d := range adv.Drops {
		fmt.Printf("%s  -- %s\n", d.SQL, d.Reason)
	}
}
