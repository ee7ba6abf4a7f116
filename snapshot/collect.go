package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Options tune a collection.
type Options struct {
	// Tool names the collector in the snapshot ("pgmedic 0.1.0").
	Tool string
	// Local says the server runs on this machine (Unix socket or loopback), so the
	// machine's CPU count and memory describe the server's.
	Local bool
	// MemoryBytes and CPUs describe the server's machine when it is not local (flags);
	// zero means unknown.
	MemoryBytes int64
	CPUs        int
	// MaxStatements bounds how many pg_stat_statements entries are kept (by total
	// time); default 1000.
	MaxStatements int
	// Now is the collection time (tests); default time.Now().
	Now func() time.Time
	// Base, for CollectParts, supplies what the parts not collected would have read
	// (settings and extensions read once, say, while activity is read every interval).
	Base *Snapshot
}

// Querier is what the collector needs from a session (a *pgx.Conn opened by pgconn,
// read-only).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// marked prefixes every query with pgconn.Marker: pgmedic's own statements must not
// show up as the application's workload in the next snapshot.
type marked struct{ q Querier }

func (m marked) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return m.q.Query(ctx, policy.Marker+sql, args...)
}

func (m marked) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return m.q.QueryRow(ctx, policy.Marker+sql, args...)
}

func (m marked) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return m.q.Exec(ctx, policy.Marker+sql, args...)
}

type collector struct {
	q    Querier
	opts Options
	s    *Snapshot
	// notes gathered while a part runs make it "partial".
	notes []string
}

// part is one section of the collection.
type part struct {
	name string
	min  int // minimum server version (major), 0 = any
	run  func(c *collector, ctx context.Context) error
}

// parts run in this order: later parts use what earlier ones found (server version,
// tables for columns).
var parts = []part{
	{"server", 0, (*collector).server},
	{"settings", 0, (*collector).settings},
	{"extensions", 0, (*collector).extensions},
	{"databases", 0, (*collector).databases},
	{"tables", 0, (*collector).tables},
	{"columns", 0, (*collector).columns},
	{"indexes", 0, (*collector).indexes},
	{"constraints", 0, (*collector).constraints},
	{"key_ranges", 0, (*collector).keyRanges},
	{"sequences", 0, (*collector).sequences},
	{"triggers", 0, (*collector).triggers},
	{"roles", 0, (*collector).roles},
	{"activity", 0, (*collector).activity},
	{"locks", 0, (*collector).locks},
	{"replication", 0, (*collector).replication},
	{"archiver", 0, (*collector).archiver},
	{"checkpoints", 0, (*collector).checkpoints},
	{"wal", 14, (*collector).wal},
	{"workload", 0, (*collector).workload},
}

// PartNames lists the parts of a collection in order.
func PartNames() []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.name
	}
	return out
}

// Collect reads a snapshot through q. A part that cannot be read (missing privilege or
// extension, timeout) is recorded as unknown with its reason; Collect fails only when
// the server cannot be identified at all.
func Collect(ctx context.Context, q Querier, opts Options) (*Snapshot, error) {
	return collect(ctx, q, opts, parts)
}

// CollectParts reads only the named parts (see PartNames), in the usual order; "server"
// always runs first, as the others depend on it. A monitor polling every few seconds
// uses it to skip the catalogs it does not need. An unknown name is an error.
func CollectParts(ctx context.Context, q Querier, opts Options, names ...string) (*Snapshot, error) {
	want := map[string]bool{"server": true}
	for _, n := range names {
		want[n] = true
	}
	var sel []part
	for _, p := range parts {
		if want[p.name] {
			sel = append(sel, p)
			delete(want, p.name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("snapshot: no part named %q (parts: %s)", n, strings.Join(PartNames(), ", "))
	}
	return collect(ctx, q, opts, sel)
}

func collect(ctx context.Context, q Querier, opts Options, parts []part) (*Snapshot, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxStatements <= 0 {
		opts.MaxStatements = 1000
	}
	s := &Snapshot{}
	if opts.Base != nil {
		*s = *opts.Base
		s.Parts = nil
	}
	s.FormatVersion, s.Tool, s.CollectedAt = FormatVersion, opts.Tool, opts.Now().UTC()
	c := &collector{q: marked{q}, opts: opts, s: s}
	for _, p := range parts {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if p.min > 0 && c.s.Server.Major() < p.min {
			c.s.Parts = append(c.s.Parts, Part{Name: p.name, Status: PartUnknown,
				Reason: fmt.Sprintf("not available before PostgreSQL %d", p.min)})
			continue
		}
		c.notes = nil
		start := time.Now()
		err := p.run(c, ctx)
		pt := Part{Name: p.name, DurationMs: float64(time.Since(start).Microseconds()) / 1000, Status: PartOK}
		switch {
		case err != nil:
			if p.name == "server" {
				return nil, fmt.Errorf("snapshot: identifying the server: %w", err)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			pt.Status, pt.Reason = PartUnknown, reason(err)
		case len(c.notes) > 0:
			pt.Status, pt.Reason = PartPartial, strings.Join(c.notes, "; ")
		}
		c.s.Parts = append(c.s.Parts, pt)
	}
	c.host()
	return c.s, nil
}

// reason turns an error into the one-line explanation stored with an unknown part.
func reason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgerr.Privilege(err):
			return "permission denied (" + pgErr.Message + "); grant pg_monitor to the role pgmedic connects as"
		case pgerr.Canceled(err):
			return "timed out (statement_timeout): " + pgErr.Message
		case pgerr.Is(err, pgerr.LockNotAvailable):
			return "gave up waiting for a lock (lock_timeout): " + pgErr.Message
		}
		return pgErr.Code + ": " + pgErr.Message
	}
	return err.Error()
}

func (c *collector) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// Part returns the named part's record.
func (s *Snapshot) Part(name string) (Part, bool) {
	for _, p := range s.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// Known reports whether a part was collected (fully or partly), and if not, why.
func (s *Snapshot) Known(name string) (bool, string) {
	p, ok := s.Part(name)
	if !ok {
		return false, "not collected"
	}
	if p.Status == PartUnknown {
		return false, p.Reason
	}
	return true, ""
}

func (c *collector) host() {
	switch {
	case c.opts.MemoryBytes > 0:
		c.s.Host = &Host{CPUs: c.opts.CPUs, MemoryBytes: c.opts.MemoryBytes, Source: "flag"}
	case c.opts.Local:
		if mem := localMemory(); mem > 0 {
			c.s.Host = &Host{CPUs: runtime.NumCPU(), MemoryBytes: mem, Source: "local"}
		}
	}
}

// localMemory reads MemTotal from /proc/meminfo (and a cgroup limit, when lower).
func localMemory() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var total int64
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			total = kb * 1024
		}
	}
	if raw, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if lim, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && lim > 0 && lim < total {
			total = lim
		}
	}
	return total
}

// Setting returns a setting's value.
func (s *Snapshot) Setting(name string) (Setting, bool) {
	for _, st := range s.Settings {
		if st.Name == name {
			return st, true
		}
	}
	return Setting{}, false
}

// Extension returns an extension's record.
func (s *Snapshot) Extension(name string) (Extension, bool) {
	for _, e := range s.Extensions {
		if e.Name == name {
			return e, true
		}
	}
	return Extension{}, false
}

// Table finds a table by schema and name.
func (s *Snapshot) Table(schema, name string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Schema == schema && s.Tables[i].Name == name {
			return &s.Tables[i]
		}
	}
	return nil
}

// TableIndexes returns the indexes of a table.
func (s *Snapshot) TableIndexes(schema, table string) []*Index {
	var out []*Index
	for i := range s.Indexes {
		if s.Indexes[i].Schema == schema && s.Indexes[i].Table == table {
			out = append(out, &s.Indexes[i])
		}
	}
	return out
}

// ThisDatabase returns the database the snapshot was collected in.
func (s *Snapshot) ThisDatabase() *Database {
	for i := range s.Databases {
		if s.Databases[i].Name == s.Server.Database {
			return &s.Databases[i]
		}
	}
	return nil
}
