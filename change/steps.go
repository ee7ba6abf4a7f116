package change

import (
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// Steps every engine that builds or drops indexes shares.

// IndexExists is SQL returning true when the index exists; cond narrows it
// (" AND indisvalid", " AND NOT indisvalid").
func IndexExists(schema, name, cond string) string {
	return "SELECT EXISTS (SELECT FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass(" +
		ident.Literal(ident.Quote(schema, name)) + ")" + cond + ")"
}

// BuildIndexStep is a concurrent build (sql is its CREATE INDEX CONCURRENTLY IF NOT
// EXISTS): done when the index exists and is valid; an INVALID one, which a killed or
// failed build leaves, is dropped before the next attempt.
func BuildIndexStep(schema, name, sql, description string) finding.Step {
	drop := "DROP INDEX CONCURRENTLY IF EXISTS " + ident.Quote(schema, name)
	return finding.Step{Description: description, SQL: sql, Object: schema + "." + name, Kind: "index", Progress: "create_index",
		Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true, Long: true,
		Check:        IndexExists(schema, name, " AND indisvalid"),
		CleanupCheck: IndexExists(schema, name, " AND NOT indisvalid"),
		Cleanup:      drop, Undo: drop}
}

// DropIndexStep drops an index concurrently: done when it is gone.
func DropIndexStep(schema, name, description string) finding.Step {
	return finding.Step{Description: description, SQL: "DROP INDEX CONCURRENTLY IF EXISTS " + ident.Quote(schema, name),
		Object: schema + "." + name, Kind: "index", Lock: "SHARE UPDATE EXCLUSIVE", NoTransaction: true,
		Check: "SELECT pg_catalog.to_regclass(" + ident.Literal(ident.Quote(schema, name)) + ") IS NULL"}
}
