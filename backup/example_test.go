package backup_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/backup"
	"github.com/pgmedic/pgmedic/pgconn"
)

// Run is `pgmedic backup` as one call, and Verify is `pgmedic backup verify`: the
// restore time it measures is the recovery time for a backup of this size.
func ExampleRun() {
	ctx := context.Background()
	key, err := backup.LoadKey("/etc/pgmedic/backup.key")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := backup.Run(ctx, backup.Options{DSN: os.Getenv("PGMEDIC_DSN"), Policy: pgconn.Policy{}, Dir: "/backups", Key: key})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	v, err := backup.Verify(ctx, backup.VerifyOptions{Path: res.Path, Key: key})
	if err != nil {
		fmt.Println(err) // a refused file, a copy that differs, amcheck problems
		return
	}
	fmt.Printf("%d rows verified; restore took %.0fs\n", v.Rows, v.RestoreSeconds)
}
