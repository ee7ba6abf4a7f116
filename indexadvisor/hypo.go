package indexadvisor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	policy "github.com/pgmedic/pgmedic/pgconn"
)

// hypo manages HypoPG's hypothetical indexes on the planner's session: they exist only
// in that backend's memory and only EXPLAIN sees them.
type hypo struct {
	conn    *pgx.Conn
	schema  string // where the extension lives
	version string
	canHide bool
	live    map[string]hypoIndex // by signature
	count   int
}

type hypoIndex struct {
	oid  uint32
	name string // HypoPG's name, as plans show it
	size int64
}

// maxLive keeps well under HypoPG's limit of about 2,500 hypothetical indexes (its fake
// OIDs run out).
const maxLive = 1500

// ErrNoHypoPG: the extension is not installed in the database.
var ErrNoHypoPG = errors.New("the hypopg extension is not installed in this database")

// ErrCannotRead: the role may not read the workload's tables, so PostgreSQL will not
// plan a single statement (EXPLAIN needs SELECT on what it plans).
var ErrCannotRead = errors.New("the role cannot plan the workload's statements: permission denied on their tables")

func newHypo(ctx context.Context, conn *pgx.Conn) (*hypo, error) {
	h := &hypo{conn: conn, live: map[string]hypoIndex{}}
	err := conn.QueryRow(ctx, policy.Marker+`SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'hypopg'`).Scan(&h.version, &h.schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoHypoPG
	}
	if err != nil {
		return nil, fmt.Errorf("indexadvisor: looking for hypopg: %w", err)
	}
	h.canHide = versionAtLeast(h.version, 1, 4)
	if _, err := conn.Exec(ctx, policy.Marker+"SELECT "+h.fn("hypopg_reset")+"()"); err != nil {
		return nil, fmt.Errorf("indexadvisor: resetting hypopg: %w", err)
	}
	return h, nil
}

func (h *hypo) fn(name string) string { return pgx.Identifier{h.schema, name}.Sanitize() }

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.Split(v, ".")
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || ma == major && mi >= minor
}

// create makes a hypothetical index (or returns the one already there).
func (h *hypo) create(ctx context.Context, ix *Index) (hypoIndex, error) {
	sig := ix.Signature()
	if hi, ok := h.live[sig]; ok {
		return hi, nil
	}
	if len(h.live) >= maxLive {
		return hypoIndex{}, fmt.Errorf("indexadvisor: too many hypothetical indexes at once")
	}
	var hi hypoIndex
	// One round trip: creating and sizing run for every candidate evaluated.
	if err := h.conn.QueryRow(ctx, policy.Marker+"SELECT h.indexrelid, h.indexname, "+h.fn("hypopg_relation_size")+"(h.indexrelid) FROM "+
		h.fn("hypopg_create_index")+"($1) h", ix.Definition(false)).Scan(&hi.oid, &hi.name, &hi.size); err != nil {
		return hypoIndex{}, err
	}
	h.live[sig] = hi
	h.count++
	return hi, nil
}

// has reports whether the index is live (created and not dropped).
func (h *hypo) has(ix *Index) bool {
	_, ok := h.live[ix.Signature()]
	return ok
}

func (h *hypo) drop(ctx context.Context, ix *Index) error {
	sig := ix.Signature()
	hi, ok := h.live[sig]
	if !ok {
		return nil
	}
	delete(h.live, sig)
	if _, err := h.conn.Exec(ctx, policy.Marker+"SELECT "+h.fn("hypopg_drop_index")+"($1)", hi.oid); err != nil {
		return fmt.Errorf("indexadvisor: dropping a hypothetical index: %w", err)
	}
	return nil
}

// hide makes the planner ignore a real index (HypoPG 1.4+).
func (h *hypo) hide(ctx context.Context, oid uint32, hidden bool) error {
	fn := "hypopg_hide_index"
	if !hidden {
		fn = "hypopg_unhide_index"
	}
	if _, err := h.conn.Exec(ctx, policy.Marker+"SELECT "+h.fn(fn)+"($1)", oid); err != nil {
		return fmt.Errorf("indexadvisor: %s: %w", fn, err)
	}
	return nil
}

func (h *hypo) reset(ctx context.Context) {
	_, _ = h.conn.Exec(ctx, policy.Marker+"SELECT "+h.fn("hypopg_reset")+"()")
	h.live = map[string]hypoIndex{}
}
