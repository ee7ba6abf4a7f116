package change

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// The pgmedic schema is made by versioned migrations in the binary, applied in order,
// each in a transaction with the version it brings recorded.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("change: migration %s is not named NNNN_name.sql", e.Name())
		}
		data, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the newest pgmedic schema this binary knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// ErrNewerSchema: the database's pgmedic schema was made by a newer pgmedic.
var ErrNewerSchema = errors.New("the pgmedic schema in this database is newer than this pgmedic")

// ErrAuditUnavailable: pgmedic cannot write its audit trail, so it changes nothing.
var ErrAuditUnavailable = errors.New("pgmedic cannot write its audit trail (pgmedic.actions) in this database, so it changes nothing")

// migrate brings the pgmedic schema up to date. The caller holds the executor lock.
func migrate(ctx context.Context, conn *pgx.Conn, tool string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, policy.Marker+`CREATE SCHEMA IF NOT EXISTS pgmedic;
		CREATE TABLE IF NOT EXISTS pgmedic.schema_version (
		    version    int PRIMARY KEY,
		    applied_at timestamptz NOT NULL DEFAULT now(),
		    applied_by text NOT NULL DEFAULT session_user,
		    tool       text)`)
	if err != nil {
		if pgerr.Privilege(err) {
			return fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
		}
		return fmt.Errorf("change: creating the pgmedic schema: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, policy.Marker+"SELECT coalesce(max(version), 0) FROM pgmedic.schema_version").Scan(&current); err != nil {
		return fmt.Errorf("change: reading the pgmedic schema version: %w", err)
	}
	latest := ms[len(ms)-1].version
	if current > latest {
		return fmt.Errorf("%w (database: version %d, this pgmedic: %d)", ErrNewerSchema, current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if err := applyMigration(ctx, conn, m, tool); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, m migration, tool string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("change: migration %s: %w", m.name, err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, policy.Marker+m.sql); err != nil {
		if pgerr.Privilege(err) {
			return fmt.Errorf("%w: migration %s: %v", ErrAuditUnavailable, m.name, err)
		}
		return fmt.Errorf("change: migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, policy.Marker+"INSERT INTO pgmedic.schema_version (version, tool) VALUES ($1, $2)", m.version, tool); err != nil {
		return fmt.Errorf("change: recording migration %s: %w", m.name, err)
	}
	return tx.Commit(ctx)
}
