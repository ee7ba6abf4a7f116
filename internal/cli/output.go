package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// --output: what pgmedic writes where.
//   - a new or regular file is written to a temporary file in the same directory and
//     renamed over the target, so a reader never sees half a report; it is made
//     readable by its owner only (reports describe tables that hold PHI);
//   - a device (/dev/null, /dev/stdout, a terminal) or a FIFO is written through, never
//     replaced;
//   - a symbolic link is refused: it could send a report elsewhere than the name
//     says; give the path it points to;
//   - a directory is refused.

// outputKind says how a path is to be written.
type outputKind int

const (
	outputReplace outputKind = iota // new or regular file: temporary file and rename
	outputStream                    // device or FIFO: write through
)

func classifyOutput(path string) (outputKind, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return outputReplace, nil
	case err != nil:
		return 0, outputError(path, err)
	case st.Mode()&fs.ModeSymlink != 0:
		target, _ := filepath.EvalSymlinks(path)
		return 0, usageHint("give the path the link points to"+suffix(target), "--output %s is a symbolic link; pgmedic does not write reports through links", path)
	case st.IsDir():
		return 0, usageErrorf("--output %s is a directory; give a file name", path)
	case st.Mode().IsRegular():
		return outputReplace, nil
	}
	return outputStream, nil // character device, FIFO, socket
}

func suffix(target string) string {
	if target == "" {
		return ""
	}
	return " (" + target + ")"
}

// checkOutput fails early, before minutes of work, when --output cannot be written.
func checkOutput(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	kind, err := classifyOutput(path)
	if err != nil {
		return err
	}
	if kind == outputStream {
		// Opening a FIFO would wait for its reader: ask for permission instead.
		if err := syscall.Access(path, 2 /* W_OK */); err != nil {
			return outputError(path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pgmedic-*.tmp")
	if err != nil {
		return outputError(path, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// writeTo writes the output of write to path (standard output for "" or "-").
func (a *app) writeTo(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(a.stdout)
	}
	kind, err := classifyOutput(path)
	if err != nil {
		return err
	}
	if kind == outputStream {
		return writeThrough(path, write)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pgmedic-*.tmp")
	if err != nil {
		return outputError(path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAll(tmp, write); err != nil {
		tmp.Close()
		return writeError(path, err)
	}
	if err := tmp.Close(); err != nil {
		return writeError(path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return writeError(path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return writeError(path, err)
	}
	return nil
}

func writeThrough(path string, write func(io.Writer) error) error {
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return outputError(path, err)
	}
	if err := writeAll(fh, write); err != nil {
		fh.Close()
		return writeError(path, err)
	}
	if err := fh.Close(); err != nil {
		return writeError(path, err)
	}
	return nil
}

// writeError is a failed write of the output (a full disk, /dev/full); an error from
// the work that produced the output passes unchanged.
func writeError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) {
		return &jobError{msg: fmt.Sprintf("cannot write %s: %v", path, unwrapPath(err)), err: err, hint: "check the free space and the permissions where it goes"}
	}
	return err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func outputError(path string, err error) error {
	return &jobError{msg: fmt.Sprintf("cannot write %s: %v", path, unwrapPath(err)), err: err, hint: "check that the directory exists and is writable"}
}

// writeAll runs write on w and returns its error, or the first error a write to w
// returned: printers that ignore Fprintf's error must not turn a full disk into a
// silent, empty report.
func writeAll(w io.Writer, write func(io.Writer) error) error {
	sw := &stickyWriter{w: w}
	if err := write(sw); err != nil {
		return err
	}
	return sw.err
}

type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// writeJSON writes v as indented JSON, the form every --format json of pgmedic takes.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
