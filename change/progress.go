package change

import (
	"context"
	"fmt"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// progressSQL reads one pg_stat_progress_ view for a backend: the phase and how far
// it is, as done and total units.
var progressSQL = map[string]string{
	"create_index": `SELECT phase, CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END,
		CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END FROM pg_stat_progress_create_index WHERE pid = $1`,
	"vacuum":  `SELECT phase, heap_blks_total, heap_blks_scanned FROM pg_stat_progress_vacuum WHERE pid = $1`,
	"analyze": `SELECT phase, sample_blks_total, sample_blks_scanned FROM pg_stat_progress_analyze WHERE pid = $1`,
	"cluster": `SELECT phase, heap_blks_total, heap_blks_scanned FROM pg_stat_progress_cluster WHERE pid = $1`,
}

// watch reports a long step's progress from the watch session until stop is called.
func (e *Executor) watch(ctx context.Context, s finding.Step) (stop func()) {
	query, ok := progressSQL[s.Progress]
	if e.opts.Watch == nil || !ok {
		return func() {}
	}
	pid := int(e.conn.PgConn().PID())
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(e.opts.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				var phase string
				var total, sofar int64
				if err := e.opts.Watch.QueryRow(ctx, policy.Marker+query, pid).Scan(&phase, &total, &sofar); err != nil {
					continue
				}
				msg := fmt.Sprintf("%s: %s", s.Object, phase)
				if total > 0 {
					msg += fmt.Sprintf(", %d%%", 100*sofar/total)
				}
				e.opts.Progress(msg)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
