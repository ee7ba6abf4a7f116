package health

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/snapshot"
)

func partitioningChecks() []Check {
	return []Check{{
		ID: "tables.partitioning", Area: "storage", Severity: finding.Low,
		Title: "Tables worth partitioning",
		Description: "Large or fast-growing ordinary tables, with the partitioning that fits them: range by month on the service date for claims, " +
			"by day for audit logs, hash by patient for patient-keyed tables, list for a few categories; and the reasons against " +
			"(no statement filters on the key, so no partition would be pruned).",
		Needs: []string{"tables", "workload"},
		Thresholds: []Threshold{
			{Name: "min_bytes", Default: 10 << 30, Unit: "bytes", Help: "tables at least this large are considered"},
			{Name: "min_rows", Default: 20_000_000, Help: "or tables with at least this many rows"},
			{Name: "horizon_days", Default: 180, Unit: "d", Help: "or tables that reach min_bytes within this many days at the growth since the baseline"},
		},
		References: []finding.Reference{finding.DocsRef("ddl-partitioning.html", "Table Partitioning")},
		Run:        checkPartitioning,
	}}
}

// advice is the partitioning proposed for one table.
type advice struct {
	strategy, column, interval string
	modulus                    int
}

func checkPartitioning(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, t := range c.Snap.Tables {
		if t.Kind != "table" || t.Schema == "pgmedic" {
			continue
		}
		perDay := growthPerDay(c, t)
		big := float64(t.TotalBytes) >= c.T("min_bytes") || t.RowEstimate >= c.T("min_rows")
		growing := perDay > 0 && float64(t.TotalBytes)+perDay*c.T("horizon_days") >= c.T("min_bytes")
		if !big && !growing {
			continue // a small table gains nothing from partitions but planning time
		}
		a, ok := proposePartitioning(c.Class(t.Schema, t.Name).Role, t)
		if !ok {
			continue
		}
		out = append(out, partitionFinding(c, t, a, perDay, big))
	}
	return out
}

func growthPerDay(c *Context, t snapshot.Table) float64 {
	if c.Baseline == nil {
		return 0
	}
	prev := c.Baseline.Table(t.Schema, t.Name)
	days := c.Snap.CollectedAt.Sub(c.Baseline.CollectedAt).Hours() / 24
	if prev == nil || days <= 0 || t.TotalBytes <= prev.TotalBytes {
		return 0
	}
	return float64(t.TotalBytes-prev.TotalBytes) / days
}

// serviceDates are the time columns to partition by, best first.
var serviceDates = []string{"date_of_service", "service_date", "service_start_date", "dos", "occurred_at", "event_time", "logged_at",
	"created_at", "received_at", "recorded_at", "visit_date", "appointment_date", "scheduled_at", "paid_at"}

// proposePartitioning picks a strategy from the table's role and columns.
func proposePartitioning(role healthcare.Role, t snapshot.Table) (advice, bool) {
	date := timeColumn(t)
	switch {
	case role == healthcare.Audit && date != "":
		return advice{strategy: "range", column: date, interval: "day"}, true
	case date != "":
		return advice{strategy: "range", column: date, interval: "month"}, true
	case hasColumn(t, "patient_id"):
		return advice{strategy: "hash", column: "patient_id", modulus: 16}, true
	}
	for _, col := range t.Columns {
		if col.NDistinct != nil && *col.NDistinct >= 2 && *col.NDistinct <= 20 && col.NotNull {
			return advice{strategy: "list", column: col.Name}, true
		}
	}
	return advice{}, false
}

func timeColumn(t snapshot.Table) string {
	isTime := func(c snapshot.Column) bool { return c.Type == "date" || strings.HasPrefix(c.Type, "timestamp") }
	for _, name := range serviceDates {
		for _, col := range t.Columns {
			if col.Name == name && isTime(col) {
				return col.Name
			}
		}
	}
	for _, col := range t.Columns {
		if isTime(col) && col.NotNull && (strings.HasSuffix(col.Name, "_date") || strings.HasSuffix(col.Name, "_at")) {
			return col.Name
		}
	}
	return ""
}

func hasColumn(t snapshot.Table, name string) bool {
	for _, col := range t.Columns {
		if col.Name == name {
			return true
		}
	}
	return false
}

// keyCalls counts the calls of statements on the table that filter on the column (a
// comparison or BETWEEN for range, equality or IN for hash and list).
func keyCalls(w snapshot.Workload, t snapshot.Table, a advice) (calls int64, statements int) {
	table := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(t.Name) + `\b`)
	op := `(>=|<=|<|>|\bbetween\b)`
	if a.strategy != "range" {
		op = `(=|\bin\b)`
	}
	pred := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(a.column) + `"?\s*` + op)
	for _, s := range w.Statements {
		if table.MatchString(s.Query) && pred.MatchString(s.Query) {
			calls += s.Calls
			statements++
		}
	}
	return calls, statements
}

func partitionFinding(c *Context, t snapshot.Table, a advice, perDay float64, big bool) finding.Finding {
	how := fmt.Sprintf("range by %s on %s", a.interval, a.column)
	flags := fmt.Sprintf("--column %s --strategy range --interval %s", a.column, a.interval)
	switch a.strategy {
	case "hash":
		how, flags = fmt.Sprintf("hash on %s, %d partitions", a.column, a.modulus), fmt.Sprintf("--column %s --strategy hash --modulus %d", a.column, a.modulus)
	case "list":
		how, flags = "list on "+a.column, "--column "+a.column+" --strategy list"
	}
	f := c.OnTable(t.Schema, t.Name, fmt.Sprintf("%s.%s (%s) is a candidate for partitioning: %s", t.Schema, t.Name, bytesHuman(t.TotalBytes), how))
	f.Evidence = []finding.Evidence{ev("total_bytes", float64(t.TotalBytes), "bytes"), ev("rows", t.RowEstimate, "")}
	var why, against []string
	if big {
		why = append(why, "its size makes vacuum, index builds and retention by DELETE slow")
	}
	if perDay > 0 {
		f.Evidence = append(f.Evidence, ev("bytes_per_day", float64(int64(perDay)), "bytes"))
		why = append(why, fmt.Sprintf("it grows by %s a day", bytesHuman(int64(perDay))))
	}
	if c.Snap.Workload.Available {
		calls, n := keyCalls(c.Snap.Workload, t, a)
		f.Evidence = append(f.Evidence, ev("statements_on_key", float64(n), ""), ev("calls_on_key", float64(calls), ""))
		if n > 0 {
			why = append(why, fmt.Sprintf("%d statement(s) (%d calls) filter on %s, so the planner can prune partitions", n, calls, a.column))
		} else {
			against = append(against, "no statement in the workload filters on "+a.column+": every query would read all partitions")
			f.Severity = finding.Info
		}
	}
	if r := c.Config.Partitioner.RetentionPeriod; r > 0 && a.strategy == "range" {
		why = append(why, fmt.Sprintf("a retention of %d months becomes detaching whole partitions instead of deleting rows", r))
	}
	f.Detail = "For: " + strings.Join(why, "; ") + "."
	if len(against) > 0 {
		f.Detail += " Against: " + strings.Join(against, "; ") + "."
	}
	f.Recommendation = fmt.Sprintf("See the plan, its locks and what stops it: pgmedic partition plan --table %s.%s %s; convert online with 'pgmedic partition migrate --apply'.",
		t.Schema, t.Name, flags)
	return *f
}
