package indexadvisor_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/pgconn"
)

// An EHR schema unlike the demo's (its own schema, mixed-case names, a partitioned
// observations table, a view), with a workload run through the server so that the
// advice comes from pg_stat_statements and pg_qualstats as it would in production.
const ehrSchema = `
CREATE SCHEMA ehr;
CREATE TABLE ehr."Encounters" (
    encounter_id bigint PRIMARY KEY, person_id int NOT NULL, facility_code text NOT NULL,
    admitted_at timestamptz NOT NULL, discharged_at timestamptz, encounter_class text NOT NULL, acuity int NOT NULL);
INSERT INTO ehr."Encounters" SELECT g, (g * 7919) % 30000, 'F' || (g % 60), timestamptz '2021-01-01' + g * interval '7 minutes',
    CASE WHEN g % 50 = 0 THEN NULL ELSE timestamptz '2021-01-01' + g * interval '7 minutes' + interval '2 days' END,
    (ARRAY['inpatient','outpatient','emergency','virtual'])[1 + g % 4], 1 + g % 5
FROM generate_series(1, 150000) g;
CREATE TABLE ehr.observations (obs_id bigint, encounter_id bigint NOT NULL, loinc text NOT NULL, observed_on date NOT NULL, value_num numeric)
    PARTITION BY RANGE (observed_on);
CREATE TABLE ehr.observations_2021 PARTITION OF ehr.observations FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE ehr.observations_2022 PARTITION OF ehr.observations FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE ehr.observations_2023 PARTITION OF ehr.observations FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
INSERT INTO ehr.observations SELECT g, 1 + (g * 31) % 150000, 'L' || (g % 400), date '2021-01-01' + (g % 1090), g % 300
FROM generate_series(1, 300000) g;
CREATE TABLE ehr.medication_orders (order_id bigint PRIMARY KEY, encounter_id bigint NOT NULL, rxnorm text NOT NULL,
    order_state text NOT NULL, ordered_at timestamptz NOT NULL);
INSERT INTO ehr.medication_orders SELECT g, 1 + (g * 17) % 150000, 'RX' || (g % 2000),
    CASE WHEN g % 200 = 0 THEN 'awaiting_verification' ELSE 'completed' END, timestamptz '2021-01-01' + g * interval '3 minutes'
FROM generate_series(1, 200000) g;
CREATE VIEW ehr.open_encounters AS SELECT * FROM ehr."Encounters" WHERE discharged_at IS NULL;
ANALYZE;
`

func TestUnseenSchemaEndToEnd(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, ehrSchema)
	db.Exec(t, "VACUUM")
	ctx := context.Background()
	work, err := pgconn.Connect(ctx, db.URI, pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer work.Close(ctx)
	workload := []struct {
		marker string // a part of the statement that survives normalisation
		sql    string
		args   func(i int) []any
	}{
		{"ORDER BY admitted_at DESC", `SELECT encounter_id, admitted_at FROM ehr."Encounters" WHERE person_id = $1 ORDER BY admitted_at DESC LIMIT 10`,
			func(i int) []any { return []any{i * 37 % 30000} }},
		{"count(*)", `SELECT count(*) FROM ehr."Encounters" WHERE facility_code = $1 AND admitted_at >= $2 AND admitted_at < $3`,
			func(i int) []any {
				from := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%300)
				return []any{"F" + strconv.Itoa(i%60), from, from.AddDate(0, 0, 1)}
			}},
		{"ehr.observations", `SELECT o.loinc, o.value_num FROM ehr.observations o WHERE o.encounter_id = $1 AND o.observed_on >= $2`,
			func(i int) []any { return []any{1 + i*13%150000, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)} }},
		{"ORDER BY ordered_at", `SELECT order_id, rxnorm FROM ehr.medication_orders WHERE order_state = 'awaiting_verification' ORDER BY ordered_at LIMIT 50`,
			func(int) []any { return nil }},
		{"JOIN", `SELECT e.encounter_id, m.rxnorm FROM ehr.medication_orders m JOIN ehr."Encounters" e ON e.encounter_id = m.encounter_id WHERE e.person_id = $1`,
			func(i int) []any { return []any{i * 101 % 30000} }},
		{"open_encounters", `SELECT encounter_id FROM ehr.open_encounters WHERE facility_code = $1`,
			func(i int) []any { return []any{"F" + strconv.Itoa(i%60)} }},
	}
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	for i := 0; i < 40; i++ {
		for _, w := range workload {
			rows, err := work.Query(ctx, w.sql, w.args(i)...)
			if err != nil {
				t.Fatalf("%s: %v", w.sql, err)
			}
			rows.Close()
		}
	}

	a := newAdvisor(t, db.URI, nil, indexadvisor.Options{})
	adv, err := a.Advise(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range adv.Recommendations {
		t.Logf("%s\n    serves %s", r.SQL, strings.Join(r.Statements, "\n    serves "))
	}
	if adv.Stats.Planned < len(workload) {
		t.Fatalf("planned %d statements, want the %d of the workload; skipped %v", adv.Stats.Planned, len(workload), adv.Skipped)
	}
	// Every statement of the workload is served by a recommended index.
	for _, w := range workload {
		served := false
		for _, r := range adv.Recommendations {
			for _, s := range r.Statements {
				served = served || strings.Contains(s, w.marker)
			}
		}
		if !served {
			t.Errorf("no recommendation serves %s", w.sql)
		}
	}
	if len(adv.Recommendations) >= len(workload) {
		t.Errorf("%d indexes for %d statements: %v", len(adv.Recommendations), len(workload), describe(adv))
	}
	// Four statements read Encounters through two access paths (a person's encounters;
	// a facility's, by date or still open): two indexes serve them all.
	if rs := recsOn(adv, `ehr.Encounters`); len(rs) > 2 {
		t.Errorf("%d indexes on Encounters, want at most 2: %v", len(rs), describe(adv))
	}
	if want := want(t, adv, "ehr.medication_orders", "ordered_at"); !strings.Contains(want.Where, "awaiting_verification") {
		t.Errorf("the verification queue wants a partial index, got %s", want.SQL)
	}

	// Build it all, then every recommendation's target statements plan with it.
	res, err := applier(t, db, indexadvisor.ApplyOptions{LockTimeout: 2 * time.Second, Tool: "test"}).Apply(ctx, adv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.Status != "done" || s.Confirmed < s.Targets || s.Targets == 0 {
			t.Errorf("step %s: %s (%d of %d targets confirmed): %s", s.Object, s.Status, s.Confirmed, s.Targets, s.Detail)
		}
	}
}
