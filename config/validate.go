package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Allowed values of the enumerated settings; functions so that no caller can edit them.
func partitionStrategies() []string { return []string{"range", "list", "hash"} }
func partitionSizes() []string      { return []string{"daily", "weekly", "monthly", "quarterly", "yearly"} }

// Validate checks every constrained setting and returns all problems joined, each an
// *Error naming the key's full path, where its value came from (file line or
// environment variable) and what is allowed.
func (p *Profile) Validate() error {
	c := &checker{p: p}

	cn := p.Connection
	c.durationAtLeast("connection.statementTimeout", cn.StatementTimeout, 0, "0 disables it")
	c.durationAtLeast("connection.lockTimeout", cn.LockTimeout, 0, "0 disables it")
	c.durationAtLeast("connection.idleInTransactionTimeout", cn.IdleInTransactionTimeout, 0, "0 disables it")
	c.applicationName("connection.applicationName", cn.ApplicationName)

	qa := p.QueryAnalyzer
	c.durationPositive("queryAnalyzer.slowQueryThreshold", qa.SlowQueryThreshold)
	c.floatRange("queryAnalyzer.sampleRate", qa.SampleRate, 0, 1, true)
	c.durationPositive("queryAnalyzer.patientResponseTime", qa.PatientResponseTime)
	c.intAtLeast("queryAnalyzer.topStatements", qa.TopStatements, 1)

	io := p.IndexOptimizer
	c.intRange("indexOptimizer.maxIndexesPerTable", io.MaxIndexesPerTable, 1, 64)
	c.floatRange("indexOptimizer.minImprovementPct", io.MinImprovementPct, 0, 100, false)
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

	pt := p.Partitioner
	c.oneOf("partitioner.strategy", pt.Strategy, partitionStrategies())
	c.oneOf("partitioner.partitionSize", pt.PartitionSize, partitionSizes())
	c.intAtLeast("partitioner.retentionPeriod", pt.RetentionPeriod, 1)
	c.intRange("partitioner.premake", pt.Premake, 1, 365)
	c.intRange("partitioner.hashPartitions", pt.HashPartitions, 2, 1024)

	cp := p.ConnectionPool
	c.intAtLeast("connectionPool.minConnections", cp.MinConnections, 0)
	c.intAtLeast("connectionPool.maxConnections", cp.MaxConnections, 1)
	if cp.MaxConnections >= 1 && cp.MinConnections > cp.MaxConnections {
		// Blame whichever of the two was set explicitly, so the message points at a line.
		_, maxSet := p.origins["connectionPool.maxConnections"]
		_, minSet := p.origins["connectionPool.minConnections"]
		if minSet && !maxSet {
			c.fail("connectionPool.minConnections", "lower minConnections or raise maxConnections",
				"must be at most maxConnections (%d), got %d", cp.MaxConnections, cp.MinConnections)
		} else {
			c.fail("connectionPool.maxConnections", "raise maxConnections or lower minConnections",
				"must be at least minConnections (%d), got %d", cp.MinConnections, cp.MaxConnections)
		}
	}
	c.durationPositive("connectionPool.acquireTimeout", cp.AcquireTimeout)

	m := p.Monitor
	c.durationAtLeast("monitor.monitoringInterval", m.MonitoringInterval, time.Second, "")
	c.intAtLeast("monitor.retentionPeriod", m.RetentionPeriod, 1)
	at := m.AlertThresholds
	c.durationPositive("monitor.alertThresholds.queryResponseTime", at.QueryResponseTime)
	c.floatRange("monitor.alertThresholds.connectionCount", at.ConnectionCount, 1, 100, false)
	c.floatRange("monitor.alertThresholds.diskUsage", at.DiskUsage, 1, 100, false)
	c.durationPositive("monitor.alertThresholds.replicationLag", at.ReplicationLag)
	c.floatRange("monitor.alertThresholds.cacheHitRatio", at.CacheHitRatio, 0, 100, false)

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

// floatRange checks lo <= v <= hi (lo < v when loExclusive); NaN fails every comparison.
func (c *checker) floatRange(path string, v, lo, hi float64, loExclusive bool) {
	inLow := v >= lo
	bound := "between " + fmtFloat(lo) + " and " + fmtFloat(hi)
	if loExclusive {
		inLow = v > lo
		bound = "greater than " + fmtFloat(lo) + " and at most " + fmtFloat(hi)
	}
	if !inLow || !(v <= hi) {
		c.fail(path, "", "must be %s, got %s", bound, fmtFloat(v))
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

func (c *checker) durationAtLeast(path string, d Duration, lo time.Duration, note string) {
	if d.Duration < lo {
		msg := fmt.Sprintf("must be at least %s, got %s", lo, d.Duration)
		if lo == 0 {
			msg = fmt.Sprintf("must not be negative, got %s", d.Duration)
		}
		if note != "" {
			msg += " (" + note + ")"
		}
		c.fail(path, "", "%s", msg)
	}
}

func (c *checker) sizeNotNegative(path string, b ByteSize) {
	if b < 0 {
		c.fail(path, "", "must not be negative, got %d", int64(b))
	}
}

func (c *checker) oneOf(path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	hint := ""
	if s := suggest(v, allowed); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	c.fail(path, hint, "%q is not allowed (allowed: %s)", v, strings.Join(allowed, ", "))
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
