package health

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

func maintenanceChecks() []Check {
	return []Check{
		{
			ID: "bloat.table", Area: "maintenance", Severity: finding.Medium,
			Title:       "Table bloat",
			Description: "Space in a table beyond what its rows need, estimated from the planner's row count and column widths: scans read the empty space too.",
			Needs:       []string{"tables", "columns"},
			Thresholds: []Threshold{
				{Name: "min_pct", Default: 30, Unit: "%"},
				{Name: "min_bytes", Default: 100 << 20, Unit: "bytes"},
			},
			References: []finding.Reference{finding.DocsRef("routine-vacuuming.html#VACUUM-FOR-SPACE-RECOVERY", "Recovering Disk Space")},
			Run:        checkTableBloat,
		},
		{
			ID: "bloat.index", Area: "maintenance", Severity: finding.Low,
			Title:       "B-tree index bloat",
			Description: "Space in a B-tree index beyond what its entries need at the default fill factor.",
			Needs:       []string{"tables", "columns", "indexes"},
			Thresholds: []Threshold{
				{Name: "min_pct", Default: 40, Unit: "%"},
				{Name: "min_bytes", Default: 50 << 20, Unit: "bytes"},
			},
			References: []finding.Reference{finding.DocsRef("sql-reindex.html", "REINDEX")},
			Run:        checkIndexBloat,
		},
		{
			ID: "vacuum.dead_tuples", Area: "maintenance", Severity: finding.Medium,
			Title:       "Many dead rows",
			Description: "Dead row versions waiting for VACUUM: scans step over them and the table grows.",
			Needs:       []string{"tables"},
			Thresholds: []Threshold{
				{Name: "min_pct", Default: 20, Unit: "%"},
				{Name: "min_dead", Default: 10000},
			},
			References: []finding.Reference{finding.DocsRef("routine-vacuuming.html", "Routine Vacuuming")},
			Run:        checkDeadTuples,
		},
		{
			ID: "vacuum.stale_statistics", Area: "maintenance", Severity: finding.Low,
			Title:       "Stale or missing planner statistics",
			Description: "Tables never analysed, or changed a lot since their last ANALYZE: the planner guesses row counts and picks bad plans.",
			Needs:       []string{"tables"},
			Thresholds: []Threshold{
				{Name: "min_rows", Default: 1000},
				{Name: "changed_pct", Default: 20, Unit: "%"},
			},
			References: []finding.Reference{finding.DocsRef("sql-analyze.html", "ANALYZE")},
			Run:        checkStaleStats,
		},
		{
			ID: "vacuum.autovacuum_disabled", Area: "maintenance", Severity: finding.High,
			Title:       "Autovacuum disabled",
			Description: "Autovacuum switched off for the server or for a table: dead rows accumulate and, sooner or later, transaction ID wraparound forces an emergency shutdown.",
			Needs:       []string{"tables", "settings"},
			References:  []finding.Reference{finding.DocsRef("routine-vacuuming.html#AUTOVACUUM", "The Autovacuum Daemon")},
			Run:         checkAutovacuumDisabled,
		},
		{
			ID: "wraparound.xid", Area: "maintenance", Severity: finding.Medium,
			Title:       "Transaction ID wraparound age",
			Description: "Age of the oldest unfrozen transaction ID per database. At about 2 billion the server stops accepting writes to protect data.",
			Needs:       []string{"databases", "settings"},
			Thresholds: []Threshold{
				{Name: "over_freeze_max_pct", Default: 150, Unit: "%", Help: "report when the age exceeds this share of autovacuum_freeze_max_age"},
				{Name: "high_age", Default: 1e9},
				{Name: "critical_age", Default: 1.5e9},
			},
			References: []finding.Reference{finding.DocsRef("routine-vacuuming.html#VACUUM-FOR-WRAPAROUND", "Preventing Transaction ID Wraparound Failures")},
			Run:        checkXIDAge,
		},
		{
			ID: "wraparound.multixact", Area: "maintenance", Severity: finding.Medium,
			Title:       "MultiXact ID wraparound age",
			Description: "Age of the oldest MultiXact ID per database (row locks shared by several transactions, e.g. foreign key checks).",
			Needs:       []string{"databases", "settings"},
			Thresholds: []Threshold{
				{Name: "over_freeze_max_pct", Default: 150, Unit: "%"},
				{Name: "high_age", Default: 1e9},
				{Name: "critical_age", Default: 1.5e9},
			},
			References: []finding.Reference{finding.DocsRef("routine-vacuuming.html#VACUUM-FOR-MULTIXACT-WRAPAROUND", "Multixacts and Wraparound")},
			Run:        checkMXIDAge,
		},
	}
}

// tableBloat estimates a table's bloat from its row estimate and column widths, the
// way the well-known estimation queries do: expected pages for the rows at the table's
// fill factor, against the pages it has.
func tableBloat(t *snapshot.Table, blockSize int) (bytes int64, ratio float64, ok bool) {
	if !t.ColumnStatsKnown || t.Kind == "partitioned" || t.Pages == 0 || t.RowEstimate <= 0 || blockSize == 0 {
		return 0, 0, false
	}
	width := 0.0
	nullable := 0
	for _, c := range t.Columns {
		if c.AvgWidth == nil {
			return 0, 0, false // never analysed
		}
		nf := 0.0
		if c.NullFrac != nil {
			nf = *c.NullFrac
		}
		width += float64(*c.AvgWidth) * (1 - nf)
		if !c.NotNull {
			nullable++
		}
	}
	header := 23.0
	if nullable > 0 {
		header += math.Ceil(float64(len(t.Columns)) / 8)
	}
	tuple := maxAlign(maxAlign(header) + width)
	usable := float64(blockSize-24) * float64(t.FillFactor) / 100
	perPage := math.Floor(usable / (tuple + 4)) // 4-byte line pointer
	if perPage < 1 {
		perPage = 1
	}
	expected := math.Ceil(t.RowEstimate / perPage)
	extra := float64(t.Pages) - expected
	if extra <= 0 {
		return 0, 0, true
	}
	return int64(extra) * int64(blockSize), extra / float64(t.Pages), true
}

func maxAlign(v float64) float64 { return math.Ceil(v/8) * 8 }

// indexBloat estimates a B-tree's bloat from its entry count and key widths.
func indexBloat(ix *snapshot.Index, t *snapshot.Table, blockSize int) (bytes int64, ratio float64, ok bool) {
	if ix.Method != "btree" || t == nil || !t.ColumnStatsKnown || ix.Tuples <= 0 || blockSize == 0 {
		return 0, 0, false
	}
	// The size on disk, when the snapshot has it, is current; relpages waits for the
	// next VACUUM or ANALYZE (a REINDEX leaves the old count behind).
	pages := float64(ix.Pages)
	if ix.SizeBytes > 0 {
		pages = float64(ix.SizeBytes / int64(blockSize))
	}
	if pages < 10 {
		return 0, 0, false
	}
	width := 0.0
	for _, name := range append(append([]string{}, ix.Columns...), ix.Include...) {
		found := false
		for _, c := range t.Columns {
			if c.Name == name && c.AvgWidth != nil {
				width += float64(*c.AvgWidth)
				found = true
			}
		}
		if !found {
			return 0, 0, false // expression or unanalysed column
		}
	}
	entry := maxAlign(8+width) + 4 // index tuple header, data, line pointer
	usable := float64(blockSize-24-16) * float64(ix.FillFactor) / 100
	perPage := math.Floor(usable / entry)
	if perPage < 1 {
		perPage = 1
	}
	expected := math.Ceil(ix.Tuples/perPage) + 1 // + metapage
	extra := pages - expected
	if extra <= 0 {
		return 0, 0, true
	}
	return int64(extra) * int64(blockSize), extra / pages, true
}

func checkTableBloat(c *Context) []finding.Finding {
	var out []finding.Finding
	unknown := 0
	for i := range c.Snap.Tables {
		t := &c.Snap.Tables[i]
		b, ratio, ok := tableBloat(t, c.Snap.Server.BlockSize)
		if !ok {
			if !t.ColumnStatsKnown && t.Pages > 0 {
				unknown++
			}
			continue
		}
		if float64(b) < c.T("min_bytes") || ratio*100 < c.T("min_pct") {
			continue
		}
		f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s is about %.0f%% bloat (%s)", t.Schema, t.Name, ratio*100, bytesHuman(b)))
		f.Evidence = []finding.Evidence{ev("bloat_bytes", float64(b), "bytes"), ev("bloat_pct", round1(ratio*100), "%"), ev("table_bytes", float64(t.HeapBytes), "bytes")}
		f.Detail = "An estimate from the planner's statistics; VACUUM makes the space reusable but does not give it back."
		f.Recommendation = "Rewrite the table online with pg_repack (or pgmedic's online rewrite), or with VACUUM FULL in a maintenance window (it holds an ACCESS EXCLUSIVE lock for the whole rewrite). Then look at why it bloated: long transactions, autovacuum too slow for the update rate."
		out = append(out, *f)
	}
	if unknown > 0 {
		out = append(out, c.Unknown("", fmt.Sprintf("bloat of %d tables cannot be estimated: the collecting role may not read their column statistics", unknown)))
	}
	return out
}

func checkIndexBloat(c *Context) []finding.Finding {
	var out []finding.Finding
	for i := range c.Snap.Indexes {
		ix := &c.Snap.Indexes[i]
		b, ratio, ok := indexBloat(ix, c.Snap.Table(ix.Schema, ix.Table), c.Snap.Server.BlockSize)
		if !ok || float64(b) < c.T("min_bytes") || ratio*100 < c.T("min_pct") {
			continue
		}
		f := c.OnTable(ix.Schema, ix.Table, fmt.Sprintf("Index %s is about %.0f%% bloat (%s)", ix.Name, ratio*100, bytesHuman(b)))
		f.ID = finding.MakeID(f.Check, ix.QualifiedName())
		f.Evidence = []finding.Evidence{ev("bloat_bytes", float64(b), "bytes"), ev("bloat_pct", round1(ratio*100), "%"), ev("index_bytes", float64(ix.SizeBytes), "bytes")}
		f.Recommendation = "Rebuild it with REINDEX CONCURRENTLY: reads and writes continue while the new copy is built."
		f.Fix = &finding.Plan{Summary: "Rebuild the index online", Steps: []finding.Step{{
			Description: "rebuild " + ix.Name, SQL: "REINDEX INDEX CONCURRENTLY " + quoteIdent(ix.Schema, ix.Name),
			Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true,
		}}}
		out = append(out, *f)
	}
	return out
}

func checkDeadTuples(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		total := float64(t.LiveTuples + t.DeadTuples)
		p := pct(float64(t.DeadTuples), total)
		if float64(t.DeadTuples) < c.T("min_dead") || p < c.T("min_pct") {
			continue
		}
		f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s: %.0f%% of row versions are dead", t.Schema, t.Name, p))
		f.Evidence = []finding.Evidence{ev("dead_rows", float64(t.DeadTuples), ""), ev("live_rows", float64(t.LiveTuples), ""), ev("dead_pct", round1(p), "%")}
		last := "never"
		if lv := latest(t.LastVacuum, t.LastAutovacuum); lv != nil {
			last = durHuman(c.Now.Sub(*lv).Seconds()) + " ago"
		}
		f.Detail = "Last vacuumed: " + last + "."
		f.Recommendation = "Vacuum it now, then make autovacuum keep up: lower autovacuum_vacuum_scale_factor for this table (e.g. 0.02) and check for long transactions holding back cleanup."
		f.Fix = &finding.Plan{Summary: "Vacuum and analyse the table", Steps: []finding.Step{{
			Description: "vacuum " + t.Name, SQL: "VACUUM (ANALYZE) " + quoteIdent(t.Schema, t.Name),
			Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true,
		}}}
		out = append(out, *f)
	}
	return out
}

func latest(ts ...*time.Time) *time.Time {
	var best *time.Time
	for _, t := range ts {
		if t != nil && (best == nil || t.After(*best)) {
			v := *t
			best = &v
		}
	}
	return best
}

func checkStaleStats(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		if t.RowEstimate < c.T("min_rows") && float64(t.LiveTuples) < c.T("min_rows") {
			continue
		}
		last := latest(t.LastAnalyze, t.LastAutoanalyze)
		rows := math.Max(t.RowEstimate, float64(t.LiveTuples))
		changed := pct(float64(t.ModSinceAnalyze), rows)
		var title string
		switch {
		case last == nil && t.Kind != "partitioned":
			title = fmt.Sprintf("%s.%s has never been analysed", t.Schema, t.Name)
		case last != nil && changed >= c.T("changed_pct") && c.Now.Sub(*last).Hours() >= 24:
			title = fmt.Sprintf("%s.%s changed %.0f%% since its last ANALYZE", t.Schema, t.Name, changed)
		default:
			continue
		}
		f := c.OnTable(t.Schema, t.Name, title)
		f.Evidence = []finding.Evidence{ev("rows", math.Round(rows), ""), ev("changed_rows", float64(t.ModSinceAnalyze), "")}
		f.Recommendation = "Analyse it; if autovacuum does not keep up, lower autovacuum_analyze_scale_factor for the table."
		f.Fix = &finding.Plan{Summary: "Refresh the planner statistics", Steps: []finding.Step{{
			Description: "analyse " + t.Name, SQL: "ANALYZE " + quoteIdent(t.Schema, t.Name), Lock: "SHARE UPDATE EXCLUSIVE", Long: true,
		}}}
		out = append(out, *f)
	}
	return out
}

func optionOff(opts []string, name string) bool {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if ok && k == name {
			switch strings.ToLower(v) {
			case "false", "off", "no", "0", "f", "n":
				return true
			}
		}
	}
	return false
}

func checkAutovacuumDisabled(c *Context) []finding.Finding {
	var out []finding.Finding
	if st, ok := c.Snap.Setting("autovacuum"); ok && st.Value == "off" {
		f := c.New("server", "Autovacuum is off for the whole server")
		f.Severity = finding.Critical
		f.Recommendation = "Turn it back on. Without it, nothing freezes old transaction IDs, and the server will eventually refuse writes to avoid wraparound."
		f.Fix = &finding.Plan{Summary: "Re-enable autovacuum", Steps: []finding.Step{
			{Description: "turn autovacuum on", SQL: "ALTER SYSTEM SET autovacuum = on", NoTransaction: true},
			{Description: "apply without a restart", SQL: "SELECT pg_reload_conf()"},
		}}
		out = append(out, *f)
	}
	if st, ok := c.Snap.Setting("track_counts"); ok && st.Value == "off" {
		f := c.New("server", "track_counts is off, so autovacuum cannot tell which tables need it")
		f.Severity = finding.Critical
		f.Fix = &finding.Plan{Summary: "Re-enable row statistics", Steps: []finding.Step{
			{Description: "turn track_counts on", SQL: "ALTER SYSTEM SET track_counts = on", NoTransaction: true},
			{Description: "apply without a restart", SQL: "SELECT pg_reload_conf()"},
		}}
		out = append(out, *f)
	}
	for _, t := range c.Snap.Tables {
		heap, toast := optionOff(t.Options, "autovacuum_enabled"), optionOff(t.ToastOpts, "autovacuum_enabled")
		if !heap && !toast {
			continue
		}
		which := "the table"
		option := "autovacuum_enabled"
		if !heap {
			which, option = "its TOAST table", "toast.autovacuum_enabled"
		}
		f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("Autovacuum is disabled for %s.%s (%s)", t.Schema, t.Name, which))
		f.Evidence = []finding.Evidence{ev("dead_rows", float64(t.DeadTuples), ""), ev("frozen_xid_age", float64(t.FrozenXIDAge), "transactions")}
		f.Detail = "Anti-wraparound vacuums still run, but nothing cleans up dead rows or refreshes statistics in between."
		f.Recommendation = "Reset the option; if autovacuum was disabled because it got in the way, tune its cost limits for the table instead."
		rel := "c.reloptions"
		if !heap {
			rel = "(SELECT t.reloptions FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid)"
		}
		f.Fix = &finding.Plan{Summary: "Let autovacuum handle the table again", Steps: []finding.Step{{
			Description: "reset " + option, SQL: fmt.Sprintf("ALTER TABLE %s RESET (%s)", quoteIdent(t.Schema, t.Name), option),
			Lock: "SHARE UPDATE EXCLUSIVE", Kind: "ddl", Object: t.QualifiedName(),
			Check: fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_class c, unnest(coalesce(%s, '{}')) o WHERE c.oid = pg_catalog.to_regclass(%s) AND o LIKE 'autovacuum_enabled=%%')",
				rel, quoteLiteral(quoteIdent(t.Schema, t.Name))),
		}}}
		out = append(out, *f)
	}
	return out
}

func checkXIDAge(c *Context) []finding.Finding {
	freezeMax, _ := settingInt(c.Snap, "autovacuum_freeze_max_age")
	return wraparound(c, "transaction ID", freezeMax, func(d *snapshot.Database) int64 { return d.FrozenXIDAge },
		func(t *snapshot.Table) int64 { return t.FrozenXIDAge }, "VACUUM (FREEZE, VERBOSE)")
}

func checkMXIDAge(c *Context) []finding.Finding {
	freezeMax, _ := settingInt(c.Snap, "autovacuum_multixact_freeze_max_age")
	return wraparound(c, "MultiXact ID", freezeMax, func(d *snapshot.Database) int64 { return d.MinMXIDAge },
		func(t *snapshot.Table) int64 { return t.MinMXIDAge }, "VACUUM (FREEZE, VERBOSE)")
}

func wraparound(c *Context, what string, freezeMax int64, dbAge func(*snapshot.Database) int64, tableAge func(*snapshot.Table) int64, vacuum string) []finding.Finding {
	if freezeMax <= 0 {
		freezeMax = 200_000_000
	}
	const limit = 2_147_483_647 - 3_000_000 // the server stops accepting writes about here
	var out []finding.Finding
	for i := range c.Snap.Databases {
		d := &c.Snap.Databases[i]
		age := float64(dbAge(d))
		if age < float64(freezeMax)*c.T("over_freeze_max_pct")/100 && age < c.T("high_age") {
			continue
		}
		f := c.New(d.Name, fmt.Sprintf("Database %s: oldest %s is %.0f million transactions old", d.Name, what, age/1e6))
		switch {
		case age >= c.T("critical_age"):
			f.Severity = finding.Critical
		case age >= c.T("high_age"):
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("age", age, "transactions"), ev("remaining", limit-age, "transactions"),
			ev("freeze_max_age", float64(freezeMax), "transactions")}
		f.Detail = "Autovacuum should have frozen it by now: it is blocked (long transactions, abandoned replication slots or prepared transactions) or too slow."
		if d.Name == c.Snap.Server.Database {
			tables := append([]snapshot.Table(nil), c.Snap.Tables...)
			sort.Slice(tables, func(i, j int) bool { return tableAge(&tables[i]) > tableAge(&tables[j]) })
			var steps []finding.Step
			var names []string
			for k := 0; k < len(tables) && k < 3; k++ {
				t := tables[k]
				if float64(tableAge(&t)) < float64(freezeMax) {
					break
				}
				names = append(names, fmt.Sprintf("%s.%s (%.0fM)", t.Schema, t.Name, float64(tableAge(&t))/1e6))
				steps = append(steps, finding.Step{Description: "freeze " + t.Name, SQL: vacuum + " " + quoteIdent(t.Schema, t.Name),
					Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true})
			}
			if len(names) > 0 {
				f.Detail += " Oldest tables: " + strings.Join(names, ", ") + "."
				f.Fix = &finding.Plan{Summary: "Freeze the oldest tables", Steps: steps}
			}
		}
		f.Recommendation = "Find what holds the horizon back (long transactions, inactive replication slots, prepared transactions), then vacuum the oldest tables with FREEZE."
		out = append(out, *f)
	}
	return out
}
