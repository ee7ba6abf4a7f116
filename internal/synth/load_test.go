package synth

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var anchor = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

func loadInto(t *testing.T, db *pgtest.DB, opts Options) *LoadResult {
	t.Helper()
	pool := db.Pool(t)
	res, err := Load(context.Background(), pool, LoadOptions{Options: opts})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return res
}

func TestLoadCountsKeysAndRealism(t *testing.T) {
	db := pg.NewDB(t)
	const scale = 0.02
	res := loadInto(t, db, Options{Scale: scale, Seed: 7, Anchor: anchor})
	want := PlannedCounts(scale)

	direct := map[string]int64{
		"payers": want.Payers, "plans": want.Plans, "providers": want.Providers, "patients": want.Patients,
		"claims": want.Claims, "appointments": want.Appointments, "audit_logs": want.AuditLogs,
		"icd10_codes": want.ICD10, "cpt_codes": want.CPT, "hcpcs_codes": want.HCPCS,
	}
	for table, n := range direct {
		if got := db.QueryInt64(t, "SELECT count(*) FROM "+table); got != n {
			t.Errorf("%s: %d rows, want %d", table, got, n)
		}
	}
	for table, n := range res.Rows {
		if got := db.QueryInt64(t, "SELECT count(*) FROM "+table); got != n {
			t.Errorf("%s: %d rows in the table, the loader reported %d", table, got, n)
		}
	}
	// Derived tables in their expected proportions.
	lines := db.QueryInt64(t, "SELECT count(*) FROM claim_lines")
	if r := float64(lines) / float64(want.Claims); r < 1.8 || r > 2.8 {
		t.Errorf("claim lines per claim = %.2f, want about 2.3", r)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM payments"); n < want.Claims/2 || n > want.Claims {
		t.Errorf("payments = %d for %d claims", n, want.Claims)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM users WHERE user_type = 'patient'"); n < want.Patients/4 || n > want.Patients*3/4 {
		t.Errorf("patient portal users = %d for %d patients", n, want.Patients)
	}

	// Keys: every table has a primary key, every foreign key is validated, and there are
	// no secondary indexes.
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = 'public'::regnamespace"); n != int64(len(tables)) {
		t.Errorf("%d primary keys, want %d", n, len(tables))
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated AND connamespace = 'public'::regnamespace"); n != 20 {
		t.Errorf("%d validated foreign keys, want 20", n)
	}
	if n := db.QueryInt64(t, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisprimary`); n != 0 {
		t.Errorf("%d secondary indexes; the dataset must start without any", n)
	}

	// Shape: seven years of service dates, pended claims, skewed providers, future
	// appointments, Zipf-like diagnosis codes.
	span := db.QueryInt64(t, "SELECT (max(date_of_service) - min(date_of_service)) FROM claims")
	if span < 6*365 || span > 7*365+5 {
		t.Errorf("service dates span %d days, want about seven years", span)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM claims WHERE date_of_service > $1", anchor); n != 0 {
		t.Errorf("%d claims with a service date after the anchor", n)
	}
	pended := db.QueryInt64(t, "SELECT count(*) FROM claims WHERE status = 'pended'")
	if pended == 0 || pended > want.Claims/10 {
		t.Errorf("pended claims = %d of %d", pended, want.Claims)
	}
	paidShare := db.QueryInt64(t, "SELECT (100 * count(*) FILTER (WHERE status = 'paid') / count(*)) FROM claims")
	if paidShare < 60 || paidShare > 90 {
		t.Errorf("paid claims = %d%%, want most", paidShare)
	}
	top := db.QueryInt64(t, `SELECT (100 * sum(n) FILTER (WHERE rk <= cnt / 10) / sum(n))::bigint FROM (
		SELECT count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS rk, count(*) OVER () AS cnt
		FROM claims GROUP BY provider_id) s`)
	if top < 35 {
		t.Errorf("the busiest 10%% of providers bill %d%% of claims; real volumes are skewed", top)
	}
	topDx := db.QueryInt64(t, `SELECT (100 * max(n) / sum(n))::bigint FROM (SELECT count(*) AS n FROM claim_lines GROUP BY icd10_code) s`)
	if topDx < 4 {
		t.Errorf("the most common diagnosis is only %d%% of lines; want a Zipf-like head", topDx)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM appointments WHERE scheduled_date_time > $1 AND status IN ('Scheduled', 'Confirmed')", anchor); n == 0 {
		t.Error("no upcoming appointments")
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM appointments WHERE scheduled_date_time > $1 AND status IN ('Completed', 'NoShow')", anchor); n != 0 {
		t.Errorf("%d future appointments already completed", n)
	}
	// Synthetic identifiers only: SSNs in the never-issued 9xx area, fictional phones,
	// reserved e-mail domains, valid NPIs.
	if n := db.QueryInt64(t, "SELECT count(*) FROM patients WHERE ssn !~ '^9[0-9]{2}-[0-9]{2}-[0-9]{4}$'"); n != 0 {
		t.Errorf("%d SSNs outside the never-issued 9xx area", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM patients WHERE phone !~ ' 555-01[0-9]{2}$'"); n != 0 {
		t.Errorf("%d phone numbers outside 555-01xx", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM patients WHERE email !~ '@example\\.org$'"); n != 0 {
		t.Errorf("%d e-mail addresses outside example.org", n)
	}
	if n := db.QueryInt64(t, "SELECT count(DISTINCT mrn) FROM patients"); n != want.Patients {
		t.Errorf("MRNs not unique: %d distinct for %d patients", n, want.Patients)
	}
	if n := db.QueryInt64(t, "SELECT count(DISTINCT npi) FROM providers WHERE length(npi) = 10"); n != want.Providers {
		t.Errorf("NPIs not unique 10-digit values: %d", n)
	}
	// Sequences moved past the loaded ids: inserting without an id works.
	db.Exec(t, `INSERT INTO claims (claim_number, patient_id, provider_id, payer_id, claim_type, date_of_service, received_at, status, billed_amount)
		VALUES ('CLM-NEW', 1, 1, 1, 'professional', current_date, now(), 'received', 10)`)
}

func TestDeterministic(t *testing.T) {
	a, b, c := pg.NewDB(t), pg.NewDB(t), pg.NewDB(t)
	opts := Options{Scale: 0.005, Seed: 42, Anchor: anchor}
	loadInto(t, a, opts)
	loadInto(t, b, opts)
	other := opts
	other.Seed = 43
	loadInto(t, c, other)
	ctx := context.Background()
	sa, err := Checksums(ctx, a.Pool(t))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Checksums(ctx, b.Pool(t))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Checksums(ctx, c.Pool(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != len(tables) {
		t.Fatalf("checksums for %d tables, want %d", len(sa), len(tables))
	}
	differ := 0
	for name, sum := range sa {
		if sum == "empty" {
			t.Errorf("%s is empty", name)
		}
		if sb[name] != sum {
			t.Errorf("%s: same seed, different data (%s vs %s)", name, sum, sb[name])
		}
		if sc[name] != sum {
			differ++
		}
	}
	// Code tables come from fixed lists plus seeded filler, so every table should change.
	if differ < len(tables)-2 {
		t.Errorf("only %d tables differ between seeds 42 and 43", differ)
	}
}

func TestRefusesLoadedDatabase(t *testing.T) {
	db := pg.NewDB(t)
	loadInto(t, db, Options{Scale: 0.001, Seed: 1, Anchor: anchor})
	_, err := Load(context.Background(), db.Pool(t), LoadOptions{Options: Options{Scale: 0.001, Seed: 1, Anchor: anchor}})
	var exists *ErrSchemaExists
	if !errors.As(err, &exists) || len(exists.Tables) != len(tables) {
		t.Fatalf("want ErrSchemaExists naming all tables, got %v", err)
	}
}

func TestBadScale(t *testing.T) {
	for _, s := range []float64{0, -1, MaxScale + 1} {
		if _, err := NewGenerator(Options{Scale: s}); err == nil {
			t.Errorf("scale %v accepted", s)
		}
	}
}

func TestCivilDates(t *testing.T) {
	for day := int64(-800000); day < 800000; day += 997 {
		y, m, d := civil(day)
		tm := time.Unix(day*86400, 0).UTC()
		if int(y) != tm.Year() || time.Month(m) != tm.Month() || int(d) != tm.Day() {
			t.Fatalf("civil(%d) = %d-%d-%d, want %s", day, y, m, d, tm.Format("2006-01-02"))
		}
		if daysFromCivil(y, m, d) != day {
			t.Fatalf("daysFromCivil(civil(%d)) = %d", day, daysFromCivil(y, m, d))
		}
		if int(weekday(day)) != int(tm.Weekday()) {
			t.Fatalf("weekday(%d) = %d, want %d", day, weekday(day), tm.Weekday())
		}
	}
}

func TestNPICheckDigit(t *testing.T) {
	// 1234567893 is the worked example of the NPI standard.
	if d := npiCheckDigit("123456789"); d != 3 {
		t.Fatalf("check digit of 123456789 = %d, want 3", d)
	}
}
