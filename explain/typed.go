package explain

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// funcArgValues are values that make sense for a function's argument whatever the
// data: a date_trunc field, a to_char pattern, a pad length.
var funcArgValues = map[string]map[int]string{
	"date_trunc":    {0: "day"},
	"date_part":     {0: "day"},
	"to_char":       {1: "YYYY-MM-DD"},
	"to_date":       {0: "2024-01-01", 1: "YYYY-MM-DD"},
	"to_timestamp":  {0: "2024-01-01", 1: "YYYY-MM-DD"},
	"lpad":          {1: "10", 2: "0"},
	"rpad":          {1: "10", 2: "0"},
	"left":          {1: "10"},
	"right":         {1: "10"},
	"substring":     {1: "1", 2: "10"},
	"substr":        {1: "1", 2: "10"},
	"split_part":    {1: ",", 2: "1"},
	"round":         {1: "2"},
	"trunc":         {1: "2"},
	"repeat":        {1: "1"},
	"make_interval": {0: "0", 1: "0", 2: "0", 3: "1"},
}

// typedValue is a plausible value for $n from its type or the function argument it
// fills, for parameters no statistics speak for.
func (p *Planner) typedValue(ctx context.Context, s *Statement, n int) (string, bool) {
	for _, u := range s.Parsed.UsesOf(n) {
		if u.Kind == sqlparse.UseFunc {
			if v, ok := funcArgValues[u.Func][u.Arg]; ok {
				return v, true
			}
		}
	}
	ti := s.types[n-1]
	if ti == nil {
		return "", false
	}
	if ti.elem != 0 && ti.category == "A" {
		if el := p.typeOf(ctx, ti.elem); el != nil {
			if v, ok := valueOfType(el); ok {
				return "{" + arrayElem(v) + "}", true
			}
		}
		return "", false
	}
	return valueOfType(ti)
}

// valueOfType is a value any column of the type could hold.
func valueOfType(ti *typeInfo) (string, bool) {
	now := time.Now().UTC()
	switch ti.base {
	case "bool":
		return "true", true
	case "int2", "int4", "int8", "oid", "numeric", "float4", "float8", "money":
		return "1", true
	case "text", "varchar", "bpchar", "name", "citext":
		return "pgmedic", true
	case "date":
		return now.Format("2006-01-02"), true
	case "timestamp", "timestamptz":
		return now.Format("2006-01-02 15:04:05"), true
	case "time", "timetz":
		return "12:00:00", true
	case "interval":
		return "1 day", true
	case "uuid":
		return "00000000-0000-4000-8000-000000000000", true
	case "json", "jsonb":
		return "{}", true
	case "inet", "cidr":
		return "192.0.2.1", true
	case "bytea":
		return `\x00`, true
	}
	if ti.label != "" {
		return ti.label, true
	}
	return "", false
}

// between is a value strictly between two histogram bounds of a number, date or
// timestamp column: near them in the distribution, and no row's value.
func between(a, b string) (string, bool) {
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil && y > x {
			mid := x + (y-x)/2
			if mid == math.Trunc(mid) && mid != x && mid != y {
				return strconv.FormatFloat(mid, 'f', -1, 64), true
			}
			return strconv.FormatFloat(mid, 'f', 6, 64), true
		}
		return "", false
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999", "2006-01-02 15:04:05-07", "2006-01-02 15:04:05", "2006-01-02"} {
		x, err1 := time.Parse(layout, a)
		y, err2 := time.Parse(layout, b)
		if err1 != nil || err2 != nil || !y.After(x) {
			continue
		}
		mid := x.Add(y.Sub(x) / 2)
		if layout == "2006-01-02" {
			if s := mid.Format(layout); s != a && s != b {
				return s, true
			}
			return "", false
		}
		return strings.TrimSpace(mid.Format("2006-01-02 15:04:05.999999")), true
	}
	return "", false
}
