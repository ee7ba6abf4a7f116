// Package stmtsource reads the statements of a workload given as a file: a SQL script
// (what psql -f would run) or a PostgreSQL server log (stderr, csvlog or jsonlog, read
// by pglog). It tells the two apart from the first bytes and streams either kind:
// statements are handed to a callback as they are read, so a file of any size takes
// memory in proportion to its longest statement, not to its length.
//
// The files hold patient data. Statements are returned as written, for callers to
// normalise before showing them; a Problem carries a line number and a reason that
// never repeats the file's text.
package stmtsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pgmedic/pgmedic/internal/pglog"
)

// Where a statement came from (Statement.Source).
const (
	SourceFile = "file" // a SQL script
	SourceLog  = "log"  // a server log
)

// FormatSQL is Result.Format for a SQL script; logs have their pglog format.
const FormatSQL = "sql"

// Statement is one statement read from the file.
type Statement struct {
	// Text is the statement as written, without its semicolon: it can hold literal
	// values (patient data).
	Text string
	// Line is the 1-based line where the statement (a log entry) starts.
	Line   int
	Source string
	// Calls and TotalMs come from a log entry with a duration: one call and its time
	// (HasStats). Statements of a script have none.
	Calls    int64
	TotalMs  float64
	HasStats bool
}

// Problem is a statement or line that was skipped, and why. Reason never quotes the
// file.
type Problem struct {
	Line   int
	Reason string
}

// MaxProblems is how many problems a Result keeps; it counts them all.
const MaxProblems = 100

// Result says what Read found.
type Result struct {
	Format     string    // FormatSQL, or the log's format ("stderr", "csvlog", "jsonlog")
	Statements int       // statements handed to the callback
	Problems   []Problem // the first MaxProblems problems, in file order
	Skipped    int       // all problems, kept or not
}

func (r *Result) problem(p Problem) {
	r.Skipped++
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// IsLog reports whether the file was a server log.
func (r Result) IsLog() bool { return r.Format != FormatSQL && r.Format != "" }

// maxStatement is the longest script statement kept; longer ones are skipped (an
// unclosed quote that runs to the end of a file would otherwise take it all).
const maxStatement = 16 << 20

// Read reads a SQL script or a server log from r and calls fn for each statement, in
// file order, as it reads. Log entries of failed statements and empty statements are
// left out. Statements that do not parse, psql meta-commands, COPY data and log lines
// pglog cannot read are skipped and counted in the Result. The error is a read failure,
// or the error fn returned (as it is), which stops the reading.
func Read(r io.Reader, fn func(Statement) error) (Result, error) {
	return read(r, fn, maxStatement)
}

// ReadFile is Read on the file at path. An error opening it is an *fs.PathError with
// Op "open".
func ReadFile(path string, fn func(Statement) error) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	res, err := Read(f, fn)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// readBufferSize is also pglog's, so that pglog reads through the same buffer.
const readBufferSize = 1 << 20

func read(r io.Reader, fn func(Statement) error, max int) (Result, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return Result{}, fmt.Errorf("reading: %w", err)
	}
	if !looksLikeLog(head) {
		res := Result{Format: FormatSQL}
		return res, readScript(br, fn, max, &res)
	}
	res := Result{Format: string(pglog.Detect(head))}
	err = pglog.Scan(br, pglog.Options{Format: pglog.Format(res.Format)}, func(e pglog.Entry) error {
		if e.Kind == pglog.KindError || strings.TrimSpace(e.Statement) == "" {
			return nil
		}
		res.Statements++
		// Durations make the entries statistics; log_statement lines have none.
		return fn(Statement{Text: e.Statement, Line: e.Line, Source: SourceLog,
			Calls: 1, TotalMs: e.DurationMs, HasStats: e.DurationMs > 0})
	}, func(p pglog.Problem) { res.problem(Problem{Line: p.Line, Reason: p.Msg}) })
	return res, err
}

// looksLikeLog tells a server log from a SQL script by its first bytes.
func looksLikeLog(head []byte) bool {
	if f := pglog.Detect(head); f != pglog.FormatStderr {
		return f != pglog.FormatUnknown
	}
	for _, marker := range [][]byte{[]byte("LOG:  "), []byte("ERROR:  "), []byte("STATEMENT:  "), []byte("duration: ")} {
		if bytes.Contains(head, marker) {
			return true
		}
	}
	return false
}
