package monitor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
)

// perInterval are the snapshot parts read on every collection; catalogParts are read
// when the session opens and every CatalogRefresh.
var (
	perInterval  = []string{"databases", "activity", "replication", "archiver", "wal", "workload"}
	catalogParts = []string{"settings", "extensions", "tables", "columns"}
)

// target is one watched server and what the monitor remembers about it.
type target struct {
	name string
	cfg  *pgx.ConnConfig
	opts *Options

	conn      *pgx.Conn
	base      *snapshot.Snapshot // settings, extensions, tables: read now and then
	baseAt    time.Time
	phiTables map[string]bool // schema.table
	parser    *sqlparse.Parser

	prev, cur *Sample
	recent    []*Sample // the last window+1 samples, for the event rules
	hist      *history
	slow      int // consecutive slow collections, for the backoff
	state     ruleState
	log       logState
}

func newTarget(dsn string, opts *Options) (*target, error) {
	cfg, err := pgconn.ParseConfig(dsn, opts.sessionPolicy())
	if err != nil {
		return nil, err
	}
	return &target{name: pgconn.Describe(cfg), cfg: cfg, opts: opts, parser: sqlparse.NewParser(nil, 0),
		hist: newHistory(opts.Retention, opts.Interval), state: newRuleState()}, nil
}

// collect reads one sample. A failure to connect or to identify the server is a down
// sample; the session is dropped and reopened on the next collection.
func (t *target) collect(ctx context.Context, now time.Time) *Sample {
	s := &Sample{Target: t.name, At: now}
	start := time.Now()
	defer func() { s.Took = time.Since(start) }()
	if err := t.connect(ctx); err != nil {
		s.Error = err.Error()
		return s
	}
	if err := t.read(ctx, s); err != nil {
		s.Error = err.Error()
		if t.conn != nil && (t.conn.IsClosed() || ctx.Err() == nil) {
			t.close()
		}
		return s
	}
	s.Up = true
	return s
}

func (t *target) connect(ctx context.Context) error {
	if t.conn != nil && !t.conn.IsClosed() {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %s", t.name, pgconn.Redact(err.Error()))
	}
	t.conn, t.base = conn, nil
	t.log = logState{reported: t.log.reported}
	return nil
}

func (t *target) close() {
	if t.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t.conn.Close(ctx)
		cancel()
		t.conn = nil
	}
}

func (t *target) read(ctx context.Context, s *Sample) error {
	if t.base == nil || time.Since(t.baseAt) > t.opts.CatalogRefresh {
		base, err := snapshot.CollectParts(ctx, t.conn, snapshot.Options{Tool: "pgmedic monitor", Local: pgconn.IsLocal(t.cfg.Host)}, catalogParts...)
		if err != nil {
			return err
		}
		t.base, t.baseAt = base, time.Now()
		t.classify()
	}
	snap, err := snapshot.CollectParts(ctx, t.conn, snapshot.Options{Tool: "pgmedic monitor", Base: t.base,
		MaxStatements: t.opts.MaxStatements, Local: pgconn.IsLocal(t.cfg.Host)}, perInterval...)
	if err != nil {
		return err
	}
	s.Snap = snap
	if st, ok := snap.Setting("max_connections"); ok {
		s.MaxConnections, _ = strconv.Atoi(st.Value)
	}
	if st, ok := snap.Setting("data_directory"); ok && pgconn.IsLocal(t.cfg.Host) {
		s.Disk = diskOf(st.Value)
	}
	if len(t.opts.ClaimsTables) > 0 {
		if s.Inserts, err = t.inserts(ctx); err != nil {
			return fmt.Errorf("reading the claims tables' insert counts: %w", err)
		}
	}
	s.PHIReads = t.phiReads(snap)
	s.FailedLogins = t.failedLogins(ctx)
	return nil
}

// classify finds the PHI tables of the target's database with the healthcare rules.
func (t *target) classify() {
	cls, err := healthcare.New(t.opts.Healthcare)
	if err != nil {
		t.opts.Logger.Warn("monitor: PHI classification off", "target", t.name, "error", err.Error())
		return
	}
	t.phiTables = map[string]bool{}
	for _, tb := range t.base.Tables {
		in := healthcare.TableInput{Schema: tb.Schema, Name: tb.Name}
		for _, c := range tb.Columns {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		if cls.Table(in).PHI {
			t.phiTables[tb.Schema+"."+tb.Name] = true
		}
	}
}

// phiReads sums, by role and PHI table, the calls of the statements of the target's
// database that read the table (their normalised text names it).
func (t *target) phiReads(snap *snapshot.Snapshot) map[phiKey]int64 {
	if len(t.phiTables) == 0 || !snap.Workload.Available {
		return nil
	}
	out := map[phiKey]int64{}
	for _, st := range snap.Workload.Statements {
		if st.Database != snap.Server.Database || st.Truncated {
			continue
		}
		parsed, err := t.parser.Parse(st.Query)
		if err != nil {
			continue
		}
		for _, ref := range parsed.Tables {
			if ref.CTE {
				continue
			}
			name := ref.Qualified()
			if ref.Schema == "" {
				name = "public." + ref.Name
			}
			if t.phiTables[name] {
				out[phiKey{st.User, name}] += st.Calls
			}
		}
	}
	return out
}

func (t *target) inserts(ctx context.Context) (map[string]int64, error) {
	names := make([]string, 0, len(t.opts.ClaimsTables))
	for _, n := range t.opts.ClaimsTables {
		if !strings.Contains(n, ".") {
			n = "public." + n
		}
		names = append(names, n)
	}
	rows, err := t.conn.Query(ctx, pgconn.Marker+`SELECT schemaname || '.' || relname, n_tup_ins FROM pg_stat_user_tables
		WHERE schemaname || '.' || relname = ANY($1)`, names)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rows.Err()
}

// diskOf reads the file system of the data directory; nil when it cannot be read (the
// server runs elsewhere, or the directory is not visible to this process).
func diskOf(dir string) *Disk {
	var fs syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &fs) != nil || fs.Blocks == 0 {
		return nil
	}
	total := int64(fs.Blocks) * int64(fs.Bsize)
	free := int64(fs.Bavail) * int64(fs.Bsize)
	used := int64(fs.Blocks-fs.Bfree) * int64(fs.Bsize)
	d := &Disk{Path: dir, TotalBytes: total, FreeBytes: free}
	if used+free > 0 {
		d.UsedPct = 100 * float64(used) / float64(used+free)
	}
	return d
}
