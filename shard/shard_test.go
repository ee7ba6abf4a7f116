package shard

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func TestPlanDistributesByPatient(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	pool, err := pgconn.NewPool(ctx, db.SocketURI, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := synth.Load(ctx, pool, synth.LoadOptions{Options: synth.Options{Scale: 0.01, Seed: 5}}); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	if _, err := synth.RunWorkload(ctx, pool, synth.WorkloadOptions{Duration: 2 * time.Second, Clients: 2, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Collect(ctx, db.Conn(t), snapshot.Options{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanSnapshot(snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Key.Table != "public.patients" || p.Key.Column != "id" || p.Key.Entity != "patient" {
		t.Fatalf("key = %+v (candidates %+v)", p.Key, p.Candidates)
	}
	dist := map[string]Distributed{}
	for _, d := range p.Distributed {
		dist[d.Table] = d
	}
	if d := dist["public.claims"]; d.Column != "patient_id" || d.Missing {
		t.Fatalf("claims: %+v", d)
	}
	if d := dist["public.claim_lines"]; !d.Missing || d.Via != "public.claims" || d.Column != "patient_id" {
		t.Fatalf("claim lines are not co-located through claims: %+v", d)
	}
	for _, r := range []string{"public.payers", "public.icd10_codes"} {
		found := false
		for _, x := range p.Reference {
			found = found || x == r
		}
		if !found {
			t.Errorf("%s is not a reference table: %v", r, p.Reference)
		}
	}
	changes := strings.Join(p.Constraints, "\n")
	if !strings.Contains(changes, "public.claims: primary key (id) must include patient_id") {
		t.Errorf("constraint changes lack the claims key:\n%s", changes)
	}
	if len(p.MultiShard) == 0 {
		t.Error("the demo workload has provider- and payer-scoped statements; none listed as multi-shard")
	}
	for _, s := range p.MultiShard {
		if strings.Contains(s.Query, "'") {
			t.Errorf("a multi-shard statement shows a literal: %s", s.Query)
		}
	}
	sql := p.DDL().SQL()
	for _, want := range []string{
		"SELECT create_distributed_table('public.patients', 'id')",
		"SELECT create_distributed_table('public.claims', 'patient_id', colocate_with => 'public.patients')",
		"SELECT create_reference_table('public.payers')",
		`ALTER TABLE "public"."claim_lines" ADD COLUMN "patient_id" bigint`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("DDL lacks %s:\n%s", want, sql)
		}
	}
	// The fill step is real SQL: it runs on the database (the columns exist after the ADD).
	for _, st := range p.DDL().Steps {
		if strings.HasPrefix(st.SQL, "ALTER TABLE") || strings.HasPrefix(st.SQL, "UPDATE") {
			db.Exec(t, st.SQL)
		}
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM claim_lines WHERE patient_id IS NULL"); n != 0 {
		t.Fatalf("%d claim lines without patient_id after the fill", n)
	}
	if p.Key.SingleShardPct <= 0 || p.Key.SingleShardPct >= 100 {
		t.Errorf("single-shard share %.1f%%", p.Key.SingleShardPct)
	}
	t.Logf("key %s.%s: %.1f%% of the time single-shard; candidates %+v", p.Key.Table, p.Key.Column, p.Key.SingleShardPct, p.Candidates)
}
