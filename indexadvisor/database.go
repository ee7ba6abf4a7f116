package indexadvisor

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/explain"
	"github.com/pgmedic/pgmedic/workload"
)

// DatabaseOptions tune AdviseDatabase.
type DatabaseOptions struct {
	// Options tune the advisor; a planner is made on the connection when Planner is nil.
	Options
	// Source gives the statements (nil Inputs: pg_stat_statements) and the snapshot.
	workload.Source
}

// AdviseDatabase is what `pgmedic index advise` does, as one call: it collects a
// snapshot on conn (a read-only session with hypopg installed in its database is
// enough), measures candidates with hypothetical indexes on the same session, and
// returns the advice for the workload: pg_stat_statements, or opts.Inputs. When
// neither is there, the advice comes from the healthcare presets alone and its notes
// say so.
func AdviseDatabase(ctx context.Context, conn *pgx.Conn, cfg *config.Profile, opts DatabaseOptions) (*Advice, error) {
	snap, inputs, fromStats, err := opts.Open(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("indexadvisor: %w", err)
	}
	if opts.Planner == nil {
		p, err := explain.New(ctx, conn)
		if err != nil {
			return nil, err
		}
		opts.Planner = p
	}
	a, err := New(cfg, snap, opts.Options)
	if err != nil {
		return nil, err
	}
	var note string
	if fromStats && !snap.Workload.Available {
		note = fmt.Sprintf("No workload was read (%s): the advice comes from the healthcare presets alone.", snap.Workload.Reason)
	}
	adv, err := a.AdviseSeq(ctx, inputs)
	if err != nil {
		return nil, err
	}
	if note != "" {
		adv.Notes = append([]string{note}, adv.Notes...)
	}
	return adv, nil
}
