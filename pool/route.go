package pool

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/pgconn"
)

// Token is a read-your-writes position: the primary's WAL insert position right after
// a write committed. A read carrying it is served only by a replica that has replayed
// that far. The zero Token asks for nothing.
type Token struct{ LSN uint64 }

// String is PostgreSQL's pg_lsn form ("16/B374D848"), so a token can travel in a
// cookie or header between requests.
func (t Token) String() string { return fmt.Sprintf("%X/%X", t.LSN>>32, uint32(t.LSN)) }

// ParseToken reads a token written by String ("" is the zero token).
func ParseToken(s string) (Token, error) {
	if s == "" {
		return Token{}, nil
	}
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return Token{}, fmt.Errorf("pool: %q is not a WAL position such as 16/B374D848", s)
	}
	return Token{LSN: h<<32 | l}, nil
}

// Later returns the later of two tokens (a session that wrote twice keeps the last).
func (t Token) Later(o Token) Token {
	if o.LSN > t.LSN {
		return o
	}
	return t
}

// node is one server: the primary or a replica, with what the monitor last saw of it.
type node struct {
	name    string // "primary", "replica1" ...
	primary bool
	dsn     string
	mon     *pgxpool.Pool // one connection for positions and health

	mu       sync.Mutex
	state    NodeState
	failures int
}

// NodeState is what the pools know of a server, as Pools.Nodes reports it.
type NodeState struct {
	Name         string        `json:"name"`
	Primary      bool          `json:"primary"`
	Healthy      bool          `json:"healthy"`
	InRecovery   bool          `json:"in_recovery"`
	ReplayLSN    uint64        `json:"replay_lsn"`
	LagBytes     int64         `json:"lag_bytes"`
	Lag          time.Duration `json:"lag_ns"`
	Paused       bool          `json:"paused"`
	BenchedUntil time.Time     `json:"benched_until,omitzero"`
	LastError    string        `json:"last_error,omitempty"`
	Checked      time.Time     `json:"checked,omitzero"`
}

// eligible reports whether the replica may serve a read that needs position want.
func (n *node) eligible(want uint64, now time.Time, maxBytes int64, maxLag time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.state
	if !s.Healthy || !s.InRecovery || s.Paused || now.Before(s.BenchedUntil) {
		return false
	}
	return s.LagBytes <= maxBytes && s.Lag <= maxLag && s.ReplayLSN >= want
}

// bench takes the node out of routing for d, doubling with consecutive failures (up to
// eight times d); the monitor tries it again afterwards.
func (n *node) bench(now time.Time, d time.Duration, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures++
	d *= time.Duration(1 << min(n.failures-1, 3))
	n.state.Healthy = false
	n.state.BenchedUntil = now.Add(d)
	if err != nil {
		n.state.LastError = safeErr(err)
	}
}

func (n *node) snapshot() NodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// observe records a successful position check of a replica: replay is how far it has
// replayed, lag how long ago the primary was there (see history.lagOf).
func (n *node) observe(now time.Time, inRecovery bool, replay, primaryLSN uint64, paused bool, lag time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures = 0
	s := &n.state
	s.Healthy, s.InRecovery, s.ReplayLSN, s.Paused, s.Checked, s.LastError = true, inRecovery, replay, paused, now, ""
	s.BenchedUntil = time.Time{}
	s.LagBytes = 0
	if primaryLSN > replay {
		s.LagBytes = int64(primaryLSN - replay)
	}
	s.Lag = lag
}

// history keeps the primary's WAL position over time, so a replica's lag in time is how
// long ago the primary stood where the replica's replay stands now: a replica that is
// always a little behind under steady writes has a small lag, one whose replay is paused
// or stuck has a lag that grows for as long as the primary writes.
type history struct {
	mu      sync.Mutex
	samples []sample // oldest first
	max     int
}

type sample struct {
	at  time.Time
	lsn uint64
}

func (h *history) add(at time.Time, lsn uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.samples); n > 0 && h.samples[n-1].lsn == lsn {
		// Nothing written: the newest sample's time moves, so an idle primary does not
		// age a replica that has everything.
		h.samples[n-1].at = at
		return
	}
	h.samples = append(h.samples, sample{at, lsn})
	if len(h.samples) > h.max {
		h.samples = h.samples[len(h.samples)-h.max:]
	}
}

// lagOf returns how long ago the primary was last at or before replay.
func (h *history) lagOf(replay uint64, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.samples)
	if n == 0 || h.samples[n-1].lsn <= replay {
		return 0
	}
	for i := n - 1; i >= 0; i-- {
		if h.samples[i].lsn <= replay {
			// The replica has what the primary had at sample i, and lacks what came
			// after it, which the primary had from sample i+1 on.
			return now.Sub(h.samples[i+1].at)
		}
	}
	return now.Sub(h.samples[0].at)
}

// positionSQL reads a replica's state in one round trip.
const positionSQL = pgconn.Marker + `SELECT pg_is_in_recovery(),
	coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, 0)::int8,
	CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() <> 'not paused' ELSE false END`

// check reads a replica's position. It returns the error of a replica that did not
// answer (the caller benches it); a benched replica is left alone until its time is up.
func (n *node) check(ctx context.Context, primaryLSN uint64, h *history) error {
	now := time.Now()
	if s := n.snapshot(); now.Before(s.BenchedUntil) {
		return nil
	}
	var inRec, paused bool
	var replay int64
	if err := n.mon.QueryRow(ctx, positionSQL).Scan(&inRec, &replay, &paused); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	n.observe(now, inRec, uint64(replay), primaryLSN, paused, h.lagOf(uint64(replay), now))
	return nil
}

// currentLSNSQL is the primary's WAL insert position: at or after the end of every
// commit record already made, so a replica that has replayed it has every write the
// caller saw commit.
const currentLSNSQL = pgconn.Marker + `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8`
