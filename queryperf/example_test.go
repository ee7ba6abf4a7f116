package queryperf_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/queryperf"
	"github.com/pgmedic/pgmedic/report"
	"github.com/pgmedic/pgmedic/workload"
)

// AnalyzeDatabase is `pgmedic queries` as one call: the statements of
// pg_stat_statements (or of a file, as here) planned and graded on one read-only
// session.
func ExampleAnalyzeDatabase() {
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	defer conn.Close(ctx)
	f, err := workload.OpenFile(ctx, "/var/log/postgresql/postgresql-15-main.log")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := queryperf.AnalyzeDatabase(ctx, conn, nil, queryperf.DatabaseOptions{Source: workload.Source{Inputs: f.Inputs(ctx)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Coverage.Sentence())
	for _, s := range res.Shown(10) {
		fmt.Println(s.Grade, s.TotalMs, s.Query)
	}
	_ = report.Write(os.Stdout, report.Text, res.Report(10), report.Options{})
}

// Without a planner only the rules that read the statement itself run: no grade.
func ExampleAnalyzer_AnalyzeQuery() {
	a, err := queryperf.New(nil, nil, queryperf.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sr, err := a.AnalyzeQuery(context.Background(), "SELECT * FROM claims ORDER BY id OFFSET 5000 LIMIT 50")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sr.Query)
	for _, f := range sr.Findings {
		fmt.Println(f.Check)
	}
	fmt.Println("graded:", sr.Score != nil)
	// Output:
	// SELECT * FROM claims ORDER BY id OFFSET $1 LIMIT $2
	// query.offset_paging
	// graded: false
}
