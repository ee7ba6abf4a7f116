package matview

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// View is a materialized view and how fresh it is.
type View struct {
	Name      string `json:"name"` // schema.view
	Populated bool   `json:"populated"`
	// Concurrent: a unique index lets REFRESH ... CONCURRENTLY run without blocking readers.
	Concurrent bool  `json:"concurrent"`
	Bytes      int64 `json:"bytes"`
	// LastRefresh is the last refresh pgmedic made (nil: none recorded), with its duration.
	LastRefresh *time.Time `json:"last_refresh,omitempty"`
	Seconds     float64    `json:"refresh_seconds,omitempty"`
	// AgeSeconds is how old the data is since that refresh (0 when unknown).
	AgeSeconds float64 `json:"age_seconds,omitempty"`
}

// Views lists the database's materialized views with their staleness.
func Views(ctx context.Context, conn *pgx.Conn) ([]View, error) {
	var recorded bool
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT to_regclass('pgmedic.matview_refresh') IS NOT NULL").Scan(&recorded); err != nil {
		return nil, fmt.Errorf("reading materialized views: %w", err)
	}
	last := "NULL::timestamptz, NULL::float8"
	if recorded {
		last = `(SELECT r.refreshed_at FROM pgmedic.matview_refresh r WHERE r.view_name = n.nspname || '.' || c.relname ORDER BY r.refreshed_at DESC LIMIT 1),
		        (SELECT r.seconds FROM pgmedic.matview_refresh r WHERE r.view_name = n.nspname || '.' || c.relname ORDER BY r.refreshed_at DESC LIMIT 1)`
	}
	rows, err := conn.Query(ctx, policy.Marker+`SELECT n.nspname || '.' || c.relname, c.relispopulated,
	    EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
	            AND NOT EXISTS (SELECT FROM unnest(i.indkey) k WHERE k = 0)),
	    pg_total_relation_size(c.oid), `+last+`
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE c.relkind = 'm' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("reading materialized views: %w", err)
	}
	defer rows.Close()
	var out []View
	now := time.Now()
	for rows.Next() {
		var v View
		var secs *float64
		if err := rows.Scan(&v.Name, &v.Populated, &v.Concurrent, &v.Bytes, &v.LastRefresh, &secs); err != nil {
			return nil, fmt.Errorf("reading materialized views: %w", err)
		}
		if secs != nil {
			v.Seconds = *secs
		}
		if v.LastRefresh != nil {
			v.AgeSeconds = now.Sub(*v.LastRefresh).Seconds()
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RefreshOptions choose what RefreshPlan refreshes.
type RefreshOptions struct {
	// Names limits the plan to these views (schema.view); empty means all.
	Names []string
	// OlderThan skips views pgmedic refreshed more recently than this.
	OlderThan time.Duration
	// AllowBlocking refreshes views without a unique index too, which locks out their
	// readers for the refresh; without it they are left out with a note.
	AllowBlocking bool
}

// RefreshPlan refreshes views through the executor, concurrently where a unique index
// allows, each refresh recorded with its duration in the same transaction.
func RefreshPlan(views []View, opts RefreshOptions) (*finding.Plan, []string) {
	want := map[string]bool{}
	for _, n := range opts.Names {
		want[n] = true
	}
	plan := &finding.Plan{Summary: "refresh materialized views"}
	var notes []string
	for _, v := range views {
		if len(want) > 0 && !want[v.Name] {
			continue
		}
		schema, name := splitName(v.Name)
		q := ident.Quote(schema, name)
		how, lock := "CONCURRENTLY ", "EXCLUSIVE (readers go on; writers to the view wait)"
		if !v.Concurrent || !v.Populated {
			if !opts.AllowBlocking {
				notes = append(notes, v.Name+": no unique index (or never populated), so a refresh would block its readers; left out (add a unique index, or pass --allow-blocking)")
				continue
			}
			how, lock = "", "ACCESS EXCLUSIVE (readers wait for the refresh)"
		}
		step := finding.Step{Description: "refresh " + v.Name, Kind: "maintenance", Long: true, Lock: lock, Object: v.Name,
			SQL: fmt.Sprintf("REFRESH MATERIALIZED VIEW %s%s; INSERT INTO pgmedic.matview_refresh (view_name, seconds, concurrent) "+
				"VALUES (%s, extract(epoch FROM clock_timestamp() - now()), %v)", how, q, ident.Literal(v.Name), how != "")}
		if opts.OlderThan > 0 {
			step.Check = fmt.Sprintf("SELECT EXISTS (SELECT FROM pgmedic.matview_refresh WHERE view_name = %s AND refreshed_at > now() - make_interval(secs => %d))",
				ident.Literal(v.Name), int64(opts.OlderThan.Seconds()))
		}
		plan.Steps = append(plan.Steps, step)
	}
	return plan, notes
}

func splitName(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return "public", s
}
