// Package replica reads the replication state of a primary and its standbys and says
// whether the cluster is ready to fail over: at least one streaming standby under the
// lag bound and WAL archiving healthy. A standby whose replay is paused or stuck counts
// as lagging even when nothing is being written. It also plans adding a standby.
package replica

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Querier is a read-only session (a *pgx.Conn opened by pgconn).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Options tune Status.
type Options struct {
	// MaxLag is the lag bound (monitor.alertThresholds.replicationLag); MaxLagBytes the
	// bound in bytes of WAL not yet replayed (default 16 MiB).
	MaxLag      time.Duration
	MaxLagBytes int64
	// Interval between the two readings of the primary that tell a stuck replay from a
	// slow one (default 1s; the readings are compared, not timed).
	Interval time.Duration
	// Standbys are sessions on standbys, keyed by a name for the report: they show a
	// paused replay, which the primary cannot see while nothing is written.
	Standbys map[string]Querier
	// PatroniURL, when set, is a Patroni REST API base URL: its /cluster is read and
	// judged too (HTTPClient defaults to a 5s timeout).
	PatroniURL string
	HTTPClient *http.Client
	// Now is the reading time (tests); default time.Now.
	Now func() time.Time
}

// Status is the answer of `pgmedic replica status`.
type Status struct {
	Ready     bool      `json:"ready"`
	Reasons   []string  `json:"reasons"`
	Replicas  []Replica `json:"replicas"`
	Primary   Primary   `json:"primary"`
	Slots     []Slot    `json:"slots"`
	Archiving Archiving `json:"archiving"`
	Standbys  []Standby `json:"standbys,omitempty"`
	Patroni   *Patroni  `json:"patroni,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// Primary is the server --dsn named.
type Primary struct {
	InRecovery              bool   `json:"in_recovery"`
	Timeline                int    `json:"timeline"`
	CurrentLSN              string `json:"current_lsn,omitempty"`
	SynchronousStandbyNames string `json:"synchronous_standby_names"`
	SynchronousCommit       string `json:"synchronous_commit"`
}

// Replica is one row of pg_stat_replication, judged.
type Replica struct {
	Name         string   `json:"name"` // application_name
	ClientAddr   string   `json:"client_addr,omitempty"`
	State        string   `json:"state"`
	SyncState    string   `json:"sync_state"`
	SyncPriority int      `json:"sync_priority"`
	SentLSN      string   `json:"sent_lsn,omitempty"`
	WriteLSN     string   `json:"write_lsn,omitempty"`
	FlushLSN     string   `json:"flush_lsn,omitempty"`
	ReplayLSN    string   `json:"replay_lsn,omitempty"`
	LagBytes     int64    `json:"lag_bytes"`
	LagSeconds   *float64 `json:"lag_seconds"` // replay_lag; null when caught up and idle
	Slot         string   `json:"slot,omitempty"`
	Paused       *bool    `json:"paused"` // null when no session on the standby was given
	Stuck        bool     `json:"stuck"`
	Lagging      bool     `json:"lagging"`
	Reasons      []string `json:"reasons,omitempty"`
}

// Slot is a replication slot on the primary.
type Slot struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Active        bool   `json:"active"`
	WALStatus     string `json:"wal_status,omitempty"`
	RetainedBytes *int64 `json:"retained_bytes"`
}

// Archiving is pg_stat_archiver with the verdict.
type Archiving struct {
	Mode             string     `json:"mode"`
	Archived         int64      `json:"archived_count"`
	Failed           int64      `json:"failed_count"`
	LastArchivedTime *time.Time `json:"last_archived_time,omitempty"`
	LastFailedTime   *time.Time `json:"last_failed_time,omitempty"`
	ReadyFiles       *int       `json:"ready_files"`
	Healthy          bool       `json:"healthy"`
	Reason           string     `json:"reason,omitempty"`
}

// Standby is what a session on a standby saw.
type Standby struct {
	Name            string   `json:"name"`
	ClusterName     string   `json:"cluster_name,omitempty"`
	InRecovery      bool     `json:"in_recovery"`
	Timeline        int      `json:"timeline"`
	ReceiveLSN      string   `json:"receive_lsn,omitempty"`
	ReplayLSN       string   `json:"replay_lsn,omitempty"`
	PauseState      string   `json:"pause_state"`
	ReplayDelaySecs *float64 `json:"replay_delay_seconds"` // since the last replayed commit, when behind
	Error           string   `json:"error,omitempty"`
}

func (o *Options) defaults() {
	if o.MaxLag <= 0 {
		o.MaxLag = 30 * time.Second
	}
	if o.MaxLagBytes <= 0 {
		o.MaxLagBytes = 16 << 20
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Status reads the primary twice (Interval apart), each standby session once, and
// judges readiness.
func GetStatus(ctx context.Context, primary Querier, opts Options) (*Status, error) {
	opts.defaults()
	primary = marked{primary}
	st := &Status{Reasons: []string{}, Replicas: []Replica{}, Slots: []Slot{}, CheckedAt: opts.Now().UTC()}
	if err := readPrimary(ctx, primary, &st.Primary); err != nil {
		return nil, err
	}
	if st.Primary.InRecovery {
		st.Reasons = append(st.Reasons, "--dsn names a standby, not the primary: its own standbys are not the cluster's; point --dsn at the primary")
		return st, nil
	}
	first, err := readReplicas(ctx, primary)
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(opts.Interval):
	}
	if st.Replicas, err = readReplicas(ctx, primary); err != nil {
		return nil, err
	}
	if st.Slots, err = readSlots(ctx, primary); err != nil {
		return nil, err
	}
	if st.Archiving, err = readArchiving(ctx, primary); err != nil {
		return nil, err
	}
	st.Standbys = readStandbys(ctx, opts.Standbys)
	if opts.PatroniURL != "" {
		if st.Patroni, err = ReadPatroni(ctx, opts.HTTPClient, opts.PatroniURL); err != nil {
			return nil, err
		}
		st.Patroni.judge(opts.MaxLagBytes)
	}
	st.judge(first, opts)
	return st, nil
}

func readPrimary(ctx context.Context, q Querier, p *Primary) error {
	err := q.QueryRow(ctx, `SELECT pg_is_in_recovery(), (SELECT timeline_id FROM pg_control_checkpoint()),
		CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
		current_setting('synchronous_standby_names'), current_setting('synchronous_commit')`).
		Scan(&p.InRecovery, &p.Timeline, nullable(&p.CurrentLSN), &p.SynchronousStandbyNames, &p.SynchronousCommit)
	if err != nil {
		return fmt.Errorf("replica: reading the server's role: %w", err)
	}
	return nil
}

// nullable scans a NULL text as "".
func nullable(s *string) any { return &nullString{s} }

type nullString struct{ s *string }

func (n *nullString) Scan(src any) error {
	if src == nil {
		*n.s = ""
		return nil
	}
	*n.s = fmt.Sprint(src)
	return nil
}

func readReplicas(ctx context.Context, q Querier) ([]Replica, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(r.application_name, ''), coalesce(host(r.client_addr), ''), coalesce(r.state, ''),
		coalesce(r.sync_state, ''), coalesce(r.sync_priority, 0),
		coalesce(r.sent_lsn::text, ''), coalesce(r.write_lsn::text, ''), coalesce(r.flush_lsn::text, ''), coalesce(r.replay_lsn::text, ''),
		coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), 0)::int8,
		extract(epoch FROM r.replay_lag)::float8,
		coalesce((SELECT s.slot_name::text FROM pg_replication_slots s WHERE s.active_pid = r.pid), '')
		FROM pg_stat_replication r ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("replica: reading pg_stat_replication: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Replica, error) {
		var x Replica
		err := r.Scan(&x.Name, &x.ClientAddr, &x.State, &x.SyncState, &x.SyncPriority, &x.SentLSN, &x.WriteLSN, &x.FlushLSN,
			&x.ReplayLSN, &x.LagBytes, &x.LagSeconds, &x.Slot)
		return x, err
	})
}

func readSlots(ctx context.Context, q Querier) ([]Slot, error) {
	rows, err := q.Query(ctx, `SELECT slot_name::text, slot_type, active, coalesce(wal_status, ''),
		pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8 FROM pg_replication_slots ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("replica: reading replication slots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Slot, error) {
		var s Slot
		err := r.Scan(&s.Name, &s.Type, &s.Active, &s.WALStatus, &s.RetainedBytes)
		return s, err
	})
	if out == nil {
		out = []Slot{}
	}
	return out, err
}

func readArchiving(ctx context.Context, q Querier) (Archiving, error) {
	var a Archiving
	err := q.QueryRow(ctx, `SELECT current_setting('archive_mode'), archived_count, failed_count, last_archived_time, last_failed_time
		FROM pg_stat_archiver`).Scan(&a.Mode, &a.Archived, &a.Failed, &a.LastArchivedTime, &a.LastFailedTime)
	if err != nil {
		return a, fmt.Errorf("replica: reading pg_stat_archiver: %w", err)
	}
	var ready int
	// Needs superuser or pg_monitor; without it the backlog is unknown, not zero.
	if err := q.QueryRow(ctx, `SELECT count(*)::int FROM pg_ls_archive_statusdir() WHERE name ~ '\.ready$'`).Scan(&ready); err == nil {
		a.ReadyFiles = &ready
	}
	return a, nil
}

func readStandbys(ctx context.Context, sessions map[string]Querier) []Standby {
	var out []Standby
	for name, q := range sessions {
		q = marked{q}
		s := Standby{Name: name}
		err := q.QueryRow(ctx, `SELECT current_setting('cluster_name'), pg_is_in_recovery(),
			(SELECT timeline_id FROM pg_control_checkpoint()),
			coalesce(pg_last_wal_receive_lsn()::text, ''), coalesce(pg_last_wal_replay_lsn()::text, ''),
			CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not in recovery' END,
			CASE WHEN pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
				THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END`).
			Scan(&s.ClusterName, &s.InRecovery, &s.Timeline, &s.ReceiveLSN, &s.ReplayLSN, &s.PauseState, &s.ReplayDelaySecs)
		if err != nil {
			s.Error = pgerr.Safe(err)
		}
		out = append(out, s)
	}
	return out
}

// marked starts every statement with pgconn.Marker, so pgmedic's own reads stay out of
// the workload its analyzers see.
type marked struct{ q Querier }

func (m marked) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return m.q.Query(ctx, policy.Marker+sql, args...)
}

func (m marked) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return m.q.QueryRow(ctx, policy.Marker+sql, args...)
}

func (m marked) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return m.q.Exec(ctx, policy.Marker+sql, args...)
}
