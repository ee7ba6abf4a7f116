package monitor

import (
	"github.com/pgmedic/pgmedic/config"

	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity levels of the rules.
const (
	Critical = "critical"
	Warning  = "warning"
	Info     = "info"
)

// Rule is one alert rule: a name, a severity, how long its condition must hold before it
// fires, and a function of the latest samples that returns the instances whose condition
// holds now (one per label set: a database, a slot, a statement).
type Rule struct {
	Name        string
	Severity    string
	Description string
	// For is how long a condition must hold before the alert fires. ForIntervals, when
	// For is zero, expresses it in collection intervals (so a 1 s interval reacts in
	// seconds and a 30 s one in a minute).
	For          time.Duration
	ForIntervals int
	eval         func(e *evalCtx) []Instance
}

// Instance is one label set whose condition holds, with the value that made it.
type Instance struct {
	Labels  map[string]string
	Value   float64
	Summary string
}

// window is how many intervals the event rules (deadlocks, claims ingest, PHI access)
// look back over.
const window = 10

// RuleError is a monitor.rules entry that names no rule.
type RuleError struct{ Msg string }

func (e *RuleError) Error() string { return e.Msg }

// Rules returns the rule table for the thresholds, overrides applied. An override naming
// no rule is an error.
func Rules(th Thresholds, overrides []config.RuleOverride) ([]Rule, error) {
	rules := ruleTable(th)
	for _, o := range overrides {
		i := sort.Search(len(rules), func(i int) bool { return rules[i].Name >= o.Rule })
		if i == len(rules) || rules[i].Name != o.Rule {
			return nil, &RuleError{Msg: fmt.Sprintf("monitor.rules: no rule named %q (rules: %s)", o.Rule, strings.Join(RuleNames(), ", "))}
		}
		switch {
		case o.Off:
			rules = append(rules[:i], rules[i+1:]...)
		case o.For != nil:
			rules[i].For, rules[i].ForIntervals = *o.For, 0
		case o.Severity != "":
			rules[i].Severity = o.Severity
		}
	}
	return rules, nil
}

// RuleNames lists the rules, sorted.
func RuleNames() []string {
	var out []string
	for _, r := range ruleTable(Thresholds{}) {
		out = append(out, r.Name)
	}
	return out
}

// ruleTable is the rules as data, sorted by name.
func ruleTable(th Thresholds) []Rule {
	rules := []Rule{
		{Name: "server_down", Severity: Critical, Description: "the server cannot be reached or does not answer", eval: ruleServerDown},
		{Name: "connections", Severity: Warning, ForIntervals: 2,
			Description: fmt.Sprintf("client sessions above %g%% of max_connections", th.ConnectionPct), eval: ruleConnections},
		{Name: "long_running_query", Severity: Warning,
			Description: fmt.Sprintf("a statement running longer than %s", th.LongRunning), eval: ruleLongRunning},
		{Name: "idle_in_transaction", Severity: Warning,
			Description: fmt.Sprintf("a session idle in a transaction for longer than %s", th.IdleInTransaction), eval: ruleIdleInTx},
		{Name: "blocked_sessions", Severity: Warning, ForIntervals: 2,
			Description: fmt.Sprintf("%d or more sessions waiting for another session's lock", th.BlockedSessions), eval: ruleBlocked},
		{Name: "replication_lag", Severity: Warning, ForIntervals: 2,
			Description: fmt.Sprintf("replay more than %s behind", th.ReplicationLag), eval: ruleReplicationLag},
		{Name: "replication_broken", Severity: Critical, ForIntervals: 2,
			Description: "a replication slot nobody consumes, lost WAL, or a replica not streaming", eval: ruleReplicationBroken},
		{Name: "wal_archiving_failed", Severity: Critical,
			Description: "archive_command failed more recently than it succeeded", eval: ruleArchiving},
		{Name: "xid_wraparound", Severity: Critical,
			Description: fmt.Sprintf("a database's age(datfrozenxid) above %d", th.XIDAge), eval: ruleXID},
		{Name: "disk_usage", Severity: Warning, ForIntervals: 2,
			Description: fmt.Sprintf("the data directory's file system above %g%% full", th.DiskUsagePct), eval: ruleDisk},
		{Name: "cache_hit_ratio", Severity: Warning, ForIntervals: 3,
			Description: fmt.Sprintf("buffer cache hit ratio under %g%% over an interval", th.CacheHitPct), eval: ruleCacheHit},
		{Name: "deadlocks", Severity: Warning,
			Description: fmt.Sprintf("%d or more deadlocks within %d intervals", th.Deadlocks, window), eval: ruleDeadlocks},
		{Name: "statement_slow", Severity: Warning,
			Description: fmt.Sprintf("a statement averaging more than %s over an interval", th.QueryResponse), eval: ruleSlowStatement},
		{Name: "statement_latency_regression", Severity: Warning,
			Description: fmt.Sprintf("a statement's mean above %g times its own baseline", th.LatencyRegression), eval: ruleRegression},
		{Name: "claims_ingest_rate", Severity: Warning,
			Description: fmt.Sprintf("fewer than %g rows a minute inserted into a claims table", th.ClaimsPerMinute), eval: ruleClaimsIngest},
		{Name: "compliance_score_drop", Severity: Warning,
			Description: fmt.Sprintf("the compliance score %g points or more under its best since the monitor started", complianceDrop), eval: ruleCompliance},
		{Name: "failed_logins", Severity: Warning,
			Description: fmt.Sprintf("%d or more refused logins within %d intervals (from the server log, when readable)", th.FailedLogins, window), eval: ruleFailedLogins},
		{Name: "phi_access_unusual", Severity: Critical,
			Description: "a role outside a PHI table's baseline of readers read it", eval: rulePHIAccess},
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	return rules
}

// forDuration is the rule's `for` at the given interval.
func (r Rule) forDuration(interval time.Duration) time.Duration {
	if r.For > 0 || r.ForIntervals == 0 {
		return r.For
	}
	return time.Duration(r.ForIntervals) * interval
}

// labelKey identifies an instance: the rule and its sorted labels.
func labelKey(rule string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(rule)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, labels[k])
	}
	return b.String()
}

// ForText describes the rule's `for` at the interval: "0s", "1m0s (2 intervals)".
func (r Rule) ForText(interval time.Duration) string {
	d := r.forDuration(interval)
	if r.For == 0 && r.ForIntervals > 0 {
		return fmt.Sprintf("%s (%d intervals)", d, r.ForIntervals)
	}
	return d.String()
}
