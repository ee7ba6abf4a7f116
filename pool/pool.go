package pool

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgmedic/pgmedic/pgconn"
)

// Pools is the set of workload pools over one primary and its replicas. It is safe for
// concurrent use.
type Pools struct {
	cfg      Config
	nodes    []*node // nodes[0] is the primary
	profiles map[Workload]*profile
	order    []*profile // by priority, highest first
	guard    *guard
	m        *metrics
	hist     *history
	rr       atomic.Uint64
	adaptMu  sync.Mutex
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type profile struct {
	Profile
	pools []*pgxpool.Pool // by node; replicas only for read profiles
	gate  *gate
	guard *profileGuard
}

// Open builds the pools, checks every connection string against the TLS policy,
// classifies the primary's tables for the guard (unless Config.PHITables says which),
// opens the reserved profiles' connections, reads the replicas' positions once and
// starts the monitor and the admission loop. Close releases everything.
func Open(ctx context.Context, c Config) (*Pools, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pools{cfg: cfg, profiles: map[Workload]*profile{}, m: newMetrics(),
		hist: &history{max: max(64, int(4*cfg.MaxLag/cfg.CheckInterval))}}
	p.m.p = p
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	if err := p.openNodes(cfg); err != nil {
		return nil, err
	}
	phi := cfg.PHITables
	if phi == nil {
		if phi, err = classifyPHI(ctx, p.nodes[0].mon); err != nil {
			return nil, err
		}
	}
	p.guard = newGuard(phi, cfg.Logger)
	for _, pr := range cfg.Profiles {
		if err := p.openProfile(pr); err != nil {
			return nil, err
		}
	}
	if err := p.warmReserved(ctx); err != nil {
		return nil, err
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(p.m); err != nil {
			return nil, fmt.Errorf("pool: registering metrics: %w", err)
		}
	}
	p.checkNodes(ctx)
	loopCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.monitorLoop(loopCtx)
	go p.adaptLoop(loopCtx)
	ok = true
	return p, nil
}

func (p *Pools) openNodes(cfg Config) error {
	dsns := append([]string{cfg.Primary}, cfg.Replicas...)
	for i, dsn := range dsns {
		n := &node{name: "primary", primary: i == 0, dsn: dsn}
		if i > 0 {
			n.name = fmt.Sprintf("replica%d", i)
		}
		n.state = NodeState{Name: n.name, Primary: n.primary, Healthy: i == 0}
		pc, err := pgconn.ParsePoolConfig(dsn, pgconn.Policy{RequireVerifyFull: true,
			ApplicationName: cfg.ApplicationName + "-monitor", StatementTimeout: 2 * time.Second})
		if err != nil {
			return fmt.Errorf("pool: %s: %w", n.name, err)
		}
		pc.MaxConns, pc.MinConns = 1, 0
		if n.mon, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
			return fmt.Errorf("pool: %s: %w", n.name, err)
		}
		p.nodes = append(p.nodes, n)
	}
	return nil
}

func (p *Pools) openProfile(pr Profile) error {
	prof := &profile{Profile: pr, gate: newGate(pr.MinConns, pr.MaxConns, pr.Reserved),
		guard: &profileGuard{g: p.guard, profile: pr.Name, mode: pr.Guard, m: p.m}}
	for i, n := range p.nodes {
		if i > 0 && pr.Intent != Read {
			prof.pools = append(prof.pools, nil)
			continue
		}
		pc, err := pgconn.ParsePoolConfig(n.dsn, pgconn.Policy{RequireVerifyFull: true,
			ApplicationName: p.cfg.ApplicationName + "-" + string(pr.Name), StatementTimeout: pr.StatementTimeout,
			Write: pr.Intent == Write})
		if err != nil {
			return fmt.Errorf("pool: profile %s on %s: %w", pr.Name, n.name, err)
		}
		pc.MaxConns = pr.MaxConns
		pc.MinConns = 0
		if pr.Reserved && i == 0 {
			pc.MinConns = pr.MaxConns
		}
		// Connections above the admission limit go idle; this closes them.
		pc.MaxConnIdleTime = time.Minute
		pc.ConnConfig.Tracer = prof.guard
		pp, err := pgxpool.NewWithConfig(context.Background(), pc)
		if err != nil {
			return fmt.Errorf("pool: profile %s on %s: %w", pr.Name, n.name, err)
		}
		prof.pools = append(prof.pools, pp)
	}
	p.profiles[pr.Name] = prof
	p.order = append(p.order, prof)
	slices.SortStableFunc(p.order, func(a, b *profile) int { return cmp.Compare(b.Priority, a.Priority) })
	return nil
}

// warmReserved opens every connection of the reserved profiles now, so the server's
// slots are theirs before any other workload can take them.
func (p *Pools) warmReserved(ctx context.Context) error {
	for _, pr := range p.order {
		if !pr.Reserved {
			continue
		}
		var conns []*pgxpool.Conn
		for range pr.MaxConns {
			c, err := pr.pools[0].Acquire(ctx)
			if err != nil {
				for _, c := range conns {
					c.Release()
				}
				return fmt.Errorf("pool: opening the reserved %s connections: %w", pr.Name, err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Release()
		}
	}
	return nil
}

// Close stops the loops and closes every pool. Connections still checked out are
// closed when released.
func (p *Pools) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.cfg.Registerer != nil {
		p.cfg.Registerer.Unregister(p.m)
	}
	for _, pr := range p.profiles {
		for _, pp := range pr.pools {
			if pp != nil {
				pp.Close()
			}
		}
	}
	for _, n := range p.nodes {
		if n.mon != nil {
			n.mon.Close()
		}
	}
}

// Collector returns the pools' metrics, for a registry of the caller's choosing.
func (p *Pools) Collector() prometheus.Collector { return p.m }

// Nodes reports what the pools know of each server, the primary first.
func (p *Pools) Nodes() []NodeState {
	out := make([]NodeState, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = n.snapshot()
	}
	return out
}
