package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/pgconn"
)

// ListenerApplicationName is the application_name of the listener's session.
const ListenerApplicationName = "pgmedic cache listener"

// notification is the trigger's payload: table, key (absent for a whole-table
// change such as TRUNCATE) and the changing transaction's start time.
type notification struct {
	Table string   `json:"t"`
	Key   *string  `json:"k"`
	At    *float64 `json:"at"`
}

// listen keeps a LISTEN session open. Each time it (re)connects it flushes every table
// before serving hits again: notifications sent while it was away are lost.
func (c *Cache) listen(ctx context.Context, ready chan<- struct{}) {
	defer close(c.done)
	signalled := false
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.session(ctx, func() {
			if !signalled {
				close(ready)
				signalled = true
			}
			backoff = 100 * time.Millisecond
		})
		c.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		c.stats.listenerLost.Add(1)
		c.event("listener lost: %v", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session runs one listener connection until it fails.
func (c *Cache) session(ctx context.Context, up func()) error {
	conn, err := pgconn.Connect(ctx, c.o.ListenDSN, c.o.Policy)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+ident.Quote(c.o.Channel)); err != nil {
		return fmt.Errorf("cache: LISTEN: %w", err)
	}
	c.listenerPID.Store(conn.PgConn().PID())
	// Listening first, then flushing: a change committed before LISTEN is covered by
	// the flush, one committed after it by its notification.
	if err := c.flushAll(ctx); err != nil {
		c.redisFailed(err)
	}
	c.listening.Store(true)
	c.event("listening")
	up()
	for {
		// A heartbeat bounds how long a silently lost session (a network partition)
		// goes unnoticed; a terminated backend or a closed socket is noticed at once.
		wctx, cancel := context.WithTimeout(ctx, c.o.Heartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			c.invalidate(ctx, n.Payload)
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, c.o.Heartbeat)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("cache: heartbeat: %w", err)
			}
		default:
			return err
		}
	}
}

func (c *Cache) invalidate(ctx context.Context, payload string) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return
	}
	t := c.tables[n.Table]
	if t == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.o.RedisTimeout)
	defer cancel()
	var err error
	if n.Key == nil {
		err = c.o.Redis.Incr(rctx, c.tableVersionKey(t)).Err()
	} else {
		// The generation outlives every entry written under an older one (they
		// expire within the TTL), so it may expire itself afterwards.
		k := c.keyGenKey(t, hashKey(*n.Key))
		pipe := c.o.Redis.TxPipeline()
		pipe.Incr(rctx, k)
		pipe.Expire(rctx, k, 2*c.maxTTL()+time.Minute)
		_, err = pipe.Exec(rctx)
	}
	if err != nil {
		// A lost invalidation must not be trusted later: Redis is flushed first.
		c.redisFailed(err)
		return
	}
	c.stats.invalidations.Add(1)
	if n.At != nil {
		c.stats.staleness(time.Since(time.Unix(0, int64(*n.At*1e9))))
	}
	c.event("invalidate %s", n.Table)
}

func (c *Cache) maxTTL() time.Duration {
	m := c.o.TTL
	for _, t := range c.tables {
		m = max(m, t.TTL)
	}
	return m
}

// flushAll makes every entry of every table unreachable by moving the tables to a
// new version.
func (c *Cache) flushAll(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, c.o.RedisTimeout)
	defer cancel()
	pipe := c.o.Redis.TxPipeline()
	for _, t := range c.tables {
		pipe.Incr(rctx, c.tableVersionKey(t))
	}
	if _, err := pipe.Exec(rctx); err != nil {
		return fmt.Errorf("cache: flushing: %w", err)
	}
	c.stats.flushes.Add(1)
	c.event("flush %d tables", len(c.tables))
	c.redisOK.Store(true)
	return nil
}

// redisFailed stops using Redis for a while; it is trusted again only after a flush.
func (c *Cache) redisFailed(err error) {
	c.stats.redisErrors.Add(1)
	if c.redisOK.Swap(false) {
		c.event("redis lost: %v", err)
	}
	c.retryAt.Store(time.Now().Add(c.o.RedisBackoff).UnixNano())
}

// redisUsable says whether to use Redis now; after a failure it tries a flush once
// the back-off has passed.
func (c *Cache) redisUsable(ctx context.Context) bool {
	if c.redisOK.Load() {
		return true
	}
	if time.Now().UnixNano() < c.retryAt.Load() {
		return false
	}
	c.retryAt.Store(time.Now().Add(c.o.RedisBackoff).UnixNano())
	if err := c.flushAll(ctx); err != nil {
		c.stats.redisErrors.Add(1)
		return false
	}
	return true
}

// ListenerPID is the backend pid of the listener's session (0 before it starts).
func (c *Cache) ListenerPID() uint32 { return c.listenerPID.Load() }
