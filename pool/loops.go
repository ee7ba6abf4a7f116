package pool

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/healthcare"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// checkNodes reads the primary's position and every replica's.
func (p *Pools) checkNodes(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lsn int64
	if err := p.nodes[0].mon.QueryRow(ctx, currentLSNSQL).Scan(&lsn); err != nil {
		// Without the primary's position no replica's lag is known: keep the last view.
		return
	}
	now := time.Now()
	p.hist.add(now, uint64(lsn))
	for _, n := range p.nodes[1:] {
		if err := n.check(ctx, uint64(lsn), p.hist); err != nil {
			p.benchNode(n, err)
		}
	}
}

func (p *Pools) monitorLoop(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.checkNodes(ctx)
		}
	}
}

func (p *Pools) adaptLoop(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.AdaptInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Adapt()
		}
	}
}

// Adapt runs one round of admission-limit adjustment (the loop calls it every
// AdaptInterval). First congestion: when a profile's connections are held twice as long
// as its baseline, it and every profile of lower priority give up a quarter of their
// limit; while one is held 1.5 times as long, those below it do not grow. Otherwise
// profiles in priority order may grow within what the shared budget has left. It
// returns each profile's limit afterwards.
func (p *Pools) Adapt() map[Workload]int32 {
	p.adaptMu.Lock()
	defer p.adaptMu.Unlock()
	congested, strained := math.MinInt, math.MinInt
	self := map[*profile]bool{}
	for _, pr := range p.order {
		r := pr.gate.holdRatio()
		if r > congestionRatio {
			self[pr] = true
			congested = max(congested, pr.Priority)
		}
		if r > strainRatio {
			strained = max(strained, pr.Priority)
		}
	}
	used := func() int32 {
		var sum int32
		for _, pr := range p.order {
			if !pr.Reserved {
				l, _ := pr.gate.current()
				sum += l
			}
		}
		return sum
	}
	out := map[Workload]int32{}
	for _, pr := range p.order {
		budget := p.cfg.MaxTotal - used()
		if strained > pr.Priority {
			budget = 0 // no growth while a more important profile is slowed down
		}
		pr.gate.adapt(budget, congested > pr.Priority || self[pr])
		out[pr.Name], _ = pr.gate.current()
	}
	return out
}

// congestionRatio: hold times this many times the baseline mean the server is
// congested for that profile; strainRatio: slowed down enough that less important
// profiles may not grow (the gap between the two keeps limits from see-sawing).
const (
	congestionRatio = 2.0
	strainRatio     = 1.5
)

// Limits returns each profile's current admission limit and connections in use.
func (p *Pools) Limits() map[Workload][2]int32 {
	out := map[Workload][2]int32{}
	for _, pr := range p.order {
		l, u := pr.gate.current()
		out[pr.Name] = [2]int32{l, u}
	}
	return out
}

// classifyPHI names the primary's tables the healthcare classifier takes for PHI.
func classifyPHI(ctx context.Context, mon *pgxpool.Pool) ([]string, error) {
	cls, err := healthcare.New(config.Healthcare{})
	if err != nil {
		return nil, fmt.Errorf("pool: healthcare classifier: %w", err)
	}
	rows, err := mon.Query(ctx, policy.Marker+`SELECT n.nspname, c.relname, array_agg(a.attname::text ORDER BY a.attnum),
		array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_%'
		GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("pool: reading the primary's tables: %w", err)
	}
	defer rows.Close()
	var phi []string
	for rows.Next() {
		var schema, table string
		var names, types []string
		if err := rows.Scan(&schema, &table, &names, &types); err != nil {
			return nil, fmt.Errorf("pool: reading the primary's tables: %w", err)
		}
		in := healthcare.TableInput{Schema: schema, Name: table}
		for i := range names {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: names[i], Type: types[i]})
		}
		if cls.Table(in).PHI {
			phi = append(phi, strings.ToLower(schema+"."+table))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool: reading the primary's tables: %w", err)
	}
	return phi, nil
}
