package pgconn_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pgmedic/pgmedic/pgconn"
)

// Connect opens a session under pgmedic's policy: read-only unless Write, statement
// and lock timeouts, application_name, and TLS verified for remote hosts.
func ExampleConnect() {
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, os.Getenv("PGMEDIC_DSN"), pgconn.Policy{})
	if err != nil {
		fmt.Println(pgconn.Redact(err.Error()))
		return
	}
	defer conn.Close(ctx)
}

// Redact masks the password of any connection string before it is printed or logged.
func ExampleRedact() {
	fmt.Println(pgconn.Redact("postgres://clinic_app:s3cret@db.example.org:5432/ehr"))
	fmt.Println(pgconn.Redact("host=db.example.org user=clinic_app password=s3cret dbname=ehr"))
	// Output:
	// postgres://clinic_app:xxxxx@db.example.org:5432/ehr
	// host=db.example.org user=clinic_app password=xxxxx dbname=ehr
}
