package workload

import (
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/pgmedic/pgmedic/snapshot"
)

// Source says what a one-call analysis works on: the database's snapshot (taken
// already, or collected on the connection) and the statements (given, or the
// snapshot's pg_stat_statements).
type Source struct {
	// Inputs are the statements (a SQL file or server log: see OpenFile); nil means
	// the database's pg_stat_statements.
	Inputs iter.Seq[Input]
	// Snapshot is the database's snapshot when the caller already took one; else one
	// is collected on the connection with Collect.
	Snapshot *snapshot.Snapshot
	Collect  snapshot.Options
}

// Open returns the snapshot and the statements to analyse. Without Inputs the
// statements are the snapshot's pg_stat_statements, and fromStats is true.
func (s Source) Open(ctx context.Context, q snapshot.Querier) (snap *snapshot.Snapshot, inputs iter.Seq[Input], fromStats bool, err error) {
	snap = s.Snapshot
	if snap == nil {
		if snap, err = snapshot.Collect(ctx, q, s.Collect); err != nil {
			return nil, nil, false, fmt.Errorf("collecting the snapshot: %w", err)
		}
	}
	if s.Inputs != nil {
		return snap, s.Inputs, false, nil
	}
	return snap, slices.Values(FromSnapshot(snap)), true, nil
}
