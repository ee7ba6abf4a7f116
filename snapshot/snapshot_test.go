package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
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

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.01", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.01, Seed: 11})
	})
}

func collect(t *testing.T, uri string) *snapshot.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{StatementTimeout: 30 * time.Second, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := snapshot.Collect(ctx, conn, snapshot.Options{Tool: "pgmedic test", Local: true})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return s
}

func TestCollectSeededDatabase(t *testing.T) {
	db := seeded(t)
	// Some workload so pg_stat_statements has entries for this database.
	pool := db.Pool(t)
	if _, err := synth.RunWorkload(context.Background(), pool, synth.WorkloadOptions{Duration: time.Second, Clients: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	s := collect(t, db.URI)

	for _, p := range s.Parts {
		if p.Status != snapshot.PartOK {
			t.Errorf("part %s: %s (%s)", p.Name, p.Status, p.Reason)
		}
		if p.DurationMs < 0 {
			t.Errorf("part %s has a negative duration", p.Name)
		}
	}
	if len(s.Parts) != len(snapshot.PartNames()) {
		t.Errorf("%d parts recorded, want %d", len(s.Parts), len(snapshot.PartNames()))
	}
	if s.Server.Major() < 13 || s.Server.Database != db.Name || !s.Server.Superuser || !s.Server.Local {
		t.Errorf("server: %+v", s.Server)
	}
	if s.Host == nil || s.Host.MemoryBytes <= 0 || s.Host.CPUs <= 0 {
		t.Errorf("a local server should have host facts: %+v", s.Host)
	}
	if len(s.Tables) != len(synth.TableNames()) {
		t.Fatalf("%d tables, want %d", len(s.Tables), len(synth.TableNames()))
	}
	claims := s.Table("public", "claims")
	if claims == nil || claims.RowEstimate < 5000 || claims.HeapBytes <= 0 || !claims.SizeExact || !claims.HasPrimaryKey {
		t.Fatalf("claims: %+v", claims)
	}
	if len(claims.Columns) != 18 || !claims.ColumnStatsKnown {
		t.Fatalf("claims columns: %d, stats known %v", len(claims.Columns), claims.ColumnStatsKnown)
	}
	for _, c := range claims.Columns {
		if c.AvgWidth == nil || c.NullFrac == nil {
			t.Errorf("claims.%s has no statistics after ANALYZE", c.Name)
		}
	}
	if n := len(s.TableIndexes("public", "claims")); n != 1 {
		t.Errorf("claims has %d indexes, want only its primary key", n)
	}
	fks := 0
	for _, k := range s.Constraints {
		if k.Type == "foreign" {
			fks++
			if !k.Validated || len(k.Columns) == 0 || k.RefTable == "" {
				t.Errorf("foreign key %s: %+v", k.Name, k)
			}
		}
	}
	if fks != 20 {
		t.Errorf("%d foreign keys, want 20", fks)
	}
	var claimSeq *snapshot.Sequence
	for i := range s.Sequences {
		if s.Sequences[i].OwnerTable == "public.claims" {
			claimSeq = &s.Sequences[i]
		}
	}
	if claimSeq == nil || claimSeq.OwnerColumn != "id" || claimSeq.ColumnType != "bigint" || !claimSeq.Readable {
		t.Fatalf("claims' identity sequence: %+v", claimSeq)
	}
	// Integer key ranges read through the index.
	payers := s.Table("public", "payers")
	if payers.Columns[0].MaxValue == nil || *payers.Columns[0].MaxValue != 30 {
		t.Errorf("payers.id max = %v, want 30", payers.Columns[0].MaxValue)
	}
	if !s.Workload.Available || len(s.Workload.Statements) == 0 || s.Workload.TotalCalls == 0 {
		t.Fatalf("workload: available=%v reason=%q statements=%d", s.Workload.Available, s.Workload.Reason, len(s.Workload.Statements))
	}
	found := false
	for _, st := range s.Workload.Statements {
		if strings.Contains(st.Query, "FROM patients WHERE mrn = $1") && st.Database == db.Name && st.Calls > 0 {
			found = true
		}
	}
	if !found {
		t.Error("the patient lookup is not among the statements")
	}
	if len(s.Roles) == 0 || s.Roles[0].PasswordKind == "" {
		t.Errorf("roles: %+v", s.Roles)
	}
	if s.Checkpoints == nil || s.Archiver == nil || s.WAL == nil {
		t.Errorf("checkpoints %v, archiver %v, wal %v", s.Checkpoints, s.Archiver, s.WAL)
	}
}

// A snapshot must never carry row values: take real values from the tables and look
// for them in the JSON.
func TestSnapshotHoldsNoRowValues(t *testing.T) {
	db := seeded(t)
	// A utility statement with a literal, which pg_stat_statements keeps verbatim.
	conn := db.Conn(t)
	ctx := context.Background()
	var mrn, ssn, last, email string
	if err := conn.QueryRow(ctx, "SELECT mrn, ssn, last_name, email FROM patients WHERE ssn IS NOT NULL AND email IS NOT NULL ORDER BY id LIMIT 1").Scan(&mrn, &ssn, &last, &email); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET app.current_patient = '"+mrn+"'"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT count(*) FROM patients WHERE ssn = '"+ssn+"'"); err != nil {
		t.Fatal(err)
	}
	s := collect(t, db.URI)
	var buf bytes.Buffer
	if err := snapshot.Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{mrn, ssn, email} {
		if strings.Contains(buf.String(), v) {
			t.Errorf("the snapshot contains the row value %q", v)
		}
	}
	// Column statistics carry widths and fractions, never most common values.
	if strings.Contains(buf.String(), "most_common") || strings.Contains(buf.String(), "histogram") {
		t.Error("the snapshot carries value statistics")
	}
}

func TestCollectAsMonitorRoleSaysUnknown(t *testing.T) {
	db := seeded(t)
	db.Exec(t, "DROP ROLE IF EXISTS monitor_only")
	db.Exec(t, "CREATE ROLE monitor_only LOGIN")
	db.Exec(t, "GRANT pg_monitor TO monitor_only")
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY monitor_only; DROP ROLE IF EXISTS monitor_only") })
	u, err := url.Parse(db.SocketURI)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("monitor_only")
	s := collect(t, u.String())
	if s.Server.Superuser {
		t.Fatal("collected as a superuser")
	}
	if len(s.Tables) != len(synth.TableNames()) {
		t.Fatalf("pg_monitor sees %d tables, want %d", len(s.Tables), len(synth.TableNames()))
	}
	if s.Table("public", "patients").ColumnStatsKnown {
		t.Error("column statistics should be unknown to a role that cannot read the table")
	}
	part, _ := s.Part("key_ranges")
	if part.Status != snapshot.PartPartial || !strings.Contains(part.Reason, "may not read") {
		t.Errorf("key_ranges: %+v", part)
	}
	part, _ = s.Part("roles")
	if part.Status != snapshot.PartPartial {
		t.Errorf("roles: %+v", part)
	}
	if !s.Workload.Available {
		t.Errorf("pg_monitor may read pg_stat_statements: %s", s.Workload.Reason)
	}
	for _, name := range []string{"settings", "tables", "indexes", "activity", "replication", "archiver", "checkpoints"} {
		if ok, why := s.Known(name); !ok {
			t.Errorf("%s unknown to pg_monitor: %s", name, why)
		}
	}
}

func TestWorkloadUnavailableWithoutExtension(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "DROP EXTENSION IF EXISTS pg_stat_statements")
	s := collect(t, db.URI)
	if s.Workload.Available || !strings.Contains(s.Workload.Reason, "not installed") {
		t.Fatalf("workload: %+v", s.Workload)
	}
}

func TestReadRefusesBadFiles(t *testing.T) {
	cases := map[string]string{
		"not json":        "this is not json",
		"empty":           "   ",
		"json, no format": `{"tables": []}`,
		"future version":  `{"format_version": 99}`,
	}
	for name, in := range cases {
		_, err := snapshot.Read(strings.NewReader(in))
		var fe *snapshot.FormatError
		if !errors.As(err, &fe) || fe.Hint == "" {
			t.Errorf("%s: want a FormatError with a hint, got %v", name, err)
		}
	}
	_, err := snapshot.Read(strings.NewReader(`{"format_version": 99}`))
	if !strings.Contains(err.Error(), "99") {
		t.Errorf("version error should name the version: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	db := pg.NewDB(t)
	s := collect(t, db.URI)
	var buf bytes.Buffer
	if err := snapshot.Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := snapshot.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(s)
	b, _ := json.Marshal(back)
	if !bytes.Equal(a, b) {
		t.Fatal("a snapshot changed on a JSON round trip")
	}
}

func TestScrubLiterals(t *testing.T) {
	cases := map[string]string{
		"SET application_name = 'MRN00012345'":                  "SET application_name = '?'",
		"SELECT * FROM patients WHERE ssn = '912-34-5678'":      "SELECT * FROM patients WHERE ssn = '?'",
		"SELECT * FROM t WHERE id = $1 AND x = 42":              "SELECT * FROM t WHERE id = $1 AND x = ?",
		"SELECT 'it''s' , E'a\\'b', 3.5e-2, col1 FROM t2":       "SELECT '?' , '?', ?, col1 FROM t2",
		`SELECT "Col 1" FROM "My 'Table'"`:                      `SELECT "Col 1" FROM "My 'Table'"`,
		"SELECT 1 /* patient 123 */ -- trailing 456\nFROM x":    "SELECT ?   \nFROM x",
		"DO $$BEGIN PERFORM 1; END$$":                           "DO '?'",
		"SELECT $tag$ secret $tag$, x FROM y":                   "SELECT '?', x FROM y",
		"SELECT a1, b_2 FROM t3 WHERE c4 IN (1, 2, 3) LIMIT $2": "SELECT a1, b_2 FROM t3 WHERE c4 IN (?, ?, ?) LIMIT $2",
		"SELECT X'1F', B'101', U&'d\\0061t' FROM t":             "SELECT '?', '?', '?' FROM t",
		"SELECT 0x1F, 1_000_000":                                "SELECT ?, ?",
	}
	if got := snapshot.ScrubStrings("SELECT a FROM t WHERE b = 'x' ORDER BY 1 LIMIT $1"); got != "SELECT a FROM t WHERE b = '?' ORDER BY 1 LIMIT $1" {
		t.Errorf("ScrubStrings: %q", got)
	}
	for in, want := range cases {
		if got := snapshot.ScrubLiterals(in); got != want {
			t.Errorf("ScrubLiterals(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestCollectPartsReadsOnlyThoseNamed(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE t (id int)")
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, db.SocketURI, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := snapshot.CollectParts(ctx, conn, snapshot.Options{}, "databases", "activity")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range s.Parts {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "server,databases,activity" {
		t.Errorf("parts = %v, want server,databases,activity", names)
	}
	if len(s.Tables) != 0 || len(s.Databases) == 0 || s.Server.VersionNum == 0 {
		t.Errorf("tables %d (want 0), databases %d, version %d", len(s.Tables), len(s.Databases), s.Server.VersionNum)
	}
	if _, err := snapshot.CollectParts(ctx, conn, snapshot.Options{}, "tabels"); err == nil || !strings.Contains(err.Error(), `"tabels"`) {
		t.Errorf("unknown part: %v", err)
	}
}
