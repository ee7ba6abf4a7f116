package config

import (
	"fmt"
	"strings"
)

// Error is one configuration problem: a file that cannot be read or parsed, an unknown
// key, a value of the wrong type, a bad environment override, an unknown profile or a
// value out of range. Its message is a single line; the CLI prints it with Hint and
// exits with code 2. Several problems come back joined with errors.Join, each an *Error.
type Error struct {
	Source string // configuration file as named by the caller; "" for defaults and flags
	Line   int    // 1-based line in Source; 0 when unknown
	Env    string // environment variable the value came from; "" when none
	Value  string // raw value of Env
	Key    string // full key path, e.g. profiles.production.queryAnalyzer.sampleRate
	Msg    string // what is wrong, naming the key
	Hint   string // what to do about it; not part of Error(), the CLI prints it apart
	Err    error  // underlying cause, if any
}

// Error returns "file:line: msg", `VAR="value": msg` or msg.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		fmt.Fprintf(&b, "%s=%q: ", e.Env, e.Value)
	case e.Source != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.Source, e.Line)
	case e.Source != "":
		fmt.Fprintf(&b, "%s: ", e.Source)
	}
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// Unwrap exposes the cause, e.g. fs.ErrNotExist for a missing file.
func (e *Error) Unwrap() error { return e.Err }

// oneLine keeps a message on one line, whatever a wrapped cause contains.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}

// suggest returns the candidate closest to s when it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	// An abbreviation ("prod", "dev") points at the one name it starts.
	var prefixed []string
	for _, c := range candidates {
		if len(s) >= 3 && len(s) < len(c) && strings.HasPrefix(strings.ToLower(c), strings.ToLower(s)) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2+len(s)/8 || bestD >= len(s) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
