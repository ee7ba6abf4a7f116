// Package corpus holds SQL statements captured from real PostgreSQL clients (ORMs, query
// builders and pgbench) run against pgmedic's healthcare demo schema: for each source, what
// pg_stat_statements recorded and the server log lines the client produced. The files are
// made by scripts/corpus/capture; README.md says what each source is and how it was run.
package corpus

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed testdata
var files embed.FS

const (
	dir        = "testdata"
	pgssSuffix = ".pgss.jsonl"
	logSuffix  = ".log"
)

// Statement is one pg_stat_statements entry: the normalised query text as the server
// recorded it ($n in place of constants), how often it ran, for how long in total, how many
// rows it returned or affected, and whether it was issued by the client (always true here:
// the capture tracks top-level statements only).
type Statement struct {
	Query    string
	Calls    int64
	TotalMs  float64
	Rows     int64
	TopLevel bool
}

type pgssLine struct {
	Query         *string `json:"query"`
	Calls         int64   `json:"calls"`
	TotalExecTime float64 `json:"total_exec_time"`
	Rows          int64   `json:"rows"`
	TopLevel      bool    `json:"toplevel"`
}

// Sources lists the captured sources (e.g. "django", "gorm", "pgbench-prepared"), sorted.
func Sources() []string {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), pgssSuffix); ok && !e.IsDir() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Load returns the pg_stat_statements entries captured for source, in file order.
func Load(source string) ([]Statement, error) {
	data, err := read(source, pgssSuffix)
	if err != nil {
		return nil, err
	}
	var out []Statement
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l pgssLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("corpus: %s%s line %d: %w", source, pgssSuffix, n, err)
		}
		if l.Query == nil {
			return nil, fmt.Errorf("corpus: %s%s line %d: no query", source, pgssSuffix, n)
		}
		out = append(out, Statement{Query: *l.Query, Calls: l.Calls, TotalMs: l.TotalExecTime, Rows: l.Rows, TopLevel: l.TopLevel})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("corpus: %s%s: %w", source, pgssSuffix, err)
	}
	return out, nil
}

// Log returns the server log (stderr format, log_line_prefix '%m [%p] %q%u@%d/%a ',
// log_min_duration_statement=0) that source produced.
func Log(source string) ([]byte, error) {
	return read(source, logSuffix)
}

// LogLinePrefix is the log_line_prefix the logs were written with.
const LogLinePrefix = "%m [%p] %q%u@%d/%a "

func read(source, suffix string) ([]byte, error) {
	if source == "" || strings.ContainsAny(source, "/\\") || strings.HasPrefix(source, ".") {
		return nil, fmt.Errorf("corpus: bad source name %q", source)
	}
	data, err := files.ReadFile(dir + "/" + source + suffix)
	if err != nil {
		return nil, fmt.Errorf("corpus: no %s for source %q (sources: %s)", suffix, source, strings.Join(Sources(), ", "))
	}
	return data, nil
}

// PgbenchScripts writes the custom pgbench scripts into dir and returns their paths, for
// tests that run pgbench live.
func PgbenchScripts(to string) ([]string, error) {
	entries, err := fs.ReadDir(files, dir+"/pgbench")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		data, err := files.ReadFile(dir + "/pgbench/" + e.Name())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(to, e.Name())
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, fmt.Errorf("corpus: writing %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}
