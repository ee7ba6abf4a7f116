package monitor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/pgconn"
)

// Jobs run at start and then on their schedule; one that fails runs again at its turn.
func TestJobsRunOnSchedule(t *testing.T) {
	db := pg.NewDB(t)
	var ok, failing atomic.Int32
	m, err := monitor.New([]string{db.SocketURI}, monitor.Options{Interval: time.Second, Policy: pgconn.Policy{}, Jobs: []monitor.Job{
		{Name: "ok", Every: 100 * time.Millisecond, Run: func(context.Context) error { ok.Add(1); return nil }},
		{Name: "failing", Every: 100 * time.Millisecond, Run: func(context.Context) error { failing.Add(1); return errors.New("no") }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for ok.Load() < 3 || failing.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs ran %d and %d times", ok.Load(), failing.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
