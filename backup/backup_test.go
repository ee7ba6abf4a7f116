package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func seeded(t *testing.T) *pgtest.DB {
	t.Helper()
	return pg.NewDBFromTemplate(t, "synth-0.01", func(ctx context.Context, db *pgtest.DB) error {
		return synth.LoadURI(ctx, db.SocketURI, synth.Options{Scale: 0.01, Seed: 5})
	})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func takeBackup(t *testing.T, db *pgtest.DB, dir string, key []byte) *Result {
	t.Helper()
	res, err := Run(ctxFor(t), Options{DSN: db.URI, Dir: dir, Key: key})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

func TestBackupVerifies(t *testing.T) {
	db := seeded(t)
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	m := res.Manifest

	// The manifest on disk is the one returned, and names the file's hash.
	side, err := ReadManifest(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum, size, err := FileSHA256(res.Path)
	if err != nil || side.SHA256 != sum || side.Bytes != size {
		t.Fatalf("manifest hash %s/%d, file %s/%d (%v)", side.SHA256, side.Bytes, sum, size, err)
	}
	if m.LSN == "" || m.Snapshot == "" || m.Server.Database != db.Name || m.KeyID != KeyID(key) {
		t.Fatalf("manifest lacks its origin: %+v", m.Server)
	}
	patients := db.QueryInt64(t, "SELECT count(*) FROM patients")
	if got := tableRows(m, "public", "patients"); got != patients || patients == 0 {
		t.Fatalf("manifest counts %d patients, the database has %d", got, patients)
	}

	// No row value, and not even the schema, is readable in the file.
	file, _ := os.ReadFile(res.Path)
	values := db.QueryStrings(t, "SELECT last_name FROM patients WHERE length(last_name) >= 6 LIMIT 20")
	values = append(values, db.QueryStrings(t, "SELECT ssn FROM patients WHERE ssn IS NOT NULL LIMIT 20")...)
	values = append(values, "CREATE TABLE", "patients", "PGDMP")
	for _, v := range values {
		if bytes.Contains(file, []byte(v)) {
			t.Fatalf("the backup file holds %q in plaintext", v)
		}
	}

	v, err := Verify(ctxFor(t), VerifyOptions{Path: res.Path, Key: key})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !v.OK || v.Tables != len(m.Tables) || v.Rows != m.Rows() || v.RestoreSeconds <= 0 || v.Amcheck.Indexes == 0 || v.Amcheck.Tables < len(m.Tables) {
		t.Fatalf("verification incomplete: %+v", v)
	}
	rec, err := ReadVerification(res.Path)
	if err != nil || !rec.OK || rec.SHA256 != sum {
		t.Fatalf("verification record: %+v %v", rec, err)
	}
	t.Logf("backup %d bytes (dump %d), %d tables, %d rows; restore %.2fs, amcheck %.2fs over %d tables and %d indexes",
		m.Bytes, m.DumpBytes, len(m.Tables), m.Rows(), v.RestoreSeconds, v.AmcheckSeconds, v.Amcheck.Tables, v.Amcheck.Indexes)
}

func tableRows(m *Manifest, schema, name string) int64 {
	for _, t := range m.Tables {
		if t.Schema == schema && t.Name == name {
			return t.Rows
		}
	}
	return -1
}

// TestBadCopiesAreRefused: a flipped byte, a cut, swapped records, a wrong key and a
// copy without its manifest; the last must still verify from its own trailer.
func TestBadCopiesAreRefused(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE notes (id bigserial PRIMARY KEY, body text);
		INSERT INTO notes (body) SELECT (SELECT string_agg(md5(i::text || '/' || j::text), '') FROM generate_series(1, 20) j) FROM generate_series(1, 10000) i`)
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	file, _ := os.ReadFile(res.Path)
	offs := records(file)
	if len(offs) < 3 {
		t.Fatalf("want a dump of several records, got %d", len(offs))
	}
	copyAs := func(name string, content []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(file)
	flipped[len(file)/2] ^= 0x40
	swapped := append(append(append(bytes.Clone(file[:offs[0]]), file[offs[1]:offs[2]]...), file[offs[0]:offs[1]]...), file[offs[2]:]...)
	cases := []struct {
		name string
		path string
		key  []byte
		want error
	}{
		{"flipped byte", copyAs("flipped.pgmb", flipped), key, ErrDamaged},
		{"truncated", copyAs("cut.pgmb", file[:len(file)-100]), key, ErrTruncated},
		{"cut at a record", copyAs("cut2.pgmb", file[:offs[len(offs)-1]]), key, ErrTruncated},
		{"swapped records", copyAs("swapped.pgmb", swapped), key, ErrDamaged},
		{"wrong key", res.Path, testKey(t), ErrWrongKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(ctxFor(t), VerifyOptions{Path: c.path, Key: c.key})
			var fe *FileError
			if !errors.Is(err, c.want) || !errors.As(err, &fe) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("want one line about %v, got %v", c.want, err)
			}
			if _, err := os.Stat(VerifiedPath(c.path)); err == nil {
				t.Fatal("a refused file must not get a verification record")
			}
		})
	}
	// The same bytes as the original, manifest-less: verified from the trailer.
	lone := copyAs("lone.pgmb", file)
	if v, err := Verify(ctxFor(t), VerifyOptions{Path: lone, Key: key}); err != nil || !v.OK || v.Rows != 10000 {
		t.Fatalf("an intact copy without its manifest must verify: %+v %v", v, err)
	}
	// An intact file whose manifest names another hash is refused.
	other := copyAs("other.pgmb", file)
	m := *res.Manifest
	m.SHA256 = strings.Repeat("0", 64)
	raw, _ := json.Marshal(m)
	os.WriteFile(ManifestPath(other), raw, 0o600)
	if _, err := Verify(ctxFor(t), VerifyOptions{Path: other, Key: key}); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("a file that does not match its manifest's hash must be refused, got %v", err)
	}
}

// TestSameSnapshot: rows written while the backup runs are in neither the dump nor the
// manifest, so the restored copy matches the manifest exactly.
func TestSameSnapshot(t *testing.T) {
	db := seeded(t)
	db.Exec(t, "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
	pool := db.Pool(t)
	stop := make(chan struct{})
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := pool.Exec(context.Background(), "INSERT INTO ticks DEFAULT VALUES; INSERT INTO claims SELECT * FROM claims LIMIT 0"); err != nil {
				done <- err
				return
			}
			written.Add(1)
		}
	}()
	for written.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after := db.QueryInt64(t, "SELECT count(*) FROM ticks")
	inBackup := tableRows(res.Manifest, "public", "ticks")
	if inBackup <= 0 || inBackup >= after {
		t.Fatalf("writes went on during the backup: want 0 < %d < %d", inBackup, after)
	}
	v, err := Verify(ctxFor(t), VerifyOptions{Path: res.Path, Key: key})
	if err != nil || !v.OK {
		t.Fatalf("a backup taken under writes must match its manifest: %v", err)
	}
}

// TestManifestMismatchIsFound re-seals a genuine dump with a trailer that claims one
// row more: the restore must disagree with it.
func TestManifestMismatchIsFound(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, "CREATE TABLE visits (id int PRIMARY KEY, note text); INSERT INTO visits SELECT i, 'v' || i FROM generate_series(1, 500) i")
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	f, _ := os.Open(res.Path)
	r, err := NewReader(f, key)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := io.ReadAll(r)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := *res.Manifest
	m.Tables = append([]TableStat(nil), m.Tables...)
	for i := range m.Tables {
		if m.Tables[i].Name == "visits" {
			m.Tables[i].Rows++
		}
	}
	trailer, _ := json.Marshal(m)
	forged := filepath.Join(t.TempDir(), "forged.pgmb")
	os.WriteFile(forged, seal(t, key, dump, trailer), 0o600)
	_, err = Verify(ctxFor(t), VerifyOptions{Path: forged, Key: key})
	var me *MismatchError
	if !errors.As(err, &me) || me.V.Mismatches[0].Table != `"public"."visits"` || me.V.Mismatches[0].RestoredRows != 500 {
		t.Fatalf("want a row-count mismatch on visits, got %v", err)
	}
	if rec, err := ReadVerification(forged); err != nil || rec.OK {
		t.Fatalf("a failed verification must be recorded as failed: %+v %v", rec, err)
	}
}

// TestPoliciesAndRestoreErrors: roles that row-security policies name are created
// for the restore, so the policies come back; an object that cannot be restored here
// (a user mapping for a role the backup does not carry) fails the verification with
// pg_restore's first error, after the data was compared.
func TestPoliciesAndRestoreErrors(t *testing.T) {
	db := pg.NewDB(t)
	suffix := strings.ToLower(strings.ReplaceAll(db.Name, "_", ""))
	clinician, mapped := "clinician_"+suffix, "mapped_"+suffix
	db.Exec(t, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+clinician+`') THEN CREATE ROLE `+clinician+` NOLOGIN; END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+mapped+`') THEN CREATE ROLE `+mapped+` NOLOGIN; END IF; END $$`)
	db.Exec(t, `CREATE TABLE charts (id int PRIMARY KEY, note text);
		INSERT INTO charts SELECT i, 'n' || i FROM generate_series(1, 300) i;
		ALTER TABLE charts ENABLE ROW LEVEL SECURITY;
		CREATE POLICY charts_read ON charts FOR SELECT TO `+clinician+` USING (true)`)
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	if len(res.Manifest.Roles) != 1 || res.Manifest.Roles[0] != clinician {
		t.Fatalf("the manifest must name the policy's role: %v", res.Manifest.Roles)
	}
	v, err := Verify(ctxFor(t), VerifyOptions{Path: res.Path, Key: key})
	if err != nil || !v.OK || v.RestoreErrors != 0 {
		t.Fatalf("a database with policies must verify: %v", err)
	}

	db.Exec(t, `CREATE EXTENSION IF NOT EXISTS postgres_fdw; CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw;
		CREATE USER MAPPING FOR `+mapped+` SERVER elsewhere`)
	res = takeBackup(t, db, dir, key)
	_, err = Verify(ctxFor(t), VerifyOptions{Path: res.Path, Key: key})
	var re *RestoreError
	if !errors.As(err, &re) || re.V.RestoreErrors == 0 || !strings.Contains(re.V.FirstRestoreError, "does not exist") || len(re.V.Mismatches) != 0 {
		t.Fatalf("want a restore error about the missing role, with the data matching; got %v", err)
	}
}

// TestUnusualSchemaVerifies: the content hash must come out the same on the restored
// copy for every kind of column and table a database may hold.
func TestUnusualSchemaVerifies(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE SCHEMA "Clinic Ops";
		CREATE TYPE visit_kind AS ENUM ('in person', 'video');
		CREATE DOMAIN positive_cents AS bigint CHECK (VALUE > 0);
		CREATE TABLE "Clinic Ops"."Odd ""Name""" (
			id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			kind visit_kind, price positive_cents, fee money, ratio float8, r4 real, n numeric(20,6),
			at timestamptz, d date, t time, span interval, tags text[], doc jsonb, raw bytea,
			rel regclass, who uuid, ip inet, big text, flag boolean,
			total numeric GENERATED ALWAYS AS (n * 2) STORED);
		INSERT INTO "Clinic Ops"."Odd ""Name""" (kind, price, fee, ratio, r4, n, at, d, t, span, tags, doc, raw, rel, who, ip, big, flag)
		SELECT (ARRAY['in person','video'])[1 + i % 2]::visit_kind, i + 1, (i * 1.25)::money,
			CASE i % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-Infinity'::float8 ELSE i / 7.0 END, (i / 3.0)::real, i / 9.0,
			'2026-03-01 08:00+05'::timestamptz + i * interval '37 min', '2026-01-01'::date + i, '08:00'::time + i * interval '1 min',
			i * interval '1 day 3 hours', ARRAY['a' || i, NULL, 'b,"c"'], jsonb_build_object('k', i, 'nested', jsonb_build_array(i, 'x')),
			decode(md5(i::text), 'hex'), 'pg_class'::regclass, md5(i::text)::uuid, '10.0.0.1'::inet + i,
			repeat(md5(i::text), 200), i % 3 = 0
		FROM generate_series(1, 2000) i;
		CREATE TABLE visits (id int, at date NOT NULL) PARTITION BY RANGE (at);
		CREATE TABLE visits_2026_01 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
		CREATE TABLE visits_2026_02 PARTITION OF visits FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
		INSERT INTO visits SELECT i, '2026-01-01'::date + i % 59 FROM generate_series(1, 3000) i;
		CREATE UNLOGGED TABLE scratch AS SELECT generate_series(1, 100) AS n;
		CREATE MATERIALIZED VIEW visit_counts AS SELECT at, count(*) FROM visits GROUP BY at;
		CREATE UNIQUE INDEX ON visit_counts (at);
		CREATE VIEW recent AS SELECT * FROM visits WHERE at > '2026-02-15'`)
	dir, key := t.TempDir(), testKey(t)
	res := takeBackup(t, db, dir, key)
	if n := tableRows(res.Manifest, "Clinic Ops", `Odd "Name"`); n != 2000 {
		t.Fatalf("the oddly named table: %d rows in the manifest", n)
	}
	if n := tableRows(res.Manifest, "public", "visits_2026_02"); n <= 0 {
		t.Fatalf("partitions are counted leaf by leaf: %d", n)
	}
	v, err := Verify(ctxFor(t), VerifyOptions{Path: res.Path, Key: key})
	if err != nil || !v.OK {
		t.Fatalf("verify: %v", err)
	}
}
