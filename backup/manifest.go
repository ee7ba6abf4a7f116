package backup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Extension is the suffix of pgmedic's encrypted backup files; the manifest and the
// verification record sit beside each file.
const (
	Extension      = ".pgmb"
	ManifestSuffix = ".manifest.json"
	VerifiedSuffix = ".verified.json"
)

// Server identifies where a backup came from.
type Server struct {
	Version    string `json:"version"`
	SystemID   string `json:"system_identifier,omitempty"`
	Database   string `json:"database"`
	Host       string `json:"host"`
	InRecovery bool   `json:"in_recovery"`
}

// Manifest describes one backup file. A copy of it, without the file's own hash and
// size, is the file's encrypted final record, so a file that lost its manifest can
// still be verified.
type Manifest struct {
	Format     int         `json:"format"`
	File       string      `json:"file"`
	SHA256     string      `json:"sha256,omitempty"`
	Bytes      int64       `json:"bytes,omitempty"`
	DumpBytes  int64       `json:"dump_bytes"`
	Started    time.Time   `json:"started"`
	Finished   time.Time   `json:"finished"`
	Server     Server      `json:"server"`
	LSN        string      `json:"lsn"`
	Snapshot   string      `json:"snapshot"`
	PgDump     string      `json:"pg_dump"`
	Encryption string      `json:"encryption"`
	KeyID      string      `json:"key_id"`
	Tables     []TableStat `json:"tables"`
	// Roles are the roles row-security policies name: a restore elsewhere needs them
	// to exist for the policies to be created.
	Roles []string `json:"roles,omitempty"`
}

// Rows is the total row count of the manifest's tables.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// KeyID names a key without revealing it, so a manifest says which key opens its file.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pgmedic backup v1 key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ManifestPath is where the manifest of backup file path lives.
func ManifestPath(path string) string { return path + ManifestSuffix }

// VerifiedPath is where the verification record of backup file path lives.
func VerifiedPath(path string) string { return path + VerifiedSuffix }

// ReadManifest reads the manifest beside a backup file.
func ReadManifest(path string) (*Manifest, error) {
	raw, err := os.ReadFile(ManifestPath(path))
	if err != nil {
		return nil, fmt.Errorf("backup: reading the manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("backup: manifest %s is not valid JSON: %w", ManifestPath(path), err)
	}
	return &m, nil
}

// writeJSON writes v to path atomically: a temporary file in the same directory,
// flushed to disk, renamed over path, and the directory flushed.
func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: encoding %s: %w", filepath.Base(path), err)
	}
	return writeAtomic(path, append(raw, '\n'))
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: flushing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backup: renaming into %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("backup: flushing %s: %w", dir, err)
	}
	return nil
}

// fileName is the name of a new backup of database db taken at t.
func fileName(db string, t time.Time) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, db)
	if len(safe) > 60 {
		safe = safe[:60]
	}
	return "pgmedic-" + safe + "-" + t.UTC().Format("20060102T150405.000Z") + Extension
}
