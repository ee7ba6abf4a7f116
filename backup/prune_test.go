package backup

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var paths []string
	// Seven daily backups, newest first; the fifth (4 days old) was verified.
	for i := 0; i < 7; i++ {
		taken := now.Add(-time.Duration(i) * 24 * time.Hour)
		p := filepath.Join(dir, fileName("clinic", taken))
		os.WriteFile(p, []byte("x"), 0o600)
		if err := writeJSON(ManifestPath(p), &Manifest{Format: 1, File: filepath.Base(p), Started: taken}); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			writeJSON(VerifiedPath(p), &Verification{File: p, OK: true})
		}
		paths = append(paths, p)
	}
	os.WriteFile(filepath.Join(dir, "unrelated.dump"), []byte("x"), 0o600)

	names := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Path)
		}
		return out
	}
	keep, remove, err := Plan(dir, Retention{Keep: 2, MaxAge: 36 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// Newest two by count; none younger than 36h beyond those; the verified one stays.
	if want := []string{paths[0], paths[1], paths[4]}; !slices.Equal(names(keep), want) {
		t.Fatalf("keep %v, want %v", names(keep), want)
	}
	if want := []string{paths[2], paths[3], paths[5], paths[6]}; !slices.Equal(names(remove), want) {
		t.Fatalf("remove %v, want %v", names(remove), want)
	}
	_, remove, _ = Plan(dir, Retention{Keep: 1, MaxAge: 80 * time.Hour, Now: now})
	if want := []string{paths[5], paths[6]}; !slices.Equal(names(remove), want) {
		t.Fatalf("age keeps the last 80h and the verified one: remove %v, want %v", names(remove), want)
	}
	for _, e := range remove {
		if err := Remove(e); err != nil {
			t.Fatal(err)
		}
	}
	left, _ := List(dir)
	if len(left) != 5 {
		t.Fatalf("want 5 backups left, got %d", len(left))
	}
	if _, err := os.Stat(ManifestPath(paths[6])); !os.IsNotExist(err) {
		t.Fatal("a removed backup's manifest must go with it")
	}
	if _, err := os.Stat(filepath.Join(dir, "unrelated.dump")); err != nil {
		t.Fatal("files that are not pgmedic backups are never touched")
	}
	if _, _, err := Plan(dir, Retention{Keep: 0}); err == nil {
		t.Fatal("keeping no backup must be refused")
	}
}
