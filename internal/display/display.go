// Package display prepares text for a terminal or a report: one way to shorten a
// statement, and one way to keep what came from outside (a statement, a log line, an
// object name) from driving the terminal.
package display

import (
	"fmt"
	"io"
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
// carriage returns, bells) and invalid UTF-8 are written as \xNN or \uNNNN; tabs and
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
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
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

// Writer escapes everything written through it (see Escape), for printers of text that
// came from outside; a character split across two writes is kept whole.
type Writer struct {
	w     io.Writer
	carry []byte
}

// NewWriter returns an escaping writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (e *Writer) Write(p []byte) (int, error) {
	buf := append(e.carry, p...)
	e.carry = nil
	// Hold back an incomplete character at the end for the next write.
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				e.carry = append([]byte(nil), buf[i:]...)
				buf = buf[:i]
			}
			break
		}
	}
	if _, err := io.WriteString(e.w, Escape(string(buf))); err != nil {
		return 0, err
	}
	return len(p), nil
}
