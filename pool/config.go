// Package pool is the connection layer healthcare applications import: one pgxpool per
// workload profile (patient reads, claims writes, reporting, audit, batch) against a
// primary and zero or more streaming replicas. Reads are routed by declared intent, never
// by parsing SQL: a read profile goes to a replica that has replayed the caller's last
// write and is under the lag bound, else to the primary. Each profile has its own limits,
// statement timeout and priority; an admission gate in front of Acquire moves each
// profile's limit between its minimum and maximum with the observed wait and utilisation;
// a query guard (a pgx tracer) logs or rejects broad reads of PHI tables without ever
// logging arguments; Prometheus metrics describe every pool.
package pool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Workload names a profile.
type Workload string

// The healthcare workloads of the seed.
const (
	PatientRead Workload = "patient_read"
	ClaimsWrite Workload = "claims_write"
	Reporting   Workload = "reporting"
	Audit       Workload = "audit"
	Batch       Workload = "batch"
)

// Intent is what a profile declares it does; routing follows it.
type Intent string

const (
	// Read profiles run read-only transactions and may be served by a replica.
	Read Intent = "read"
	// Write profiles always go to the primary.
	Write Intent = "write"
)

// GuardMode says what the query guard does with a broad read of a PHI table.
type GuardMode string

const (
	GuardOff    GuardMode = "off"
	GuardLog    GuardMode = "log"    // log the normalised statement once per fingerprint
	GuardReject GuardMode = "reject" // refuse it before it reaches the server
)

// Profile is one workload's pool.
type Profile struct {
	Name   Workload
	Intent Intent
	// MinConns and MaxConns bound the admission limit (per node for read profiles).
	MinConns, MaxConns int32
	// StatementTimeout is set on every session of the profile (0: server default).
	StatementTimeout time.Duration
	// AcquireTimeout bounds the wait for a connection (0: the caller's context only).
	AcquireTimeout time.Duration
	// Priority orders the profiles when the shared budget (Config.MaxTotal) is
	// contested: higher grows first and shrinks last.
	Priority int
	// Reserved profiles (audit) open all their connections at Open, keep them, and sit
	// outside the shared budget, so no other workload can take the server's slots.
	Reserved bool
	// Guard is what happens to broad PHI reads in this profile.
	Guard GuardMode
}

// Config describes the topology and the profiles.
type Config struct {
	// Primary and Replicas are connection strings. Non-loopback hosts need
	// sslmode=verify-full with a root certificate; anything that could fall back to
	// plaintext or skip verification is refused.
	Primary  string
	Replicas []string
	// Profiles default to DefaultProfiles().
	Profiles []Profile
	// MaxTotal caps the connections of all non-reserved profiles together on one node
	// (0: the sum of their maxima).
	MaxTotal int32
	// MaxLagBytes and MaxLag bound how far behind a replica may be and still serve reads
	// (defaults 16 MiB and 30s).
	MaxLagBytes int64
	MaxLag      time.Duration
	// CheckInterval is how often replicas' positions are read (default 200ms);
	// BenchFor is how long a failing replica is left alone before it is tried again
	// (default 5s).
	CheckInterval time.Duration
	BenchFor      time.Duration
	// AdaptInterval is how often admission limits are adjusted (default 1s).
	AdaptInterval time.Duration
	// PHITables are the tables ("schema.table") the guard protects. Nil: the primary's
	// tables are classified by the healthcare package at Open.
	PHITables []string
	// ApplicationName prefixes each profile's application_name (default "pgmedic-pool").
	ApplicationName string
	// Logger receives guard and routing events (nil: slog.Default()). Arguments are
	// never logged.
	Logger *slog.Logger
	// Registerer receives the metrics (nil: none are registered; Pools.Collector
	// still returns them).
	Registerer prometheus.Registerer
}

// DefaultProfiles are the seed's five healthcare workloads.
func DefaultProfiles() []Profile {
	return []Profile{
		{Name: PatientRead, Intent: Read, MinConns: 2, MaxConns: 10, StatementTimeout: 2 * time.Second,
			AcquireTimeout: 2 * time.Second, Priority: 80, Guard: GuardReject},
		{Name: ClaimsWrite, Intent: Write, MinConns: 2, MaxConns: 10, StatementTimeout: 10 * time.Second,
			AcquireTimeout: 5 * time.Second, Priority: 60, Guard: GuardLog},
		{Name: Reporting, Intent: Read, MinConns: 1, MaxConns: 4, StatementTimeout: 5 * time.Minute,
			AcquireTimeout: 30 * time.Second, Priority: 20, Guard: GuardLog},
		{Name: Audit, Intent: Write, MinConns: 2, MaxConns: 2, StatementTimeout: 5 * time.Second,
			AcquireTimeout: 5 * time.Second, Priority: 100, Reserved: true, Guard: GuardOff},
		{Name: Batch, Intent: Write, MinConns: 1, MaxConns: 2, StatementTimeout: 30 * time.Minute,
			AcquireTimeout: time.Second, Priority: 10, Guard: GuardLog},
	}
}

// ConfigError is a configuration Open refuses.
type ConfigError struct{ Msg, Hint string }

func (e *ConfigError) Error() string { return "pool: " + e.Msg }

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Primary == "" {
		return out, &ConfigError{Msg: "no primary connection string", Hint: "set Config.Primary"}
	}
	if out.Profiles == nil {
		out.Profiles = DefaultProfiles()
	}
	if out.MaxLagBytes <= 0 {
		out.MaxLagBytes = 16 << 20
	}
	if out.MaxLag <= 0 {
		out.MaxLag = 30 * time.Second
	}
	if out.CheckInterval <= 0 {
		out.CheckInterval = 200 * time.Millisecond
	}
	if out.BenchFor <= 0 {
		out.BenchFor = 5 * time.Second
	}
	if out.AdaptInterval <= 0 {
		out.AdaptInterval = time.Second
	}
	if out.ApplicationName == "" {
		out.ApplicationName = "pgmedic-pool"
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	seen := map[Workload]bool{}
	var shared int32
	for i, p := range out.Profiles {
		if err := p.check(); err != nil {
			return out, err
		}
		if seen[p.Name] {
			return out, &ConfigError{Msg: fmt.Sprintf("profile %s is declared twice", p.Name), Hint: "give each profile a distinct name"}
		}
		seen[p.Name] = true
		if p.Reserved {
			out.Profiles[i].MinConns = p.MaxConns
		} else {
			shared += p.MaxConns
		}
	}
	if out.MaxTotal <= 0 {
		out.MaxTotal = shared
	}
	return out, nil
}

func (p Profile) check() error {
	switch {
	case p.Name == "":
		return &ConfigError{Msg: "a profile has no name", Hint: "name every profile"}
	case p.Intent != Read && p.Intent != Write:
		return &ConfigError{Msg: fmt.Sprintf("profile %s: intent %q is neither read nor write", p.Name, p.Intent), Hint: "declare Intent: pool.Read or pool.Write"}
	case p.MaxConns < 1 || p.MinConns < 0 || p.MinConns > p.MaxConns:
		return &ConfigError{Msg: fmt.Sprintf("profile %s: connections must satisfy 0 <= min (%d) <= max (%d), max >= 1", p.Name, p.MinConns, p.MaxConns),
			Hint: "fix MinConns/MaxConns"}
	}
	switch p.Guard {
	case "", GuardOff, GuardLog, GuardReject:
	default:
		return &ConfigError{Msg: fmt.Sprintf("profile %s: guard %q is not off, log or reject", p.Name, p.Guard), Hint: "use off, log or reject"}
	}
	return nil
}

// ErrUnknownWorkload is returned for a workload no profile declares.
var ErrUnknownWorkload = errors.New("pool: no such workload profile")
