package pool

import (
	"context"
	"sync"
	"time"
)

// gate is the admission limit in front of a profile's pools. pgxpool cannot resize, so
// each pool is built at the profile's ceiling and the gate decides how many callers may
// hold a connection at once; connections above the limit go idle and the pool's idle
// reaper closes them.
type gate struct {
	mu       sync.Mutex
	min, max int32
	limit    int32
	inUse    int32
	waiters  []chan struct{}
	// since the last adapt:
	waited     int64         // acquisitions that had to queue
	waitTotal  time.Duration // time they queued
	acquired   int64
	peakInUse  int32
	usageArea  float64 // sum over acquisitions of inUse/limit at grant time
	fixedLimit bool    // reserved profiles never move
	// Hold times (acquire to release) since the last adapt, and the lowest mean seen
	// (drifting up slowly): how long a connection is held when the server is not
	// congested.
	holdTotal time.Duration
	holdCount int64
	baseline  time.Duration
}

func newGate(min, max int32, fixed bool) *gate {
	start := min
	if start < 1 {
		start = 1
	}
	if fixed {
		start = max
	}
	return &gate{min: min, max: max, limit: start, fixedLimit: fixed}
}

// acquire waits for a slot; it returns how long it waited.
func (g *gate) acquire(ctx context.Context) (time.Duration, error) {
	g.mu.Lock()
	if g.inUse < g.limit && len(g.waiters) == 0 {
		g.grantLocked(0)
		g.mu.Unlock()
		return 0, nil
	}
	ch := make(chan struct{})
	g.waiters = append(g.waiters, ch)
	g.mu.Unlock()
	start := time.Now()
	select {
	case <-ch:
		w := time.Since(start)
		g.mu.Lock()
		g.waited++
		g.waitTotal += w
		g.mu.Unlock()
		return w, nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		for i, c := range g.waiters {
			if c == ch {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				g.waited++
				g.waitTotal += time.Since(start)
				return time.Since(start), ctx.Err()
			}
		}
		// Granted while we gave up: hand the slot on.
		g.releaseLocked()
		return time.Since(start), ctx.Err()
	}
}

func (g *gate) grantLocked(_ time.Duration) {
	g.inUse++
	g.acquired++
	if g.inUse > g.peakInUse {
		g.peakInUse = g.inUse
	}
	g.usageArea += float64(g.inUse) / float64(g.limit)
}

func (g *gate) release() {
	g.mu.Lock()
	g.releaseLocked()
	g.mu.Unlock()
}

// releaseHeld returns a slot whose connection was held for hold.
func (g *gate) releaseHeld(hold time.Duration) {
	g.mu.Lock()
	g.holdTotal += hold
	g.holdCount++
	g.releaseLocked()
	g.mu.Unlock()
}

// minHoldSamples: fewer releases in a window say nothing about congestion.
const minHoldSamples = 5

// holdRatio is this window's mean hold time over the baseline (0 when the window has
// too few samples); it updates the baseline and starts a new window.
func (g *gate) holdRatio() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer func() { g.holdTotal, g.holdCount = 0, 0 }()
	if g.holdCount < minHoldSamples {
		return 0
	}
	mean := g.holdTotal / time.Duration(g.holdCount)
	if g.baseline == 0 {
		g.baseline = mean
		return 1
	}
	ratio := float64(mean) / float64(g.baseline)
	// The baseline follows a lower mean at once and a higher one by 2% a window, so a
	// workload that really changed is re-learnt while congestion still shows.
	g.baseline = min(mean, g.baseline+g.baseline/50)
	return ratio
}

func (g *gate) releaseLocked() {
	g.inUse--
	g.wakeLocked()
}

func (g *gate) wakeLocked() {
	for len(g.waiters) > 0 && g.inUse < g.limit {
		ch := g.waiters[0]
		g.waiters = g.waiters[1:]
		g.grantLocked(0)
		close(ch)
	}
}

// gateStats is what adapt saw since the previous call.
type gateStats struct {
	Limit, InUse, Waiting int32
	Waited, Acquired      int64
	AvgWait               time.Duration
	Utilisation           float64 // mean inUse/limit at grant time
}

// waitTarget: queueing longer than this on average means the limit is too low.
const waitTarget = time.Millisecond

// adapt moves the limit: up by a quarter (at least one) when callers queued longer
// than waitTarget on average or the gate ran full; down by one when it stayed under
// half full. budget is how many more connections the shared budget allows this gate to
// take (the pools' owner decides it by priority). cut says a profile of higher priority
// is congested (its hold times doubled): the limit then drops by a quarter, down to
// the minimum, so the server's CPU goes to that profile first. It returns what it saw.
func (g *gate) adapt(budget int32, cut bool) gateStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := gateStats{Limit: g.limit, InUse: g.inUse, Waiting: int32(len(g.waiters)), Waited: g.waited, Acquired: g.acquired}
	if g.waited > 0 {
		st.AvgWait = g.waitTotal / time.Duration(g.waited)
	}
	if g.acquired > 0 {
		st.Utilisation = g.usageArea / float64(g.acquired)
	}
	if cut && !g.fixedLimit {
		g.limit = max(g.limit-max(g.limit/4, 1), max(g.min, 1))
	} else if !g.fixedLimit {
		pressured := (g.waited > 0 && st.AvgWait > waitTarget) || len(g.waiters) > 0
		switch {
		case pressured && g.limit < g.max && budget > 0:
			step := max(g.limit/4, 1)
			g.limit = min(g.limit+min(step, budget), g.max)
			g.wakeLocked()
		case !pressured && g.peakInUse*2 < g.limit && g.limit > max(g.min, 1):
			g.limit--
		}
	}
	g.waited, g.waitTotal, g.acquired, g.usageArea, g.peakInUse = 0, 0, 0, 0, g.inUse
	return st
}

func (g *gate) current() (limit, inUse int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit, g.inUse
}
