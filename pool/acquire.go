package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/internal/pgerr"
)

// ErrAcquireTimeout is returned when the admission gate or the pool had no connection
// for the profile within its AcquireTimeout.
var ErrAcquireTimeout = errors.New("pool: no connection within the profile's acquire timeout")

// Conn is a connection checked out of a profile; Release returns it.
type Conn struct {
	c       *pgxpool.Conn
	since   time.Time // when it was handed out
	prof    *profile
	node    *node
	p       *Pools
	release sync.Once
}

// Raw is the pgx connection. Statements sent on it still pass the guard (as a tracer).
func (c *Conn) Raw() *pgxpool.Conn { return c.c }

// Node names the server the connection is on ("primary", "replica1" ...).
func (c *Conn) Node() string { return c.node.name }

// Release returns the connection to its pool and its slot to the admission gate.
func (c *Conn) Release() {
	c.release.Do(func() {
		c.c.Release()
		c.prof.gate.releaseHeld(time.Since(c.since))
	})
}

// Acquire checks out a connection of workload w. Read profiles get a replica that has
// replayed after and is under the lag bound when there is one, else the primary; write
// profiles always get the primary.
func (p *Pools) Acquire(ctx context.Context, w Workload, after Token) (*Conn, error) {
	return p.acquire(ctx, w, after, false)
}

func (p *Pools) acquire(ctx context.Context, w Workload, after Token, primaryOnly bool) (*Conn, error) {
	pr, ok := p.profiles[w]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownWorkload, w)
	}
	if pr.AcquireTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pr.AcquireTimeout)
		defer cancel()
	}
	start := time.Now()
	if _, err := pr.gate.acquire(ctx); err != nil {
		p.m.rejected.WithLabelValues(string(w), "admission_timeout").Inc()
		return nil, fmt.Errorf("%w (%s, waiting for admission): %w", ErrAcquireTimeout, w, err)
	}
	c, n, err := p.pick(ctx, pr, after, primaryOnly)
	if err != nil {
		pr.gate.release()
		reason := "primary_unavailable"
		if ctx.Err() != nil {
			reason = "pool_timeout"
			err = fmt.Errorf("%w (%s): %w", ErrAcquireTimeout, w, err)
		}
		p.m.rejected.WithLabelValues(string(w), reason).Inc()
		return nil, err
	}
	p.m.acquireWait.WithLabelValues(string(w)).Observe(time.Since(start).Seconds())
	target := "primary"
	if !n.primary {
		target = "replica"
	}
	p.m.routed.WithLabelValues(string(w), target).Inc()
	return &Conn{c: c, prof: pr, node: n, p: p, since: time.Now()}, nil
}

// pick tries the eligible replicas (round robin) and then the primary. A replica that
// fails to give a connection is benched; the request goes on to the next server.
func (p *Pools) pick(ctx context.Context, pr *profile, after Token, primaryOnly bool) (*pgxpool.Conn, *node, error) {
	if pr.Intent == Read && !primaryOnly && len(p.nodes) > 1 {
		now := time.Now()
		start := int(p.rr.Add(1))
		reps := len(p.nodes) - 1
		for k := range reps {
			i := 1 + (start+k)%reps
			n := p.nodes[i]
			if !n.eligible(after.LSN, now, p.cfg.MaxLagBytes, p.cfg.MaxLag) {
				continue
			}
			c, err := acquireWithin(ctx, pr.pools[i], replicaTry)
			if err == nil {
				return c, n, nil
			}
			if ctx.Err() != nil {
				return nil, nil, err
			}
			p.benchNode(n, err)
		}
	}
	c, err := pr.pools[0].Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("pool: %s on the primary: %w", pr.Name, err)
	}
	return c, p.nodes[0], nil
}

// replicaTry bounds how long a replica may take to give a connection (a host that does
// not answer at all would otherwise use up the caller's whole acquire timeout), leaving
// the rest of it for the primary.
const replicaTry = time.Second

func acquireWithin(ctx context.Context, pp *pgxpool.Pool, d time.Duration) (*pgxpool.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return pp.Acquire(c)
}

func (p *Pools) benchNode(n *node, err error) {
	n.bench(time.Now(), p.cfg.BenchFor, err)
	p.m.benched.WithLabelValues(n.name).Inc()
	p.cfg.Logger.Warn("replica benched", "replica", n.name, "error", safeErr(err))
}

// safeErr is an error as it may be logged: SQLSTATE and message without quoted values.
func safeErr(err error) string { return pgerr.Safe(err) }
