package monitor

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/pgconn"
)

// Thresholds are the levels the rules compare with.
type Thresholds struct {
	ConnectionPct     float64       // percent of max_connections
	ReplicationLag    time.Duration // replay lag
	CacheHitPct       float64       // minimum buffer cache hit percent over an interval
	QueryResponse     time.Duration // a statement's mean over an interval
	DiskUsagePct      float64       // data directory's file system
	LongRunning       time.Duration // an active statement
	IdleInTransaction time.Duration // a session idle inside a transaction
	BlockedSessions   int           // sessions waiting on another's lock
	XIDAge            int64         // age(datfrozenxid)
	Deadlocks         int           // within the rule's window
	LatencyRegression float64       // times a statement's own baseline mean
	ClaimsPerMinute   float64       // rows inserted per minute into each claims table
	FailedLogins      int           // refused logins within the rule's window
}

// ComplianceSource gives the current compliance score of a target (0 to 100), when one
// is known. The compliance package provides it; until then the gauge is absent.
type ComplianceSource interface {
	ComplianceScore(target string) (score float64, ok bool)
}

// Options configure a Monitor.
type Options struct {
	Interval   time.Duration
	Retention  time.Duration
	Thresholds Thresholds
	// Overrides change rules' `for`, severity, or switch them off.
	Overrides []RuleOverride
	// ClaimsTables ("table" or "schema.table") must keep their ingest rate.
	ClaimsTables []string
	// PHIBaseline is how long the roles reading each PHI table are learned.
	PHIBaseline time.Duration
	// Healthcare classifies tables as PHI (the healthcare section of the configuration).
	Healthcare config.Healthcare
	// Policy is the session policy; the monitor sets its own application name and
	// timeouts bounded by the interval.
	Policy pgconn.Policy
	Sinks  []Sink
	// Compliance fills pgmedic_compliance_score; nil leaves it out.
	Compliance ComplianceSource
	Logger     *slog.Logger
	// MaxStatements bounds the pg_stat_statements entries read per collection.
	MaxStatements int
	// HistoryFile, when set, keeps the history on disk too (JSON lines, statistics only).
	HistoryFile string
	// CatalogRefresh is how often tables and settings are re-read (default 10 minutes).
	CatalogRefresh time.Duration
	// Jobs are maintenance run on their own schedules (see Job).
	Jobs []Job
}

// ApplicationName is how the monitor's sessions appear in pg_stat_activity.
const ApplicationName = "pgmedic-monitor"

// OptionsFromConfig turns the profile into Options (sinks are added by the caller).
func OptionsFromConfig(cfg *config.Profile) Options {
	m, at := cfg.Monitor, cfg.Monitor.AlertThresholds
	opts := Options{
		Interval:     m.MonitoringInterval.Duration,
		Retention:    time.Duration(m.RetentionPeriod) * 24 * time.Hour,
		ClaimsTables: m.ClaimsTables,
		HistoryFile:  m.HistoryFile,
		PHIBaseline:  m.PHIBaselinePeriod.Duration,
		Healthcare:   cfg.Healthcare,
		Policy: pgconn.Policy{
			RequireVerifyFull: cfg.Connection.RequireVerifyFull,
			StatementTimeout:  cfg.Connection.StatementTimeout.Duration,
			LockTimeout:       cfg.Connection.LockTimeout.Duration,
		},
		Thresholds: Thresholds{
			ConnectionPct:     at.ConnectionCount,
			ReplicationLag:    at.ReplicationLag.Duration,
			CacheHitPct:       at.CacheHitRatio,
			QueryResponse:     at.QueryResponseTime.Duration,
			DiskUsagePct:      at.DiskUsage,
			LongRunning:       at.LongRunningQuery.Duration,
			IdleInTransaction: at.IdleInTransaction.Duration,
			BlockedSessions:   at.BlockedSessions,
			XIDAge:            int64(at.XIDAge),
			Deadlocks:         at.Deadlocks,
			LatencyRegression: at.LatencyRegression,
			ClaimsPerMinute:   at.ClaimsIngestRate,
			FailedLogins:      at.FailedLogins,
		},
	}
	for _, r := range m.Rules {
		if o, _, err := config.ParseRuleOverride(r); err == nil { // validated by config
			opts.Overrides = append(opts.Overrides, o)
		}
	}
	return opts
}

func (o *Options) defaults() error {
	if o.Interval <= 0 {
		return fmt.Errorf("monitor: the interval must be positive, got %s", o.Interval)
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxStatements <= 0 {
		o.MaxStatements = 1000
	}
	if o.CatalogRefresh <= 0 {
		o.CatalogRefresh = 10 * time.Minute
	}
	if o.Thresholds.FailedLogins < 1 {
		o.Thresholds.FailedLogins = 5
	}
	if o.Thresholds.LatencyRegression < 1 {
		o.Thresholds.LatencyRegression = 3
	}
	return nil
}

// sessionPolicy bounds the monitor's statements by the interval (never longer than the
// configured statement timeout), and makes it give up on a lock at once: a monitor must
// fail to collect rather than queue behind the application.
func (o *Options) sessionPolicy() pgconn.Policy {
	p := o.Policy
	p.ApplicationName = ApplicationName
	p.Write = false
	st := max(o.Interval, 2*time.Second)
	if p.StatementTimeout > 0 && p.StatementTimeout < st {
		st = p.StatementTimeout
	}
	p.StatementTimeout = st
	p.LockTimeout = 100 * time.Millisecond
	p.IdleInTransactionTimeout = max(2*st, 10*time.Second)
	p.ConnectTimeout = max(min(o.Interval, 10*time.Second), 2*time.Second)
	return p
}

// RuleOverride changes one rule (config.RuleOverride, parsed from monitor.rules).
type RuleOverride = config.RuleOverride
