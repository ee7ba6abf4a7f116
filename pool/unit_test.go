package pool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestGateGrowsUnderQueueingAndShrinksWhenIdle(t *testing.T) {
	g := newGate(2, 8, false)
	ctx := context.Background()
	for range 2 {
		if _, err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A third caller queues: the gate is full.
	granted := make(chan struct{})
	go func() {
		if _, err := g.acquire(ctx); err == nil {
			close(granted)
		}
	}()
	for {
		g.mu.Lock()
		n := len(g.waiters)
		g.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st := g.adapt(0, false); st.Limit != 2 {
		t.Fatalf("limit moved with no budget: %+v", st)
	}
	g.adapt(100, false)
	<-granted // the raised limit admits the waiter
	if l, u := g.current(); l != 3 || u != 3 {
		t.Fatalf("after growth: limit %d in use %d, want 3 and 3", l, u)
	}
	for range 3 {
		g.release()
	}
	// Idle rounds shrink it one step at a time, never below the minimum.
	for range 10 {
		g.adapt(100, false)
	}
	if l, _ := g.current(); l != 2 {
		t.Fatalf("idle limit = %d, want the minimum 2", l)
	}
	// A cancelled waiter leaves the queue and takes no slot.
	for range 2 {
		_, _ = g.acquire(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := g.acquire(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full gate: %v", err)
	}
	if _, u := g.current(); u != 2 {
		t.Fatalf("in use after a cancelled wait = %d, want 2", u)
	}
}

func TestReservedGateNeverMoves(t *testing.T) {
	g := newGate(2, 2, true)
	for range 5 {
		g.adapt(100, false)
	}
	if l, _ := g.current(); l != 2 {
		t.Fatalf("reserved limit = %d", l)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tok := Token{LSN: 0x16_B374D848}
	if tok.String() != "16/B374D848" {
		t.Fatalf("String = %s", tok)
	}
	back, err := ParseToken(tok.String())
	if err != nil || back != tok {
		t.Fatalf("ParseToken = %v, %v", back, err)
	}
	if _, err := ParseToken("16-B3"); err == nil {
		t.Fatal("a malformed token parsed")
	}
	if (Token{LSN: 5}).Later(Token{LSN: 9}).LSN != 9 {
		t.Fatal("Later")
	}
}

func TestHistoryLagIsAgeOfTheMissingWrites(t *testing.T) {
	h := &history{max: 100}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.add(t0, 100)
	h.add(t0.Add(time.Second), 200)
	h.add(t0.Add(2*time.Second), 300)
	now := t0.Add(5 * time.Second)
	if got := h.lagOf(300, now); got != 0 {
		t.Fatalf("caught up: lag %v", got)
	}
	// Replay at 150: it lacks what the primary had from t0+1s.
	if got := h.lagOf(150, now); got != 4*time.Second {
		t.Fatalf("lag = %v, want 4s", got)
	}
	// An idle primary does not age a caught-up replica.
	h.add(t0.Add(10*time.Second), 300)
	if got := h.lagOf(300, t0.Add(10*time.Second)); got != 0 {
		t.Fatalf("idle: lag %v", got)
	}
}

func TestGuardClassification(t *testing.T) {
	g := newGuard([]string{"public.patients", "public.claims"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for sql, broad := range map[string]bool{
		"SELECT * FROM patients": true,
		"SELECT first_name FROM public.patients WHERE last_name LIKE $1":                  true,
		"SELECT * FROM patients WHERE id = $1":                                            false,
		"SELECT * FROM patients ORDER BY id LIMIT 20":                                     false,
		"SELECT * FROM patients ORDER BY id LIMIT $1":                                     false,
		"SELECT * FROM patients LIMIT 1000000":                                            true,
		"SELECT * FROM patients LIMIT ALL":                                                true,
		"SELECT count(*) FROM patients":                                                   false,
		"SELECT c.* FROM claims c JOIN patients p ON p.id = c.patient_id":                 true,
		"SELECT c.* FROM claims c JOIN patients p ON p.id = c.patient_id WHERE c.id = $1": false,
		"SELECT * FROM cpt_codes":                                                         false,
		"UPDATE patients SET city = $1 WHERE id = $2":                                     false,
	} {
		if got := g.classify(sql).broad; got != broad {
			t.Errorf("%s: broad = %v, want %v", sql, got, broad)
		}
	}
	// Same fingerprint, different text: one verdict.
	if g.classify("select *   from patients") != g.classify("SELECT * FROM patients") {
		t.Error("texts with one fingerprint got separate verdicts")
	}
}

// BenchmarkGuardCached is the guard's cost per statement once its text has been seen:
// what every query of a guarded profile pays.
func BenchmarkGuardCached(b *testing.B) {
	g := newGuard([]string{"public.patients"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pg := &profileGuard{g: g, profile: PatientRead, mode: GuardReject, m: newMetrics()}
	sql := "SELECT id, first_name, last_name FROM patients WHERE mrn = $1"
	_ = pg.check(sql)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := pg.check(sql); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardFirstSeen is the one-time cost of classifying a new text (parse and
// fingerprint through pg_query).
func BenchmarkGuardFirstSeen(b *testing.B) {
	g := newGuard([]string{"public.patients"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sql := "SELECT id, first_name, last_name FROM patients WHERE mrn = $1"
	for b.Loop() {
		g.classifyNew(sql)
		g.byFP = map[string]*verdict{}
	}
}

func TestCongestionCutsTheCongestedAndLowerProfiles(t *testing.T) {
	mk := func(name Workload, prio int, min, max int32) *profile {
		g := newGate(min, max, false)
		g.limit = max
		return &profile{Profile: Profile{Name: name, Priority: prio, MinConns: min, MaxConns: max}, gate: g}
	}
	read, claims, batch := mk(PatientRead, 80, 2, 10), mk(ClaimsWrite, 60, 2, 10), mk(Batch, 10, 1, 4)
	p := &Pools{cfg: Config{MaxTotal: 24}, order: []*profile{read, claims, batch}}
	hold := func(pr *profile, d time.Duration) {
		for range minHoldSamples {
			_, _ = pr.gate.acquire(context.Background())
			pr.gate.releaseHeld(d)
		}
	}
	for _, pr := range p.order {
		hold(pr, time.Millisecond) // the baseline
	}
	before := p.Adapt()            // idle: every limit shrinks by one (9, 9, 3)
	hold(read, 5*time.Millisecond) // patient reads now take five times as long
	hold(claims, 5*time.Millisecond)
	limits := p.Adapt()
	// Every congested profile and every profile below the most important congested one
	// loses a quarter (at least one): claims and reads were congested, batch is below.
	if limits[PatientRead] != before[PatientRead]-2 || limits[ClaimsWrite] != before[ClaimsWrite]-2 || limits[Batch] != before[Batch]-1 {
		t.Fatalf("after congestion: %v (before %v); want reads -2, claims -2, batch -1", limits, before)
	}
	// A profile above the congested ones keeps its limit: audit-like priority.
	top := mk(Audit, 100, 2, 6)
	p.order = append([]*profile{top}, p.order...)
	hold(top, time.Millisecond)
	p.Adapt()
	topBefore, _ := top.gate.current()
	hold(top, time.Millisecond)
	hold(read, 5*time.Millisecond)
	p.Adapt()
	if l, _ := top.gate.current(); l < topBefore-1 {
		t.Fatalf("an uncongested higher-priority profile was cut: %d → %d", topBefore, l)
	}
	for range 20 {
		hold(read, 5*time.Millisecond)
		p.Adapt()
	}
	if l, _ := batch.gate.current(); l != 1 {
		t.Fatalf("batch limit under lasting congestion = %d, want its minimum 1", l)
	}
}
