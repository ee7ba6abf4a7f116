package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one backup file in a directory.
type Entry struct {
	Path     string    `json:"path"`
	Taken    time.Time `json:"taken"`
	Bytes    int64     `json:"bytes"`
	Verified *bool     `json:"verified,omitempty"` // nil: never verified
	Reason   string    `json:"reason"`             // why it is kept or removed
}

// Retention says which backups to keep: the newest Keep, those younger than MaxAge
// (0: age keeps none), and always the newest one whose restore was verified, so
// pruning never leaves a directory without a proven backup it had.
type Retention struct {
	Keep   int
	MaxAge time.Duration
	Now    time.Time
}

// List returns the backups in dir, newest first. The time is the manifest's, or the
// file's modification time when the manifest is missing.
func List(dir string) ([]Entry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "pgmedic-*"+Extension))
	if err != nil {
		return nil, fmt.Errorf("backup: listing %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("backup: directory %s: %w", dir, err)
	}
	var out []Entry
	for _, p := range names {
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		e := Entry{Path: p, Taken: st.ModTime().UTC(), Bytes: st.Size()}
		if m, err := ReadManifest(p); err == nil && !m.Started.IsZero() {
			e.Taken = m.Started
		}
		if v, err := ReadVerification(p); err == nil {
			ok := v.OK
			e.Verified = &ok
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Taken.After(out[j].Taken) })
	return out, nil
}

// ReadVerification reads the record Verify left beside a backup file.
func ReadVerification(path string) (*Verification, error) {
	raw, err := os.ReadFile(VerifiedPath(path))
	if err != nil {
		return nil, fmt.Errorf("backup: reading the verification record: %w", err)
	}
	var v Verification
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("backup: %s is not valid JSON: %w", VerifiedPath(path), err)
	}
	return &v, nil
}

// Plan splits the backups of dir into those to keep and those to remove.
func Plan(dir string, r Retention) (keep, remove []Entry, err error) {
	if r.Keep < 1 {
		return nil, nil, errors.New("backup: retention must keep at least one backup")
	}
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	all, err := List(dir)
	if err != nil {
		return nil, nil, err
	}
	verifiedKept := false
	for i, e := range all {
		age := r.Now.Sub(e.Taken)
		switch {
		case i < r.Keep:
			e.Reason = fmt.Sprintf("one of the newest %d", r.Keep)
		case r.MaxAge > 0 && age <= r.MaxAge:
			e.Reason = fmt.Sprintf("younger than %s", r.MaxAge)
		case e.Verified != nil && *e.Verified && !verifiedKept:
			e.Reason = "the newest verified backup"
		default:
			e.Reason = fmt.Sprintf("beyond the newest %d and %s old", r.Keep, age.Round(time.Minute))
			remove = append(remove, e)
			continue
		}
		if e.Verified != nil && *e.Verified {
			verifiedKept = true
		}
		keep = append(keep, e)
	}
	return keep, remove, nil
}

// Remove deletes a backup file with its manifest and verification record.
func Remove(e Entry) error {
	if !strings.HasSuffix(e.Path, Extension) {
		return fmt.Errorf("backup: %s is not a backup file", e.Path)
	}
	for _, p := range []string{e.Path, ManifestPath(e.Path), VerifiedPath(e.Path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("backup: removing %s: %w", p, err)
		}
	}
	return syncDir(filepath.Dir(e.Path))
}
