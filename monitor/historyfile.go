package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// historyFile keeps the points on disk as JSON lines, so that a restarted monitor keeps
// its charts and `pgmedic monitor report` can read them. It holds statistics only (no
// statement text, no values). The file is rewritten with the points still within the
// retention period when the monitor starts and whenever it has grown to twice that.
type historyFile struct {
	path    string
	f       *os.File
	lines   int
	compact int // rewrite after this many lines
	failed  bool
}

// HistoryRecord is one line of the history file.
type HistoryRecord struct {
	Target string `json:"target"`
	Point  Point  `json:"point"`
}

// ReadHistory reads a history file's records, oldest first, skipping lines it cannot
// read (a line cut short by a crash).
func ReadHistory(path string) ([]HistoryRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []HistoryRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r HistoryRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Target != "" {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the history file %s: %w", path, err)
	}
	return out, nil
}

// openHistory loads what the file holds for these targets within the retention period
// into their histories and rewrites it with only that.
func openHistory(path string, targets []*target, retention time.Duration, now time.Time) (*historyFile, error) {
	byName := map[string]*target{}
	capacity := 0
	for _, t := range targets {
		byName[t.name] = t
		capacity += len(t.hist.recent.points)
		if t.hist.coarse != nil {
			capacity += len(t.hist.coarse.points)
		}
	}
	var kept []HistoryRecord
	recs, err := ReadHistory(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, r := range recs {
		if t := byName[r.Target]; t != nil && now.Sub(r.Point.At) <= retention {
			t.hist.add(r.Point)
			kept = append(kept, r)
		}
	}
	h := &historyFile{path: path, compact: 2 * max(capacity, 1000)}
	if err := h.rewrite(kept); err != nil {
		return nil, err
	}
	return h, nil
}

// rewrite replaces the file atomically with recs and reopens it for appending.
func (h *historyFile) rewrite(recs []HistoryRecord) error {
	tmp, err := os.CreateTemp(filepath.Dir(h.path), ".pgmedic-history-*")
	if err != nil {
		return fmt.Errorf("writing the history file: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the history file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), h.path); err != nil {
		return fmt.Errorf("replacing the history file: %w", err)
	}
	if h.f != nil {
		h.f.Close()
	}
	h.f, err = os.OpenFile(h.path, os.O_APPEND|os.O_WRONLY, 0o600)
	h.lines = len(recs)
	return err
}

// append writes one point; the caller holds the monitor's lock.
func (h *historyFile) append(m *Monitor, target string, p Point) {
	if h == nil || h.failed {
		return
	}
	line, _ := json.Marshal(HistoryRecord{Target: target, Point: p})
	if _, err := h.f.Write(append(line, '\n')); err != nil {
		h.failed = true
		m.opts.Logger.Error("monitor: history file not written any more", "file", h.path, "error", err.Error())
		return
	}
	h.lines++
	if h.lines >= h.compact {
		var recs []HistoryRecord
		for _, t := range m.targets {
			for _, pt := range t.hist.list() {
				recs = append(recs, HistoryRecord{Target: t.name, Point: pt})
			}
		}
		if err := h.rewrite(recs); err != nil {
			h.failed = true
			m.opts.Logger.Error("monitor: history file not written any more", "file", h.path, "error", err.Error())
		}
	}
}

func (h *historyFile) close() {
	if h != nil && h.f != nil {
		h.f.Close()
	}
}
