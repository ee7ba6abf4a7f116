package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
)

// formatValue prints an evidence value without float noise: integers as integers, others
// with two decimals or three significant digits.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	case math.Abs(v) >= 1:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// evidenceText is "name=value unit", the form every text format uses.
func evidenceText(e finding.Evidence) string {
	s := e.Name + "=" + formatValue(e.Value)
	if e.Unit != "" {
		s += " " + e.Unit
	}
	return s
}

// humanBytes prints a size in binary units.
func humanBytes(b int64) string { return finding.HumanBytes(b) }

// humanMs prints a duration given in milliseconds in the unit that reads best.
func humanMs(ms float64) string {
	switch {
	case ms < 10:
		return trimZeros(fmt.Sprintf("%.2f", ms)) + " ms"
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 60_000:
		return trimZeros(fmt.Sprintf("%.1f", ms/1000)) + " s"
	case ms < 3_600_000:
		return trimZeros(fmt.Sprintf("%.1f", ms/60_000)) + " min"
	default:
		return trimZeros(fmt.Sprintf("%.1f", ms/3_600_000)) + " h"
	}
}

// groupDigits prints n with thousands separators.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// sentences joins the non-empty parts, ending each with a full stop unless it already
// ends a sentence, so title, detail and recommendation read as one message.
func sentences(parts ...string) string {
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.ContainsAny(p[len(p)-1:], ".!?:") {
			p += "."
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}

// oneLine collapses all whitespace runs (newlines included) to single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// severityLabel is the upper-case tag of a severity, e.g. "HIGH".
func severityLabel(s finding.Severity) string { return strings.ToUpper(s.String()) }

// serverLine describes the server in one line: "PostgreSQL 15.18 (standby) on db1".
func serverLine(s Server) string {
	out := "PostgreSQL"
	if s.Version != "" {
		out += " " + s.Version
	} else {
		out += " (version unknown)"
	}
	if s.InRecovery {
		out += " (standby)"
	}
	if s.Host != "" {
		out += " on " + s.Host
	}
	return out
}

// collectedLine prints the collection time in the zone it was given in.
func collectedLine(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}
