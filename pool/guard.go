package pool

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// GuardError is a statement the profile's guard refused. It names the statement by its
// fingerprint and tables, never by its text or values.
type GuardError struct {
	Profile     Workload
	Fingerprint string
	Tables      []string
	Reason      string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("pool: profile %s refuses a broad read of PHI table %s (%s; statement %s)",
		e.Profile, strings.Join(e.Tables, ", "), e.Reason, e.Fingerprint)
}

// verdict is the guard's classification of one statement, made once per fingerprint.
type verdict struct {
	broad       bool
	fingerprint string
	tables      []string // PHI tables read without a bound
	reason      string
	safeText    string // normalised text, for the one log line
	logged      atomic.Bool
}

// guard classifies statements through PostgreSQL's parser and caches the verdicts by
// text (the hot path: one map read) and by fingerprint (texts that differ only in
// literals or spacing share a verdict).
type guard struct {
	phi    map[string]bool // "schema.table" and bare "table"
	log    *slog.Logger
	mu     sync.RWMutex
	byText map[string]*verdict
	byFP   map[string]*verdict
	parser *sqlparse.Parser
}

// maxCachedTexts bounds the text cache; beyond it the cache starts afresh (workloads
// repeat their statements, so a refill is cheap).
const maxCachedTexts = 20000

func newGuard(phiTables []string, log *slog.Logger) *guard {
	g := &guard{phi: map[string]bool{}, log: log, byText: map[string]*verdict{}, byFP: map[string]*verdict{},
		parser: sqlparse.NewParser(nil, 1)}
	for _, t := range phiTables {
		t = strings.ToLower(t)
		g.phi[t] = true
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			g.phi[t[i+1:]] = true
		}
	}
	return g
}

// classify returns the verdict for sql, from the cache when it has been seen.
func (g *guard) classify(sql string) *verdict {
	g.mu.RLock()
	v, ok := g.byText[sql]
	g.mu.RUnlock()
	if ok {
		return v
	}
	v = g.classifyNew(sql)
	g.mu.Lock()
	if len(g.byText) >= maxCachedTexts {
		g.byText = map[string]*verdict{}
	}
	g.byText[sql] = v
	g.mu.Unlock()
	return v
}

func (g *guard) classifyNew(sql string) *verdict {
	fp, err := sqlparse.Fingerprint(sql)
	if err != nil {
		// Not parseable here: the server will say so; nothing to classify.
		return &verdict{}
	}
	g.mu.RLock()
	v, ok := g.byFP[fp]
	g.mu.RUnlock()
	if ok {
		return v
	}
	v = &verdict{fingerprint: fp}
	if st, err := g.parser.Parse(sql); err == nil {
		v.tables, v.reason = g.broadPHI(st)
		v.broad = len(v.tables) > 0
		if v.broad {
			v.safeText = sqlparse.SafeText(sql, 200)
		}
	}
	g.mu.Lock()
	g.byFP[fp] = v
	g.mu.Unlock()
	return v
}

// broadPHI names the PHI tables a SELECT reads without a bound. A read is bounded by
// a LIMIT, by an equality (or IN-list) predicate on a parameter or constant (a lookup
// by key), or by being a single-row aggregate; anything else can return the whole table.
func (g *guard) broadPHI(st *sqlparse.Statement) (tables []string, reason string) {
	if st.Kind != sqlparse.Select {
		return nil, ""
	}
	var phi []string
	for _, t := range st.Tables {
		if t.CTE {
			continue
		}
		if g.phi[strings.ToLower(t.Qualified())] || g.phi[strings.ToLower(t.Name)] {
			phi = append(phi, t.Qualified())
		}
	}
	if len(phi) == 0 {
		return nil, ""
	}
	// A LIMIT bounds the read unless it is ALL or a constant above broadLimit (a
	// parameter is taken at its word: the application pages).
	limited := st.Limit != nil && !st.Limit.All && (st.Limit.Param > 0 || st.Limit.Value <= broadLimit)
	oneRow := st.Aggregates && len(st.GroupBy) == 0
	if limited || oneRow || hasLookup(st) {
		return nil, ""
	}
	reason = "no LIMIT of at most 1000 rows and no key lookup"
	if !st.HasWhere {
		reason = "no WHERE clause and no LIMIT of at most 1000 rows"
	}
	return phi, reason
}

func hasLookup(st *sqlparse.Statement) bool {
	for _, p := range st.Predicates {
		if p.Negated || p.InOr {
			continue
		}
		eq := p.Op == "=" || p.Op == "IN" || p.Op == "ANY"
		if eq && (p.Value == sqlparse.ValParam || p.Value == sqlparse.ValConst || p.Value == sqlparse.ValList) {
			return true
		}
	}
	return false
}

// broadLimit: a LIMIT above this many rows is an export, not a page.
const broadLimit = 1000

// profileGuard is the guard as one profile applies it: a pgx tracer on the profile's
// connections.
type profileGuard struct {
	g       *guard
	profile Workload
	mode    GuardMode
	m       *metrics
}

type checkedKey struct{}

// check applies the profile's mode to sql: nil, or a *GuardError in reject mode.
func (p *profileGuard) check(sql string) error {
	if p.mode == GuardOff || p.mode == "" {
		return nil
	}
	v := p.g.classify(sql)
	if !v.broad {
		return nil
	}
	p.m.guarded.WithLabelValues(string(p.profile), string(p.mode)).Inc()
	if v.logged.CompareAndSwap(false, true) {
		// Once per fingerprint and the normalised text only: never the arguments.
		p.g.log.Warn("broad read of PHI table", "profile", p.profile, "action", p.mode,
			"tables", v.tables, "reason", v.reason, "fingerprint", v.fingerprint, "statement", v.safeText)
	}
	if p.mode == GuardReject {
		return &GuardError{Profile: p.profile, Fingerprint: v.fingerprint, Tables: v.tables, Reason: v.reason}
	}
	return nil
}

// TraceQueryStart enforces the guard on statements sent through the raw pgx connection
// (Tx.Raw, Conn.Raw): a refused statement gets an already-cancelled context, so pgx
// returns before anything reaches the server. Statements that came through Tx and Conn
// were checked there and carry a marker.
func (p *profileGuard) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if ctx.Value(checkedKey{}) != nil {
		return ctx
	}
	if err := p.check(data.SQL); err != nil {
		c, cancel := context.WithCancelCause(ctx)
		cancel(err)
		return c
	}
	return ctx
}

// TraceQueryEnd is required by pgx.QueryTracer; the guard has nothing to do after a
// statement (and logs nothing about its arguments or results).
func (p *profileGuard) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
