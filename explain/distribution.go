package explain

import (
	"sort"
	"strconv"
	"time"
)

// distribution is a column's values in order, each with the share of rows at or
// below it: the histogram's bounds (equal shares), or, for a column whose every value
// is a most common one (a date column with fewer distinct days than the statistics
// target), those values sorted, with their frequencies.
type distribution []point

type point struct {
	value string
	cum   float64
}

func (cs columnStats) distribution() distribution {
	if len(cs.hist) > 0 {
		d := make(distribution, len(cs.hist))
		for i, v := range cs.hist {
			d[i] = point{v, float64(i) / float64(max(len(cs.hist)-1, 1))}
		}
		return d
	}
	if len(cs.mcv) == 0 || len(cs.mcf) != len(cs.mcv) {
		return nil
	}
	idx := make([]int, len(cs.mcv))
	for i := range idx {
		idx[i] = i
	}
	less := valueOrder(cs.mcv)
	sort.Slice(idx, func(a, b int) bool { return less(cs.mcv[idx[a]], cs.mcv[idx[b]]) })
	var total float64
	for _, f := range cs.mcf {
		total += f
	}
	d := make(distribution, len(idx))
	var cum float64
	for i, j := range idx {
		cum += cs.mcf[j]
		d[i] = point{cs.mcv[j], cum / total}
	}
	return d
}

// quantile is the first value with at least share q of the rows at or below it.
func (d distribution) quantile(q float64) string {
	for _, p := range d {
		if p.cum >= q {
			return p.value
		}
	}
	return d[len(d)-1].value
}

// bucket is a narrow range [lo, hi) starting at quantile q: one histogram bucket, or
// the next most common value (about 1 % of the rows for a histogram of 100).
func (d distribution) bucket(q float64) (string, string) {
	for i, p := range d {
		if p.cum >= q {
			return p.value, d[min(i+1, len(d)-1)].value
		}
	}
	return d[len(d)-2].value, d[len(d)-1].value
}

// valueOrder orders values as their type does: numbers numerically, dates and times
// chronologically, anything else as text (ISO dates sort as text too).
func valueOrder(vals []string) func(a, b string) bool {
	numeric := true
	for _, v := range vals {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			numeric = false
			break
		}
	}
	if numeric {
		return func(a, b string) bool {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			return x < y
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999", "2006-01-02"} {
		ok := true
		for _, v := range vals {
			if _, err := time.Parse(layout, v); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return func(a, b string) bool {
				x, _ := time.Parse(layout, a)
				y, _ := time.Parse(layout, b)
				return x.Before(y)
			}
		}
	}
	return func(a, b string) bool { return a < b }
}
