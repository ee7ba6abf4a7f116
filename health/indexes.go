package health

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

func indexChecks() []Check {
	return []Check{
		{
			ID: "indexes.unused", Area: "indexes", Severity: finding.Low,
			Title:       "Unused indexes",
			Description: "Indexes with no scans since the statistics were reset, that back no constraint: every write pays to maintain them and they take space, for nothing. Statistics are per server: check replicas before dropping.",
			Needs:       []string{"indexes", "databases"},
			Thresholds: []Threshold{
				{Name: "min_bytes", Unit: "bytes", FromConfig: func(p *config.Profile) float64 { return float64(p.IndexOptimizer.UnusedIndexMinBytes) }},
				{Name: "min_stats_days", Unit: "days", Help: "statistics younger than this make the finding informational", FromConfig: func(p *config.Profile) float64 { return float64(p.IndexOptimizer.UnusedIndexMinDays) }},
			},
			References: []finding.Reference{finding.DocsRef("monitoring-stats.html#MONITORING-PG-STAT-ALL-INDEXES-VIEW", "pg_stat_all_indexes")},
			Run:        checkUnusedIndexes,
		},
		{
			ID: "indexes.redundant", Area: "indexes", Severity: finding.Medium,
			Title:       "Duplicate and prefix-redundant indexes",
			Description: "An index whose key columns are the leading columns of another index with the same method, expressions and predicate: the other index serves every query it serves.",
			Needs:       []string{"indexes"},
			References:  []finding.Reference{finding.DocsRef("indexes-multicolumn.html", "Multicolumn Indexes")},
			Run:         checkRedundantIndexes,
		},
	}
}

// Unused is an index no scan has used.
type Unused struct {
	Index     *snapshot.Index
	StatsDays float64
}

// UnusedIndexes lists valid indexes with no scans that back no constraint and are at
// least minBytes large, with the age of the statistics that say so.
func UnusedIndexes(s *snapshot.Snapshot, minBytes int64, now time.Time) []Unused {
	since := s.Server.StartedAt
	if db := s.ThisDatabase(); db != nil && db.StatsReset != nil {
		since = *db.StatsReset
	}
	days := now.Sub(since).Hours() / 24
	var out []Unused
	for i := range s.Indexes {
		ix := &s.Indexes[i]
		if !ix.Valid || ix.Unique || ix.Primary || ix.Constraint != "" || ix.Scans > 0 || ix.SizeBytes < minBytes {
			continue
		}
		out = append(out, Unused{Index: ix, StatsDays: days})
	}
	return out
}

// Redundancy is an index another index makes unnecessary.
type Redundancy struct {
	Index *snapshot.Index
	By    *snapshot.Index
	Exact bool
}

// RedundantIndexes finds exact duplicates and indexes whose keys lead another index
// with the same method, predicate and (covered) INCLUDE columns. Indexes behind
// constraints are kept; of two exact duplicates the one whose name sorts later goes.
func RedundantIndexes(s *snapshot.Snapshot) []Redundancy {
	var out []Redundancy
	for i := range s.Indexes {
		ix := &s.Indexes[i]
		if !ix.Valid || ix.Primary || ix.Constraint != "" {
			continue
		}
		for j := range s.Indexes {
			other := &s.Indexes[j]
			if i == j || !other.Valid || other.Schema != ix.Schema || other.Table != ix.Table || other.Method != ix.Method ||
				other.Predicate != ix.Predicate || len(other.Columns) < len(ix.Columns) {
				continue
			}
			if !prefix(ix, other) || !covered(ix.Include, other) {
				continue
			}
			exact := len(ix.Columns) == len(other.Columns) && len(ix.Include) == len(other.Include)
			if ix.Unique && !(other.Unique && len(other.Columns) == len(ix.Columns)) {
				continue // uniqueness of a prefix is a rule the longer index does not enforce
			}
			if exact && (other.Constraint == "" && !other.Primary) && ix.Name < other.Name {
				continue // keep the first name of a duplicate pair; the other is reported
			}
			out = append(out, Redundancy{Index: ix, By: other, Exact: exact})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index.QualifiedName() < out[j].Index.QualifiedName() })
	return out
}

// prefix: short's keys lead long's, with the same operator classes, collations and
// orderings (an index on (email text_pattern_ops) is no duplicate of one on (email)).
func prefix(short, long *snapshot.Index) bool {
	for i, c := range short.Columns {
		if long.Columns[i] != c || long.KeyOption(i) != short.KeyOption(i) {
			return false
		}
	}
	return len(short.Columns) > 0
}

func covered(include []string, by *snapshot.Index) bool {
	for _, c := range include {
		found := false
		for _, k := range append(append([]string{}, by.Columns...), by.Include...) {
			found = found || k == c
		}
		if !found {
			return false
		}
	}
	return true
}

func checkUnusedIndexes(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, u := range UnusedIndexes(c.Snap, int64(c.T("min_bytes")), c.Now) {
		ix := u.Index
		f := c.OnTable(ix.Schema, ix.Table, fmt.Sprintf("Index %s has not been used in %.0f days (%s)", ix.Name, u.StatsDays, bytesHuman(ix.SizeBytes)))
		f.ID = finding.MakeID(f.Check, ix.QualifiedName())
		f.Severity = finding.Low
		if u.StatsDays < c.T("min_stats_days") {
			f.Severity = finding.Info
			f.Detail = "The statistics are young: a monthly report may still need it. "
		}
		f.Evidence = []finding.Evidence{ev("size_bytes", float64(ix.SizeBytes), "bytes"), ev("scans", 0, ""), ev("stats_age_days", round1(u.StatsDays), "d")}
		f.Detail += fmt.Sprintf("Definition: %s. Index statistics count this server's scans only: a replica's reports may use it.", ix.Definition)
		f.Recommendation = "Confirm on every replica that it has no scans, then drop it concurrently. Keep its definition to recreate it if a rare job needed it."
		f.Fix = dropIndexPlan(ix, "Drop the unused index without blocking reads and writes")
		out = append(out, *f)
	}
	return out
}

func checkRedundantIndexes(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, r := range RedundantIndexes(c.Snap) {
		ix := r.Index
		what := "a prefix of"
		if r.Exact {
			what = "a duplicate of"
		}
		f := c.OnTable(ix.Schema, ix.Table, fmt.Sprintf("Index %s is %s %s", ix.Name, what, r.By.Name))
		f.ID = finding.MakeID(f.Check, ix.QualifiedName())
		f.Evidence = []finding.Evidence{ev("size_bytes", float64(ix.SizeBytes), "bytes"), ev("scans", float64(ix.Scans), "")}
		f.Detail = fmt.Sprintf("%s (%s) is covered by %s (%s).", ix.Name, strings.Join(ix.Columns, ", "), r.By.Name, strings.Join(r.By.Columns, ", "))
		f.Recommendation = "Drop it concurrently; queries that used it will use the wider index."
		f.Fix = dropIndexPlan(ix, "Drop the redundant index")
		out = append(out, *f)
	}
	return out
}

// dropIndexPlan drops one index concurrently (reads and writes go on).
func dropIndexPlan(ix *snapshot.Index, summary string) *finding.Plan {
	return &finding.Plan{Summary: summary, Steps: []finding.Step{change.DropIndexStep(ix.Schema, ix.Name, "drop "+ix.Name)}}
}
