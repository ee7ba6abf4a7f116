package health_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// withBackups is the healthy snapshot with healthy backup evidence: verified two days
// ago, a 10 GB restore in 10 minutes (50 GB now: 50 minutes projected), nothing
// unarchived.
func withBackups() *snapshot.Snapshot {
	s := base()
	s.Settings = append(s.Settings, snapshot.Setting{Name: "archive_timeout", Value: "60", Unit: "s"})
	s.Backups = &snapshot.Backups{Gathered: now, Sources: []string{"directory /backups"},
		LastVerified: ptr(now.Add(-48 * time.Hour)), RestoreSeconds: 600, RestoredBytes: 10 << 30, RPOSeconds: ptr(0.0)}
	return s
}

func TestBackupChecksQuietWhenHealthy(t *testing.T) {
	for _, f := range runOn(t, withBackups()) {
		if strings.HasPrefix(f.Check, "backup.") {
			t.Errorf("unexpected %s: %s (%s)", f.Check, f.Title, f.Status)
		}
	}
}

func TestBackupChecks(t *testing.T) {
	cases := []struct {
		name      string
		change    func(s *snapshot.Snapshot)
		overrides []string
		check     string
		object    string
		status    finding.Status
	}{
		{"never verified", func(s *snapshot.Snapshot) { s.Backups.LastVerified = nil; s.Backups.RestoreSeconds = 0 }, nil, "backup.restore", "", finding.Open},
		{"verified too long ago", func(s *snapshot.Snapshot) { s.Backups.LastVerified = ptr(now.Add(-10 * 24 * time.Hour)) }, nil, "backup.restore", "verified", finding.Open},
		{"restore slower than the RTO at today's size", func(s *snapshot.Snapshot) { s.Backups.RestoreSeconds = 3600 }, nil, "backup.restore", "rto", finding.Open},
		{"a tighter RTO from the configuration", func(s *snapshot.Snapshot) {}, []string{"backup.restore.rto_target_seconds=1800"}, "backup.restore", "rto", finding.Open},
		{"archive lag beyond the RPO", func(s *snapshot.Snapshot) { s.Backups.RPOSeconds = ptr(1800.0) }, nil, "backup.rpo", "", finding.Open},
		{"archive_timeout never forces a switch", func(s *snapshot.Snapshot) { s.Settings[len(s.Settings)-1].Value = "0" }, nil, "backup.rpo", "server/archive_timeout", finding.Open},
		{"evidence unreadable", func(s *snapshot.Snapshot) { s.Backups.Problems = []string{"pgbackrest info failed"} }, nil, "backup.rpo", "", finding.Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := withBackups()
			c.change(s)
			var got *finding.Finding
			fs := runOn(t, s, c.overrides...)
			for i := range fs {
				if fs[i].Check == c.check && fs[i].Status == c.status && fs[i].Object == c.object {
					got = &fs[i]
				}
			}
			if got == nil {
				t.Fatalf("want %s %s on %q, got %v", c.check, c.status, c.object, fs)
			}
		})
	}
	// Archiving off: wal.archiving says so; the RPO check does not pile on.
	s := withBackups()
	s.Archiver.Mode = "off"
	s.Backups.RPOSeconds = nil
	for _, f := range runOn(t, s) {
		if f.Check == "backup.rpo" {
			t.Errorf("backup.rpo with archiving off: %s", f.Title)
		}
	}
}
