package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

type counters struct {
	hits, misses, invalidations, flushes, redisErrors, listenerLost atomic.Int64
	bypass                                                          struct {
		phi, listener, redis, unregistered atomic.Int64
	}
	mu                  sync.Mutex
	lastStale, maxStale time.Duration
}

func (c *counters) staleness(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastStale = d
	c.maxStale = max(c.maxStale, d)
}

// Stats are the cache's counters since it started.
type Stats struct {
	Hits          int64 `json:"hits"`
	Misses        int64 `json:"misses"`
	Invalidations int64 `json:"invalidations"`
	Flushes       int64 `json:"flushes"`
	RedisErrors   int64 `json:"redis_errors"`
	ListenerLost  int64 `json:"listener_lost"`
	// Bypasses are requests served by the database without asking Redis: PHI tables
	// (not cached), listener away, Redis away, table not registered.
	BypassPHI          int64 `json:"bypass_phi"`
	BypassListener     int64 `json:"bypass_listener"`
	BypassRedis        int64 `json:"bypass_redis"`
	BypassUnregistered int64 `json:"bypass_unregistered"`
	// Staleness is how long after the changing transaction began its invalidation
	// reached Redis: the window in which the old value could still be served.
	LastStaleness time.Duration `json:"last_staleness_ns"`
	MaxStaleness  time.Duration `json:"max_staleness_ns"`
}

// HitRatio is hits over cache lookups (bypasses excluded); 0 before any lookup.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	s := &c.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Hits: s.hits.Load(), Misses: s.misses.Load(), Invalidations: s.invalidations.Load(),
		Flushes: s.flushes.Load(), RedisErrors: s.redisErrors.Load(), ListenerLost: s.listenerLost.Load(),
		BypassPHI: s.bypass.phi.Load(), BypassListener: s.bypass.listener.Load(), BypassRedis: s.bypass.redis.Load(),
		BypassUnregistered: s.bypass.unregistered.Load(), LastStaleness: s.lastStale, MaxStaleness: s.maxStale}
}
