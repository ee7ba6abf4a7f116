package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// FileError is a backup file that is refused: not a backup, wrong key, truncated,
// altered. Its message is one line naming the file and the reason.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("backup %s %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Hint says what to do about a refused file.
func (e *FileError) Hint() string {
	switch {
	case errors.Is(e.Err, ErrWrongKey):
		return "use the key file the backup was made with; its manifest names the key id"
	case errors.Is(e.Err, ErrNotBackup):
		return "give a file written by 'pgmedic backup'"
	default:
		return "this copy cannot be trusted; use another copy or take a new backup"
	}
}

// Authenticate reads the whole file, checking every record, and returns the manifest
// carried in its final record. With a manifest beside the file, the file's SHA-256
// must match it too. No row data is written anywhere.
func Authenticate(path string, key []byte) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	r, err := NewReader(io.TeeReader(f, sum), key)
	if err != nil {
		return nil, fileError(path, err)
	}
	if _, err := io.CopyBuffer(io.Discard, r, make([]byte, 1<<20)); err != nil {
		return nil, fileError(path, err)
	}
	m, err := trailerManifest(path, r)
	if err != nil {
		return nil, err
	}
	side, err := ReadManifest(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	case side.SHA256 != hex.EncodeToString(sum.Sum(nil)):
		return nil, &FileError{Path: path, Err: errors.New("does not match the SHA-256 in its manifest (altered or replaced)")}
	default:
		m.SHA256, m.Bytes = side.SHA256, side.Bytes
	}
	return m, nil
}

func fileError(path string, err error) error {
	for _, e := range []error{ErrNotBackup, ErrWrongKey, ErrTruncated, ErrDamaged, ErrTrailing} {
		if errors.Is(err, e) {
			return &FileError{Path: path, Err: err}
		}
	}
	return err
}

func trailerManifest(path string, r *Reader) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(r.Trailer(), &m); err != nil || m.Format != 1 {
		return nil, &FileError{Path: path, Err: errors.New("has an unreadable manifest record")}
	}
	return &m, nil
}
