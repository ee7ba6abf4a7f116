package stmtsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// readScript splits a SQL script and hands over the statements PostgreSQL's parser
// accepts.
func readScript(br *bufio.Reader, fn func(Statement) error, max int, res *Result) error {
	if head, _ := br.Peek(3); bytes.Equal(head, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3) // a UTF-8 byte order mark; Peek has the bytes
	}
	s := newSplitter(br, max)
	for {
		p, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.problem != "" {
			res.problem(Problem{Line: p.line, Reason: p.problem})
			continue
		}
		stmts, reason := check(p)
		if reason != "" {
			res.problem(Problem{Line: p.line, Reason: reason})
			continue
		}
		for _, st := range stmts {
			res.Statements++
			if err := fn(Statement{Text: st.text, Line: st.line, Source: SourceFile}); err != nil {
				return err
			}
		}
	}
}

// check runs a statement through PostgreSQL's parser. It returns the statement (or the
// statements, when the parser sees more than one), or why it cannot be used.
// SplitWithParser runs the same parser as pg_query.Parse without building the Go tree:
// about 5 µs a statement instead of 100.
func check(p piece) ([]piece, string) {
	if strings.IndexByte(p.text, 0) >= 0 {
		return nil, "holds a NUL byte"
	}
	parts, err := pg_query.SplitWithParser(p.text, false)
	if err != nil {
		reason := "does not parse (" + safeReason(err.Error())
		if line := errorLine(p, err); line > p.line {
			reason += fmt.Sprintf(", at line %d", line)
		}
		return nil, reason + ")"
	}
	if len(parts) == 1 {
		return []piece{p}, ""
	}
	// psql's BEGIN ... END heuristic can join statements ("SET search_path = begin;"):
	// the parser separates them again. parts are p.text's substrings, in order.
	out := make([]piece, 0, len(parts))
	at := 0
	for _, part := range parts {
		at += strings.Index(p.text[at:], part)
		text := strings.TrimLeft(part, " \t\n\r\f\v")
		line := p.textLine + strings.Count(p.text[:at+len(part)-len(text)], "\n")
		out = append(out, piece{text: strings.TrimRight(text, " \t\n\r\f\v"), line: max(line, p.line)})
		at += len(part)
	}
	return out, ""
}

// quotedText is what is left between double quotes in a parser message.
var quotedText = regexp.MustCompile(`"(?s:.*)"`)

// safeReason keeps a parser message's words and drops the text it quotes.
func safeReason(msg string) string {
	msg = sqlparse.RedactNear(msg)
	// The token is the end of an "at or near" message; RedactNear's match ends early
	// at a quote inside it (at or near "'a"b'").
	if i := strings.Index(msg, "at or near "); i >= 0 {
		msg = msg[:i] + "at or near a token"
	}
	return quotedText.ReplaceAllString(msg, "a token")
}

// errorLine is the file line of the parser's error position; 0 when unknown.
func errorLine(p piece, err error) int {
	var pe *pgparser.Error
	if !errors.As(err, &pe) || pe.Cursorpos <= 0 {
		return 0
	}
	// The position counts characters from 1.
	line, chars := p.textLine, 0
	for i := 0; i < len(p.text) && chars < pe.Cursorpos-1; chars++ {
		if p.text[i] == '\n' {
			line++
		}
		_, n := utf8.DecodeRuneInString(p.text[i:])
		i += n
	}
	return line
}
