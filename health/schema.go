package health

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/snapshot"
)

func schemaChecks() []Check {
	return []Check{
		{
			ID: "schema.fk_without_index", Area: "schema", Severity: finding.Medium,
			Title:       "Foreign keys without a supporting index",
			Description: "A foreign key whose columns do not lead any index: every delete or key update of the referenced row scans the referencing table, and joins along the key cannot use an index.",
			Needs:       []string{"constraints", "indexes", "tables"},
			Thresholds:  []Threshold{{Name: "min_rows", Default: 1000, Help: "smaller referencing tables are reported as low"}},
			References:  []finding.Reference{finding.DocsRef("ddl-constraints.html#DDL-CONSTRAINTS-FK", "Foreign Keys")},
			Run:         checkFKIndexes,
		},
		{
			ID: "schema.no_primary_key", Area: "schema", Severity: finding.Medium,
			Title:       "Tables without a primary key",
			Description: "Rows cannot be identified reliably: logical replication cannot apply updates and deletes, and duplicate rows creep in.",
			Needs:       []string{"tables"},
			References:  []finding.Reference{finding.DocsRef("ddl-constraints.html#DDL-CONSTRAINTS-PRIMARY-KEYS", "Primary Keys"), finding.HIPAARef(finding.Integrity)},
			Run:         checkNoPrimaryKey,
		},
		{
			ID: "schema.not_valid_constraint", Area: "schema", Severity: finding.Medium,
			Title:       "Constraints marked NOT VALID",
			Description: "Constraints added with NOT VALID are enforced for new rows only; existing rows were never checked.",
			Needs:       []string{"constraints"},
			References:  []finding.Reference{finding.DocsRef("sql-altertable.html", "ALTER TABLE ... VALIDATE CONSTRAINT"), finding.HIPAARef(finding.Integrity)},
			Run:         checkNotValid,
		},
		{
			ID: "indexes.invalid", Area: "indexes", Severity: finding.High,
			Title:       "Invalid indexes",
			Description: "Indexes left invalid by a failed CREATE INDEX CONCURRENTLY or REINDEX: the planner ignores them, but every write still maintains them.",
			Needs:       []string{"indexes"},
			References:  []finding.Reference{finding.DocsRef("sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY", "Building Indexes Concurrently")},
			Run:         checkInvalidIndexes,
		},
		{
			ID: "sequences.exhaustion", Area: "schema", Severity: finding.Medium,
			Title:       "Sequences close to their maximum",
			Description: "How much of a sequence's range is used, counting the maximum of the column it feeds (an integer column stops at 2,147,483,647 even when its sequence is bigint).",
			Needs:       []string{"sequences"},
			Thresholds: []Threshold{
				{Name: "warn_pct", Default: 75, Unit: "%"},
				{Name: "high_pct", Default: 90, Unit: "%"},
				{Name: "critical_pct", Default: 98, Unit: "%"},
			},
			References: []finding.Reference{finding.DocsRef("sql-altersequence.html", "ALTER SEQUENCE")},
			Run:        checkSequences,
		},
		{
			ID: "schema.integer_key_near_limit", Area: "schema", Severity: finding.Medium,
			Title:       "Integer key columns close to their type's limit",
			Description: "smallint and integer key columns whose largest value nears the type's maximum: inserts will fail when it is reached.",
			Needs:       []string{"tables", "key_ranges"},
			Thresholds: []Threshold{
				{Name: "warn_pct", Default: 75, Unit: "%"},
				{Name: "high_pct", Default: 90, Unit: "%"},
				{Name: "critical_pct", Default: 98, Unit: "%"},
			},
			References: []finding.Reference{finding.DocsRef("datatype-numeric.html#DATATYPE-INT", "Integer Types")},
			Run:        checkIntegerKeys,
		},
		{
			ID: "triggers.disabled", Area: "schema", Severity: finding.Medium,
			Title:       "Disabled triggers",
			Description: "Triggers switched off with ALTER TABLE ... DISABLE TRIGGER. A disabled audit trigger on a PHI table is a gap in the audit trail.",
			Needs:       []string{"triggers"},
			References:  []finding.Reference{finding.DocsRef("sql-altertable.html", "ALTER TABLE ... ENABLE TRIGGER"), finding.HIPAARef(finding.AuditControls)},
			Run:         checkDisabledTriggers,
		},
		{
			ID: "tables.seq_scan_heavy", Area: "indexes", Severity: finding.Medium,
			Title:       "Large tables read mostly by sequential scans",
			Description: "Tables with many rows where most scans read the whole table; on a patient table that is every patient's record read for each lookup.",
			Needs:       []string{"tables"},
			Thresholds: []Threshold{
				{Name: "min_rows", Default: 10000},
				{Name: "min_seq_scans", Default: 50},
				{Name: "max_index_pct", Default: 95, Unit: "%", Help: "report when fewer scans than this use an index"},
			},
			References: []finding.Reference{finding.DocsRef("indexes.html", "Indexes")},
			Run:        checkSeqScans,
		},
		{
			ID: "cache.hit_ratio", Area: "memory", Severity: finding.Medium,
			Title:       "Low cache hit ratio",
			Description: "Share of table and index block reads served from shared buffers in this database.",
			Needs:       []string{"tables"},
			Thresholds: []Threshold{
				{Name: "min_pct", Unit: "%", FromConfig: func(p *config.Profile) float64 { return p.Monitor.AlertThresholds.CacheHitRatio }},
				{Name: "min_reads", Default: 100000, Help: "blocks read before the ratio means anything"},
			},
			References: []finding.Reference{finding.DocsRef("runtime-config-resource.html#GUC-SHARED-BUFFERS", "shared_buffers")},
			Run:        checkCacheHit,
		},
	}
}

// supportsFK reports whether an index leads with exactly the foreign key's columns
// (in any order), which is what lets the referenced side find referencing rows.
func supportsFK(ix *snapshot.Index, cols []string) bool {
	if !ix.Valid || ix.Predicate != "" || len(ix.Columns) < len(cols) {
		return false
	}
	if ix.Method != "btree" && ix.Method != "hash" {
		return false
	}
	lead := ix.Columns[:len(cols)]
	for _, c := range cols {
		if !slices.Contains(lead, c) && !slices.Contains(lead, quoteIdent(c)) {
			return false
		}
	}
	return true
}

func checkFKIndexes(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, k := range c.Snap.Constraints {
		if k.Type != "foreign" {
			continue
		}
		supported := false
		for _, ix := range c.Snap.TableIndexes(k.Schema, k.Table) {
			if supportsFK(ix, k.Columns) {
				supported = true
				break
			}
		}
		if supported {
			continue
		}
		t := c.Snap.Table(k.Schema, k.Table)
		rows := 0.0
		if t != nil {
			rows = t.RowEstimate
		}
		title := fmt.Sprintf("Foreign key %s (%s) has no index", k.Name, strings.Join(k.Columns, ", "))
		var f *finding.Finding
		if c.Class(k.RefSchema, k.RefTable).Role == healthcare.Reference {
			// Code tables (ICD-10, CPT ...) are almost never deleted from, so the missing
			// index costs little; query-driven indexing decides whether joins need it.
			f = c.New(k.Schema+"."+k.Table, title)
			f.PHI = c.Class(k.Schema, k.Table).PHI
			f.Severity = finding.Low
		} else {
			f = c.OnTable(k.Schema, k.Table, title)
		}
		f.ID = finding.MakeID(f.Check, k.Schema+"."+k.Table+"("+strings.Join(k.Columns, ",")+")")
		if rows < c.T("min_rows") {
			f.Severity = finding.Low
		}
		f.Evidence = []finding.Evidence{ev("rows", math.Round(rows), "")}
		if t != nil {
			f.Evidence = append(f.Evidence, ev("seq_scans", float64(t.SeqScan), ""))
		}
		f.Detail = fmt.Sprintf("%s.%s(%s) references %s.%s. Deleting or re-keying a %s row scans %s, and joins from %s to %s cannot use an index on this side.",
			k.Schema, k.Table, strings.Join(k.Columns, ", "), k.RefSchema, k.RefTable, k.RefTable, k.Table, k.RefTable, k.Table)
		f.Recommendation = "Create an index on the referencing columns, unless 'pgmedic index advise' finds a wider index that leads with them."
		name := ident.IndexName(k.Table, k.Columns, "")
		cols := make([]string, len(k.Columns))
		for i, col := range k.Columns {
			cols[i] = quoteIdent(col)
		}
		f.Fix = &finding.Plan{
			Summary: "Index the foreign key without blocking writes",
			Steps: []finding.Step{change.BuildIndexStep(k.Schema, name,
				fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)", quoteIdent(name), quoteIdent(k.Schema, k.Table), strings.Join(cols, ", ")),
				fmt.Sprintf("build %s concurrently", name))},
		}
		out = append(out, *f)
	}
	return out
}

func checkNoPrimaryKey(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		if t.HasPrimaryKey || t.Kind == "partition" || t.Kind == "materialized view" {
			continue
		}
		f := c.OnTable(t.Schema, t.Name, "Table has no primary key")
		f.Evidence = []finding.Evidence{ev("rows", math.Round(t.RowEstimate), "")}
		// A unique index on NOT NULL columns can become the primary key in place.
		for _, ix := range c.Snap.TableIndexes(t.Schema, t.Name) {
			if ix.Unique && ix.Valid && ix.Predicate == "" && allNotNull(&t, ix.Columns) {
				f.Detail = fmt.Sprintf("The unique index %s on NOT NULL columns can serve as the primary key.", ix.Name)
				f.Fix = &finding.Plan{Summary: "Promote the unique index to the primary key", Steps: []finding.Step{{
					Description: "attach the existing unique index as the primary key (no rebuild)",
					SQL:         fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY USING INDEX %s", quoteIdent(t.Schema, t.Name), quoteIdent(t.Name+"_pkey"), quoteIdent(ix.Name)),
					Lock:        "ACCESS EXCLUSIVE (brief)",
				}}}
				break
			}
		}
		f.Recommendation = "Give the table a primary key: an existing unique NOT NULL column set, or a new bigint identity column (adding one rewrites the table, so plan a maintenance window or an online migration)."
		out = append(out, *f)
	}
	return out
}

func allNotNull(t *snapshot.Table, cols []string) bool {
	for _, name := range cols {
		found := false
		for _, c := range t.Columns {
			if c.Name == name {
				found = true
				if !c.NotNull {
					return false
				}
			}
		}
		if !found {
			return false // an expression
		}
	}
	return len(cols) > 0
}

func checkNotValid(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, k := range c.Snap.Constraints {
		if k.Validated {
			continue
		}
		f := c.OnTable(k.Schema, k.Table, fmt.Sprintf("%s constraint %s is NOT VALID", capitalize(k.Type), k.Name))
		f.ID = finding.MakeID(f.Check, k.Schema+"."+k.Table+"."+k.Name)
		f.Detail = "Definition: " + k.Definition + ". Rows that existed when it was added were never checked."
		f.Recommendation = "Validate it: VALIDATE CONSTRAINT scans the table but takes only a SHARE UPDATE EXCLUSIVE lock, so reads and writes continue. If it fails, the error names a violating row to fix first."
		f.Fix = &finding.Plan{Summary: "Check the existing rows against the constraint", Steps: []finding.Step{{
			Description: "validate " + k.Name,
			SQL:         fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", quoteIdent(k.Schema, k.Table), quoteIdent(k.Name)),
			Lock:        "SHARE UPDATE EXCLUSIVE",
			Long:        true, Kind: "maintenance", Object: k.Schema + "." + k.Table,
			Check: fmt.Sprintf("SELECT coalesce((SELECT convalidated FROM pg_catalog.pg_constraint WHERE conname = %s AND conrelid = pg_catalog.to_regclass(%s)), true)",
				quoteLiteral(k.Name), quoteLiteral(quoteIdent(k.Schema, k.Table))),
		}}}
		out = append(out, *f)
	}
	return out
}

func checkInvalidIndexes(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, ix := range c.Snap.Indexes {
		if ix.Valid || ix.BeingBuilt {
			continue
		}
		f := c.OnTable(ix.Schema, ix.Table, fmt.Sprintf("Index %s is invalid", ix.Name))
		f.ID = finding.MakeID(f.Check, ix.QualifiedName())
		f.Evidence = []finding.Evidence{ev("size_bytes", float64(ix.SizeBytes), "bytes")}
		f.Detail = fmt.Sprintf("Definition: %s. A failed concurrent build left it behind; queries cannot use it, writes still pay for it.", ix.Definition)
		f.Recommendation = "Rebuild it concurrently if it is wanted, or drop it concurrently if not."
		// An interrupted REINDEX CONCURRENTLY leaves an invalid copy named <index>_ccnew.
		ccnew := ix.Name + "_ccnew"
		f.Fix = &finding.Plan{Summary: "Rebuild the index without blocking writes", Steps: []finding.Step{{
			Description:   "rebuild " + ix.Name,
			SQL:           fmt.Sprintf("REINDEX INDEX CONCURRENTLY %s", quoteIdent(ix.Schema, ix.Name)),
			Lock:          "SHARE UPDATE EXCLUSIVE",
			NoTransaction: true,
			Long:          true, Kind: "index", Progress: "create_index", Object: ix.QualifiedName(),
			Check:        change.IndexExists(ix.Schema, ix.Name, " AND indisvalid"),
			CleanupCheck: change.IndexExists(ix.Schema, ccnew, " AND NOT indisvalid"),
			Cleanup:      "DROP INDEX CONCURRENTLY IF EXISTS " + quoteIdent(ix.Schema, ccnew),
		}}}
		out = append(out, *f)
	}
	return out
}

// typeMax is the largest value of an integer type.
func typeMax(t string) (int64, bool) {
	switch t {
	case "smallint", "int2":
		return math.MaxInt16, true
	case "integer", "int4", "int", "serial":
		return math.MaxInt32, true
	case "bigint", "int8":
		return math.MaxInt64, true
	}
	return 0, false
}

func usageSeverity(c *Context, p float64) (finding.Severity, bool) {
	switch {
	case p >= c.T("critical_pct"):
		return finding.Critical, true
	case p >= c.T("high_pct"):
		return finding.High, true
	case p >= c.T("warn_pct"):
		return finding.Medium, true
	}
	return 0, false
}

func checkSequences(c *Context) []finding.Finding {
	var out []finding.Finding
	unreadable := 0
	for _, s := range c.Snap.Sequences {
		if !s.Readable {
			unreadable++
			continue
		}
		if s.LastValue == nil || s.Cycle {
			continue
		}
		limit := s.MaxValue
		start := s.MinValue
		if s.Increment < 0 {
			limit, start = s.MinValue, s.MaxValue
		}
		if colMax, ok := typeMax(s.ColumnType); ok && s.Increment > 0 && colMax < limit {
			limit = colMax
		}
		span := math.Abs(float64(limit) - float64(start))
		used := math.Abs(float64(*s.LastValue) - float64(start))
		p := pct(used, span)
		sev, report := usageSeverity(c, p)
		if !report {
			continue
		}
		f := c.New(s.Schema+"."+s.Name, fmt.Sprintf("Sequence %s.%s has used %.1f%% of its range", s.Schema, s.Name, p))
		if s.OwnerTable != "" {
			if schema, table, ok := strings.Cut(s.OwnerTable, "."); ok {
				f.PHI = c.Class(schema, table).PHI
			}
		}
		f.Severity = sev
		f.Evidence = []finding.Evidence{ev("last_value", float64(*s.LastValue), ""), ev("limit", float64(limit), ""), ev("used_pct", round1(p), "%")}
		f.Detail = fmt.Sprintf("The sequence is %s", s.DataType)
		if s.OwnerColumn != "" {
			f.Detail += fmt.Sprintf(" and feeds %s.%s (%s)", s.OwnerTable, s.OwnerColumn, s.ColumnType)
		}
		f.Detail += fmt.Sprintf("; %d values remain.", int64(math.Abs(float64(limit)-float64(*s.LastValue))))
		f.Recommendation = "Widen the column and the sequence to bigint before the last value is handed out; on a large table do the column change as an online migration (new column, backfill in batches, swap), not a plain ALTER COLUMN TYPE, which rewrites the table under an ACCESS EXCLUSIVE lock."
		if s.ColumnType == "bigint" && s.DataType != "bigint" {
			f.Fix = &finding.Plan{Summary: "The column is already bigint: widen the sequence alone", Steps: []finding.Step{{
				Description: "make the sequence bigint",
				SQL:         fmt.Sprintf("ALTER SEQUENCE %s AS bigint MAXVALUE 9223372036854775807", quoteIdent(s.Schema, s.Name)),
				Lock:        "brief lock on the sequence",
			}}}
		}
		out = append(out, *f)
	}
	if unreadable > 0 {
		out = append(out, c.Unknown("", fmt.Sprintf("%d sequences cannot be read by the collecting role (it needs USAGE or SELECT on them)", unreadable)))
	}
	return out
}

func checkIntegerKeys(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		for _, col := range t.Columns {
			if col.MaxValue == nil {
				continue
			}
			limit, ok := typeMax(col.TypeName)
			if !ok || limit == math.MaxInt64 {
				continue
			}
			p := pct(float64(*col.MaxValue), float64(limit))
			sev, report := usageSeverity(c, p)
			if !report {
				continue
			}
			f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s.%s (%s) has reached %.1f%% of its maximum", t.Schema, t.Name, col.Name, col.Type, p))
			f.ID = finding.MakeID(f.Check, t.QualifiedName()+"."+col.Name)
			if sev > f.Severity {
				f.Severity = sev
			}
			f.Evidence = []finding.Evidence{ev("max_value", float64(*col.MaxValue), ""), ev("type_max", float64(limit), ""), ev("used_pct", round1(p), "%")}
			f.Detail = fmt.Sprintf("%d values remain before inserts fail with 'integer out of range'.", limit-*col.MaxValue)
			f.Recommendation = "Migrate the column (and every column referencing it) to bigint online: add a bigint column, backfill in batches, switch over in a short transaction. pgmedic's partition and migration tooling plans this without long locks."
			out = append(out, *f)
		}
	}
	return out
}

func checkDisabledTriggers(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, tg := range c.Snap.Triggers {
		if tg.Enabled != "disabled" {
			continue
		}
		f := c.OnTable(tg.Schema, tg.Table, fmt.Sprintf("Trigger %s on %s.%s is disabled", tg.Name, tg.Schema, tg.Table))
		f.ID = finding.MakeID(f.Check, tg.Schema+"."+tg.Table+"."+tg.Name)
		audit := strings.Contains(strings.ToLower(tg.Name+" "+tg.Function), "audit")
		if audit && f.PHI {
			f.Severity = finding.High
			f.Detail = "This looks like an audit trigger on a table holding PHI: changes to it are not being recorded."
		} else {
			f.Detail = fmt.Sprintf("It calls %s() %s %s.", tg.Function, tg.Timing, strings.Join(tg.Events, "/"))
		}
		f.Recommendation = "Enable it again unless it was switched off on purpose (and then drop it, so the schema says what runs)."
		f.Fix = &finding.Plan{Summary: "Enable the trigger", Steps: []finding.Step{{
			Description: "enable " + tg.Name,
			SQL:         fmt.Sprintf("ALTER TABLE %s ENABLE TRIGGER %s", quoteIdent(tg.Schema, tg.Table), quoteIdent(tg.Name)),
			Lock:        "SHARE ROW EXCLUSIVE", Kind: "ddl", Object: tg.Schema + "." + tg.Table,
			Check: fmt.Sprintf("SELECT coalesce((SELECT tgenabled <> 'D' FROM pg_catalog.pg_trigger WHERE tgname = %s AND tgrelid = pg_catalog.to_regclass(%s)), true)",
				quoteLiteral(tg.Name), quoteLiteral(quoteIdent(tg.Schema, tg.Table))),
		}}}
		out = append(out, *f)
	}
	return out
}

func checkSeqScans(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		if t.RowEstimate < c.T("min_rows") || float64(t.SeqScan) < c.T("min_seq_scans") {
			continue
		}
		idxPct := pct(float64(t.IdxScan), float64(t.IdxScan+t.SeqScan))
		if idxPct >= c.T("max_index_pct") {
			continue
		}
		f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s: %.0f%% of scans read the whole table", t.Schema, t.Name, 100-idxPct))
		avgRows := float64(t.SeqTupRead) / float64(t.SeqScan)
		f.Evidence = []finding.Evidence{ev("rows", math.Round(t.RowEstimate), ""), ev("seq_scans", float64(t.SeqScan), ""),
			ev("index_scans", float64(t.IdxScan), ""), ev("rows_per_seq_scan", math.Round(avgRows), ""), ev("index_scan_pct", round1(idxPct), "%")}
		f.Detail = fmt.Sprintf("%d sequential scans read %d rows in all.", t.SeqScan, t.SeqTupRead)
		if f.PHI {
			f.Detail += " This table holds PHI: each of those scans reads every patient's rows to answer for one."
		}
		f.Recommendation = "Find the statements behind the scans ('pgmedic queries') and let 'pgmedic index advise' choose indexes for the whole workload."
		out = append(out, *f)
	}
	return out
}

func checkCacheHit(c *Context) []finding.Finding {
	var heapHit, heapRead, idxHit, idxRead int64
	for _, t := range c.Snap.Tables {
		heapHit += t.HeapBlksHit
		heapRead += t.HeapBlksRead
		idxHit += t.IdxBlksHit
		idxRead += t.IdxBlksRead
	}
	var out []finding.Finding
	for _, kind := range []struct {
		name      string
		hit, read int64
	}{{"tables", heapHit, heapRead}, {"indexes", idxHit, idxRead}} {
		total := kind.hit + kind.read
		if float64(total) < c.T("min_reads") {
			continue
		}
		ratio := pct(float64(kind.hit), float64(total))
		if ratio >= c.T("min_pct") {
			continue
		}
		f := c.New(c.Snap.Server.Database+"/"+kind.name, fmt.Sprintf("%s cache hit ratio is %.1f%%", capitalize(kind.name[:len(kind.name)-1]), ratio))
		f.Evidence = []finding.Evidence{ev("hit_pct", round1(ratio), "%"), ev("blocks_hit", float64(kind.hit), ""), ev("blocks_read", float64(kind.read), "")}
		f.Detail = "Blocks not found in shared buffers come from the operating system's cache or from disk."
		f.Recommendation = "If the hot data (recent claims, active patients) does not fit in shared_buffers, raise it (see settings.shared_buffers); if the misses come from large scans, fix those with indexes first."
		out = append(out, *f)
	}
	return out
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
