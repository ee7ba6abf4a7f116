package stmtsource

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sendsQuery holds the meta-commands that run the query buffer: they end a statement.
var sendsQuery = map[string]bool{"g": true, "gx": true, "gset": true, "gexec": true, "gdesc": true, "crosstabview": true, "watch": true}

// knownMeta holds psql commands a problem may name. Other names are not repeated: a
// mistyped line could hold anything.
var knownMeta = map[string]bool{
	"a": true, "bind": true, "c": true, "cd": true, "connect": true, "conninfo": true, "copy": true,
	"echo": true, "elif": true, "else": true, "encoding": true, "endif": true, "errverbose": true,
	"f": true, "h": true, "H": true, "help": true, "i": true, "if": true, "include": true,
	"include_relative": true, "ir": true, "o": true, "out": true, "p": true, "password": true,
	"print": true, "prompt": true, "pset": true, "q": true, "qecho": true, "quit": true, "r": true,
	"reset": true, "set": true, "setenv": true, "t": true, "timing": true, "unset": true, "w": true,
	"warn": true, "write": true, "x": true, ".": true,
}

// metaCommand handles a backslash outside quotes and comments: a psql meta-command.
// Its arguments run to the end of the line, or to a "\\" after which SQL goes on.
func (s *splitter) metaCommand() (piece, bool) {
	line := s.line
	name := s.metaName()
	switch name {
	case `\`:
		return piece{}, false // a separator with nothing before it
	case ";": // \; puts a semicolon in the buffer without sending it
		return s.cut()
	case ":": // \: is a colon that is not a psql variable
		s.token()
		s.put(':')
		return piece{}, false
	}
	args := s.metaArgs(name == "copy" || name == "!")
	if sendsQuery[name] {
		return s.cut()
	}
	if name == "copy" && fromStdin(args) {
		s.copyData = true // \copy ... from stdin reads its data from the script
	}
	what := "psql meta-command"
	if knownMeta[name] {
		what += ` \` + name
	}
	return piece{line: line, problem: what + " skipped (not SQL)"}, true
}

// metaName reads a meta-command's name: up to a space or a backslash.
func (s *splitter) metaName() string {
	var name []byte
	for {
		b, err := s.r.Peek(1)
		if err != nil || isSpace(b[0]) || b[0] == '\\' && len(name) > 0 {
			return string(name)
		}
		c, _ := s.read()
		if len(name) == 0 && (c == '\\' || c == ';' || c == ':') {
			return string(c)
		}
		if len(name) < 32 {
			name = append(name, c)
		}
	}
}

// metaArgs reads past a meta-command's arguments, up to its line end (left for the
// caller) or, unless whole, a "\\" outside single quotes. It returns their start,
// lower-cased, for fromStdin.
func (s *splitter) metaArgs(whole bool) string {
	var head []byte
	quoted := false
	for {
		b, err := s.r.Peek(1)
		if err != nil || b[0] == '\n' {
			return strings.ToLower(string(head))
		}
		c, _ := s.read()
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '\\' && !whole && !quoted && s.peekIs('\\'):
			s.read()
			return strings.ToLower(string(head))
		}
		if len(head) < 256 {
			head = append(head, c)
		}
	}
}

// fromStdin reports whether \copy arguments read the data from the script ("from
// stdin"; "pstdin" is psql's own standard input).
func fromStdin(args string) bool {
	f := strings.Fields(args)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "from" && f[i+1] == "stdin" {
			return true
		}
	}
	return false
}

// skipCopyData reads past the data of COPY ... FROM STDIN: the rest of the command's
// line, then lines up to one that is only "\." (or the end of the file).
func (s *splitter) skipCopyData() (piece, bool) {
	if _, ok := s.skipLine(); !ok {
		return piece{}, false
	}
	first, n := s.line, 0
	for {
		head, ok := s.skipLine()
		if !ok || head == `\.` {
			break
		}
		n++
	}
	if n == 0 {
		return piece{}, false
	}
	lines := "lines"
	if n == 1 {
		lines = "line"
	}
	return piece{line: first, problem: fmt.Sprintf("COPY FROM STDIN data skipped (%d %s)", n, lines)}, true
}

// skipLine reads past the rest of a line, however long, and returns its first bytes
// without the line end; false at the end of the input.
func (s *splitter) skipLine() (string, bool) {
	var head []byte
	any := false
	for {
		chunk, err := s.r.ReadSlice('\n')
		any = any || len(chunk) > 0
		head = append(head, chunk[:min(len(chunk), 4-len(head))]...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			s.err = err
			return "", false
		}
		if err == nil {
			s.line++
		}
		return strings.TrimRight(string(head), "\r\n"), any
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
