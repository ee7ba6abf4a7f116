package pool

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/pgconn"
)

// benchOp is one profile's operation in the benchmark mix.
type benchOp struct {
	w       Workload
	clients int
	sql     string
	arg     func(r *rand.Rand) any
}

func benchOps(patients, claims int64) []benchOp {
	pid := func(r *rand.Rand) any { return r.Int64N(patients) + 1 }
	cid := func(r *rand.Rand) any { return r.Int64N(claims) + 1 }
	return []benchOp{
		{PatientRead, 24, "SELECT id, first_name, last_name, date_of_birth FROM patients WHERE id = $1", pid},
		{ClaimsWrite, 20, "UPDATE claims SET updated_at = now() WHERE id = $1", cid},
		{Reporting, 8, "SELECT status, count(*), sum(billed_amount) FROM claims WHERE patient_id > $1 GROUP BY status", func(r *rand.Rand) any { return r.Int64N(patients / 2) }},
		{Audit, 6, "INSERT INTO audit_logs (action, table_name, record_id) VALUES ('Read', 'patients', $1)",
			func(r *rand.Rand) any { return strconv.FormatInt(r.Int64N(patients)+1, 10) }},
		{Batch, 6, "UPDATE claims SET updated_at = now() WHERE id BETWEEN $1 AND $1 + 200", cid},
	}
}

// benchProfiles split the single pool's 28 connections among the profiles: audit
// reserves one per audit client.
func benchProfiles() []Profile {
	ps := DefaultProfiles()
	for i := range ps {
		switch ps[i].Name {
		case PatientRead, ClaimsWrite:
			ps[i].MaxConns = 8
		case Reporting, Batch:
			ps[i].MaxConns = 3
		case Audit:
			ps[i].MaxConns = 6
		}
	}
	return ps
}

// runner runs one operation of a workload and returns when it finished.
type runner func(ctx context.Context, op benchOp, arg any) error

type benchResult struct {
	ops       map[Workload][]time.Duration
	errors    int
	perSecond float64
}

func drive(ctx context.Context, ops []benchOp, d time.Duration, run runner) benchResult {
	res := benchResult{ops: map[Workload][]time.Duration{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	total := 0
	for i, op := range ops {
		for c := range op.clients {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, 7))
				var lat []time.Duration
				errs := 0
				for time.Now().Before(stop) {
					t0 := time.Now()
					if err := run(ctx, op, op.arg(r)); err != nil {
						errs++
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				res.ops[op.w] = append(res.ops[op.w], lat...)
				res.errors += errs
				total += len(lat)
				mu.Unlock()
			}(uint64(i*100 + c))
		}
	}
	wg.Wait()
	res.perSecond = float64(total) / time.Since(start).Seconds()
	return res
}

func p99(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// BenchmarkPoolsVsSinglePool runs the same 64-client mix (24 patient reads, 20 claims
// writes, 8 reports, 6 audit writes, 6 batch updates) on the demo dataset through one
// plain pgxpool of 28 connections and through pgmedic's five pools of 28 connections in
// total, and reports throughput and p99 per profile for both.
// PGMEDIC_BENCH_SCALE (default 0.05) and PGMEDIC_BENCH_DURATION (default 10s) tune it.
//
//	go test -run '^$' -bench PoolsVsSinglePool -benchtime 1x -timeout 20m ./pool/
func BenchmarkPoolsVsSinglePool(b *testing.B) {
	scale, d := 0.05, 10*time.Second
	if s := os.Getenv("PGMEDIC_BENCH_SCALE"); s != "" {
		scale, _ = strconv.ParseFloat(s, 64)
	}
	if v := os.Getenv("PGMEDIC_BENCH_DURATION"); v != "" {
		d, _ = time.ParseDuration(v)
	}
	ctx := context.Background()
	for range b.N {
		db := pg.NewDB(b)
		if _, err := synth.Load(ctx, db.Pool(b), synth.LoadOptions{Options: synth.Options{Scale: scale, Seed: 1}}); err != nil {
			b.Fatal(err)
		}
		ops := benchOps(db.QueryInt64(b, "SELECT max(id) FROM patients"), db.QueryInt64(b, "SELECT max(id) FROM claims"))

		pc, err := pgconn.ParsePoolConfig(db.URI, pgconn.Policy{Write: true})
		if err != nil {
			b.Fatal(err)
		}
		pc.MaxConns = 28
		single, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			b.Fatal(err)
		}
		one := drive(ctx, ops, d, func(ctx context.Context, op benchOp, arg any) error {
			return pgx.BeginFunc(ctx, single, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, op.sql, arg); return err })
		})
		single.Close()

		p, err := Open(ctx, Config{Primary: db.URI, AdaptInterval: 100 * time.Millisecond, Profiles: benchProfiles()})
		if err != nil {
			b.Fatal(err)
		}
		ours := drive(ctx, ops, d, func(ctx context.Context, op benchOp, arg any) error {
			if op.w == PatientRead || op.w == Reporting {
				return p.Read(ctx, op.w, Token{}, func(tx Tx) error { _, err := tx.Exec(ctx, op.sql, arg); return err })
			}
			_, err := p.Write(ctx, op.w, func(tx Tx) error { _, err := tx.Exec(ctx, op.sql, arg); return err })
			return err
		})
		limits := p.Limits()
		p.Close()
		report(b, ops, one, ours, limits)
	}
}

func report(b *testing.B, ops []benchOp, one, ours benchResult, limits map[Workload][2]int32) {
	b.Logf("single pgxpool (28): %.0f ops/s, %d errors; pgmedic pools (28): %.0f ops/s, %d errors; ratio %.3f",
		one.perSecond, one.errors, ours.perSecond, ours.errors, ours.perSecond/one.perSecond)
	for _, op := range ops {
		b.Logf("%-13s single: %6d ops p99 %8s | pools: %6d ops p99 %8s (limit %d)", op.w, len(one.ops[op.w]),
			p99(one.ops[op.w]).Round(time.Microsecond), len(ours.ops[op.w]), p99(ours.ops[op.w]).Round(time.Microsecond), limits[op.w][0])
	}
	b.ReportMetric(ours.perSecond/one.perSecond, "throughput_ratio")
	b.ReportMetric(float64(p99(ours.ops[Audit]))/float64(p99(one.ops[Audit])), "audit_p99_ratio")
}
