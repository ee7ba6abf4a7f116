package partition

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
)

// WriteText writes the plan for a person: the table, the partitions with their
// estimated sizes, the new keys and indexes, the preflight findings and the steps with
// the lock each takes. No row value is printed; bounds are partition boundaries.
func (r *Result) WriteText(w io.Writer) error {
	t := r.Source
	fmt.Fprintf(w, "table %s.%s: about %d rows, %s\n", t.Schema, t.Name, t.Rows, finding.HumanBytes(t.Bytes))
	if s := r.Spec; s != nil {
		how := s.Strategy + " on " + s.Column
		switch s.Strategy {
		case "range":
			how += fmt.Sprintf(" by %s, %d ahead of now", s.Interval, s.Premake)
		case "hash":
			how += fmt.Sprintf(", modulus %d", s.Modulus)
		}
		fmt.Fprintf(w, "partitioning: %s; %d partitions\n\n", how, len(s.Partitions))
		fmt.Fprintf(w, "%-40s %-60s %12s %10s\n", "partition", "bound", "est. rows", "est. size")
		for _, p := range s.Partitions {
			mark := ""
			if p.Expired {
				mark = "  (past retention)"
			}
			fmt.Fprintf(w, "%-40s %-60s %12d %10s%s\n", p.Name, p.Bound, p.Rows, finding.HumanBytes(p.Bytes), mark)
		}
		fmt.Fprintf(w, "\nprimary key: (%s)\n", strings.Join(s.PrimaryKey, ", "))
		for _, u := range s.Uniques {
			fmt.Fprintf(w, "unique: %s on (%s)\n", u.Name, strings.Join(u.Columns, ", "))
		}
		for _, ix := range s.Indexes {
			fmt.Fprintf(w, "index per partition: %s (built after the copy)\n", ix.Name)
		}
	}
	fmt.Fprintln(w, "\npreflight:")
	if len(r.Preflight) == 0 {
		fmt.Fprintln(w, "  nothing to report")
	}
	for _, p := range r.Preflight {
		tag := "note "
		if p.Blocks {
			tag = "BLOCK"
		}
		fmt.Fprintf(w, "  %s %s: %s", tag, p.Code, p.Detail)
		if p.Handling != "" {
			fmt.Fprintf(w, " -> %s", p.Handling)
		}
		fmt.Fprintln(w)
	}
	if r.Steps != nil {
		fmt.Fprintln(w, "\nsteps of 'pgmedic partition migrate --apply':")
		for i, s := range r.Steps.Steps {
			fmt.Fprintf(w, "  %2d. %s\n      lock: %s", i+1, s.Description, orNone(s.Lock))
			if s.EstimateSeconds >= 1 {
				fmt.Fprintf(w, "; about %s", time.Duration(s.EstimateSeconds*float64(time.Second)).Round(time.Second))
			}
			fmt.Fprintln(w)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ParseRetention reads a retention: "84mo", "7y", or a number of months.
func ParseRetention(s string) (int, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "0" {
		return 0, nil
	}
	mult := 1
	switch {
	case strings.HasSuffix(s, "mo"):
		s = strings.TrimSuffix(s, "mo")
	case strings.HasSuffix(s, "y"):
		s, mult = strings.TrimSuffix(s, "y"), 12
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: retention %q is not a number of months (84mo) or years (7y)", ErrBadOptions, s)
	}
	return n * mult, nil
}

// WriteText writes the maintenance report and its plan.
func (r *MaintainResult) WriteText(w io.Writer) error {
	if len(r.Tables) == 0 {
		fmt.Fprintln(w, "no table is range-partitioned on a date or timestamp column")
	}
	for _, t := range r.Tables {
		fmt.Fprintf(w, "%s: %d partitions by %s of %s\n", t.Parent, len(t.Partitions), orNone(t.Interval), t.Column)
		if t.Partman != "" {
			fmt.Fprintln(w, "  managed by pg_partman: its run_maintenance makes the partitions and applies its retention (plain DETACH, bounds from its configuration)")
		}
		if t.defaultName != "" {
			fmt.Fprintf(w, "  default partition %s: %d rows, %d of them where a partition exists or is planned\n", t.defaultName, t.DefaultRows, t.DefaultInRange)
		}
		for _, list := range []struct {
			what  string
			names []string
		}{{"create ahead", t.Create}, {"moving rows out of the default partition into", movesList(t.Moves)}, {"past retention (archive, then drop)", t.Expired}, {"past retention but under a legal hold", t.Held}} {
			if len(list.names) > 0 {
				fmt.Fprintf(w, "  %s: %s\n", list.what, strings.Join(list.names, ", "))
			}
		}
	}
	if r.Unencrypted {
		fmt.Fprintln(w, "warning: the archives of expired partitions will not be encrypted; they hold the partitions' rows (set partitioner.archiveRecipients)")
	}
	if len(r.Plan.Steps) == 0 {
		_, err := fmt.Fprintln(w, "nothing to do")
		return err
	}
	fmt.Fprintln(w)
	for i, s := range r.Plan.Steps {
		fmt.Fprintf(w, "  %2d. %s\n      lock: %s\n", i+1, s.Description, orNone(s.Lock))
	}
	return nil
}

func movesList(m map[string]int64) []string {
	var out []string
	for name, n := range m {
		out = append(out, fmt.Sprintf("%s (%d rows)", name, n))
	}
	sort.Strings(out)
	return out
}
