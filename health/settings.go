package health

import (
	"fmt"
	"math"
	"strconv"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

const mib = 1 << 20

func settingChecks() []Check {
	ref := finding.DocsRef("runtime-config-resource.html", "Resource Consumption")
	return []Check{
		{
			ID: "settings.shared_buffers", Area: "settings", Severity: finding.Low,
			Title:       "shared_buffers against the server's memory",
			Description: "PostgreSQL's own buffer cache; about a quarter of the machine's memory suits most servers, the rest serving as the operating system's cache.",
			Needs:       []string{"settings"},
			Thresholds: []Threshold{
				{Name: "min_pct", Default: 15, Unit: "% of RAM"},
				{Name: "max_pct", Default: 50, Unit: "% of RAM"},
			},
			References: []finding.Reference{ref},
			Run:        checkSharedBuffers,
		},
		{
			ID: "settings.effective_cache_size", Area: "settings", Severity: finding.Low,
			Title:       "effective_cache_size against the server's memory",
			Description: "Tells the planner how much data the caches (shared_buffers plus the OS page cache) hold; too low and it shuns index scans.",
			Needs:       []string{"settings"},
			Thresholds:  []Threshold{{Name: "min_pct", Default: 40, Unit: "% of RAM"}},
			References:  []finding.Reference{finding.DocsRef("runtime-config-query.html#GUC-EFFECTIVE-CACHE-SIZE", "effective_cache_size")},
			Run:         checkEffectiveCacheSize,
		},
		{
			ID: "settings.work_mem", Area: "settings", Severity: finding.Low,
			Title:       "work_mem against memory and connections",
			Description: "Memory each sort or hash may use before spilling to disk; each connection can use it several times at once.",
			Needs:       []string{"settings", "databases"},
			References:  []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-WORK-MEM", "work_mem")},
			Run:         checkWorkMem,
		},
		{
			ID: "settings.maintenance_work_mem", Area: "settings", Severity: finding.Low,
			Title:       "maintenance_work_mem against the server's memory",
			Description: "Memory for VACUUM, CREATE INDEX and ALTER TABLE ADD FOREIGN KEY; the 64 MB default makes index builds and vacuums of large tables slow.",
			Needs:       []string{"settings"},
			References:  []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-MAINTENANCE-WORK-MEM", "maintenance_work_mem")},
			Run:         checkMaintenanceWorkMem,
		},
		{
			ID: "settings.random_page_cost", Area: "settings", Severity: finding.Low,
			Title:       "random_page_cost for solid-state storage",
			Description: "The default 4.0 models spinning disks; on SSD, NVMe or cloud volumes random reads cost little more than sequential ones, and 1.1 lets the planner choose index scans where they pay.",
			Needs:       []string{"settings"},
			Thresholds:  []Threshold{{Name: "max", Default: 2}},
			References:  []finding.Reference{finding.DocsRef("runtime-config-query.html#GUC-RANDOM-PAGE-COST", "random_page_cost")},
			Run:         checkRandomPageCost,
		},
		{
			ID: "settings.wal_sizing", Area: "settings", Severity: finding.Low,
			Title:       "Checkpoint and WAL sizing",
			Description: "max_wal_size against the WAL written per checkpoint interval, and checkpoint_completion_target, which spreads checkpoint writes.",
			Needs:       []string{"settings"},
			References:  []finding.Reference{finding.DocsRef("wal-configuration.html", "WAL Configuration")},
			Run:         checkWALSizing,
		},
	}
}

// settingBytes returns a memory setting in bytes (pg_settings gives it in its unit).
func settingBytes(s *snapshot.Snapshot, name string) (int64, bool) {
	st, ok := s.Setting(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(st.Value, 64)
	if err != nil {
		return 0, false
	}
	mult, ok := unitBytes(st.Unit)
	if !ok {
		return 0, false
	}
	return int64(v * mult), true
}

func unitBytes(unit string) (float64, bool) {
	switch unit {
	case "B", "":
		return 1, true
	case "kB":
		return 1024, true
	case "8kB":
		return 8192, true
	case "16kB":
		return 16384, true
	case "MB":
		return mib, true
	case "GB":
		return 1 << 30, true
	}
	return 0, false
}

// parseMB converts a setting value in its unit to megabytes.
func parseMB(value, unit string) (float64, error) {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return 0, err
	}
	m, ok := unitBytes(unit)
	if !ok {
		return 0, fmt.Errorf("unit %q", unit)
	}
	return v * m / mib, nil
}

func sizeSetting(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGB", b>>30)
	case b >= mib:
		return fmt.Sprintf("%dMB", b/mib)
	default:
		return fmt.Sprintf("%dkB", b/1024)
	}
}

func hostMemory(c *Context) (int64, *finding.Finding) {
	if c.Snap.Host == nil || c.Snap.Host.MemoryBytes <= 0 {
		u := c.Unknown("", "the server's memory is unknown: it is not on this machine; pass --server-memory (e.g. 64GB) to compare settings with it")
		return 0, &u
	}
	return c.Snap.Host.MemoryBytes, nil
}

func setPlan(name, value string, restart bool) *finding.Plan {
	steps := []finding.Step{{Description: "set " + name, SQL: fmt.Sprintf("ALTER SYSTEM SET %s = %s", name, quoteLiteral(value)), NoTransaction: true}}
	summary := "Change " + name
	if restart {
		summary += " (takes effect after a server restart)"
	} else {
		steps = append(steps, finding.Step{Description: "apply without a restart", SQL: "SELECT pg_reload_conf()"})
	}
	return &finding.Plan{Summary: summary, Steps: steps}
}

func checkSharedBuffers(c *Context) []finding.Finding {
	ram, unknown := hostMemory(c)
	if unknown != nil {
		return []finding.Finding{*unknown}
	}
	cur, ok := settingBytes(c.Snap, "shared_buffers")
	if !ok {
		return []finding.Finding{c.Unknown("", "shared_buffers is not readable")}
	}
	p := pct(float64(cur), float64(ram))
	if p >= c.T("min_pct") && p <= c.T("max_pct") {
		return nil
	}
	rec := roundMB(float64(ram) * 0.25)
	f := c.New("shared_buffers", fmt.Sprintf("shared_buffers is %s, %.1f%% of the server's %s", bytesHuman(cur), p, bytesHuman(ram)))
	f.Evidence = []finding.Evidence{ev("current_bytes", float64(cur), "bytes"), ev("ram_bytes", float64(ram), "bytes"), ev("pct_of_ram", round1(p), "%"), ev("recommended_bytes", float64(rec), "bytes")}
	if p < c.T("min_pct") {
		f.Detail = "Hot data (active patients, recent claims) competes for a small cache, and every miss goes through the kernel."
	} else {
		f.Detail = "So large a share leaves little for the operating system's cache and for work_mem."
	}
	f.Recommendation = fmt.Sprintf("Set shared_buffers to about a quarter of memory, %s, and watch the cache hit ratio.", sizeSetting(rec))
	f.Fix = setPlan("shared_buffers", sizeSetting(rec), true)
	return []finding.Finding{*f}
}

func roundMB(b float64) int64 { return int64(math.Floor(b/mib)) * mib }

func checkEffectiveCacheSize(c *Context) []finding.Finding {
	ram, unknown := hostMemory(c)
	if unknown != nil {
		return []finding.Finding{*unknown}
	}
	cur, ok := settingBytes(c.Snap, "effective_cache_size")
	if !ok {
		return []finding.Finding{c.Unknown("", "effective_cache_size is not readable")}
	}
	p := pct(float64(cur), float64(ram))
	if p >= c.T("min_pct") {
		return nil
	}
	rec := roundMB(float64(ram) * 0.65)
	f := c.New("effective_cache_size", fmt.Sprintf("effective_cache_size is %s, %.1f%% of the server's memory", bytesHuman(cur), p))
	f.Evidence = []finding.Evidence{ev("current_bytes", float64(cur), "bytes"), ev("ram_bytes", float64(ram), "bytes"), ev("recommended_bytes", float64(rec), "bytes")}
	f.Detail = "The planner believes little data is cached and overprices index scans on large tables."
	f.Recommendation = fmt.Sprintf("Set it to about two thirds of memory, %s (it allocates nothing; it only informs the planner).", sizeSetting(rec))
	f.Fix = setPlan("effective_cache_size", sizeSetting(rec), false)
	return []finding.Finding{*f}
}

func checkWorkMem(c *Context) []finding.Finding {
	ram, unknown := hostMemory(c)
	if unknown != nil {
		return []finding.Finding{*unknown}
	}
	cur, ok := settingBytes(c.Snap, "work_mem")
	maxConn, ok2 := settingInt(c.Snap, "max_connections")
	if !ok || !ok2 {
		return []finding.Finding{c.Unknown("", "work_mem or max_connections is not readable")}
	}
	rec := int64(float64(ram) * 0.25 / float64(maxConn))
	rec = min(max(rec, 4*mib), 256*mib)
	rec = rec / mib * mib
	worst := cur * maxConn
	spills := false
	if db := c.Snap.ThisDatabase(); db != nil && db.TempBytes > 0 && db.TempFiles > 0 {
		spills = true
	}
	var f *finding.Finding
	switch {
	case float64(worst) > float64(ram):
		f = c.New("work_mem", fmt.Sprintf("work_mem %s × max_connections %d exceeds the server's memory", bytesHuman(cur), maxConn))
		f.Severity = finding.Medium
		f.Detail = "If many sessions sort at once the server can run out of memory, and the kernel's OOM killer restarts PostgreSQL."
	case spills && cur < rec/2:
		f = c.New("work_mem", fmt.Sprintf("work_mem is %s and statements spill to temporary files", bytesHuman(cur)))
		f.Detail = "Sorts and hashes larger than work_mem write to disk; see tempfiles.volume for how much."
	default:
		return nil
	}
	f.Evidence = []finding.Evidence{ev("current_bytes", float64(cur), "bytes"), ev("max_connections", float64(maxConn), ""),
		ev("ram_bytes", float64(ram), "bytes"), ev("recommended_bytes", float64(rec), "bytes")}
	f.Recommendation = fmt.Sprintf("About %s suits this memory and connection count (a quarter of memory shared by max_connections). Give reporting roles more with ALTER ROLE ... SET work_mem rather than raising it for everyone.", sizeSetting(rec))
	f.Fix = setPlan("work_mem", sizeSetting(rec), false)
	return []finding.Finding{*f}
}

func checkMaintenanceWorkMem(c *Context) []finding.Finding {
	ram, unknown := hostMemory(c)
	if unknown != nil {
		return []finding.Finding{*unknown}
	}
	cur, ok := settingBytes(c.Snap, "maintenance_work_mem")
	if !ok {
		return []finding.Finding{c.Unknown("", "maintenance_work_mem is not readable")}
	}
	rec := min(max(roundMB(float64(ram)*0.05), 64*mib), 2<<30)
	if cur*2 > rec {
		return nil
	}
	f := c.New("maintenance_work_mem", fmt.Sprintf("maintenance_work_mem is %s on a server with %s", bytesHuman(cur), bytesHuman(ram)))
	f.Evidence = []finding.Evidence{ev("current_bytes", float64(cur), "bytes"), ev("recommended_bytes", float64(rec), "bytes")}
	f.Detail = "Index builds and vacuums of large tables (claims, audit logs) take several passes where one would do."
	f.Recommendation = fmt.Sprintf("Set it to %s (about 5%% of memory, at most 2GB); autovacuum workers share it through autovacuum_work_mem.", sizeSetting(rec))
	f.Fix = setPlan("maintenance_work_mem", sizeSetting(rec), false)
	return []finding.Finding{*f}
}

func checkRandomPageCost(c *Context) []finding.Finding {
	st, ok := c.Snap.Setting("random_page_cost")
	if !ok {
		return []finding.Finding{c.Unknown("", "random_page_cost is not readable")}
	}
	v, err := strconv.ParseFloat(st.Value, 64)
	if err != nil || v <= c.T("max") {
		return nil
	}
	f := c.New("random_page_cost", fmt.Sprintf("random_page_cost is %s, a spinning-disk value", st.Value))
	f.Evidence = []finding.Evidence{ev("current", v, ""), ev("recommended", 1.1, "")}
	f.Detail = "The planner prices an index scan's random reads at four times a sequential read, and so prefers sequential scans of large tables."
	f.Recommendation = "If the data lives on SSD, NVMe or a cloud volume, set it to 1.1; keep 4 only for spinning disks."
	f.Fix = setPlan("random_page_cost", "1.1", false)
	return []finding.Finding{*f}
}

func checkWALSizing(c *Context) []finding.Finding {
	var out []finding.Finding
	if st, ok := c.Snap.Setting("checkpoint_completion_target"); ok {
		if v, err := strconv.ParseFloat(st.Value, 64); err == nil && v < 0.9 {
			f := c.New("checkpoint_completion_target", fmt.Sprintf("checkpoint_completion_target is %s", st.Value))
			f.Evidence = []finding.Evidence{ev("current", v, ""), ev("recommended", 0.9, "")}
			f.Detail = "Checkpoint writes are squeezed into part of the interval, in bursts that slow foreground queries."
			f.Recommendation = "Set it to 0.9, the default since PostgreSQL 14."
			f.Fix = setPlan("checkpoint_completion_target", "0.9", false)
			out = append(out, *f)
		}
	}
	// WAL written per checkpoint_timeout, from pg_stat_wal's average since its reset.
	w := c.Snap.WAL
	maxWAL, ok1 := settingBytes(c.Snap, "max_wal_size")
	timeout, ok2 := settingInt(c.Snap, "checkpoint_timeout") // seconds
	if w != nil && ok1 && ok2 && w.Bytes > 0 {
		since := c.Snap.Server.StartedAt
		if w.StatsReset != nil {
			since = *w.StatsReset
		}
		secs := c.Now.Sub(since).Seconds()
		if secs >= 3600 {
			perCheckpoint := float64(w.Bytes) / secs * float64(timeout)
			if perCheckpoint > float64(maxWAL) {
				rec := int64(math.Ceil(perCheckpoint*2/float64(1<<30))) << 30
				f := c.New("max_wal_size", fmt.Sprintf("About %s of WAL is written per checkpoint_timeout, more than max_wal_size (%s)", bytesHuman(int64(perCheckpoint)), bytesHuman(maxWAL)))
				f.Evidence = []finding.Evidence{ev("wal_per_checkpoint_bytes", math.Round(perCheckpoint), "bytes"), ev("max_wal_size_bytes", float64(maxWAL), "bytes"),
					ev("recommended_bytes", float64(rec), "bytes")}
				f.Recommendation = fmt.Sprintf("Set max_wal_size to %s so checkpoints happen on time rather than on volume.", sizeSetting(rec))
				f.Fix = setPlan("max_wal_size", sizeSetting(rec), false)
				out = append(out, *f)
			}
		}
	}
	return out
}
