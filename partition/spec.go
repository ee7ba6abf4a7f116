package partition

import (
	"time"
)

// Options say what to convert and how. Zero values take the defaults of the
// partitioner configuration section (see config.Partitioner).
type Options struct {
	// Schema and Table name the table; Table may be qualified ("billing.claims").
	Schema, Table string
	// Column is the partition key; Strategy is range, hash or list.
	Column, Strategy string
	// Interval (range): day, week, month, quarter or year.
	Interval string
	// Modulus (hash): the number of partitions, a power of two so that a partition can
	// later be split by doubling it.
	Modulus int
	// Premake (range): partitions made ahead of now.
	Premake int
	// NoDefault leaves out the default partition (range and list).
	NoDefault bool
	// RetentionMonths (range) is how long rows are kept (0: forever); the plan says
	// which partitions are already past it.
	RetentionMonths int
	// Now is the planning time (default time.Now()).
	Now time.Time
}

// Spec is the conversion as planned: everything the migration needs, stored with its
// state in the pgmedic schema so that a resumed run follows the same plan.
type Spec struct {
	Schema     string `json:"schema"`
	Table      string `json:"table"`
	SourceOID  uint32 `json:"source_oid"`
	Column     string `json:"column"`
	ColumnType string `json:"column_type"`
	Strategy   string `json:"strategy"`
	Interval   string `json:"interval,omitempty"`
	Modulus    int    `json:"modulus,omitempty"`
	Premake    int    `json:"premake,omitempty"`
	// PKColumn and PKType: the single-column primary key the copy walks.
	PKColumn string `json:"pk_column"`
	PKType   string `json:"pk_type"`
	// Shadow is the partitioned table built beside the source; Retired is the name the
	// source takes at the cut-over (same schema).
	Shadow  string `json:"shadow"`
	Retired string `json:"retired"`
	// Columns copied (generated columns are computed again).
	Columns    []string    `json:"columns"`
	Partitions []Partition `json:"partitions"`
	// PrimaryKey is the new key (the old one plus the partition key).
	PrimaryKey []string  `json:"primary_key"`
	PKName     string    `json:"pk_name"` // the source's constraint name, given to the new key at the cut-over
	Uniques    []NewUniq `json:"uniques,omitempty"`
	Indexes    []NewIdx  `json:"indexes,omitempty"`
	FKsOut     []FK      `json:"foreign_keys_out,omitempty"`
	Identity   *Identity `json:"identity,omitempty"`
	// Sequences owned by columns of the source (serial): ownership moves at the cut-over.
	Sequences []OwnedSeq `json:"sequences,omitempty"`
	Views     []View     `json:"views,omitempty"`
	Triggers  []Named    `json:"triggers,omitempty"`
	Grants    []string   `json:"grants,omitempty"`
	RLS       bool       `json:"rls,omitempty"`
	ForceRLS  bool       `json:"force_rls,omitempty"`
	Policies  []string   `json:"policies,omitempty"`
	Owner     string     `json:"owner"`
}

// Partition is one planned partition.
type Partition struct {
	Name    string `json:"name"`
	Bound   string `json:"bound"` // FOR VALUES ... or DEFAULT
	Default bool   `json:"default,omitempty"`
	// Rows and Bytes estimate what the partition receives from the current data.
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Expired: its upper bound is older than the retention.
	Expired bool `json:"expired,omitempty"`
	from    time.Time
	to      time.Time
}

// NewUniq is a unique constraint or index of the source, widened by the partition key.
type NewUniq struct {
	Name       string   `json:"name"`     // on the source
	NewName    string   `json:"new_name"` // on the shadow until the cut-over
	Columns    []string `json:"columns"`
	Constraint bool     `json:"constraint"`
}

// NewIdx is a secondary index of the source rebuilt on the shadow after the copy.
type NewIdx struct {
	Name    string `json:"name"`
	NewName string `json:"new_name"`
	SQL     string `json:"sql"`
}

// Identity is the source's identity column.
type Identity struct {
	Column   string `json:"column"`
	Kind     string `json:"kind"`     // ALWAYS or BY DEFAULT
	Sequence string `json:"sequence"` // the source's identity sequence (qualified, quoted)
}

// OwnedSeq is a sequence owned by a column (serial).
type OwnedSeq struct {
	Column   string `json:"column"`
	Sequence string `json:"sequence"`
}
