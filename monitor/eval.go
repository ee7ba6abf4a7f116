package monitor

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/snapshot"
)

// evalCtx is what a rule sees: the latest samples of one target and its remembered state.
type evalCtx struct {
	now        time.Time
	cur, prev  *Sample
	recent     []*Sample // up to window+1 samples, oldest first, cur last
	th         Thresholds
	interval   time.Duration
	st         *ruleState
	phiWindow  time.Duration
	phiLearn   time.Duration
	target     string
	compliance ComplianceSource
}

func one(value float64, format string, args ...any) []Instance {
	return []Instance{{Labels: map[string]string{}, Value: value, Summary: fmt.Sprintf(format, args...)}}
}

func ruleServerDown(e *evalCtx) []Instance {
	if e.cur.Up {
		return nil
	}
	return one(1, "%s", e.cur.Error)
}

func ruleConnections(e *evalCtx) []Instance {
	pct := e.cur.ConnectionPct()
	if pct < 0 || pct < e.th.ConnectionPct {
		return nil
	}
	return one(pct, "%d client sessions of max_connections %d (%.0f%%, threshold %g%%)",
		e.cur.clientSessions(), e.cur.MaxConnections, pct, e.th.ConnectionPct)
}

// sessionsOver groups client sessions in a state for longer than limit by database.
func sessionsOver(e *evalCtx, limit time.Duration, match func(s snapshot.Session) *time.Time, what string) []Instance {
	type agg struct {
		n       int
		longest time.Duration
		pid     int
		user    string
	}
	by := map[string]*agg{}
	for _, s := range e.cur.Snap.Sessions {
		since := match(s)
		if s.BackendType != "client backend" || s.Application == ApplicationName || since == nil {
			continue
		}
		d := e.cur.Snap.CollectedAt.Sub(*since)
		if d <= limit {
			continue
		}
		a := by[s.Database]
		if a == nil {
			a = &agg{}
			by[s.Database] = a
		}
		a.n++
		if d > a.longest {
			a.longest, a.pid, a.user = d, s.PID, s.User
		}
	}
	var out []Instance
	for db, a := range by {
		out = append(out, Instance{Labels: map[string]string{"datname": db}, Value: a.longest.Seconds(),
			Summary: fmt.Sprintf("%d session(s) %s longer than %s in %s; longest %s (pid %d, role %s)",
				a.n, what, limit, db, a.longest.Round(time.Second), a.pid, a.user)})
	}
	return out
}

func ruleLongRunning(e *evalCtx) []Instance {
	return sessionsOver(e, e.th.LongRunning, func(s snapshot.Session) *time.Time {
		if s.State != "active" {
			return nil
		}
		return s.QueryStart
	}, "running a statement")
}

func ruleIdleInTx(e *evalCtx) []Instance {
	return sessionsOver(e, e.th.IdleInTransaction, func(s snapshot.Session) *time.Time {
		if s.State != "idle in transaction" && s.State != "idle in transaction (aborted)" {
			return nil
		}
		return s.StateChange
	}, "idle in a transaction")
}

func ruleBlocked(e *evalCtx) []Instance {
	n, on, by := 0, "", 0
	for _, s := range e.cur.Snap.Sessions {
		if len(s.BlockedBy) > 0 {
			n++
			if on == "" {
				on, by = s.WaitingOn, s.BlockedBy[0]
			}
		}
	}
	if n == 0 || n < e.th.BlockedSessions {
		return nil
	}
	if on == "" {
		on = "a lock"
	}
	return one(float64(n), "%d session(s) waiting for another session's lock (first: on %s, held by pid %d)", n, on, by)
}

func ruleReplicationLag(e *evalCtx) []Instance {
	r := e.cur.Snap.Replication
	limit := e.th.ReplicationLag.Seconds()
	var out []Instance
	if r.ReplayLagSeconds != nil && *r.ReplayLagSeconds > limit {
		out = append(out, Instance{Labels: map[string]string{"replica": "self"}, Value: *r.ReplayLagSeconds,
			Summary: fmt.Sprintf("this standby replays %.0fs behind its primary (threshold %s)", *r.ReplayLagSeconds, e.th.ReplicationLag)})
	}
	for _, x := range r.Replicas {
		if x.ReplayLagSeconds != nil && *x.ReplayLagSeconds > limit {
			out = append(out, Instance{Labels: map[string]string{"replica": x.Application}, Value: *x.ReplayLagSeconds,
				Summary: fmt.Sprintf("replica %s replays %.0fs behind (threshold %s)", x.Application, *x.ReplayLagSeconds, e.th.ReplicationLag)})
		}
	}
	return out
}

func ruleReplicationBroken(e *evalCtx) []Instance {
	r := e.cur.Snap.Replication
	var out []Instance
	for _, s := range r.Slots {
		switch {
		case s.WALStatus == "lost":
			out = append(out, Instance{Labels: map[string]string{"slot": s.Name}, Value: 1,
				Summary: fmt.Sprintf("replication slot %s lost the WAL its consumer needs", s.Name)})
		case !s.Active && !s.Temporary:
			var retained int64
			if s.RetainedBytes != nil {
				retained = *s.RetainedBytes
			}
			out = append(out, Instance{Labels: map[string]string{"slot": s.Name}, Value: float64(retained),
				Summary: fmt.Sprintf("replication slot %s (%s) has no consumer and retains %d bytes of WAL", s.Name, s.Type, retained)})
		}
	}
	for _, x := range r.Replicas {
		if x.State != "streaming" {
			out = append(out, Instance{Labels: map[string]string{"replica": x.Application}, Value: 1,
				Summary: fmt.Sprintf("replica %s is %s, not streaming", x.Application, x.State)})
		}
	}
	return out
}

func ruleArchiving(e *evalCtx) []Instance {
	a := e.cur.Snap.Archiver
	if a == nil || a.Mode == "off" || a.LastFailedTime == nil {
		return nil
	}
	if a.LastArchivedTime != nil && !a.LastFailedTime.After(*a.LastArchivedTime) {
		return nil
	}
	return one(float64(a.Failed), "archive_command failed %d time(s), last at %s, and has not succeeded since",
		a.Failed, a.LastFailedTime.UTC().Format(time.RFC3339))
}

func ruleXID(e *evalCtx) []Instance {
	var out []Instance
	for _, d := range e.cur.Snap.Databases {
		if d.FrozenXIDAge > e.th.XIDAge {
			out = append(out, Instance{Labels: map[string]string{"datname": d.Name}, Value: float64(d.FrozenXIDAge),
				Summary: fmt.Sprintf("database %s: age(datfrozenxid) %d above %d; VACUUM (FREEZE) its oldest tables", d.Name, d.FrozenXIDAge, e.th.XIDAge)})
		}
	}
	return out
}

func ruleDisk(e *evalCtx) []Instance {
	d := e.cur.Disk
	if d == nil || d.UsedPct < e.th.DiskUsagePct {
		return nil
	}
	return one(d.UsedPct, "the file system of %s is %.1f%% full (%d bytes free; threshold %g%%)", d.Path, d.UsedPct, d.FreeBytes, e.th.DiskUsagePct)
}

func ruleCacheHit(e *evalCtx) []Instance {
	pct, ok := cacheHitPct(e.cur, e.prev)
	if !ok || pct >= e.th.CacheHitPct {
		return nil
	}
	return one(pct, "%.2f%% of block reads hit the buffer cache in the last interval (threshold %g%%)", pct, e.th.CacheHitPct)
}

func ruleDeadlocks(e *evalCtx) []Instance {
	first := firstUp(e.recent)
	if first == nil || first == e.cur {
		return nil
	}
	a, _ := e.cur.totals()
	b, _ := first.totals()
	n := a.deadlocks - b.deadlocks
	if n <= 0 || n < int64(e.th.Deadlocks) {
		return nil
	}
	return one(float64(n), "%d deadlock(s) in the last %s", n, e.cur.At.Sub(first.At).Round(time.Second))
}

func firstUp(ss []*Sample) *Sample {
	for _, s := range ss {
		if s.Up && s.Snap != nil {
			return s
		}
	}
	return nil
}

func ruleClaimsIngest(e *evalCtx) []Instance {
	first := firstUp(e.recent)
	if first == nil || first.Inserts == nil || e.cur.At.Sub(first.At) < time.Duration(window/2)*e.interval {
		return nil
	}
	minutes := e.cur.At.Sub(first.At).Minutes()
	var out []Instance
	for _, name := range e.st.claimsNames {
		now, ok := e.cur.Inserts[name]
		if !ok {
			out = append(out, Instance{Labels: map[string]string{"table": name}, Value: 0,
				Summary: fmt.Sprintf("claims table %s does not exist in %s", name, e.cur.Snap.Server.Database)})
			continue
		}
		rate := float64(now-first.Inserts[name]) / minutes
		if rate < e.th.ClaimsPerMinute {
			out = append(out, Instance{Labels: map[string]string{"table": name}, Value: rate,
				Summary: fmt.Sprintf("%s: %.0f rows a minute inserted over the last %s, under the standard of %g", name, rate,
					e.cur.At.Sub(first.At).Round(time.Second), e.th.ClaimsPerMinute)})
		}
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// complianceDrop is how far under its best the compliance score may fall before the
// alert fires: a check that starts failing typically costs a few points.
const complianceDrop = 5.0

func ruleCompliance(e *evalCtx) []Instance {
	if e.compliance == nil {
		return nil
	}
	score, ok := e.compliance.ComplianceScore(e.target)
	if !ok {
		return nil
	}
	if score > e.st.bestCompliance {
		e.st.bestCompliance = score
	}
	if e.st.bestCompliance-score < complianceDrop {
		return nil
	}
	return one(score, "compliance score %.1f, down from %.1f", score, e.st.bestCompliance)
}

func ruleFailedLogins(e *evalCtx) []Instance {
	by := map[string]int{}
	total := 0
	for _, s := range e.recent {
		for role, n := range s.FailedLogins {
			by[role] += n
			total += n
		}
	}
	if total == 0 || total < e.th.FailedLogins {
		return nil
	}
	roles := make([]string, 0, len(by))
	for r, n := range by {
		roles = append(roles, fmt.Sprintf("%s (%d)", r, n))
	}
	sort.Strings(roles)
	return one(float64(total), "%d refused login(s) in the last %d intervals, as %s", total, window, strings.Join(roles, ", "))
}
