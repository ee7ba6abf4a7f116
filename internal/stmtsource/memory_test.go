package stmtsource

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// writeScript writes a SQL script of about size bytes, as an application's statement
// file or a dump might hold: commented, multi-line statements with values, E'...'
// strings, dollar-quoted bodies, psql meta-commands, COPY data and some statements
// that do not parse. It returns the statements and problems Read must find.
func writeScript(t *testing.T, path string, size int64) (stmts, problems int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	written := int64(0)
	for i := 0; written < size; i++ {
		n, _ := fmt.Fprintf(w, `-- visit %[1]d; follow-up
SELECT p.id, p.mrn, c.claim_number, c.status
  FROM patients p JOIN claims c ON c.patient_id = p.id
 WHERE p.mrn = 'MRN-%06[1]d' AND c.date_of_service >= '2024-01-01' /* last year; */
 ORDER BY c.date_of_service DESC LIMIT 20;
INSERT INTO notes (patient_id, body) VALUES (%[1]d, E'O\'Hara; called back\nward %[1]d');
UPDATE appointments SET status = 'done' WHERE id = %[1]d;
`, i)
		stmts += 3
		switch {
		case i%1000 == 999:
			n2, _ := fmt.Fprintf(w, "\\set pid %d\nSELEC name FROM patients WHERE mrn = 'MRN-%06d';\n", i, i)
			n += n2
			problems += 2
		case i%500 == 499:
			n2, _ := fmt.Fprintf(w, "COPY notes (patient_id, body) FROM stdin;\n")
			n += n2
			for j := range 50 {
				n2, _ = fmt.Fprintf(w, "%d\tAnn O'Neil; visit %d\n", i, j)
				n += n2
			}
			n2, _ = fmt.Fprintf(w, "\\.\n")
			n += n2
			stmts++
			problems++
		case i%100 == 99:
			n2, _ := fmt.Fprintf(w, "DO $body$\nBEGIN\n  PERFORM 1; -- %d\nEND;\n$body$;\n", i)
			n += n2
			stmts++
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return stmts, problems
}

// heapPeak samples HeapInuse until stopped. Sampling, not timing: no bound on how long
// anything takes.
type heapPeak struct {
	mu   sync.Mutex
	peak uint64
}

func (h *heapPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.mu.Lock()
	h.peak = max(h.peak, m.HeapInuse)
	h.mu.Unlock()
}

// TestReadLargeScriptStreams streams a 50 MB script through ReadFile: the heap stays
// small, however long the file.
func TestReadLargeScriptStreams(t *testing.T) {
	const size, limit = 50 << 20, 64 << 20
	path := filepath.Join(t.TempDir(), "workload.sql")
	wantStmts, wantProblems := writeScript(t, path, size)

	runtime.GC()
	var h heapPeak
	h.sample()
	before := h.peak
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				h.sample()
			}
		}
	}()
	n := 0
	res, err := ReadFile(path, func(Statement) error {
		if n++; n%1000 == 0 {
			h.sample()
		}
		return nil
	})
	close(done)
	wg.Wait()
	h.sample()
	if err != nil {
		t.Fatal(err)
	}
	if n != wantStmts || res.Statements != wantStmts || res.Skipped != wantProblems {
		t.Errorf("%d statements (result %d), %d skipped; want %d and %d", n, res.Statements, res.Skipped, wantStmts, wantProblems)
	}
	t.Logf("%d MB script, %d statements, %d skipped: heap in use at most %.1f MB (%.1f MB before)",
		size>>20, n, res.Skipped, float64(h.peak)/(1<<20), float64(before)/(1<<20))
	if h.peak > limit {
		t.Errorf("heap in use reached %.1f MB reading a %d MB file; want under %d MB", float64(h.peak)/(1<<20), size>>20, limit>>20)
	}
}
