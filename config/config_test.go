package config

import (
	"errors"
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
		{"prod sampleRate", prod.QueryAnalyzer.SampleRate, 1.0},
		{"prod patientResponseTime", prod.QueryAnalyzer.PatientResponseTime.Duration, 2 * time.Second},
		{"prod maxIndexesPerTable", prod.IndexOptimizer.MaxIndexesPerTable, 15},
		{"prod enableAutoIndexing", prod.IndexOptimizer.EnableAutoIndexing, false},
		{"prod unusedIndexMinBytes", prod.IndexOptimizer.UnusedIndexMinBytes, 10 * MB},
		{"prod partition retention months", prod.Partitioner.RetentionPeriod, 84},
		{"prod strategy", prod.Partitioner.Strategy, "range"},
		{"prod partitionSize", prod.Partitioner.PartitionSize, "monthly"},
		{"prod minConnections", prod.ConnectionPool.MinConnections, 10},
		{"prod maxConnections", prod.ConnectionPool.MaxConnections, 50},
		{"prod queryResponseTime", prod.Monitor.AlertThresholds.QueryResponseTime.Duration, 2 * time.Second},
		{"prod connectionCount", prod.Monitor.AlertThresholds.ConnectionCount, 80.0},
		{"prod diskUsage", prod.Monitor.AlertThresholds.DiskUsage, 85.0},
		{"prod cacheHitRatio", prod.Monitor.AlertThresholds.CacheHitRatio, 99.0},
		{"prod monitoringInterval", prod.Monitor.MonitoringInterval.Duration, 30 * time.Second},
		{"prod monitor retention days", prod.Monitor.RetentionPeriod, 90},
		{"prod requireVerifyFull", prod.Connection.RequireVerifyFull, true},
		{"prod statementTimeout", prod.Connection.StatementTimeout.Duration, 30 * time.Second},
		{"prod lockTimeout", prod.Connection.LockTimeout.Duration, 2 * time.Second},
		{"prod applicationName", prod.Connection.ApplicationName, "pgmedic"},
		{"dev slowQueryThreshold", dev.QueryAnalyzer.SlowQueryThreshold.Duration, ms(5000)},
		{"dev sampleRate", dev.QueryAnalyzer.SampleRate, 0.1},
		{"dev maxIndexesPerTable", dev.IndexOptimizer.MaxIndexesPerTable, 10},
		{"dev minConnections", dev.ConnectionPool.MinConnections, 2},
		{"dev maxConnections", dev.ConnectionPool.MaxConnections, 10},
		{"dev monitoringInterval", dev.Monitor.MonitoringInterval.Duration, 60 * time.Second},
		{"dev monitor retention days", dev.Monitor.RetentionPeriod, 7},
		{"dev partition retention months", dev.Partitioner.RetentionPeriod, 84},
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
        diskUsage: 70
    healthcare:
      phiTables: [patients, clinical.lab_results]
`, "")
	want, _ := Defaults(Production)
	want.QueryAnalyzer.SlowQueryThreshold = Duration{2 * time.Second}
	want.Monitor.AlertThresholds.DiskUsage = 70
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
    connectionPool:
      maxConnections: 60
  staging:
    extends: production
    connectionPool:
      minConnections: 5
  qa:
    extends: staging
    queryAnalyzer:
      topStatements: 7
  implicit:
    monitor:
      retentionPeriod: 30
  devlike:
    extends: development
    partitioner:
      premake: 3
`
	tests := []struct {
		profile string
		check   func(p *Profile) bool
		extends string
	}{
		{"qa", func(p *Profile) bool {
			// From qa, staging, the file's production and the built-in production.
			return p.QueryAnalyzer.TopStatements == 7 && p.ConnectionPool.MinConnections == 5 &&
				p.ConnectionPool.MaxConnections == 60 && p.IndexOptimizer.MaxIndexesPerTable == 15
		}, "staging"},
		{"", func(p *Profile) bool { return p.Name == "qa" }, "staging"},
		{"staging", func(p *Profile) bool {
			return p.QueryAnalyzer.TopStatements == 50 && p.ConnectionPool.MaxConnections == 60
		}, "production"},
		{"implicit", func(p *Profile) bool {
			return p.Monitor.RetentionPeriod == 30 && p.ConnectionPool.MaxConnections == 60 && p.Connection.RequireVerifyFull
		}, "production"},
		{"devlike", func(p *Profile) bool {
			return p.Partitioner.Premake == 3 && p.QueryAnalyzer.SampleRate == 0.1 && !p.Connection.RequireVerifyFull
		}, "development"},
		{"development", func(p *Profile) bool { return p.ConnectionPool.MaxConnections == 10 }, ""},
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
    sampleRate: 1
`, []string{"pgmedic.yaml:5:", `profiles.queryAnalyzer: "queryAnalyzer" is a settings section, not a profile name`}},
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
    monitor:
      retentionPeriod: 14
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
      sampleRate: 0.5

      slowQueryTreshold: 1000
`, []string{`pgmedic.yaml:7: unknown key "slowQueryTreshold" in profiles.production.queryAnalyzer`,
			"(valid: enableHealthcareCompliance, enableIndexAnalysis, enableQueryPlan, patientResponseTime, sampleRate, slowQueryThreshold, topStatements)"},
			`did you mean "slowQueryThreshold"?`},
		{"nested section", `profiles:
  development:
    monitor:
      alertThresholds:
        diskUsagePct: 80
`, []string{"pgmedic.yaml:5:", `"diskUsagePct" in profiles.development.monitor.alertThresholds`, "valid: cacheHitRatio, connectionCount, diskUsage"}, `did you mean "diskUsage"?`},
		{"profile level", `profiles:
  staging:
    quryAnalyzer: {}
`, []string{"pgmedic.yaml:3:", `unknown key "quryAnalyzer" in profiles.staging`, "extends", "queryAnalyzer"}, `did you mean "queryAnalyzer"?`},
		{"top level", `profiles: {}
queryAnalyzer:
  sampleRate: 1
`, []string{"pgmedic.yaml:2:", `unknown key "queryAnalyzer" at the top level (valid: profile, profiles)`}, "profiles.<name>"},
		{"duplicate key", `profiles:
  production:
    partitioner:
      premake: 2
      premake: 3
`, []string{"pgmedic.yaml:5:", `key "premake" appears twice in profiles.production.partitioner`}, ""},
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
		{"string for int", "partitioner:\n      premake: lots", []string{"pgmedic.yaml:4:", "profiles.production.partitioner.premake", `expected a whole number, got "lots"`}},
		{"float for int", "queryAnalyzer:\n      topStatements: 1.5", []string{"profiles.production.queryAnalyzer.topStatements", "whole number"}},
		{"string for float", "queryAnalyzer:\n      sampleRate: half", []string{"profiles.production.queryAnalyzer.sampleRate", "expected a number"}},
		{"string for bool", "indexOptimizer:\n      enableAutoIndexing: maybe", []string{"profiles.production.indexOptimizer.enableAutoIndexing", "true or false"}},
		{"quoted ms", "queryAnalyzer:\n      slowQueryThreshold: \"1000\"", []string{"pgmedic.yaml:4:", "profiles.production.queryAnalyzer.slowQueryThreshold", "no unit"}},
		{"bad duration", "connection:\n      lockTimeout: 2 secs", []string{"profiles.production.connection.lockTimeout", "not a duration"}},
		{"bad size", "indexOptimizer:\n      maxStorageBytes: 10XB", []string{"profiles.production.indexOptimizer.maxStorageBytes", `unknown unit "XB"`}},
		{"scalar for list", "healthcare:\n      phiTables: patients", []string{"profiles.production.healthcare.phiTables", "expected a list of strings"}},
		{"mapping for leaf", "partitioner:\n      strategy: {a: 1}", []string{"profiles.production.partitioner.strategy", "got a mapping"}},
		{"scalar for section", "monitor: 5", []string{"pgmedic.yaml:3:", "profiles.production.monitor must be a mapping"}},
		{"no value", "partitioner:\n      premake:", []string{"profiles.production.partitioner.premake has no value"}},
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
	_, err := Parse([]byte("profiles:\n  production:\n    partitioner:\n      premake: x\n      hashPartitions: y\n"), "pgmedic.yaml", "", noEnv())
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
		{"bad indentation", "profiles:\n  production:\n    queryAnalyzer:\n  sampleRate: 1\n   x: y\n", []string{"pgmedic.yaml:", "invalid YAML"}},
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
        diskUsage: 70
        cacheHitRatio: 98
  qa:
    monitor:
      alertThresholds:
        <<: *th
        diskUsage: 60
`, "qa")
	at := p.Monitor.AlertThresholds
	if at.DiskUsage != 60 || at.CacheHitRatio != 98 || at.ConnectionCount != 80 {
		t.Errorf("merge: %+v, want diskUsage 60 (own key wins), cacheHitRatio 98 (merged), connectionCount 80 (default)", at)
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
		{"nested duration string", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_QUERY_RESPONSE_TIME": "3s"},
			func(p *Profile) bool { return p.Monitor.AlertThresholds.QueryResponseTime.Duration == 3*time.Second }},
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
		{"int and float", map[string]string{"PGMEDIC_PARTITIONER_PREMAKE": "12", "PGMEDIC_QUERY_ANALYZER_SAMPLE_RATE": "0.25"},
			func(p *Profile) bool { return p.Partitioner.Premake == 12 && p.QueryAnalyzer.SampleRate == 0.25 }},
		{"string", map[string]string{"PGMEDIC_PARTITIONER_STRATEGY": "hash"},
			func(p *Profile) bool { return p.Partitioner.Strategy == "hash" }},
		{"connection pool prefix overlaps connection", map[string]string{"PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS": "99"},
			func(p *Profile) bool { return p.ConnectionPool.MaxConnections == 99 }},
		{"env beats file", map[string]string{"PGMEDIC_MONITOR_RETENTION_PERIOD": "3"},
			func(p *Profile) bool { return p.Monitor.RetentionPeriod == 3 }},
		{"empty counts as unset", map[string]string{"PGMEDIC_MONITOR_RETENTION_PERIOD": ""},
			func(p *Profile) bool { return p.Monitor.RetentionPeriod == 30 }},
		{"other PGMEDIC variables ignored", map[string]string{"PGMEDIC_PG_BIN": "/usr/lib/postgresql/15/bin", "PGMEDIC_ARTIFACTS": "x", "PGMEDIC_BENCH_SCALE": "2"},
			func(p *Profile) bool { return p.Monitor.RetentionPeriod == 30 }},
	}
	src := "profiles:\n  production:\n    monitor:\n      retentionPeriod: 30\n"
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
			[]string{"section connectionPool", "PGMEDIC_CONNECTION_POOL_MAX_CONNECTIONS"}, ""},
		{"bad int", map[string]string{"PGMEDIC_PARTITIONER_PREMAKE": "many"},
			[]string{`PGMEDIC_PARTITIONER_PREMAKE="many"`, "profiles.production.partitioner.premake", "expected a whole number"}, "a whole number"},
		{"bad bool", map[string]string{"PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL": "nope"},
			[]string{`PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL="nope"`, "expected true or false"}, ""},
		{"bad duration", map[string]string{"PGMEDIC_MONITOR_MONITORING_INTERVAL": "often"},
			[]string{`PGMEDIC_MONITOR_MONITORING_INTERVAL="often"`, "not a duration"}, ""},
		{"bad size", map[string]string{"PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES": "10XB"},
			[]string{`PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES="10XB"`, `unknown unit "XB"`}, ""},
		{"bad float", map[string]string{"PGMEDIC_MONITOR_ALERT_THRESHOLDS_DISK_USAGE": "lots"},
			[]string{`PGMEDIC_MONITOR_ALERT_THRESHOLDS_DISK_USAGE="lots"`, "expected a number"}, ""},
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
		"PGMEDIC_MONITOR_ALERT_THRESHOLDS_QUERY_RESPONSE_TIME",
		"PGMEDIC_INDEX_OPTIMIZER_MAX_STORAGE_BYTES",
		"PGMEDIC_HEALTHCARE_PHI_TABLES",
		"PGMEDIC_HEALTHCARE_NOT_PHI",
		"PGMEDIC_CONNECTION_REQUIRE_VERIFY_FULL",
		"PGMEDIC_CONNECTION_POOL_MIN_CONNECTIONS",
		"PGMEDIC_CONNECTION_IDLE_IN_TRANSACTION_TIMEOUT",
	} {
		if !seen[n] {
			t.Errorf("%s missing from %v", n, names)
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
		{"min above max", "connectionPool:\n      minConnections: 20\n      maxConnections: 10",
			[]string{"pgmedic.yaml:5:", "profiles.production.connectionPool.maxConnections", "must be at least minConnections (20), got 10"}},
		{"min above default max", "connectionPool:\n      minConnections: 60",
			[]string{"pgmedic.yaml:4:", "profiles.production.connectionPool.minConnections: must be at most maxConnections (50), got 60"}},
		{"max zero", "connectionPool:\n      minConnections: 0\n      maxConnections: 0",
			[]string{"connectionPool.maxConnections: must be at least 1, got 0"}},
		{"sampleRate zero", "queryAnalyzer:\n      sampleRate: 0",
			[]string{"pgmedic.yaml:4:", "profiles.production.queryAnalyzer.sampleRate", "must be greater than 0 and at most 1, got 0"}},
		{"sampleRate above one", "queryAnalyzer:\n      sampleRate: 1.5",
			[]string{"queryAnalyzer.sampleRate", "got 1.5"}},
		{"sampleRate NaN", "queryAnalyzer:\n      sampleRate: .nan",
			[]string{"queryAnalyzer.sampleRate", "got NaN"}},
		{"partitionSize", "partitioner:\n      partitionSize: weekely",
			[]string{`profiles.production.partitioner.partitionSize: "weekely" is not allowed (allowed: daily, weekly, monthly, quarterly, yearly)`}},
		{"strategy", "partitioner:\n      strategy: interval",
			[]string{`partitioner.strategy: "interval" is not allowed (allowed: range, list, hash)`}},
		{"strategy case", "partitioner:\n      strategy: Range",
			[]string{`"Range" is not allowed`}},
		{"connectionCount", "monitor:\n      alertThresholds:\n        connectionCount: 120",
			[]string{"pgmedic.yaml:5:", "monitor.alertThresholds.connectionCount: must be between 1 and 100, got 120"}},
		{"diskUsage", "monitor:\n      alertThresholds:\n        diskUsage: 0",
			[]string{"monitor.alertThresholds.diskUsage: must be between 1 and 100"}},
		{"cacheHitRatio", "monitor:\n      alertThresholds:\n        cacheHitRatio: 101",
			[]string{"monitor.alertThresholds.cacheHitRatio: must be between 0 and 100"}},
		{"queryResponseTime", "monitor:\n      alertThresholds:\n        queryResponseTime: 0",
			[]string{"monitor.alertThresholds.queryResponseTime: must be greater than 0"}},
		{"replicationLag", "monitor:\n      alertThresholds:\n        replicationLag: -1s",
			[]string{"monitor.alertThresholds.replicationLag: must be greater than 0, got -1s"}},
		{"monitoringInterval", "monitor:\n      monitoringInterval: 500",
			[]string{"monitor.monitoringInterval: must be at least 1s, got 500ms"}},
		{"monitor retention", "monitor:\n      retentionPeriod: 0",
			[]string{"monitor.retentionPeriod: must be at least 1, got 0"}},
		{"partition retention", "partitioner:\n      retentionPeriod: 0",
			[]string{"partitioner.retentionPeriod: must be at least 1, got 0"}},
		{"premake", "partitioner:\n      premake: 400",
			[]string{"partitioner.premake: must be between 1 and 365, got 400"}},
		{"hashPartitions", "partitioner:\n      hashPartitions: 1",
			[]string{"partitioner.hashPartitions: must be between 2 and 1024, got 1"}},
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
		{"acquireTimeout", "connectionPool:\n      acquireTimeout: 0s",
			[]string{"connectionPool.acquireTimeout: must be greater than 0"}},
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
	_, err := Parse(nil, "pgmedic.yaml", "", MapEnv(map[string]string{"PGMEDIC_PARTITIONER_PARTITION_SIZE": "weekely"}))
	e := wantErr(t, err, `PGMEDIC_PARTITIONER_PARTITION_SIZE="weekely": profiles.production.partitioner.partitionSize: "weekely" is not allowed (allowed: daily, weekly, monthly, quarterly, yearly)`)
	if e.Hint != `did you mean "weekly"?` {
		t.Errorf("hint = %q", e.Hint)
	}

	// A value inherited through extends is blamed on the profile that wrote it.
	_, err = Parse([]byte("profiles:\n  production:\n    partitioner:\n      premake: 0\n  staging: {}\n"), "pgmedic.yaml", "staging", noEnv())
	wantErr(t, err, "pgmedic.yaml:4: profiles.production.partitioner.premake: must be between 1 and 365")

	// All problems are reported together, each as an *Error.
	_, err = Parse([]byte("profiles:\n  production:\n    queryAnalyzer:\n      sampleRate: 2\n      topStatements: 0\n"), "pgmedic.yaml", "", noEnv())
	if n := len(errorsOf(t, err)); n != 2 {
		t.Errorf("got %d problems, want 2: %v", n, err)
	}

	// Validate works on a profile built in code, with no origins.
	p, _ := Defaults(Development)
	p.ConnectionPool.MinConnections = 11
	wantErr(t, p.Validate(), "profiles.development.connectionPool.maxConnections: must be at least minConnections (11), got 10")
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
	if err != nil || p.QueryAnalyzer.SampleRate != 0.1 {
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
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("profile: development\nprofiles:\n  development:\n    partitioner:\n      premake: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = Load("", "", noEnv())
	if err != nil || p.Name != Development || p.Partitioner.Premake != 9 {
		t.Errorf("Load of ./pgmedic.yaml = %+v, %v", p, err)
	}
	// Errors name the file as given.
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("profiles:\n  production:\n    monitor:\n      retentionPeriod: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load("bad.yaml", "", noEnv())
	wantErr(t, err, "bad.yaml:4:", "profiles.production.monitor.retentionPeriod")
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
				if p.Extends != Production || p.QueryAnalyzer.SlowQueryThreshold.Duration != 2*time.Second || p.ConnectionPool.MaxConnections != 20 {
					t.Errorf("staging = %+v", settings(p))
				}
				// Everything else is production's.
				want, _ := Defaults(Production)
				want.QueryAnalyzer.SlowQueryThreshold = p.QueryAnalyzer.SlowQueryThreshold
				want.ConnectionPool.MaxConnections = 20
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
	for _, section := range fields(reflect.TypeFor[Profile]()) {
		if isLeaf(section.typ) {
			continue
		}
		got, _ := doc.Profiles["production"][section.name].(map[string]any)
		for _, k := range fieldNames(section.typ) {
			if _, ok := got[k]; !ok {
				t.Errorf("example production profile lacks %s.%s", section.name, k)
			}
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
