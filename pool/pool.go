package pool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgmedic/pgmedic/internal/pgerr"
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

// Read runs fn in a read-only transaction of workload w (a read profile), on a replica
// that has replayed after, or on the primary. When the replica fails under it (the
// connection is lost, the server shuts down), the replica is benched and fn runs again
// on the primary, as it does when the replica cancelled the read for a conflict with
// replay: a read-only transaction is safe to repeat.
func (p *Pools) Read(ctx context.Context, w Workload, after Token, fn func(Tx) error) error {
	c, err := p.Acquire(ctx, w, after)
	if err != nil {
		return err
	}
	err = c.readTx(ctx, fn)
	// Lost: the connection died under the transaction, or the server is shutting down.
	// An error of the application's own leaves the connection open and is returned.
	lost := err != nil && (c.c.Conn().IsClosed() || pgerr.Is(err, pgerr.AdminShutdown, pgerr.CrashShutdown, pgerr.CannotConnectNow))
	// A standby cancels reads that conflict with replay (40001); the primary has none.
	conflict := pgerr.Is(err, pgerr.SerializationFailure)
	c.Release()
	if err == nil || c.node.primary || ctx.Err() != nil || !(lost || conflict) {
		return err
	}
	if lost {
		p.benchNode(c.node, err)
	}
	c, err = p.acquire(ctx, w, after, true)
	if err != nil {
		return err
	}
	defer c.Release()
	return c.readTx(ctx, fn)
}

func (c *Conn) readTx(ctx context.Context, fn func(Tx) error) error {
	return pgx.BeginTxFunc(ctx, c.c, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(Tx{tx: tx, guard: c.prof.guard})
	})
}

// Write runs fn in a transaction of workload w on the primary, commits, and returns the
// token a later read passes to see what fn wrote.
func (p *Pools) Write(ctx context.Context, w Workload, fn func(Tx) error) (Token, error) {
	pr, ok := p.profiles[w]
	if !ok {
		return Token{}, fmt.Errorf("%w: %s", ErrUnknownWorkload, w)
	}
	if pr.Intent != Write {
		return Token{}, fmt.Errorf("pool: profile %s is declared for reads; write through a write profile", w)
	}
	c, err := p.Acquire(ctx, w, Token{})
	if err != nil {
		return Token{}, err
	}
	defer c.Release()
	return c.writeTx(ctx, fn)
}

// writeTx runs fn in a transaction and sends COMMIT and the WAL position query in one
// round trip (two statements in one simple-protocol message): the token costs no extra
// wait.
func (c *Conn) writeTx(ctx context.Context, fn func(Tx) error) (Token, error) {
	conn := c.c.Conn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Token{}, err
	}
	if err := fn(Tx{tx: tx, guard: c.prof.guard}); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return Token{}, err
	}
	res, err := conn.PgConn().Exec(ctx, "COMMIT; "+currentLSNSQL).ReadAll()
	if err != nil {
		return Token{}, fmt.Errorf("pool: committing: %w", err)
	}
	if len(res) != 2 || res[0].CommandTag.String() != "COMMIT" {
		// The server answers ROLLBACK to the COMMIT of a failed transaction.
		return Token{}, pgx.ErrTxCommitRollback
	}
	if len(res[1].Rows) != 1 || len(res[1].Rows[0]) != 1 {
		return Token{}, errors.New("pool: the WAL position query returned no row")
	}
	lsn, err := strconv.ParseInt(string(res[1].Rows[0][0]), 10, 64)
	if err != nil {
		return Token{}, fmt.Errorf("pool: reading the WAL position: %w", err)
	}
	return Token{LSN: uint64(lsn)}, nil
}

// Token reads the primary's WAL insert position on this connection: after a commit on
// it, a read carrying the token sees that commit.
func (c *Conn) Token(ctx context.Context) (Token, error) {
	if !c.node.primary {
		return Token{}, errors.New("pool: a token comes from the primary; this connection is on a replica")
	}
	var lsn int64
	if err := c.c.QueryRow(context.WithValue(ctx, checkedKey{}, true), currentLSNSQL).Scan(&lsn); err != nil {
		return Token{}, fmt.Errorf("pool: reading the WAL position: %w", err)
	}
	return Token{LSN: uint64(lsn)}, nil
}
