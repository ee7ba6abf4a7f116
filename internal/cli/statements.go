package cli

import (
	"errors"
	"iter"

	"github.com/pgmedic/pgmedic/workload"
)

// statementFile is a --file read as the analysis consumes it (workload.File).
type statementFile struct{ f *workload.File }

// openStatements checks the file before any connection is made.
func (a *app) openStatements(path string) (*statementFile, error) {
	f, err := workload.OpenFile(a.ctx, path)
	if err != nil {
		return nil, a.fileError(err)
	}
	return &statementFile{f}, nil
}

func (s *statementFile) inputs(a *app) iter.Seq[workload.Input] { return s.f.Inputs(a.ctx) }

// finish prints what the reading skipped and turns its failure into an exit.
func (s *statementFile) finish(a *app) error {
	rep, err := s.f.Done(a.ctx)
	var fe *workload.FileError
	if err == nil || errors.As(err, &fe) && (fe.Kind == workload.FileNoStatements || fe.Kind == workload.FileNoSQL) {
		a.noteSkipped(rep)
	}
	return a.fileError(err)
}

// fileError: a file that cannot be opened or holds nothing is a usage error; one that
// fails part-way through is a failed job.
func (a *app) fileError(err error) error {
	var fe *workload.FileError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Kind == workload.FileUnreadable {
		return &jobError{msg: fe.Error(), err: err}
	}
	if h := fe.Hint(); h != "" {
		return usageHint(h, "--file %v", fe)
	}
	return usageErrorf("--file: %v", fe)
}

// noteSkipped lists, on standard error, what the reading skipped.
func (a *app) noteSkipped(rep workload.FileReport) {
	if rep.Skipped == 0 {
		return
	}
	if rep.Log {
		a.logf("pgmedic: note: %d log lines could not be understood (first at line %d)", rep.Skipped, rep.Problems[0].Line)
		return
	}
	a.logf("pgmedic: note: %s of the SQL file skipped:", workload.SkippedCount(rep.Skipped))
	for _, p := range rep.Problems[:min(len(rep.Problems), maxNotes)] {
		a.logf("pgmedic: note:   line %d: %s", p.Line, p.Reason)
	}
	if rep.Skipped > maxNotes {
		a.logf("pgmedic: note:   and %d more", rep.Skipped-maxNotes)
	}
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
