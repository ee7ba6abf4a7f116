package partition_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pgmedic/pgmedic/partition"
)

// nineYears is an audit table partitioned by year over nine years, with names that lie
// about their bounds (retention must read the catalog), a default partition holding
// rows of a year that has no partition yet, and a monthly table without a default.
const nineYears = `
CREATE TABLE audit_events (id bigint GENERATED ALWAYS AS IDENTITY, occurred_on date NOT NULL, action text NOT NULL,
    PRIMARY KEY (id, occurred_on)) PARTITION BY RANGE (occurred_on);
CREATE TABLE audit_recent  PARTITION OF audit_events FOR VALUES FROM ('2017-01-01') TO ('2018-01-01');
CREATE TABLE audit_p2018   PARTITION OF audit_events FOR VALUES FROM ('2018-01-01') TO ('2019-01-01');
CREATE TABLE audit_p2019   PARTITION OF audit_events FOR VALUES FROM ('2019-01-01') TO ('2020-01-01');
CREATE TABLE audit_p2020   PARTITION OF audit_events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE audit_p2021   PARTITION OF audit_events FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE audit_p2022   PARTITION OF audit_events FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE audit_p2023   PARTITION OF audit_events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE audit_y2010   PARTITION OF audit_events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE audit_p2025   PARTITION OF audit_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE audit_p2026   PARTITION OF audit_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE audit_default PARTITION OF audit_events DEFAULT;
INSERT INTO audit_events (occurred_on, action) SELECT DATE '2017-01-01' + g % 3650, 'read' FROM generate_series(0, 20000) g;
INSERT INTO audit_events (occurred_on, action) SELECT DATE '2027-03-01' + g, 'read' FROM generate_series(0, 9) g;
CREATE TABLE visits (id bigint NOT NULL, seen_on date NOT NULL, PRIMARY KEY (id, seen_on)) PARTITION BY RANGE (seen_on);
CREATE TABLE visits_a PARTITION OF visits FOR VALUES FROM ('2018-11-01') TO ('2018-12-01');
CREATE TABLE visits_b PARTITION OF visits FOR VALUES FROM ('2018-12-01') TO ('2019-01-01');
CREATE TABLE visits_c PARTITION OF visits FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
INSERT INTO visits SELECT g, DATE '2018-11-01' + g % 60 FROM generate_series(1, 3000) g;
`

// Seven years' retention on nine years of data: exactly the partitions whose catalog
// bound is past it are detached (concurrently where no default partition exists),
// archived, restored into a scratch database and compared, then dropped; a legal hold
// keeps one; everything inside retention is untouched; future partitions are made
// ahead; and the default partition's rows of a year being premade are reported and
// moved into the new partition in the transaction that attaches it, none lost.
func TestMaintainRetention(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, nineYears)
	conn := writeConn(t, db)
	ctx := context.Background()
	before := map[string]int64{}
	for _, p := range []string{"audit_recent", "audit_p2018", "audit_p2019", "audit_y2010", "audit_default", "visits_a", "visits_b", "visits_c"} {
		before[p] = db.QueryInt64(t, "SELECT count(*) FROM "+p)
	}
	total := db.QueryInt64(t, "SELECT count(*) FROM audit_events")
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "archive.key")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := partition.MaintainOptions{Premake: 2, RetentionMonths: 84, LegalHolds: []string{"public.audit_p2018"},
		Archive: partition.ArchiveOptions{Dir: dir, DSN: db.URI, Recipients: []string{id.Recipient().String()}, IdentityFile: idFile},
		Now:     time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)}
	res, err := partition.Maintain(ctx, conn, o)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*partition.TableMaintenance{}
	for _, tm := range res.Tables {
		byName[tm.Parent] = tm
	}
	audit, visits := byName["public.audit_events"], byName["public.visits"]
	if audit == nil || visits == nil {
		t.Fatalf("tables found: %v", res.Tables)
	}
	if !slices.Equal(audit.Expired, []string{"audit_recent"}) || !slices.Equal(audit.Held, []string{"audit_p2018"}) {
		t.Fatalf("audit_events: expired %v, held %v; want [audit_recent] and [audit_p2018]", audit.Expired, audit.Held)
	}
	if !slices.Equal(visits.Expired, []string{"visits_a", "visits_b"}) {
		t.Fatalf("visits: expired %v", visits.Expired)
	}
	if audit.Interval != "year" || visits.Interval != "month" || !slices.Equal(audit.Create, []string{"audit_events_p2027", "audit_events_p2028"}) {
		t.Fatalf("premake: %s %v / %s %v", audit.Interval, audit.Create, visits.Interval, visits.Create)
	}
	if audit.DefaultRows != before["audit_default"] || audit.DefaultInRange == 0 {
		t.Fatalf("default partition: %d rows, %d in range; want %d rows, some in range", audit.DefaultRows, audit.DefaultInRange, before["audit_default"])
	}
	run, err := partition.RunMaintenance(ctx, conn, res, o, partition.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, s := range run.Steps {
		if s.Status == "failed" {
			failed = append(failed, s.Object)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("failed steps: %v: %+v", failed, run.Steps)
	}
	if audit.Moves["audit_events_p2027"] != before["audit_default"] {
		t.Errorf("moves out of the default partition: %v, want %d rows into audit_events_p2027", audit.Moves, before["audit_default"])
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_events_p2027"); n != before["audit_default"] || db.QueryInt64(t, "SELECT count(*) FROM audit_default") != 0 {
		t.Errorf("the default partition's 2027 rows did not move: %d in the new partition", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM audit_events"); n != total-before["audit_recent"] {
		t.Errorf("audit_events holds %d rows, want %d (all but the archived partition)", n, total-before["audit_recent"])
	}
	for _, gone := range []string{"audit_recent", "visits_a", "visits_b"} {
		if db.QueryInt64(t, "SELECT count(*) FROM pg_class WHERE relname = $1", gone) != 0 {
			t.Errorf("%s was not dropped", gone)
		}
	}
	for _, kept := range []string{"audit_p2018", "audit_p2019", "audit_y2010", "visits_c"} {
		if n := db.QueryInt64(t, "SELECT count(*) FROM "+kept); n != before[kept] {
			t.Errorf("%s holds %d rows, had %d", kept, n, before[kept])
		}
		if db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhrelid = $1::regclass", kept) != 1 {
			t.Errorf("%s is no longer attached", kept)
		}
	}
	for _, made := range []string{"audit_events_p2027", "audit_events_p2028", "visits_p2027_01", "visits_p2027_02"} {
		if db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass($1)", made) != 1 {
			t.Errorf("%s was not made ahead", made)
		}
	}
	checkArchive(t, dir, "audit_recent", before["audit_recent"])
	checkArchive(t, dir, "visits_a", before["visits_a"])
	if n := db.QueryInt64(t, "SELECT count(*) FROM pgmedic.partition_archives WHERE dropped_at IS NOT NULL"); n != 3 {
		t.Errorf("%d archives recorded as dropped, want 3", n)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgmedic_scratch%'"); n != 0 {
		t.Errorf("%d scratch database(s) left", n)
	}
}

func checkArchive(t *testing.T, dir, name string, rows int64) {
	t.Helper()
	matches, _ := filepathGlob(dir, "*/public."+name+".manifest.json")
	if len(matches) != 1 {
		t.Fatalf("manifest of %s: %v", name, matches)
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var m partition.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != m.SHA256 || m.Rows != rows || !m.RestoredOK || !m.Encrypted || m.CheckedFrom != "decrypted archive" {
		t.Errorf("archive of %s: %+v (file sha256 %x, rows wanted %d)", name, m, sum, rows)
	}
	if strings.HasPrefix(string(data), "PGDMP") {
		t.Errorf("the archive of %s is a plaintext dump", name)
	}
	if left, _ := filepathGlob(dir, "*/*.dump"); len(left) > 0 {
		t.Errorf("plaintext dumps left: %v", left)
	}
}

func filepathGlob(dir, pattern string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, pattern))
}

// A table pg_partman manages is recognised and handed to pg_partman's maintenance,
// which makes its partitions ahead; pgmedic makes none of its own for it.
func TestMaintainPartman(t *testing.T) {
	if !pg.HasExtension("pg_partman") {
		t.Skip("pg_partman is not installed (scripts/setup installs it)")
	}
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE events (id bigint NOT NULL, occurred_on date NOT NULL) PARTITION BY RANGE (occurred_on)")
	if v := db.QueryStrings(t, "SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'"); v[0] < "5" {
		db.Exec(t, "SELECT partman.create_parent('public.events', 'occurred_on', 'native', 'monthly', p_premake := 2)")
	} else {
		db.Exec(t, "SELECT partman.create_parent('public.events', 'occurred_on', '1 month', p_premake := 2)")
	}
	made := db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
	db.Exec(t, "UPDATE partman.part_config SET premake = 6, infinite_time_partitions = true WHERE parent_table = 'public.events'")
	conn := writeConn(t, db)
	ctx := context.Background()
	res, err := partition.Maintain(ctx, conn, partition.MaintainOptions{Premake: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tables) != 1 || res.Tables[0].Partman != "partman" || len(res.Tables[0].Create) != 0 || len(res.Plan.Steps) != 1 {
		t.Fatalf("maintenance of a pg_partman table: %+v %+v", res.Tables, res.Plan.Steps)
	}
	run, err := partition.RunMaintenance(ctx, conn, res, partition.MaintainOptions{}, partition.MigrateOptions{})
	if err != nil || run.Failed > 0 {
		t.Fatalf("run: %v %+v", err, run)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"); n <= made {
		t.Errorf("pg_partman made no partition ahead: %d before, %d after", made, n)
	}
}
