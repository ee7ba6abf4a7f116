package cache_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgmedic/pgmedic/cache"
)

// An application caches availability slots by id. The triggers come first, installed
// through pgmedic's executor (cache.TriggerPlan); Get then serves from Redis until the
// database says a slot changed.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	slots := cache.Table{Name: "availability_slots", KeyColumn: "id", TTL: 10 * time.Minute}
	c, err := cache.New(ctx, cache.Options{Redis: rdb, ListenDSN: os.Getenv("PGMEDIC_DSN"), Tables: []cache.Table{slots}, Version: "v3"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	v, err := c.Get(ctx, "public.availability_slots", "42", func(ctx context.Context) ([]byte, error) {
		return []byte(`{"id":42,"status":"open"}`), nil // the application's own query
	})
	fmt.Println(string(v), err, c.Stats().HitRatio())
}
