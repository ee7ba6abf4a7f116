package health

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/snapshot"
)

func sessionChecks() []Check {
	return []Check{
		{
			ID: "connections.saturation", Area: "connections", Severity: finding.High,
			Title:       "Connections near max_connections",
			Description: "Client connections against the connections available to non-superusers; when they run out, new sessions (clinicians' logins, claims intake) fail.",
			Needs:       []string{"activity", "settings"},
			Thresholds: []Threshold{
				{Name: "warn_pct", Unit: "%", Help: "share of usable connections in use",
					FromConfig: func(p *config.Profile) float64 { return p.Monitor.AlertThresholds.ConnectionCount }},
				{Name: "critical_pct", Default: 95, Unit: "%"},
			},
			References: []finding.Reference{finding.DocsRef("runtime-config-connection.html", "Connections and Authentication")},
			Run:        checkConnections,
		},
		{
			ID: "sessions.idle_in_transaction", Area: "sessions", Severity: finding.Medium,
			Title:       "Sessions idle in an open transaction",
			Description: "A session that opened a transaction and went quiet holds its locks and its snapshot, which stops VACUUM from cleaning up after every other session.",
			Needs:       []string{"activity"},
			Thresholds: []Threshold{
				{Name: "min_seconds", Default: 60, Unit: "s", Help: "idle this long before it is reported"},
				{Name: "high_seconds", Default: 600, Unit: "s"},
			},
			References: []finding.Reference{finding.DocsRef("runtime-config-client.html#GUC-IDLE-IN-TRANSACTION-SESSION-TIMEOUT", "idle_in_transaction_session_timeout")},
			Run:        checkIdleInTransaction,
		},
		{
			ID: "sessions.long_running_query", Area: "sessions", Severity: finding.Medium,
			Title:       "Long-running statements",
			Description: "Statements running for longer than the threshold right now.",
			Needs:       []string{"activity"},
			Thresholds: []Threshold{
				{Name: "min_seconds", Default: 60, Unit: "s"},
				{Name: "high_seconds", Default: 600, Unit: "s"},
			},
			References: []finding.Reference{finding.DocsRef("monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW", "pg_stat_activity")},
			Run:        checkLongRunning,
		},
		{
			ID: "sessions.long_transaction", Area: "sessions", Severity: finding.Medium,
			Title:       "Long-running transactions",
			Description: "Transactions open for longer than the threshold hold back the xmin horizon: dead rows pile up in every table until they end.",
			Needs:       []string{"activity"},
			Thresholds: []Threshold{
				{Name: "min_seconds", Default: 900, Unit: "s"},
				{Name: "high_seconds", Default: 3600, Unit: "s"},
			},
			References: []finding.Reference{finding.DocsRef("routine-vacuuming.html", "Routine Vacuuming")},
			Run:        checkLongTransactions,
		},
		{
			ID: "locks.blocking", Area: "locks", Severity: finding.Medium,
			Title:       "Sessions blocked by locks",
			Description: "Sessions waiting for a lock another session holds, grouped by the session at the head of the chain.",
			Needs:       []string{"activity"},
			Thresholds: []Threshold{
				{Name: "min_wait_seconds", Default: 1, Unit: "s"},
				{Name: "high_wait_seconds", Default: 30, Unit: "s"},
			},
			References: []finding.Reference{finding.DocsRef("explicit-locking.html", "Explicit Locking")},
			Run:        checkBlocking,
		},
		{
			ID: "locks.deadlocks", Area: "locks", Severity: finding.Low,
			Title:       "Deadlocks",
			Description: "Deadlocks in this database since its statistics were reset (or between the baseline and this snapshot).",
			Needs:       []string{"databases"},
			Thresholds: []Threshold{
				{Name: "medium_per_hour", Default: 1, Unit: "deadlocks/h"},
			},
			References: []finding.Reference{finding.DocsRef("explicit-locking.html#LOCKING-DEADLOCKS", "Deadlocks")},
			Run:        checkDeadlocks,
		},
	}
}

func clientSessions(s *snapshot.Snapshot) []snapshot.Session {
	var out []snapshot.Session
	for _, x := range s.Sessions {
		if x.BackendType == "client backend" {
			out = append(out, x)
		}
	}
	return out
}

func settingInt(s *snapshot.Snapshot, name string) (int64, bool) {
	st, ok := s.Setting(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(st.Value, 10, 64)
	return v, err == nil
}

func checkConnections(c *Context) []finding.Finding {
	maxConn, ok := settingInt(c.Snap, "max_connections")
	if !ok {
		return []finding.Finding{c.Unknown("", "max_connections is not readable")}
	}
	reserved, _ := settingInt(c.Snap, "superuser_reserved_connections")
	r2, _ := settingInt(c.Snap, "reserved_connections") // PostgreSQL 16+
	usable := maxConn - reserved - r2
	used := int64(len(clientSessions(c.Snap))) + 1 // + pgmedic's own session
	p := pct(float64(used), float64(usable))
	if p < c.T("warn_pct") {
		return nil
	}
	idle := 0
	for _, x := range clientSessions(c.Snap) {
		if x.State == "idle" {
			idle++
		}
	}
	f := c.New("server", fmt.Sprintf("%d of %d usable connections in use (%.0f%%)", used, usable, p))
	if p >= c.T("critical_pct") {
		f.Severity = finding.Critical
	}
	f.Evidence = []finding.Evidence{ev("connections", float64(used), ""), ev("usable", float64(usable), ""),
		ev("used_pct", round1(p), "%"), ev("idle", float64(idle), "")}
	f.Detail = fmt.Sprintf("max_connections is %d with %d reserved for superusers; %d sessions are idle.", maxConn, reserved+r2, idle)
	f.Recommendation = "Put a pooler (PgBouncer in transaction mode, or pgmedic's pool profiles) between the applications and the server rather than raising max_connections: every backend costs memory, and more active backends than cores slows everyone."
	return []finding.Finding{*f}
}

func sessionLabel(x snapshot.Session) string {
	label := x.User + "@" + x.Database
	if x.Application != "" {
		label += " (" + x.Application + ")"
	}
	return label
}

func secondsSince(c *Context, t time.Time) float64 { return c.Now.Sub(t).Seconds() }

func checkIdleInTransaction(c *Context) []finding.Finding {
	type group struct {
		n       int
		longest float64
		pids    []string
		xmin    int64
	}
	groups := map[string]*group{}
	for _, x := range clientSessions(c.Snap) {
		if !strings.HasPrefix(x.State, "idle in transaction") || x.StateChange == nil {
			continue
		}
		idle := secondsSince(c, *x.StateChange)
		if idle < c.T("min_seconds") {
			continue
		}
		key := sessionLabel(x)
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		g.n++
		g.pids = append(g.pids, strconv.Itoa(x.PID))
		if idle > g.longest {
			g.longest = idle
		}
		if x.XminAge != nil && *x.XminAge > g.xmin {
			g.xmin = *x.XminAge
		}
	}
	var out []finding.Finding
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		f := c.New(key, fmt.Sprintf("%d session(s) idle in transaction for up to %s", g.n, durHuman(g.longest)))
		if g.longest >= c.T("high_seconds") {
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("sessions", float64(g.n), ""), ev("longest_idle", round1(g.longest), "s"),
			ev("xmin_age", float64(g.xmin), "transactions")}
		f.Detail = "Backend pids: " + strings.Join(g.pids, ", ") + ". An application opened a transaction and stopped talking; its locks and snapshot stay until it commits, rolls back or is disconnected."
		f.Recommendation = "Fix the code path that leaves transactions open (a missing commit on an error path is the usual cause), and set idle_in_transaction_session_timeout for the role so the server ends such sessions itself. pg_terminate_backend(pid) ends one now."
		user, _, _ := strings.Cut(key, "@")
		f.Fix = &finding.Plan{
			Summary: "End idle transactions of this role automatically after 5 minutes",
			Steps: []finding.Step{{
				Description: "new sessions of the role get the timeout",
				SQL:         fmt.Sprintf("ALTER ROLE %s SET idle_in_transaction_session_timeout = '5min'", quoteIdent(user)),
			}},
		}
		out = append(out, *f)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// statementText finds the normalised text of a running statement by its query id.
func statementText(s *snapshot.Snapshot, queryID *int64) string {
	if queryID == nil || *queryID == 0 {
		return ""
	}
	for _, st := range s.Workload.Statements {
		if st.QueryID == *queryID {
			return st.Query
		}
	}
	return ""
}

func checkLongRunning(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, x := range clientSessions(c.Snap) {
		if x.State != "active" || x.QueryStart == nil {
			continue
		}
		running := secondsSince(c, *x.QueryStart)
		if running < c.T("min_seconds") {
			continue
		}
		object := fmt.Sprintf("pid %d %s", x.PID, sessionLabel(x))
		f := c.New(object, fmt.Sprintf("%s statement running for %s", orWord(x.Command, "A"), durHuman(running)))
		if running >= c.T("high_seconds") {
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("running", round1(running), "s")}
		if text := statementText(c.Snap, x.QueryID); text != "" {
			f.Detail = "Statement: " + display.Shorten(text, 300)
		} else {
			f.Detail = "The statement's text is not in pg_stat_statements (compute_query_id may be off)."
		}
		if x.WaitEventType != "" {
			f.Detail += fmt.Sprintf(" It is waiting on %s/%s.", x.WaitEventType, x.WaitEvent)
		}
		f.Recommendation = fmt.Sprintf("Find out whether it is expected (a report, a migration) or stuck. Set statement_timeout for application roles; pg_cancel_backend(%d) cancels it now.", x.PID)
		out = append(out, *f)
	}
	return out
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkLongTransactions(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, x := range clientSessions(c.Snap) {
		if x.XactStart == nil || strings.HasPrefix(x.State, "idle in transaction") {
			continue // idle ones are reported by sessions.idle_in_transaction
		}
		open := secondsSince(c, *x.XactStart)
		if open < c.T("min_seconds") {
			continue
		}
		f := c.New(fmt.Sprintf("pid %d %s", x.PID, sessionLabel(x)), fmt.Sprintf("Transaction open for %s", durHuman(open)))
		if open >= c.T("high_seconds") {
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("open", round1(open), "s")}
		if x.XminAge != nil {
			f.Evidence = append(f.Evidence, ev("xmin_age", float64(*x.XminAge), "transactions"))
		}
		f.Detail = "While it is open, VACUUM cannot remove rows deleted or updated after it began, in any table."
		f.Recommendation = "Split long batch jobs into shorter transactions; run reports on a replica; set a transaction or statement timeout for the role."
		out = append(out, *f)
	}
	return out
}

func checkBlocking(c *Context) []finding.Finding {
	byPID := map[int]snapshot.Session{}
	for _, x := range c.Snap.Sessions {
		byPID[x.PID] = x
	}
	// Walk each waiter to the head of its chain.
	type chain struct {
		root     snapshot.Session
		waiters  int
		longest  float64
		depth    int
		relation string
	}
	chains := map[int]*chain{}
	for _, x := range c.Snap.Sessions {
		if len(x.BlockedBy) == 0 {
			continue
		}
		wait := 0.0
		if x.StateChange != nil {
			wait = secondsSince(c, *x.StateChange)
		}
		if wait < c.T("min_wait_seconds") {
			continue
		}
		root, depth := x.BlockedBy[0], 1
		seen := map[int]bool{x.PID: true}
		for {
			b, ok := byPID[root]
			if !ok || len(b.BlockedBy) == 0 || seen[root] {
				break
			}
			seen[root] = true
			root = b.BlockedBy[0]
			depth++
		}
		ch := chains[root]
		if ch == nil {
			ch = &chain{root: byPID[root]}
			if ch.root.PID == 0 {
				ch.root.PID = root
			}
			chains[root] = ch
		}
		ch.waiters++
		if wait > ch.longest {
			ch.longest = wait
		}
		if depth > ch.depth {
			ch.depth = depth
		}
		if ch.relation == "" {
			ch.relation = x.WaitingOn
		}
	}
	var roots []int
	for pid := range chains {
		roots = append(roots, pid)
	}
	sort.Ints(roots)
	var out []finding.Finding
	for _, pid := range roots {
		ch := chains[pid]
		object := fmt.Sprintf("pid %d %s", pid, sessionLabel(ch.root))
		title := fmt.Sprintf("%d session(s) waiting on a lock held by pid %d", ch.waiters, pid)
		if ch.relation != "" {
			title += " on " + ch.relation
		}
		f := c.New(object, title)
		if ch.longest >= c.T("high_wait_seconds") || ch.waiters >= 5 {
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("waiting_sessions", float64(ch.waiters), ""), ev("longest_wait", round1(ch.longest), "s"),
			ev("chain_depth", float64(ch.depth), "")}
		state := ch.root.State
		if state == "" {
			state = "unknown state"
		}
		f.Detail = fmt.Sprintf("The session at the head of the chain is %s", state)
		if text := statementText(c.Snap, ch.root.QueryID); text != "" {
			f.Detail += "; its last statement: " + display.Shorten(text, 200)
		}
		f.Detail += "."
		f.Recommendation = fmt.Sprintf("If the holder is idle in a transaction or stuck, end it with pg_terminate_backend(%d). Give DDL and batch jobs a lock_timeout so they fail fast instead of queueing everyone behind them.", pid)
		out = append(out, *f)
	}
	return out
}

func checkDeadlocks(c *Context) []finding.Finding {
	db := c.Snap.ThisDatabase()
	if db == nil {
		return []finding.Finding{c.Unknown("", "the current database's statistics are not readable")}
	}
	count := float64(db.Deadlocks)
	since := c.Snap.Server.StartedAt
	if db.StatsReset != nil {
		since = *db.StatsReset
	}
	window := c.Now.Sub(since).Hours()
	basis := "since the statistics were reset"
	if c.Baseline != nil {
		if prev := c.Baseline.ThisDatabase(); prev != nil && prev.Deadlocks <= db.Deadlocks {
			count = float64(db.Deadlocks - prev.Deadlocks)
			window = c.Snap.CollectedAt.Sub(c.Baseline.CollectedAt).Hours()
			basis = "since the baseline snapshot"
		}
	}
	if count == 0 {
		return nil
	}
	rate := count
	if window > 0 {
		rate = count / window
	}
	f := c.New(db.Name, fmt.Sprintf("%.0f deadlocks %s", count, basis))
	if rate >= c.T("medium_per_hour") {
		f.Severity = finding.Medium
	}
	f.Evidence = []finding.Evidence{ev("deadlocks", count, ""), ev("window", round1(window), "h"), ev("per_hour", round1(rate), "")}
	f.Detail = "Each deadlock rolled back one transaction, which the application had to retry or lost."
	f.Recommendation = "Turn on log_lock_waits and read the deadlock reports in the server log: they name the two statements. Make transactions take locks in the same order (for example, update claims before claim lines everywhere)."
	return []finding.Finding{*f}
}
