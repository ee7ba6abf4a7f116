package synth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

// WorkloadOptions say how hard and how long to drive the database.
type WorkloadOptions struct {
	Duration time.Duration
	Clients  int
	Seed     uint64
	// Only restricts the run to these operations (names from Operations()).
	Only []string
}

// OpStats is one operation's latency distribution.
type OpStats struct {
	Name       string  `json:"name"`
	Count      int64   `json:"count"`
	Errors     int64   `json:"errors"`
	MeanMs     float64 `json:"mean_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// WorkloadResult is what a run measured.
type WorkloadResult struct {
	DurationSeconds float64   `json:"duration_seconds"`
	Clients         int       `json:"clients"`
	Operations      int64     `json:"operations"`
	Errors          int64     `json:"errors"`
	OpsPerSecond    float64   `json:"ops_per_second"`
	P50Ms           float64   `json:"p50_ms"`
	P95Ms           float64   `json:"p95_ms"`
	P99Ms           float64   `json:"p99_ms"`
	Ops             []OpStats `json:"ops"`
}

// operation is one kind of work an application does against the schema.
type operation struct {
	name   string
	weight int
	run    func(c *client, ctx context.Context) error
}

// operations is the mix: what a claims and scheduling application does all day, with
// weights in proportion to how often it does it.
var operations = []operation{
	{"patient_by_mrn", 18, (*client).patientByMRN},
	{"patient_search", 7, (*client).patientSearch},
	{"claim_history", 14, (*client).claimHistory},
	{"provider_claims", 7, (*client).providerClaims},
	{"pended_queue", 4, (*client).pendedQueue},
	{"monthly_dx_totals", 1, (*client).monthlyDiagnosisTotals},
	{"submit_claim", 8, (*client).submitClaim},
	{"provider_week", 9, (*client).providerWeek},
	{"upcoming_appointments", 9, (*client).upcomingAppointments},
	{"provider_availability", 6, (*client).providerAvailability},
	{"pending_payments", 4, (*client).pendingPayments},
	{"login", 10, (*client).login},
}

// Writes reports whether the named operation changes rows (claims submitted, logins
// recorded), the part of the mix that row triggers cost.
func Writes(name string) bool { return name == "submit_claim" || name == "login" }

// Operations lists the workload's operation names.
func Operations() []string {
	out := make([]string, len(operations))
	for i, op := range operations {
		out[i] = op.name
	}
	return out
}

// params are real values sampled from the database, so the workload finds rows
// whatever seed or scale the data was made with.
type params struct {
	mrns       []string
	people     []person
	patients   []int64
	providers  []int64 // weighted by claim volume (sampled from claims)
	schedulers []int64 // providers that take appointments
	weeks      []time.Time
	payers     []int64
	emails     []string
	icd        []string
	cpt        []string
	submitters []submitter
	firstDay   time.Time
	lastDay    time.Time
}

type person struct {
	last string
	dob  time.Time
}

type submitter struct {
	patient, provider, payer int64
	plan                     *int64
}

type client struct {
	pool *pgxpool.Pool
	p    *params
	r    *rand.Rand
}

// RunWorkload drives the healthcare schema with opts.Clients concurrent sessions for
// opts.Duration and reports throughput and latency per operation.
func RunWorkload(ctx context.Context, pool *pgxpool.Pool, opts WorkloadOptions) (*WorkloadResult, error) {
	if opts.Clients <= 0 {
		return nil, fmt.Errorf("clients must be at least 1, got %d", opts.Clients)
	}
	if opts.Duration <= 0 {
		return nil, fmt.Errorf("duration must be positive, got %s", opts.Duration)
	}
	ops := operations
	if len(opts.Only) > 0 {
		ops = nil
		for _, op := range operations {
			if slices.Contains(opts.Only, op.name) {
				ops = append(ops, op)
			}
		}
		if len(ops) != len(opts.Only) {
			return nil, fmt.Errorf("unknown operation in %v (known: %v)", opts.Only, Operations())
		}
	}
	existing, err := ExistingTables(ctx, pool)
	if err != nil {
		return nil, err
	}
	if len(existing) < len(tables) {
		return nil, fmt.Errorf("the workload needs the healthcare schema, and this database has %d of its %d tables", len(existing), len(tables))
	}
	p, err := sampleParams(ctx, pool)
	if err != nil {
		return nil, err
	}

	cum := make([]int, len(ops))
	total := 0
	for i, op := range ops {
		total += op.weight
		cum[i] = total
	}

	type sample struct {
		lat  []time.Duration
		errs int64
		msg  string
	}
	perClient := make([][]sample, opts.Clients)
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.AfterFunc(opts.Duration, func() { stop.Store(true) })
	defer timer.Stop()
	for i := 0; i < opts.Clients; i++ {
		perClient[i] = make([]sample, len(ops))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &client{pool: pool, p: p, r: rand.New(rand.NewPCG(opts.Seed, uint64(i)+1))}
			mine := perClient[i]
			for !stop.Load() && ctx.Err() == nil {
				x := c.r.IntN(total)
				k := sort.SearchInts(cum, x+1)
				t0 := time.Now()
				err := ops[k].run(c, ctx)
				el := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					mine[k].errs++
					if mine[k].msg == "" {
						mine[k].msg = describeError(err)
					}
					continue
				}
				mine[k].lat = append(mine[k].lat, el)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &WorkloadResult{DurationSeconds: elapsed.Seconds(), Clients: opts.Clients}
	var all []time.Duration
	for k, op := range ops {
		var lat []time.Duration
		st := OpStats{Name: op.name}
		for i := range perClient {
			s := perClient[i][k]
			lat = append(lat, s.lat...)
			st.Errors += s.errs
			if st.FirstError == "" {
				st.FirstError = s.msg
			}
		}
		st.Count = int64(len(lat))
		fillPercentiles(lat, &st.MeanMs, &st.P50Ms, &st.P95Ms, &st.P99Ms, &st.MaxMs)
		all = append(all, lat...)
		res.Operations += st.Count
		res.Errors += st.Errors
		res.Ops = append(res.Ops, st)
	}
	var mean, max float64
	fillPercentiles(all, &mean, &res.P50Ms, &res.P95Ms, &res.P99Ms, &max)
	res.OpsPerSecond = float64(res.Operations) / elapsed.Seconds()
	return res, nil
}

func fillPercentiles(lat []time.Duration, mean, p50, p95, p99, max *float64) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(q float64) float64 {
		i := int(q*float64(len(lat))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return ms(lat[i])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	*mean = ms(sum / time.Duration(len(lat)))
	*p50, *p95, *p99, *max = at(0.50), at(0.95), at(0.99), ms(lat[len(lat)-1])
}

// describeError keeps the SQLSTATE and message and drops DETAIL, which can quote row
// values.
func describeError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := pgErr.Message
		if len(msg) > 120 {
			msg = msg[:120]
		}
		return pgErr.Code + ": " + msg
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func sampleParams(ctx context.Context, pool *pgxpool.Pool) (*params, error) {
	p := &params{}
	type query struct {
		what string
		sql  string
		scan func(pgx.Rows) error
	}
	queries := []query{
		{"patients", sampleSQL("patients", "mrn, last_name, date_of_birth", 2000), func(rows pgx.Rows) error {
			var mrn, last string
			var dob time.Time
			if err := rows.Scan(&mrn, &last, &dob); err != nil {
				return err
			}
			p.mrns = append(p.mrns, mrn)
			p.people = append(p.people, person{last: last, dob: dob})
			return nil
		}},
		{"claims", sampleSQL("claims", "patient_id, provider_id, payer_id, plan_id", 4000), func(rows pgx.Rows) error {
			var s submitter
			if err := rows.Scan(&s.patient, &s.provider, &s.payer, &s.plan); err != nil {
				return err
			}
			p.patients = append(p.patients, s.patient)
			p.providers = append(p.providers, s.provider)
			p.submitters = append(p.submitters, s)
			return nil
		}},
		{"appointments", sampleSQL("appointments", "provider_id, scheduled_date_time", 2000), func(rows pgx.Rows) error {
			var id int64
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				return err
			}
			p.schedulers = append(p.schedulers, id)
			p.weeks = append(p.weeks, at.Truncate(24*time.Hour))
			return nil
		}},
		{"users", sampleSQL("users", "email", 2000), func(rows pgx.Rows) error {
			var e string
			if err := rows.Scan(&e); err != nil {
				return err
			}
			p.emails = append(p.emails, e)
			return nil
		}},
		{"payers", "SELECT id FROM payers", func(rows pgx.Rows) error {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			p.payers = append(p.payers, id)
			return nil
		}},
		{"claim_lines", sampleSQL("claim_lines", "icd10_code, cpt_code", 2000) + " ", func(rows pgx.Rows) error {
			var icd string
			var cpt *string
			if err := rows.Scan(&icd, &cpt); err != nil {
				return err
			}
			p.icd = append(p.icd, icd)
			if cpt != nil {
				p.cpt = append(p.cpt, *cpt)
			}
			return nil
		}},
		{"service dates", "SELECT min(date_of_service), max(date_of_service) FROM claims", func(rows pgx.Rows) error {
			return rows.Scan(&p.firstDay, &p.lastDay)
		}},
	}
	for _, q := range queries {
		// Marked as pgmedic's own: the sampling is not part of the workload.
		rows, err := pool.Query(ctx, policy.Marker+q.sql)
		if err != nil {
			return nil, fmt.Errorf("workload: sampling %s: %w", q.what, err)
		}
		for rows.Next() {
			if err := q.scan(rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("workload: sampling %s: %w", q.what, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("workload: sampling %s: %w", q.what, err)
		}
	}
	if len(p.mrns) == 0 || len(p.submitters) == 0 || len(p.schedulers) == 0 || len(p.emails) == 0 || len(p.icd) == 0 || len(p.cpt) == 0 {
		return nil, errors.New("workload: the healthcare tables are empty; load them with 'pgmedic seed' first")
	}
	return p, nil
}

// sampleSQL draws about n random rows without reading the whole table twice: a
// Bernoulli sample sized from the planner's row estimate, topped up by a plain scan
// when the estimate is stale.
func sampleSQL(table, cols string, n int) string {
	return fmt.Sprintf(`WITH est AS (SELECT greatest(reltuples, 1) AS n FROM pg_class WHERE oid = '%s'::regclass)
		SELECT %s FROM %s TABLESAMPLE BERNOULLI ((SELECT least(100, 100.0 * %d * 2 / n) FROM est)) LIMIT %d`,
		table, cols, table, n, n)
}

func pickOne[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func drain(rows pgx.Rows) error {
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

func (c *client) query(ctx context.Context, sql string, args ...any) error {
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	return drain(rows)
}

func (c *client) patientByMRN(ctx context.Context) error {
	return c.query(ctx, `SELECT id, mrn, first_name, last_name, date_of_birth, plan_id, primary_provider_id
		FROM patients WHERE mrn = $1`, pickOne(c.r, c.p.mrns))
}

func (c *client) patientSearch(ctx context.Context) error {
	who := pickOne(c.r, c.p.people)
	return c.query(ctx, `SELECT id, mrn, first_name, last_name, date_of_birth
		FROM patients WHERE lower(last_name) = lower($1) AND date_of_birth = $2`, who.last, who.dob)
}

func (c *client) claimHistory(ctx context.Context) error {
	offset := []int{0, 0, 0, 20, 40}[c.r.IntN(5)]
	return c.query(ctx, `SELECT id, claim_number, date_of_service, status, billed_amount, paid_amount
		FROM claims WHERE patient_id = $1 ORDER BY date_of_service DESC, id DESC LIMIT 20 OFFSET $2`,
		pickOne(c.r, c.p.patients), offset)
}

func (c *client) providerClaims(ctx context.Context) error {
	span := c.p.lastDay.Sub(c.p.firstDay)
	from := c.p.firstDay.Add(time.Duration(c.r.Int64N(int64(span) + 1))).Truncate(24 * time.Hour)
	return c.query(ctx, `SELECT id, patient_id, date_of_service, status, billed_amount
		FROM claims WHERE provider_id = $1 AND date_of_service BETWEEN $2 AND $3 ORDER BY date_of_service`,
		pickOne(c.r, c.p.providers), from, from.AddDate(0, 1, 0))
}

func (c *client) pendedQueue(ctx context.Context) error {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT id, claim_number, received_at, pend_reason, billed_amount
		FROM claims WHERE status = 'pended' ORDER BY received_at LIMIT 50`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (int64, error) {
		var id int64
		var number, reason *string
		var received time.Time
		var billed any
		err := row.Scan(&id, &number, &received, &reason, &billed)
		return id, err
	})
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		// The examiner works one claim of the queue.
		if _, err := tx.Exec(ctx, `UPDATE claims SET status = 'adjudicated', pend_reason = NULL, adjudicated_at = now(), updated_at = now()
			WHERE id = $1 AND status = 'pended'`, ids[c.r.IntN(len(ids))]); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (c *client) monthlyDiagnosisTotals(ctx context.Context) error {
	months := int(c.p.lastDay.Sub(c.p.firstDay).Hours()/24/30) + 1
	first := time.Date(c.p.lastDay.Year(), c.p.lastDay.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -c.r.IntN(min(months, 24)), 0)
	return c.query(ctx, `SELECT cl.icd10_code, count(*) AS lines, sum(cl.billed_amount) AS billed, sum(cl.paid_amount) AS paid
		FROM claim_lines cl JOIN claims c ON c.id = cl.claim_id
		WHERE c.date_of_service >= $1 AND c.date_of_service < $2
		GROUP BY cl.icd10_code ORDER BY billed DESC LIMIT 25`, first, first.AddDate(0, 1, 0))
}

func (c *client) submitClaim(ctx context.Context) error {
	s := pickOne(c.r, c.p.submitters)
	status := "received"
	if c.r.IntN(10) == 0 {
		status = "pended" // keeps the examiners' queue from running dry
	}
	nLines := 1 + c.r.IntN(4)
	dx := pickOne(c.r, c.p.icd)
	dos := time.Now().UTC().AddDate(0, 0, -c.r.IntN(30)).Truncate(24 * time.Hour)
	amounts := make([]float64, nLines)
	var billed float64
	for i := range amounts {
		amounts[i] = float64(5000+c.r.IntN(40000)) / 100
		billed += amounts[i]
	}
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var id int64
	var pendReason *string
	if status == "pended" {
		reason := pendReasons[c.r.IntN(len(pendReasons))]
		pendReason = &reason
	}
	if err := tx.QueryRow(ctx, `INSERT INTO claims (claim_number, patient_id, provider_id, payer_id, plan_id, claim_type,
			date_of_service, received_at, status, pend_reason, primary_diagnosis, billed_amount, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'professional', $6, now(), $7, $8, $9, $10, now()) RETURNING id`,
		fmt.Sprintf("CLMW%012d", c.r.Int64N(1e12)), s.patient, s.provider, s.payer, s.plan, dos, status, pendReason, dx, billed).Scan(&id); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	for i := 0; i < nLines; i++ {
		batch.Queue(`INSERT INTO claim_lines (claim_id, line_number, cpt_code, icd10_code, units, billed_amount, service_date)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, i+1, pickOne(c.r, c.p.cpt), dx, 1, amounts[i], dos)
	}
	batch.Queue(`INSERT INTO audit_logs (user_id, action, table_name, record_id, client_ip, occurred_at, details)
		VALUES (NULL, 'Create', 'claims', $1, '10.0.0.1', now(), '{"app": "claims-portal", "purpose": "payment"}')`, fmt.Sprint(id))
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (c *client) providerWeek(ctx context.Context) error {
	week := pickOne(c.r, c.p.weeks)
	week = week.AddDate(0, 0, -int(week.Weekday()))
	return c.query(ctx, `SELECT id, patient_id, scheduled_date_time, duration, status
		FROM appointments WHERE provider_id = $1 AND scheduled_date_time >= $2 AND scheduled_date_time < $3
		ORDER BY scheduled_date_time`, pickOne(c.r, c.p.schedulers), week, week.AddDate(0, 0, 7))
}

func (c *client) upcomingAppointments(ctx context.Context) error {
	return c.query(ctx, `SELECT a.id, a.scheduled_date_time, a.duration, a.status, a.provider_id
		FROM appointments a WHERE a.patient_id = $1 AND a.scheduled_date_time > now()
		AND a.status IN ('Scheduled', 'Confirmed') ORDER BY a.scheduled_date_time LIMIT 10`, pickOne(c.r, c.p.patients))
}

func (c *client) providerAvailability(ctx context.Context) error {
	return c.query(ctx, `SELECT day_of_week, start_time, end_time, location
		FROM availabilities WHERE provider_id = $1 AND day_of_week = $2 ORDER BY start_time`,
		pickOne(c.r, c.p.schedulers), 1+c.r.IntN(5))
}

func (c *client) pendingPayments(ctx context.Context) error {
	return c.query(ctx, `SELECT id, claim_id, amount, created_at
		FROM payments WHERE status = 'Pending' AND payer_id = $1 ORDER BY created_at LIMIT 100`, pickOne(c.r, c.p.payers))
}

func (c *client) login(ctx context.Context) error {
	email := pickOne(c.r, c.p.emails)
	var id int64
	var hash, kind string
	var active bool
	err := c.pool.QueryRow(ctx, `SELECT id, password_hash, is_active, user_type FROM users WHERE email = $1`, email).Scan(&id, &hash, &active, &kind)
	if err != nil {
		return err
	}
	if !active {
		return nil
	}
	batch := &pgx.Batch{}
	batch.Queue(`UPDATE users SET last_login_at = now() WHERE id = $1`, id)
	batch.Queue(`INSERT INTO audit_logs (user_id, action, table_name, record_id, client_ip, occurred_at, details)
		VALUES ($1, 'Login', 'users', $2, '10.0.0.2', now(), '{"app": "ehr-web", "purpose": "operations"}')`, id, fmt.Sprint(id))
	return c.pool.SendBatch(ctx, batch).Close()
}
