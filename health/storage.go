package health

import (
	"fmt"
	"math"
	"sort"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
)

func storageChecks() []Check {
	return []Check{
		{
			ID: "storage.database_size", Area: "storage", Severity: finding.Info,
			Title:       "Database size",
			Description: "The database's size and its largest tables, for the record; growth is reported when an earlier snapshot is given.",
			Needs:       []string{"databases", "tables"},
			References:  []finding.Reference{finding.DocsRef("functions-admin.html#FUNCTIONS-ADMIN-DBSIZE", "Database Object Size Functions")},
			Run:         checkDatabaseSize,
		},
		{
			ID: "storage.growth", Area: "storage", Severity: finding.Low,
			Title:       "Fast-growing tables",
			Description: "Tables that grew by more than the threshold between an earlier snapshot (--baseline) and this one.",
			Needs:       []string{"tables"},
			Thresholds: []Threshold{
				{Name: "min_growth_pct", Default: 10, Unit: "%"},
				{Name: "min_growth_bytes", Default: 100 << 20, Unit: "bytes"},
			},
			References: []finding.Reference{finding.DocsRef("diskusage.html", "Monitoring Disk Usage")},
			Run:        checkGrowth,
		},
		{
			ID: "tempfiles.volume", Area: "memory", Severity: finding.Low,
			Title:       "Temporary file volume",
			Description: "Sorts and hashes that did not fit in work_mem and spilled to disk in this database.",
			Needs:       []string{"databases"},
			Thresholds: []Threshold{
				{Name: "min_bytes_per_day", Default: 1 << 30, Unit: "bytes"},
				{Name: "medium_bytes_per_day", Default: 10 << 30, Unit: "bytes"},
			},
			References: []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-WORK-MEM", "work_mem")},
			Run:        checkTempFiles,
		},
		{
			ID: "checkpoints.requested", Area: "wal", Severity: finding.Medium,
			Title:       "Checkpoints forced by WAL volume",
			Description: "Checkpoints requested because max_wal_size filled up, rather than timed ones: each brings a burst of writes and full-page images.",
			Needs:       []string{"checkpoints", "settings"},
			Thresholds: []Threshold{
				{Name: "max_requested_pct", Default: 50, Unit: "%"},
				{Name: "min_checkpoints", Default: 10},
			},
			References: []finding.Reference{finding.DocsRef("wal-configuration.html", "WAL Configuration")},
			Run:        checkCheckpoints,
		},
		{
			ID: "wal.archiving", Area: "wal", Severity: finding.High,
			Title:       "WAL archiving failures and backlog",
			Description: "Archiving that fails or falls behind breaks point-in-time recovery and fills the WAL directory.",
			Needs:       []string{"archiver"},
			Thresholds:  []Threshold{{Name: "max_ready_files", Default: 20}},
			References:  []finding.Reference{finding.DocsRef("continuous-archiving.html", "Continuous Archiving and Point-in-Time Recovery"), finding.HIPAARef(finding.Integrity)},
			Run:         checkArchiving,
		},
	}
}

func checkDatabaseSize(c *Context) []finding.Finding {
	db := c.Snap.ThisDatabase()
	if db == nil || db.SizeBytes < 0 {
		return []finding.Finding{c.Unknown("", "the database size is not readable")}
	}
	tables := append([]int(nil), make([]int, 0)...)
	for i := range c.Snap.Tables {
		tables = append(tables, i)
	}
	sort.Slice(tables, func(a, b int) bool { return c.Snap.Tables[tables[a]].TotalBytes > c.Snap.Tables[tables[b]].TotalBytes })
	f := c.New(db.Name, fmt.Sprintf("Database %s is %s", db.Name, bytesHuman(db.SizeBytes)))
	f.Evidence = []finding.Evidence{ev("size_bytes", float64(db.SizeBytes), "bytes"), ev("tables", float64(len(c.Snap.Tables)), "")}
	detail := "Largest tables:"
	for k := 0; k < len(tables) && k < 5; k++ {
		t := c.Snap.Tables[tables[k]]
		detail += fmt.Sprintf(" %s.%s %s;", t.Schema, t.Name, bytesHuman(t.TotalBytes))
	}
	f.Detail = detail
	if c.Baseline != nil {
		if prev := c.Baseline.ThisDatabase(); prev != nil && prev.SizeBytes > 0 {
			days := c.Snap.CollectedAt.Sub(c.Baseline.CollectedAt).Hours() / 24
			grew := db.SizeBytes - prev.SizeBytes
			f.Evidence = append(f.Evidence, ev("growth_bytes", float64(grew), "bytes"), ev("window_days", round1(days), "d"))
			if days > 0 {
				f.Evidence = append(f.Evidence, ev("growth_bytes_per_day", math.Round(float64(grew)/days), "bytes"))
			}
		}
	}
	return []finding.Finding{*f}
}

func checkGrowth(c *Context) []finding.Finding {
	if c.Baseline == nil {
		return nil // nothing to compare with; not a gap in the data
	}
	days := c.Snap.CollectedAt.Sub(c.Baseline.CollectedAt).Hours() / 24
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		prev := c.Baseline.Table(t.Schema, t.Name)
		if prev == nil || prev.TotalBytes <= 0 {
			continue
		}
		grew := t.TotalBytes - prev.TotalBytes
		p := pct(float64(grew), float64(prev.TotalBytes))
		if float64(grew) < c.T("min_growth_bytes") || p < c.T("min_growth_pct") {
			continue
		}
		f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s grew %s (%.0f%%) in %.1f days", t.Schema, t.Name, bytesHuman(grew), p, days))
		f.Severity = finding.Low
		f.Evidence = []finding.Evidence{ev("growth_bytes", float64(grew), "bytes"), ev("growth_pct", round1(p), "%"), ev("window_days", round1(days), "d")}
		if days > 0 {
			f.Evidence = append(f.Evidence, ev("bytes_per_day", math.Round(float64(grew)/days), "bytes"))
		}
		f.Recommendation = "Check it has room to grow; time-ordered tables this size (claims, audit logs) are candidates for partitioning ('pgmedic partition plan') and retention."
		out = append(out, *f)
	}
	return out
}

func checkTempFiles(c *Context) []finding.Finding {
	db := c.Snap.ThisDatabase()
	if db == nil {
		return []finding.Finding{c.Unknown("", "the current database's statistics are not readable")}
	}
	since := c.Snap.Server.StartedAt
	if db.StatsReset != nil {
		since = *db.StatsReset
	}
	bytes := float64(db.TempBytes)
	days := c.Now.Sub(since).Hours() / 24
	if c.Baseline != nil {
		if prev := c.Baseline.ThisDatabase(); prev != nil && prev.TempBytes <= db.TempBytes {
			bytes = float64(db.TempBytes - prev.TempBytes)
			days = c.Snap.CollectedAt.Sub(c.Baseline.CollectedAt).Hours() / 24
		}
	}
	if days < 1.0/24 {
		days = 1.0 / 24 // under an hour of data: do not extrapolate wildly
	}
	perDay := bytes / days
	if perDay < c.T("min_bytes_per_day") {
		return nil
	}
	f := c.New(db.Name, fmt.Sprintf("%s of temporary files a day", bytesHuman(int64(perDay))))
	if perDay >= c.T("medium_bytes_per_day") {
		f.Severity = finding.Medium
	}
	f.Evidence = []finding.Evidence{ev("temp_bytes", bytes, "bytes"), ev("temp_files", float64(db.TempFiles), ""), ev("bytes_per_day", math.Round(perDay), "bytes")}
	// Name the statements that spill most.
	type spill struct {
		q string
		b int64
	}
	var spills []spill
	for _, st := range c.Snap.Workload.Statements {
		if st.Database == db.Name && st.TempBlksWritten > 0 {
			spills = append(spills, spill{st.Query, st.TempBlksWritten * int64(c.Snap.Server.BlockSize)})
		}
	}
	sort.Slice(spills, func(i, j int) bool { return spills[i].b > spills[j].b })
	if len(spills) > 0 {
		f.Detail = "Statements writing the most temporary data:"
		for k := 0; k < len(spills) && k < 3; k++ {
			f.Detail += fmt.Sprintf(" [%s] %s;", bytesHuman(spills[k].b), display.Shorten(spills[k].q, 120))
		}
	}
	f.Recommendation = "Raise work_mem for the roles or statements that spill (SET LOCAL work_mem in a reporting transaction), rather than globally; or give those statements an index that avoids the sort."
	return []finding.Finding{*f}
}

func checkCheckpoints(c *Context) []finding.Finding {
	cp := c.Snap.Checkpoints
	total := float64(cp.Timed + cp.Requested)
	if total < c.T("min_checkpoints") {
		return nil
	}
	p := pct(float64(cp.Requested), total)
	if p <= c.T("max_requested_pct") {
		return nil
	}
	f := c.New("server", fmt.Sprintf("%.0f%% of checkpoints were forced by WAL volume", p))
	f.Evidence = []finding.Evidence{ev("requested", float64(cp.Requested), ""), ev("timed", float64(cp.Timed), ""), ev("requested_pct", round1(p), "%")}
	current := "1GB"
	if st, ok := c.Snap.Setting("max_wal_size"); ok {
		current = st.Value + st.Unit
		if mb, err := parseMB(st.Value, st.Unit); err == nil {
			next := mb * 2
			if next < 2048 {
				next = 2048
			}
			f.Fix = &finding.Plan{Summary: "Let more WAL accumulate between checkpoints", Steps: []finding.Step{
				{Description: "raise max_wal_size", SQL: fmt.Sprintf("ALTER SYSTEM SET max_wal_size = '%dMB'", int64(next)), NoTransaction: true},
				{Description: "apply without a restart", SQL: "SELECT pg_reload_conf()"},
			}}
		}
	}
	f.Detail = "max_wal_size is " + current + "; write bursts fill it before checkpoint_timeout."
	f.Recommendation = "Raise max_wal_size so that checkpoints are timed; check the WAL volume has room for it."
	return []finding.Finding{*f}
}

func checkArchiving(c *Context) []finding.Finding {
	a := c.Snap.Archiver
	if a.Mode == "off" {
		f := c.New("server", "WAL archiving is off: no point-in-time recovery")
		f.Severity = finding.Low
		f.Detail = "Without archived WAL, a restore can only go back to the last full backup."
		f.Recommendation = "Archive WAL (pgBackRest, WAL-G or Barman) to meet a recovery point objective such as 15 minutes, and verify restores ('pgmedic backup verify')."
		return []finding.Finding{*f}
	}
	var out []finding.Finding
	failing := a.Failed > 0 && a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime))
	if failing {
		f := c.New("server", "WAL archiving is failing")
		f.Evidence = []finding.Evidence{ev("failed", float64(a.Failed), ""), ev("archived", float64(a.Archived), "")}
		f.Detail = fmt.Sprintf("The last attempt failed at %s and nothing has been archived since.", a.LastFailedTime.UTC().Format("2006-01-02 15:04:05 UTC"))
		f.Recommendation = "Read the server log for archive_command's error; fix the destination (space, credentials). WAL accumulates in pg_wal until it succeeds."
		out = append(out, *f)
	}
	if a.ReadyFiles == nil {
		out = append(out, c.Unknown("server/backlog", "the number of WAL files waiting to be archived needs pg_monitor (pg_ls_archive_statusdir)"))
	} else if float64(*a.ReadyFiles) > c.T("max_ready_files") {
		f := c.New("server/backlog", fmt.Sprintf("%d WAL files are waiting to be archived", *a.ReadyFiles))
		f.Severity = finding.Medium
		f.Evidence = []finding.Evidence{ev("ready_files", float64(*a.ReadyFiles), "")}
		f.Recommendation = "Archiving is slower than WAL is written: speed up archive_command (parallel archiving, compression) or find why it stalls."
		out = append(out, *f)
	}
	return out
}
