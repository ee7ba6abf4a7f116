package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
)

// plantedValues are identifiers written into the patients table often enough to be
// among pg_stats' most common values, the place a planner would find "typical" values.
var plantedValues = []string{"900-47-1234", "planted.person@example.org", "Zzyzxplanted", "MRNPLANTED01"}

// Planning leaves no trace of patient data: with every statement logged
// (log_statement = all), queries, index advise (workload and --file) and explain run
// as a monitoring role, and afterwards neither the server log nor pg_stat_statements
// holds a planted value or any value pg_stats keeps for an identifier column. With
// pg_stat_statements.track = top (the default) pgmedic's own entries are few and all
// marked; with track = all PostgreSQL also counts each statement pgmedic plans as a
// nested call of the role (EXPLAIN starts the executor), under the statement's own
// normalised text: more entries, still no value.
func TestPlanningLeavesNoValues(t *testing.T) {
	ctx := context.Background()
	db := pg.NewDB(t)
	if r := run(t, "seed", "--dsn", db.URI, "--scale", "0.01", "--seed", "3"); r.code != 0 {
		t.Fatalf("seed: %s", r.stderr)
	}
	db.Exec(t, fmt.Sprintf(`UPDATE patients SET ssn = '%s', email = '%s', last_name = '%s', mrn = '%s' || id WHERE id %% 4 = 0`,
		plantedValues[0], plantedValues[1], plantedValues[2], plantedValues[3]))
	db.Exec(t, "UPDATE patients SET mrn = $1 WHERE id = 8", plantedValues[3])
	db.Exec(t, "ANALYZE")
	if _, err := synth.RunWorkload(ctx, db.Pool(t), synth.WorkloadOptions{Duration: 2 * time.Second, Clients: 2, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	// The application's own statements and their values are in the log up to here.
	role := "monitor_" + strings.ReplaceAll(filepath.Base(t.TempDir()), "-", "_")
	db.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'monitor-pw'; GRANT pg_read_all_stats TO %[1]s;
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s`, role))
	db.Exec(t, fmt.Sprintf(`ALTER DATABASE %s SET log_statement = 'all'`, db.Name))
	secrets := append(append([]string{}, plantedValues...), identifierStatistics(t, db)...)
	dsn := roleDSN(t, db.URI, role, "monitor-pw")
	file := filepath.Join(t.TempDir(), "app.sql")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`SELECT id, mrn FROM patients WHERE ssn = '%s';
SELECT id FROM patients WHERE email = '%s' AND last_name = '%s';
SELECT id FROM patients WHERE mrn = '%s' ORDER BY date_of_birth LIMIT 10;
SELECT count(*) FROM claims WHERE patient_id = 42 AND status = 'pended';
`, plantedValues[0], plantedValues[1], plantedValues[2], plantedValues[3])), 0o600); err != nil {
		t.Fatal(err)
	}
	logStart := fileSize(t, pg.LogFile)
	runCommands(t, dsn, file)
	checkLog(t, logStart, secrets)
	top := roleEntries(t, db, role)
	checkNoValues(t, "pg_stat_statements (track = top)", top, secrets)
	for _, e := range top {
		if !strings.HasPrefix(strings.TrimSpace(e), "/* pgmedic */") {
			t.Errorf("an unmarked entry of pgmedic's: %.200s", e)
		}
	}
	// About thirty are the snapshot's catalog queries; the planner adds one EXPLAIN
	// text per parameter-type signature, never one per statement.
	if len(top) > 80 {
		t.Errorf("five runs added %d entries for pgmedic's role, want a few dozen at most", len(top))
	}
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	db.Exec(t, fmt.Sprintf(`ALTER DATABASE %s SET pg_stat_statements.track = 'all'`, db.Name))
	if _, err := synth.RunWorkload(ctx, db.Pool(t), synth.WorkloadOptions{Duration: time.Second, Clients: 2, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	logStart = fileSize(t, pg.LogFile)
	runCommands(t, dsn, file)
	checkLog(t, logStart, secrets)
	all := roleEntries(t, db, role)
	checkNoValues(t, "pg_stat_statements (track = all)", all, secrets)
	t.Logf("five pgmedic runs (queries, queries --file, index advise, index advise --file, explain) as a non-superuser role added %d pg_stat_statements entries, all marked, with track = top; %d with track = all", len(top), len(all))
}

// runCommands runs the commands that plan statements, and checks their output.
func runCommands(t *testing.T, dsn, file string) {
	t.Helper()
	for _, args := range [][]string{
		{"queries", "--dsn", dsn, "--format", "json"},
		{"queries", "--dsn", dsn, "--file", file},
		{"index", "advise", "--dsn", dsn, "--format", "json"},
		{"index", "advise", "--dsn", dsn, "--file", file},
		{"explain", "--dsn", dsn, fmt.Sprintf("SELECT id FROM patients WHERE ssn = '%s' OR email = '%s'", plantedValues[0], plantedValues[1])},
	} {
		r := run(t, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args[:2], r.code, r.stderr)
		}
		checkNoValues(t, strings.Join(args[:2], " ")+" output", []string{r.stdout, r.stderr}, plantedValues)
	}
}

// checkLog reads the server log from offset on: it must hold pgmedic's statements and
// none of the values.
func checkLog(t *testing.T, offset int64, values []string) {
	t.Helper()
	logText := string(readFrom(t, pg.LogFile, offset))
	if !strings.Contains(logText, "EXPLAIN") {
		t.Fatalf("the server log holds none of pgmedic's statements: is log_statement = all in force?")
	}
	checkNoValues(t, "the server log", []string{logText}, values)
}

func checkNoValues(t *testing.T, where string, texts, values []string) {
	t.Helper()
	for _, text := range texts {
		for _, v := range values {
			if i := strings.Index(text, v); i >= 0 {
				t.Errorf("%s holds the value %q: ...%s", where, v, text[max(0, i-200):i])
			}
		}
	}
}

// roleEntries returns the pg_stat_statements texts of the role in the database.
func roleEntries(t *testing.T, db *pgtest.DB, role string) []string {
	t.Helper()
	return db.QueryStrings(t, `SELECT s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		JOIN pg_roles r ON r.oid = s.userid WHERE d.datname = current_database() AND r.rolname = $1`, role)
}

// roleDSN is uri with another role and its password instead of the passfile.
func roleDSN(t *testing.T, uri, role, password string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	q := u.Query()
	q.Del("passfile")
	u.RawQuery = q.Encode()
	return u.String()
}

// identifierStatistics is every value pg_stats keeps for the patients table's
// identifier columns: none may leave the server through pgmedic.
func identifierStatistics(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	vals := db.QueryStrings(t, `SELECT DISTINCT v FROM pg_stats s,
		unnest(coalesce(s.most_common_vals::text::text[], '{}') || coalesce(s.histogram_bounds::text::text[], '{}')) v
		WHERE s.tablename = 'patients' AND s.attname IN ('ssn', 'email', 'mrn', 'last_name', 'first_name', 'phone') AND length(v) >= 6`)
	if len(vals) < 50 {
		t.Fatalf("only %d identifier values in pg_stats", len(vals))
	}
	return vals
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func readFrom(t *testing.T, path string, offset int64) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data[offset:]
}
