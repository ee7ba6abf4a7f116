package snapshot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/pgerr"
)

// userSchemas excludes the system schemas from catalog queries.
const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'`

// notExtensionMember excludes relations an extension owns (pg_partman's configuration
// tables, say): they are not the application's schema.
func notExtensionMember(rel string) string {
	return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = ` + rel + ` AND e.deptype = 'e')`
}

func (c *collector) server(ctx context.Context) error {
	s := &c.s.Server
	var versionNum string
	err := c.q.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num'),
		current_database(), current_user,
		coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
		pg_is_in_recovery(), pg_postmaster_start_time(),
		current_setting('data_checksums') = 'on', current_setting('block_size')::int`).
		Scan(&s.Version, &versionNum, &s.Database, &s.User, &s.Superuser, &s.InRecovery, &s.StartedAt, &s.DataChecksums, &s.BlockSize)
	if err != nil {
		return err
	}
	if i := strings.IndexByte(s.Version, ' '); i > 0 {
		s.Version = s.Version[:i] // "15.18 (Debian 15.18-0+deb12u1)" → "15.18"
	}
	if _, err := fmt.Sscan(versionNum, &s.VersionNum); err != nil {
		return fmt.Errorf("reading server_version_num %q: %w", versionNum, err)
	}
	if s.Major() < 13 {
		return fmt.Errorf("PostgreSQL %s is older than 13, the oldest version pgmedic supports", s.Version)
	}
	s.StartedAt = s.StartedAt.UTC()
	s.Local = c.opts.Local
	rows, err := c.q.Query(ctx, `SELECT r FROM unnest(ARRAY['pg_monitor', 'pg_read_all_stats', 'pg_read_all_settings',
		'pg_stat_scan_tables', 'pg_read_all_data', 'pg_signal_backend']) AS r
		WHERE pg_has_role(current_user, r, 'MEMBER')`)
	if err != nil {
		return err
	}
	s.MemberOf, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}

// canReadAllStats: superusers and pg_read_all_stats members see every session and
// statement; others see only their own.
func (c *collector) canReadAllStats() bool {
	if c.s.Server.Superuser {
		return true
	}
	for _, r := range c.s.Server.MemberOf {
		if r == "pg_read_all_stats" || r == "pg_monitor" {
			return true
		}
	}
	return false
}

func (c *collector) settings(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT name, coalesce(setting, ''), coalesce(unit, ''), coalesce(source, ''),
		coalesce(boot_val, ''), pending_restart FROM pg_settings ORDER BY name`)
	if err != nil {
		return err
	}
	c.s.Settings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Setting, error) {
		var st Setting
		err := r.Scan(&st.Name, &st.Value, &st.Unit, &st.Source, &st.BootValue, &st.PendingRestart)
		return st, err
	})
	return err
}

func (c *collector) extensions(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT a.name, coalesce(a.installed_version, ''), coalesce(a.default_version, ''),
		coalesce(n.nspname, '')
		FROM pg_available_extensions a
		LEFT JOIN pg_extension e ON e.extname = a.name
		LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
		ORDER BY a.name`)
	if err != nil {
		return err
	}
	c.s.Extensions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Extension, error) {
		var e Extension
		err := r.Scan(&e.Name, &e.InstalledVersion, &e.DefaultVersion, &e.Schema)
		return e, err
	})
	return err
}

func (c *collector) databases(ctx context.Context) error {
	checksums := "NULL::bigint"
	if c.s.Server.Major() >= 12 {
		checksums = "s.checksum_failures"
	}
	rows, err := c.q.Query(ctx, `SELECT d.datname,
		CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
		     THEN pg_database_size(d.oid) END,
		age(d.datfrozenxid), mxid_age(d.datminmxid), d.datconnlimit, d.datallowconn,
		coalesce(s.numbackends, 0), coalesce(s.xact_commit, 0), coalesce(s.xact_rollback, 0),
		coalesce(s.blks_read, 0), coalesce(s.blks_hit, 0), coalesce(s.temp_files, 0), coalesce(s.temp_bytes, 0),
		coalesce(s.deadlocks, 0), coalesce(s.conflicts, 0), `+checksums+`, s.stats_reset
		FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
		WHERE NOT d.datistemplate ORDER BY d.datname`)
	if err != nil {
		return err
	}
	c.s.Databases, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Database, error) {
		var d Database
		var size *int64
		err := r.Scan(&d.Name, &size, &d.FrozenXIDAge, &d.MinMXIDAge, &d.ConnLimit, &d.AllowConn, &d.Backends,
			&d.XactCommit, &d.XactRollback, &d.BlksRead, &d.BlksHit, &d.TempFiles, &d.TempBytes, &d.Deadlocks,
			&d.Conflicts, &d.ChecksumFails, &d.StatsReset)
		if size != nil {
			d.SizeBytes = *size
		} else {
			d.SizeBytes = -1
		}
		return d, err
	})
	return err
}

// tableSQL reads tables with their statistics. Sizes come from pg_relation_size and
// friends, which wait for a lock behind an ACCESS EXCLUSIVE holder; when that times
// out the part is retried with sizes from relpages (estimates, no locks).
func tableSQL(exact bool) string {
	sizes := `pg_relation_size(c.oid), coalesce(pg_total_relation_size(c.reltoastrelid), 0),
		pg_indexes_size(c.oid), pg_total_relation_size(c.oid), true`
	if !exact {
		sizes = `c.relpages::bigint * current_setting('block_size')::bigint,
		coalesce(t.relpages::bigint * current_setting('block_size')::bigint, 0),
		coalesce((SELECT sum(i.relpages)::bigint FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0) * current_setting('block_size')::bigint,
		0::bigint, false`
	}
	return `SELECT n.nspname, c.relname, c.oid::int8,
		CASE WHEN c.relkind = 'p' THEN 'partitioned' WHEN c.relkind = 'm' THEN 'materialized view'
		     WHEN c.relispartition THEN 'partition' ELSE 'table' END,
		coalesce((SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
		          JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1), ''),
		CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END,
		coalesce(c.reloptions, '{}'), coalesce(t.reloptions, '{}'),
		greatest(c.reltuples, 0)::float8, c.reltuples < 0, c.relpages::bigint, ` + sizes + `,
		coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0), coalesce(s.idx_tup_fetch, 0),
		coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_del, 0), coalesce(s.n_tup_hot_upd, 0),
		coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0), coalesce(s.n_mod_since_analyze, 0), coalesce(s.n_ins_since_vacuum, 0),
		s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
		coalesce(io.heap_blks_read, 0), coalesce(io.heap_blks_hit, 0), coalesce(io.idx_blks_read, 0), coalesce(io.idx_blks_hit, 0),
		CASE WHEN c.relkind = 'p' THEN 0 ELSE greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0)) END,
		CASE WHEN c.relkind = 'p' THEN 0 ELSE mxid_age(c.relminmxid) END,
		c.relrowsecurity, c.relforcerowsecurity,
		EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary),
		has_table_privilege(c.oid, 'SELECT')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
		LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
		LEFT JOIN pg_statio_all_tables io ON io.relid = c.oid
		WHERE c.relkind IN ('r', 'p', 'm') AND ` + userSchemas + ` AND ` + notExtensionMember("c.oid") + `
		ORDER BY n.nspname, c.relname`
}

func (c *collector) tables(ctx context.Context) error {
	list, err := c.readTables(ctx, true)
	if pgerr.Is(err, pgerr.LockNotAvailable) {
		c.note("a table was locked, so sizes are estimates from relpages")
		list, err = c.readTables(ctx, false)
	}
	if err != nil {
		return err
	}
	c.s.Tables = list
	return nil
}

func (c *collector) readTables(ctx context.Context, exact bool) ([]Table, error) {
	rows, err := c.q.Query(ctx, tableSQL(exact))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Table, error) {
		var t Table
		var oid int64
		var readable bool
		err := r.Scan(&t.Schema, &t.Name, &oid, &t.Kind, &t.Parent, &t.Persistence, &t.Options, &t.ToastOpts,
			&t.RowEstimate, &t.NeverAnalyzed, &t.Pages, &t.HeapBytes, &t.ToastBytes, &t.IndexBytes, &t.TotalBytes, &t.SizeExact,
			&t.SeqScan, &t.SeqTupRead, &t.IdxScan, &t.IdxTupFetch, &t.Inserts, &t.Updates, &t.Deletes, &t.HotUpdates,
			&t.LiveTuples, &t.DeadTuples, &t.ModSinceAnalyze, &t.InsSinceVacuum,
			&t.LastVacuum, &t.LastAutovacuum, &t.LastAnalyze, &t.LastAutoanalyze,
			&t.HeapBlksRead, &t.HeapBlksHit, &t.IdxBlksRead, &t.IdxBlksHit, &t.FrozenXIDAge, &t.MinMXIDAge,
			&t.RLSEnabled, &t.RLSForced, &t.HasPrimaryKey, &readable)
		t.OID = uint32(oid)
		if !exact {
			t.TotalBytes = t.HeapBytes + t.ToastBytes + t.IndexBytes
		}
		t.FillFactor = optionInt(t.Options, "fillfactor", 100)
		// Column statistics are readable when the role may read the table; pg_stats
		// hides them otherwise.
		t.ColumnStatsKnown = readable
		return t, err
	})
}

// optionInt reads an integer reloption such as fillfactor=70.
func optionInt(opts []string, name string, def int) int {
	for _, o := range opts {
		if k, v, ok := strings.Cut(o, "="); ok && k == name {
			var n int
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return def
}

func (c *collector) columns(ctx context.Context) error {
	if len(c.s.Tables) == 0 {
		return nil
	}
	byOID := map[uint32]*Table{}
	oids := make([]int64, 0, len(c.s.Tables))
	for i := range c.s.Tables {
		byOID[c.s.Tables[i].OID] = &c.s.Tables[i]
		oids = append(oids, int64(c.s.Tables[i].OID))
	}
	// avg_width, null_frac, n_distinct and correlation only: most_common_vals and
	// histogram_bounds are row values and never enter a snapshot.
	rows, err := c.q.Query(ctx, `SELECT a.attrelid::int8, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
		ty.typname, a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
		CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' ELSE '' END,
		ty.typlen, ty.typalign::text, st.avg_width, st.null_frac::float8, st.n_distinct::float8, st.correlation::float8
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname AND NOT st.inherited
		WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attrelid, a.attnum`, oids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var oid int64
		var col Column
		var width *int32
		if err := rows.Scan(&oid, &col.Name, &col.Num, &col.Type, &col.TypeName, &col.NotNull, &col.Default, &col.Identity,
			&col.TypLen, &col.TypAlign, &width, &col.NullFrac, &col.NDistinct, &col.Correlation); err != nil {
			return err
		}
		if width != nil {
			w := int(*width)
			col.AvgWidth = &w
		}
		if t := byOID[uint32(oid)]; t != nil {
			t.Columns = append(t.Columns, col)
		}
	}
	return rows.Err()
}

func (c *collector) indexes(ctx context.Context) error {
	list, err := c.readIndexes(ctx, true)
	if pgerr.Is(err, pgerr.LockNotAvailable) {
		c.note("an index was locked, so index sizes are estimates from relpages")
		list, err = c.readIndexes(ctx, false)
	}
	if err != nil {
		return err
	}
	c.s.Indexes = list
	return nil
}

func (c *collector) readIndexes(ctx context.Context, exact bool) ([]Index, error) {
	size := "pg_relation_size(i.oid)"
	if !exact {
		size = "i.relpages::bigint * current_setting('block_size')::bigint"
	}
	rows, err := c.q.Query(ctx, `SELECT n.nspname, t.relname, i.relname, i.oid::int8, pg_get_indexdef(i.oid), am.amname,
		ARRAY(SELECT pg_get_indexdef(i.oid, k, true) FROM generate_series(1, x.indnatts) AS k ORDER BY k),
		x.indnkeyatts, coalesce(pg_get_expr(x.indpred, x.indrelid, true), ''),
		x.indisunique, x.indisprimary, x.indisvalid, x.indisready,
		EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.oid),
		coalesce((SELECT conname FROM pg_constraint WHERE conindid = i.oid AND contype IN ('p', 'u', 'x') LIMIT 1), ''),
		`+size+`, i.relpages::bigint, greatest(i.reltuples, 0)::float8,
		coalesce(s.idx_scan, 0), coalesce(s.idx_tup_read, 0), coalesce(s.idx_tup_fetch, 0),
		coalesce(io.idx_blks_read, 0), coalesce(io.idx_blks_hit, 0), coalesce(i.reloptions, '{}'),
		ARRAY(SELECT concat_ws(' ',
		        CASE WHEN NOT opc.opcdefault THEN opc.opcname::text END,
		        CASE WHEN x.indcollation[k - 1] <> 0 AND x.indcollation[k - 1] <> coalesce(att.attcollation, 0)
		             THEN (SELECT 'COLLATE ' || quote_ident(co.collname) FROM pg_collation co WHERE co.oid = x.indcollation[k - 1]) END,
		        CASE WHEN am.amname = 'btree' AND x.indoption[k - 1] & 1 = 1 THEN 'DESC' END,
		        CASE WHEN am.amname = 'btree' AND (x.indoption[k - 1] & 2 = 2) <> (x.indoption[k - 1] & 1 = 1)
		             THEN CASE WHEN x.indoption[k - 1] & 2 = 2 THEN 'NULLS FIRST' ELSE 'NULLS LAST' END END)
		      FROM generate_series(1, x.indnkeyatts) AS k
		      LEFT JOIN pg_opclass opc ON opc.oid = x.indclass[k - 1]
		      LEFT JOIN pg_attribute att ON att.attrelid = x.indrelid AND att.attnum = x.indkey[k - 1] AND x.indkey[k - 1] > 0
		      ORDER BY k)
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		JOIN pg_am am ON am.oid = i.relam
		LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.oid
		LEFT JOIN pg_statio_all_indexes io ON io.indexrelid = i.oid
		WHERE t.relkind IN ('r', 'p', 'm') AND `+userSchemas+` AND `+notExtensionMember("t.oid")+`
		ORDER BY n.nspname, t.relname, i.relname`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Index, error) {
		var ix Index
		var oid int64
		var cols []string
		var opts, keyOpts []string
		err := r.Scan(&ix.Schema, &ix.Table, &ix.Name, &oid, &ix.Definition, &ix.Method, &cols, &ix.KeyCount, &ix.Predicate,
			&ix.Unique, &ix.Primary, &ix.Valid, &ix.Ready, &ix.BeingBuilt, &ix.Constraint, &ix.SizeBytes, &ix.Pages, &ix.Tuples,
			&ix.Scans, &ix.TupRead, &ix.TupFetch, &ix.BlksRead, &ix.BlksHit, &opts, &keyOpts)
		for _, o := range keyOpts {
			if o != "" {
				ix.KeyOptions = keyOpts // only kept when some key has options
				break
			}
		}
		ix.OID = uint32(oid)
		if ix.KeyCount > len(cols) {
			ix.KeyCount = len(cols)
		}
		ix.Columns = cols[:ix.KeyCount]
		if len(cols) > ix.KeyCount {
			ix.Include = cols[ix.KeyCount:]
		}
		def := 90 // btree's default fillfactor
		if ix.Method != "btree" {
			def = 100
		}
		ix.FillFactor = optionInt(opts, "fillfactor", def)
		return ix, err
	})
}

func (c *collector) constraints(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT n.nspname, t.relname, k.conname,
		CASE k.contype WHEN 'p' THEN 'primary' WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign' WHEN 'c' THEN 'check'
		               WHEN 'x' THEN 'exclusion' ELSE k.contype::text END,
		k.convalidated, pg_get_constraintdef(k.oid, true),
		ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
		      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o),
		coalesce(rn.nspname, ''), coalesce(rt.relname, ''),
		ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
		      JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o)
		FROM pg_constraint k
		JOIN pg_class t ON t.oid = k.conrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		LEFT JOIN pg_class rt ON rt.oid = k.confrelid
		LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace
		WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND `+userSchemas+` AND `+notExtensionMember("t.oid")+`
		ORDER BY n.nspname, t.relname, k.conname`)
	if err != nil {
		return err
	}
	c.s.Constraints, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Constraint, error) {
		var k Constraint
		err := r.Scan(&k.Schema, &k.Table, &k.Name, &k.Type, &k.Validated, &k.Definition, &k.Columns,
			&k.RefSchema, &k.RefTable, &k.RefColumns)
		return k, err
	})
	return err
}

// keyRanges reads the largest value of smallint and integer key columns (primary and
// unique keys, identity and serial columns) through the btree index that leads with
// them: one index probe each, no table scan.
func (c *collector) keyRanges(ctx context.Context) error {
	leading := map[string]bool{} // schema.table.column led by a valid btree index
	for _, ix := range c.s.Indexes {
		if ix.Valid && ix.Method == "btree" && len(ix.Columns) > 0 && ix.Predicate == "" {
			leading[ix.Schema+"."+ix.Table+"."+ix.Columns[0]] = true
		}
	}
	denied := 0
	for ti := range c.s.Tables {
		t := &c.s.Tables[ti]
		for ci := range t.Columns {
			col := &t.Columns[ci]
			if col.TypeName != "int4" && col.TypeName != "int2" {
				continue
			}
			if !leading[t.Schema+"."+t.Name+"."+col.Name] {
				continue
			}
			sql := fmt.Sprintf("SELECT max(%s)::int8 FROM %s", pgx.Identifier{col.Name}.Sanitize(), pgx.Identifier{t.Schema, t.Name}.Sanitize())
			var v *int64
			if err := c.q.QueryRow(ctx, sql).Scan(&v); err != nil {
				if pgerr.Privilege(err) {
					denied++
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c.note("%s.%s: %s", t.QualifiedName(), col.Name, reason(err))
				continue
			}
			col.MaxValue = v
		}
	}
	if denied > 0 {
		c.note("%d key columns in tables this role may not read", denied)
	}
	return nil
}

func (c *collector) sequences(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT s.schemaname, s.sequencename, format_type(q.seqtypid, NULL),
		CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN s.last_value END,
		has_sequence_privilege(c.oid, 'SELECT,USAGE'),
		s.min_value, s.max_value, s.increment_by, s.cycle,
		coalesce(tn.nspname || '.' || t.relname, ''), coalesce(a.attname::text, ''),
		coalesce(format_type(a.atttypid, NULL), '')
		FROM pg_sequences s
		JOIN pg_namespace n ON n.nspname = s.schemaname
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
		JOIN pg_sequence q ON q.seqrelid = c.oid
		LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
		     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		LEFT JOIN pg_class t ON t.oid = d.refobjid
		LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
		LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE `+userSchemas+` AND `+notExtensionMember("c.oid")+`
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	c.s.Sequences, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Sequence, error) {
		var s Sequence
		err := r.Scan(&s.Schema, &s.Name, &s.DataType, &s.LastValue, &s.Readable, &s.MinValue, &s.MaxValue,
			&s.Increment, &s.Cycle, &s.OwnerTable, &s.OwnerColumn, &s.ColumnType)
		return s, err
	})
	if err != nil {
		return err
	}
	unreadable := 0
	for _, s := range c.s.Sequences {
		if !s.Readable {
			unreadable++
		}
	}
	if unreadable > 0 {
		c.note("%d sequences this role may not read", unreadable)
	}
	return nil
}

func (c *collector) triggers(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT n.nspname, t.relname, g.tgname, p.proname,
		CASE g.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END,
		CASE WHEN g.tgtype & 2 <> 0 THEN 'before' WHEN g.tgtype & 64 <> 0 THEN 'instead of' ELSE 'after' END,
		array_remove(ARRAY[CASE WHEN g.tgtype & 4 <> 0 THEN 'insert' END, CASE WHEN g.tgtype & 16 <> 0 THEN 'update' END,
		      CASE WHEN g.tgtype & 8 <> 0 THEN 'delete' END, CASE WHEN g.tgtype & 32 <> 0 THEN 'truncate' END], NULL)
		FROM pg_trigger g
		JOIN pg_class t ON t.oid = g.tgrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		JOIN pg_proc p ON p.oid = g.tgfoid
		WHERE NOT g.tgisinternal AND `+userSchemas+` AND `+notExtensionMember("t.oid")+`
		ORDER BY 1, 2, 3`)
	if err != nil {
		return err
	}
	c.s.Triggers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Trigger, error) {
		var t Trigger
		err := r.Scan(&t.Schema, &t.Table, &t.Name, &t.Function, &t.Enabled, &t.Timing, &t.Events)
		return t, err
	})
	return err
}

func (c *collector) roles(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT r.rolname, r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb,
		r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil,
		ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)
		FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY r.rolname`)
	if err != nil {
		return err
	}
	c.s.Roles, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Role, error) {
		var ro Role
		err := r.Scan(&ro.Name, &ro.Superuser, &ro.CanLogin, &ro.CreateRole, &ro.CreateDB, &ro.Replication,
			&ro.BypassRLS, &ro.ConnLimit, &ro.ValidUntil, &ro.MemberOf)
		return ro, err
	})
	if err != nil {
		return err
	}
	if !c.s.Server.Superuser {
		c.note("password kinds need superuser (pg_authid)")
		return nil
	}
	// The kind of stored password only: the hash itself is never read into pgmedic.
	kinds, err := c.q.Query(ctx, `SELECT rolname, CASE WHEN rolpassword IS NULL THEN 'none'
		WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256' WHEN rolpassword LIKE 'md5%' THEN 'md5'
		ELSE 'plaintext' END FROM pg_authid`)
	if err != nil {
		c.note("password kinds: %s", reason(err))
		return nil
	}
	byName := map[string]string{}
	for kinds.Next() {
		var name, kind string
		if err := kinds.Scan(&name, &kind); err != nil {
			kinds.Close()
			return err
		}
		byName[name] = kind
	}
	kinds.Close()
	for i := range c.s.Roles {
		c.s.Roles[i].PasswordKind = byName[c.s.Roles[i].Name]
	}
	return kinds.Err()
}

func (c *collector) activity(ctx context.Context) error {
	queryID := "NULL::int8"
	if c.s.Server.Major() >= 14 {
		queryID = "a.query_id"
	}
	rows, err := c.q.Query(ctx, `SELECT a.pid, coalesce(a.datname, ''), coalesce(a.usename, ''), coalesce(a.application_name, ''),
		coalesce(host(a.client_addr), ''), coalesce(a.backend_type, ''), coalesce(a.state, ''),
		coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''),
		a.backend_start, a.xact_start, a.query_start, a.state_change,
		age(a.backend_xid)::int8, age(a.backend_xmin)::int8, `+queryID+`,
		upper(coalesce(substring(a.query from '^\s*(?:/\*.*?\*/\s*)*([A-Za-z]+)'), '')),
		pg_blocking_pids(a.pid),
		coalesce((SELECT l.relation::regclass::text FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.relation IS NOT NULL LIMIT 1), ''),
		ssl.ssl
		FROM pg_stat_activity a
		LEFT JOIN pg_stat_ssl ssl ON ssl.pid = a.pid
		WHERE a.pid <> pg_backend_pid()
		ORDER BY a.pid`)
	if err != nil {
		return err
	}
	c.s.Sessions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) {
		var s Session
		var blocked []int32
		err := r.Scan(&s.PID, &s.Database, &s.User, &s.Application, &s.ClientAddr, &s.BackendType, &s.State,
			&s.WaitEventType, &s.WaitEvent, &s.BackendStart, &s.XactStart, &s.QueryStart, &s.StateChange,
			&s.XIDAge, &s.XminAge, &s.QueryID, &s.Command, &blocked, &s.WaitingOn, &s.SSL)
		for _, b := range blocked {
			s.BlockedBy = append(s.BlockedBy, int(b))
		}
		return s, err
	})
	if err == nil && !c.canReadAllStats() {
		c.note("without pg_read_all_stats (or pg_monitor) other roles' sessions show no state")
	}
	return err
}

func (c *collector) locks(ctx context.Context) error {
	rows, err := c.q.Query(ctx, `SELECT locktype, mode, granted, count(*)::int FROM pg_locks
		WHERE pid <> pg_backend_pid() GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	if err != nil {
		return err
	}
	c.s.Locks, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (LockCount, error) {
		var l LockCount
		err := r.Scan(&l.LockType, &l.Mode, &l.Granted, &l.Count)
		return l, err
	})
	return err
}

func (c *collector) replication(ctx context.Context) error {
	rep := &c.s.Replication
	if c.s.Server.InRecovery {
		err := c.q.QueryRow(ctx, `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
			ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8,
			pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8`).Scan(&rep.ReplayLagSeconds, &rep.ReceiveLagBytes)
		if err != nil {
			return err
		}
	} else {
		if err := c.q.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&rep.CurrentWALLSN); err != nil {
			return err
		}
		rows, err := c.q.Query(ctx, `SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''),
			coalesce(state, ''), coalesce(sync_state, ''),
			extract(epoch FROM write_lag)::float8, extract(epoch FROM flush_lag)::float8, extract(epoch FROM replay_lag)::float8,
			pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8
			FROM pg_stat_replication ORDER BY 1`)
		if err != nil {
			return err
		}
		rep.Replicas, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Replica, error) {
			var x Replica
			err := r.Scan(&x.Application, &x.ClientAddr, &x.State, &x.SyncState, &x.WriteLagSeconds, &x.FlushLagSeconds,
				&x.ReplayLagSeconds, &x.ReplayLagBytes)
			return x, err
		})
		if err != nil {
			return err
		}
	}
	lsn := "pg_current_wal_lsn()"
	if c.s.Server.InRecovery {
		lsn = "pg_last_wal_receive_lsn()"
	}
	rows, err := c.q.Query(ctx, `SELECT slot_name, slot_type, coalesce(database, ''), active, temporary,
		coalesce(wal_status, ''), pg_wal_lsn_diff(`+lsn+`, restart_lsn)::int8, safe_wal_size
		FROM pg_replication_slots ORDER BY slot_name`)
	if err != nil {
		return err
	}
	rep.Slots, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Slot, error) {
		var s Slot
		err := r.Scan(&s.Name, &s.Type, &s.Database, &s.Active, &s.Temporary, &s.WALStatus, &s.RetainedBytes, &s.SafeWALSize)
		return s, err
	})
	return err
}

func (c *collector) archiver(ctx context.Context) error {
	a := &Archiver{}
	if err := c.q.QueryRow(ctx, `SELECT current_setting('archive_mode'), archived_count, failed_count,
		last_archived_time, last_failed_time, stats_reset FROM pg_stat_archiver`).
		Scan(&a.Mode, &a.Archived, &a.Failed, &a.LastArchivedTime, &a.LastFailedTime, &a.StatsReset); err != nil {
		return err
	}
	var ready int
	if err := c.q.QueryRow(ctx, `SELECT count(*)::int FROM pg_ls_archive_statusdir() WHERE name ~ '\.ready$'`).Scan(&ready); err != nil {
		c.note("WAL files waiting to be archived: %s", reason(err))
	} else {
		a.ReadyFiles = &ready
	}
	c.s.Archiver = a
	return nil
}

func (c *collector) checkpoints(ctx context.Context) error {
	cp := &Checkpoints{}
	sql := `SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, buffers_checkpoint, stats_reset
		FROM pg_stat_bgwriter`
	if c.s.Server.Major() >= 17 {
		sql = `SELECT num_timed, num_requested, write_time, sync_time, buffers_written, stats_reset FROM pg_stat_checkpointer`
	}
	if err := c.q.QueryRow(ctx, sql).Scan(&cp.Timed, &cp.Requested, &cp.WriteTimeMs, &cp.SyncTimeMs, &cp.BuffersWritten, &cp.StatsReset); err != nil {
		return err
	}
	c.s.Checkpoints = cp
	return nil
}

func (c *collector) wal(ctx context.Context) error {
	w := &WAL{}
	if err := c.q.QueryRow(ctx, `SELECT wal_records, wal_bytes::int8, wal_buffers_full, stats_reset FROM pg_stat_wal`).
		Scan(&w.Records, &w.Bytes, &w.BuffersFull, &w.StatsReset); err != nil {
		return err
	}
	c.s.WAL = w
	return nil
}

// timeOrNil keeps timestamps UTC in the JSON.
func timeOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
