package monitor

import (
	"context"
	"time"
)

// Job is maintenance the monitor runs on a schedule of its own (refreshing materialized
// views, premaking partitions). The monitor itself only reads: a job brings its own
// read-write session and changes databases through the executor.
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// runJobs runs each job now and then every Every, until ctx ends; failures are logged and
// the job runs again at its next turn.
func (m *Monitor) runJobs(ctx context.Context) {
	done := make(chan struct{})
	for _, j := range m.opts.Jobs {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				start := time.Now()
				if err := j.Run(ctx); err != nil && ctx.Err() == nil {
					m.opts.Logger.Warn("monitor: job failed", "job", j.Name, "error", err.Error())
				} else if ctx.Err() == nil {
					m.opts.Logger.Info("monitor: job done", "job", j.Name, "took", time.Since(start).Round(time.Millisecond).String())
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(j.Every):
				}
			}
		}()
	}
	for range m.opts.Jobs {
		<-done
	}
}
