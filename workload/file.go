package workload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"

	"github.com/pgmedic/pgmedic/internal/stmtsource"
)

// File is a SQL script or a PostgreSQL server log (stderr, csvlog or jsonlog, written
// with log_min_duration_statement, log_statement or auto_explain) read as a workload.
// The kind is detected from the first bytes. Inputs streams it, so a large log is never
// held in memory whole; Done then says what the reading found.
type File struct {
	path string
	res  stmtsource.Result
	err  error
	n    int
}

// FileReport is what reading a file skipped.
type FileReport struct {
	Log      bool          // a server log, not a SQL script
	Skipped  int           // statements or lines skipped
	Problems []FileProblem // the first of them, in file order
}

// FileProblem is one skipped statement or line; Reason never quotes the file.
type FileProblem struct {
	Line   int
	Reason string
}

// FileErrorKind says why a file gives no workload.
type FileErrorKind int

// The ways a file gives no workload.
const (
	FileCannotOpen   FileErrorKind = iota + 1 // missing, a directory, not permitted
	FileUnreadable                            // a read failed part-way
	FileNoStatements                          // empty, or a log without statement lines
	FileNoSQL                                 // a script none of whose statements parse
)

// FileError says why a file gives no workload, in one line, with a hint.
type FileError struct {
	Path    string
	Kind    FileErrorKind
	Log     bool
	Problem FileProblem // the first skipped statement (FileNoSQL)
	Skipped int
	Err     error
}

func (e *FileError) Error() string {
	switch e.Kind {
	case FileCannotOpen:
		return fmt.Sprintf("cannot open %s: %v", e.Path, e.Err)
	case FileUnreadable:
		what := "reading"
		if e.Log {
			what = "reading the log"
		}
		return fmt.Sprintf("%s %s: %v", what, e.Path, e.Err)
	case FileNoStatements:
		if e.Log {
			return fmt.Sprintf("%s: no statements found in the log", e.Path)
		}
		return fmt.Sprintf("%s holds no statements", e.Path)
	}
	return fmt.Sprintf("%s does not parse as SQL: %s skipped, the first at line %d: %s",
		e.Path, SkippedCount(e.Skipped), e.Problem.Line, e.Problem.Reason)
}

func (e *FileError) Unwrap() error { return e.Err }

// Hint says what to do about it.
func (e *FileError) Hint() string {
	switch {
	case e.Kind == FileNoStatements && e.Log:
		return "the log needs log_min_duration_statement (or log_statement = all, or auto_explain) lines"
	case e.Kind == FileNoSQL:
		return "check the SQL in the file (psql -f runs the same statements)"
	}
	return ""
}

// SkippedCount says "1 statement or line" or "N statements or lines".
func SkippedCount(n int) string {
	if n == 1 {
		return "1 statement or line"
	}
	return fmt.Sprintf("%d statements or lines", n)
}

// OpenFile checks, before any connection is made, that the file can be read and holds
// at least one statement: it reads up to the first one (the whole file only when none
// is good, to say where the problems are). Errors are *FileError.
func OpenFile(ctx context.Context, path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FileError{Path: path, Kind: FileCannotOpen, Err: err}
	}
	st, err := fh.Stat()
	fh.Close()
	if err == nil && st.IsDir() {
		return nil, &FileError{Path: path, Kind: FileCannotOpen, Err: errors.New("it is a directory")}
	}
	probe := &File{path: path}
	for range probe.Inputs(ctx) {
		return &File{path: path}, nil
	}
	if _, err := probe.Done(ctx); err != nil {
		return nil, err
	}
	return &File{path: path}, nil
}

// Inputs streams the file's statements, each once (a log entry is one call with its
// duration). It can be ranged over once.
func (f *File) Inputs(ctx context.Context) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		stopped := errors.New("stopped")
		f.res, f.err = stmtsource.ReadFile(f.path, func(s stmtsource.Statement) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			f.n++
			in := Input{Text: s.Text, Raw: true, Source: s.Source, Calls: max(s.Calls, 1),
				TotalMs: s.TotalMs, MeanMs: s.TotalMs, MaxMs: s.TotalMs, HasStats: s.HasStats}
			if !yield(in) {
				return stopped
			}
			return nil
		})
		if errors.Is(f.err, stopped) {
			f.err = nil
		}
	}
}

// Done says, after Inputs, what the reading skipped, and fails when the file gave
// nothing to analyse or could not be read (a *FileError), or ctx was cancelled.
func (f *File) Done(ctx context.Context) (FileReport, error) {
	rep := FileReport{Log: f.res.IsLog(), Skipped: f.res.Skipped}
	for _, p := range f.res.Problems {
		rep.Problems = append(rep.Problems, FileProblem{Line: p.Line, Reason: p.Reason})
	}
	var pe *fs.PathError
	switch {
	case f.err != nil && ctx.Err() != nil:
		return rep, ctx.Err()
	case errors.As(f.err, &pe) && pe.Op == "open":
		return rep, &FileError{Path: f.path, Kind: FileCannotOpen, Err: pe.Err}
	case f.err != nil:
		return rep, &FileError{Path: f.path, Kind: FileUnreadable, Log: rep.Log, Err: errors.Unwrap(f.err)}
	case f.n > 0:
		return rep, nil
	case rep.Log || rep.Skipped == 0:
		return rep, &FileError{Path: f.path, Kind: FileNoStatements, Log: rep.Log}
	}
	return rep, &FileError{Path: f.path, Kind: FileNoSQL, Problem: rep.Problems[0], Skipped: rep.Skipped}
}
