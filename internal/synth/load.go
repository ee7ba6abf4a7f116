package synth

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

//go:embed schema/tables.sql
var tablesSQL string

//go:embed schema/keys.sql
var keysSQL string

// TablesSQL is the DDL of the reference schema without its keys.
func TablesSQL() string { return tablesSQL }

// KeysSQL adds the primary and foreign keys.
func KeysSQL() string { return keysSQL }

// table is one table of the schema with the columns COPY fills, in order.
type table struct {
	name    string
	columns []string
}

var tables = []table{
	{"payers", []string{"id", "payer_code", "name", "payer_type", "state", "created_at"}},
	{"plans", []string{"id", "payer_id", "name", "plan_type", "group_number", "is_active"}},
	{"providers", []string{"id", "npi", "first_name", "last_name", "organization_name", "specialty", "taxonomy_code", "network", "state", "is_active", "accepting_new_patients", "created_at"}},
	{"patients", []string{"id", "mrn", "first_name", "last_name", "date_of_birth", "sex", "ssn", "address_line1", "city", "state", "postal_code", "phone", "email", "insurance_member_id", "plan_id", "primary_provider_id", "created_at", "updated_at"}},
	{"icd10_codes", []string{"code", "description", "chapter", "is_billable"}},
	{"cpt_codes", []string{"code", "description", "category", "relative_value"}},
	{"hcpcs_codes", []string{"code", "description", "category"}},
	{"claims", []string{"id", "claim_number", "patient_id", "provider_id", "payer_id", "plan_id", "claim_type", "date_of_service", "received_at", "status", "pend_reason", "primary_diagnosis", "billed_amount", "allowed_amount", "paid_amount", "patient_responsibility", "adjudicated_at", "updated_at"}},
	{"claim_lines", []string{"claim_id", "line_number", "cpt_code", "hcpcs_code", "icd10_code", "modifier", "units", "billed_amount", "allowed_amount", "paid_amount", "service_date"}},
	{"appointments", []string{"id", "patient_id", "provider_id", "scheduled_date_time", "duration", "status", "appointment_type", "reason", "created_at"}},
	{"availabilities", []string{"id", "provider_id", "day_of_week", "start_time", "end_time", "location"}},
	{"payments", []string{"id", "claim_id", "payer_id", "amount", "method", "status", "trace_number", "created_at", "posted_at"}},
	{"users", []string{"id", "email", "password_hash", "is_active", "user_type", "patient_id", "provider_id", "last_login_at", "created_at"}},
	{"audit_logs", []string{"id", "user_id", "action", "table_name", "record_id", "client_ip", "occurred_at", "details"}},
}

// TableNames lists the schema's tables in creation order.
func TableNames() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}

// identityTables have a generated id whose sequence must move past the loaded ids.
var identityTables = []string{"payers", "plans", "providers", "patients", "claims", "appointments", "availabilities", "payments", "users", "audit_logs"}

// LoadOptions say what to load and how.
type LoadOptions struct {
	Options
	// Workers is the number of COPY sessions (default: CPUs + 1, so generation on the
	// client overlaps with parsing on the server).
	Workers int
	// ChunkRows is how many primary rows one COPY carries (default 20,000).
	ChunkRows int64
	// Progress is called (from one goroutine at a time) as work completes.
	Progress func(Progress)
	// SkipKeys leaves the tables without primary and foreign keys (the benchmark's
	// baseline comparison loads bare tables).
	SkipKeys bool
	// SkipAnalyze leaves out the final VACUUM ANALYZE.
	SkipAnalyze bool
}

// Progress reports one phase's advance.
type Progress struct {
	Phase       string // "load", "keys", "analyze"
	Done, Total int64
}

// LoadResult says what was loaded and how long each phase took.
type LoadResult struct {
	Rows       map[string]int64
	TotalRows  int64
	CopyBytes  int64
	CopyTime   time.Duration
	KeysTime   time.Duration
	VacuumTime time.Duration
	Total      time.Duration
}

// ErrSchemaExists is returned when the database already holds tables of the schema.
type ErrSchemaExists struct{ Tables []string }

func (e *ErrSchemaExists) Error() string {
	return fmt.Sprintf("the database already has the healthcare tables (%s)", strings.Join(e.Tables, ", "))
}

// ExistingTables returns which of the schema's tables exist in the session's schema.
func ExistingTables(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_class c
		WHERE c.relname = ANY($1) AND c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
		ORDER BY 1`, TableNames())
	if err != nil {
		return nil, fmt.Errorf("synth: looking for existing tables: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// DropTables removes the schema's tables (seed --force).
func DropTables(ctx context.Context, pool *pgxpool.Pool) error {
	var ids []string
	for _, t := range TableNames() {
		ids = append(ids, pgx.Identifier{t}.Sanitize())
	}
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(ids, ", ")+" CASCADE"); err != nil {
		return fmt.Errorf("synth: dropping the existing tables: %w", err)
	}
	return nil
}

// CreateTables creates the schema's tables without keys.
func CreateTables(ctx context.Context, pool *pgxpool.Pool) error {
	existing, err := ExistingTables(ctx, pool)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return &ErrSchemaExists{Tables: existing}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("synth: creating tables: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, tablesSQL); err != nil {
		return fmt.Errorf("synth: creating tables: %w", err)
	}
	return tx.Commit(ctx)
}

// LoadURI opens a read-write pool on dsn (pgmedic's connection policy, no statement
// timeout) and loads the dataset into it: what test harnesses and tools that start from a
// connection string need.
func LoadURI(ctx context.Context, dsn string, opts Options) error {
	cfg, err := policy.ParsePoolConfig(dsn, policy.Policy{Write: true})
	if err != nil {
		return err
	}
	pool, err := policy.NewPoolFromConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = Load(ctx, pool, LoadOptions{Options: opts})
	return err
}

// Load creates the schema in an empty database and fills it: COPY in parallel chunks,
// then primary keys, foreign keys, identity sequences, and VACUUM ANALYZE. The pool must
// allow writes and long statements.
func Load(ctx context.Context, pool *pgxpool.Pool, opts LoadOptions) (*LoadResult, error) {
	start := time.Now()
	g, err := NewGenerator(opts.Options)
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU() + 1
	}
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = 20000
	}
	if err := CreateTables(ctx, pool); err != nil {
		return nil, err
	}
	res := &LoadResult{Rows: map[string]int64{}}
	if err := load(ctx, pool, g, opts, res); err != nil {
		return nil, err
	}
	res.CopyTime = time.Since(start)
	if !opts.SkipKeys {
		t := time.Now()
		if err := addKeys(ctx, pool, opts); err != nil {
			return nil, err
		}
		res.KeysTime = time.Since(t)
	}
	if !opts.SkipAnalyze {
		t := time.Now()
		if err := vacuumAnalyze(ctx, pool, opts); err != nil {
			return nil, err
		}
		res.VacuumTime = time.Since(t)
	}
	for _, n := range res.Rows {
		res.TotalRows += n
	}
	res.Total = time.Since(start)
	return res, nil
}

// job generates one chunk of rows for one or more tables.
type job struct {
	weight int64 // progress units (primary rows)
	fill   func(r, aux *rowRand, out map[string]*rowWriter)
	tables []string
}

func (g *Generator) jobs(chunk int64) []job {
	c := g.counts
	var jobs []job
	ranges := func(n int64, f func(lo, hi int64) job) {
		for lo := int64(1); lo <= n; lo += chunk {
			hi := lo + chunk - 1
			if hi > n {
				hi = n
			}
			jobs = append(jobs, f(lo, hi))
		}
	}
	// Big tables first, so the small ones fill the gaps at the end.
	ranges(c.Claims, func(lo, hi int64) job {
		return job{weight: hi - lo + 1, tables: []string{"claims", "claim_lines", "payments"},
			fill: func(r, _ *rowRand, out map[string]*rowWriter) {
				co := claimOut{claims: out["claims"], lines: out["claim_lines"], payments: out["payments"]}
				for id := lo; id <= hi; id++ {
					g.claim(r, id, co)
				}
			}}
	})
	ranges(c.Appointments, func(lo, hi int64) job {
		return job{weight: hi - lo + 1, tables: []string{"appointments"},
			fill: func(r, _ *rowRand, out map[string]*rowWriter) {
				for id := lo; id <= hi; id++ {
					g.appointment(r, id, out["appointments"])
				}
			}}
	})
	ranges(c.AuditLogs, func(lo, hi int64) job {
		return job{weight: hi - lo + 1, tables: []string{"audit_logs"},
			fill: func(r, _ *rowRand, out map[string]*rowWriter) {
				for id := lo; id <= hi; id++ {
					g.auditLog(r, id, out["audit_logs"])
				}
			}}
	})
	ranges(c.Patients, func(lo, hi int64) job {
		return job{weight: hi - lo + 1, tables: []string{"patients", "users"},
			fill: func(r, aux *rowRand, out map[string]*rowWriter) {
				for id := lo; id <= hi; id++ {
					p := g.patient(r, id)
					g.writePatient(out["patients"], p)
					g.userForPatient(aux, p, out["users"])
				}
			}}
	})
	ranges(c.Providers, func(lo, hi int64) job {
		return job{weight: hi - lo + 1, tables: []string{"providers", "availabilities", "users"},
			fill: func(r, aux *rowRand, out map[string]*rowWriter) {
				for id := lo; id <= hi; id++ {
					g.writeProvider(out["providers"], g.provider(r, id))
					g.availability(aux, id, out["availabilities"])
					g.userForProvider(aux, id, out["users"])
				}
			}}
	})
	jobs = append(jobs,
		job{weight: c.Staff + admins, tables: []string{"users"}, fill: func(r, _ *rowRand, out map[string]*rowWriter) {
			for k := int64(1); k <= c.Staff+admins; k++ {
				g.staffUser(r, k, out["users"])
			}
		}},
		job{weight: c.Payers + c.Plans, tables: []string{"payers", "plans"}, fill: func(_, _ *rowRand, out map[string]*rowWriter) {
			created := (g.anchor - 15*365) * secondsPerDay
			for _, p := range g.payers {
				w := out["payers"]
				w.int(p.id)
				w.str(p.code)
				w.str(p.name)
				w.str(p.kind)
				w.strOrNull(p.state)
				w.timestamp(created)
				w.end()
			}
			for _, p := range g.plans {
				w := out["plans"]
				w.int(p.id)
				w.int(p.payerID)
				w.str(p.name)
				w.str(p.kind)
				w.str(p.group)
				w.boolean(true)
				w.end()
			}
		}},
		job{weight: c.ICD10 + c.CPT + c.HCPCS, tables: []string{"icd10_codes", "cpt_codes", "hcpcs_codes"}, fill: func(_, _ *rowRand, out map[string]*rowWriter) {
			for _, code := range g.icd {
				w := out["icd10_codes"]
				w.str(code.code)
				w.str(code.desc)
				w.str(code.category)
				w.boolean(true)
				w.end()
			}
			for _, code := range g.cpt {
				w := out["cpt_codes"]
				w.str(code.code)
				w.str(code.desc)
				w.str(code.category)
				w.sep()
				w.buf = fmt.Appendf(w.buf, "%.2f", code.rvu)
				w.end()
			}
			for _, code := range g.hcpcs {
				w := out["hcpcs_codes"]
				w.str(code.code)
				w.str(code.desc)
				w.str(code.category)
				w.end()
			}
		}},
	)
	return jobs
}

func copyStatement(name string) string {
	for _, t := range tables {
		if t.name == name {
			cols := make([]string, len(t.columns))
			for i, c := range t.columns {
				cols[i] = pgx.Identifier{c}.Sanitize()
			}
			return fmt.Sprintf("COPY %s (%s) FROM STDIN", pgx.Identifier{name}.Sanitize(), strings.Join(cols, ", "))
		}
	}
	panic("synth: no table " + name) // a programming error: every job names known tables
}

func load(ctx context.Context, pool *pgxpool.Pool, g *Generator, opts LoadOptions, res *LoadResult) error {
	jobs := g.jobs(opts.ChunkRows)
	var total int64
	for _, j := range jobs {
		total += j.weight
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	queue := make(chan job)
	var (
		mu       sync.Mutex
		firstErr error
		done     atomic.Int64
		bytesOut atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	report := func() {
		if opts.Progress != nil {
			mu.Lock()
			opts.Progress(Progress{Phase: "load", Done: done.Load(), Total: total})
			mu.Unlock()
		}
	}
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pool.Acquire(ctx)
			if err != nil {
				fail(fmt.Errorf("synth: acquiring a connection: %w", err))
				return
			}
			defer conn.Release()
			r, aux := newRowRand(g.opts.Seed), newRowRand(g.opts.Seed)
			writers := map[string]*rowWriter{}
			for _, t := range tables {
				writers[t.name] = &rowWriter{}
			}
			for j := range queue {
				for _, w := range writers {
					w.reset()
				}
				j.fill(r, aux, writers)
				for _, name := range j.tables {
					w := writers[name]
					if w.rows == 0 {
						continue
					}
					if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(w.buf), copyStatement(name)); err != nil {
						fail(fmt.Errorf("synth: copying into %s: %w", name, err))
						return
					}
					bytesOut.Add(int64(len(w.buf)))
					mu.Lock()
					res.Rows[name] += w.rows
					mu.Unlock()
				}
				done.Add(j.weight)
				report()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	res.CopyBytes = bytesOut.Load()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// addKeys builds the primary keys in parallel (one table each), then the foreign keys
// one after another (each locks its referenced table), then moves the identity
// sequences past the loaded ids.
func addKeys(ctx context.Context, pool *pgxpool.Pool, opts LoadOptions) error {
	var pks, fks []string
	for _, stmt := range strings.Split(keysSQL, ";") {
		s := strings.TrimSpace(stripComments(stmt))
		switch {
		case s == "":
		case strings.Contains(s, "PRIMARY KEY"):
			pks = append(pks, s)
		default:
			fks = append(fks, s)
		}
	}
	total := int64(len(pks) + len(fks) + len(identityTables))
	var done atomic.Int64
	progress := func() {
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: "keys", Done: done.Load(), Total: total})
		}
	}
	session := "SET maintenance_work_mem = '256MB'; SET statement_timeout = 0; "
	if err := parallel(ctx, pool, opts.Workers, pks, func(ctx context.Context, conn *pgxpool.Conn, stmt string) error {
		if _, err := conn.Exec(ctx, session+stmt); err != nil {
			return fmt.Errorf("synth: %s: %w", stmt, err)
		}
		done.Add(1)
		progress()
		return nil
	}); err != nil {
		return err
	}
	for _, stmt := range fks {
		if _, err := pool.Exec(ctx, "SET statement_timeout = 0; "+stmt); err != nil {
			return fmt.Errorf("synth: %s: %w", stmt, err)
		}
		done.Add(1)
		progress()
	}
	for _, t := range identityTables {
		id := pgx.Identifier{t}.Sanitize()
		sql := fmt.Sprintf("SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE(max(id), 0) + 1, false) FROM %s", id)
		if _, err := pool.Exec(ctx, sql, t); err != nil {
			return fmt.Errorf("synth: moving the id sequence of %s: %w", t, err)
		}
		done.Add(1)
		progress()
	}
	return nil
}

func vacuumAnalyze(ctx context.Context, pool *pgxpool.Pool, opts LoadOptions) error {
	names := TableNames()
	var done atomic.Int64
	return parallel(ctx, pool, opts.Workers, names, func(ctx context.Context, conn *pgxpool.Conn, name string) error {
		// VACUUM sets the visibility map too, so index-only scans work from the start as
		// they would on a database that has been running for a while.
		if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
			return fmt.Errorf("synth: preparing VACUUM: %w", err)
		}
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("synth: VACUUM ANALYZE %s: %w", name, err)
		}
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: "analyze", Done: done.Add(1), Total: int64(len(names))})
		}
		return nil
	})
}

// parallel runs fn over items on up to n pooled sessions and returns the first error.
func parallel(ctx context.Context, pool *pgxpool.Pool, n int, items []string, fn func(context.Context, *pgxpool.Conn, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pool.Acquire(ctx)
			if err != nil {
				errs <- err
				cancel()
				return
			}
			defer func() {
				_, _ = conn.Exec(context.Background(), "RESET ALL")
				conn.Release()
			}()
			for item := range queue {
				if err := fn(ctx, conn, item); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case queue <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Checksums returns an md5 of every table's rows in key order: the same seed, scale and
// anchor must give the same checksums.
func Checksums(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range tables {
		order := "id"
		switch t.name {
		case "claim_lines":
			order = "claim_id, line_number"
		case "icd10_codes", "cpt_codes", "hcpcs_codes":
			order = "code"
		}
		cols := make([]string, len(t.columns))
		for i, c := range t.columns {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		// created_at defaults to now() only when not loaded; every column here is loaded.
		sql := fmt.Sprintf("SELECT md5(string_agg(row(%s)::text, E'\\n' ORDER BY %s)) FROM %s",
			strings.Join(cols, ", "), order, pgx.Identifier{t.name}.Sanitize())
		var sum *string
		if err := pool.QueryRow(ctx, sql).Scan(&sum); err != nil {
			return nil, fmt.Errorf("synth: checksum of %s: %w", t.name, err)
		}
		if sum == nil {
			out[t.name] = "empty"
		} else {
			out[t.name] = *sum
		}
	}
	return out, nil
}
