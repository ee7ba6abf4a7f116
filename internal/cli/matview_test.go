package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMatviewAdviseApplyRefresh(t *testing.T) {
	db := pg.NewDB(t)
	db.Exec(t, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
	    CREATE TABLE appointments (id bigint PRIMARY KEY, provider_id int NOT NULL, status text NOT NULL);
	    INSERT INTO appointments SELECT i, i % 40, (ARRAY['Completed', 'NoShow', 'Canceled'])[1 + i % 3] FROM generate_series(1, 40000) i;
	    ANALYZE appointments; SELECT pg_stat_statements_reset()`)
	conn := db.Conn(t)
	for i := 0; i < 25; i++ {
		if _, err := conn.Exec(t.Context(), `SELECT provider_id, COUNT(*) AS total, max(status) AS last_status, avg(id) AS mean_id
		    FROM appointments GROUP BY provider_id`); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "matview", "advise", "--dsn", db.URI, "--format", "json", "--min-total", "1ms")
	var adv struct {
		Proposals []struct{ Name, Create, Rewritten string } `json:"proposals"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &adv) != nil || len(adv.Proposals) != 1 {
		t.Fatalf("advise: exit %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_matviews"); n != 0 {
		t.Fatal("advise without --apply created a view")
	}
	if r := run(t, "matview", "advise", "--dsn", db.URI, "--apply", "--min-total", "1ms"); r.code != 0 {
		t.Fatalf("advise --apply: exit %d %s", r.code, r.stderr)
	}
	if n := db.QueryInt64(t, "SELECT count(*) FROM pg_matviews"); n != 1 {
		t.Fatalf("%d views after --apply", n)
	}
	r = run(t, "matview", "refresh", "--dsn", db.URI)
	if r.code != 0 || !strings.Contains(r.stdout, "never by pgmedic") || !strings.Contains(r.stdout, "REFRESH MATERIALIZED VIEW CONCURRENTLY") {
		t.Fatalf("refresh dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "matview", "refresh", "--dsn", db.URI, "--apply", "--older-than", "10m"); r.code != 0 {
		t.Fatalf("refresh --apply: exit %d %s", r.code, r.stderr)
	}
	r = run(t, "matview", "refresh", "--dsn", db.URI, "--format", "json")
	var st struct {
		Views []struct {
			Name        string  `json:"name"`
			LastRefresh *string `json:"last_refresh"`
		} `json:"views"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Views) != 1 || st.Views[0].LastRefresh == nil {
		t.Fatalf("staleness json: exit %d\n%s", r.code, r.stdout)
	}
	for _, args := range [][]string{{"matview", "advise", "--format", "yaml"}, {"matview", "refresh", "--older-than", "-1m"}, {"matview", "advise", "--min-calls", "0"}} {
		if r := run(t, args...); r.code != 2 || !strings.Contains(oneErrorLine(t, r), "hint:") {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
}
