package pool

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// AdviseOptions tune the sizing.
type AdviseOptions struct {
	// Profiles to size (default DefaultProfiles()).
	Profiles []Profile
	// CPUs is the server's core count; 0 takes the snapshot's host (known when the
	// server is local), else the active-connection target is left out.
	CPUs int
	// MaxConnections caps the connections of all profiles together (per instance) and
	// MinConnections is how many of them are kept open, shared among the profiles by
	// their load (0: no bound), from connectionPool.maxConnections / minConnections.
	MinConnections, MaxConnections int
	// Instances is how many application instances share the server (default 1): the
	// connection ceiling is divided among them.
	Instances int
	// OpsHeadroom is kept free for administrators, monitoring and migrations (default 5).
	OpsHeadroom int
}

// Advice is the sizing of each profile and what it rests on.
type Advice struct {
	Source   string          `json:"source"`   // where throughput came from
	WindowS  float64         `json:"window_s"` // seconds of workload observed
	Server   ServerCapacity  `json:"server"`
	Profiles []ProfileAdvice `json:"profiles"`
	Notes    []string        `json:"notes,omitempty"`
}

// ServerCapacity is what the server can run.
type ServerCapacity struct {
	MaxConnections    int `json:"max_connections"`
	SuperuserReserved int `json:"superuser_reserved_connections"`
	Reserved          int `json:"reserved_connections"`
	OpsHeadroom       int `json:"ops_headroom"`
	// Ceiling is the connections the application may open in total (per instance):
	// what the server allows, or connectionPool.maxConnections when that is lower.
	Ceiling        int  `json:"ceiling"`
	ServerCeiling  int  `json:"server_ceiling"`
	CappedByConfig bool `json:"capped_by_config,omitempty"`
	// Cores and ActiveTarget (2 × cores + 1): how many connections can usefully run at
	// once; 0 when the core count is unknown.
	Cores        int `json:"cores,omitempty"`
	ActiveTarget int `json:"active_target,omitempty"`
}

// ProfileAdvice sizes one profile by Little's law: busy connections L = λ × W, with λ
// the statements per second and W the mean time each holds a connection, then
// square-root staffing (L + 2√L) for the variation around the mean.
type ProfileAdvice struct {
	Name          Workload `json:"name"`
	Intent        Intent   `json:"intent"`
	PoolMode      string   `json:"pool_mode"` // for PgBouncer
	Statements    int      `json:"statements"`
	Calls         int64    `json:"calls"`
	PerSecond     float64  `json:"per_second"`
	MeanHoldMs    float64  `json:"mean_hold_ms"`
	Busy          float64  `json:"busy"` // L
	Size          int      `json:"size"`
	MinConns      int      `json:"min_conns"`
	StatementTime int64    `json:"statement_timeout_ms"`
	Reserved      bool     `json:"reserved,omitempty"`
	Reason        string   `json:"reason"`
}

// Advise collects a snapshot through q (a read-only session) and sizes the profiles.
func Advise(ctx context.Context, q snapshot.Querier, local bool, opts AdviseOptions) (*Advice, error) {
	snap, err := snapshot.Collect(ctx, q, snapshot.Options{Tool: "pgmedic pool advise", Local: local, CPUs: opts.CPUs, MaxStatements: 5000})
	if err != nil {
		return nil, err
	}
	return AdviseSnapshot(snap, opts)
}

// AdviseSnapshot sizes the profiles from a snapshot's pg_stat_statements, averaged
// since its statistics were reset (or the server started).
func AdviseSnapshot(snap *snapshot.Snapshot, opts AdviseOptions) (*Advice, error) {
	if !snap.Workload.Available {
		return nil, fmt.Errorf("pool: no workload to size from: %s", snap.Workload.Reason)
	}
	if opts.Profiles == nil {
		opts.Profiles = DefaultProfiles()
	}
	if opts.Instances <= 0 {
		opts.Instances = 1
	}
	if opts.OpsHeadroom <= 0 {
		opts.OpsHeadroom = 5
	}
	adv := &Advice{Server: capacity(snap, opts)}
	since, what := snap.Server.StartedAt, "server start"
	if snap.Workload.StatsSince != nil {
		since, what = *snap.Workload.StatsSince, "pg_stat_statements reset"
	}
	adv.WindowS = snap.CollectedAt.Sub(since).Seconds()
	adv.Source = fmt.Sprintf("pg_stat_statements since %s (%s, %.0fs)", what, since.UTC().Format(time.RFC3339), adv.WindowS)
	if adv.WindowS < 1 {
		return nil, fmt.Errorf("pool: the statistics cover %.1fs, too little to size from", adv.WindowS)
	}
	byProfile := assign(snap, opts.Profiles)
	for _, p := range opts.Profiles {
		adv.Profiles = append(adv.Profiles, size(p, byProfile[p.Name], adv.WindowS, opts))
	}
	adv.fit(opts)
	adv.keepOpen(opts.MinConnections)
	return adv, nil
}

func capacity(snap *snapshot.Snapshot, opts AdviseOptions) ServerCapacity {
	setting := func(name string) int {
		if s, ok := snap.Setting(name); ok {
			n, _ := strconv.Atoi(s.Value)
			return n
		}
		return 0
	}
	c := ServerCapacity{MaxConnections: setting("max_connections"), SuperuserReserved: setting("superuser_reserved_connections"),
		Reserved: setting("reserved_connections"), OpsHeadroom: opts.OpsHeadroom}
	c.Ceiling = max((c.MaxConnections-c.SuperuserReserved-c.Reserved-c.OpsHeadroom)/opts.Instances, 1)
	c.ServerCeiling = c.Ceiling
	if opts.MaxConnections > 0 && opts.MaxConnections < c.Ceiling {
		c.Ceiling, c.CappedByConfig = opts.MaxConnections, true
	}
	c.Cores = opts.CPUs
	if c.Cores == 0 && snap.Host != nil {
		c.Cores = snap.Host.CPUs
	}
	if c.Cores > 0 {
		c.ActiveTarget = 2*c.Cores + 1
	}
	return c
}

// load is the statements assigned to one profile.
type load struct {
	statements int
	calls      int64
	execMs     float64
}

// assign gives each statement to a profile: by the role that ran it when a role is
// named after a profile (the PgBouncer set-up makes one per profile), else by what the
// statement does. pgmedic's own statements and other databases' are left out.
func assign(snap *snapshot.Snapshot, profiles []Profile) map[Workload]*load {
	out := map[Workload]*load{}
	names := map[string]bool{}
	for _, p := range profiles {
		out[p.Name] = &load{}
		names[string(p.Name)] = true
	}
	for _, st := range snap.Workload.Statements {
		// Only this database's statements: its pools serve no other.
		if strings.HasPrefix(st.Query, strings.TrimSpace(pgconn.Marker)) || st.Calls == 0 ||
			(st.Database != "" && st.Database != snap.Server.Database) {
			continue
		}
		w := Workload(st.User)
		if !names[st.User] {
			w = classifyStatement(st)
		}
		l, ok := out[w]
		if !ok {
			continue
		}
		l.statements++
		l.calls += st.Calls
		l.execMs += st.TotalExecMs
	}
	return out
}

// classifyStatement names the default profile a statement belongs to: writes to audit
// tables are audit, bulk writes and maintenance are batch, other writes claims; reads
// that aggregate or run long are reporting, other reads patient reads.
func classifyStatement(st snapshot.Statement) Workload {
	parsed, err := sqlparse.NewParser(nil, 1).Parse(st.Query)
	if err != nil {
		return Batch
	}
	rowsPerCall := float64(st.Rows) / float64(st.Calls)
	switch parsed.Kind {
	case sqlparse.Select:
		if (parsed.Aggregates && len(parsed.GroupBy) > 0) || st.MeanExecMs > 250 {
			return Reporting
		}
		return PatientRead
	case sqlparse.Utility:
		if parsed.Command == "COPY" || parsed.Command == "VACUUM" || parsed.Command == "ANALYZE" {
			return Batch
		}
		return "" // transaction control and settings: part of other profiles' hold time
	}
	if parsed.Target != nil && strings.Contains(strings.ToLower(parsed.Target.Name), "audit") {
		return Audit
	}
	if rowsPerCall > 1000 {
		return Batch
	}
	return ClaimsWrite
}

func size(p Profile, l *load, window float64, opts AdviseOptions) ProfileAdvice {
	a := ProfileAdvice{Name: p.Name, Intent: p.Intent, PoolMode: poolMode(p), Statements: l.statements, Calls: l.calls,
		StatementTime: p.StatementTimeout.Milliseconds(), Reserved: p.Reserved}
	if l.calls > 0 {
		a.PerSecond = float64(l.calls) / window
		a.MeanHoldMs = l.execMs / float64(l.calls)
	}
	a.Busy = a.PerSecond * a.MeanHoldMs / 1000
	n := int(math.Ceil(a.Busy + 2*math.Sqrt(a.Busy)))
	a.Reason = fmt.Sprintf("L = %.2f/s × %.2f ms = %.3f busy; L + 2√L = %d", a.PerSecond, a.MeanHoldMs, a.Busy, n)
	if l.calls == 0 {
		a.Reason = "no statements of this profile observed; kept at its minimum"
	}
	n = max(n, int(p.MinConns), 1)
	if p.Reserved {
		n = max(n, int(p.MaxConns))
	}
	a.Size = n
	a.MinConns = min(int(p.MinConns), n)
	if p.Reserved {
		a.MinConns = n
	}
	return a
}

func poolMode(p Profile) string {
	// Reporting and batch hold sessions (cursors, temporary tables, long transactions);
	// the others are short transactions that share server connections well.
	if p.Name == Reporting || p.Name == Batch {
		return "session"
	}
	return "transaction"
}

// fit scales the non-reserved profiles down when together they exceed the ceiling,
// and notes when the busy connections exceed what the cores can run.
func (adv *Advice) fit(opts AdviseOptions) {
	total, reserved := 0, 0
	var busy float64
	for _, p := range adv.Profiles {
		total += p.Size
		busy += p.Busy
		if p.Reserved {
			reserved += p.Size
		}
	}
	if total > adv.Server.Ceiling {
		adv.scaleDown(total, reserved)
		limit := "the server allows"
		if adv.Server.CappedByConfig {
			limit = "connectionPool.maxConnections allows"
		}
		adv.Notes = append(adv.Notes, fmt.Sprintf("the profiles need %d connections but %s %d per instance: sizes were scaled down; raise the limit or put PgBouncer in front", total, limit, adv.Server.Ceiling))
	}
	if t := adv.Server.ActiveTarget; t > 0 && busy > float64(t) {
		adv.Notes = append(adv.Notes, fmt.Sprintf("the workload keeps %.1f connections busy, more than the %d the server's %d cores run well: more connections only queue inside PostgreSQL; shorten hold times or move reads to replicas", busy, t, adv.Server.Cores))
	}
	adv.Notes = append(adv.Notes, "hold times are the server's execution times; client round trips and idle time inside transactions come on top, so treat the sizes as a floor")
	if adv.Server.Cores == 0 {
		adv.Notes = append(adv.Notes, "the server's core count is unknown (remote server): pass --server-cpus to check the sizes against it")
	}
	slices.SortStableFunc(adv.Profiles, func(a, b ProfileAdvice) int { return strings.Compare(string(a.Name), string(b.Name)) })
}

// scaleDown shares what the ceiling leaves after the reserved profiles among the others
// in proportion to their sizes, then trims the largest until the total fits (every
// profile keeps at least one connection).
func (adv *Advice) scaleDown(total, reserved int) {
	room := max(adv.Server.Ceiling-reserved, 0)
	shared := total - reserved
	sum := reserved
	for i := range adv.Profiles {
		p := &adv.Profiles[i]
		if p.Reserved || shared == 0 {
			continue
		}
		p.Size = max(p.Size*room/shared, 1)
		sum += p.Size
		p.Reason += fmt.Sprintf("; scaled down to fit the ceiling of %d connections", adv.Server.Ceiling)
	}
	for sum > adv.Server.Ceiling {
		big := -1
		for i, p := range adv.Profiles {
			if !p.Reserved && p.Size > 1 && (big < 0 || p.Size > adv.Profiles[big].Size) {
				big = i
			}
		}
		if big < 0 {
			break
		}
		adv.Profiles[big].Size--
		sum--
	}
	for i := range adv.Profiles {
		adv.Profiles[i].MinConns = min(adv.Profiles[i].MinConns, adv.Profiles[i].Size)
	}
}

// keepOpen raises the profiles' minimum open connections until together they keep
// minTotal open (connectionPool.minConnections), in proportion to their busy
// connections, never above a profile's size.
func (adv *Advice) keepOpen(minTotal int) {
	have, room := 0, 0
	var busy float64
	for _, p := range adv.Profiles {
		have += p.MinConns
		room += p.Size - p.MinConns
		busy += p.Busy
	}
	want := min(minTotal, have+room) - have
	for want > 0 {
		// One at a time to the profile whose minimum is furthest below its share.
		best, bestGap := -1, math.Inf(-1)
		for i, p := range adv.Profiles {
			if p.MinConns >= p.Size {
				continue
			}
			share := float64(minTotal) / float64(len(adv.Profiles))
			if busy > 0 {
				share = float64(minTotal) * p.Busy / busy
			}
			if gap := share - float64(p.MinConns); gap > bestGap {
				best, bestGap = i, gap
			}
		}
		if best < 0 {
			break
		}
		adv.Profiles[best].MinConns++
		want--
	}
}
