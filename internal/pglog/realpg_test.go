package pglog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
)

// These tests parse logs written by a real server: the workload below runs against a
// private cluster and the resulting log files are read back.

const (
	testUser = "pglog_clin"
	testDB   = "pglog_ehr"
	testApp  = "pglog-app"
	endMark  = "pglog end of workload"
)

// Parameter values that must never come out of Parse: a quote, commas, a newline and
// text that looks like the next parameter.
const (
	phiName = "Zed O'Hara, Jr.\nward 7 $2 = 'x', MRN-4417"
	phiNote = "allergy: penicillin, 'severe'"
)

var phiFragments = []string{"O'Hara", "O''Hara", "MRN-4417", "ward 7", "penicillin", "severe"}

// startCluster starts a private cluster with the given settings, stopped and removed
// when the test ends.
func startCluster(t *testing.T, settings map[string]string) *localpg.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgmedic-pglog-")
	if err != nil {
		t.Fatal(err)
	}
	// MkdirTemp makes 0700, which would keep the server account out when tests run as
	// root.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "cluster"), Settings: settings})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("starting a cluster: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.Destroy(ctx); err != nil {
			t.Errorf("destroying the cluster: %v", err)
		}
		os.RemoveAll(dir)
	})
	admin := connect(t, c, "postgres", "postgres", "pglog-admin")
	for _, sql := range []string{
		// Superuser: LOAD 'auto_explain' needs it.
		"CREATE ROLE " + testUser + " LOGIN SUPERUSER",
		"CREATE DATABASE " + testDB + " OWNER " + testUser,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return c
}

// connect opens a session over the cluster's socket as user, named app.
func connect(t *testing.T, c *localpg.Cluster, user, db, app string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(c.SocketURI(db))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, u.String(), pgconn.Policy{Write: true, ApplicationName: app})
	if err != nil {
		t.Fatalf("connecting as %s to %s: %v", user, db, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// workload is what runWorkload executes against table, so its log entries can be
// checked.
type workload struct {
	create, insert, update, multiLine, simpleErr, extendedErr string
	planText, planJSON, planYAML, planXML                     string
}

func newWorkload(table string) workload {
	return workload{
		create:      "CREATE TABLE " + table + " (id int PRIMARY KEY, name text, note text)",
		insert:      "INSERT INTO " + table + " (id, name, note) VALUES ($1, $2, $3)",
		update:      "UPDATE " + table + " SET note = $1 WHERE id = $2",
		multiLine:   "SELECT id,\n       name\n  FROM " + table + "\n WHERE id > 0\n ORDER BY id",
		simpleErr:   "SELECT 1/0",
		extendedErr: "SELECT $1::int / 0",
		planText:    "SELECT count(*)\n  FROM " + table + "\n WHERE id > 0",
		planJSON:    "SELECT name FROM " + table + " WHERE id < 100 ORDER BY id",
		planYAML:    "SELECT 'yaml' AS fmt, count(*) FROM " + table,
		planXML:     "SELECT 'xml' AS fmt, count(*) FROM " + table + " WHERE note IS NULL",
	}
}

func runWorkload(t *testing.T, c *localpg.Cluster, w workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	simple := pgx.QueryExecModeSimpleProtocol
	conn := connect(t, c, testUser, testDB, testApp)
	mustExec := func(conn *pgx.Conn, sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustFail := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err == nil {
			t.Fatalf("%s succeeded; the workload needs it to fail", sql)
		}
	}
	mustExec(conn, w.create, simple)
	mustExec(conn, w.insert, 1, phiName, phiNote)           // extended protocol, named statement
	mustExec(conn, w.update, pgx.QueryExecModeExec, nil, 1) // extended protocol, unnamed, a NULL
	mustExec(conn, w.multiLine, simple)
	mustFail(w.simpleErr, simple)
	mustFail(w.extendedErr, 7)

	// auto_explain in its own session, so the statements above are not explained.
	ae := connect(t, c, testUser, testDB, testApp)
	mustExec(ae, "LOAD 'auto_explain'", simple)
	mustExec(ae, "SET auto_explain.log_min_duration = 0", simple)
	mustExec(ae, w.planText, simple)
	mustExec(ae, "SET auto_explain.log_format = json", simple)
	mustExec(ae, w.planJSON, simple)
	mustExec(ae, "SET auto_explain.log_format = yaml", simple)
	mustExec(ae, w.planYAML, simple)
	mustExec(ae, "SET auto_explain.log_format = xml", simple)
	mustExec(ae, w.planXML, simple)
	mustExec(conn, "SELECT '"+endMark+"'", simple)
}

// expect says what a log format carries beyond the statements themselves.
type expect struct {
	durations bool // log_min_duration_statement = 0 (not log_statement = all)
	sqlstate  bool // the SQLSTATE of errors
	errParams bool // log_parameter_max_length_on_error: the CONTEXT lists error parameters
	identity  bool // user, database and application
}

func checkWorkload(t *testing.T, name string, raw []byte, entries []Entry, problems []Problem, w workload, ex expect) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s: problems in a real server log: %+v", name, problems)
	}
	checkNoPHI(t, name, entries, problems)
	lines := strings.Split(string(raw), "\n")
	one := func(kind, stmt string) Entry {
		t.Helper()
		var found []Entry
		for _, e := range entries {
			if e.Kind == kind && e.Statement == stmt {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d %s entries for %q, want 1", name, len(found), kind, stmt)
			return Entry{}
		}
		e := found[0]
		if ex.identity && (e.User != testUser || e.Database != testDB || e.Application != testApp) {
			t.Errorf("%s: %s %q: user/db/app = %q/%q/%q, want %q/%q/%q", name, kind, firstLine(stmt),
				e.User, e.Database, e.Application, testUser, testDB, testApp)
		}
		if e.Line < 1 || e.Line > len(lines) {
			t.Errorf("%s: %s %q: line %d outside the file", name, kind, firstLine(stmt), e.Line)
		} else if (kind == KindStatement || kind == KindExecute) && !strings.Contains(lines[e.Line-1], firstLine(stmt)) {
			t.Errorf("%s: %s %q: line %d does not hold the statement", name, kind, firstLine(stmt), e.Line)
		}
		return e
	}

	for _, s := range []string{w.create, w.multiLine} {
		e := one(KindStatement, s)
		if ex.durations && e.DurationMs <= 0 {
			t.Errorf("%s: %q: duration %v, want > 0", name, firstLine(s), e.DurationMs)
		}
		if !ex.durations && e.DurationMs != 0 {
			t.Errorf("%s: %q: duration %v without log_min_duration_statement", name, firstLine(s), e.DurationMs)
		}
	}
	for s, params := range map[string]int{w.insert: 3, w.update: 2} {
		e := one(KindExecute, s)
		if e.ParamCount != params {
			t.Errorf("%s: %q: %d parameters, want %d", name, s, e.ParamCount, params)
		}
		if ex.durations && e.DurationMs <= 0 {
			t.Errorf("%s: %q: duration %v, want > 0", name, s, e.DurationMs)
		}
	}
	for s, params := range map[string]int{w.simpleErr: 0, w.extendedErr: 1} {
		e := one(KindError, s)
		if ex.sqlstate && e.SQLState != "22012" {
			t.Errorf("%s: %q: SQLSTATE %q, want 22012", name, s, e.SQLState)
		}
		if ex.errParams && e.ParamCount != params {
			t.Errorf("%s: %q: %d parameters, want %d", name, s, e.ParamCount, params)
		}
	}

	if e := one(KindPlan, w.planText); e.Kind != "" {
		if !strings.HasPrefix(e.PlanText, "Aggregate  (cost=") || strings.Contains(e.PlanText, "Query Text") {
			t.Errorf("%s: text plan = %q", name, e.PlanText)
		}
	}
	if e := one(KindPlan, w.planJSON); e.Kind != "" {
		var doc map[string]any
		if err := json.Unmarshal([]byte(e.PlanText), &doc); err != nil {
			t.Errorf("%s: JSON plan does not parse: %v", name, err)
		}
		if _, ok := doc["Plan"]; !ok || len(doc) != 1 {
			t.Errorf("%s: JSON plan keys %v, want only Plan", name, keys(doc))
		}
	}
	if e := one(KindPlan, w.planYAML); e.Kind != "" {
		if !strings.HasPrefix(e.PlanText, "Plan:") || strings.Contains(e.PlanText, "Query Text") {
			t.Errorf("%s: YAML plan = %q", name, e.PlanText)
		}
	}
	if e := one(KindPlan, w.planXML); e.Kind != "" {
		if !strings.Contains(e.PlanText, "<Plan>") || strings.Contains(e.PlanText, "Query-Text") {
			t.Errorf("%s: XML plan = %q", name, e.PlanText)
		}
	}
	// parse and bind are not entries: one execute per INSERT (checked above), and
	// nothing else names the INSERT.
	for _, e := range entries {
		if e.Statement == w.insert && e.Kind != KindExecute {
			t.Errorf("%s: INSERT also reported as %s", name, e.Kind)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// checkNoPHI fails when a parameter value reached any field of what Parse returned.
func checkNoPHI(t *testing.T, name string, entries []Entry, problems []Problem) {
	t.Helper()
	for _, e := range entries {
		all := strings.Join([]string{e.Statement, e.Kind, e.PlanText, e.Database, e.User, e.Application, e.SQLState}, "\x00")
		for _, f := range phiFragments {
			if strings.Contains(all, f) {
				t.Errorf("%s: parameter value %q leaked into the entry at line %d", name, f, e.Line)
			}
		}
	}
	for _, p := range problems {
		for _, f := range phiFragments {
			if strings.Contains(p.Msg, f) {
				t.Errorf("%s: parameter value %q leaked into a problem", name, f)
			}
		}
	}
}

// waitFor polls until file holds the end mark and returns its content from offset.
// The collector writes asynchronously; stderr is written before the server replies.
func waitFor(t *testing.T, file string, offset int64) []byte {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		raw, err := os.ReadFile(file)
		if err == nil && int64(len(raw)) >= offset && bytes.Contains(raw[offset:], []byte(endMark)) {
			return raw[offset:]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed the end of the workload (err %v)", file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileSize(t *testing.T, file string) int64 {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// reconfigure applies settings with ALTER SYSTEM and waits until new sessions see
// them.
func reconfigure(t *testing.T, c *localpg.Cluster, settings map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := connect(t, c, "postgres", "postgres", "pglog-admin")
	for k, v := range settings {
		sql := fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", k, strings.ReplaceAll(v, "'", "''"))
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	for {
		probe := connect(t, c, "postgres", "postgres", "pglog-admin")
		applied := true
		for k, v := range settings {
			var got string
			if err := probe.QueryRow(ctx, "SELECT current_setting($1)", k).Scan(&got); err != nil {
				t.Fatal(err)
			}
			applied = applied && got == v
		}
		probe.Close(ctx)
		if applied {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("settings %v never took effect", settings)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func parseBytes(t *testing.T, raw []byte, opts Options) ([]Entry, []Problem) {
	t.Helper()
	entries, problems, err := Parse(bytes.NewReader(raw), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return entries, problems
}

// TestRealStderrLogs runs the workload under several stderr configurations of one
// server, reading back the part of the log each one wrote.
func TestRealStderrLogs(t *testing.T) {
	t.Parallel()
	const prefix = "%m [%p] %q%u@%d/%a "
	c := startCluster(t, map[string]string{
		"log_min_duration_statement": "0",
		"log_line_prefix":            prefix,
		"log_statement":              "none",
	})

	t.Run("duration", func(t *testing.T) {
		w := newWorkload("patients_a")
		off := fileSize(t, c.LogFile)
		runWorkload(t, c, w)
		raw := waitFor(t, c.LogFile, off)
		if f := Detect(raw); f != FormatStderr {
			t.Errorf("Detect = %q", f)
		}
		ex := expect{durations: true, identity: true}
		entries, problems := parseBytes(t, raw, Options{})
		checkWorkload(t, "detected prefix", raw, entries, problems, w, ex)
		entries, problems = parseBytes(t, raw, Options{Format: FormatStderr, Prefix: prefix})
		checkWorkload(t, "given prefix", raw, entries, problems, w, ex)
	})

	t.Run("log_statement=all", func(t *testing.T) {
		reconfigure(t, c, map[string]string{
			"log_line_prefix":            "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
			"log_statement":              "all",
			"log_min_duration_statement": "-1",
			"log_duration":               "on",
		})
		w := newWorkload("patients_b")
		off := fileSize(t, c.LogFile)
		runWorkload(t, c, w)
		raw := waitFor(t, c.LogFile, off)
		if !bytes.Contains(raw, []byte("LOG:  duration: ")) {
			t.Fatal("log_duration wrote no duration lines")
		}
		entries, problems := parseBytes(t, raw, Options{})
		checkWorkload(t, "log_statement=all", raw, entries, problems, w, expect{identity: true})
	})

	t.Run("sqlstate and error parameters", func(t *testing.T) {
		const odd = "%n|%e|%c|%q<%u:%d:%a> "
		reconfigure(t, c, map[string]string{
			"log_line_prefix":                   odd,
			"log_statement":                     "none",
			"log_min_duration_statement":        "0",
			"log_duration":                      "off",
			"log_parameter_max_length_on_error": "-1",
		})
		w := newWorkload("patients_c")
		off := fileSize(t, c.LogFile)
		runWorkload(t, c, w)
		raw := waitFor(t, c.LogFile, off)
		entries, problems := parseBytes(t, raw, Options{Prefix: odd})
		checkWorkload(t, "%e prefix", raw, entries, problems, w, expect{durations: true, sqlstate: true, errParams: true, identity: true})
	})

	t.Run("log_error_verbosity=verbose", func(t *testing.T) {
		reconfigure(t, c, map[string]string{
			"log_line_prefix":     prefix,
			"log_error_verbosity": "verbose",
		})
		w := newWorkload("patients_d")
		off := fileSize(t, c.LogFile)
		runWorkload(t, c, w)
		raw := waitFor(t, c.LogFile, off)
		if !bytes.Contains(raw, []byte("LOCATION:  ")) {
			t.Fatal("verbose errors wrote no LOCATION lines")
		}
		entries, problems := parseBytes(t, raw, Options{})
		checkWorkload(t, "verbose", raw, entries, problems, w, expect{durations: true, sqlstate: true, errParams: true, identity: true})
	})
}

// TestRealCSVAndJSONLogs reads the csvlog and jsonlog files the logging collector
// writes for the same workload.
func TestRealCSVAndJSONLogs(t *testing.T) {
	t.Parallel()
	c := startCluster(t, map[string]string{
		"logging_collector":          "on",
		"log_destination":            "csvlog,jsonlog",
		"log_directory":              "log",
		"log_min_duration_statement": "0",
		"log_statement":              "none",
	})
	w := newWorkload("patients")
	runWorkload(t, c, w)
	for _, tc := range []struct {
		ext    string
		format Format
	}{{".csv", FormatCSV}, {".json", FormatJSON}} {
		t.Run(string(tc.format), func(t *testing.T) {
			var file string
			deadline := time.Now().Add(2 * time.Minute)
			for file == "" {
				matches, _ := filepath.Glob(filepath.Join(c.DataDir, "log", "*"+tc.ext))
				if len(matches) == 1 {
					file = matches[0]
				} else if len(matches) > 1 {
					t.Fatalf("the collector rotated its %s files: %v", tc.ext, matches)
				} else if time.Now().After(deadline) {
					t.Fatalf("no %s file in %s", tc.ext, filepath.Join(c.DataDir, "log"))
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
			raw := waitFor(t, file, 0)
			if f := Detect(raw); f != tc.format {
				t.Errorf("Detect = %q, want %q", f, tc.format)
			}
			ex := expect{durations: true, sqlstate: true, identity: true}
			entries, problems := parseBytes(t, raw, Options{})
			checkWorkload(t, string(tc.format)+" detected", raw, entries, problems, w, ex)
			entries, problems = parseBytes(t, raw, Options{Format: tc.format})
			checkWorkload(t, string(tc.format)+" given", raw, entries, problems, w, ex)

			// The file streamed through a reader smaller than one message.
			entries, problems, err := Parse(&slowReader{data: raw, chunk: 7}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkWorkload(t, string(tc.format)+" streamed", raw, entries, problems, w, ex)
		})
	}
}

// slowReader hands out data a few bytes at a time.
type slowReader struct {
	data  []byte
	chunk int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}
