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
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.02, Seed: 5})
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
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgmedic%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d prepared statements left behind (%v)", n, err)
	}
}

// publicCatalog resolves every unqualified name to public.
type publicCatalog struct{}

func (publicCatalog) FindTable(schema, name string) (string, bool) {
	if schema == "" {
		schema = "public"
	}
	return schema, true
}
func (publicCatalog) HasColumn(schema, table, column string) bool { return true }

// take runs a statement through the whole intake.
func take(t *testing.T, p *explain.Planner, sql string) (*explain.Statement, []*string) {
	t.Helper()
	s, vals, err := p.Take(context.Background(), sql, sqlparse.NewParser(publicCatalog{}, 0))
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s, vals
}

func TestGenericPlanOfNormalisedStatement(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	s, _ := take(t, p, "SELECT id, mrn FROM patients WHERE mrn = $1;")
	pl, err := p.Plan(ctx, s, nil)
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
	if _, err := p.PlanSQL(ctx, "UPDATE claims SET status = $1 WHERE id = $2"); err != nil {
		t.Fatalf("explaining an UPDATE: %v", err)
	}
	clean(t, conn)
}

func TestCannotPlan(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	for sql, state := range map[string]string{
		"SELECT * FROM no_such_table":        "42P01",
		"SELECT * FROM patients WHERE x = 1": "42703",
		// Values from a file or a log never come back in the reason.
		"SELECT * FROM patients WHERE id = 'MRN-93817'":             "22P02",
		"SELECT * FROM patients WHERE date_of_birth = '1971-02-30'": "22008",
	} {
		_, err := p.PlanSQL(ctx, sql)
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
	// A syntax error is the intake's: no round trip, and no token quoted.
	_, err := p.PlanSQL(ctx, "SELECT * FROM patients WHERE mrn = 'MRN-93817' 'x'")
	if np, ok := sqlparse.IsNotPlannable(err); !ok || np.Code != sqlparse.ReasonSyntax || strings.Contains(err.Error(), "MRN") {
		t.Errorf("syntax error: %v", err)
	}
	// The session is still usable afterwards.
	if _, err := p.PlanSQL(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestRepresentativeValuesCostRangesRealistically(t *testing.T) {
	db := seeded(t)
	p, conn := planner(t, db.URI, false)
	ctx := context.Background()
	s, _ := take(t, p, "SELECT id FROM claims WHERE date_of_service >= $1")
	generic, err := p.Plan(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, ok := p.Representative(ctx, s)
	if !ok || len(vals) != 1 {
		t.Fatalf("no representative value: %v", vals)
	}
	custom, err := p.Plan(ctx, s, vals)
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
	s2, _ := take(t, p, "SELECT id FROM claims WHERE provider_id = $1 AND date_of_service BETWEEN $2 AND $3 ORDER BY date_of_service LIMIT $4")
	vals2, ok := p.Representative(ctx, s2)
	if !ok || len(vals2) != 4 || *vals2[3] != "20" || *vals2[1] >= *vals2[2] {
		t.Fatalf("values for a BETWEEN: ok=%v %v", ok, deref(vals2))
	}
	if _, err := p.Plan(ctx, s2, vals2); err != nil {
		t.Fatal(err)
	}
	// A parameter compared with nothing the statistics know about gets a value of its
	// type, and the custom plan works.
	s3, _ := take(t, p, "SELECT id FROM claims WHERE id = $1 + $2 AND date_trunc($3, date_of_service) = $4")
	vals3, ok := p.Representative(ctx, s3)
	if !ok || *vals3[2] != "day" {
		t.Fatalf("typed values: ok=%v %v", ok, deref(vals3))
	}
	if _, err := p.Plan(ctx, s3, vals3); err != nil {
		t.Fatal(err)
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
	s, _ := take(t, ro, "SELECT count(*) FROM claims WHERE status = $1")
	pl, err := ro.Analyze(ctx, s, []*string{ptr("pended")}, explain.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Analyzed || pl.ExecutionMs <= 0 || pl.Root.ActualRows == nil {
		t.Fatalf("analyzed plan: %+v", pl)
	}
	// A write without AllowWrites is refused by the READ ONLY transaction.
	del, _ := take(t, ro, "DELETE FROM audit_logs")
	_, err = ro.Analyze(ctx, del, nil, explain.AnalyzeOptions{})
	var cp *explain.CannotPlanError
	if !errors.As(err, &cp) || cp.SQLState != "25006" {
		t.Fatalf("a write in a read-only analyze: %v", err)
	}
	clean(t, roConn)

	before := db.QueryInt64(t, "SELECT count(*) FROM audit_logs")
	rw, rwConn := planner(t, db.URI, true)
	del, _ = take(t, rw, "DELETE FROM audit_logs")
	pl, err = rw.Analyze(ctx, del, nil, explain.AnalyzeOptions{AllowWrites: true})
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
	pl, err := p.PlanSQL(context.Background(), "SELECT * FROM patients WHERE mrn = 'MRN00000001'")
	if err != nil {
		t.Fatal(err)
	}
	text := pl.Text(func(s string) string { return strings.ReplaceAll(s, "MRN00000001", "?") })
	if !strings.Contains(text, "Seq Scan on public.patients") || strings.Contains(text, "MRN00000001") {
		t.Errorf("plan text:\n%s", text)
	}
}

func ptr(s string) *string { return &s }
