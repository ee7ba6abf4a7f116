package explain

import (
	"context"
	"strings"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// columnStats is what pg_stats says about a column's values. The values stay in this
// process: they only become EXPLAIN parameters on the planner's own session.
type columnStats struct {
	mcv      []string
	mcf      []float64 // the frequency of each most common value
	hist     []string
	nullFrac float64
	ok       bool
}

// Representative chooses, for each $n, a value typical of what the parameter is
// compared with, from the column's statistics:
//   - equality: a value from the middle of the histogram (a typical, non-dominant value);
//     for low-cardinality columns with no histogram, the least common of the most
//     common values, since queues and work lists filter for the rare states (pended,
//     pending, failed);
//   - one-sided ranges: the 95th percentile for > and >= (recent dates), the 5th for <;
//   - two-sided ranges (BETWEEN, >= and <): one histogram bucket, about 1 % of rows;
//   - LIMIT 20, OFFSET 0;
//
// and, where no statistics speak, a plausible value of the parameter's type or of the
// function argument it fills (date_trunc('day', ...)). Columns the planner was told are
// sensitive never give a value from their statistics: equality gets a synthetic value
// of the type (the planner estimates any value outside the common ones alike), ranges
// a point between two histogram bounds.
//
// Generic plans cost such predicates with fixed default selectivities (a third of the
// table for one-sided ranges), which hides the value of an index on a date column. ok
// is false when some parameter has no value; plan generically then.
func (p *Planner) Representative(ctx context.Context, s *Statement) ([]*string, bool) {
	st := s.Parsed
	n := s.Params()
	if n == 0 {
		return nil, false
	}
	vals := make([]*string, n)
	set := func(i int, v string) {
		if i >= 1 && i <= len(vals) && vals[i-1] == nil {
			vv := v
			vals[i-1] = &vv
		}
	}
	if st.Limit != nil && st.Limit.Param > 0 {
		set(st.Limit.Param, "20")
	}
	if st.Offset != nil && st.Offset.Param > 0 {
		set(st.Offset.Param, "0")
	}
	p.fromStatistics(ctx, st, set)
	ranged := rangeParams(st)
	for i := 1; i <= n; i++ {
		// A range bound no statistics give stays unknown: a made-up one (today's
		// date) would cost the range as empty. The generic plan is the honest one.
		if vals[i-1] == nil && !ranged[i] {
			if v, ok := p.typedValue(ctx, s, i); ok {
				set(i, v)
			}
		}
	}
	for _, v := range vals {
		if v == nil {
			return nil, false
		}
	}
	return vals, true
}

// fromStatistics sets the values pg_stats gives for parameters compared with columns.
func (p *Planner) fromStatistics(ctx context.Context, st *sqlparse.Statement, set func(int, string)) {
	// Two-sided ranges on one column: col >= $a AND col < $b.
	type rangeEnds struct{ lo, hi int }
	ranges := map[string]*rangeEnds{}
	for _, pr := range st.Predicates {
		if pr.Value != sqlparse.ValParam || pr.Param == 0 || pr.InOr {
			continue
		}
		key := pr.Table + "." + pr.Column
		r := ranges[key]
		if r == nil {
			r = &rangeEnds{}
			ranges[key] = r
		}
		switch pr.Op {
		case ">", ">=":
			r.lo = pr.Param
		case "<", "<=":
			r.hi = pr.Param
		case "BETWEEN":
			if len(pr.Params) == 2 {
				r.lo, r.hi = pr.Params[0], pr.Params[1]
			}
		}
	}
	for _, pr := range st.Predicates {
		if pr.Param == 0 || pr.Table == "" || pr.Value != sqlparse.ValParam && pr.Value != sqlparse.ValList {
			continue
		}
		cs := p.stats(ctx, pr.Table, pr.Column)
		if !cs.ok {
			continue
		}
		if p.sensitive != nil && p.sensitive(pr.Table, pr.Column) {
			sensitiveValue(pr, cs, set)
			continue
		}
		r := ranges[pr.Table+"."+pr.Column]
		dist := cs.distribution()
		switch {
		case r != nil && r.lo > 0 && r.hi > 0 && len(dist) >= 3:
			lo, hi := dist.bucket(0.90)
			set(r.lo, lo)
			set(r.hi, hi)
		case pr.Op == ">" || pr.Op == ">=":
			if len(dist) > 0 {
				set(pr.Param, dist.quantile(0.95))
			}
		case pr.Op == "<" || pr.Op == "<=":
			if len(dist) > 0 {
				set(pr.Param, dist.quantile(0.05))
			}
		case pr.Op == "ANY":
			// = ANY($1) takes an array.
			if len(cs.hist) > 0 {
				set(pr.Param, "{"+arrayElem(cs.hist[len(cs.hist)/2])+"}")
			} else if len(cs.mcv) > 0 {
				set(pr.Param, "{"+arrayElem(cs.mcv[len(cs.mcv)-1])+"}")
			}
		case pr.Op == "=" || pr.Op == "IN":
			v := ""
			if len(cs.hist) > 0 {
				v = cs.hist[len(cs.hist)/2]
			} else if len(cs.mcv) > 0 {
				v = cs.mcv[len(cs.mcv)-1]
			}
			for _, n := range pr.Params {
				if v != "" {
					set(n, v)
				}
			}
		case pr.Op == "LIKE" || pr.Op == "ILIKE":
			if len(cs.hist) > 0 {
				v := []rune(cs.hist[len(cs.hist)/2])
				if len(v) > 3 {
					v = v[:3]
				}
				set(pr.Param, string(v)+"%")
			}
		}
	}
}

// sensitiveValue gives a parameter compared with a sensitive column a value that is
// no one's: equality needs no real value (the planner costs every value outside the
// common ones alike), a range a point strictly between two histogram bounds.
func sensitiveValue(pr sqlparse.Predicate, cs columnStats, set func(int, string)) {
	switch pr.Op {
	case ">", ">=", "<", "<=", "BETWEEN":
		if len(cs.hist) < 3 {
			return
		}
		q := 0.95
		if pr.Op == "<" || pr.Op == "<=" {
			q = 0.05
		}
		i := percentile(len(cs.hist), q)
		if i+1 >= len(cs.hist) {
			i--
		}
		if v, ok := between(cs.hist[i], cs.hist[i+1]); ok {
			for _, n := range pr.Params {
				set(n, v)
			}
		}
	}
}

// Frequency is the share of a column's rows that hold value, from pg_stats: its
// frequency when it is a most common value, else at most what the least common of them
// has. ok is false when the column has no statistics.
func (p *Planner) Frequency(ctx context.Context, table, column, value string) (float64, bool) {
	cs := p.stats(ctx, table, column)
	if !cs.ok {
		return 0, false
	}
	for i, v := range cs.mcv {
		if v == value && i < len(cs.mcf) {
			return cs.mcf[i], true
		}
	}
	if len(cs.mcf) > 0 {
		return cs.mcf[len(cs.mcf)-1], true
	}
	return 0, len(cs.hist) > 0
}

// rangeParams are the parameters a column is range-compared with.
func rangeParams(st *sqlparse.Statement) map[int]bool {
	out := map[int]bool{}
	for _, pr := range st.Predicates {
		switch pr.Op {
		case ">", ">=", "<", "<=", "BETWEEN":
			for _, n := range pr.Params {
				out[n] = true
			}
		}
	}
	return out
}

// SensitiveParam reports whether $n is compared with, or stored in, a column the
// planner was told is sensitive.
func (p *Planner) SensitiveParam(st *sqlparse.Statement, n int) bool {
	if p.sensitive == nil {
		return false
	}
	for _, u := range st.UsesOf(n) {
		if (u.Kind == sqlparse.UseColumn || u.Kind == sqlparse.UseArray) && u.Column != "" && p.sensitive(u.Table, u.Column) {
			return true
		}
	}
	return false
}

func percentile(n int, q float64) int {
	i := int(q * float64(n-1))
	if i < 0 {
		i = 0
	}
	if i >= n {
		i = n - 1
	}
	return i
}

func arrayElem(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// stats reads (and caches per planner) a column's most common values and histogram.
func (p *Planner) stats(ctx context.Context, table, column string) columnStats {
	if p.statCache == nil {
		p.statCache = map[string]columnStats{}
	}
	key := table + "." + column
	if cs, ok := p.statCache[key]; ok {
		return cs
	}
	schema, name, found := strings.Cut(table, ".")
	if !found {
		schema, name = "public", table
	}
	var cs columnStats
	err := p.conn.QueryRow(ctx, policy.Marker+`SELECT coalesce(most_common_vals::text::text[], '{}'), coalesce(most_common_freqs, '{}')::float8[],
		coalesce(histogram_bounds::text::text[], '{}'), null_frac::float8
		FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3
		ORDER BY inherited DESC LIMIT 1`, schema, name, column).Scan(&cs.mcv, &cs.mcf, &cs.hist, &cs.nullFrac)
	cs.ok = err == nil && (len(cs.mcv) > 0 || len(cs.hist) > 0)
	p.statCache[key] = cs
	return cs
}
