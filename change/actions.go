package change

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Action is one row of pgmedic.actions.
type Action struct {
	ID         int64      `json:"id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Actor      string     `json:"actor"`
	Client     string     `json:"client,omitempty"`
	Tool       string     `json:"tool,omitempty"`
	Kind       string     `json:"kind"`
	Object     string     `json:"object"`
	Statement  string     `json:"statement"`
	Status     string     `json:"status"`
	Detail     string     `json:"detail,omitempty"`
	RunID      string     `json:"run_id,omitempty"`
	Step       int        `json:"step,omitempty"`
	Attempt    int        `json:"attempt,omitempty"`
	DurationMs float64    `json:"duration_ms,omitempty"`
}

// ReadActions lists what pgmedic changed in the database since a time, oldest first.
// A database pgmedic never changed has no pgmedic.actions: the list is then empty
// and found is false.
func ReadActions(ctx context.Context, conn *pgx.Conn, since time.Time) (actions []Action, found bool, err error) {
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT pg_catalog.to_regclass('pgmedic.actions') IS NOT NULL").Scan(&found); err != nil {
		return nil, false, fmt.Errorf("change: looking for pgmedic.actions: %w", err)
	}
	if !found {
		return []Action{}, false, nil
	}
	// The columns of later migrations may be missing in a database an older pgmedic
	// changed; read them when they are there.
	var steps bool
	if err := conn.QueryRow(ctx, policy.Marker+`SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute
		WHERE attrelid = 'pgmedic.actions'::regclass AND attname = 'run_id' AND NOT attisdropped)`).Scan(&steps); err != nil {
		return nil, true, fmt.Errorf("change: reading pgmedic.actions: %w", err)
	}
	extra := "NULL::text, NULL::int, NULL::int, NULL::float8"
	if steps {
		extra = "run_id, step, attempt, duration_ms"
	}
	rows, err := conn.Query(ctx, policy.Marker+`SELECT id, started_at, finished_at, actor, coalesce(client, ''), coalesce(tool, ''),
		kind, object, statement, status, coalesce(detail, ''), `+extra+`
		FROM pgmedic.actions WHERE started_at >= $1 ORDER BY id`, since)
	if err != nil {
		return nil, true, fmt.Errorf("change: reading pgmedic.actions: %w", err)
	}
	actions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Action, error) {
		var a Action
		var run *string
		var step, attempt *int
		var ms *float64
		err := r.Scan(&a.ID, &a.StartedAt, &a.FinishedAt, &a.Actor, &a.Client, &a.Tool, &a.Kind, &a.Object, &a.Statement,
			&a.Status, &a.Detail, &run, &step, &attempt, &ms)
		if run != nil {
			a.RunID = *run
		}
		if step != nil {
			a.Step = *step
		}
		if attempt != nil {
			a.Attempt = *attempt
		}
		if ms != nil {
			a.DurationMs = *ms
		}
		return a, err
	})
	if err != nil {
		return nil, true, fmt.Errorf("change: reading pgmedic.actions: %w", err)
	}
	return actions, true, nil
}
