package partition

import (
	"fmt"
	"strings"
	"time"
)

// Intervals a range partitioning may use.
var intervals = []string{"day", "week", "month", "quarter", "year"}

// truncate moves t back to the start of its interval (weeks start on Monday, as
// PostgreSQL's date_trunc has them).
func truncate(t time.Time, interval string) time.Time {
	y, m, d := t.Date()
	switch interval {
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case "week":
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		back := (int(day.Weekday()) + 6) % 7
		return day.AddDate(0, 0, -back)
	case "quarter":
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, time.UTC)
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// next is the start of the interval after the one starting at t.
func next(t time.Time, interval string) time.Time {
	switch interval {
	case "day":
		return t.AddDate(0, 0, 1)
	case "week":
		return t.AddDate(0, 0, 7)
	case "quarter":
		return t.AddDate(0, 3, 0)
	case "year":
		return t.AddDate(1, 0, 0)
	}
	return t.AddDate(0, 1, 0)
}

// suffix names a range partition by the start of its interval.
func suffix(t time.Time, interval string) string {
	switch interval {
	case "day", "week":
		return t.Format("p2006_01_02")
	case "quarter":
		return fmt.Sprintf("p%d_q%d", t.Year(), (int(t.Month())-1)/3+1)
	case "year":
		return t.Format("p2006")
	}
	return t.Format("p2006_01")
}

// boundLiteral writes a range bound for a column of the given type: timestamps with
// time zone get an explicit UTC offset so the bound does not depend on the session.
func boundLiteral(t time.Time, colType string) string {
	if strings.HasPrefix(colType, "timestamp") && strings.Contains(colType, "with time zone") {
		return "'" + t.Format("2006-01-02 15:04:05") + "+00'"
	}
	if colType == "date" {
		return "'" + t.Format("2006-01-02") + "'"
	}
	return "'" + t.Format("2006-01-02 15:04:05") + "'"
}

// rangeStarts lists interval starts from the one holding from to the one holding to.
func rangeStarts(from, to time.Time, interval string) []time.Time {
	var out []time.Time
	for t := truncate(from, interval); !t.After(to); t = next(t, interval) {
		out = append(out, t)
	}
	return out
}

// childName is a partition's name: the table's name and a suffix, cut to fit.
func childName(table, suffix string) string {
	max := 63 - len(suffix) - 1
	if len(table) > max {
		table = table[:max]
	}
	return table + "_" + suffix
}

// rangeKeyType says whether range partitions by interval fit the column's type.
func rangeKeyType(colType string) bool {
	return colType == "date" || strings.HasPrefix(colType, "timestamp")
}
