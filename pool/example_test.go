package pool_test

import (
	"context"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgmedic/pgmedic/pool"
)

// An application opens the pools once, writes through a write profile, and reads its
// own write back through a read profile by passing the token along (in a session, a
// cookie or a header when the read comes in another request).
func ExampleOpen() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	pools, err := pool.Open(ctx, pool.Config{
		Primary:    "postgres://app@db-primary.internal/clinic?sslmode=verify-full&sslrootcert=/etc/pki/db-ca.crt",
		Replicas:   []string{"postgres://app@db-replica1.internal/clinic?sslmode=verify-full&sslrootcert=/etc/pki/db-ca.crt"},
		Registerer: reg,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pools.Close()
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	token, err := pools.Write(ctx, pool.ClaimsWrite, func(tx pool.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE claims SET status = $1 WHERE id = $2", "adjudicated", 42)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	var status string
	err = pools.Read(ctx, pool.PatientRead, token, func(tx pool.Tx) error {
		return tx.QueryRow(ctx, "SELECT status FROM claims WHERE id = $1", 42).Scan(&status)
	})
	if err != nil {
		log.Fatal(err)
	}
}
