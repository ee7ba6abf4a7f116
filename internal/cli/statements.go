package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"

	"github.com/pgmedic/pgmedic/internal/stmtsource"
	"github.com/pgmedic/pgmedic/workload"
)

// statementFile is a --file read as the analysis consumes it, so a large log or script
// is never held in memory whole; what the reading found is reported after.
type statementFile struct {
	path string
	res  stmtsource.Result
	err  error
	n    int
}

// openStatements checks, before any connection is made, that the file can be read and
// holds at least one statement: it reads up to the first one (the whole file only when
// none is good, to say where the problems are).
func (a *app) openStatements(path string) (*statementFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, usageErrorf("--file: cannot open %s: %v", path, pe.Err)
		}
		return nil, usageErrorf("--file: cannot open %s: %v", path, err)
	}
	fh.Close()
	probe := &statementFile{path: path}
	for range probe.inputs(a) {
		return &statementFile{path: path}, nil
	}
	if err := probe.finish(a); err != nil {
		return nil, err
	}
	return &statementFile{path: path}, nil
}

// inputs streams the file's statements.
func (f *statementFile) inputs(a *app) iter.Seq[workload.Input] {
	return func(yield func(workload.Input) bool) {
		stopped := errors.New("stopped")
		f.res, f.err = stmtsource.ReadFile(f.path, func(s stmtsource.Statement) error {
			if err := a.ctx.Err(); err != nil {
				return err
			}
			f.n++
			in := workload.Input{Text: s.Text, Raw: true, Source: s.Source, Calls: max(s.Calls, 1),
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

// finish reports what the reading found: skipped lines, and the errors that make the
// run fail (nothing to analyse, a read error).
func (f *statementFile) finish(a *app) error {
	var pe *fs.PathError
	switch {
	case f.err != nil && a.ctx.Err() != nil:
		return a.ctx.Err()
	case errors.As(f.err, &pe) && pe.Op == "open":
		return usageErrorf("--file: cannot open %s: %v", f.path, pe.Err)
	case f.err != nil && f.res.IsLog():
		return &jobError{msg: fmt.Sprintf("reading the log %s: %v", f.path, errors.Unwrap(f.err)), err: f.err}
	case f.err != nil:
		return &jobError{msg: fmt.Sprintf("reading %s: %v", f.path, errors.Unwrap(f.err)), err: f.err}
	}
	a.noteSkipped(f.res)
	switch {
	case f.n > 0:
		return nil
	case f.res.IsLog():
		return usageHint("the log needs log_min_duration_statement (or log_statement = all, or auto_explain) lines",
			"--file %s: no statements found in the log", f.path)
	case f.res.Skipped > 0:
		p := f.res.Problems[0]
		return usageHint("check the SQL in the file (psql -f runs the same statements)",
			"--file %s does not parse as SQL: %s skipped, the first at line %d: %s", f.path, skippedCount(f.res.Skipped), p.Line, p.Reason)
	}
	return usageErrorf("--file %s holds no statements", f.path)
}

// readStatements reads a whole --file (for callers that need the list).
func (a *app) readStatements(path string) ([]workload.Input, error) {
	f, err := a.openStatements(path)
	if err != nil {
		return nil, err
	}
	var out []workload.Input
	for in := range f.inputs(a) {
		out = append(out, in)
	}
	if err := f.finish(a); err != nil {
		return nil, err
	}
	return out, nil
}

// maxNotes bounds the skipped lines listed on stderr.
const maxNotes = 10
