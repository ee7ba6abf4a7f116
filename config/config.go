// Package config loads pgmedic.yaml: named profiles (the built-in production and
// development, plus profiles that extend one), PGMEDIC_* environment overrides and
// validation, and returns the selected profile as typed structs.
//
// Precedence, lowest first: built-in defaults of the base profile, the file's profiles
// along the extends chain, environment variables, then validation of the result.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Built-in profile names. Every other profile extends one of them, directly or not.
const (
	Production  = "production"
	Development = "development"
)

// DefaultFile is the file Load reads when no path is given and it exists.
const DefaultFile = "pgmedic.yaml"

// ProfileEnv names the environment variable that selects a profile when Load is given none.
const ProfileEnv = "PGMEDIC_PROFILE"

// Profile is one named set of settings, fully resolved (extends applied).
type Profile struct {
	Name           string         `yaml:"-"`
	Extends        string         `yaml:"extends,omitempty"`
	Connection     Connection     `yaml:"connection"`
	QueryAnalyzer  QueryAnalyzer  `yaml:"queryAnalyzer"`
	IndexOptimizer IndexOptimizer `yaml:"indexOptimizer"`
	Monitor        Monitor        `yaml:"monitor"`
	ConnectionPool ConnectionPool `yaml:"connectionPool"`
	Healthcare     Healthcare     `yaml:"healthcare"`
	Checks         Checks         `yaml:"checks"`
	Compliance     Compliance     `yaml:"compliance"`
	Backup         Backup         `yaml:"backup"`
	Partitioner    Partitioner    `yaml:"partitioner"`

	// origins says where each non-default value came from (key path relative to the
	// profile, e.g. "indexOptimizer.minTableRows"), so validation can point at the file
	// line or environment variable that set it.
	origins map[string]origin
}

// Every setting (leaf field) names the commands that read it in a reader tag: `pgmedic
// config validate` prints them, and a test fails for a setting without one. A key that no
// command reads does not belong here; see unread.go for those that were removed.

// Partitioner holds the defaults of pgmedic partition (flags override them) and what
// its maintenance may drop.
type Partitioner struct {
	// Strategy is range, hash or list.
	Strategy string `yaml:"strategy" reader:"partition"`
	// PartitionSize is a range partition's span: day, week, month, quarter or year
	// (daily, weekly, monthly, quarterly and yearly are read the same).
	PartitionSize  string `yaml:"partitionSize" reader:"partition"`
	HashPartitions int    `yaml:"hashPartitions" reader:"partition"`
	// Premake is how many range partitions exist ahead of now.
	Premake int `yaml:"premake" reader:"partition"`
	// RetentionPeriod in months (84: seven years); 0 keeps every partition.
	RetentionPeriod int `yaml:"retentionPeriod" reader:"partition"`
	// ArchiveDir receives the dump of each partition retention removes.
	ArchiveDir string `yaml:"archiveDir" reader:"partition maintain"`
	// ArchiveRecipients are age public keys (age1...) the dumps are encrypted to; the
	// plaintext is removed. ArchiveIdentityFile, when set, decrypts the archive for the
	// restore check (otherwise the dump is checked before it is encrypted).
	ArchiveRecipients   []string `yaml:"archiveRecipients" reader:"partition maintain"`
	ArchiveIdentityFile string   `yaml:"archiveIdentityFile" reader:"partition maintain"`
	// LegalHolds names tables (schema.table: all their partitions) or partitions that
	// retention must never drop, whatever their age.
	LegalHolds []string `yaml:"legalHolds" reader:"partition maintain"`
}

// Connection is the session policy pgmedic applies to every connection it opens.
type Connection struct {
	// RequireVerifyFull refuses non-loopback hosts unless sslmode=verify-full.
	RequireVerifyFull        bool     `yaml:"requireVerifyFull" reader:"every command that connects"`
	StatementTimeout         Duration `yaml:"statementTimeout" reader:"every command that connects"`
	LockTimeout              Duration `yaml:"lockTimeout" reader:"every command that connects"`
	IdleInTransactionTimeout Duration `yaml:"idleInTransactionTimeout" reader:"every command that connects"`
	ApplicationName          string   `yaml:"applicationName" reader:"every command that connects"`
}

// QueryAnalyzer tunes slow-query analysis.
type QueryAnalyzer struct {
	SlowQueryThreshold Duration `yaml:"slowQueryThreshold" reader:"check, queries"`
	// EnableHealthcareCompliance false switches the HIPAA query rules off, and the 164.312
	// audit that check runs on a live database.
	EnableHealthcareCompliance bool `yaml:"enableHealthcareCompliance" reader:"check, queries"`
	// EnableQueryPlan false means the workload's statements are never EXPLAINed
	// (`pgmedic explain` still plans the one statement it is asked about).
	EnableQueryPlan bool `yaml:"enableQueryPlan" reader:"check, queries"`
	// PatientResponseTime is the target for queries that read patient data.
	PatientResponseTime Duration `yaml:"patientResponseTime" reader:"check, queries"`
	TopStatements       int      `yaml:"topStatements" reader:"queries"` // statements examined
}

// IndexOptimizer tunes index recommendations.
type IndexOptimizer struct {
	EnableHealthcarePresets bool     `yaml:"enableHealthcarePresets" reader:"index advise"`
	EnableCompositeIndexes  bool     `yaml:"enableCompositeIndexes" reader:"index advise"`
	MaxIndexesPerTable      int      `yaml:"maxIndexesPerTable" reader:"index advise"`
	MinImprovementPct       float64  `yaml:"minImprovementPct" reader:"index advise"`
	MaxStorageBytes         ByteSize `yaml:"maxStorageBytes" reader:"index advise"` // 0 means unlimited
	WriteCostWeight         float64  `yaml:"writeCostWeight" reader:"index advise"`
	UnusedIndexMinBytes     ByteSize `yaml:"unusedIndexMinBytes" reader:"check, index advise"`
	// UnusedIndexMinDays: statistics younger than this cannot call an index unused (a
	// monthly report may not have run yet).
	UnusedIndexMinDays int `yaml:"unusedIndexMinDays" reader:"check, index advise"`
	// MinTableRows: tables the planner expects to hold fewer rows get no index (a
	// sequential scan of them is as cheap); the advice lists them with this reason.
	MinTableRows int `yaml:"minTableRows" reader:"index advise"`
	// QueueValues name work-queue states ("schema.table.column = value"): statements
	// filtering for them may get a partial index even when seen once.
	QueueValues []string `yaml:"queueValues" reader:"index advise"`
}

// QueueValue is one parsed indexOptimizer.queueValues entry.
type QueueValue struct {
	Table, Column, Value string
}

// ParseQueueValue reads "schema.table.column = value" (or "table.column = value",
// table then in public).
func ParseQueueValue(s string) (QueueValue, bool) {
	left, value, ok := strings.Cut(s, "=")
	value = strings.Trim(strings.TrimSpace(value), "'")
	parts := strings.Split(strings.TrimSpace(left), ".")
	if !ok || value == "" {
		return QueueValue{}, false
	}
	for _, p := range parts {
		if p == "" || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' }) {
			return QueueValue{}, false
		}
	}
	switch len(parts) {
	case 2:
		return QueueValue{Table: "public." + parts[0], Column: parts[1], Value: value}, true
	case 3:
		return QueueValue{Table: parts[0] + "." + parts[1], Column: parts[2], Value: value}, true
	}
	return QueueValue{}, false
}

// Monitor configures `pgmedic monitor` (collection, alerts, HTTP) and holds the levels at
// which the health checks raise a finding.
type Monitor struct {
	// MonitoringInterval is how often each target is read (the seed's 30000 ms).
	MonitoringInterval Duration `yaml:"monitoringInterval" reader:"monitor"`
	// RetentionPeriod is how many days of history the monitor keeps (in memory, bounded).
	RetentionPeriod int `yaml:"retentionPeriod" reader:"monitor"`
	// HistoryFile keeps the history on disk too (JSON lines, statistics only), for
	// restarts and `pgmedic monitor report`.
	HistoryFile string `yaml:"historyFile" reader:"monitor"`
	// Targets are connection strings watched besides --dsn.
	Targets []string `yaml:"targets" reader:"monitor"`
	// Listen is the HTTP address of /metrics, /api/v1/alerts and the dashboard.
	Listen string `yaml:"listen" reader:"monitor"`
	// Token (or the file TokenFile names) is the bearer token every HTTP path but
	// /healthz requires.
	Token     string `yaml:"token" reader:"monitor"`
	TokenFile string `yaml:"tokenFile" reader:"monitor"`
	// ViewerToken sees metrics, alerts and the dashboard, but not statement texts.
	ViewerToken string `yaml:"viewerToken" reader:"monitor"`
	// TLSCert and TLSKey serve HTTPS; a non-loopback listen address requires them.
	TLSCert string `yaml:"tlsCert" reader:"monitor"`
	TLSKey  string `yaml:"tlsKey" reader:"monitor"`
	// WebhookURL and AlertmanagerURL receive alerts as they fire and resolve.
	WebhookURL      string `yaml:"webhookURL" reader:"monitor"`
	AlertmanagerURL string `yaml:"alertmanagerURL" reader:"monitor"`
	// ClaimsTables are tables whose insert rate must stay at alertThresholds.claimsIngestRate.
	ClaimsTables []string `yaml:"claimsTables" reader:"monitor"`
	// PHIBaselinePeriod is how long the monitor learns which roles read PHI tables
	// before a new reader raises an alert.
	PHIBaselinePeriod Duration `yaml:"phiBaselinePeriod" reader:"monitor"`
	// Rules overrides alert rules: "rule.for=30s", "rule.severity=critical", "rule=off".
	Rules []string `yaml:"rules" reader:"monitor"`
	// RefreshMaterializedViews and PartitionMaintenance make the monitor run that
	// maintenance on a schedule through the executor (0: never). They need a role that
	// may refresh the views and change the partitioned tables.
	RefreshMaterializedViews Duration        `yaml:"refreshMaterializedViews" reader:"monitor"`
	PartitionMaintenance     Duration        `yaml:"partitionMaintenance" reader:"monitor"`
	AlertThresholds          AlertThresholds `yaml:"alertThresholds"`
}

// AlertThresholds are the levels at which `pgmedic check` reports a problem and
// `pgmedic monitor` raises an alert.
type AlertThresholds struct {
	ConnectionCount float64  `yaml:"connectionCount" reader:"check, monitor"` // percent of max_connections
	ReplicationLag  Duration `yaml:"replicationLag" reader:"check, monitor, replica status"`
	CacheHitRatio   float64  `yaml:"cacheHitRatio" reader:"check, monitor"` // minimum percent
	// QueryResponseTime: a statement whose mean over an interval exceeds it is slow.
	QueryResponseTime Duration `yaml:"queryResponseTime" reader:"monitor"`
	DiskUsage         float64  `yaml:"diskUsage" reader:"monitor"` // percent of the data directory's file system
	LongRunningQuery  Duration `yaml:"longRunningQuery" reader:"monitor"`
	IdleInTransaction Duration `yaml:"idleInTransaction" reader:"monitor"`
	BlockedSessions   int      `yaml:"blockedSessions" reader:"monitor"` // sessions waiting on a lock
	XIDAge            int      `yaml:"xidAge" reader:"monitor"`          // age(datfrozenxid)
	Deadlocks         int      `yaml:"deadlocks" reader:"monitor"`       // within ten intervals
	// LatencyRegression: a statement is regressed when its mean exceeds this many times
	// its own baseline.
	LatencyRegression float64 `yaml:"latencyRegression" reader:"monitor"`
	ClaimsIngestRate  float64 `yaml:"claimsIngestRate" reader:"monitor"` // rows per minute, per claims table
	FailedLogins      int     `yaml:"failedLogins" reader:"monitor"`     // refused logins within ten intervals
}

// ConnectionPool bounds what `pgmedic pool advise` recommends per application instance:
// MaxConnections caps all workload profiles together, MinConnections is how many of
// them are kept open, shared among the profiles by their load.
type ConnectionPool struct {
	MinConnections int `yaml:"minConnections" reader:"pool advise"`
	MaxConnections int `yaml:"maxConnections" reader:"pool advise"`
}

// Healthcare overrides PHI classification. Entries are "table", "schema.table",
// "table.column" or "schema.table.column".
type Healthcare struct {
	PHITables  []string `yaml:"phiTables" reader:"check, queries, index advise, phi, comply"`
	PHIColumns []string `yaml:"phiColumns" reader:"check, queries, index advise, phi, comply"`
	// NotPHI lists tables and columns that must never be classified as PHI.
	NotPHI []string `yaml:"notPHI" reader:"check, queries, index advise, phi, comply"`
	// PatientTables lists tables holding patient rows; empty means detect by name.
	PatientTables []string `yaml:"patientTables" reader:"check, queries, index advise, phi, comply"`
}

// Compliance tunes the HIPAA audit.
type Compliance struct {
	// Attestations name safeguards SQL cannot see, attested by whoever runs the audit:
	// disk_encryption, os_access, emergency_access.
	Attestations []string `yaml:"attestations" reader:"comply, check"`
	// Disabled lists audit checks (ids as 'pgmedic comply' shows them, without "hipaa.")
	// that are not run: they are shown as disabled and left out of the score.
	Disabled []string `yaml:"disabled" reader:"comply, check"`
}

// Checks tunes the health checks. Check ids and threshold names are those listed by
// `pgmedic checks`; the health package validates them (config cannot know them).
type Checks struct {
	// Disabled lists check ids that do not run.
	Disabled []string `yaml:"disabled" reader:"check, queries"`
	// Thresholds overrides thresholds as "check.id.threshold=value", e.g.
	// "sessions.idle_in_transaction.min_seconds=30".
	Thresholds []string `yaml:"thresholds" reader:"check, queries"`
	// Severity overrides a check's severity as "check.id=high".
	Severity []string `yaml:"severity" reader:"check, queries"`
}

// Backup holds the recovery objectives backups are judged against and where the
// evidence is: pgmedic's verified logical backups and a pgBackRest stanza.
type Backup struct {
	// RPOTarget: committed work that may be lost (archive lag, archive_timeout).
	RPOTarget Duration `yaml:"rpoTarget" reader:"check, backup status"`
	// RTOTarget: how long a restore may take (measured by backup verify, scaled to
	// the database's size).
	RTOTarget Duration `yaml:"rtoTarget" reader:"check, backup status"`
	// MaxVerifiedAge: the newest verified restore may be at most this old.
	MaxVerifiedAge Duration `yaml:"maxVerifiedAge" reader:"check, backup status"`
	// Dir holds pgmedic's logical backups and their verification records.
	Dir string `yaml:"dir" reader:"check, backup status"`
	// PgBackRestConfig and PgBackRestStanza name the pgBackRest repository; an empty
	// config means pgBackRest is not used.
	PgBackRestConfig string `yaml:"pgbackrestConfig" reader:"check, backup status"`
	PgBackRestStanza string `yaml:"pgbackrestStanza" reader:"check, backup status"`
}

// File is what pgmedic.yaml holds, with every profile resolved (extends applied) but
// neither environment overrides nor validation.
type File struct {
	Profile  string              `yaml:"profile"`
	Profiles map[string]*Profile `yaml:"profiles"`

	source      string // file name for messages
	profileLine int    // line of the profile: key
}

// origin is where one value came from.
type origin struct {
	key    string // full key path as written, e.g. profiles.staging.indexOptimizer.minTableRows
	source string // file name
	line   int
	env    string // environment variable, when the value came from one
	value  string // its raw value
}

// Defaults returns a fresh copy of the built-in profile name: production or development.
func Defaults(name string) (*Profile, error) {
	p, ok := builtin(name)
	if !ok {
		return nil, &Error{Key: "profile", Msg: fmt.Sprintf("no built-in profile %q (built-in: %s, %s)", name, Development, Production),
			Hint: "define it in pgmedic.yaml with extends: production"}
	}
	return p, nil
}

// builtin builds the built-in profiles on each call, so no caller can change them for another.
func builtin(name string) (*Profile, bool) {
	ms := func(n int64) Duration { return Duration{time.Duration(n) * time.Millisecond} }
	switch name {
	case Production:
		return &Profile{
			Name: Production,
			Connection: Connection{
				RequireVerifyFull:        true,
				StatementTimeout:         ms(30000),
				LockTimeout:              ms(2000),
				IdleInTransactionTimeout: ms(60000),
				ApplicationName:          "pgmedic",
			},
			QueryAnalyzer: QueryAnalyzer{
				SlowQueryThreshold:         ms(1000),
				EnableHealthcareCompliance: true,
				EnableQueryPlan:            true,
				PatientResponseTime:        ms(2000),
				TopStatements:              50,
			},
			IndexOptimizer: IndexOptimizer{
				EnableHealthcarePresets: true,
				EnableCompositeIndexes:  true,
				MaxIndexesPerTable:      15,
				MinImprovementPct:       10,
				MaxStorageBytes:         0,
				WriteCostWeight:         1.0,
				UnusedIndexMinBytes:     10 * MB,
				UnusedIndexMinDays:      35,
				MinTableRows:            1000,
			},
			Partitioner: Partitioner{Strategy: "range", PartitionSize: "month", HashPartitions: 8, Premake: 4, RetentionPeriod: 84, ArchiveDir: "pgmedic-archive"},
			Monitor: Monitor{
				MonitoringInterval: ms(30000),
				RetentionPeriod:    7,
				Listen:             "127.0.0.1:9188",
				PHIBaselinePeriod:  ms(24 * 3600 * 1000),
				AlertThresholds: AlertThresholds{
					ConnectionCount:   80,
					ReplicationLag:    ms(30000),
					CacheHitRatio:     99,
					QueryResponseTime: ms(2000),
					DiskUsage:         85,
					LongRunningQuery:  ms(60000),
					IdleInTransaction: ms(60000),
					BlockedSessions:   1,
					XIDAge:            1_000_000_000,
					Deadlocks:         1,
					LatencyRegression: 3,
					ClaimsIngestRate:  1000,
					FailedLogins:      5,
				},
			},
			ConnectionPool: ConnectionPool{MinConnections: 10, MaxConnections: 50},
			Backup: Backup{
				RPOTarget:        ms(15 * 60000),
				RTOTarget:        ms(4 * 3600000),
				MaxVerifiedAge:   ms(7 * 24 * 3600000),
				PgBackRestStanza: "main",
			},
		}, true
	case Development:
		return &Profile{
			Name: Development,
			Connection: Connection{
				RequireVerifyFull:        false,
				StatementTimeout:         ms(60000),
				LockTimeout:              ms(5000),
				IdleInTransactionTimeout: ms(60000),
				ApplicationName:          "pgmedic",
			},
			QueryAnalyzer: QueryAnalyzer{
				SlowQueryThreshold:         ms(5000),
				EnableHealthcareCompliance: true,
				EnableQueryPlan:            true,
				PatientResponseTime:        ms(2000),
				TopStatements:              50,
			},
			IndexOptimizer: IndexOptimizer{
				EnableHealthcarePresets: true,
				EnableCompositeIndexes:  true,
				MaxIndexesPerTable:      10,
				MinImprovementPct:       5,
				MaxStorageBytes:         0,
				WriteCostWeight:         1.0,
				UnusedIndexMinBytes:     1 * MB,
				UnusedIndexMinDays:      7,
				MinTableRows:            1000,
			},
			Partitioner: Partitioner{Strategy: "range", PartitionSize: "month", HashPartitions: 8, Premake: 4, RetentionPeriod: 84, ArchiveDir: "pgmedic-archive"},
			Monitor: Monitor{
				MonitoringInterval: ms(60000),
				RetentionPeriod:    7,
				Listen:             "127.0.0.1:9188",
				PHIBaselinePeriod:  ms(24 * 3600 * 1000),
				AlertThresholds: AlertThresholds{
					ConnectionCount:   90,
					ReplicationLag:    ms(5 * 60000),
					CacheHitRatio:     95,
					QueryResponseTime: ms(2000),
					DiskUsage:         85,
					LongRunningQuery:  ms(60000),
					IdleInTransaction: ms(60000),
					BlockedSessions:   1,
					XIDAge:            1_000_000_000,
					Deadlocks:         1,
					LatencyRegression: 3,
					ClaimsIngestRate:  1000,
					FailedLogins:      5,
				},
			},
			ConnectionPool: ConnectionPool{MinConnections: 2, MaxConnections: 10},
			Backup: Backup{
				RPOTarget:        ms(15 * 60000),
				RTOTarget:        ms(4 * 3600000),
				MaxVerifiedAge:   ms(7 * 24 * 3600000),
				PgBackRestStanza: "main",
			},
		}, true
	}
	return nil, false
}

// Load reads the configuration and returns the selected profile with environment
// overrides applied and validated.
//
// path "" means ./pgmedic.yaml when it exists, else the built-in defaults alone; an
// explicit path must exist. profile "" means $PGMEDIC_PROFILE, else the file's profile
// key, else production. env looks variables up: os.LookupEnv in production, MapEnv in
// tests; nil means an empty environment.
func Load(path, profile string, env func(string) (string, bool)) (*Profile, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Select(profile, env)
}

// Parse is Load from bytes; source names the file in messages.
func Parse(data []byte, source, profile string, env func(string) (string, bool)) (*Profile, error) {
	f, err := ParseFile(data, source)
	if err != nil {
		return nil, err
	}
	return f.Select(profile, env)
}

// ReadFile reads and resolves a configuration file. path "" means ./pgmedic.yaml when it
// exists, else an empty file (built-in profiles only).
func ReadFile(path string) (*File, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &File{}, nil
		}
		e := &Error{Source: path, Msg: fmt.Sprintf("cannot read configuration file: %v", err), Err: err}
		if errors.Is(err, fs.ErrNotExist) {
			e.Hint = "check the --config path; without --config pgmedic reads ./" + DefaultFile +
				" when present and otherwise uses the built-in profiles (see pgmedic.example.yaml)"
		}
		return nil, e
	}
	return ParseFile(data, path)
}

// ParseFile decodes a configuration file and resolves every profile in it. Unknown keys,
// wrong types and bad extends are errors; values are not validated until Select.
func ParseFile(data []byte, source string) (*File, error) {
	if source == "" {
		source = DefaultFile
	}
	return parseFile(data, source)
}

// Names lists the profiles that can be selected: the built-in ones and the file's, sorted.
func (f *File) Names() []string {
	set := map[string]bool{Production: true, Development: true}
	if f != nil {
		for n := range f.Profiles {
			set[n] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Select picks a profile (profile, else $PGMEDIC_PROFILE, else the file's profile key,
// else production), applies environment overrides to a copy and validates it.
func (f *File) Select(profile string, env func(string) (string, bool)) (*Profile, error) {
	if f == nil {
		f = &File{}
	}
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	name, where := profile, &Error{Key: "profile"}
	if name == "" {
		if v, ok := env(ProfileEnv); ok && v != "" {
			name, where.Env, where.Value = v, ProfileEnv, v
		}
	}
	if name == "" && f.Profile != "" {
		name, where.Source, where.Line = f.Profile, f.source, f.profileLine
	}
	if name == "" {
		name = Production
	}
	base, ok := f.Profiles[name]
	if !ok {
		base, ok = builtin(name)
	}
	if !ok {
		where.Msg = fmt.Sprintf("unknown profile %q (available: %s)", name, strings.Join(f.Names(), ", "))
		where.Hint = "define the profile under profiles: in the configuration file, or pick an available one"
		if s := suggest(name, f.Names()); s != "" {
			where.Hint = fmt.Sprintf("did you mean %q?", s)
		}
		return nil, where
	}
	p := base.clone()
	if err := applyEnv(p, env); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// YAML renders the profile as it would be written under profiles.<name>, for
// `pgmedic config show`. Durations and sizes come out in their human forms.
func (p *Profile) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("rendering profile %s: %w", p.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rendering profile %s: %w", p.Name, err)
	}
	return buf.Bytes(), nil
}

// clone deep-copies p so that overlays and overrides never reach a shared profile.
func (p *Profile) clone() *Profile {
	c := *p
	copySlices(reflect.ValueOf(&c).Elem())
	c.origins = make(map[string]origin, len(p.origins))
	for k, v := range p.origins {
		c.origins[k] = v
	}
	return &c
}

// copySlices gives every exported slice in struct v its own backing array, found by
// reflection so that a list added to any section later is copied too.
func copySlices(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Slice:
			if !f.IsNil() {
				f.Set(reflect.AppendSlice(reflect.MakeSlice(f.Type(), 0, f.Len()), f))
			}
		case reflect.Struct:
			copySlices(f)
		}
	}
}

// setOrigin records where the value at path (relative to the profile) came from.
func (p *Profile) setOrigin(path string, o origin) {
	if p.origins == nil {
		p.origins = map[string]origin{}
	}
	p.origins[path] = o
}
