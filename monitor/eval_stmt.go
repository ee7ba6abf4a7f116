package monitor

import (
	"fmt"
	"time"

	"github.com/pgmedic/pgmedic/snapshot"
)

// ruleState is what the rules of one target remember between collections.
type ruleState struct {
	claimsNames []string
	// baselines of statement latency, by statement.
	baselines map[stmtKey]*baseline
	// PHI access: when learning started, the (role, table) pairs seen while learning,
	// and when each pair outside them last read.
	phiStart    time.Time
	phiBaseline map[phiKey]bool
	phiPeak     map[phiKey]int64 // most reads in one interval while learning
	phiUnusual  map[phiKey]time.Time
	phiRate     map[phiKey]time.Time // last read far above the pair's learned peak
	// bestCompliance is the highest compliance score seen.
	bestCompliance float64
}

func newRuleState() ruleState {
	return ruleState{baselines: map[stmtKey]*baseline{}, phiBaseline: map[phiKey]bool{}, phiUnusual: map[phiKey]time.Time{},
		phiPeak: map[phiKey]int64{}, phiRate: map[phiKey]time.Time{}}
}

type stmtKey struct {
	QueryID  int64
	Database string
	User     string
	TopLevel bool
}

type baseline struct {
	meanMs    float64 // of the interval means while not regressed
	n         int
	regressed bool
	lastMs    float64
	lastCalls int64
}

// minBaseline intervals of a statement's own history before it can regress; a statement
// needs regressionMinCalls in an interval for its mean to count; noiseMs keeps a 0.02 ms
// statement taking 0.1 ms from alerting.
const (
	minBaseline        = 3
	regressionMinCalls = 3
	noiseMs            = 1.0
	baselineWeight     = 0.2 // of a new interval in the moving mean, once established
)

// stmtDeltas gives, for each statement in both samples, the calls and time between them.
func stmtDeltas(cur, prev *Sample) map[stmtKey][2]float64 {
	if cur.Snap == nil || prev == nil || prev.Snap == nil || !prev.Up {
		return nil
	}
	key := func(s snapshot.Statement) stmtKey { return stmtKey{s.QueryID, s.Database, s.User, s.TopLevel} }
	before := make(map[stmtKey]snapshot.Statement, len(prev.Snap.Workload.Statements))
	for _, s := range prev.Snap.Workload.Statements {
		before[key(s)] = s
	}
	out := map[stmtKey][2]float64{}
	for _, s := range cur.Snap.Workload.Statements {
		b, ok := before[key(s)]
		if !ok || s.Calls < b.Calls {
			continue
		}
		out[key(s)] = [2]float64{float64(s.Calls - b.Calls), s.TotalExecMs - b.TotalExecMs}
	}
	return out
}

func stmtLabels(k stmtKey) map[string]string {
	return map[string]string{"queryid": itoa(k.QueryID), "datname": k.Database, "user": k.User}
}

func ruleSlowStatement(e *evalCtx) []Instance {
	limit := float64(e.th.QueryResponse.Microseconds()) / 1000
	var out []Instance
	for k, d := range stmtDeltas(e.cur, e.prev) {
		if d[0] == 0 {
			continue
		}
		if mean := d[1] / d[0]; mean > limit {
			out = append(out, Instance{Labels: stmtLabels(k), Value: mean / 1000,
				Summary: fmt.Sprintf("statement %d averaged %.0f ms over %.0f call(s) in the last interval (threshold %s)", k.QueryID, mean, d[0], e.th.QueryResponse)})
		}
	}
	return out
}

// ruleRegression compares each statement's mean over the interval with its own moving
// baseline. A regressed statement stays regressed until an interval with calls shows it
// back under the factor; its baseline does not learn the regression.
func ruleRegression(e *evalCtx) []Instance {
	deltas := stmtDeltas(e.cur, e.prev)
	if deltas == nil {
		return e.st.regressed(e.th.LatencyRegression)
	}
	for k := range e.st.baselines {
		if _, ok := deltas[k]; !ok && !inWorkload(e.cur, k) {
			delete(e.st.baselines, k) // gone from pg_stat_statements
		}
	}
	for k, d := range deltas {
		if d[0] < regressionMinCalls {
			continue
		}
		mean := d[1] / d[0]
		b := e.st.baselines[k]
		if b == nil {
			b = &baseline{}
			e.st.baselines[k] = b
		}
		b.lastMs, b.lastCalls = mean, int64(d[0])
		if b.n >= minBaseline && mean > e.th.LatencyRegression*b.meanMs && mean-b.meanMs > noiseMs {
			b.regressed = true
			continue
		}
		b.regressed = false
		b.n++
		if b.n <= minBaseline {
			b.meanMs += (mean - b.meanMs) / float64(b.n)
		} else {
			b.meanMs += baselineWeight * (mean - b.meanMs)
		}
	}
	return e.st.regressed(e.th.LatencyRegression)
}

func (st *ruleState) regressed(factor float64) []Instance {
	var out []Instance
	for k, b := range st.baselines {
		if b.regressed {
			out = append(out, Instance{Labels: stmtLabels(k), Value: b.lastMs / b.meanMs,
				Summary: fmt.Sprintf("statement %d averaged %.1f ms over %d calls, %.1f times its baseline of %.1f ms (threshold %g times)",
					k.QueryID, b.lastMs, b.lastCalls, b.lastMs/b.meanMs, b.meanMs, factor)})
		}
	}
	return out
}

func inWorkload(s *Sample, k stmtKey) bool {
	for _, x := range s.Snap.Workload.Statements {
		if x.QueryID == k.QueryID && x.Database == k.Database && x.User == k.User && x.TopLevel == k.TopLevel {
			return true
		}
	}
	return false
}

// PHI read rates: a baseline reader reading more than phiRateFactor times its learned
// peak per interval (and at least phiRateMin reads) is unusual too.
const (
	phiRateFactor = 10
	phiRateMin    = 100
)

// rulePHIAccess learns, for phiLearn after the first collection, which roles read each PHI
// table (pg_stat_statements calls of statements naming it) and how many reads an interval
// each makes at most; access pgmedic saw before it started counts as baseline too.
// Afterwards a read by any other role, or a baseline reader far above its peak, raises an
// alert that lasts until that stops for a window of intervals.
func rulePHIAccess(e *evalCtx) []Instance {
	st := e.st
	first := st.phiStart.IsZero()
	if first {
		st.phiStart = e.now
	}
	learning := first || e.now.Sub(st.phiStart) < e.phiLearn
	for k, calls := range e.cur.PHIReads {
		var before int64
		if e.prev != nil && e.prev.PHIReads != nil {
			before = e.prev.PHIReads[k]
		}
		if calls < before {
			before = 0 // statistics were reset
		}
		delta := calls - before
		switch {
		case first && calls > 0:
			st.phiBaseline[k] = true
		case learning && delta > 0:
			st.phiBaseline[k] = true
			st.phiPeak[k] = max(st.phiPeak[k], delta)
		case delta > 0 && !st.phiBaseline[k]:
			st.phiUnusual[k] = e.now
		case delta >= phiRateMin && delta > phiRateFactor*st.phiPeak[k]:
			st.phiRate[k] = e.now
		}
	}
	var out []Instance
	add := func(seen map[phiKey]time.Time, reason, format string) {
		for k, at := range seen {
			if e.now.Sub(at) > e.phiWindow {
				delete(seen, k)
				continue
			}
			out = append(out, Instance{Labels: map[string]string{"role": k.Role, "table": k.Table, "reason": reason}, Value: 1,
				Summary: fmt.Sprintf(format, k.Role, k.Table)})
		}
	}
	add(st.phiUnusual, "new_reader", "role %s read PHI table %s; it is not among the table's usual readers")
	add(st.phiRate, "rate", fmt.Sprintf("role %%s read PHI table %%s more than %d times as often as its usual peak", phiRateFactor))
	return out
}
