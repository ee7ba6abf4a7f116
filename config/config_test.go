package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func noEnv() func(string) (string, bool) { return MapEnv(nil) }

// settings strips what is not a setting, so profiles can be compared by value.
func settings(p *Profile) Profile {
	c := *p.clone()
	c.Name, c.Extends, c.origins = "", "", nil
	return c
}

// mustParse parses a file and selects profile with no environment.
func mustParse(t *testing.T, src, profile string) *Profile {
	t.Helper()
	p, err := Parse([]byte(src), "pgmedic.yaml", profile, noEnv())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// errorsOf flattens joined errors into the *Error values they hold.
func errorsOf(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	walk(err)
	return out
}

// wantErr checks that err holds an *Error whose message contains every part, and that
// no message spans lines.
func wantErr(t *testing.T, err error, parts ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	errs := errorsOf(t, err)
	for _, e := range errs {
		if strings.ContainsAny(e.Error(), "\n\r") {
			t.Errorf("message spans lines: %q", e.Error())
		}
	}
	for _, e := range errs {
		ok := true
		for _, p := range parts {
			if !strings.Contains(e.Error(), p) {
				ok = false
				break
			}
		}
		if ok {
			return e
		}
	}
	t.Fatalf("no error contains all of %q; got:\n%v", parts, err)
	return nil
}

func TestDefaults(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	prod, err := Defaults(Production)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := Defaults(Development)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Profile{prod, dev} {
		if err := p.Validate(); err != nil {
			t.Errorf("built-in %s does not validate: %v", p.Name, err)
		}
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"prod slowQueryThreshold", prod.QueryAnalyzer.SlowQueryThreshold.Duration, ms(1000)},
		{"prod topStatements", prod.QueryAnalyzer.TopStatements, 50},
		{"prod patientResponseTime", prod.QueryAnalyzer.PatientResponseTime.Duration, 2 * time.Second},
		{"prod enableHealthcareCompliance", prod.QueryAnalyzer.EnableHealthcareCompliance, true},
		{"prod enableQueryPlan", prod.QueryAnalyzer.EnableQueryPlan, true},
		{"prod maxIndexesPerTable", prod.IndexOptimizer.MaxIndexesPerTable, 15},
		{"prod enableHealthcarePresets", prod.IndexOptimizer.EnableHealthcarePresets, true},
		{"prod enableCompositeIndexes", prod.IndexOptimizer.EnableCompositeIndexes, true},
		{"prod unusedIndexMinBytes", prod.IndexOptimizer.UnusedIndexMinBytes, 10 * MB},
		{"prod unusedIndexMinDays", prod.IndexOptimizer.UnusedIndexMinDays, 35},
		{"prod minImprovementPct", prod.IndexOptimizer.MinImprovementPct, 10.0},
		{"prod minTableRows", prod.IndexOptimizer.MinTableRows, 1000},
		{"prod maxStorageBytes", prod.IndexOptimizer.MaxStorageBytes, ByteSize(0)},
		{"prod writeCostWeight", prod.IndexOptimizer.WriteCostWeight, 1.0},
		{"prod replicationLag", prod.Monitor.AlertThresholds.ReplicationLag.Duration, 30 * time.Second},
		{"prod connectionCount", prod.Monitor.AlertThresholds.ConnectionCount, 80.0},
		{"prod cacheHitRatio", prod.Monitor.AlertThresholds.CacheHitRatio, 99.0},
		{"prod requireVerifyFull", prod.Connection.RequireVerifyFull, true},
		{"prod statementTimeout", prod.Connection.StatementTimeout.Duration, 30 * time.Second},
		{"prod lockTimeout", prod.Connection.LockTimeout.Duration, 2 * time.Second},
		{"prod idleInTransactionTimeout", prod.Connection.IdleInTransactionTimeout.Duration, 60 * time.Second},
		{"prod applicationName", prod.Connection.ApplicationName, "pgmedic"},
		{"dev slowQueryThreshold", dev.QueryAnalyzer.SlowQueryThreshold.Duration, ms(5000)},
		{"dev patientResponseTime", dev.QueryAnalyzer.PatientResponseTime.Duration, 2 * time.Second},
		{"dev maxIndexesPerTable", dev.IndexOptimizer.MaxIndexesPerTable, 10},
		{"dev minImprovementPct", dev.IndexOptimizer.MinImprovementPct, 5.0},
		{"dev unusedIndexMinDays", dev.IndexOptimizer.UnusedIndexMinDays, 7},
		{"dev lockTimeout", dev.Connection.LockTimeout.Duration, 5 * time.Second},
		{"dev connectionCount", dev.Monitor.AlertThresholds.ConnectionCount, 90.0},
		{"dev cacheHitRatio", dev.Monitor.AlertThresholds.CacheHitRatio, 95.0},
		{"dev replicationLag", dev.Monitor.AlertThresholds.ReplicationLag.Duration, 5 * time.Minute},
		{"dev requireVerifyFull", dev.Connection.RequireVerifyFull, false},
		{"dev statementTimeout", dev.Connection.StatementTimeout.Duration, 60 * time.Second},
		{"dev unusedIndexMinBytes", dev.IndexOptimizer.UnusedIndexMinBytes, 1 * MB},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// Each call returns a fresh copy: changing one must not change the next.
	prod.Healthcare.PHITables = append(prod.Healthcare.PHITables, "x")
	prod.QueryAnalyzer.TopStatements = 1
	again, _ := Defaults(Production)
	if again.QueryAnalyzer.TopStatements != 50 || len(again.Healthcare.PHITables) != 0 {
		t.Errorf("Defaults shares state between calls: %+v", again.QueryAnalyzer)
	}

	_, err = Defaults("staging")
	wantErr(t, err, `no built-in profile "staging"`, "development, production")
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"1000", time.Second, ""},
		{"0", 0, ""},
		{"250", 250 * time.Millisecond, ""},
		{`"2s"`, 2 * time.Second, ""},
		{"2s", 2 * time.Second, ""},
		{`"500ms"`, 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{`"1000"`, 0, "no unit"},
		{"1.5", 0, "not a whole number of milliseconds"},
		{"soon", 0, "not a duration"},
		{"[1]", 0, "got a list"},
		{"99999999999999999", 0, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unmarshal(%s) = %v, %v; want error containing %q", tt.in, d, err, tt.wantErr)
				}
				return
			}
			if err != nil || d.Duration != tt.want {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", tt.in, d.Duration, err, tt.want)
			}
		})
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration{90 * time.Second}})
	if err != nil || strings.TrimSpace(string(out)) != "d: 1m30s" {
		t.Errorf("Marshal = %q, %v; want d: 1m30s", out, err)
	}
}

func TestByteSize(t *testing.T) {
	parse := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{"10GB", 10_000_000_000, ""},
		{"512MiB", 512 << 20, ""},
		{"1.5GB", 1_500_000_000, ""},
		{"1.1GB", 1_100_000_000, ""},
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"10gb", 10_000_000_000, ""},
		{"2 kib", 2048, ""},
		{" 7B ", 7, ""},
		{"1PiB", 1 << 50, ""},
		{"10XB", 0, `unknown unit "XB"`},
		{"10K", 0, `unknown unit "K"`},
		{"1.5B", 0, "not a whole number of bytes"},
		{"-1GB", 0, "not a size"},
		{"", 0, "not a size"},
		{"GB", 0, "not a size"},
		{"99999PB", 0, "too large"},
	}
	for _, tt := range parse {
		t.Run("parse "+tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseByteSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	format := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{10 * GB, "10GB"},
		{512 * MiB, "512MiB"},
		{1_500_000_000, "1.5GB"},
		{1_050_000_000, "1.05GB"},
		{1536, "1.5KiB"},
		{1234, "1234B"},
		{1, "1B"},
		{10 * MB, "10MB"},
	}
	for _, tt := range format {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		// Whatever String writes must parse back to the same number.
		if back, err := ParseByteSize(tt.in.String()); err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
	for _, n := range []ByteSize{999, 1000, 1001, 123456789, 5 * TiB, 3*GiB + 512*MiB, 1<<62 + 12345} {
		if back, err := ParseByteSize(n.String()); err != nil || back != n {
			t.Errorf("round trip of %d via %q = %d, %v", n, n.String(), back, err)
		}
	}
	// In YAML an integer is bytes and a string takes a unit.
	var v struct{ A, B ByteSize }
	if err := yaml.Unmarshal([]byte("a: 2048\nb: 2KiB\n"), &v); err != nil || v.A != 2048 || v.B != 2048 {
		t.Errorf("yaml decode = %+v, %v; want 2048, 2048", v, err)
	}
	if err := yaml.Unmarshal([]byte("a: -5\n"), &v); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative size: err = %v, want negative", err)
	}
}

func TestOverlayKeepsDefaults(t *testing.T) {
	p := mustParse(t, `
profiles:
  production:
    queryAnalyzer:
      slowQueryThreshold: 2s
    monitor:
      alertThresholds:
        connectionCount: 70
    healthcare:
      phiTables: [patients, clinical.lab_results]
`, "")
	want, _ := Defaults(Production)
	want.QueryAnalyzer.SlowQueryThreshold = Duration{2 * time.Second}
	want.Monitor.AlertThresholds.ConnectionCount = 70
	want.Healthcare.PHITables = []string{"patients", "clinical.lab_results"}
	if !reflect.DeepEqual(settings(p), settings(want)) {
		t.Errorf("overlay:\n got %+v\nwant %+v", settings(p), settings(want))
	}
	if p.Name != Production {
		t.Errorf("Name = %q", p.Name)
	}
}

func TestExtends(t *testing.T) {
	src := `
profile: qa
profiles:
  production:
    indexOptimizer:
      maxIndexesPerTable: 20
  staging:
    extends: production
    indexOptimizer:
      minTableRows: 500
  qa:
    extends: staging
    queryAnalyzer:
      topStatements: 7
  implicit:
    monitor:
      alertThresholds:
        connectionCount: 30
  devlike:
    extends: development
    monitor:
      alertThresholds:
        cacheHitRatio: 93
`
	tests := []struct {
		profile string
		check   func(p *Profile) bool
		extends string
	}{
		{"qa", func(p *Profile) bool {
			// From qa, staging, the file's production and the built-in production.
			return p.QueryAnalyzer.TopStatements == 7 && p.IndexOptimizer.MinTableRows == 500 &&
				p.IndexOptimizer.MaxIndexesPerTable == 20 && p.IndexOptimizer.MinImprovementPct == 10
		}, "staging"},
		{"", func(p *Profile) bool { return p.Name == "qa" }, "staging"},
		{"staging", func(p *Profile) bool {
			return p.QueryAnalyzer.TopStatements == 50 && p.IndexOptimizer.MaxIndexesPerTable == 20
		}, "production"},
		{"implicit", func(p *Profile) bool {
			return p.Monitor.AlertThresholds.ConnectionCount == 30 && p.IndexOptimizer.MaxIndexesPerTable == 20 && p.Connection.RequireVerifyFull
		}, "production"},
		{"devlike", func(p *Profile) bool {
			return p.Monitor.AlertThresholds.CacheHitRatio == 93 && p.QueryAnalyzer.SlowQueryThreshold.Duration == 5*time.Second && !p.Connection.RequireVerifyFull
		}, "development"},
		{"development", func(p *Profile) bool { return p.IndexOptimizer.MaxIndexesPerTable == 10 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			p := mustParse(t, src, tt.profile)
			if !tt.check(p) {
				t.Errorf("profile %s has unexpected values: %+v", p.Name, settings(p))
			}
			if p.Extends != tt.extends {
				t.Errorf("Extends = %q, want %q", p.Extends, tt.extends)
			}
		})
	}
}

func TestExtendsErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		parts []string
	}{
		{"cycle", `
profiles:
  a:
    extends: b
  b:
    extends: c
  c:
    extends: a
`, []string{"pgmedic.yaml:", "cycle", "a -> b -> c -> a"}},
		{"self", `
profiles:
  a:
    extends: a
`, []string{"pgmedic.yaml:4:", "profiles.a.extends", "cycle: a -> a"}},
		{"unknown base", `
profiles:
  a:
    extends: prod
`, []string{"pgmedic.yaml:4:", `unknown profile "prod"`, "available: a, development, production"}},
		{"builtin extends", `
profiles:
  development:
    extends: production
`, []string{"pgmedic.yaml:4:", "built-in profile development cannot extend"}},
		{"extends not a name", `
profiles:
  a:
    extends: [b]
`, []string{"profiles.a.extends", "expected a profile name"}},
		{"section at profile level", `
profiles:
  production:
  queryAnalyzer:
    slowQueryThreshold: 1s
`, []string{"pgmedic.yaml:5:", `profiles.queryAnalyzer: "queryAnalyzer" is a settings section, not a profile name`}},
		{"another section at profile level", `
profiles:
  production:
  connectionPool:
    minConnections: 4
`, []string{"pgmedic.yaml:5:", `profiles.connectionPool: "connectionPool" is a settings section, not a profile name`}},
		{"bad profile name", `
profiles:
  "my profile": {}
`, []string{`profile name "my profile"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tt.src), "pgmedic.yaml")
			wantErr(t, err, tt.parts...)
		})
	}
}

func TestProfileSelection(t *testing.T) {
	src := `
profile: staging
profiles:
  staging:
    queryAnalyzer:
      topStatements: 14
  qa: {}
`
	tests := []struct {
		name    string
		profile string
		env     map[string]string
		want    string
		err     []string
	}{
		{"file key", "", nil, "staging", nil},
		{"env beats file", "", map[string]string{"PGMEDIC_PROFILE": "qa"}, "qa", nil},
		{"argument beats env", "development", map[string]string{"PGMEDIC_PROFILE": "qa"}, "development", nil},
		{"unknown argument", "prod", nil, "", []string{`unknown profile "prod"`, "(available: development, production, qa, staging)"}},
		{"unknown from env", "", map[string]string{"PGMEDIC_PROFILE": "nope"}, "", []string{`PGMEDIC_PROFILE="nope"`, `unknown profile "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(src), "pgmedic.yaml", tt.profile, MapEnv(tt.env))
			if tt.err != nil {
				e := wantErr(t, err, tt.err...)
				if tt.profile == "prod" && e.Hint != `did you mean "production"?` {
					t.Errorf("hint = %q, want a suggestion", e.Hint)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Errorf("selected %q, want %q", p.Name, tt.want)
			}
		})
	}

	// The file's own profile key is reported at its line when it names nothing.
	_, err := Parse([]byte("profile: nope\n"), "pgmedic.yaml", "", noEnv())
	wantErr(t, err, "pgmedic.yaml:1:", `unknown profile "nope"`, "available: development, production")

	// With no file and no choice, production.
	p, err := Parse(nil, "pgmedic.yaml", "", noEnv())
	if err != nil || p.Name != Production {
		t.Fatalf("empty file: %v, %v", p, err)
	}

	f, err := ParseFile([]byte(src), "pgmedic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"development", "production", "qa", "staging"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		parts []string
		hint  string
	}{
		{"section key", `profile: production
profiles:
  production:
    queryAnalyzer:
      topStatements: 5

      slowQueryTreshold: 1000
`, []string{`pgmedic.yaml:7: unknown key "slowQueryTreshold" in profiles.production.queryAnalyzer`,
			"(valid: enableHealthcareCompliance, enableQueryPlan, patientResponseTime, slowQueryThreshold, topStatements)"},
			`did you mean "slowQueryThreshold"?`},
		{"nested section", `profiles:
  development:
    monitor:
      alertThresholds:
        cacheHitRate: 80
`, []string{"pgmedic.yaml:5:", `"cacheHitRate" in profiles.development.monitor.alertThresholds`, "valid: blockedSessions, cacheHitRatio, claimsIngestRate, connectionCount, deadlocks, diskUsage, failedLogins, idleInTransaction, latencyRegression, longRunningQuery, queryResponseTime, replicationLag, xidAge)"}, `did you mean "cacheHitRatio"?`},
		{"profile level", `profiles:
  staging:
    quryAnalyzer: {}
`, []string{"pgmedic.yaml:3:", `unknown key "quryAnalyzer" in profiles.staging`, "extends", "queryAnalyzer"}, `did you mean "queryAnalyzer"?`},
		{"top level", `profiles: {}
queryAnalyzer:
  slowQueryThreshold: 1s
`, []string{"pgmedic.yaml:2:", `unknown key "queryAnalyzer" at the top level (valid: profile, profiles)`}, "profiles.<name>"},
		{"duplicate key", `profiles:
  production:
    indexOptimizer:
      maxIndexesPerTable: 2
      maxIndexesPerTable: 3
`, []string{"pgmedic.yaml:5:", `key "maxIndexesPerTable" appears twice in profiles.production.indexOptimizer`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "pgmedic.yaml", "", noEnv())
			e := wantErr(t, err, tt.parts...)
			if tt.hint != "" && !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint = %q, want %q", e.Hint, tt.hint)
			}
		})
	}
}

func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string // under profiles.production
		parts []string
	}{
		{"string for int", "indexOptimizer:\n      minTableRows: lots", []string{"pgmedic.yaml:4:", "profiles.production.indexOptimizer.minTableRows", `expected a whole number, got "lots"`}},
		{"float for int", "queryAnalyzer:\n      topStatements: 1.5", []string{"profiles.production.queryAnalyzer.topStatements", "whole number"}},
		{"string for float", "monitor:\n      alertThresholds:\n        cacheHitRatio: half", []string{"pgmedic.yaml:5:", "profiles.production.monitor.alertThresholds.cacheHitRatio", "expected a number"}},
		{"string for bool", "indexOptimizer:\n      enableCompositeIndexes: maybe", []string{"profiles.production.indexOptimizer.enableCompositeIndexes", "true or false"}},
		{"quoted ms", "queryAnalyzer:\n      slowQueryThreshold: \"1000\"", []string{"pgmedic.yaml:4:", "profiles.production.queryAnalyzer.slowQueryThreshold", "no unit"}},
		{"bad duration", "connection:\n      lockTimeout: 2 secs", []string{"profiles.production.connection.lockTimeout", "not a duration"}},
		{"bad size", "indexOptimizer:\n      maxStorageBytes: 10XB", []string{"profiles.production.indexOptimizer.maxStorageBytes", `unknown unit "XB"`}},
		{"scalar for list", "healthcare:\n      phiTables: patients", []string{"profiles.production.healthcare.phiTables", "expected a list of strings"}},
		{"mapping for leaf", "connection:\n      applicationName: {a: 1}", []string{"profiles.production.connection.applicationName", "got a mapping"}},
		{"scalar for section", "monitor: 5", []string{"pgmedic.yaml:3:", "profiles.production.monitor must be a mapping"}},
		{"no value", "indexOptimizer:\n      maxIndexesPerTable:", []string{"profiles.production.indexOptimizer.maxIndexesPerTable has no value"}},
		{"nested list", "healthcare:\n      notPHI: [[a]]", []string{"profiles.production.healthcare.notPHI", "list items must be names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "profiles:\n  production:\n    " + tt.yaml + "\n"
			_, err := Parse([]byte(src), "pgmedic.yaml", "", noEnv())
			wantErr(t, err, tt.parts...)
		})
	}

	// Every problem in the file is reported, not only the first.
	_, err := Parse([]byte("profiles:\n  production:\n    indexOptimizer:\n      minTableRows: x\n      maxIndexesPerTable: y\n"), "pgmedic.yaml", "", noEnv())
	if n := len(errorsOf(t, err)); n != 2 {
		t.Errorf("got %d errors, want 2: %v", n, err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		parts []string
	}{
		{"bad indentation", "profiles:\n  production:\n    queryAnalyzer:\n  slowQueryThreshold: 1\n   x: y\n", []string{"pgmedic.yaml:", "invalid YAML"}},
		{"tab", "profiles:\n\tproduction: {}\n", []string{"pgmedic.yaml:2:", "invalid YAML"}},
		{"not a mapping", "- a\n- b\n", []string{"pgmedic.yaml:1:", "must be a mapping"}},
		{"two documents", "profile: production\n---\nprofile: development\n", []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "pgmedic.yaml", "", noEnv())
			wantErr(t, err, tt.parts...)
		})
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	p := mustParse(t, `profiles:
  production:
    monitor:
      alertThresholds: &th
        connectionCount: 70
        cacheHitRatio: 98
  qa:
    monitor:
      alertThresholds:
        <<: *th
        connectionCount: 60
`, "qa")
	at := p.Monitor.AlertThresholds
	if at.ConnectionCount != 60 || at.CacheHitRatio != 98 || at.ReplicationLag.Duration != 30*time.Second {
		t.Errorf("merge: %+v, want connectionCount 60 (own key wins), cacheHitRatio 98 (merged), replicationLag 30s (default)", at)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(p *Profile) bool
	}{
		{"duration as ms", map[string]string{"PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD": "2000"},
			func(p *Profile) bool { return p.QueryAnalyzer.SlowQueryThreshold.Duration == 2*time.Second }},
		{"nested duration string", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_REPLICATION_LAG": "3s"},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.ReplicationLag.Duration == 3*time.Second }},
		{"byte size", map[string]string{"PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES": "20GB"},
			func(p *Profile) bool { return p.IndexOptimizer.MaxStorageBytes == 20*GB }},
		{"list", map[string]string{"PGMEDIC_HEALTHCARE_PHI_TABLES": "a, b ,,billing.claims"},
			func(p *Profile) bool {
				return reflect.DeepEqual(p.Healthcare.PHITables, []string{"a", "b", "billing.claims"})
			}},
		{"acronym key", map[string]string{"PGMEDIC_HEALTHCARE_NOT_PHI": "providers.npi"},
			func(p *Profile) bool { return reflect.DeepEqual(p.Healthcare.NotPHI, []string{"providers.npi"}) }},
		{"bool", map[string]string{"PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL": "false"},
			func(p *Profile) bool { return !p.Connection.RequireVerifyFull }},
		{"int and float", map[string]string{"PGMEDIC_INDEX_OPTIMIZER_MIN_TABLE_ROWS": "12", "PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO": "97.25"},
			func(p *Profile) bool {
				return p.IndexOptimizer.MinTableRows == 12 && p.Monitor.AlertThresholds.CacheHitRatio == 97.25
			}},
		{"string", map[string]string{"PGMEDIC_CONNECTION_APPLICATION_NAME": "pgmedic-ci"},
			func(p *Profile) bool { return p.Connection.ApplicationName == "pgmedic-ci" }},
		{"connection section beside connectionPool", map[string]string{"PGMEDIC_CONNECTION_LOCK_TIMEOUT": "7s"},
			func(p *Profile) bool { return p.Connection.LockTimeout.Duration == 7*time.Second }},
		{"connectionPool", map[string]string{"PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS": "99", "PGMEDIC_CONNECTION_POOL_MIN_CONNECTIONS": "3"},
			func(p *Profile) bool {
				return p.ConnectionPool.MaxConnections == 99 && p.ConnectionPool.MinConnections == 3 && p.Connection.LockTimeout.Duration == 2*time.Second
			}},
		{"env beats file", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT": "3"},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.ConnectionCount == 3 }},
		{"empty counts as unset", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT": ""},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.ConnectionCount == 30 }},
		{"empty unread variable counts as unset", map[string]string{"PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING": "", "PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE": ""},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.ConnectionCount == 30 }},
		{"other PGMEDIC variables ignored", map[string]string{"PGMEDIC_PG_BIN": "/usr/lib/postgresql/15/bin", "PGMEDIC_ARTIFACTS": "x", "PGMEDIC_BENCH_SCALE": "2",
			"PGMEDIC_PROFILE": "production", "PGMEDIC_PARTITIONER": "x", "PGMEDIC_MONITORING": "x"},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.ConnectionCount == 30 }},
	}
	src := "profiles:\n  production:\n    monitor:\n      alertThresholds:\n        connectionCount: 30\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(src), "pgmedic.yaml", "", MapEnv(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("override not applied: %+v", settings(p))
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		parts []string
		hint  string
	}{
		{"unknown in section", map[string]string{"PGMEDIC_QUERY_ANALYZER_FOO": "1"},
			[]string{`PGMEDIC_QUERY_ANALYZER_FOO="1"`, "names no setting of section queryAnalyzer", "valid: PGMEDIC_QUERY_ANALYZER_ENABLE_HEALTHCARE_COMPLIANCE", "PGMEDIC_QUERY_ANALYZER_TOP_STATEMENTS"}, ""},
		{"typo", map[string]string{"PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_TRESHOLD": "1s"},
			[]string{"PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_TRESHOLD"}, "did you mean PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD?"},
		{"longest prefix wins", map[string]string{"PGMEDIC_CONNECTION_POOL_MAX": "1"},
			[]string{`PGMEDIC_CONNECTION_POOL_MAX="1"`, "names no setting of section connectionPool", "PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS"}, ""},
		{"bad int", map[string]string{"PGMEDIC_INDEX_OPTIMIZER_MIN_TABLE_ROWS": "many"},
			[]string{`PGMEDIC_INDEX_OPTIMIZER_MIN_TABLE_ROWS="many"`, "profiles.production.indexOptimizer.minTableRows", "expected a whole number"}, "a whole number"},
		{"bad bool", map[string]string{"PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL": "nope"},
			[]string{`PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL="nope"`, "expected true or false"}, ""},
		{"bad duration", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_REPLICATION_LAG": "often"},
			[]string{`PGMEDIC_MONITOR_ALERT_THRESHOLDS_REPLICATION_LAG="often"`, "not a duration"}, ""},
		{"bad size", map[string]string{"PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES": "10XB"},
			[]string{`PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES="10XB"`, `unknown unit "XB"`}, ""},
		{"bad float", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO": "lots"},
			[]string{`PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO="lots"`, "expected a number"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(tt.env))
			e := wantErr(t, err, tt.parts...)
			if tt.hint != "" && !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint = %q, want %q", e.Hint, tt.hint)
			}
		})
	}
}

func TestEnvTable(t *testing.T) {
	names := EnvVars()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("two settings share %s", n)
		}
		seen[n] = true
	}
	// Every leaf setting of every section is overridable.
	var count func(reflect.Type) int
	count = func(t reflect.Type) int {
		n := 0
		for _, f := range fields(t) {
			if isLeaf(f.typ) {
				n++
			} else {
				n += count(f.typ)
			}
		}
		return n
	}
	if want := count(reflect.TypeFor[Profile]()) - 1; len(names) != want { // minus extends
		t.Errorf("%d variables for %d settings", len(names), want)
	}
	for _, n := range []string{
		"PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD",
		"PGMEDIC_MONITOR_ALERT_THRESHOLDS_REPLICATION_LAG",
		"PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES",
		"PGMEDIC_HEALTHCARE_PHI_TABLES",
		"PGMEDIC_HEALTHCARE_NOT_PHI",
		"PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL",
		"PGMEDIC_CONNECTION_LOCK_TIMEOUT",
		"PGMEDIC_CONNECTION_IDLE_IN_TRANSACTION_TIMEOUT",
	} {
		if !seen[n] {
			t.Errorf("%s missing from %v", n, names)
		}
	}
	// Keys that nothing reads have no variable.
	for _, n := range []string{
		"PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE",
		"PGMEDIC_INDEX_OPTIMIZER_ENABLE_AUTO_INDEXING",
		"PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING",
		"PGMEDIC_MONITOR_ENABLE_REAL_TIME_MONITORING",
		"PGMEDIC_MONITOR_ENABLE_HEALTHCARE_COMPLIANCE",
	} {
		if seen[n] {
			t.Errorf("%s is in the table, but nothing reads it", n)
		}
	}
	for in, want := range map[string]string{
		"slowQueryThreshold": "SLOW_QUERY_THRESHOLD", "notPHI": "NOT_PHI", "phiTables": "PHI_TABLES",
		"PHITables": "PHI_TABLES", "enableRealTimeMonitoring": "ENABLE_REAL_TIME_MONITORING", "a": "A",
	} {
		if got := upperSnake(in); got != want {
			t.Errorf("upperSnake(%q) = %q, want %q", in, got, want)
		}
	}
	// os.LookupEnv cannot answer the listing key, so Load falls back to os.Environ.
	if _, ok := os.LookupEnv(envListKey); ok {
		t.Error("os.LookupEnv answers the listing key")
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string // under profiles.production
		parts []string
	}{
		{"PHI and not PHI at the line of notPHI", "healthcare:\n      phiTables: [patients]\n      notPHI: [patients]",
			[]string{"pgmedic.yaml:5:", `profiles.production.healthcare.notPHI: "patients" is also listed as PHI (phiTables or phiColumns)`}},
		{"pool minimum above maximum", "connectionPool:\n      minConnections: 20\n      maxConnections: 8",
			[]string{"pgmedic.yaml:4:", "profiles.production.connectionPool.minConnections: 20 is more than maxConnections (8)"}},
		{"pool maximum zero", "connectionPool:\n      minConnections: 0\n      maxConnections: 0",
			[]string{"connectionPool.maxConnections: must be between 1 and 10000, got 0"}},
		{"maxIndexesPerTable zero", "indexOptimizer:\n      maxIndexesPerTable: 0",
			[]string{"indexOptimizer.maxIndexesPerTable: must be between 1 and 64, got 0"}},
		{"connectionCount below 1", "monitor:\n      alertThresholds:\n        connectionCount: 0.5",
			[]string{"pgmedic.yaml:5:", "profiles.production.monitor.alertThresholds.connectionCount", "must be between 1 and 100, got 0.5"}},
		{"minImprovementPct above 100", "indexOptimizer:\n      minImprovementPct: 100.5",
			[]string{"indexOptimizer.minImprovementPct", "got 100.5"}},
		{"cacheHitRatio NaN", "monitor:\n      alertThresholds:\n        cacheHitRatio: .nan",
			[]string{"monitor.alertThresholds.cacheHitRatio", "got NaN"}},
		{"minImprovementPct NaN", "indexOptimizer:\n      minImprovementPct: .nan",
			[]string{"indexOptimizer.minImprovementPct", "got NaN"}},
		{"connectionCount", "monitor:\n      alertThresholds:\n        connectionCount: 120",
			[]string{"pgmedic.yaml:5:", "monitor.alertThresholds.connectionCount: must be between 1 and 100, got 120"}},
		{"cacheHitRatio", "monitor:\n      alertThresholds:\n        cacheHitRatio: 101",
			[]string{"monitor.alertThresholds.cacheHitRatio: must be between 0 and 100"}},
		{"cacheHitRatio negative", "monitor:\n      alertThresholds:\n        cacheHitRatio: -1",
			[]string{"monitor.alertThresholds.cacheHitRatio: must be between 0 and 100, got -1"}},
		{"replicationLag zero", "monitor:\n      alertThresholds:\n        replicationLag: 0",
			[]string{"monitor.alertThresholds.replicationLag: must be greater than 0, got 0s"}},
		{"replicationLag", "monitor:\n      alertThresholds:\n        replicationLag: -1s",
			[]string{"monitor.alertThresholds.replicationLag: must be greater than 0, got -1s"}},
		{"negative lockTimeout", "connection:\n      lockTimeout: -2s",
			[]string{"connection.lockTimeout: must not be negative, got -2s (0 disables it)"}},
		{"negative idleInTransactionTimeout", "connection:\n      idleInTransactionTimeout: -1",
			[]string{"connection.idleInTransactionTimeout: must not be negative, got -1ms"}},
		{"topStatements negative", "queryAnalyzer:\n      topStatements: -3",
			[]string{"queryAnalyzer.topStatements: must be at least 1, got -3"}},
		{"unusedIndexMinDays above range", "indexOptimizer:\n      unusedIndexMinDays: 3651",
			[]string{"indexOptimizer.unusedIndexMinDays: must be between 0 and 3650, got 3651"}},
		{"unusedIndexMinDays negative", "indexOptimizer:\n      unusedIndexMinDays: -1",
			[]string{"indexOptimizer.unusedIndexMinDays: must be between 0 and 3650, got -1"}},
		{"minTableRows negative", "indexOptimizer:\n      minTableRows: -1",
			[]string{"indexOptimizer.minTableRows: must be between 0 and 1000000000, got -1"}},
		{"writeCostWeight infinite", "indexOptimizer:\n      writeCostWeight: .inf",
			[]string{"indexOptimizer.writeCostWeight: must be at least 0 and finite, got +Inf"}},
		{"queueValues shape", "indexOptimizer:\n      queueValues: [claims]",
			[]string{`indexOptimizer.queueValues: "claims" is not a valid entry`}},
		{"maxIndexesPerTable", "indexOptimizer:\n      maxIndexesPerTable: 65",
			[]string{"indexOptimizer.maxIndexesPerTable: must be between 1 and 64, got 65"}},
		{"minImprovementPct", "indexOptimizer:\n      minImprovementPct: -1",
			[]string{"indexOptimizer.minImprovementPct: must be between 0 and 100, got -1"}},
		{"writeCostWeight", "indexOptimizer:\n      writeCostWeight: -0.5",
			[]string{"indexOptimizer.writeCostWeight: must be at least 0"}},
		{"topStatements", "queryAnalyzer:\n      topStatements: 0",
			[]string{"queryAnalyzer.topStatements: must be at least 1, got 0"}},
		{"slowQueryThreshold", "queryAnalyzer:\n      slowQueryThreshold: 0",
			[]string{"queryAnalyzer.slowQueryThreshold: must be greater than 0, got 0s"}},
		{"patientResponseTime", "queryAnalyzer:\n      patientResponseTime: -5",
			[]string{"queryAnalyzer.patientResponseTime: must be greater than 0"}},
		{"negative statementTimeout", "connection:\n      statementTimeout: -1",
			[]string{"connection.statementTimeout: must not be negative, got -1ms"}},
		{"empty applicationName", "connection:\n      applicationName: \"\"",
			[]string{"connection.applicationName: must not be empty"}},
		{"long applicationName", "connection:\n      applicationName: " + strings.Repeat("x", 64),
			[]string{"connection.applicationName: must be at most 63 bytes, got 64"}},
		{"phiColumns shape", "healthcare:\n      phiColumns: [patients]",
			[]string{`healthcare.phiColumns: "patients" is not a valid entry (expected "table.column" or "schema.table.column")`}},
		{"phiTables shape", "healthcare:\n      phiTables: [a.b.c.d]",
			[]string{`healthcare.phiTables: "a.b.c.d" is not a valid entry`}},
		{"empty entry", "healthcare:\n      patientTables: [\"\"]",
			[]string{`healthcare.patientTables: "" is not a valid entry`}},
		{"PHI and not PHI", "healthcare:\n      phiColumns: [patients.ssn]\n      notPHI: [Patients.SSN]",
			[]string{`healthcare.notPHI: "Patients.SSN" is also listed as PHI`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "profiles:\n  production:\n    " + tt.yaml + "\n"
			_, err := Parse([]byte(src), "pgmedic.yaml", "", noEnv())
			wantErr(t, err, tt.parts...)
		})
	}

	// A bad value from the environment is blamed on the variable.
	_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT": "120"}))
	wantErr(t, err, `PGMEDIC_MONITOR_ALERT_THRESHOLDS_CONNECTION_COUNT="120": profiles.production.monitor.alertThresholds.connectionCount: must be between 1 and 100, got 120`)
	_, err = Parse(nil, "pgmedic.yaml", "", MapEnv(map[string]string{"PGMEDIC_INDEX_OPTIMIZER_QUEUE_VALUES": "claims.status"}))
	e := wantErr(t, err, `PGMEDIC_INDEX_OPTIMIZER_QUEUE_VALUES="claims.status": profiles.production.indexOptimizer.queueValues: "claims.status" is not a valid entry`)
	if e.Hint != `write it as "schema.table.column = value"` {
		t.Errorf("hint = %q", e.Hint)
	}

	// A value inherited through extends is blamed on the profile that wrote it.
	_, err = Parse([]byte("profiles:\n  production:\n    indexOptimizer:\n      maxIndexesPerTable: 0\n  staging: {}\n"), "pgmedic.yaml", "staging", noEnv())
	wantErr(t, err, "pgmedic.yaml:4: profiles.production.indexOptimizer.maxIndexesPerTable: must be between 1 and 64")

	// All problems are reported together, each as an *Error.
	_, err = Parse([]byte("profiles:\n  production:\n    queryAnalyzer:\n      patientResponseTime: 0\n      topStatements: 0\n"), "pgmedic.yaml", "", noEnv())
	if n := len(errorsOf(t, err)); n != 2 {
		t.Errorf("got %d problems, want 2: %v", n, err)
	}

	// Validate works on a profile built in code, with no origins.
	p, _ := Defaults(Development)
	p.Monitor.AlertThresholds.ConnectionCount = 0
	wantErr(t, p.Validate(), "profiles.development.monitor.alertThresholds.connectionCount: must be between 1 and 100, got 0")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	// No ./pgmedic.yaml: production defaults.
	p, err := Load("", "", noEnv())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Defaults(Production)
	if !reflect.DeepEqual(settings(p), settings(want)) || p.Name != Production {
		t.Errorf("Load with no file = %+v, want production defaults", p)
	}
	p, err = Load("", "development", noEnv())
	if err != nil || p.QueryAnalyzer.SlowQueryThreshold.Duration != 5*time.Second {
		t.Errorf("Load development with no file = %v, %v", p, err)
	}
	_, err = Load("", "staging", noEnv())
	wantErr(t, err, `unknown profile "staging" (available: development, production)`)

	// An explicit path must exist.
	_, err = Load("missing.yaml", "", noEnv())
	e := wantErr(t, err, "missing.yaml", "cannot read configuration file")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(e.Hint, "--config") {
		t.Errorf("missing file: errors.Is(ErrNotExist) = %v, hint %q", errors.Is(err, fs.ErrNotExist), e.Hint)
	}

	// ./pgmedic.yaml is read when present.
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("profile: development\nprofiles:\n  development:\n    indexOptimizer:\n      minTableRows: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = Load("", "", noEnv())
	if err != nil || p.Name != Development || p.IndexOptimizer.MinTableRows != 9 {
		t.Errorf("Load of ./pgmedic.yaml = %+v, %v", p, err)
	}
	// Errors name the file as given.
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("profiles:\n  production:\n    indexOptimizer:\n      minTableRows: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load("bad.yaml", "", noEnv())
	wantErr(t, err, "bad.yaml:4:", "profiles.production.indexOptimizer.minTableRows")
}

func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("../pgmedic.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(data, "pgmedic.example.yaml")
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}
	if f.Profile != Production {
		t.Errorf("example selects %q, want production", f.Profile)
	}
	if got, want := f.Names(), []string{"development", "production", "staging"}; !reflect.DeepEqual(got, want) {
		t.Errorf("example profiles = %v, want %v", got, want)
	}
	for _, name := range f.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := Load("../pgmedic.example.yaml", name, noEnv())
			if err != nil {
				t.Fatalf("example profile %s: %v", name, err)
			}
			switch name {
			case Production, Development:
				// The example spells out the built-in defaults exactly.
				want, _ := Defaults(name)
				if !reflect.DeepEqual(settings(p), settings(want)) {
					t.Errorf("example %s differs from the defaults:\n got %+v\nwant %+v", name, settings(p), settings(want))
				}
			case "staging":
				if p.Extends != Production || p.QueryAnalyzer.SlowQueryThreshold.Duration != 2*time.Second || p.IndexOptimizer.MaxIndexesPerTable != 20 {
					t.Errorf("staging = %+v", settings(p))
				}
				// Everything else is production's.
				want, _ := Defaults(Production)
				want.QueryAnalyzer.SlowQueryThreshold = p.QueryAnalyzer.SlowQueryThreshold
				want.IndexOptimizer.MaxIndexesPerTable = 20
				if !reflect.DeepEqual(settings(p), settings(want)) {
					t.Errorf("staging differs from production in more than two values")
				}
			}
		})
	}
	// Every key the structs define is shown in the example's production profile.
	var doc struct {
		Profiles map[string]map[string]any `yaml:"profiles"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		var node any = doc.Profiles["production"]
		for _, part := range strings.Split(k.Path, ".") {
			m, _ := node.(map[string]any)
			node = m[part]
			if _, ok := m[part]; !ok {
				t.Errorf("example production profile lacks %s", k.Path)
				break
			}
		}
	}
	// Its header says which keys are rejected; every one of them is named there.
	for _, u := range unreadKeys() {
		name := u.path[strings.LastIndex(u.path, ".")+1:]
		if !strings.Contains(string(data), name) {
			t.Errorf("example does not mention the rejected %s", u.path)
		}
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, name := range []string{Production, Development} {
		p, _ := Defaults(name)
		p.Healthcare.PHITables = []string{"patients"}
		p.IndexOptimizer.MaxStorageBytes = 1536 * MiB
		out, err := p.YAML()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"slowQueryThreshold: ", "maxStorageBytes: 1.5GiB", "unusedIndexMinBytes: ", "phiTables:\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s YAML lacks %q:\n%s", name, want, out)
			}
		}
		// config show shows no key that nothing reads.
		var shown map[string]any
		if err := yaml.Unmarshal(out, &shown); err != nil {
			t.Fatal(err)
		}
		for _, u := range unreadKeys() {
			var node any = shown
			for _, part := range strings.Split(u.path, ".") {
				m, _ := node.(map[string]any)
				node = m[part]
			}
			if node != nil {
				t.Errorf("%s YAML shows %s, which nothing reads:\n%s", name, u.path, out)
			}
		}
		// The output pasted under profiles.<name> gives the same profile back.
		indented := "profiles:\n  " + name + ":\n    " + strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\n    ") + "\n"
		back, err := Parse([]byte(indented), "show.yaml", name, noEnv())
		if err != nil {
			t.Fatalf("re-parsing %s output: %v\n%s", name, err, indented)
		}
		if !reflect.DeepEqual(settings(back), settings(p)) {
			t.Errorf("%s round trip differs:\n got %+v\nwant %+v", name, settings(back), settings(p))
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Source: "pgmedic.yaml", Line: 3, Msg: "bad"}, "pgmedic.yaml:3: bad"},
		{Error{Source: "pgmedic.yaml", Msg: "bad"}, "pgmedic.yaml: bad"},
		{Error{Env: "PGMEDIC_X", Value: "a b", Source: "ignored.yaml", Msg: "bad"}, `PGMEDIC_X="a b": bad`},
		{Error{Msg: "bad\nthing", Hint: "not shown"}, "bad thing"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// knownReaders are the commands a reader tag may name.
var knownReaders = map[string]bool{"every command that connects": true, "check": true, "queries": true, "index advise": true,
	"pool advise": true, "replica status": true, "phi": true, "comply": true, "backup status": true, "monitor": true,
	"partition": true, "partition maintain": true}

func TestReaderTags(t *testing.T) {
	// Every setting says which commands read it, so that a key nothing reads cannot be
	// added without notice.
	var walk func(t2 reflect.Type, path string)
	leavesSeen := 0
	walk = func(t2 reflect.Type, path string) {
		for _, f := range fields(t2) {
			p := join(path, f.name)
			if !isLeaf(f.typ) {
				walk(f.typ, p)
				continue
			}
			if path == "" {
				continue // extends: the file's structure, not a setting
			}
			leavesSeen++
			readers := splitReaders(f.reader)
			if len(readers) == 0 {
				t.Errorf("%s has no reader tag: name the commands that read it, or remove it (see unread.go)", p)
			}
			for _, r := range readers {
				if !knownReaders[r] {
					t.Errorf("%s: reader %q is not a known command", p, r)
				}
			}
		}
	}
	walk(reflect.TypeFor[Profile](), "")

	keys := Keys()
	if len(keys) != leavesSeen || len(keys) != len(EnvVars()) {
		t.Errorf("Keys() has %d entries for %d settings and %d variables", len(keys), leavesSeen, len(EnvVars()))
	}
	envs := map[string]bool{}
	for _, n := range EnvVars() {
		envs[n] = true
	}
	want := map[string]string{
		"connection.lockTimeout":                "every command that connects",
		"queryAnalyzer.slowQueryThreshold":      "check, queries",
		"queryAnalyzer.topStatements":           "queries",
		"indexOptimizer.minTableRows":           "index advise",
		"indexOptimizer.unusedIndexMinDays":     "check, index advise",
		"monitor.alertThresholds.cacheHitRatio": "check, monitor",
		"monitor.monitoringInterval":            "monitor",
		"healthcare.phiTables":                  "check, queries, index advise, phi, comply",
		"checks.disabled":                       "check, queries",
	}
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k.Path] {
			t.Errorf("%s listed twice", k.Path)
		}
		seen[k.Path] = true
		if !envs[k.Env] {
			t.Errorf("%s: variable %s is not in EnvVars", k.Path, k.Env)
		}
		if r, ok := want[k.Path]; ok && strings.Join(k.Readers, ", ") != r {
			t.Errorf("%s readers = %q, want %q", k.Path, k.Readers, r)
		}
		if i == 0 && k.Path != "connection.requireVerifyFull" {
			t.Errorf("Keys() starts with %s, want the file's order (connection.requireVerifyFull)", k.Path)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("Keys() lacks %s", p)
		}
	}
}

func TestUnreadTable(t *testing.T) {
	live := map[string]bool{} // every key and section path
	for _, k := range Keys() {
		parts := strings.Split(k.Path, ".")
		for i := range parts {
			live[strings.Join(parts[:i+1], ".")] = true
		}
	}
	seen := map[string]bool{}
	for _, u := range unreadKeys() {
		if seen[u.path] {
			t.Errorf("%s listed twice", u.path)
		}
		seen[u.path] = true
		if live[u.path] {
			t.Errorf("%s is read again: remove it from the unread table", u.path)
		}
		if u.hint == "" {
			t.Errorf("%s has no hint", u.path)
		}
		// The decoder meets it as an unknown key of a section (or of the profile).
		if i := strings.LastIndex(u.path, "."); i >= 0 {
			if parent := u.path[:i]; !live[parent] {
				t.Errorf("%s: %s is not a section of the profile", u.path, parent)
			}
		} else if !u.section {
			t.Errorf("%s is directly under the profile, so it must be a whole section", u.path)
		}
		if _, ok := lookupUnread(u.path); !ok {
			t.Errorf("lookupUnread(%q) misses it", u.path)
		}
	}
	if _, ok := lookupUnread("queryAnalyzer.slowQueryThreshold"); ok {
		t.Error("lookupUnread finds a key that is read")
	}
}

// nested writes value under the key path, indented below profiles.<profile>.
func nested(path, value string) string {
	var b strings.Builder
	parts := strings.Split(path, ".")
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i+2) + p + ":")
		if i == len(parts)-1 {
			b.WriteString(" " + value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestUnreadKeysInFile(t *testing.T) {
	// Every key nothing reads is rejected, once, at its line, with its own hint.
	for _, u := range unreadKeys() {
		t.Run(u.path, func(t *testing.T) {
			value := "1"
			if u.section {
				value = "{premake: 4, maxConnections: 10}"
			}
			src := "profiles:\n  production:\n" + nested(u.path, value)
			line := 2 + len(strings.Split(u.path, "."))
			_, err := Parse([]byte(src), "pgmedic.yaml", "", noEnv())
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
			errs := errorsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			name := u.path[strings.LastIndex(u.path, ".")+1:]
			want := fmt.Sprintf("pgmedic.yaml:%d: profiles.production.%s: no part of this version of pgmedic reads %s", line, u.path, name)
			if u.section {
				want = fmt.Sprintf("pgmedic.yaml:%d: profiles.production.%s: no part of this version of pgmedic reads the %s section", line, u.path, name)
			}
			if e.Error() != want {
				t.Errorf("error = %q\n want %q", e.Error(), want)
			}
			if e.Hint != u.hint || e.Key != "profiles.production."+u.path {
				t.Errorf("hint %q, key %q", e.Hint, e.Key)
			}
		})
	}

	tests := []struct {
		name, src string
		want      []string // one per error, in order
		hint      string
	}{
		{"sampleRate", "profile: production\nprofiles:\n  production:\n    queryAnalyzer:\n      sampleRate: 0.5\n",
			[]string{"pgmedic.yaml:5: profiles.production.queryAnalyzer.sampleRate: no part of this version of pgmedic reads sampleRate"},
			"pgmedic analyses the top statements by time; bound the work with queryAnalyzer.topStatements"},
		{"enableIndexAnalysis", "profiles:\n  production:\n    queryAnalyzer:\n      enableIndexAnalysis: true\n",
			[]string{"pgmedic.yaml:4: profiles.production.queryAnalyzer.enableIndexAnalysis: no part of this version of pgmedic reads enableIndexAnalysis"},
			"checks.disabled"},
		{"enableAutoIndexing even when false", "profiles:\n  production:\n    indexOptimizer:\n      enableAutoIndexing: false\n",
			[]string{"pgmedic.yaml:4: profiles.production.indexOptimizer.enableAutoIndexing: no part of this version of pgmedic reads enableAutoIndexing"},
			"pgmedic index apply --apply"},
		{"custom profile", "profiles:\n  staging:\n    extends: production\n    monitor:\n      enableHealthcareCompliance: true\n",
			[]string{"pgmedic.yaml:5: profiles.staging.monitor.enableHealthcareCompliance: no part of this version of pgmedic reads enableHealthcareCompliance"},
			"the HIPAA query rules are switched by queryAnalyzer.enableHealthcareCompliance"},
		{"beside a typo and a read key", "profiles:\n  production:\n    monitor:\n      enableRealTimeMonitoring: true\n      alertThresholds:\n        cacheHitRatio: 98\n        conectionCount: 70\n",
			[]string{"pgmedic.yaml:4: profiles.production.monitor.enableRealTimeMonitoring: no part of this version of pgmedic reads enableRealTimeMonitoring",
				`pgmedic.yaml:7: unknown key "conectionCount" in profiles.production.monitor.alertThresholds (valid: blockedSessions, cacheHitRatio, claimsIngestRate, connectionCount, deadlocks, diskUsage, failedLogins, idleInTransaction, latencyRegression, longRunningQuery, queryResponseTime, replicationLag, xidAge)`},
			"monitors for as long as it runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "pgmedic.yaml", "", noEnv())
			if err == nil {
				t.Fatal("accepted")
			}
			errs := errorsOf(t, err)
			if len(errs) != len(tt.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(tt.want), err)
			}
			for i, e := range errs {
				if e.Error() != tt.want[i] {
					t.Errorf("error %d = %q\n want %q", i, e.Error(), tt.want[i])
				}
			}
			if !strings.Contains(errs[0].Hint, tt.hint) {
				t.Errorf("hint = %q, want %q", errs[0].Hint, tt.hint)
			}
		})
	}

	// A merge key brings an unread key in from an anchor: rejected at the anchor's line.
	_, err := Parse([]byte("profiles:\n  production:\n    queryAnalyzer: &qa\n      sampleRate: 1\n  staging:\n    queryAnalyzer:\n      <<: *qa\n"), "pgmedic.yaml", "staging", noEnv())
	wantErr(t, err, "pgmedic.yaml:4: profiles.production.queryAnalyzer.sampleRate")
}

func TestUnreadEnv(t *testing.T) {
	// Every key nothing reads is rejected as a variable too, with its hint; a section's
	// variables are all rejected.
	for _, u := range unreadKeys() {
		name := u.envName()
		if u.section {
			name += "_SOME_KEY"
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(map[string]string{name: "4"}))
			if err == nil {
				t.Fatal("accepted")
			}
			errs := errorsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			if e.Env != name || e.Value != "4" || e.Key != "profiles.production."+u.path || e.Hint != u.hint {
				t.Errorf("env %q value %q key %q hint %q", e.Env, e.Value, e.Key, e.Hint)
			}
			if want := fmt.Sprintf("%s=\"4\": profiles.production.%s: ", name, u.path); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("error = %q, want it to start %q", e.Error(), want)
			}
		})
	}

	tests := []struct {
		name  string
		env   map[string]string
		parts []string
		hint  string
	}{
		{"enableMonitoring", map[string]string{"PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING": "true"},
			[]string{`PGMEDIC_CONNECTION_POOL_ENABLE_MONITORING="true": profiles.production.connectionPool.enableMonitoring: no part of this version of pgmedic reads enableMonitoring`},
			"pool metrics come from the pool library's Prometheus collector"},
		{"sampleRate", map[string]string{"PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE": "0.5"},
			[]string{`PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE="0.5": profiles.production.queryAnalyzer.sampleRate: no part of this version of pgmedic reads sampleRate`},
			"bound the work with queryAnalyzer.topStatements"},
		{"pool, not connection", map[string]string{"PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING": "false"},
			[]string{`PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING="false": profiles.production.connectionPool.enableAutoScaling: no part of this version of pgmedic reads enableAutoScaling`},
			"always adapts its admission limits"},
		{"nested key", map[string]string{"PGMEDIC_MONITOR_ENABLE_HEALTHCARE_COMPLIANCE": "true"},
			[]string{`PGMEDIC_MONITOR_ENABLE_HEALTHCARE_COMPLIANCE="true": profiles.production.monitor.enableHealthcareCompliance: no part of this version of pgmedic reads enableHealthcareCompliance`},
			"the monitor always watches PHI access"},
		{"selected profile named", map[string]string{"PGMEDIC_PROFILE": "development", "PGMEDIC_MONITOR_ENABLE_REAL_TIME_MONITORING": "true"},
			[]string{`PGMEDIC_MONITOR_ENABLE_REAL_TIME_MONITORING="true": profiles.development.monitor.enableRealTimeMonitoring`}, "monitors for as long as it runs"},
		{"a key's suffix is not the key", map[string]string{"PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE_PCT": "5"},
			[]string{"names no setting of section queryAnalyzer"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(tt.env))
			if n := len(errorsOf(t, err)); n != 1 {
				t.Errorf("%d errors, want 1: %v", n, err)
			}
			e := wantErr(t, err, tt.parts...)
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint = %q, want %q", e.Hint, tt.hint)
			}
		})
	}

	// An unread PGMEDIC_CONNECTION_POOL_* key is rejected while PGMEDIC_CONNECTION_*
	// beside it is not: the one error is the pool's, and the connection variable alone
	// applies.
	env := map[string]string{"PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING": "true", "PGMEDIC_CONNECTION_LOCK_TIMEOUT": "7s"}
	_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(env))
	errs := errorsOf(t, err)
	if len(errs) != 1 || errs[0].Env != "PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING" || !strings.Contains(errs[0].Hint, "always adapts") {
		t.Errorf("errors = %v, want only the pool variable's", err)
	}
	delete(env, "PGMEDIC_CONNECTION_POOL_ENABLE_AUTO_SCALING")
	p, err := Parse(nil, "pgmedic.yaml", "", MapEnv(env))
	if err != nil || p.Connection.LockTimeout.Duration != 7*time.Second {
		t.Errorf("PGMEDIC_CONNECTION_LOCK_TIMEOUT: %v, %v", p, err)
	}
}

func TestSettings(t *testing.T) {
	src := "profiles:\n  production:\n    indexOptimizer:\n      minTableRows: 500\n  staging:\n    healthcare:\n      phiTables: [patients, billing.claims]\n"
	env := MapEnv(map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO": "97.5"})
	p, err := Parse([]byte(src), "cfg/pgmedic.yaml", "staging", env)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	settings := p.Settings()
	for _, s := range settings {
		got[s.Path] = s
	}
	keys := Keys()
	if len(settings) != len(keys) {
		t.Fatalf("%d settings for %d keys", len(settings), len(keys))
	}
	for i := range keys {
		if settings[i].Path != keys[i].Path || !reflect.DeepEqual(settings[i].Readers, keys[i].Readers) || settings[i].Env != keys[i].Env {
			t.Errorf("setting %d = %+v, want key %+v", i, settings[i].KeyInfo, keys[i])
		}
	}
	tests := []struct{ path, value, source string }{
		{"indexOptimizer.minTableRows", "500", "cfg/pgmedic.yaml:4"}, // inherited from production
		{"healthcare.phiTables", "[patients, billing.claims]", "cfg/pgmedic.yaml:7"},
		{"monitor.alertThresholds.cacheHitRatio", "97.5", "PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO"},
		{"monitor.alertThresholds.connectionCount", "80", "default"},
		{"monitor.alertThresholds.replicationLag", "30s", "default"},
		{"indexOptimizer.unusedIndexMinBytes", "10MB", "default"},
		{"indexOptimizer.maxStorageBytes", "0", "default"},
		{"connection.requireVerifyFull", "true", "default"},
		{"connection.applicationName", "pgmedic", "default"},
		{"checks.disabled", "[]", "default"},
	}
	for _, tt := range tests {
		s, ok := got[tt.path]
		if !ok {
			t.Errorf("no setting %s", tt.path)
			continue
		}
		if s.Value != tt.value || s.Source != tt.source {
			t.Errorf("%s = %q from %q, want %q from %q", tt.path, s.Value, s.Source, tt.value, tt.source)
		}
	}
}

func TestMonitorSection(t *testing.T) {
	src := "profiles:\n  production:\n    monitor:\n      monitoringInterval: 30000\n      retentionPeriod: 7\n      claimsTables: [claims]\n      rules: [\"connections.for=5s\", \"deadlocks=off\"]\n      alertThresholds:\n        diskUsage: 85\n        queryResponseTime: 2000\n"
	p, err := Parse([]byte(src), "pgmedic.yaml", "", MapEnv(map[string]string{"PGMEDIC_MONITOR_MONITORING_INTERVAL": "1000"}))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Monitor
	if m.MonitoringInterval.Duration != time.Second || m.RetentionPeriod != 7 || m.AlertThresholds.DiskUsage != 85 ||
		m.AlertThresholds.QueryResponseTime.Duration != 2*time.Second || len(m.ClaimsTables) != 1 || len(m.Rules) != 2 {
		t.Errorf("monitor section = %+v", m)
	}
	for _, bad := range []struct{ env, want string }{
		{"PGMEDIC_MONITOR_RULES", "connections.for=soon"},
		{"PGMEDIC_MONITOR_RETENTION_PERIOD", "0"},
		{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_DISK_USAGE", "120"},
	} {
		_, err := Parse([]byte(src), "pgmedic.yaml", "", MapEnv(map[string]string{bad.env: bad.want}))
		if err == nil || !strings.Contains(err.Error(), bad.env) {
			t.Errorf("%s=%s: error %v, want one naming the variable", bad.env, bad.want, err)
		}
	}
}

func TestParseRuleOverride(t *testing.T) {
	o, _, err := ParseRuleOverride("connections.for=30s")
	if err != nil || o.Rule != "connections" || o.For == nil || *o.For != 30*time.Second {
		t.Errorf("for: %+v %v", o, err)
	}
	o, _, err = ParseRuleOverride("deadlocks.severity=critical")
	if err != nil || o.Severity != "critical" {
		t.Errorf("severity: %+v %v", o, err)
	}
	o, _, err = ParseRuleOverride("xid_wraparound=off")
	if err != nil || !o.Off {
		t.Errorf("off: %+v %v", o, err)
	}
	for _, bad := range []string{"x", "x.for=later", "x.severity=loud", "x.colour=red", "=off"} {
		if _, _, err := ParseRuleOverride(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
