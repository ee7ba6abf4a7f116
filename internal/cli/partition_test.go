package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

const partitionSchema = `
CREATE TABLE payers (payer_id int PRIMARY KEY);
INSERT INTO payers VALUES (1), (2);
CREATE TABLE claims (
    claim_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payer_id int NOT NULL REFERENCES payers,
    date_of_service date NOT NULL,
    billed numeric(12,2) NOT NULL);
INSERT INTO claims (payer_id, date_of_service, billed) SELECT 1 + g % 2, DATE '2024-01-01' + g % 700, g FROM generate_series(1, 5000) g;
CREATE INDEX claims_dos_idx ON claims (date_of_service);
CREATE VIEW claims_2024 AS SELECT * FROM claims WHERE date_of_service < '2025-01-01';
CREATE TABLE remittances (id int PRIMARY KEY, claim_id bigint REFERENCES claims);
CREATE TABLE notes (note_id bigint PRIMARY KEY, written_on date NOT NULL, body text);
ANALYZE;
`

// plan shows partitions, keys, locks and preflight findings; a table a foreign key
// points at is refused with the reason and exit 1; json and sql formats carry the same.
func TestPartitionPlan(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, partitionSchema)
	r := run(t, "partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service", "--interval", "month", "--premake", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "foreign key remittances_claim_id_fkey on remittances references this table") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("refusal: exit %d\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"BLOCK foreign_key_in", "note  view: view public.claims_2024", "primary key: (claim_id, date_of_service)", "claims_p2024_01", "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')", "claims_default", "lock: SHARE ROW EXCLUSIVE on claims"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	db.Exec(t, "ALTER TABLE remittances DROP CONSTRAINT remittances_claim_id_fkey")
	r = run(t, "partition", "plan", "--dsn", db.URI, "--table", "public.claims", "--column", "date_of_service", "--format", "json")
	if r.code != 0 {
		t.Fatalf("json plan: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Spec struct {
			Partitions []struct{ Name, Bound string }
			PrimaryKey []string `json:"primary_key"`
		}
		Preflight []struct{ Code string }
		Steps     struct{ Steps []struct{ Lock string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("json: %v", err)
	}
	if len(res.Spec.Partitions) < 24 || strings.Join(res.Spec.PrimaryKey, ",") != "claim_id,date_of_service" || len(res.Steps.Steps) < 8 {
		t.Fatalf("json plan: %+v", res)
	}
	r = run(t, "partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "payer_id", "--strategy", "hash", "--modulus", "4", "--format", "sql")
	if r.code != 0 || !strings.Contains(r.stdout, "FOR VALUES WITH (MODULUS 4, REMAINDER 3)") || !strings.Contains(r.stdout, "-- step") {
		t.Fatalf("sql plan: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
}

// Bad input is one line with a hint and exit 2, never a panic.
func TestPartitionBadInput(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, partitionSchema)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"partition", "plan", "--dsn", db.URI, "--column", "x"}, "--table and --column are required"},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service", "--strategy", "circle"}, "strategy must be range, hash or list"},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "nosuch", "--column", "x"}, "no such table"},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "nosuch"}, `has no column "nosuch"`},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "payer_id", "--strategy", "hash", "--modulus", "3"}, "power of two"},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service", "--retention", "forever"}, "retention"},
		{[]string{"partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service", "--format", "xml"}, "--format"},
		{[]string{"partition", "maintain", "--dsn", db.URI, "--format", "xml"}, "--format"},
		{[]string{"partition", "finish", "--dsn", db.URI}, "--table is required"},
	} {
		r := run(t, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.HasPrefix(r.stderr, "pgmedic: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args[1:4], r.code, r.stderr, c.want)
		}
	}
	// Not a table pgmedic can convert: no primary key → exit 1 with the reason.
	db.Exec(t, "ALTER TABLE notes DROP CONSTRAINT notes_pkey")
	r := run(t, "partition", "plan", "--dsn", db.URI, "--table", "notes", "--column", "written_on")
	if r.code != 1 || !strings.Contains(r.stderr, "has no primary key") {
		t.Errorf("no primary key: exit %d, %s", r.code, r.stderr)
	}
	// Nothing under way: finish says so.
	r = run(t, "partition", "finish", "--dsn", db.URI, "--table", "claims")
	if r.code != 1 || !strings.Contains(r.stderr, "no conversion of this table is under way") {
		t.Errorf("finish without a conversion: exit %d, %s", r.code, r.stderr)
	}
}

// migrate prints its steps unless --apply; with it the table is converted, the view
// follows, and finish drops the old table; maintain then has partitions to premake.
func TestPartitionMigrateCLI(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, partitionSchema)
	db.Exec(t, `DROP TABLE remittances; ALTER TABLE claims ENABLE ROW LEVEL SECURITY;
		CREATE POLICY payer_one ON claims FOR SELECT TO PUBLIC USING (payer_id = 1)`)
	args := []string{"partition", "migrate", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service", "--premake", "1"}
	r := run(t, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "-- dry run: nothing was changed") || db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = 'claims_pgmedic_new'") != 0 {
		t.Fatalf("dry run: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, append(args, "--apply")...)
	if r.code != 0 || !strings.Contains(r.stdout, "rows/s") {
		t.Fatalf("migrate --apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if db.QueryInt64(t, "SELECT count(*) FROM claims") != 5000 || db.QueryInt64(t, "SELECT count(*) FROM claims_2024") != db.QueryInt64(t, "SELECT count(*) FROM claims WHERE date_of_service < '2025-01-01'") {
		t.Fatalf("after the cut-over the table or its view is wrong")
	}
	if k := db.QueryStrings(t, "SELECT relkind::text || relrowsecurity::text FROM pg_class WHERE oid = 'claims'::regclass"); k[0] != "ptrue" {
		t.Fatalf("claims relkind and row security %s", k[0])
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_policies WHERE tablename = 'claims' AND policyname = 'payer_one' AND qual LIKE '%payer_id = 1%'"); n != 1 {
		t.Errorf("the policy did not move to the new table")
	}
	r = run(t, "partition", "finish", "--dsn", db.URI, "--table", "claims", "--apply")
	if r.code != 0 || db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = 'claims_pgmedic_old'") != 0 {
		t.Fatalf("finish: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, "partition", "maintain", "--dsn", db.URI, "--premake", "6")
	if r.code != 0 || !strings.Contains(r.stdout, "public.claims: ") || !strings.Contains(r.stdout, "create ahead") {
		t.Fatalf("maintain: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// A relation already holding a name the plan needs stops it.
func TestPartitionPlanNameTaken(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, partitionSchema+"DROP TABLE remittances; CREATE TABLE claims_default (x int);")
	r := run(t, "partition", "plan", "--dsn", db.URI, "--table", "claims", "--column", "date_of_service")
	if r.code != 1 || !strings.Contains(r.stderr, "the plan needs the name claims_default") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

// Bad partitioning options are refused before anything connects.
func TestPartitionBadOptionsBeforeConnecting(t *testing.T) {
	unreachable := "postgres://u@127.0.0.1:1/db?sslmode=disable"
	for _, args := range [][]string{
		{"partition", "plan", "--dsn", unreachable, "--table", "claims", "--column", "d", "--strategy", "spiral"},
		{"partition", "migrate", "--dsn", unreachable, "--table", "claims", "--column", "d", "--interval", "fortnight"},
		{"partition", "plan", "--dsn", unreachable, "--table", "claims", "--column", "d", "--strategy", "hash", "--modulus", "6"},
	} {
		r := run(t, args...)
		if line := oneErrorLine(t, r); r.code != 2 || !strings.Contains(line, "bad partitioning options") || !strings.Contains(line, "hint:") {
			t.Errorf("%v: exit %d, %q", args[1:], r.code, line)
		}
	}
}
