package snapshot_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Collect reads the catalog and the statistics views in one read-only session; each
// part is timed and marked ok, partial or unknown. Write saves it for a later check.
func ExampleCollect() {
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	defer conn.Close(ctx)
	snap, err := snapshot.Collect(ctx, conn, snapshot.Options{Tool: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range snap.Parts {
		if p.Status != snapshot.PartOK {
			fmt.Println(p.Name, p.Status, p.Reason)
		}
	}
	_ = snapshot.Write(os.Stdout, snap)
}

// ScrubLiterals removes every literal value from a statement before it is shown.
func ExampleScrubLiterals() {
	fmt.Println(snapshot.ScrubLiterals("SELECT id FROM patients WHERE mrn = 'MRN-0042' AND age > 65"))
	// Output:
	// SELECT id FROM patients WHERE mrn = '?' AND age > ?
}
