package snapshot

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

// maxQueryText caps a statement's text: pg_stat_statements keeps whole texts, and a
// generated IN list can run to megabytes. A cut text is marked Truncated: it cannot be
// planned, and the analyzers say so.
const maxQueryText = 64 << 10

func (c *collector) workload(ctx context.Context) error {
	w := &c.s.Workload
	if st, ok := c.s.Setting("pg_stat_statements.track"); ok {
		w.Track = st.Value
	}
	if st, ok := c.s.Setting("pg_stat_statements.max"); ok {
		fmt.Sscan(st.Value, &w.Max)
	}
	ext, installed := c.s.Extension("pg_stat_statements")
	preload, _ := c.s.Setting("shared_preload_libraries")
	loaded := slices.Contains(splitList(preload.Value), "pg_stat_statements")
	switch {
	case !installed || ext.InstalledVersion == "":
		w.Reason = "the pg_stat_statements extension is not installed in this database"
		if !loaded {
			w.Reason += ", and it is not in shared_preload_libraries"
		}
		return nil
	case !loaded && preload.Name != "":
		w.Reason = "pg_stat_statements is installed but not in shared_preload_libraries, so it records nothing"
		return nil
	}

	view := pgx.Identifier{ext.Schema, "pg_stat_statements"}.Sanitize()
	rows, err := c.q.Query(ctx, `SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0`, view)
	if err != nil {
		return err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	has := func(name string) bool { return slices.Contains(cols, name) }
	pick := func(candidates ...string) string {
		for _, cand := range candidates {
			if has(cand) {
				return "s." + cand
			}
		}
		return "0"
	}
	jit := "0"
	if has("jit_generation_time") {
		jit = "s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time + s.jit_emission_time"
	}
	toplevel := "true"
	if has("toplevel") {
		toplevel = "s.toplevel"
	}
	sql := fmt.Sprintf(`SELECT s.queryid, coalesce(d.datname, ''), coalesce(r.rolname, ''), coalesce(s.query, ''), s.calls,
		%s::float8, %s::float8, %s::float8, %s::float8, %s::float8, %s::float8, s.rows,
		s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied, s.shared_blks_written,
		s.temp_blks_read, s.temp_blks_written, %s::float8, %s::int8, %s::int8, (%s)::float8, %s
		FROM %s s
		LEFT JOIN pg_database d ON d.oid = s.dbid
		LEFT JOIN pg_roles r ON r.oid = s.userid
		WHERE left(ltrim(s.query), %d) <> %s
		ORDER BY 6 DESC LIMIT $1`,
		pick("total_exec_time", "total_time"), pick("mean_exec_time", "mean_time"), pick("min_exec_time", "min_time"),
		pick("max_exec_time", "max_time"), pick("stddev_exec_time", "stddev_time"), pick("total_plan_time"),
		pick("shared_blk_read_time", "blk_read_time"), pick("wal_bytes"), pick("jit_functions"), jit, toplevel, view,
		len(markerText), quote(markerText))
	rows, err = c.q.Query(ctx, sql, c.opts.MaxStatements)
	if err != nil {
		return err
	}
	w.Statements, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Statement, error) {
		var s Statement
		var qid *int64
		err := r.Scan(&qid, &s.Database, &s.User, &s.Query, &s.Calls, &s.TotalExecMs, &s.MeanExecMs, &s.MinExecMs,
			&s.MaxExecMs, &s.StddevExecMs, &s.TotalPlanMs, &s.Rows, &s.SharedBlksHit, &s.SharedBlksRead, &s.SharedDirtied,
			&s.SharedWritten, &s.TempBlksRead, &s.TempBlksWritten, &s.BlkReadTimeMs, &s.WALBytes, &s.JITFunctions,
			&s.JITTimeMs, &s.TopLevel)
		if qid != nil {
			s.QueryID = *qid
		}
		// pg_stat_statements replaces constants with $n in the statements it plans, but
		// keeps utility statements (SET, CREATE ...) as written: scrub what is left.
		if planned(s.Query) {
			s.Query = ScrubStrings(s.Query)
		} else {
			s.Query = ScrubLiterals(s.Query)
		}
		if len(s.Query) > maxQueryText {
			s.Query, s.Truncated = s.Query[:maxQueryText], true
		}
		return s, err
	})
	if err != nil {
		return err
	}
	if err := c.q.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(sum(calls), 0)::int8, coalesce(sum(%s), 0)::float8 FROM %s s
		WHERE left(ltrim(s.query), %d) <> %s`,
		pick("total_exec_time", "total_time"), view, len(markerText), quote(markerText))).Scan(&w.TotalCalls, &w.TotalTimeMs); err != nil {
		return err
	}
	if c.s.Server.Major() >= 14 {
		info := pgx.Identifier{ext.Schema, "pg_stat_statements_info"}.Sanitize()
		if err := c.q.QueryRow(ctx, "SELECT dealloc, stats_reset FROM "+info).Scan(&w.Deallocs, &w.StatsSince); err != nil {
			c.note("pg_stat_statements_info: %s", reason(err))
		}
		w.StatsSince = timeOrNil(w.StatsSince)
	}
	w.Available = true
	if !c.canReadAllStats() {
		c.note("without pg_read_all_stats other roles' statement texts are hidden")
	}
	return nil
}

// planned reports whether a statement is one pg_stat_statements normalises (its
// constants became $n), as opposed to a utility statement it keeps as written.
func planned(q string) bool {
	f := strings.Fields(strings.TrimSpace(q))
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(strings.TrimLeft(f[0], "(")) {
	case "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE":
		return true
	}
	return false
}

// markerText is pgmedic's marker without its trailing space, as it starts the stored text.
var markerText = strings.TrimSpace(policy.Marker)

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.Trim(strings.TrimSpace(p), `"`); p != "" {
			out = append(out, p)
		}
	}
	return out
}
