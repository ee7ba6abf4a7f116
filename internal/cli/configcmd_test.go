package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a configuration file in a fresh directory and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pgmedic.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// settingLine finds the line of `config validate` output for key and returns its value,
// origin and readers.
func settingLine(t *testing.T, out, key string) (value, from, readers string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == key {
			return f[1], f[2], strings.Join(f[3:], " ")
		}
	}
	t.Fatalf("no line for %s in:\n%s", key, out)
	return "", "", ""
}

func TestConfigRejectsUnreadKey(t *testing.T) {
	path := writeConfig(t, "profile: production\nprofiles:\n  production:\n    queryAnalyzer:\n      sampleRate: 0.5\n")
	for _, args := range [][]string{{"config", "validate"}, {"config", "show"}, {"checks"}} {
		r := run(t, append([]string{"--config", path}, args...)...)
		if r.code != 2 {
			t.Fatalf("%v: exit %d, want 2; stderr %q", args, r.code, r.stderr)
		}
		if n := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n"); n != 0 || r.stdout != "" {
			t.Errorf("%v: want one error line and no output, got stdout %q stderr %q", args, r.stdout, r.stderr)
		}
		line := oneErrorLine(t, r)
		for _, want := range []string{
			path + ":5: profiles.production.queryAnalyzer.sampleRate: no part of this version of pgmedic reads sampleRate",
			"(hint: pgmedic analyses the top statements by time; bound the work with queryAnalyzer.topStatements)",
		} {
			if !strings.Contains(line, want) {
				t.Errorf("%v: error line %q lacks %q", args, line, want)
			}
		}
	}
}

func TestConfigRejectsUnreadEnv(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./pgmedic.yaml
	t.Setenv("PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING", "true")
	r := run(t, "config", "validate")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2; stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n"); n != 0 || r.stdout != "" {
		t.Errorf("want one error line and no output, got stdout %q stderr %q", r.stdout, r.stderr)
	}
	line := oneErrorLine(t, r)
	for _, want := range []string{
		`PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING="true": profiles.production.connectionPool.enableMonitoring: no part of this version of pgmedic reads enableMonitoring`,
		"(hint: pool metrics come from the pool library's Prometheus collector",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("error line %q lacks %q", line, want)
		}
	}

	// The pools' prefix is not the connection section's: an unread pool key is the
	// pool section's error, and a read one is accepted.
	t.Setenv("PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING", "")
	t.Setenv("PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING", "true")
	r = run(t, "config", "validate")
	if line := oneErrorLine(t, r); r.code != 2 || !strings.Contains(line, "PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING") ||
		!strings.Contains(line, "always adapts its admission limits") {
		t.Errorf("exit %d, error line %q", r.code, line)
	}
	t.Setenv("PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING", "")
	t.Setenv("PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS", "99")
	if r = run(t, "config", "validate"); r.code != 0 {
		t.Errorf("PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS=99: exit %d, %s", r.code, r.stderr)
	}
}

func TestConfigValidateListsReaders(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT", "70")
	path := writeConfig(t, "profiles:\n  production:\n    indexOptimizer:\n      minTableRows: 500\n")
	r := run(t, "--config", path, "config", "validate")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "configuration is valid (profile production)\n") {
		t.Errorf("output does not start with the verdict:\n%s", r.stdout)
	}
	tests := []struct{ key, value, from, readers string }{
		{"indexOptimizer.minTableRows", "500", path + ":4", "index advise"},
		{"monitor.alertThresholds.cacheHitRatio", "99", "default", "check, monitor"},
		{"monitor.alertThresholds.connectionCount", "70", "PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT", "check, monitor"},
		{"monitor.retentionPeriod", "7", "default", "monitor"},
		{"queryAnalyzer.slowQueryThreshold", "1s", "default", "check, queries"},
		{"connection.lockTimeout", "2s", "default", "every command that connects"},
		{"healthcare.phiTables", "[]", "default", "check, queries, index advise, phi, comply"},
		{"connectionPool.maxConnections", "50", "default", "pool advise"},
		{"monitor.alertThresholds.replicationLag", "30s", "default", "check, monitor, replica status"},
	}
	for _, tt := range tests {
		value, from, readers := settingLine(t, r.stdout, tt.key)
		if value != tt.value || from != tt.from || readers != tt.readers {
			t.Errorf("%s: %q from %q read by %q; want %q from %q read by %q", tt.key, value, from, readers, tt.value, tt.from, tt.readers)
		}
	}
	// Aligned: every key line has its value in the same column.
	col := -1
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.Contains(f[0], ".") {
			continue
		}
		at := strings.Index(line[len(f[0]):], f[1]) + len(f[0])
		if col == -1 {
			col = at
		} else if at != col {
			t.Errorf("value of %s at column %d, others at %d", f[0], at, col)
		}
	}
	for _, gone := range []string{"sampleRate", "enableAutoScaling", "healthcareOptimizations", "enableRealTimeMonitoring", "enableAutoIndexing"} {
		if strings.Contains(r.stdout, gone) {
			t.Errorf("validate lists %s, which nothing reads", gone)
		}
	}
}
