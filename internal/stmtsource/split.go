package stmtsource

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// piece is what the splitter hands over: a statement, or something skipped with the
// reason why.
type piece struct {
	text     string
	line     int // line of the statement's first token, or of what was skipped
	textLine int // line where text starts (comments before the first token included)
	problem  string
}

// splitter cuts a SQL script into statements as psql does, reading it as it goes: a
// semicolon ends a statement unless it is in a string, a quoted identifier, a
// dollar-quoted string, a comment, parentheses, or the BEGIN ... END body of a CREATE
// FUNCTION or PROCEDURE (psql's heuristic); a backslash starts a psql meta-command,
// which runs to the end of its line. Strings follow standard_conforming_strings = on
// (the default since 9.1, and what pg_dump writes): backslashes escape only in
// E'...' strings.
type splitter struct {
	r    *bufio.Reader
	max  int // longest statement kept, in bytes
	line int // line of the next byte
	err  error

	// The statement being read.
	buf      []byte
	start    int // line of its first token; 0 while it has none
	textLine int
	tooLong  bool
	paren    int
	begin    int     // BEGIN ... END depth, counted as psql does
	first    [4]byte // first letters of the first four words, when psql looks at them
	words    int
	isCopy   bool // the statement is COPY ...
	lastFrom bool // the last word at depth 0 was FROM
	copyIn   bool // COPY ... FROM STDIN: its data follows in the script

	copyData bool // skip COPY data before reading on
}

func newSplitter(r *bufio.Reader, max int) *splitter {
	return &splitter{r: r, max: max, line: 1}
}

// next returns the next piece of the script; io.EOF once there is none.
func (s *splitter) next() (piece, error) {
	if s.copyData {
		s.copyData = false
		if p, ok := s.skipCopyData(); ok {
			return p, nil
		}
	}
	for {
		c, ok := s.read()
		if !ok {
			return s.end()
		}
		var p piece
		done := false
		switch {
		case c == ';' && s.paren == 0 && s.begin == 0:
			p, done = s.cut()
		case c == '\\':
			p, done = s.metaCommand()
		case c == '-' && s.peekIs('-'):
			s.put(c)
			s.lineComment()
		case c == '/' && s.peekIs('*'):
			p, done = s.enclosed(c, "a comment", s.blockComment)
		case c == '\'':
			p, done = s.enclosed(c, "a string", func() bool { return s.quoted('\'', false) })
		case c == '"':
			p, done = s.enclosed(c, "a quoted identifier", func() bool { return s.quoted('"', false) })
		case c == '$':
			p, done = s.enclosed(c, "a dollar-quoted string", s.dollar)
		case isIdentStart(c):
			s.token()
			p, done = s.word(c)
		case isSpace(c):
			if len(s.buf) > 0 {
				s.put(c)
			}
		default:
			s.token()
			s.put(c)
			if c == '(' {
				s.paren++
			} else if c == ')' && s.paren > 0 {
				s.paren--
			}
		}
		if done {
			return p, nil
		}
	}
}

// read returns the next byte; false at the end of the input or on a read error
// (kept in s.err).
func (s *splitter) read() (byte, bool) {
	if s.err != nil {
		return 0, false
	}
	c, err := s.r.ReadByte()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.err = err
		}
		return 0, false
	}
	if c == '\n' {
		s.line++
	}
	return c, true
}

func (s *splitter) peekIs(c byte) bool {
	b, err := s.r.Peek(1)
	return err == nil && b[0] == c
}

// put adds c to the statement; past the size limit the statement is only scanned.
func (s *splitter) put(c byte) {
	if len(s.buf) == 0 {
		s.textLine = s.line
	}
	if len(s.buf) >= s.max {
		s.tooLong = true
		return
	}
	s.buf = append(s.buf, c)
}

// token marks where the statement's first token is.
func (s *splitter) token() {
	if s.start == 0 {
		s.start = s.line
	}
}

// enclosed reads a comment, string or quoted identifier that c opens; at the end of
// the input inside one, the statement is skipped.
func (s *splitter) enclosed(c byte, what string, rest func() bool) (piece, bool) {
	opened := s.line
	if c != '/' {
		s.token()
	}
	s.put(c)
	if rest() || s.err != nil {
		return piece{}, false
	}
	line := s.start
	if line == 0 {
		line = opened
	}
	p := piece{line: line, problem: fmt.Sprintf("the file ends inside %s opened at line %d", what, opened)}
	s.reset()
	return p, true
}

// cut ends the statement; false when it holds no token (";;", a comment alone).
func (s *splitter) cut() (piece, bool) {
	if s.start == 0 {
		s.reset()
		return piece{}, false
	}
	p := piece{line: s.start, textLine: s.textLine, text: strings.TrimRight(string(s.buf), " \t\n\r\f\v")}
	if s.tooLong {
		size := fmt.Sprintf("%d bytes", s.max)
		if s.max%(1<<20) == 0 {
			size = fmt.Sprintf("%d MiB", s.max>>20)
		}
		p = piece{line: s.start, problem: "statement longer than " + size}
	}
	s.copyData = s.copyIn
	s.reset()
	return p, true
}

func (s *splitter) reset() {
	if cap(s.buf) > 1<<20 {
		s.buf = nil // a huge statement's buffer is not kept for the small ones
	}
	*s = splitter{r: s.r, max: s.max, line: s.line, err: s.err, buf: s.buf[:0], copyData: s.copyData}
}

// end is the end of the input: the last statement needs no semicolon.
func (s *splitter) end() (piece, error) {
	if s.err != nil {
		return piece{}, fmt.Errorf("reading line %d: %w", s.line, s.err)
	}
	if p, ok := s.cut(); ok {
		return p, nil
	}
	return piece{}, io.EOF
}

func (s *splitter) lineComment() {
	for {
		c, ok := s.read()
		if !ok {
			return
		}
		s.put(c)
		if c == '\n' {
			return
		}
	}
}

// blockComment reads a comment whose "/" has been read; comments nest.
func (s *splitter) blockComment() bool {
	c, _ := s.read() // the "*" next() saw
	s.put(c)
	depth := 1
	for {
		c, ok := s.read()
		if !ok {
			return false
		}
		s.put(c)
		switch {
		case c == '/' && s.peekIs('*'):
			c, _ = s.read()
			s.put(c)
			depth++
		case c == '*' && s.peekIs('/'):
			c, _ = s.read()
			s.put(c)
			if depth--; depth == 0 {
				return true
			}
		}
	}
}

// quoted reads up to the closing quote q (doubled, it stands for itself); backslash
// escapes the next byte in E'...' strings.
func (s *splitter) quoted(q byte, backslash bool) bool {
	for {
		c, ok := s.read()
		if !ok {
			return false
		}
		s.put(c)
		switch {
		case backslash && c == '\\':
			if c, ok = s.read(); !ok {
				return false
			}
			s.put(c)
		case c == q && s.peekIs(q):
			c, _ = s.read()
			s.put(c)
		case c == q:
			return true
		}
	}
}

// dollar reads what follows a "$": a parameter ($1), or a dollar-quoted string
// ($$...$$, $tag$...$tag$) up to its closing delimiter.
func (s *splitter) dollar() bool {
	tag := []byte{'$'}
	for {
		b, err := s.r.Peek(1)
		if err != nil || !isIdentStart(b[0]) && !(len(tag) > 1 && b[0] >= '0' && b[0] <= '9') {
			break
		}
		c, _ := s.read()
		s.put(c)
		tag = append(tag, c)
	}
	if !s.peekIs('$') {
		return true // a parameter, or a "$" that opens nothing
	}
	c, _ := s.read()
	s.put(c)
	delim := string(append(tag, '$'))
	// "$" appears in the delimiter only at its ends, so a mismatch restarts the match
	// at a "$" or before it.
	matched := 0
	for {
		c, ok := s.read()
		if !ok {
			return false
		}
		s.put(c)
		switch {
		case c == delim[matched]:
			if matched++; matched == len(delim) {
				return true
			}
		case c == '$':
			matched = 1
		default:
			matched = 0
		}
	}
}

// word reads an identifier or keyword that starts with c, and what depends on it: an
// E'...' string, psql's BEGIN ... END counting, COPY ... FROM STDIN.
func (s *splitter) word(c byte) (piece, bool) {
	var w strings.Builder
	s.put(c)
	w.WriteByte(lower(c))
	for {
		b, err := s.r.Peek(1)
		if err != nil || !isIdentStart(b[0]) && b[0] != '$' && !(b[0] >= '0' && b[0] <= '9') {
			break
		}
		c, _ := s.read()
		s.put(c)
		if w.Len() < 16 {
			w.WriteByte(lower(c))
		}
	}
	word := w.String()
	if word == "e" && s.peekIs('\'') {
		c, _ := s.read()
		return s.enclosed(c, "a string", func() bool { return s.quoted('\'', true) })
	}
	s.countWord(word)
	return piece{}, false
}

// countWord follows psql: in CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN (and CASE
// inside it) opens a block that END closes, and semicolons inside do not end it.
func (s *splitter) countWord(w string) {
	if s.words < len(s.first) {
		switch w {
		case "create", "function", "procedure", "or", "replace":
			s.first[s.words] = w[0]
		}
	}
	if s.words == 0 {
		s.isCopy = w == "copy"
	}
	s.words++
	f := s.first
	if f[0] == 'c' && (f[1] == 'f' || f[1] == 'p' || f[1] == 'o' && f[2] == 'r' && (f[3] == 'f' || f[3] == 'p')) && s.paren == 0 {
		switch {
		case w == "begin":
			s.begin++
		case w == "case" && s.begin >= 1:
			s.begin++
		case w == "end" && s.begin > 0:
			s.begin--
		}
	}
	if s.isCopy && s.paren == 0 {
		s.copyIn = s.copyIn || s.lastFrom && w == "stdin"
		s.lastFrom = w == "from"
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
