package monitor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Monitor watches its targets until Run's context ends.
type Monitor struct {
	opts    Options
	rules   []Rule
	targets []*target
	sinks   *dispatcher
	hfile   *historyFile

	mu    sync.RWMutex
	book  *alertBook
	ready chan struct{} // closed after the first collection of every target
}

// New checks the targets' connection strings and the rule overrides; it connects nothing.
func New(dsns []string, opts Options) (*Monitor, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if len(dsns) == 0 {
		return nil, fmt.Errorf("monitor: no target to watch")
	}
	rules, err := Rules(opts.Thresholds, opts.Overrides)
	if err != nil {
		return nil, err
	}
	m := &Monitor{opts: opts, rules: rules, book: newAlertBook(), ready: make(chan struct{})}
	seen := map[string]bool{}
	for _, dsn := range dsns {
		t, err := newTarget(dsn, &m.opts)
		if err != nil {
			return nil, err
		}
		if seen[t.name] {
			return nil, fmt.Errorf("monitor: %s is given twice", t.name)
		}
		seen[t.name] = true
		t.state.claimsNames = qualifyAll(opts.ClaimsTables)
		m.targets = append(m.targets, t)
	}
	if opts.HistoryFile != "" {
		if m.hfile, err = openHistory(opts.HistoryFile, m.targets, m.opts.Retention, time.Now()); err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
	}
	return m, nil
}

func qualifyAll(names []string) []string {
	var out []string
	for _, n := range names {
		if !containsDot(n) {
			n = "public." + n
		}
		out = append(out, n)
	}
	return out
}

func containsDot(s string) bool {
	for _, r := range s {
		if r == '.' {
			return true
		}
	}
	return false
}

// Targets names the watched servers (user@host:port/db, never a password).
func (m *Monitor) Targets() []string {
	out := make([]string, len(m.targets))
	for i, t := range m.targets {
		out[i] = t.name
	}
	return out
}

// RulesInEffect returns the rules after overrides.
func (m *Monitor) RulesInEffect() []Rule { return append([]Rule(nil), m.rules...) }

// Interval is the collection interval.
func (m *Monitor) Interval() time.Duration { return m.opts.Interval }

// Ready is closed once every target has been collected once.
func (m *Monitor) Ready() <-chan struct{} { return m.ready }

// Run collects every target on the interval until ctx ends, then closes the sessions
// and gives the sinks a few seconds to deliver what is queued. It returns nil on a
// clean shutdown.
func (m *Monitor) Run(ctx context.Context) error {
	m.sinks = newDispatcher(m.opts.Sinks, m.opts.Logger)
	var wg sync.WaitGroup
	var once sync.WaitGroup
	once.Add(len(m.targets))
	for _, t := range m.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.loop(ctx, t, once.Done)
		}()
	}
	go func() { once.Wait(); close(m.ready) }()
	wg.Add(2)
	go func() {
		defer wg.Done()
		m.refreshLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		m.runJobs(ctx)
	}()
	wg.Wait()
	m.sinks.close(5 * time.Second)
	m.mu.Lock()
	m.hfile.close()
	m.mu.Unlock()
	m.opts.Logger.Info("monitor: stopped", "targets", len(m.targets))
	return nil
}

// loop collects one target. A collection slower than half the interval doubles the wait
// (up to eight intervals) and says so; a fast one brings it back.
func (m *Monitor) loop(ctx context.Context, t *target, first func()) {
	defer t.close()
	for {
		wait := m.collectOnce(ctx, t)
		if first != nil {
			first()
			first = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (m *Monitor) collectOnce(ctx context.Context, t *target) time.Duration {
	cctx, cancel := context.WithTimeout(ctx, 2*m.opts.Interval+5*time.Second)
	s := t.collect(cctx, time.Now())
	cancel()
	if ctx.Err() != nil {
		return 0
	}
	wait, slow := nextWait(m.opts.Interval, s.Took, t.slow)
	switch {
	case slow > 0:
		m.opts.Logger.Warn("monitor: the server is slow to answer; collecting less often",
			"target", t.name, "took", s.Took.Round(time.Millisecond).String(), "interval", m.opts.Interval.String(), "next_in", wait.String())
	case t.slow > 0:
		m.opts.Logger.Info("monitor: back on schedule", "target", t.name, "interval", m.opts.Interval.String())
	}
	t.slow = slow
	s.Backoff = wait - m.opts.Interval
	if !s.Up {
		m.opts.Logger.Warn("monitor: collection failed", "target", t.name, "error", s.Error)
	}
	m.record(t, s)
	return wait
}

// record stores the sample and evaluates the rules on it.
func (m *Monitor) record(t *target, s *Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := t.cur
	if s.Up {
		t.prev = lastUp(prev, t.prev)
	}
	t.cur = s
	pt := pointOf(s, t.prev)
	t.hist.add(pt)
	m.hfile.append(m, t.name, pt)
	t.recent = append(t.recent, s)
	if len(t.recent) > window+1 {
		t.recent = t.recent[len(t.recent)-window-1:]
	}
	e := &evalCtx{now: s.At, cur: s, prev: t.prev, recent: t.recent, th: m.opts.Thresholds, interval: m.opts.Interval,
		st: &t.state, phiWindow: window * m.opts.Interval, phiLearn: m.opts.PHIBaseline, target: t.name, compliance: m.opts.Compliance}
	var events []Event
	for _, r := range m.rules {
		if !s.Up && r.Name != "server_down" {
			continue // nothing is known; keep what the other rules last said
		}
		events = append(events, m.book.update(t.name, r, r.forDuration(m.opts.Interval), s.At, r.eval(e))...)
	}
	for _, ev := range events {
		m.hfile.appendAlert(m, t.name, ev.Alert)
		m.opts.Logger.Info("monitor: alert "+ev.Alert.State, "alert", ev.Alert.Name, "severity", ev.Alert.Severity,
			"target", t.name, "summary", ev.Alert.Summary)
	}
	if len(events) > 0 && m.sinks != nil {
		m.sinks.send(events, m.book.firingNow())
	}
}

// lastUp is the sample the next one is compared with: the latest that was up.
func lastUp(cur, prev *Sample) *Sample {
	if cur != nil && cur.Up {
		return cur
	}
	return prev
}

// Alerts returns the firing alerts and the recently resolved ones.
func (m *Monitor) Alerts() []Alert {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.book.list()
}

// Latest returns the latest sample of a target (nil before the first collection).
func (m *Monitor) Latest(targetName string) *Sample {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.targets {
		if t.name == targetName {
			return t.cur
		}
	}
	return nil
}

// History returns a target's points, oldest first.
func (m *Monitor) History(targetName string) []Point {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.targets {
		if t.name == targetName {
			return t.hist.list()
		}
	}
	return nil
}

// Compliance is the source of the compliance score (nil when none).
func (m *Monitor) Compliance() ComplianceSource { return m.opts.Compliance }

// maxBackoff caps the slowdown: at most 2^3 = 8 intervals between collections.
const maxBackoff = 3

// nextWait is the backoff: a collection that took more than half the interval doubles
// the wait (up to eight intervals); a quick one restores the interval.
func nextWait(interval, took time.Duration, slow int) (time.Duration, int) {
	if took <= interval/2 {
		return interval, 0
	}
	slow = min(slow+1, maxBackoff)
	return interval << slow, slow
}

// refreshEvery is how often firing alerts are repeated to sinks that want it.
const refreshEvery = time.Minute

func (m *Monitor) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(max(refreshEvery, m.opts.Interval))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			m.mu.RLock()
			firing := m.book.firingNow()
			m.mu.RUnlock()
			m.sinks.refresh(firing)
		}
	}
}
