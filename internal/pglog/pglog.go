// Package pglog reads PostgreSQL server logs (stderr; csvlog in its 23-, 24- and
// 26-column shapes of 9.0-12, 13 and 14+; jsonlog) and extracts the statements they
// record: those logged by log_min_duration_statement, log_statement, auto_explain,
// and the statements that failed. pgmedic's query analyser uses it to analyse a
// workload given as a log file.
//
// Server logs of a healthcare database hold patient data: bind parameter values are
// counted but never kept, problems carry a line number and a reason but never the
// line's text, and statements and plans are returned as logged, so callers must
// normalise them before printing them.
//
// Messages must be in English (lc_messages = 'C' or an English locale): severity
// keywords and message texts are matched as PostgreSQL writes them untranslated.
package pglog

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"math"
)

// Format is the log_destination a file was written by.
type Format string

// The log formats Parse understands.
const (
	FormatStderr  Format = "stderr"
	FormatCSV     Format = "csvlog"
	FormatJSON    Format = "jsonlog"
	FormatUnknown Format = ""
)

// Entry kinds.
const (
	KindStatement = "statement" // simple protocol (or log_statement)
	KindExecute   = "execute"   // extended protocol execute message
	KindPlan      = "plan"      // auto_explain
	KindError     = "error"     // the STATEMENT of a failed statement
)

// Entry is one statement found in the log.
type Entry struct {
	// Statement is the SQL text as logged. It may contain literal values (patient
	// data): callers must normalise it before printing or storing it.
	Statement string
	// DurationMs comes from "duration: X ms"; 0 when the line had none
	// (log_statement = all, errors).
	DurationMs float64
	// Kind is KindStatement, KindExecute, KindPlan or KindError.
	Kind string
	// ParamCount is the number of bind parameters the log listed. Their values are
	// never kept.
	ParamCount int
	// PlanText is the auto_explain plan (text, JSON, YAML or XML as logged) without its
	// "Query Text" and "Query Parameters" parts; "" for other kinds. Like Statement it
	// can hold literal values (a custom plan folds parameters into its conditions).
	PlanText string
	// Database, User and Application come from log_line_prefix (%d, %u, %a), or from
	// the csvlog/jsonlog columns.
	Database, User, Application string
	// SQLState is the error code of a failed statement when the log carries it
	// (csvlog, jsonlog, %e in log_line_prefix, log_error_verbosity = verbose).
	SQLState string
	// Line is the 1-based line where the entry's log message starts.
	Line int
}

// Problem is a line that looks like a log entry but could not be understood. It never
// carries the line's text, which may hold patient data.
type Problem struct {
	Line int
	Msg  string
}

// Options tune Parse.
type Options struct {
	// Format of the log; "" detects it from the first bytes.
	Format Format
	// Prefix is the server's log_line_prefix (stderr logs), e.g. "%m [%p] %q%u@%d ".
	// "" recognises common prefixes and falls back to a heuristic.
	Prefix string
}

// Buffer sizes: lines (a statement, a plan) can be megabytes long. The reader grows
// past its buffer when it must; the buffer only sets how much is read at once.
const (
	readBufferSize = 1 << 20
	headSize       = 256 << 10 // what format and prefix detection look at
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Detect guesses the format of a log from its first bytes: jsonlog when the first
// non-blank line is a JSON object, csvlog when it is a CSV record whose severity column
// holds a severity, stderr otherwise.
func Detect(head []byte) Format {
	head = bytes.TrimPrefix(head, utf8BOM)
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '{' {
			return FormatJSON
		}
		if looksLikeCSV(line, head) {
			return FormatCSV
		}
		return FormatStderr
	}
	return FormatStderr
}

// Parse reads a whole log and returns the statements it records, in file order, and
// the lines it could not understand. The error reports only unusable input (an
// unknown format, a read failure); damaged lines become Problems. Scan does the same
// without holding the entries.
func Parse(r io.Reader, opts Options) ([]Entry, []Problem, error) {
	var entries []Entry
	var problems []Problem
	err := Scan(r, opts,
		func(e Entry) error { entries = append(entries, e); return nil },
		func(p Problem) { problems = append(problems, p) })
	if err != nil {
		return nil, nil, err
	}
	return entries, problems, nil
}

// Scan reads a log and calls entry for each statement it records and problem (which
// may be nil) for each line it could not understand, both in file order, as it reads.
// It holds only the messages still open and what they keep back (a stderr message is
// complete when its session logs again or has been silent for a while). An error from
// entry stops the scan and is returned as it is.
func Scan(r io.Reader, opts Options, entry func(Entry) error, problem func(Problem)) error {
	br := bufio.NewReaderSize(r, readBufferSize)
	head, err := br.Peek(headSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("pglog: reading the log: %w", err)
	}
	complete := err != nil // the whole input fits in head
	if bytes.HasPrefix(head, utf8BOM) {
		if _, err := br.Discard(len(utf8BOM)); err != nil {
			return fmt.Errorf("pglog: reading the log: %w", err)
		}
		head = head[len(utf8BOM):]
	}
	format := opts.Format
	if format == FormatUnknown {
		format = Detect(head)
	}
	out := &collector{entryFn: entry, problemFn: problem}
	var perr error
	switch format {
	case FormatStderr:
		p, err := newStderrParser(head, complete, opts.Prefix, out)
		if err != nil {
			return err
		}
		out.open = p.openFrom
		perr = p.run(br)
	case FormatCSV:
		perr = parseCSV(br, out)
	case FormatJSON:
		perr = parseJSON(br, out)
	default:
		return fmt.Errorf("pglog: unknown log format %q (want %s, %s or %s)", format, FormatStderr, FormatCSV, FormatJSON)
	}
	if perr != nil {
		return perr
	}
	out.open = nil
	out.release()
	return out.err
}

// collector hands what the format parsers find to the caller in file order. Messages
// of different sessions can complete out of order (see stderrParser): what completes
// is held until no message that started earlier is still open.
type collector struct {
	entryFn   func(Entry) error
	problemFn func(Problem)
	// open returns the first line of the earliest message still being read;
	// math.MaxInt when none is. nil: messages complete in file order.
	open func() int
	held heldItems
	seq  int
	err  error // from entryFn: the parsers stop
}

// heldItem is an entry or a problem waiting for its turn.
type heldItem struct {
	line, seq int
	entry     *Entry
	problem   *Problem
}

// heldItems is a min-heap by line, then by order of arrival.
type heldItems []heldItem

func (h heldItems) Len() int { return len(h) }
func (h heldItems) Less(i, j int) bool {
	return h[i].line < h[j].line || h[i].line == h[j].line && h[i].seq < h[j].seq
}
func (h heldItems) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldItems) Push(x any)   { *h = append(*h, x.(heldItem)) }
func (h *heldItems) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = heldItem{}
	*h = old[:len(old)-1]
	return it
}

func (c *collector) add(e Entry) {
	c.seq++
	heap.Push(&c.held, heldItem{line: e.Line, seq: c.seq, entry: &e})
	c.release()
}

func (c *collector) problem(line int, msg string) {
	c.seq++
	heap.Push(&c.held, heldItem{line: line, seq: c.seq, problem: &Problem{Line: line, Msg: msg}})
	c.release()
}

// release hands over the held items that no open message can precede.
func (c *collector) release() {
	limit := math.MaxInt
	if c.open != nil {
		limit = c.open()
	}
	for c.err == nil && len(c.held) > 0 && c.held[0].line < limit {
		it := heap.Pop(&c.held).(heldItem)
		switch {
		case it.entry != nil:
			c.err = c.entryFn(*it.entry)
		case c.problemFn != nil:
			c.problemFn(*it.problem)
		}
	}
}

// lineReader returns lines of any length without their line terminator.
type lineReader struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

// next returns the next line; io.EOF once no line is left.
func (lr *lineReader) next() (string, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("pglog: reading line %d: %w", lr.line+1, err)
		}
		if len(lr.buf) == 0 && err != nil {
			return "", io.EOF
		}
		lr.line++
		b := bytes.TrimSuffix(lr.buf, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		return string(b), nil
	}
}
