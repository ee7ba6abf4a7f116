// Package cache is a read-through cache in Redis for an application's reference data
// and availability slots, kept honest by the database: triggers NOTIFY the table and
// key of every changed row, a listener turns each notification into a new generation
// of that key, and readers only ever find entries of the current generation. While
// the listener or Redis is away the cache is bypassed (requests go to the database and
// none fails), and when either comes back every table is flushed, since changes may
// have gone unseen. Tables that hold PHI are not cached unless the configuration says
// so, and then their values are encrypted.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/pgconn"
)

// Table is one table whose rows the application caches by a key column.
type Table struct {
	Schema    string // default public
	Name      string
	KeyColumn string        // the column the application looks rows up by
	TTL       time.Duration // 0: Options.TTL
}

func (t Table) qualified() string {
	if t.Schema == "" {
		return "public." + t.Name
	}
	return t.Schema + "." + t.Name
}

// Options configure a cache.
type Options struct {
	Redis     redis.UniversalClient
	ListenDSN string        // the database whose triggers notify (a session of its own)
	Policy    pgconn.Policy // session policy of the listener
	Tables    []Table
	Prefix    string        // key prefix (default "pgmedic:cache")
	Version   string        // the application's data-shape version, part of every key
	TTL       time.Duration // default 5 minutes; bounds how long any entry lives
	Channel   string        // NOTIFY channel (default "pgmedic_cache")
	// RedisTimeout bounds every Redis call (default 250ms); after a failure Redis is
	// left alone for RedisBackoff (default 1s) and the database serves.
	RedisTimeout time.Duration
	RedisBackoff time.Duration
	// Heartbeat: the listener checks its session this often when idle (default 5s),
	// which bounds how long a silently lost session goes unnoticed.
	Heartbeat time.Duration
	// Healthcare classifies tables; PHI tables are cached only with CachePHI, and then
	// sealed with PHIKey (32 bytes, AES-256-GCM).
	Healthcare config.Healthcare
	CachePHI   bool
	PHIKey     []byte
	// OnEvent, when set, hears what the cache does ("invalidate public.slots",
	// "listening", "listener lost: ...", "flush 3 tables"); tests wait on it.
	OnEvent func(event string)
}

// Cache is safe for concurrent use.
type Cache struct {
	o      Options
	tables map[string]*tableState
	seal   *sealer

	listening   atomic.Bool  // the listener is connected and has flushed
	redisOK     atomic.Bool  // Redis answered and nothing was missed since
	retryAt     atomic.Int64 // unix nanos: when to try Redis again
	listenerPID atomic.Uint32
	mu          sync.Mutex // serialises flushes
	stats       counters
	cancel      context.CancelFunc
	done        chan struct{}
}

type tableState struct {
	Table
	phi    bool
	reason string
}

// ErrNotReady is returned by New when the listener cannot start.
var ErrNotReady = errors.New("cache: the invalidation listener did not start")

// New classifies the tables, starts the listener and returns once it listens and has
// flushed every table (entries from before it started may be stale).
func New(ctx context.Context, o Options) (*Cache, error) {
	if o.Redis == nil || len(o.Tables) == 0 {
		return nil, errors.New("cache: Redis and at least one table are required")
	}
	if o.Prefix == "" {
		o.Prefix = "pgmedic:cache"
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 250 * time.Millisecond
	}
	if o.RedisBackoff <= 0 {
		o.RedisBackoff = time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.Policy.ApplicationName == "" {
		o.Policy.ApplicationName = ListenerApplicationName
	}
	c := &Cache{o: o, tables: map[string]*tableState{}, done: make(chan struct{})}
	if o.CachePHI {
		s, err := newSealer(o.PHIKey)
		if err != nil {
			return nil, err
		}
		c.seal = s
	}
	if err := c.classify(ctx); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	ready := make(chan struct{})
	go c.listen(lctx, ready)
	select {
	case <-ready:
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("%w: %v", ErrNotReady, ctx.Err())
	}
}

// Close stops the listener.
func (c *Cache) Close() {
	c.cancel()
	<-c.done
}

// Ready reports whether hits are being served: the listener is up and Redis trusted.
func (c *Cache) Ready() bool { return c.listening.Load() && c.redisOK.Load() }

// Get returns the value for key in table: from Redis when an entry of the key's
// current generation is there, else from load, whose result is then stored. Errors of
// Redis never reach the caller; errors of load do.
func (c *Cache) Get(ctx context.Context, table, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	t := c.table(table)
	switch {
	case t == nil:
		c.stats.bypass.unregistered.Add(1)
		return load(ctx)
	case t.phi && c.seal == nil:
		c.stats.bypass.phi.Add(1)
		return load(ctx)
	case !c.listening.Load():
		c.stats.bypass.listener.Add(1)
		return load(ctx)
	case !c.redisUsable(ctx):
		c.stats.bypass.redis.Add(1)
		return load(ctx)
	}
	vk, val, err := c.lookup(ctx, t, key)
	if err == nil && val != nil {
		if t.phi {
			if plain, err := c.seal.open(val, []byte(vk)); err == nil {
				c.stats.hits.Add(1)
				return plain, nil
			}
		} else {
			c.stats.hits.Add(1)
			return val, nil
		}
	}
	c.stats.misses.Add(1)
	fresh, lerr := load(ctx)
	if lerr != nil || err != nil {
		return fresh, lerr
	}
	store := fresh
	if t.phi {
		store = c.seal.seal(fresh, []byte(vk))
	}
	ttl := t.TTL
	if ttl <= 0 {
		ttl = c.o.TTL
	}
	rctx, cancel := context.WithTimeout(ctx, c.o.RedisTimeout)
	defer cancel()
	if err := c.o.Redis.Set(rctx, vk, store, ttl).Err(); err != nil {
		c.redisFailed(err)
	}
	return fresh, nil
}

// table finds a registered table by "schema.name" or, in public, by "name".
func (c *Cache) table(name string) *tableState {
	if t := c.tables[name]; t != nil {
		return t
	}
	return c.tables["public."+name]
}

// lookupScript reads the table's and the key's generations and the entry they name
// in one round trip.
var lookupScript = redis.NewScript(`
local tv = redis.call('GET', KEYS[1]) or '0'
local kg = redis.call('GET', KEYS[2]) or '0'
local vk = ARGV[1] .. tv .. ':' .. kg
return {vk, redis.call('GET', vk)}`)

func (c *Cache) lookup(ctx context.Context, t *tableState, key string) (string, []byte, error) {
	h := hashKey(key)
	rctx, cancel := context.WithTimeout(ctx, c.o.RedisTimeout)
	defer cancel()
	res, err := lookupScript.Run(rctx, c.o.Redis, []string{c.tableVersionKey(t), c.keyGenKey(t, h)}, c.valuePrefix(t, h)).Slice()
	if err != nil {
		c.redisFailed(err)
		return "", nil, err
	}
	vk, _ := res[0].(string)
	if s, ok := res[1].(string); ok {
		return vk, []byte(s), nil
	}
	return vk, nil, nil
}

// Key names never hold the key itself: an identifier such as an MRN stays out of
// Redis' key space.
func hashKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:12])
}

func (c *Cache) tableVersionKey(t *tableState) string {
	return c.o.Prefix + ":tv:" + t.qualified()
}

func (c *Cache) keyGenKey(t *tableState, h string) string {
	return c.o.Prefix + ":kg:" + t.qualified() + ":" + h
}

func (c *Cache) valuePrefix(t *tableState, h string) string {
	return c.o.Prefix + ":v:" + c.o.Version + ":" + t.qualified() + ":" + h + ":"
}

func (c *Cache) event(format string, args ...any) {
	if c.o.OnEvent != nil {
		c.o.OnEvent(fmt.Sprintf(format, args...))
	}
}
