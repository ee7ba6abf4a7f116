package cache

import (
	"fmt"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// DefaultChannel is the NOTIFY channel the triggers use.
const DefaultChannel = "pgmedic_cache"

// notifyBody is the trigger function: one notification per changed key (old and new
// key of an update), a whole-table one for TRUNCATE. PostgreSQL delivers them at
// commit and folds duplicates within a transaction.
const notifyBody = `
DECLARE
  k text;
  tbl text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  at float8 := extract(epoch FROM now());
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_catalog.pg_notify(TG_ARGV[1], pg_catalog.json_build_object('t', tbl, 'at', at)::text);
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    EXECUTE format('SELECT ($1).%I::text', TG_ARGV[0]) INTO k USING OLD;
    PERFORM pg_catalog.pg_notify(TG_ARGV[1], pg_catalog.json_build_object('t', tbl, 'k', k, 'at', at)::text);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format('SELECT ($1).%I::text', TG_ARGV[0]) INTO k USING NEW;
    PERFORM pg_catalog.pg_notify(TG_ARGV[1], pg_catalog.json_build_object('t', tbl, 'k', k, 'at', at)::text);
  END IF;
  RETURN NULL;
END`

// TriggerPlan installs the invalidation triggers on the tables, for the executor:
// each step is skipped when already in place.
func TriggerPlan(tables []Table, channel string) *finding.Plan {
	if channel == "" {
		channel = DefaultChannel
	}
	fn := ident.Quote("pgmedic", "cache_notify")
	steps := []finding.Step{{
		Description: "create the cache invalidation trigger function",
		SQL:         "CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS " + dollarQuote(notifyBody),
		Kind:        "ddl", Object: "pgmedic.cache_notify",
		Check: `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE proname = 'cache_notify'
			AND pronamespace = 'pgmedic'::regnamespace AND prosrc = ` + ident.Literal(notifyBody) + `)`,
	}}
	for _, t := range tables {
		if t.Schema == "" {
			t.Schema = "public"
		}
		rel := ident.Quote(t.Schema, t.Name)
		exists := func(name string) string {
			return fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgname = %s AND tgrelid = pg_catalog.to_regclass(%s))`,
				ident.Literal(name), ident.Literal(rel))
		}
		steps = append(steps,
			finding.Step{
				Description: "notify the cache of changed rows of " + t.qualified(),
				SQL: fmt.Sprintf("CREATE TRIGGER pgmedic_cache_rows AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s(%s, %s)",
					rel, fn, ident.Literal(t.KeyColumn), ident.Literal(channel)),
				Lock: "SHARE ROW EXCLUSIVE", Kind: "ddl", Object: t.qualified(), Check: exists("pgmedic_cache_rows"),
				Undo: "DROP TRIGGER IF EXISTS pgmedic_cache_rows ON " + rel,
			},
			finding.Step{
				Description: "notify the cache when " + t.qualified() + " is truncated",
				SQL: fmt.Sprintf("CREATE TRIGGER pgmedic_cache_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s(%s, %s)",
					rel, fn, ident.Literal(t.KeyColumn), ident.Literal(channel)),
				Lock: "SHARE ROW EXCLUSIVE", Kind: "ddl", Object: t.qualified(), Check: exists("pgmedic_cache_truncate"),
				Undo: "DROP TRIGGER IF EXISTS pgmedic_cache_truncate ON " + rel,
			})
	}
	return &finding.Plan{Summary: "Invalidate the Redis cache from the database's changes", Steps: steps}
}

func dollarQuote(body string) string { return "$pgmedic$" + body + "$pgmedic$" }
