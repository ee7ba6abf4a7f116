package cache

import (
	"context"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// TestAdvise: a hot lookup of a read-mostly table is advised with its key column; a
// hot read of a table written as often as it is read is not; PHI is flagged.
func TestAdvise(t *testing.T) {
	db := pg.NewDB(t)
	if !pg.HasExtension("pg_stat_statements") {
		t.Fatal("pg_stat_statements is not available: run scripts/setup")
	}
	db.Exec(t, `CREATE TABLE procedure_codes (code text PRIMARY KEY, description text);
		INSERT INTO procedure_codes SELECT 'C' || i, 'procedure ' || i FROM generate_series(1, 500) i;
		CREATE TABLE queue_items (id int PRIMARY KEY, state text);
		INSERT INTO queue_items SELECT i, 'new' FROM generate_series(1, 500) i;
		CREATE TABLE patients (patient_id int PRIMARY KEY, first_name text, last_name text, ssn text, date_of_birth date);
		INSERT INTO patients SELECT i, 'A', 'B', NULL, '1980-01-01' FROM generate_series(1, 50) i;
		SELECT pg_stat_statements_reset()`)
	ctx := ctxFor(t)
	conn := db.Conn(t)
	for i := 0; i < 150; i++ {
		for _, q := range []struct {
			sql string
			arg any
		}{
			{"SELECT description FROM procedure_codes WHERE code = $1", "C7"},
			{"SELECT state FROM queue_items WHERE id = $1", 7},
			{"UPDATE queue_items SET state = 'seen' WHERE id = $1", i%500 + 1},
			{"SELECT last_name FROM patients WHERE patient_id = $1", 3},
		} {
			if _, err := conn.Exec(ctx, q.sql, q.arg); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn.Close(ctx)
	// Table statistics reach the shared counters when the session flushes them.
	for i := 0; db.QueryInt64(t, "SELECT COALESCE(sum(idx_scan), 0) FROM pg_stat_user_tables WHERE relname IN ('procedure_codes', 'queue_items')") < 450; i++ {
		if i == 300 {
			t.Fatal("the workload's table statistics never arrived")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(context.Background())
	snap, err := snapshot.Collect(ctx, rc, snapshot.Options{Tool: "cache test", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	cls, _ := healthcare.New(config.Healthcare{})
	advice := Advise(snap, cls, AdviseOptions{})
	byTable := map[string]Advice{}
	for _, a := range advice {
		byTable[a.Tables[0]] = a
	}
	codes, ok := byTable["public.procedure_codes"]
	if !ok || codes.KeyColumn != "code" || codes.Calls < 150 || codes.PHI {
		t.Fatalf("the code lookup must be advised with its key: %+v (all: %+v)", codes, advice)
	}
	if a, ok := byTable["public.queue_items"]; ok {
		t.Fatalf("a table written as often as read must not be advised: %+v", a)
	}
	if p, ok := byTable["public.patients"]; !ok || !p.PHI {
		t.Fatalf("the patient lookup must be flagged PHI: %+v", p)
	}
}
