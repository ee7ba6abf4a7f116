package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Validate checks every constrained setting and returns all problems joined, each an
// *Error naming the key's full path, where its value came from (file line or
// environment variable) and what is allowed.
func (p *Profile) Validate() error {
	c := &checker{p: p}

	cn := p.Connection
	c.timeoutNotNegative("connection.statementTimeout", cn.StatementTimeout)
	c.timeoutNotNegative("connection.lockTimeout", cn.LockTimeout)
	c.timeoutNotNegative("connection.idleInTransactionTimeout", cn.IdleInTransactionTimeout)
	c.applicationName("connection.applicationName", cn.ApplicationName)

	qa := p.QueryAnalyzer
	c.durationPositive("queryAnalyzer.slowQueryThreshold", qa.SlowQueryThreshold)
	c.durationPositive("queryAnalyzer.patientResponseTime", qa.PatientResponseTime)
	c.intAtLeast("queryAnalyzer.topStatements", qa.TopStatements, 1)

	c.partitioner(p.Partitioner)

	io := p.IndexOptimizer
	c.intRange("indexOptimizer.maxIndexesPerTable", io.MaxIndexesPerTable, 1, 64)
	c.floatRange("indexOptimizer.minImprovementPct", io.MinImprovementPct, 0, 100)
	c.sizeNotNegative("indexOptimizer.maxStorageBytes", io.MaxStorageBytes)
	c.floatAtLeast("indexOptimizer.writeCostWeight", io.WriteCostWeight, 0)
	c.sizeNotNegative("indexOptimizer.unusedIndexMinBytes", io.UnusedIndexMinBytes)
	c.intRange("indexOptimizer.unusedIndexMinDays", io.UnusedIndexMinDays, 0, 3650)
	c.intRange("indexOptimizer.minTableRows", io.MinTableRows, 0, 1_000_000_000)
	for _, q := range io.QueueValues {
		if _, ok := ParseQueueValue(q); !ok {
			c.fail("indexOptimizer.queueValues", `write it as "schema.table.column = value"`, "%q is not a valid entry", q)
		}
	}

	at := p.Monitor.AlertThresholds
	c.floatRange("monitor.alertThresholds.connectionCount", at.ConnectionCount, 1, 100)
	c.durationPositive("monitor.alertThresholds.replicationLag", at.ReplicationLag)
	c.floatRange("monitor.alertThresholds.cacheHitRatio", at.CacheHitRatio, 0, 100)
	c.durationPositive("monitor.alertThresholds.queryResponseTime", at.QueryResponseTime)
	c.floatRange("monitor.alertThresholds.diskUsage", at.DiskUsage, 1, 100)
	c.durationPositive("monitor.alertThresholds.longRunningQuery", at.LongRunningQuery)
	c.durationPositive("monitor.alertThresholds.idleInTransaction", at.IdleInTransaction)
	c.intAtLeast("monitor.alertThresholds.blockedSessions", at.BlockedSessions, 1)
	c.intRange("monitor.alertThresholds.xidAge", at.XIDAge, 1, 2_100_000_000)
	c.intAtLeast("monitor.alertThresholds.deadlocks", at.Deadlocks, 1)
	c.floatAtLeast("monitor.alertThresholds.latencyRegression", at.LatencyRegression, 1)
	c.floatAtLeast("monitor.alertThresholds.claimsIngestRate", at.ClaimsIngestRate, 0)
	c.intAtLeast("monitor.alertThresholds.failedLogins", at.FailedLogins, 1)
	m := p.Monitor
	c.durationPositive("monitor.monitoringInterval", m.MonitoringInterval)
	c.intRange("monitor.retentionPeriod", m.RetentionPeriod, 1, 3650)
	c.timeoutNotNegative("monitor.phiBaselinePeriod", m.PHIBaselinePeriod)
	c.timeoutNotNegative("monitor.refreshMaterializedViews", m.RefreshMaterializedViews)
	c.timeoutNotNegative("monitor.partitionMaintenance", m.PartitionMaintenance)
	c.names("monitor.claimsTables", m.ClaimsTables, 1, 2, `"table" or "schema.table"`)
	for _, r := range m.Rules {
		if _, _, err := ParseRuleOverride(r); err != nil {
			c.fail("monitor.rules", `write "rule.for=30s", "rule.severity=critical" or "rule=off"; `+"`pgmedic monitor --rules` lists the rules",
				"%q: %v", r, err)
		}
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		c.fail("monitor.tlsCert", "set both monitor.tlsCert and monitor.tlsKey, or neither", "only one of tlsCert and tlsKey is set")
	}

	cp := p.ConnectionPool
	c.intRange("connectionPool.minConnections", cp.MinConnections, 0, 10000)
	c.intRange("connectionPool.maxConnections", cp.MaxConnections, 1, 10000)
	if cp.MaxConnections >= 1 && cp.MinConnections > cp.MaxConnections {
		c.fail("connectionPool.minConnections", "make it at most connectionPool.maxConnections",
			"%d is more than maxConnections (%d)", cp.MinConnections, cp.MaxConnections)
	}
	b := p.Backup
	c.durationPositive("backup.rpoTarget", b.RPOTarget)
	c.durationPositive("backup.rtoTarget", b.RTOTarget)
	c.durationPositive("backup.maxVerifiedAge", b.MaxVerifiedAge)
	if b.PgBackRestConfig != "" && b.PgBackRestStanza == "" {
		c.fail("backup.pgbackrestStanza", "name the stanza, e.g. main", "a pgBackRest configuration needs a stanza")
	}

	h := p.Healthcare
	c.names("healthcare.phiTables", h.PHITables, 1, 2, `"table" or "schema.table"`)
	c.names("healthcare.phiColumns", h.PHIColumns, 2, 3, `"table.column" or "schema.table.column"`)
	c.names("healthcare.notPHI", h.NotPHI, 1, 3, `"table", "schema.table", "table.column" or "schema.table.column"`)
	c.names("healthcare.patientTables", h.PatientTables, 1, 2, `"table" or "schema.table"`)
	phi := map[string]bool{}
	for _, s := range append(append([]string{}, h.PHITables...), h.PHIColumns...) {
		phi[strings.ToLower(strings.TrimSpace(s))] = true
	}
	for _, s := range h.NotPHI {
		if phi[strings.ToLower(strings.TrimSpace(s))] {
			c.fail("healthcare.notPHI", "remove it from one of the lists",
				"%q is also listed as PHI (phiTables or phiColumns)", s)
		}
	}
	for _, e := range p.Checks.Thresholds {
		name, value, ok := strings.Cut(e, "=")
		if _, err := strconv.ParseFloat(strings.TrimSpace(value), 64); !ok || strings.Count(name, ".") < 2 || err != nil {
			c.fail("checks.thresholds", "see `pgmedic checks` for check ids and their thresholds",
				"%q must look like check.id.threshold=number", e)
		}
	}
	for _, e := range p.Checks.Severity {
		_, sev, ok := strings.Cut(e, "=")
		switch strings.ToLower(strings.TrimSpace(sev)) {
		case "critical", "high", "medium", "low", "info":
		default:
			ok = false
		}
		if !ok {
			c.fail("checks.severity", "", "%q must look like check.id=severity (critical, high, medium, low or info)", e)
		}
	}
	return errors.Join(c.errs...)
}

// checker collects validation problems for one profile.
type checker struct {
	p    *Profile
	errs []error
}

// fail records a problem with the setting at path (relative to the profile), pointing at
// the file line or environment variable that set it when known.
func (c *checker) fail(path, hint, format string, args ...any) {
	key := path
	if c.p.Name != "" {
		key = "profiles." + c.p.Name + "." + path
	}
	e := &Error{Key: key, Hint: hint}
	if o, ok := c.p.origins[path]; ok {
		e.Key, e.Source, e.Line, e.Env, e.Value = o.key, o.source, o.line, o.env, o.value
	}
	e.Msg = e.Key + ": " + fmt.Sprintf(format, args...)
	c.errs = append(c.errs, e)
}

func (c *checker) intAtLeast(path string, v, lo int) {
	if v < lo {
		c.fail(path, "", "must be at least %d, got %d", lo, v)
	}
}

func (c *checker) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		c.fail(path, "", "must be between %d and %d, got %d", lo, hi, v)
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// floatRange checks lo <= v <= hi; NaN fails every comparison.
func (c *checker) floatRange(path string, v, lo, hi float64) {
	if !(v >= lo) || !(v <= hi) {
		c.fail(path, "", "must be between %s and %s, got %s", fmtFloat(lo), fmtFloat(hi), fmtFloat(v))
	}
}

func (c *checker) floatAtLeast(path string, v, lo float64) {
	if !(v >= lo) || v > 1e300 {
		c.fail(path, "", "must be at least %s and finite, got %s", fmtFloat(lo), fmtFloat(v))
	}
}

func (c *checker) durationPositive(path string, d Duration) {
	if d.Duration <= 0 {
		c.fail(path, "", "must be greater than 0, got %s", d.Duration)
	}
}

// timeoutNotNegative checks a session timeout, which 0 disables.
func (c *checker) timeoutNotNegative(path string, d Duration) {
	if d.Duration < 0 {
		c.fail(path, "", "must not be negative, got %s (0 disables it)", d.Duration)
	}
}

func (c *checker) sizeNotNegative(path string, b ByteSize) {
	if b < 0 {
		c.fail(path, "", "must not be negative, got %d", int64(b))
	}
}

// applicationName mirrors what PostgreSQL keeps: at most 63 bytes of printable ASCII
// (longer names are truncated and other bytes replaced, so pgmedic's own sessions
// would no longer be recognisable).
func (c *checker) applicationName(path, v string) {
	if v == "" {
		c.fail(path, "pgmedic uses the name to recognise and skip its own sessions", "must not be empty")
		return
	}
	if len(v) > 63 {
		c.fail(path, "", "must be at most 63 bytes, got %d", len(v))
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			c.fail(path, "", "%q must be printable ASCII", v)
			return
		}
	}
}

// names checks a list of dotted table or column names with minParts..maxParts parts.
func (c *checker) names(path string, list []string, minParts, maxParts int, shape string) {
	for _, s := range list {
		parts := strings.Split(strings.TrimSpace(s), ".")
		ok := len(parts) >= minParts && len(parts) <= maxParts
		for _, part := range parts {
			if part == "" || strings.ContainsFunc(part, func(r rune) bool { return r <= ' ' }) {
				ok = false
			}
		}
		if !ok {
			c.fail(path, "", "%q is not a valid entry (expected %s)", s, shape)
		}
	}
}

// partitionSizes are the range spans pgmedic partition makes, under either spelling.
var partitionSizes = map[string]bool{"day": true, "week": true, "month": true, "quarter": true, "year": true,
	"daily": true, "weekly": true, "monthly": true, "quarterly": true, "yearly": true}

func (c *checker) partitioner(pt Partitioner) {
	switch pt.Strategy {
	case "range", "hash", "list":
	default:
		c.fail("partitioner.strategy", "use range, hash or list", "%q is not a partitioning strategy", pt.Strategy)
	}
	if !partitionSizes[pt.PartitionSize] {
		c.fail("partitioner.partitionSize", "use day, week, month, quarter or year", "%q is not a partition size", pt.PartitionSize)
	}
	if n := pt.HashPartitions; n < 2 || n > 1024 || n&(n-1) != 0 {
		c.fail("partitioner.hashPartitions", "use a power of two from 2 to 1024, so a partition can later be split by doubling", "%d is not a power of two from 2 to 1024", n)
	}
	c.intRange("partitioner.premake", pt.Premake, 1, 120)
	c.intRange("partitioner.retentionPeriod", pt.RetentionPeriod, 0, 1200)
	c.names("partitioner.legalHolds", pt.LegalHolds, 1, 2, "table, schema.table or schema.partition")
}
