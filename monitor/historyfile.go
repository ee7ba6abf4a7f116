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
	alerts  []HistoryRecord // transitions kept through compactions
	path    string
	f       *os.File
	lines   int
	compact int // rewrite after this many lines
	failed  bool
}

// HistoryRecord is one line of the history file: a point, or an alert that fired or
// resolved.
type HistoryRecord struct {
	Target string `json:"target"`
	Point  Point  `json:"point,omitzero"`
	Alert  *Alert `json:"alert,omitempty"`
}

// maxAlertRecords bounds the alert transitions a history file carries over compactions.
const maxAlertRecords = 2000

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
	var alerts []HistoryRecord
	for _, r := range recs {
		t := byName[r.Target]
		switch {
		case t == nil:
		case r.Alert != nil && now.Sub(r.Alert.StartedAt) <= retention:
			alerts = append(alerts, r)
			kept = append(kept, r)
		case r.Alert == nil && now.Sub(r.Point.At) <= retention:
			t.hist.add(r.Point)
			kept = append(kept, r)
		}
	}
	h := &historyFile{path: path, compact: 2 * max(capacity, 1000), alerts: tail(alerts, maxAlertRecords)}
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

func tail(r []HistoryRecord, n int) []HistoryRecord {
	if len(r) > n {
		return append([]HistoryRecord(nil), r[len(r)-n:]...)
	}
	return r
}

// appendAlert records an alert transition.
func (h *historyFile) appendAlert(m *Monitor, target string, a Alert) {
	if h == nil || h.failed {
		return
	}
	rec := HistoryRecord{Target: target, Alert: &a}
	h.alerts = tail(append(h.alerts, rec), maxAlertRecords)
	h.write(m, rec)
}

// append writes one point; the caller holds the monitor's lock.
func (h *historyFile) append(m *Monitor, target string, p Point) {
	if h == nil || h.failed {
		return
	}
	h.write(m, HistoryRecord{Target: target, Point: p})
}

func (h *historyFile) write(m *Monitor, rec HistoryRecord) {
	line, _ := json.Marshal(rec)
	if _, err := h.f.Write(append(line, '\n')); err != nil {
		h.failed = true
		m.opts.Logger.Error("monitor: history file not written any more", "file", h.path, "error", err.Error())
		return
	}
	h.lines++
	if h.lines >= h.compact {
		recs := append([]HistoryRecord(nil), h.alerts...)
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
