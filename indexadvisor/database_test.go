package indexadvisor_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/workload"
)

// A state the configuration declares a work queue gets its partial index from a
// statement seen once, even when the value is too common for the statistics to call
// it a queue; without the declaration the literal is one call's value.
func TestQueueValuesFromConfig(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE TABLE work_items (id bigint PRIMARY KEY, state text NOT NULL, received_at timestamptz NOT NULL, body text);
		INSERT INTO work_items SELECT g, CASE WHEN g % 10 < 3 THEN 'waiting' ELSE 'closed' END,
			timestamptz '2024-01-01' + g * interval '1 minute', repeat('x', 40) FROM generate_series(1, 200000) g;
		ANALYZE work_items`)
	stmt := "SELECT id FROM work_items WHERE state = 'waiting' ORDER BY received_at LIMIT 20"
	where := func(cfg *config.Profile) []string {
		off := false
		adv, err := indexadvisor.AdviseDatabase(context.Background(), connect(t, db.URI), cfg, indexadvisor.DatabaseOptions{
			Options: indexadvisor.Options{Presets: &off},
			Source:  workload.Source{Inputs: slices.Values([]workload.Input{{Text: stmt, Raw: true, Calls: 1000, Source: "test"}})}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range adv.Recommendations {
			out = append(out, r.Where)
		}
		if len(out) == 0 {
			t.Fatalf("no recommendation for the queue read: %v", describe(adv))
		}
		return out
	}
	cfg, _ := config.Defaults(config.Production)
	if got := where(cfg); strings.Contains(strings.Join(got, " "), "waiting") {
		t.Errorf("a literal seen once in a common value became a partial index without a declaration: %q", got)
	}
	cfg.IndexOptimizer.QueueValues = []string{"work_items.state = waiting"}
	if got := where(cfg); !slices.Contains(got, "state = 'waiting'") {
		t.Errorf("the declared queue got no partial index: %q", got)
	}
}

func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgconn.Connect(context.Background(), uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
