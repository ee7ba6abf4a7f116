package monitor

import (
	"time"

	"github.com/pgmedic/pgmedic/snapshot"
)

// Sample is one collection from one target.
type Sample struct {
	Target string        `json:"target"`
	At     time.Time     `json:"at"`
	Up     bool          `json:"up"`
	Error  string        `json:"error,omitempty"`
	Took   time.Duration `json:"took"`
	// Backoff is how long the next collection waits beyond the interval because this
	// one was slow (0 when on schedule).
	Backoff time.Duration `json:"backoff"`
	// Snap holds the parts the monitor reads: server, settings, databases, activity,
	// replication, archiver, WAL and the workload (normalised statements only).
	Snap           *snapshot.Snapshot `json:"-"`
	MaxConnections int                `json:"max_connections"`
	Disk           *Disk              `json:"disk,omitempty"`
	// Inserts are n_tup_ins of the configured claims tables.
	Inserts map[string]int64 `json:"-"`
	// PHIReads counts pg_stat_statements calls reading each PHI table, by role.
	PHIReads map[phiKey]int64 `json:"-"`
	// FailedLogins counts refused logins by role since the previous sample, read from
	// the server log (nil when it cannot be read).
	FailedLogins map[string]int `json:"-"`
}

// Disk is the file system that holds the data directory (local servers only).
type Disk struct {
	Path       string  `json:"path"`
	TotalBytes int64   `json:"total_bytes"`
	FreeBytes  int64   `json:"free_bytes"`
	UsedPct    float64 `json:"used_pct"`
}

type phiKey struct{ Role, Table string }

// clientSessions counts client backends, the monitor's own session included (it takes
// a connection slot too).
func (s *Sample) clientSessions() int {
	if s.Snap == nil {
		return 0
	}
	n := 1
	for _, x := range s.Snap.Sessions {
		if x.BackendType == "client backend" {
			n++
		}
	}
	return n
}

// ConnectionPct is client sessions as a percent of max_connections (-1 unknown).
func (s *Sample) ConnectionPct() float64 {
	if s.MaxConnections <= 0 || !s.Up {
		return -1
	}
	return 100 * float64(s.clientSessions()) / float64(s.MaxConnections)
}

// dbTotals sums the database counters of the cluster.
type dbTotals struct {
	commit, rollback, hit, read, deadlocks int64
}

func (s *Sample) totals() (dbTotals, bool) {
	var t dbTotals
	if s == nil || s.Snap == nil || len(s.Snap.Databases) == 0 {
		return t, false
	}
	for _, d := range s.Snap.Databases {
		t.commit += d.XactCommit
		t.rollback += d.XactRollback
		t.hit += d.BlksHit
		t.read += d.BlksRead
		t.deadlocks += d.Deadlocks
	}
	return t, true
}

// Point is the compact record the history keeps for charts.
type Point struct {
	At          time.Time `json:"at"`
	Up          bool      `json:"up"`
	Connections int       `json:"connections"`
	Active      int       `json:"active"`
	IdleInTx    int       `json:"idle_in_transaction"`
	Blocked     int       `json:"blocked"`
	TPS         float64   `json:"tps"`
	CacheHitPct float64   `json:"cache_hit_pct"` // -1: no block access in the interval
	ReplLagSecs float64   `json:"replication_lag_seconds"`
	CollectMs   float64   `json:"collect_ms"`
}

func pointOf(cur, prev *Sample) Point {
	p := Point{At: cur.At, Up: cur.Up, CollectMs: float64(cur.Took.Microseconds()) / 1000, CacheHitPct: -1}
	if !cur.Up || cur.Snap == nil {
		return p
	}
	p.Connections = cur.clientSessions()
	for _, s := range cur.Snap.Sessions {
		switch {
		case s.State == "active":
			p.Active++
		case s.State == "idle in transaction" || s.State == "idle in transaction (aborted)":
			p.IdleInTx++
		}
		if len(s.BlockedBy) > 0 {
			p.Blocked++
		}
	}
	if hit, ok := cacheHitPct(cur, prev); ok {
		p.CacheHitPct = hit
	}
	a, okA := cur.totals()
	b, okB := prev.totals()
	if okA && okB && prev.Up {
		if secs := cur.At.Sub(prev.At).Seconds(); secs > 0 && a.commit >= b.commit {
			p.TPS = float64(a.commit+a.rollback-b.commit-b.rollback) / secs
		}
	}
	p.ReplLagSecs = maxReplicationLag(cur)
	return p
}

// cacheHitPct is the hit percent of the blocks read between two samples; false when
// too few blocks were read to say.
func cacheHitPct(cur, prev *Sample) (float64, bool) {
	a, okA := cur.totals()
	b, okB := prev.totals()
	if !okA || !okB || !prev.Up {
		return 0, false
	}
	hit, read := a.hit-b.hit, a.read-b.read
	if hit < 0 || read < 0 || hit+read < minBlocksForRatio {
		return 0, false
	}
	return 100 * float64(hit) / float64(hit+read), true
}

// minBlocksForRatio: fewer block accesses in an interval say nothing about the cache.
const minBlocksForRatio = 1000

// maxReplicationLag is the standby's replay lag, or the largest replica's on a primary.
func maxReplicationLag(s *Sample) float64 {
	if s.Snap == nil {
		return 0
	}
	r := s.Snap.Replication
	lag := 0.0
	if r.ReplayLagSeconds != nil {
		lag = *r.ReplayLagSeconds
	}
	for _, x := range r.Replicas {
		if x.ReplayLagSeconds != nil && *x.ReplayLagSeconds > lag {
			lag = *x.ReplayLagSeconds
		}
	}
	return lag
}
