package partition

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// cutover swaps the tables in one short transaction, retried while the lock is not
// granted; between attempts the log is caught up again.
func (r *runners) cutover(ctx context.Context, conn *pgx.Conn) error {
	return r.swapLoop(ctx, conn, newMover(r.s, r.o, true), r.swapForward)
}

// rollback swaps the old table back after a cut-over, with every change made to the
// new table since applied to it.
func (r *runners) rollback(ctx context.Context, conn *pgx.Conn) error {
	return r.swapLoop(ctx, conn, newMover(r.s, r.o, false), r.swapBack)
}

type swapFunc func(ctx context.Context, tx pgx.Tx, conn *pgx.Conn) error

func (r *runners) swapLoop(ctx context.Context, conn *pgx.Conn, m *mover, swap swapFunc) error {
	for attempt := 1; attempt <= r.o.Retries; attempt++ {
		// The lock is only asked for once the log is short: draining it under the lock
		// is what writers wait for.
		for caught := false; !caught; {
			var err error
			if _, caught, err = m.catchUp(ctx, conn, r.o.CutoverBacklog, 100); err != nil {
				return fmt.Errorf("partition: replay: %w", err)
			}
			if !caught {
				r.o.Log("cut-over: the change log is not yet short enough; replaying on")
			}
		}
		held, err := r.locked(ctx, conn, m, swap)
		if err == nil {
			r.cutoverLock = held
			r.o.Log(fmt.Sprintf("cut-over: the lock was held for %s", held.Round(time.Millisecond)))
			return nil
		}
		if !pgerr.LockTimeout(err) || ctx.Err() != nil {
			return fmt.Errorf("partition: cut-over: %w", err)
		}
		wait := time.Duration(float64(200*time.Millisecond) * float64(attempt) * (0.5 + rand.Float64()))
		r.o.Log(fmt.Sprintf("cut-over: lock not granted within %s (attempt %d); trying again in %s", r.o.LockTimeout, attempt, wait.Round(time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("partition: cut-over: the lock on %s was not granted in %d attempts", r.s.source(), r.o.Retries)
}

// locked runs swap in a transaction holding ACCESS EXCLUSIVE on both tables, after
// draining the log under the lock; it returns how long the lock was held.
func (r *runners) locked(ctx context.Context, conn *pgx.Conn, m *mover, swap swapFunc) (time.Duration, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = '120s'", r.o.LockTimeout.Milliseconds())); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, policy.Marker+fmt.Sprintf("LOCK TABLE %s, %s IN ACCESS EXCLUSIVE MODE", m.from, m.to)); err != nil {
		return 0, err
	}
	t0 := time.Now()
	r.o.Hook("cutover:locked")
	for {
		n, err := m.replayOnce(ctx, conn, tx, 10000)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
	}
	if err := swap(ctx, tx, conn); err != nil {
		return 0, err
	}
	held := time.Since(t0)
	if _, err := tx.Exec(ctx, policy.Marker+"UPDATE pgmedic.partition_migrations SET cutover_ms = $2 WHERE id = $1", r.s.id(), float64(held.Microseconds())/1000); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// deps are the objects bound to a table that the swap carries over, read under the lock.
type deps struct {
	views    []View
	triggers []Named
	grants   []string
	policies []string
	rls      bool
	force    bool
	comment  *string
}

func readDeps(ctx context.Context, conn *pgx.Conn, schema, table string) (*deps, error) {
	t := &Table{Schema: schema, Name: table}
	d := &deps{}
	if err := conn.QueryRow(ctx, policy.Marker+`SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class')
		FROM pg_class c WHERE c.oid = to_regclass($1)`, t.Quoted()).Scan(&t.OID, &d.rls, &d.force, &d.comment); err != nil {
		return nil, fmt.Errorf("reading %s: %w", t.Quoted(), err)
	}
	for _, read := range []func(context.Context, *pgx.Conn) error{t.readViews, t.readTriggers, t.readGrants, t.readPolicies} {
		if err := read(ctx, conn); err != nil {
			return nil, fmt.Errorf("reading what depends on %s: %w", t.Quoted(), err)
		}
	}
	d.views, d.grants, d.policies = t.Views, t.Grants, t.Policies
	for _, tr := range t.Triggers {
		if !strings.HasPrefix(tr.Name, "pgmedic_") {
			d.triggers = append(d.triggers, tr)
		}
	}
	return d, nil
}

// execAll runs statements in the transaction, stopping at the first error.
func execAll(ctx context.Context, tx pgx.Tx, stmts []string) error {
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, policy.Marker+q); err != nil {
			return fmt.Errorf("%s: %w", firstWords(q), err)
		}
	}
	return nil
}

func firstWords(q string) string {
	f := strings.Fields(q)
	return strings.Join(f[:min(4, len(f))], " ")
}

// renames swaps the names of constraints and indexes between the old table (oldT) and
// the new one (newT); forward gives the new table the original names.
func (s *Spec) renames(forward bool) []string {
	var out []string
	qs := func(n string) string { return ident.Quote(s.Schema, n) }
	pair := func(kind, table, from, to string) string {
		if kind == "constraint" {
			return fmt.Sprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", qs(table), ident.Quote(from), ident.Quote(to))
		}
		return fmt.Sprintf("ALTER INDEX %s RENAME TO %s", qs(from), ident.Quote(to))
	}
	type nm struct{ kind, orig, newName string }
	names := []nm{{"constraint", s.PKName, s.shadowPK()}}
	for _, u := range s.Uniques {
		k := "index"
		if u.Constraint {
			k = "constraint"
		}
		names = append(names, nm{k, u.Name, u.NewName})
	}
	for _, ix := range s.Indexes {
		names = append(names, nm{"index", ix.Name, ix.NewName})
	}
	for _, n := range names {
		retired := childName(n.orig, "pgmold")
		if forward { // the tables are already renamed: old is Retired, new is Table
			out = append(out, pair(n.kind, s.Retired, n.orig, retired), pair(n.kind, s.Table, n.newName, n.orig))
		} else { // old is Table again, new is Shadow
			out = append(out, pair(n.kind, s.Shadow, n.orig, n.newName), pair(n.kind, s.Table, retired, n.orig))
		}
	}
	return out
}

// swapForward: the cut-over proper, under the lock, the log drained.
func (r *runners) swapForward(ctx context.Context, tx pgx.Tx, conn *pgx.Conn) error {
	s := r.s
	d, err := readDeps(ctx, conn, s.Schema, s.Table)
	if err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", s.source(), ident.Quote(s.Retired)),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", s.shadow(), ident.Quote(s.Table)),
	}
	stmts = append(stmts, s.renames(true)...)
	if err := execAll(ctx, tx, stmts); err != nil {
		return err
	}
	if err := s.moveIdentity(ctx, tx, s.retired(), s.source(), childName(s.Retired, s.Identity.columnOr()+"_seq")); err != nil {
		return err
	}
	stmts = stmts[:0]
	for _, q := range s.Sequences {
		stmts = append(stmts, fmt.Sprintf("ALTER SEQUENCE %s OWNED BY %s.%s", q.Sequence, s.source(), ident.Quote(q.Column)))
	}
	stmts = append(stmts, d.recreate(s, s.source(), s.retired())...)
	stmts = append(stmts, "DROP TRIGGER IF EXISTS pgmedic_capture ON "+s.retired(), "DROP TRIGGER IF EXISTS pgmedic_no_truncate ON "+s.retired(),
		captureSQL(s, true), "UPDATE pgmedic.partition_migrations SET phase = 'swapped', swapped_at = now(), updated_at = now() WHERE id = "+fmt.Sprint(s.id()))
	return execAll(ctx, tx, stmts)
}

// recreate moves views, grants, policies, the RLS switches, triggers and the comment
// to newT (named as the table now), disabling the triggers on oldT.
func (d *deps) recreate(s *Spec, newT, oldT string) []string {
	var out []string
	for _, v := range d.views {
		with := ""
		if v.Options != "" {
			with = " WITH (" + v.Options + ")"
		}
		out = append(out, fmt.Sprintf("CREATE OR REPLACE VIEW %s%s AS %s", ident.Quote(v.Schema, v.Name), with, strings.TrimSuffix(strings.TrimSpace(v.Def), ";")))
	}
	out = append(out, d.grants...)
	if d.rls {
		out = append(out, "ALTER TABLE "+newT+" ENABLE ROW LEVEL SECURITY")
	}
	if d.force {
		out = append(out, "ALTER TABLE "+newT+" FORCE ROW LEVEL SECURITY")
	}
	out = append(out, d.policies...)
	for _, t := range d.triggers {
		out = append(out, t.Def, "ALTER TABLE "+oldT+" DISABLE TRIGGER "+ident.Quote(t.Name))
		if !t.Enabled {
			out = append(out, "ALTER TABLE "+newT+" DISABLE TRIGGER "+ident.Quote(t.Name))
		}
	}
	if d.comment != nil {
		out = append(out, "COMMENT ON TABLE "+newT+" IS "+ident.Literal(*d.comment))
	}
	return out
}

func (id *Identity) columnOr() string {
	if id == nil {
		return ""
	}
	return id.Column
}

// moveIdentity continues the identity of from's column in to's, and gives to's
// sequence the original name (from's takes parkName).
func (s *Spec) moveIdentity(ctx context.Context, tx pgx.Tx, from, to, parkName string) error {
	if s.Identity == nil {
		return nil
	}
	col := s.Identity.Column
	var oldSeq, newSeq string
	if err := tx.QueryRow(ctx, policy.Marker+"SELECT pg_get_serial_sequence($1, $2), pg_get_serial_sequence($3, $2)", from, col, to).Scan(&oldSeq, &newSeq); err != nil {
		return fmt.Errorf("finding the identity sequences: %w", err)
	}
	var last int64
	var called bool
	if err := tx.QueryRow(ctx, policy.Marker+"SELECT last_value, is_called FROM "+oldSeq).Scan(&last, &called); err != nil {
		return fmt.Errorf("reading %s: %w", oldSeq, err)
	}
	var name string
	if err := tx.QueryRow(ctx, policy.Marker+"SELECT relname FROM pg_class WHERE oid = $1::regclass", oldSeq).Scan(&name); err != nil {
		return err
	}
	return execAll(ctx, tx, []string{
		fmt.Sprintf("SELECT setval(%s, %d, %t)", ident.Literal(newSeq), last, called),
		fmt.Sprintf("ALTER SEQUENCE %s RENAME TO %s", oldSeq, ident.Quote(parkName)),
		fmt.Sprintf("ALTER SEQUENCE %s RENAME TO %s", newSeq, ident.Quote(name)),
	})
}

// swapBack: the rollback's swap, under the lock, the reverse log drained.
func (r *runners) swapBack(ctx context.Context, tx pgx.Tx, conn *pgx.Conn) error {
	s := r.s
	d, err := readDeps(ctx, conn, s.Schema, s.Table)
	if err != nil {
		return err
	}
	stmts := []string{
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", s.source(), ident.Quote(s.Shadow)),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", s.retired(), ident.Quote(s.Table)),
	}
	stmts = append(stmts, s.renames(false)...)
	if err := execAll(ctx, tx, stmts); err != nil {
		return err
	}
	if err := s.moveIdentity(ctx, tx, s.shadow(), s.source(), childName(s.Shadow, s.Identity.columnOr()+"_seq")); err != nil {
		return err
	}
	stmts = stmts[:0]
	for _, q := range s.Sequences {
		stmts = append(stmts, fmt.Sprintf("ALTER SEQUENCE %s OWNED BY %s.%s", q.Sequence, s.source(), ident.Quote(q.Column)))
	}
	d.grants, d.policies, d.rls, d.force, d.triggers, d.comment = nil, nil, false, false, nil, nil // still on the old table
	stmts = append(stmts, d.recreate(s, s.source(), s.shadow())...)
	for _, t := range s.Triggers {
		if t.Enabled {
			stmts = append(stmts, "ALTER TABLE "+s.source()+" ENABLE TRIGGER "+ident.Quote(t.Name))
		}
	}
	stmts = append(stmts, "DROP TRIGGER IF EXISTS pgmedic_capture_reverse ON "+s.shadow(),
		"UPDATE pgmedic.partition_migrations SET phase = 'rolled_back', updated_at = now() WHERE id = "+fmt.Sprint(s.id()))
	return execAll(ctx, tx, stmts)
}
