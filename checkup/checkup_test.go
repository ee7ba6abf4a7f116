package checkup_test

import (
	"context"
	"os"
	"testing"

	"github.com/pgmedic/pgmedic/checkup"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// Check finds a schema condition and a HIPAA query condition in one call, and the
// report input lists the PHI table; a check the configuration disables stays silent.
func TestCheckOneCall(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
		CREATE TABLE patients (id bigint PRIMARY KEY, mrn text, first_name text, last_name text, date_of_birth date);
		CREATE TABLE visit_notes (patient_id bigint REFERENCES patients, note text);
		INSERT INTO patients SELECT g, 'M' || g, 'f', 'l', date '1970-01-01' + g FROM generate_series(1, 2000) g;
		ANALYZE patients`)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, db.URI, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 3 {
		if _, err := conn.Exec(ctx, "SELECT id, first_name, last_name, date_of_birth FROM patients"); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Defaults(config.Production)
	if err != nil {
		t.Fatal(err)
	}
	res, err := checkup.Check(ctx, conn, cfg, checkup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	has := func(fs []finding.Finding, check, object string) bool {
		for _, f := range fs {
			if f.Check == check && (object == "" || f.Object == object) {
				return true
			}
		}
		return false
	}
	if !has(res.Findings, "schema.no_primary_key", "public.visit_notes") {
		t.Errorf("the table without a primary key was not found: %v", res.Findings)
	}
	if res.Queries == nil || !has(res.Findings, "hipaa.broad_phi_read", "") {
		t.Errorf("the query analysis did not report the unrestricted read of patients (queries ran: %v)", res.Queries != nil)
	}
	phi := false
	for _, s := range res.Report.TableSizes {
		phi = phi || s.Name == "public.patients" && s.PHI
	}
	if !phi || len(res.Report.Findings) != len(res.Findings) {
		t.Errorf("report input: patients marked PHI %v, %d findings of %d", phi, len(res.Report.Findings), len(res.Findings))
	}

	cfg.Checks.Disabled = []string{"schema.no_primary_key"}
	res, err = checkup.Check(ctx, conn, cfg, checkup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if has(res.Findings, "schema.no_primary_key", "") {
		t.Errorf("a disabled check still reported")
	}
}
