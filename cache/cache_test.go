package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/internal/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var slots = Table{Name: "availability_slots", KeyColumn: "id"}

type rig struct {
	db     *pgtest.DB
	pool   *pgxpool.Pool
	redis  *redisServer
	cache  *Cache
	events chan string
	loads  sync.Map // key -> number of database loads
}

func newRig(t *testing.T, mutate func(o *Options)) *rig {
	t.Helper()
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE availability_slots (id int PRIMARY KEY, provider_id int NOT NULL, starts_at timestamptz NOT NULL, status text NOT NULL);
		INSERT INTO availability_slots SELECT i, i % 10, '2026-03-01'::timestamptz + i * interval '15 min', 'open' FROM generate_series(1, 100) i;
		CREATE TABLE patients (patient_id int PRIMARY KEY, first_name text, last_name text, ssn text, date_of_birth date);
		INSERT INTO patients VALUES (1, 'Ada', 'Quinterro', '900-12-3456', '1980-02-03')`)
	ctx := ctxFor(t)
	conn := db.Conn(t)
	run, err := change.New(conn, change.Options{Tool: "cache test"}).Run(ctx, TriggerPlan([]Table{slots, {Name: "patients", KeyColumn: "patient_id"}}, ""))
	if err != nil || run.Failed > 0 {
		t.Fatalf("installing the triggers: %v %+v", err, run)
	}
	r := &rig{db: db, pool: db.Pool(t), redis: startRedis(t), events: make(chan string, 1000)}
	rc := r.redis.client()
	t.Cleanup(func() { rc.Close() })
	o := Options{Redis: rc, ListenDSN: db.SocketURI, Tables: []Table{slots, {Name: "patients", KeyColumn: "patient_id"}},
		Version: "v1", TTL: time.Minute, RedisBackoff: 100 * time.Millisecond,
		OnEvent: func(e string) {
			select {
			case r.events <- e:
			default:
			}
		}}
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r.cache = c
	return r
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// status reads a slot through the cache, counting database loads.
func (r *rig) status(t *testing.T, id int) string {
	t.Helper()
	key := strconv.Itoa(id)
	v, err := r.cache.Get(ctxFor(t), "public.availability_slots", key, func(ctx context.Context) ([]byte, error) {
		n, _ := r.loads.LoadOrStore(key, new(int))
		*n.(*int)++
		var s string
		err := r.pool.QueryRow(ctx, "SELECT status FROM availability_slots WHERE id = $1", id).Scan(&s)
		return []byte(s), err
	})
	if err != nil {
		t.Fatalf("Get %d: %v", id, err)
	}
	return string(v)
}

func (r *rig) loadsOf(id int) int {
	n, ok := r.loads.Load(strconv.Itoa(id))
	if !ok {
		return 0
	}
	return *n.(*int)
}

// drain forgets the events so far.
func (r *rig) drain() {
	for {
		select {
		case <-r.events:
		default:
			return
		}
	}
}

// waitFor waits for an event starting with prefix.
func (r *rig) waitFor(t *testing.T, prefix string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-r.events:
			if strings.HasPrefix(e, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q event", prefix)
		}
	}
}

func TestReadThroughAndInvalidation(t *testing.T) {
	r := newRig(t, nil)
	if got := r.status(t, 7); got != "open" || r.loadsOf(7) != 1 {
		t.Fatalf("first read: %q after %d loads", got, r.loadsOf(7))
	}
	for i := 0; i < 5; i++ {
		r.status(t, 7)
	}
	if r.loadsOf(7) != 1 {
		t.Fatalf("reads after the first must be hits: %d loads", r.loadsOf(7))
	}
	r.status(t, 8)
	r.drain()
	began := time.Now()
	r.db.Exec(t, "UPDATE availability_slots SET status = 'booked' WHERE id = 7")
	r.waitFor(t, "invalidate public.availability_slots")
	took := time.Since(began)
	if got := r.status(t, 7); got != "booked" {
		t.Fatalf("after the update: %q", got)
	}
	// Only the changed key was invalidated.
	r.status(t, 8)
	if r.loadsOf(8) != 1 {
		t.Fatalf("an unchanged key was reloaded: %d loads", r.loadsOf(8))
	}
	// A table in public may be named without its schema.
	if v, err := r.cache.Get(ctxFor(t), "availability_slots", "8", func(ctx context.Context) ([]byte, error) { return []byte("loaded"), nil }); err != nil || string(v) != "open" {
		t.Fatalf("unqualified name: %q %v", v, err)
	}
	// A TRUNCATE flushes the whole table.
	r.db.Exec(t, "TRUNCATE availability_slots")
	r.waitFor(t, "invalidate public.availability_slots")
	v, err := r.cache.Get(ctxFor(t), "public.availability_slots", "8", func(ctx context.Context) ([]byte, error) { return []byte("gone"), nil })
	if err != nil || string(v) != "gone" {
		t.Fatalf("after TRUNCATE the entry must be reloaded: %q %v", v, err)
	}
	st := r.cache.Stats()
	if st.Hits < 6 || st.Invalidations < 2 || st.HitRatio() <= 0.5 || st.MaxStaleness <= 0 {
		t.Fatalf("stats: %+v", st)
	}
	t.Logf("update to invalidation: %s (trigger to Redis %s); hit ratio %.2f", took, st.LastStaleness, st.HitRatio())
}

func TestVersionsAndTTL(t *testing.T) {
	r := newRig(t, nil)
	r.status(t, 3)
	// Entries carry the TTL; no key name holds the key's value.
	keys, err := r.cache.o.Redis.Keys(ctxFor(t), "pgmedic:cache:v:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("want one entry, got %v %v", keys, err)
	}
	ttl, _ := r.cache.o.Redis.TTL(ctxFor(t), keys[0]).Result()
	if ttl <= 0 || ttl > time.Minute {
		t.Fatalf("entry TTL %s, want within the configured minute", ttl)
	}
	if !strings.Contains(keys[0], ":v1:") || strings.HasSuffix(keys[0], ":3") {
		t.Fatalf("key %q must carry the version and not the raw key", keys[0])
	}
	// Another application version does not read v1's entries.
	o2 := r.cache.o
	o2.Version = "v2"
	o2.OnEvent = nil
	c2, err := New(ctxFor(t), o2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	loads := 0
	c2.Get(ctxFor(t), "public.availability_slots", "3", func(ctx context.Context) ([]byte, error) { loads++; return []byte("x"), nil })
	if loads != 1 {
		t.Fatal("v2 read an entry written by v1")
	}
}

// TestRedisAway: Redis hung and then killed; every request is answered from the
// database, none fails, and a change made meanwhile is not served stale afterwards.
func TestRedisAway(t *testing.T) {
	r := newRig(t, nil)
	r.status(t, 5)
	r.status(t, 5)
	r.redis.pause(t)
	for i := 0; i < 5; i++ {
		if got := r.status(t, 5); got != "open" {
			t.Fatalf("with Redis hung: %q", got)
		}
	}
	// Its invalidation cannot reach Redis.
	r.db.Exec(t, "UPDATE availability_slots SET status = 'held' WHERE id = 5")
	if got := r.status(t, 5); got != "held" {
		t.Fatalf("with Redis hung, after the update: %q", got)
	}
	r.redis.resume(t)
	time.Sleep(150 * time.Millisecond) // past the back-off, so the next request tries Redis
	if got := r.status(t, 5); got != "held" {
		t.Fatalf("Redis back: the entry from before the update was served: %q", got)
	}
	if !r.cache.Ready() {
		t.Fatal("Redis answered but the cache does not use it again")
	}
	r.redis.kill(t)
	for i := 0; i < 5; i++ {
		if got := r.status(t, 5); got != "held" {
			t.Fatalf("with Redis gone: %q", got)
		}
	}
	r.redis.restart(t)
	time.Sleep(150 * time.Millisecond)
	r.status(t, 5)
	before := r.loadsOf(5)
	r.status(t, 5)
	if r.loadsOf(5) != before {
		t.Fatal("after Redis came back, entries are not cached again")
	}
	if st := r.cache.Stats(); st.BypassRedis == 0 || st.RedisErrors == 0 {
		t.Fatalf("stats do not show the outage: %+v", st)
	}
}

// TestKilledListener: a change committed while the listener is dead is never served
// stale, and once the listener is back the cache works again.
func TestKilledListener(t *testing.T) {
	r := newRig(t, nil)
	r.status(t, 9)
	r.status(t, 9)
	pid := r.cache.ListenerPID()
	r.drain()
	r.db.Exec(t, "SELECT pg_terminate_backend($1)", int32(pid))
	r.db.Exec(t, "UPDATE availability_slots SET status = 'cancelled' WHERE id = 9")
	if got := r.status(t, 9); got != "cancelled" {
		t.Fatalf("with the listener killed: %q", got)
	}
	r.waitFor(t, "listening")
	if got := r.status(t, 9); got != "cancelled" {
		t.Fatalf("after the listener came back: %q", got)
	}
	before := r.loadsOf(9)
	r.status(t, 9)
	if r.loadsOf(9) != before || r.cache.ListenerPID() == pid {
		t.Fatal("the cache is not used again after the listener came back")
	}
	if st := r.cache.Stats(); st.ListenerLost != 1 || st.Flushes < 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPHI(t *testing.T) {
	r := newRig(t, nil)
	if phi, why := r.cache.PHI("public.patients"); !phi {
		t.Fatalf("patients must be classified as PHI (%s)", why)
	}
	loads := 0
	get := func(c *Cache) []byte {
		v, err := c.Get(ctxFor(t), "public.patients", "1", func(ctx context.Context) ([]byte, error) {
			loads++
			return []byte(`{"last_name":"Quinterro","ssn":"900-12-3456"}`), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	get(r.cache)
	get(r.cache)
	if loads != 2 || r.cache.Stats().BypassPHI != 2 {
		t.Fatalf("PHI must not be cached by default: %d loads", loads)
	}
	key := make([]byte, 32)
	rand.Read(key)
	o := r.cache.o
	o.CachePHI, o.PHIKey, o.OnEvent = true, key, nil
	c2, err := New(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	loads = 0
	first, second := get(c2), get(c2)
	if loads != 1 || !bytes.Equal(first, second) {
		t.Fatalf("with cachePHI the entry must be cached: %d loads", loads)
	}
	keys, _ := c2.o.Redis.Keys(ctxFor(t), "pgmedic:cache:v:*public.patients*").Result()
	for _, k := range keys {
		v, _ := c2.o.Redis.Get(ctxFor(t), k).Bytes()
		if bytes.Contains(v, []byte("Quinterro")) || bytes.Contains(v, []byte("900-12")) {
			t.Fatal("a PHI entry is stored in plaintext")
		}
	}
	if len(keys) == 0 {
		t.Fatal("no PHI entry was stored")
	}
	if _, err := New(ctxFor(t), Options{Redis: o.Redis, ListenDSN: o.ListenDSN, Tables: o.Tables, CachePHI: true}); err == nil {
		t.Fatal("caching PHI without a key must be refused")
	}
}

// TestHeartbeatKeepsTheSession: idle periods longer than the heartbeat neither drop
// the listener nor lose notifications.
func TestHeartbeatKeepsTheSession(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Heartbeat = 50 * time.Millisecond })
	r.status(t, 2)
	time.Sleep(300 * time.Millisecond)
	r.drain()
	r.db.Exec(t, "UPDATE availability_slots SET status = 'booked' WHERE id = 2")
	r.waitFor(t, "invalidate public.availability_slots")
	if got := r.status(t, 2); got != "booked" {
		t.Fatalf("after idle heartbeats: %q", got)
	}
	if st := r.cache.Stats(); st.ListenerLost != 0 {
		t.Fatalf("the heartbeat dropped the session: %+v", st)
	}
}
