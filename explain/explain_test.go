package explain_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.02", func(ctx context.Context, db *pgtest.DB) error {
		pool, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true})
		if err != nil {
			return err
		}
		defer pool.Close()
		_, err = synth.Load(ctx, pool, synth.LoadOptions{Options: synth.Options{Scale: 0.02, Seed: 5}})
		return err
	})
}

func planner(t *testing.T, uri string, write bool) (*explain.Planner, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{Write: write, StatementTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	p, err := explain.New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return p, conn
}

func clean(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	if s := conn.PgConn().TxStatus(); s != 'I' {
		t.Errorf("session left in transaction state %c", s)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgmedic_plan_%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d prepared statements left behind (%v)", n, err)
	}
}

func parse(t *testing.T, sql string) *sqlparse.Statement {
	t.Helper()
	st, err := sqlparse.NewParser(nil, 0).Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Predicates {
		if st.Predicates[i].Table != "" && !strings.Contains(st.Predicates[i].Table, ".") {
			st.Predicates[i].Table = "public." + st.Predicates[i].Table
		}
	}
	return st
}

func TestGenericPlanOfNormalisedStatement(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	pl, err := p.Plan(ctx, "SELECT id, mrn FROM patients WHERE mrn = $1;", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Generic || pl.Root == nil {
		t.Fatalf("plan: %+v", pl)
	}
	var scan *explain.Node
	pl.Root.Walk(func(n *explain.Node) {
		if n.Relation == "patients" {
			scan = n
		}
	})
	if scan == nil || scan.Type != "Seq Scan" || !strings.Contains(scan.Filter, "$1") || scan.Schema != "public" {
		t.Fatalf("scan: %+v", scan)
	}
	// Writes can be explained (not executed) in a read-only session.
	if _, err := p.Plan(ctx, "UPDATE claims SET status = $1 WHERE id = $2", 2, nil); err != nil {
		t.Fatalf("explaining an UPDATE: %v", err)
	}
	clean(t, conn)
}

func TestCannotPlan(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	for sql, state := range map[string]string{
		"SELECT * FROM patients WHERE $1 IS NULL": "42P18", // parameter type cannot be inferred
		"SELECT * FROM no_such_table":             "42P01",
		"SELECT * FROM patients WHERE x = 1":      "42703",
		// Values from a file or a log never come back in the reason.
		"SELECT * FROM patients WHERE id = 'MRN-93817'":             "22P02",
		"SELECT * FROM patients WHERE date_of_birth = '1971-02-30'": "22008",
		"SELECT * FROM patients WHERE mrn = 'MRN-93817' 'x'":        "42601",
	} {
		params := 0
		if strings.Contains(sql, "$1") {
			params = 1
		}
		_, err := p.Plan(ctx, sql, params, nil)
		var cp *explain.CannotPlanError
		if !errors.As(err, &cp) || cp.SQLState != state {
			t.Errorf("%s: want CannotPlanError %s, got %v", sql, state, err)
		}
		for _, value := range []string{"MRN-93817", "1971-02-30", "'x'"} {
			if err != nil && strings.Contains(err.Error(), value) {
				t.Errorf("%s: the reason quotes a value: %v", sql, err)
			}
		}
		clean(t, conn)
	}
	// The session is still usable afterwards.
	if _, err := p.Plan(ctx, "SELECT 1", 0, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRepresentativeValuesCostRangesRealistically(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	sql := "SELECT id FROM claims WHERE date_of_service >= $1"
	st := parse(t, sql)
	generic, err := p.Plan(ctx, sql, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, ok := p.Representative(ctx, st)
	if !ok || len(vals) != 1 {
		t.Fatalf("no representative value: %v", vals)
	}
	custom, err := p.Plan(ctx, sql, 1, vals)
	if err != nil {
		t.Fatal(err)
	}
	if !custom.Custom {
		t.Error("not a custom plan")
	}
	// The generic plan assumes a third of the table; the 95th percentile date selects
	// about 5 %.
	if !(custom.Root.PlanRows < generic.Root.PlanRows/3) {
		t.Errorf("custom rows %.0f vs generic rows %.0f", custom.Root.PlanRows, generic.Root.PlanRows)
	}
	// Two-sided ranges and LIMIT get values too.
	st2 := parse(t, "SELECT id FROM claims WHERE provider_id = $1 AND date_of_service BETWEEN $2 AND $3 ORDER BY date_of_service LIMIT $4")
	vals2, ok := p.Representative(ctx, st2)
	if !ok || len(vals2) != 4 || *vals2[3] != "20" || *vals2[1] >= *vals2[2] {
		t.Fatalf("values for a BETWEEN: ok=%v %v", ok, deref(vals2))
	}
	if _, err := p.Plan(ctx, st2.Text, 4, vals2); err != nil {
		t.Fatal(err)
	}
	// A parameter compared with nothing the statistics know about: no values.
	if _, ok := p.Representative(ctx, parse(t, "SELECT id FROM claims WHERE id = $1 + $2")); ok {
		t.Error("values invented for unknown parameters")
	}
	clean(t, conn)
}

func deref(vs []*string) []string {
	var out []string
	for _, v := range vs {
		if v == nil {
			out = append(out, "<nil>")
		} else {
			out = append(out, *v)
		}
	}
	return out
}

func TestAnalyzeRollsBack(t *testing.T) {
	db := seeded(t)
	ctx := context.Background()
	ro, roConn := planner(t, db.URI, false)
	pl, err := ro.Analyze(ctx, "SELECT count(*) FROM claims WHERE status = $1", 1, []*string{ptr("pended")}, explain.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Analyzed || pl.ExecutionMs <= 0 || pl.Root.ActualRows == nil {
		t.Fatalf("analyzed plan: %+v", pl)
	}
	// A write without AllowWrites is refused by the READ ONLY transaction.
	_, err = ro.Analyze(ctx, "DELETE FROM audit_logs", 0, nil, explain.AnalyzeOptions{})
	var cp *explain.CannotPlanError
	if !errors.As(err, &cp) || cp.SQLState != "25006" {
		t.Fatalf("a write in a read-only analyze: %v", err)
	}
	clean(t, roConn)

	before := db.QueryInt64(t, "SELECT count(*) FROM audit_logs")
	rw, rwConn := planner(t, db.URI, true)
	pl, err = rw.Analyze(ctx, "DELETE FROM audit_logs", 0, nil, explain.AnalyzeOptions{AllowWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Root.ActualRows == nil {
		t.Fatal("no actual rows")
	}
	if after := db.QueryInt64(t, "SELECT count(*) FROM audit_logs"); after != before {
		t.Fatalf("EXPLAIN ANALYZE of a DELETE was not rolled back: %d -> %d", before, after)
	}
	clean(t, rwConn)
}

func TestPlanText(t *testing.T) {
	db := seeded(t)
	p, _ := planner(t, db.URI, false)
	pl, err := p.Plan(context.Background(), "SELECT * FROM patients WHERE mrn = 'MRN00000001'", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := pl.Text(func(s string) string { return strings.ReplaceAll(s, "MRN00000001", "?") })
	if !strings.Contains(text, "Seq Scan on public.patients") || strings.Contains(text, "MRN00000001") {
		t.Errorf("plan text:\n%s", text)
	}
}

func ptr(s string) *string { return &s }
