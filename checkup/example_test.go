package checkup_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/checkup"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/report"
)

// Check is `pgmedic check` as one call: snapshot, health checks and query analysis on
// one read-only session, merged and sorted, with the report ready to write.
func ExampleCheck() {
	ctx := context.Background()
	cfg, err := config.Load("", "", os.LookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	defer conn.Close(ctx)
	res, err := checkup.Check(ctx, conn, cfg, checkup.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = report.Write(os.Stdout, report.Markdown, res.Report, report.Options{})
	if finding.AtLeast(res.Findings, finding.High) {
		os.Exit(1)
	}
}
