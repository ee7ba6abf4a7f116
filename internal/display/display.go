// Package display prepares text for a terminal or a report: one way to shorten a
// statement, and one way to keep what came from outside (a statement, a log line, an
// object name) from driving the terminal.
package display

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Shorten puts s on one line (runs of white space become one space) and keeps its
// first n runes, marking a cut with "...": never half a character.
func Shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n <= 3 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-3]), " ") + "..."
}

// Escape makes text safe to print on a terminal: control characters (escape sequences,
// carriage returns, bells) and invalid UTF-8 are written as Go escapes; tabs and
// newlines are kept.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafe(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unsafe(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func unsafe(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r))
}
