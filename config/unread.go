package config

import (
	"fmt"
	"strings"
)

// Keys that earlier versions of pgmedic accepted (and pgmedic.example.yaml showed) but no
// code read. They are rejected, each with what to do instead, rather than reported as
// typos or, worse, accepted and ignored: a setting that changes nothing misleads whoever
// tunes it. When an engine comes to read one, its entry goes and the field comes back
// (with its reader tag) in config.go.

const (
	notBuilt        = "remove it; it is accepted again when an engine reads it"
	monitorAlways   = "`pgmedic monitor` monitors for as long as it runs; remove it"
	sectionNotBuilt = "remove the section; it is accepted again when an engine reads it"
)

// unreadKey is one key or section that no part of pgmedic reads.
type unreadKey struct {
	path    string // relative to a profile: "partitioner" or "queryAnalyzer.sampleRate"
	section bool   // a whole section: every key under it is unread too
	hint    string // what to do instead
}

// unreadKeys lists them; a function so that no caller can change the table.
func unreadKeys() []unreadKey {
	return []unreadKey{
		{path: "queryAnalyzer.sampleRate", hint: "pgmedic analyses the top statements by time; bound the work with queryAnalyzer.topStatements"},
		{path: "queryAnalyzer.enableIndexAnalysis", hint: "index advice is `pgmedic index advise`; switch single rules off with checks.disabled"},
		{path: "indexOptimizer.enableAutoIndexing", hint: "pgmedic builds indexes only when asked: `pgmedic index apply --apply`"},
		{path: "connectionPool.healthcareOptimizations", hint: "the workload profiles are always healthcare ones (`pgmedic pool advise`); " + notBuilt},
		{path: "connectionPool.enableMonitoring", hint: "pool metrics come from the pool library's Prometheus collector; " + notBuilt},
		{path: "connectionPool.enableAutoScaling", hint: "the pool library always adapts its admission limits between the profile's minimum and maximum; " + notBuilt},
		{path: "monitor.enableRealTimeMonitoring", hint: monitorAlways},
		{path: "monitor.enableHealthcareCompliance", hint: "the monitor always watches PHI access; the HIPAA query rules are switched by queryAnalyzer.enableHealthcareCompliance"},
	}
}

// lookupUnread returns the entry for path (relative to a profile), if it has one.
func lookupUnread(path string) (unreadKey, bool) {
	for _, u := range unreadKeys() {
		if u.path == path {
			return u, true
		}
	}
	return unreadKey{}, false
}

// msg says that nothing reads the key, naming it by its last element.
func (u unreadKey) msg() string {
	name := u.path[strings.LastIndex(u.path, ".")+1:]
	if u.section {
		return fmt.Sprintf("no part of this version of pgmedic reads the %s section", name)
	}
	return "no part of this version of pgmedic reads " + name
}

// envName is the PGMEDIC_* variable for the key, or for a section the prefix of its
// variables without the trailing underscore.
func (u unreadKey) envName() string {
	parts := strings.Split(u.path, ".")
	for i, p := range parts {
		parts[i] = upperSnake(p)
	}
	return envPrefix + strings.Join(parts, "_")
}

// matchEnv reports whether the variable name sets the key (or a key of the section), and
// the length of what matched, for the longest-prefix rule. A section matches like a live
// one: PGMEDIC_PARTITIONER_* does, PGMEDIC_PARTITIONER itself does not.
func (u unreadKey) matchEnv(name string) (int, bool) {
	ev := u.envName()
	switch {
	case u.section && strings.HasPrefix(name, ev+"_"):
		return len(ev) + 1, true
	case !u.section && name == ev:
		return len(ev), true
	}
	return 0, false
}
