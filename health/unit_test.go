package health_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/health"
	"github.com/pgmedic/pgmedic/snapshot"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// base is a healthy snapshot with every part collected.
func base() *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		FormatVersion: snapshot.FormatVersion,
		CollectedAt:   now,
		Server: snapshot.Server{Version: "15.18", VersionNum: 150018, Database: "claims", User: "pgmedic",
			StartedAt: now.Add(-30 * 24 * time.Hour), BlockSize: 8192, Local: true},
		Host: &snapshot.Host{CPUs: 8, MemoryBytes: 32 << 30, Source: "local"},
		Settings: []snapshot.Setting{
			{Name: "max_connections", Value: "100"}, {Name: "superuser_reserved_connections", Value: "3"},
			{Name: "shared_buffers", Value: "1048576", Unit: "8kB"}, // 8 GB
			{Name: "effective_cache_size", Value: "2621440", Unit: "8kB"},
			{Name: "work_mem", Value: "16384", Unit: "kB"},
			{Name: "maintenance_work_mem", Value: "1048576", Unit: "kB"},
			{Name: "random_page_cost", Value: "1.1"},
			{Name: "checkpoint_completion_target", Value: "0.9"},
			{Name: "max_wal_size", Value: "4096", Unit: "MB"},
			{Name: "checkpoint_timeout", Value: "300", Unit: "s"},
			{Name: "autovacuum", Value: "on"}, {Name: "track_counts", Value: "on"},
			{Name: "autovacuum_freeze_max_age", Value: "200000000"},
			{Name: "autovacuum_multixact_freeze_max_age", Value: "400000000"},
			{Name: "shared_preload_libraries", Value: "pg_stat_statements"},
		},
		Databases:   []snapshot.Database{{Name: "claims", SizeBytes: 50 << 30, FrozenXIDAge: 1e6, MinMXIDAge: 1e5, BlksHit: 1e9, BlksRead: 1e6}},
		Checkpoints: &snapshot.Checkpoints{Timed: 1000, Requested: 10},
		Archiver:    &snapshot.Archiver{Mode: "on", Archived: 5000, ReadyFiles: ptr(1)},
		WAL:         &snapshot.WAL{Bytes: 1 << 30},
		Workload:    snapshot.Workload{Available: true, TotalTimeMs: 1e6},
	}
	for _, p := range snapshot.PartNames() {
		s.Parts = append(s.Parts, snapshot.Part{Name: p, Status: snapshot.PartOK})
	}
	return s
}

func setting(s *snapshot.Snapshot, name, value, unit string) {
	for i := range s.Settings {
		if s.Settings[i].Name == name {
			s.Settings[i].Value, s.Settings[i].Unit = value, unit
			return
		}
	}
	s.Settings = append(s.Settings, snapshot.Setting{Name: name, Value: value, Unit: unit})
}

func runOn(t *testing.T, s *snapshot.Snapshot, overrides ...string) []finding.Finding {
	t.Helper()
	fs, err := health.Run(s, health.Options{Config: profile(t, overrides...), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func has(fs []finding.Finding, check string) *finding.Finding { return find(fs, check, "") }

func TestBaseSnapshotIsQuiet(t *testing.T) {
	for _, f := range runOn(t, base()) {
		if f.Check != "storage.database_size" {
			t.Errorf("unexpected finding on a healthy snapshot: %s %s (%s)", f.Check, f.Title, f.Status)
		}
	}
}

func TestConnectionSaturation(t *testing.T) {
	s := base()
	for i := 0; i < 85; i++ {
		s.Sessions = append(s.Sessions, snapshot.Session{PID: 1000 + i, BackendType: "client backend", State: "idle", User: "app", Database: "claims"})
	}
	f := has(runOn(t, s), "connections.saturation")
	if f == nil || f.Severity != finding.High {
		t.Fatalf("86 of 97 connections: %+v", f)
	}
	for i := 0; i < 10; i++ {
		s.Sessions = append(s.Sessions, snapshot.Session{PID: 2000 + i, BackendType: "client backend", State: "active"})
	}
	if f := has(runOn(t, s), "connections.saturation"); f == nil || f.Severity != finding.Critical {
		t.Fatalf("96 of 97 connections should be critical: %+v", f)
	}
}

func TestLongRunningAndLongTransaction(t *testing.T) {
	s := base()
	s.Sessions = []snapshot.Session{
		{PID: 11, BackendType: "client backend", State: "active", User: "report", Database: "claims", Command: "SELECT",
			QueryStart: ptr(now.Add(-15 * time.Minute)), XactStart: ptr(now.Add(-2 * time.Hour)), QueryID: ptr(int64(77))},
		{PID: 12, BackendType: "client backend", State: "active", QueryStart: ptr(now.Add(-2 * time.Second)), XactStart: ptr(now.Add(-2 * time.Second))},
	}
	s.Workload.Statements = []snapshot.Statement{{QueryID: 77, Query: "SELECT * FROM claims WHERE status = $1", Database: "claims"}}
	fs := runOn(t, s)
	lr := find(fs, "sessions.long_running_query", "pid 11")
	if lr == nil || lr.Severity != finding.High || !strings.Contains(lr.Detail, "FROM claims") {
		t.Fatalf("long-running: %+v", lr)
	}
	if find(fs, "sessions.long_running_query", "pid 12") != nil {
		t.Error("a 2-second statement reported as long-running")
	}
	if f := find(fs, "sessions.long_transaction", "pid 11"); f == nil || f.Severity != finding.High {
		t.Errorf("two-hour transaction: %+v", f)
	}
}

func TestDeadlocksRateWithBaseline(t *testing.T) {
	s := base()
	s.Databases[0].Deadlocks = 50
	prev := base()
	prev.CollectedAt = now.Add(-10 * time.Hour)
	prev.Databases[0].Deadlocks = 10
	fs, err := health.Run(s, health.Options{Config: profile(t), Baseline: prev, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f := has(fs, "locks.deadlocks")
	if f == nil || f.Severity != finding.Medium {
		t.Fatalf("40 deadlocks in 10 h: %+v", f)
	}
	if v, _ := f.EvidenceValue("deadlocks"); v != 40 {
		t.Errorf("deadlocks = %v, want the 40 since the baseline", v)
	}
}

func TestCacheSeqScansDeadAndStale(t *testing.T) {
	s := base()
	s.Tables = []snapshot.Table{
		{Schema: "public", Name: "patients", Kind: "table", RowEstimate: 1e6, LiveTuples: 1e6, SeqScan: 5000, SeqTupRead: 5e9, IdxScan: 100,
			HeapBlksHit: 9e5, HeapBlksRead: 1e5, HasPrimaryKey: true, LastAutoanalyze: ptr(now.Add(-time.Hour)),
			Columns: []snapshot.Column{{Name: "id", Type: "bigint"}, {Name: "mrn", Type: "text"}, {Name: "ssn", Type: "text"}, {Name: "date_of_birth", Type: "date"}}},
		{Schema: "public", Name: "claims", Kind: "table", RowEstimate: 2e6, LiveTuples: 2e6, DeadTuples: 9e5, HasPrimaryKey: true,
			ModSinceAnalyze: 8e5, LastAutoanalyze: ptr(now.Add(-72 * time.Hour)),
			Columns: []snapshot.Column{{Name: "id", Type: "bigint"}, {Name: "patient_id", Type: "bigint"}, {Name: "date_of_service", Type: "date"}, {Name: "billed_amount", Type: "numeric"}}},
		{Schema: "public", Name: "lookup", Kind: "table", RowEstimate: 5000, LiveTuples: 5000, HasPrimaryKey: true},
	}
	fs := runOn(t, s)
	if f := find(fs, "cache.hit_ratio", "tables"); f == nil {
		t.Error("a 90% table hit ratio should be reported")
	}
	seq := find(fs, "tables.seq_scan_heavy", "patients")
	if seq == nil || !seq.PHI || seq.Severity != finding.High {
		t.Fatalf("sequential scans on patients should be raised to high and marked PHI: %+v", seq)
	}
	if f := find(fs, "vacuum.dead_tuples", "claims"); f == nil || f.Fix == nil || !strings.Contains(f.Fix.SQL(), `VACUUM (ANALYZE) "public"."claims"`) {
		t.Errorf("dead tuples on claims: %+v", f)
	}
	if f := find(fs, "vacuum.stale_statistics", "claims"); f == nil {
		t.Error("claims changed 40% since its analyse three days ago")
	}
	if f := find(fs, "vacuum.stale_statistics", "lookup"); f == nil || !strings.Contains(f.Title, "never") {
		t.Errorf("lookup was never analysed: %+v", f)
	}
}

func TestTableBloatEstimate(t *testing.T) {
	s := base()
	w := func(n int) *int { return &n }
	nf := ptr(0.0)
	// 1,000,000 rows of about 100 bytes fit in about 13,700 pages; give it 40,000.
	s.Tables = []snapshot.Table{{Schema: "public", Name: "claims", Kind: "table", RowEstimate: 1e6, Pages: 40000, HeapBytes: 40000 * 8192,
		FillFactor: 100, ColumnStatsKnown: true, HasPrimaryKey: true, LastAutoanalyze: ptr(now),
		Columns: []snapshot.Column{{Name: "id", AvgWidth: w(8), NullFrac: nf, NotNull: true}, {Name: "patient_id", AvgWidth: w(8), NullFrac: nf, NotNull: true},
			{Name: "payload", AvgWidth: w(80), NullFrac: nf, NotNull: true}}}}
	f := has(runOn(t, s), "bloat.table")
	if f == nil {
		t.Fatal("a table three times its expected size should be reported")
	}
	if v, _ := f.EvidenceValue("bloat_pct"); v < 60 || v > 70 {
		t.Errorf("bloat_pct = %v, want about 65", v)
	}
	if f.Severity != finding.High {
		t.Errorf("bloat on claims should be raised: %s", f.Severity)
	}
	// Without readable column statistics the estimate is unknown, not zero.
	s.Tables[0].ColumnStatsKnown = false
	var unknown *finding.Finding
	for _, x := range runOn(t, s) {
		if x.Check == "bloat.table" && x.Status == finding.Unknown {
			unknown = &x
		}
	}
	if unknown == nil {
		t.Fatal("bloat without column statistics should be unknown")
	}
}

func TestWraparoundLevels(t *testing.T) {
	for _, tc := range []struct {
		age  int64
		want finding.Severity
		ok   bool
	}{{1e8, 0, false}, {3.5e8, finding.Medium, true}, {1.2e9, finding.High, true}, {1.6e9, finding.Critical, true}} {
		s := base()
		s.Databases[0].FrozenXIDAge = tc.age
		f := has(runOn(t, s), "wraparound.xid")
		if (f != nil) != tc.ok || (f != nil && f.Severity != tc.want) {
			t.Errorf("age %d: got %+v, want severity %s reported=%v", tc.age, f, tc.want, tc.ok)
		}
	}
}

func TestCheckpointsArchivingAndReplication(t *testing.T) {
	s := base()
	s.Checkpoints = &snapshot.Checkpoints{Timed: 10, Requested: 90}
	s.Archiver = &snapshot.Archiver{Mode: "on", Failed: 3, Archived: 100, LastArchivedTime: ptr(now.Add(-time.Hour)), LastFailedTime: ptr(now.Add(-time.Minute)), ReadyFiles: ptr(250)}
	s.Replication.Replicas = []snapshot.Replica{{Application: "replica1", State: "streaming", SyncState: "async", ReplayLagSeconds: ptr(120.0)}}
	fs := runOn(t, s)
	if f := has(fs, "checkpoints.requested"); f == nil || f.Fix == nil || !strings.Contains(f.Fix.SQL(), "max_wal_size = '8192MB'") {
		t.Errorf("requested checkpoints: %+v", f)
	}
	if f := find(fs, "wal.archiving", "server"); f == nil || !strings.Contains(f.Title, "failing") {
		t.Errorf("failing archiver: %+v", f)
	}
	if f := find(fs, "wal.archiving", "backlog"); f == nil {
		t.Error("250 ready WAL files should be reported")
	}
	if f := has(fs, "replication.lag"); f == nil || !strings.Contains(f.Object, "replica1") {
		t.Errorf("replica lag: %+v", f)
	}
}

func TestStatements(t *testing.T) {
	s := base()
	s.Tables = []snapshot.Table{{Schema: "public", Name: "patients", Kind: "table", HasPrimaryKey: true, LastAutoanalyze: ptr(now),
		Columns: []snapshot.Column{{Name: "mrn", Type: "text"}, {Name: "date_of_birth", Type: "date"}, {Name: "last_name", Type: "text"}}}}
	s.Workload.Statements = []snapshot.Statement{
		{QueryID: 1, Database: "claims", Query: "SELECT * FROM patients WHERE lower(last_name) = $1", Calls: 100, MeanExecMs: 800, MaxExecMs: 4000, TotalExecMs: 80000, TopLevel: true},
		{QueryID: 2, Database: "claims", Query: "SELECT count(*) FROM audit_export", Calls: 10, MeanExecMs: 3000, MaxExecMs: 3500, TotalExecMs: 30000, TopLevel: true},
		{QueryID: 3, Database: "claims", Query: "SELECT 1", Calls: 1000, MeanExecMs: 0.01, TopLevel: true},
		{QueryID: 4, Database: "other", Query: "SELECT pg_sleep($1)", Calls: 10, MeanExecMs: 9000, TopLevel: true},
	}
	fs := runOn(t, s)
	if f := find(fs, "statements.slow", "query 1"); f == nil || f.Severity != finding.High || !f.PHI {
		t.Errorf("patient statement over 2 s: %+v", f)
	}
	if f := find(fs, "statements.slow", "query 2"); f == nil || f.Severity != finding.Medium {
		t.Errorf("3 s mean statement: %+v", f)
	}
	if find(fs, "statements.slow", "query 3") != nil || find(fs, "statements.slow", "query 4") != nil {
		t.Error("a fast statement or another database's statement was reported")
	}
	s.Workload = snapshot.Workload{Reason: "the pg_stat_statements extension is not installed in this database"}
	setting(s, "shared_preload_libraries", "pgaudit", "")
	f := has(runOn(t, s), "statements.unavailable")
	if f == nil || f.Fix == nil || !strings.Contains(f.Fix.SQL(), "shared_preload_libraries = 'pgaudit,pg_stat_statements'") ||
		!strings.Contains(f.Fix.SQL(), "CREATE EXTENSION IF NOT EXISTS pg_stat_statements") {
		t.Fatalf("unavailable: %+v", f)
	}
}

func TestSettingsAgainstMemory(t *testing.T) {
	s := base()
	setting(s, "shared_buffers", "16384", "8kB")        // 128 MB of 32 GB
	setting(s, "effective_cache_size", "524288", "8kB") // 4 GB
	setting(s, "maintenance_work_mem", "65536", "kB")   // 64 MB
	setting(s, "random_page_cost", "4", "")
	setting(s, "checkpoint_completion_target", "0.5", "")
	setting(s, "work_mem", "1048576", "kB") // 1 GB × 100 connections > 32 GB
	fs := runOn(t, s)
	want := map[string]string{
		"settings.shared_buffers":       "shared_buffers = '8GB'",
		"settings.effective_cache_size": "effective_cache_size = '",
		"settings.maintenance_work_mem": "maintenance_work_mem = '1638MB'",
		"settings.random_page_cost":     "random_page_cost = '1.1'",
		"settings.wal_sizing":           "checkpoint_completion_target = '0.9'",
		"settings.work_mem":             "work_mem = '81MB'",
	}
	for check, sql := range want {
		f := has(fs, check)
		if f == nil || f.Fix == nil || !strings.Contains(f.Fix.SQL(), sql) {
			t.Errorf("%s: want a fix containing %q, got %+v", check, sql, f)
		}
	}
	if f := has(fs, "settings.work_mem"); f != nil && f.Severity != finding.Medium {
		t.Errorf("work_mem × connections over memory should be medium: %s", f.Severity)
	}
	// A remote server with no --server-memory: the memory checks cannot decide.
	s.Host = nil
	unknown := 0
	for _, f := range runOn(t, s) {
		if f.Status == finding.Unknown && strings.HasPrefix(f.Check, "settings.") {
			unknown++
			if !strings.Contains(f.Detail, "--server-memory") {
				t.Errorf("unknown should say how to decide: %s", f.Detail)
			}
		}
	}
	if unknown != 4 {
		t.Errorf("%d memory checks unknown without the host's memory, want 4", unknown)
	}
}

func TestGrowthNeedsBaseline(t *testing.T) {
	s := base()
	s.Tables = []snapshot.Table{{Schema: "public", Name: "audit_logs", Kind: "table", TotalBytes: 20 << 30, HasPrimaryKey: true, LastAutoanalyze: ptr(now)}}
	if has(runOn(t, s), "storage.growth") != nil {
		t.Fatal("growth reported without a baseline")
	}
	prev := base()
	prev.CollectedAt = now.Add(-7 * 24 * time.Hour)
	prev.Tables = []snapshot.Table{{Schema: "public", Name: "audit_logs", TotalBytes: 10 << 30}}
	fs, err := health.Run(s, health.Options{Config: profile(t), Baseline: prev, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f := has(fs, "storage.growth")
	if f == nil {
		t.Fatal("doubling in a week should be reported")
	}
	if v, _ := f.EvidenceValue("growth_pct"); v != 100 {
		t.Errorf("growth_pct = %v", v)
	}
}

func TestOverridesAndUnknownParts(t *testing.T) {
	s := base()
	// Disabled checks do not run; severities can be changed.
	p := profile(t)
	p.Checks.Disabled = []string{"storage.database_size"}
	fs, err := health.Run(s, health.Options{Config: p, Now: now})
	if err != nil || len(fs) != 0 {
		t.Fatalf("disabled check still ran: %v %v", fs, err)
	}
	for _, bad := range [][]string{{"nope.check=1"}, {"locks.blocking.nope=1"}, {"locks.blocking.min_wait_seconds=abc"}} {
		p := profile(t, bad...)
		if _, err := health.Run(s, health.Options{Config: p}); err == nil {
			t.Errorf("override %v accepted", bad)
		}
	}
	p = profile(t)
	p.Checks.Disabled = []string{"no.such.check"}
	if _, err := health.Run(s, health.Options{Config: p}); err == nil || !strings.Contains(err.Error(), "no.such.check") {
		t.Errorf("unknown disabled check: %v", err)
	}
	// A part that could not be collected makes its checks unknown, never a pass.
	s.Parts[0].Status = snapshot.PartOK
	for i := range s.Parts {
		if s.Parts[i].Name == "activity" {
			s.Parts[i].Status, s.Parts[i].Reason = snapshot.PartUnknown, "permission denied"
		}
	}
	fs = runOn(t, s)
	for _, check := range []string{"connections.saturation", "sessions.idle_in_transaction", "locks.blocking"} {
		var f *finding.Finding
		for i := range fs {
			if fs[i].Check == check && fs[i].Status == finding.Unknown {
				f = &fs[i]
			}
		}
		if f == nil || !strings.Contains(f.Detail, "permission denied") {
			t.Errorf("%s should be unknown with the reason: %+v", check, f)
		}
	}
}

func TestEveryCheckIsDeclaredCompletely(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range health.Checks() {
		if seen[c.ID] {
			t.Errorf("duplicate check id %s", c.ID)
		}
		seen[c.ID] = true
		if c.Area == "" || c.Title == "" || c.Description == "" || c.Run == nil || len(c.References) == 0 || len(c.Needs) == 0 {
			t.Errorf("check %s is incompletely declared", c.ID)
		}
	}
	if len(seen) < 30 {
		t.Errorf("only %d checks", len(seen))
	}
}
