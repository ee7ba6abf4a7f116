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
	mcv  []string
	hist []string
	ok   bool
}

// Representative chooses, for each $n of a normalised statement, a value typical of what
// the parameter is compared with, from the column's statistics:
//   - equality: a value from the middle of the histogram (a typical, non-dominant value);
//     for low-cardinality columns with no histogram, the least common of the most
//     common values, since queues and work lists filter for the rare states (pended,
//     pending, failed);
//   - one-sided ranges: the 95th percentile for > and >= (recent dates), the 5th for <;
//   - two-sided ranges (BETWEEN, >= and <): one histogram bucket, about 1 % of rows;
//   - LIMIT 20, OFFSET 0.
//
// Generic plans cost such predicates with fixed default selectivities (a third of the
// table for one-sided ranges), which hides the value of an index on a date column. ok
// is false when some parameter has no representative value; plan generically then.
func (p *Planner) Representative(ctx context.Context, st *sqlparse.Statement) ([]*string, bool) {
	if st.ParamCount == 0 {
		return nil, false
	}
	vals := make([]*string, st.ParamCount)
	set := func(n int, v string) {
		if n >= 1 && n <= len(vals) && vals[n-1] == nil {
			vv := v
			vals[n-1] = &vv
		}
	}
	if st.Limit != nil && st.Limit.Param > 0 {
		set(st.Limit.Param, "20")
	}
	if st.Offset != nil && st.Offset.Param > 0 {
		set(st.Offset.Param, "0")
	}
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
			r.lo, r.hi = pr.Param, pr.Param+1
		}
	}
	for _, pr := range st.Predicates {
		if pr.Value != sqlparse.ValParam || pr.Param == 0 || pr.Table == "" {
			continue
		}
		cs := p.stats(ctx, pr.Table, pr.Column)
		if !cs.ok {
			continue
		}
		r := ranges[pr.Table+"."+pr.Column]
		switch {
		case r != nil && r.lo > 0 && r.hi > 0 && len(cs.hist) >= 3:
			i := percentile(len(cs.hist), 0.90)
			set(r.lo, cs.hist[i])
			set(r.hi, cs.hist[min(i+1, len(cs.hist)-1)])
		case pr.Op == ">" || pr.Op == ">=":
			if len(cs.hist) > 0 {
				set(pr.Param, cs.hist[percentile(len(cs.hist), 0.95)])
			}
		case pr.Op == "<" || pr.Op == "<=":
			if len(cs.hist) > 0 {
				set(pr.Param, cs.hist[percentile(len(cs.hist), 0.05)])
			}
		case pr.Op == "=" || pr.Op == "IN" || pr.Op == "ANY":
			if pr.Op == "ANY" {
				// = ANY($1) takes an array.
				if len(cs.hist) > 0 {
					set(pr.Param, "{"+arrayElem(cs.hist[len(cs.hist)/2])+"}")
				} else if len(cs.mcv) > 0 {
					set(pr.Param, "{"+arrayElem(cs.mcv[len(cs.mcv)-1])+"}")
				}
				continue
			}
			if len(cs.hist) > 0 {
				set(pr.Param, cs.hist[len(cs.hist)/2])
			} else if len(cs.mcv) > 0 {
				set(pr.Param, cs.mcv[len(cs.mcv)-1])
			}
		case pr.Op == "LIKE" || pr.Op == "ILIKE":
			if len(cs.hist) > 0 {
				v := cs.hist[len(cs.hist)/2]
				if len(v) > 3 {
					v = v[:3]
				}
				set(pr.Param, v+"%")
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
	err := p.conn.QueryRow(ctx, policy.Marker+`SELECT coalesce(most_common_vals::text::text[], '{}'), coalesce(histogram_bounds::text::text[], '{}')
		FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3
		ORDER BY inherited DESC LIMIT 1`, schema, name, column).Scan(&cs.mcv, &cs.hist)
	cs.ok = err == nil && (len(cs.mcv) > 0 || len(cs.hist) > 0)
	p.statCache[key] = cs
	return cs
}
