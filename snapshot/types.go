// Package snapshot collects, in one read-only pass, everything pgmedic's analyzers need
// from a database: version and settings, catalogs (tables, columns, indexes, constraints,
// sequences, triggers, roles), statistics, activity, replication and archiving state, and
// the workload from pg_stat_statements. A Snapshot serialises to versioned JSON so it can
// be collected inside a hospital's network and analysed elsewhere. It never holds row
// values: statement texts are the normalised ones pg_stat_statements keeps, scrubbed of
// any literal that slipped through, and column statistics are widths and fractions, never
// the most common values or histograms.
package snapshot

import "time"

// FormatVersion is the version of the JSON layout; readers refuse other versions.
const FormatVersion = 1

// Snapshot is one collection.
type Snapshot struct {
	FormatVersion int       `json:"format_version"`
	Tool          string    `json:"tool"`
	CollectedAt   time.Time `json:"collected_at"`

	Server      Server       `json:"server"`
	Host        *Host        `json:"host,omitempty"`
	Settings    []Setting    `json:"settings"`
	Extensions  []Extension  `json:"extensions"`
	Databases   []Database   `json:"databases"`
	Tables      []Table      `json:"tables"`
	Indexes     []Index      `json:"indexes"`
	Constraints []Constraint `json:"constraints"`
	Sequences   []Sequence   `json:"sequences"`
	Triggers    []Trigger    `json:"triggers"`
	Roles       []Role       `json:"roles"`
	Sessions    []Session    `json:"sessions"`
	Locks       []LockCount  `json:"locks"`
	Replication Replication  `json:"replication"`
	Archiver    *Archiver    `json:"archiver,omitempty"`
	Checkpoints *Checkpoints `json:"checkpoints,omitempty"`
	WAL         *WAL         `json:"wal,omitempty"`
	// Backups is evidence from outside the database (pgBackRest, pgmedic's verified
	// restores), attached by the backup package; the collector leaves it nil.
	Backups  *Backups `json:"backups,omitempty"`
	Workload Workload `json:"workload"`

	// Parts records, for each part of the collection, how long it took and whether it
	// could be read; a part that could not is "unknown" with the reason.
	Parts []Part `json:"parts"`
}

// Part is one section of the collection.
type Part struct {
	Name       string  `json:"name"`
	DurationMs float64 `json:"duration_ms"`
	Status     string  `json:"status"` // "ok", "partial" or "unknown"
	Reason     string  `json:"reason,omitempty"`
}

// Part status values.
const (
	PartOK      = "ok"
	PartPartial = "partial"
	PartUnknown = "unknown"
)

// Server describes the instance and the session that collected.
type Server struct {
	Version          string    `json:"version"`     // "15.18"
	VersionNum       int       `json:"version_num"` // 150018
	Database         string    `json:"database"`
	User             string    `json:"user"`
	Superuser        bool      `json:"superuser"`
	MemberOf         []string  `json:"member_of,omitempty"` // predefined roles that matter (pg_monitor, pg_read_all_stats ...)
	InRecovery       bool      `json:"in_recovery"`
	StartedAt        time.Time `json:"started_at"`
	DataChecksums    bool      `json:"data_checksums"`
	BlockSize        int       `json:"block_size"`
	SystemIdentifier string    `json:"system_identifier,omitempty"`
	// Local is set when the server runs on the machine that collected (Unix socket or
	// loopback), so Host describes the server's machine.
	Local bool `json:"local"`
}

// Major returns the major version (15 for 150018).
func (s Server) Major() int { return s.VersionNum / 10000 }

// Host is the machine the server runs on, when pgmedic can know it.
type Host struct {
	CPUs        int    `json:"cpus"`
	MemoryBytes int64  `json:"memory_bytes"`
	Source      string `json:"source"` // "local" (read from /proc) or "flag"
}

// Setting is one row of pg_settings.
type Setting struct {
	Name           string `json:"name"`
	Value          string `json:"value"` // in the setting's own unit
	Unit           string `json:"unit,omitempty"`
	Source         string `json:"source"`
	BootValue      string `json:"boot_value,omitempty"`
	PendingRestart bool   `json:"pending_restart,omitempty"`
}

// Extension is an installed (or available) extension.
type Extension struct {
	Name             string `json:"name"`
	InstalledVersion string `json:"installed_version,omitempty"`
	DefaultVersion   string `json:"default_version,omitempty"`
	Schema           string `json:"schema,omitempty"`
}

// Database is one row of pg_database with its statistics.
type Database struct {
	Name          string     `json:"name"`
	SizeBytes     int64      `json:"size_bytes"`
	FrozenXIDAge  int64      `json:"frozen_xid_age"`
	MinMXIDAge    int64      `json:"min_mxid_age"`
	ConnLimit     int        `json:"conn_limit"`
	AllowConn     bool       `json:"allow_conn"`
	Backends      int        `json:"backends"`
	XactCommit    int64      `json:"xact_commit"`
	XactRollback  int64      `json:"xact_rollback"`
	BlksRead      int64      `json:"blks_read"`
	BlksHit       int64      `json:"blks_hit"`
	TempFiles     int64      `json:"temp_files"`
	TempBytes     int64      `json:"temp_bytes"`
	Deadlocks     int64      `json:"deadlocks"`
	Conflicts     int64      `json:"conflicts"`
	ChecksumFails *int64     `json:"checksum_failures,omitempty"`
	StatsReset    *time.Time `json:"stats_reset,omitempty"`
}

// Table is a user table (or partitioned table) with its statistics.
type Table struct {
	Schema      string   `json:"schema"`
	Name        string   `json:"name"`
	OID         uint32   `json:"oid"`
	Kind        string   `json:"kind"` // "table", "partitioned", "partition", "materialized view"
	Parent      string   `json:"parent,omitempty"`
	Persistence string   `json:"persistence"` // "permanent", "unlogged", "temporary"
	Options     []string `json:"options,omitempty"`
	ToastOpts   []string `json:"toast_options,omitempty"`

	RowEstimate float64 `json:"row_estimate"`
	// NeverAnalyzed: pg_class.reltuples is -1 (PostgreSQL 14+): no ANALYZE or VACUUM has
	// run, RowEstimate is 0 and the planner guesses the size from the table's pages.
	NeverAnalyzed bool  `json:"never_analyzed,omitempty"`
	Pages         int64 `json:"pages"`
	HeapBytes     int64 `json:"heap_bytes"`
	ToastBytes    int64 `json:"toast_bytes"`
	IndexBytes    int64 `json:"index_bytes"`
	TotalBytes    int64 `json:"total_bytes"`
	SizeExact     bool  `json:"size_exact"` // false: from relpages, because sizing would have waited on a lock
	FillFactor    int   `json:"fill_factor"`

	SeqScan         int64 `json:"seq_scan"`
	SeqTupRead      int64 `json:"seq_tup_read"`
	IdxScan         int64 `json:"idx_scan"`
	IdxTupFetch     int64 `json:"idx_tup_fetch"`
	Inserts         int64 `json:"n_tup_ins"`
	Updates         int64 `json:"n_tup_upd"`
	Deletes         int64 `json:"n_tup_del"`
	HotUpdates      int64 `json:"n_tup_hot_upd"`
	LiveTuples      int64 `json:"n_live_tup"`
	DeadTuples      int64 `json:"n_dead_tup"`
	ModSinceAnalyze int64 `json:"n_mod_since_analyze"`
	InsSinceVacuum  int64 `json:"n_ins_since_vacuum"`

	LastVacuum      *time.Time `json:"last_vacuum,omitempty"`
	LastAutovacuum  *time.Time `json:"last_autovacuum,omitempty"`
	LastAnalyze     *time.Time `json:"last_analyze,omitempty"`
	LastAutoanalyze *time.Time `json:"last_autoanalyze,omitempty"`

	HeapBlksRead  int64 `json:"heap_blks_read"`
	HeapBlksHit   int64 `json:"heap_blks_hit"`
	IdxBlksRead   int64 `json:"idx_blks_read"`
	IdxBlksHit    int64 `json:"idx_blks_hit"`
	FrozenXIDAge  int64 `json:"frozen_xid_age"`
	MinMXIDAge    int64 `json:"min_mxid_age"`
	RLSEnabled    bool  `json:"rls_enabled"`
	RLSForced     bool  `json:"rls_forced"`
	HasPrimaryKey bool  `json:"has_primary_key"`

	Columns []Column `json:"columns"`
	// ColumnStatsKnown is false when pg_stats hid the columns' statistics from the
	// collecting role (it shows only columns the role may read), so estimates that
	// need them (bloat) are unknown.
	ColumnStatsKnown bool `json:"column_stats_known"`
}

// QualifiedName is schema.name.
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Column is a table column with its planner statistics (widths and fractions only).
type Column struct {
	Name     string   `json:"name"`
	Num      int      `json:"num"`
	Type     string   `json:"type"` // format_type, e.g. "integer", "character varying(40)"
	TypeName string   `json:"type_name"`
	NotNull  bool     `json:"not_null"`
	Default  string   `json:"default,omitempty"`
	Identity string   `json:"identity,omitempty"` // "always", "by default"
	TypLen   int      `json:"typlen"`
	TypAlign string   `json:"typalign"`
	AvgWidth *int     `json:"avg_width,omitempty"`
	NullFrac *float64 `json:"null_frac,omitempty"`
	// NDistinct follows pg_stats: positive = count, negative = fraction of rows.
	NDistinct   *float64 `json:"n_distinct,omitempty"`
	Correlation *float64 `json:"correlation,omitempty"`
	// MaxValue is the largest value of a smallint or integer key column, read through its
	// index (a statistic, not a row): the basis of the integer-exhaustion check.
	MaxValue *int64 `json:"max_value,omitempty"`
}

// Index is an index with its usage statistics.
type Index struct {
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	Name       string   `json:"name"`
	OID        uint32   `json:"oid"`
	Definition string   `json:"definition"`
	Method     string   `json:"method"`
	Columns    []string `json:"columns"` // key columns in order; expressions as "(expr)"
	Include    []string `json:"include,omitempty"`
	KeyCount   int      `json:"key_count"`
	// KeyOptions holds, per key column, what makes it more than its name: a
	// non-default operator class, a collation other than the column's, DESC, NULLS
	// FIRST/LAST ("" when none). Two indexes on the same columns with different
	// options serve different queries.
	KeyOptions []string `json:"key_options,omitempty"`
	Predicate  string   `json:"predicate,omitempty"`
	Unique     bool     `json:"unique"`
	Primary    bool     `json:"primary"`
	Valid      bool     `json:"valid"`
	Ready      bool     `json:"ready"`
	// BeingBuilt is set for an invalid index that a running CREATE INDEX CONCURRENTLY
	// is still building (so it is not a leftover).
	BeingBuilt bool    `json:"being_built,omitempty"`
	Constraint string  `json:"constraint,omitempty"` // constraint it backs
	SizeBytes  int64   `json:"size_bytes"`
	Pages      int64   `json:"pages"`
	Tuples     float64 `json:"tuples"`
	Scans      int64   `json:"scans"`
	TupRead    int64   `json:"tup_read"`
	TupFetch   int64   `json:"tup_fetch"`
	BlksRead   int64   `json:"blks_read"`
	BlksHit    int64   `json:"blks_hit"`
	FillFactor int     `json:"fill_factor"`
}

// QualifiedName is schema.name.
func (i *Index) QualifiedName() string { return i.Schema + "." + i.Name }

// KeyOption is key column k's options ("" when it has none).
func (i *Index) KeyOption(k int) string {
	if k < 0 || k >= len(i.KeyOptions) {
		return ""
	}
	return i.KeyOptions[k]
}

// Constraint is a table constraint.
type Constraint struct {
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	Name       string   `json:"name"`
	Type       string   `json:"type"` // "primary", "unique", "foreign", "check", "exclusion"
	Validated  bool     `json:"validated"`
	Definition string   `json:"definition"`
	Columns    []string `json:"columns,omitempty"`
	RefSchema  string   `json:"ref_schema,omitempty"`
	RefTable   string   `json:"ref_table,omitempty"`
	RefColumns []string `json:"ref_columns,omitempty"`
}

// Sequence is a sequence with its position and, when it feeds a column, that column's
// type (whose maximum can be lower than the sequence's).
type Sequence struct {
	Schema      string `json:"schema"`
	Name        string `json:"name"`
	DataType    string `json:"data_type"`
	LastValue   *int64 `json:"last_value,omitempty"` // nil: never used, or not readable
	Readable    bool   `json:"readable"`
	MinValue    int64  `json:"min_value"`
	MaxValue    int64  `json:"max_value"`
	Increment   int64  `json:"increment"`
	Cycle       bool   `json:"cycle"`
	OwnerTable  string `json:"owner_table,omitempty"`  // schema.table
	OwnerColumn string `json:"owner_column,omitempty"` // column fed by the sequence
	ColumnType  string `json:"column_type,omitempty"`  // smallint, integer, bigint
}

// Trigger is a user trigger (internal constraint triggers are left out).
type Trigger struct {
	Schema   string   `json:"schema"`
	Table    string   `json:"table"`
	Name     string   `json:"name"`
	Function string   `json:"function"`
	Enabled  string   `json:"enabled"` // "origin", "disabled", "replica", "always"
	Timing   string   `json:"timing"`  // "before", "after", "instead of"
	Events   []string `json:"events"`
}

// Role is a database role.
type Role struct {
	Name        string     `json:"name"`
	Superuser   bool       `json:"superuser"`
	CanLogin    bool       `json:"can_login"`
	CreateRole  bool       `json:"create_role"`
	CreateDB    bool       `json:"create_db"`
	Replication bool       `json:"replication"`
	BypassRLS   bool       `json:"bypass_rls"`
	ConnLimit   int        `json:"conn_limit"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	MemberOf    []string   `json:"member_of,omitempty"`
	// PasswordKind is "scram-sha-256", "md5", "none" or "" (not readable).
	PasswordKind string `json:"password_kind,omitempty"`
}

// Session is a backend from pg_stat_activity (pgmedic's own excluded). It carries no
// statement text: QueryID links it to the normalised text in the workload.
type Session struct {
	PID           int        `json:"pid"`
	Database      string     `json:"database,omitempty"`
	User          string     `json:"user,omitempty"`
	Application   string     `json:"application,omitempty"`
	ClientAddr    string     `json:"client_addr,omitempty"`
	BackendType   string     `json:"backend_type"`
	State         string     `json:"state,omitempty"`
	WaitEventType string     `json:"wait_event_type,omitempty"`
	WaitEvent     string     `json:"wait_event,omitempty"`
	BackendStart  *time.Time `json:"backend_start,omitempty"`
	XactStart     *time.Time `json:"xact_start,omitempty"`
	QueryStart    *time.Time `json:"query_start,omitempty"`
	StateChange   *time.Time `json:"state_change,omitempty"`
	XIDAge        *int64     `json:"xid_age,omitempty"`
	XminAge       *int64     `json:"xmin_age,omitempty"`
	QueryID       *int64     `json:"query_id,omitempty"`
	Command       string     `json:"command,omitempty"` // first keyword of the statement: SELECT, UPDATE ...
	BlockedBy     []int      `json:"blocked_by,omitempty"`
	WaitingOn     string     `json:"waiting_on,omitempty"` // relation the lock wait is for, when known
	SSL           *bool      `json:"ssl,omitempty"`
}

// LockCount counts locks by type, mode and whether they are granted.
type LockCount struct {
	LockType string `json:"locktype"`
	Mode     string `json:"mode"`
	Granted  bool   `json:"granted"`
	Count    int    `json:"count"`
}

// Replication is the state of streaming replication and slots.
type Replication struct {
	Replicas []Replica `json:"replicas,omitempty"`
	Slots    []Slot    `json:"slots,omitempty"`
	// On a standby: how far replay is behind.
	ReplayLagSeconds *float64 `json:"replay_lag_seconds,omitempty"`
	ReceiveLagBytes  *int64   `json:"receive_lag_bytes,omitempty"`
	CurrentWALLSN    string   `json:"current_wal_lsn,omitempty"`
}

// Replica is one row of pg_stat_replication.
type Replica struct {
	Application      string   `json:"application"`
	ClientAddr       string   `json:"client_addr,omitempty"`
	State            string   `json:"state"`
	SyncState        string   `json:"sync_state"`
	WriteLagSeconds  *float64 `json:"write_lag_seconds,omitempty"`
	FlushLagSeconds  *float64 `json:"flush_lag_seconds,omitempty"`
	ReplayLagSeconds *float64 `json:"replay_lag_seconds,omitempty"`
	ReplayLagBytes   *int64   `json:"replay_lag_bytes,omitempty"`
}

// Slot is a replication slot.
type Slot struct {
	Name          string `json:"name"`
	Type          string `json:"type"` // physical, logical
	Database      string `json:"database,omitempty"`
	Active        bool   `json:"active"`
	Temporary     bool   `json:"temporary"`
	WALStatus     string `json:"wal_status,omitempty"` // reserved, extended, unreserved, lost
	RetainedBytes *int64 `json:"retained_bytes,omitempty"`
	SafeWALSize   *int64 `json:"safe_wal_size,omitempty"`
}

// Backups is what is known about a database's backups. Times are nil when there is
// none; RPOSeconds is nil when it cannot be told.
type Backups struct {
	Gathered       time.Time  `json:"gathered"`
	Sources        []string   `json:"sources"`                   // "pgbackrest stanza main", "directory /backups"
	LastFull       *time.Time `json:"last_full,omitempty"`       // pgBackRest's newest full backup
	LastBackup     *time.Time `json:"last_backup,omitempty"`     // newest backup of any kind
	LastVerified   *time.Time `json:"last_verified,omitempty"`   // newest restore pgmedic verified
	RestoreSeconds float64    `json:"restore_seconds,omitempty"` // how long that restore took
	RestoredBytes  int64      `json:"restored_bytes,omitempty"`  // size of the database it restored
	RPOSeconds     *float64   `json:"rpo_seconds,omitempty"`     // archive lag now
	ArchiveTimeout float64    `json:"archive_timeout_seconds"`
	Problems       []string   `json:"problems,omitempty"` // evidence that could not be read
}

// Archiver is pg_stat_archiver plus the number of WAL files waiting to be archived.
type Archiver struct {
	Mode             string     `json:"archive_mode"`
	Archived         int64      `json:"archived_count"`
	Failed           int64      `json:"failed_count"`
	LastArchivedTime *time.Time `json:"last_archived_time,omitempty"`
	LastFailedTime   *time.Time `json:"last_failed_time,omitempty"`
	ReadyFiles       *int       `json:"ready_files,omitempty"` // nil: not readable
	StatsReset       *time.Time `json:"stats_reset,omitempty"`
}

// Checkpoints is pg_stat_bgwriter (pg_stat_checkpointer from PostgreSQL 17).
type Checkpoints struct {
	Timed          int64      `json:"timed"`
	Requested      int64      `json:"requested"`
	WriteTimeMs    float64    `json:"write_time_ms"`
	SyncTimeMs     float64    `json:"sync_time_ms"`
	BuffersWritten int64      `json:"buffers_written"`
	StatsReset     *time.Time `json:"stats_reset,omitempty"`
}

// WAL is pg_stat_wal (PostgreSQL 14 and later).
type WAL struct {
	Records     int64      `json:"records"`
	Bytes       int64      `json:"bytes"`
	BuffersFull int64      `json:"buffers_full"`
	StatsReset  *time.Time `json:"stats_reset,omitempty"`
}

// Workload is what pg_stat_statements knows.
type Workload struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not available
	// StatsSince is when pg_stat_statements was last reset (PostgreSQL 14+).
	StatsSince  *time.Time  `json:"stats_since,omitempty"`
	Deallocs    int64       `json:"deallocs,omitempty"`
	Track       string      `json:"track,omitempty"`
	Max         int         `json:"max,omitempty"`
	Statements  []Statement `json:"statements,omitempty"`
	TotalCalls  int64       `json:"total_calls"`
	TotalTimeMs float64     `json:"total_time_ms"`
}

// Statement is one pg_stat_statements entry, text normalised.
type Statement struct {
	QueryID  int64  `json:"query_id"`
	Database string `json:"database"`
	User     string `json:"user"`
	Query    string `json:"query"`
	// Truncated: the text was longer than the snapshot keeps (maxQueryText).
	Truncated       bool    `json:"truncated,omitempty"`
	Calls           int64   `json:"calls"`
	TotalExecMs     float64 `json:"total_exec_ms"`
	MeanExecMs      float64 `json:"mean_exec_ms"`
	MinExecMs       float64 `json:"min_exec_ms"`
	MaxExecMs       float64 `json:"max_exec_ms"`
	StddevExecMs    float64 `json:"stddev_exec_ms"`
	TotalPlanMs     float64 `json:"total_plan_ms"`
	Rows            int64   `json:"rows"`
	SharedBlksHit   int64   `json:"shared_blks_hit"`
	SharedBlksRead  int64   `json:"shared_blks_read"`
	SharedDirtied   int64   `json:"shared_blks_dirtied"`
	SharedWritten   int64   `json:"shared_blks_written"`
	TempBlksRead    int64   `json:"temp_blks_read"`
	TempBlksWritten int64   `json:"temp_blks_written"`
	BlkReadTimeMs   float64 `json:"blk_read_time_ms"`
	WALBytes        int64   `json:"wal_bytes"`
	JITFunctions    int64   `json:"jit_functions"`
	JITTimeMs       float64 `json:"jit_time_ms"`
	TopLevel        bool    `json:"toplevel"`
}
