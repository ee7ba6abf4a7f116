package synth

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkLoad measures the loader against the fastest plain alternative measured in
// the same run on the same server: the same rows written to files first and read with a
// server-side COPY FROM 'file', one table after another. It reports rows/s and MB/s of
// both and their ratio (loader / plain COPY). PGMEDIC_BENCH_SCALE sets the scale
// (default 1.0).
//
//	go test -run '^$' -bench Load -benchtime 1x ./internal/synth/
func BenchmarkLoad(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("PGMEDIC_BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatalf("PGMEDIC_BENCH_SCALE=%q: %v", s, err)
		}
		scale = v
	}
	opts := Options{Scale: scale, Seed: 1, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()

	// The baseline's input files, written before any timing starts.
	dir, err := os.MkdirTemp("", "pgmedic-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	files, fileRows, fileBytes, err := writeCopyFiles(opts, dir)
	if err != nil {
		b.Fatal(err)
	}

	for i := 0; i < b.N; i++ {
		// pgmedic's loader: generation and COPY in parallel chunks (keys and VACUUM
		// measured separately below).
		db := pg.NewDB(b)
		pool := db.Pool(b)
		res, err := Load(ctx, pool, LoadOptions{Options: opts, SkipKeys: true, SkipAnalyze: true})
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		for _, n := range res.Rows {
			rows += n
		}
		if rows != fileRows {
			b.Fatalf("loader wrote %d rows, the files hold %d", rows, fileRows)
		}

		// Plain COPY FROM file of the same rows.
		base := pg.NewDB(b)
		bpool := base.Pool(b)
		if err := CreateTables(ctx, bpool); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for _, t := range tables {
			path, ok := files[t.name]
			if !ok {
				continue
			}
			stmt := copyStatement(t.name)
			stmt = stmt[:len(stmt)-len("STDIN")] + "'" + path + "'"
			if _, err := bpool.Exec(ctx, "SET statement_timeout = 0; "+stmt); err != nil {
				b.Fatalf("baseline %s: %v", t.name, err)
			}
		}
		baseTime := time.Since(t0)

		// Keys and VACUUM ANALYZE on the loader's database, for the record.
		t1 := time.Now()
		if err := addKeys(ctx, pool, LoadOptions{Workers: 3}); err != nil {
			b.Fatal(err)
		}
		keys := time.Since(t1)
		t2 := time.Now()
		if err := vacuumAnalyze(ctx, pool, LoadOptions{Workers: 3}); err != nil {
			b.Fatal(err)
		}
		vac := time.Since(t2)

		loadRate := float64(rows) / res.CopyTime.Seconds()
		baseRate := float64(fileRows) / baseTime.Seconds()
		b.ReportMetric(loadRate, "rows/s")
		b.ReportMetric(float64(res.CopyBytes)/1e6/res.CopyTime.Seconds(), "MB/s")
		b.ReportMetric(baseRate, "copy-file-rows/s")
		b.ReportMetric(float64(fileBytes)/1e6/baseTime.Seconds(), "copy-file-MB/s")
		b.ReportMetric(loadRate/baseRate, "ratio")
		b.Logf("scale %.2f: %d rows, %.0f MB; loader %.1fs (%.0f rows/s), plain COPY FROM file %.1fs (%.0f rows/s), ratio %.2f; keys %.1fs, vacuum analyze %.1fs",
			scale, rows, float64(fileBytes)/1e6, res.CopyTime.Seconds(), loadRate, baseTime.Seconds(), baseRate, loadRate/baseRate, keys.Seconds(), vac.Seconds())
	}
}

// writeCopyFiles writes the dataset in COPY text format, one file per table.
func writeCopyFiles(opts Options, dir string) (map[string]string, int64, int64, error) {
	g, err := NewGenerator(opts)
	if err != nil {
		return nil, 0, 0, err
	}
	files := map[string]*bufio.Writer{}
	handles := map[string]*os.File{}
	paths := map[string]string{}
	for _, t := range tables {
		p := filepath.Join(dir, t.name+".copy")
		f, err := os.Create(p)
		if err != nil {
			return nil, 0, 0, err
		}
		if err := f.Chmod(0o644); err != nil {
			return nil, 0, 0, err
		}
		handles[t.name], files[t.name], paths[t.name] = f, bufio.NewWriterSize(f, 1<<20), p
	}
	writers := map[string]*rowWriter{}
	for _, t := range tables {
		writers[t.name] = &rowWriter{}
	}
	r, aux := newRowRand(opts.Seed), newRowRand(opts.Seed)
	var rows, size int64
	for _, j := range g.jobs(20000) {
		for _, w := range writers {
			w.reset()
		}
		j.fill(r, aux, writers)
		for _, name := range j.tables {
			w := writers[name]
			if _, err := files[name].Write(w.buf); err != nil {
				return nil, 0, 0, err
			}
			rows += w.rows
			size += int64(len(w.buf))
		}
	}
	for name, w := range files {
		if err := w.Flush(); err != nil {
			return nil, 0, 0, err
		}
		if err := handles[name].Close(); err != nil {
			return nil, 0, 0, fmt.Errorf("closing %s: %w", name, err)
		}
	}
	return paths, rows, size, nil
}
