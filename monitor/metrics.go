package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names follow postgres_exporter (pg_<subsystem>_<name>, counters ending in
// _total, units in _seconds and _bytes); pgmedic's own start with pgmedic_. Every
// PostgreSQL metric carries a server label (user@host:port/db), present even with one
// target, so that dashboards do not change when a second target is added.
type metricDesc struct {
	d    *prometheus.Desc
	kind prometheus.ValueType
}

func desc(name, help string, kind prometheus.ValueType, labels ...string) metricDesc {
	return metricDesc{prometheus.NewDesc(name, help, append([]string{"server"}, labels...), nil), kind}
}

var (
	mUp                                 = desc("pg_up", "Whether the last collection from the server succeeded (1) or not (0).", prometheus.GaugeValue)
	mMaxConns                           = desc("pg_settings_max_connections", "The max_connections setting.", prometheus.GaugeValue)
	mBackends                           = desc("pg_stat_database_numbackends", "Sessions connected to the database.", prometheus.GaugeValue, "datname")
	mCommit                             = desc("pg_stat_database_xact_commit_total", "Transactions committed in the database.", prometheus.CounterValue, "datname")
	mRollback                           = desc("pg_stat_database_xact_rollback_total", "Transactions rolled back in the database.", prometheus.CounterValue, "datname")
	mBlksRead                           = desc("pg_stat_database_blks_read_total", "Blocks read from outside the buffer cache.", prometheus.CounterValue, "datname")
	mBlksHit                            = desc("pg_stat_database_blks_hit_total", "Blocks found in the buffer cache.", prometheus.CounterValue, "datname")
	mDeadlocks                          = desc("pg_stat_database_deadlocks_total", "Deadlocks detected in the database.", prometheus.CounterValue, "datname")
	mTempBytes                          = desc("pg_stat_database_temp_bytes_total", "Bytes written to temporary files.", prometheus.CounterValue, "datname")
	mConflicts                          = desc("pg_stat_database_conflicts_total", "Queries cancelled by recovery conflicts.", prometheus.CounterValue, "datname")
	mSize                               = desc("pg_database_size_bytes", "Disk space used by the database.", prometheus.GaugeValue, "datname")
	mXIDAge                             = desc("pg_database_frozen_xid_age", "age(datfrozenxid): transactions since the database was last frozen.", prometheus.GaugeValue, "datname")
	mActivity                           = desc("pg_stat_activity_count", "Client sessions by database and state.", prometheus.GaugeValue, "datname", "state")
	mBlocked                            = desc("pg_stat_activity_blocked_count", "Sessions waiting for another session's lock.", prometheus.GaugeValue)
	mMaxTx                              = desc("pg_stat_activity_max_tx_duration_seconds", "Age of the oldest open transaction of a client session.", prometheus.GaugeValue)
	mLag                                = desc("pg_replication_lag_seconds", "How far this standby's replay is behind (0 on a primary or when caught up).", prometheus.GaugeValue)
	mReplicaLag                         = desc("pg_stat_replication_replay_lag_seconds", "Replay lag of each replica, seen from the primary.", prometheus.GaugeValue, "application_name")
	mSlotActive                         = desc("pg_replication_slots_active", "Whether the replication slot has a consumer.", prometheus.GaugeValue, "slot_name")
	mSlotRetained                       = desc("pg_replication_slots_retained_bytes", "WAL the slot keeps from being removed.", prometheus.GaugeValue, "slot_name")
	mArchived                           = desc("pg_stat_archiver_archived_count_total", "WAL files archived.", prometheus.CounterValue)
	mArchFailed                         = desc("pg_stat_archiver_failed_count_total", "Failed attempts to archive WAL files.", prometheus.CounterValue)
	mWALBytes                           = desc("pg_stat_wal_bytes_total", "WAL generated.", prometheus.CounterValue)
	mDiskSize                           = desc("pgmedic_data_directory_fs_size_bytes", "Size of the file system holding the data directory (local servers).", prometheus.GaugeValue)
	mDiskFree                           = desc("pgmedic_data_directory_fs_free_bytes", "Free space on the file system holding the data directory (local servers).", prometheus.GaugeValue)
	mCacheHit                           = desc("pgmedic_cache_hit_ratio", "Buffer cache hit ratio over the last interval (0 to 1), when enough blocks were read.", prometheus.GaugeValue)
	mCollect                            = desc("pgmedic_collect_duration_seconds", "How long the last collection took.", prometheus.GaugeValue)
	mBackoff                            = desc("pgmedic_collect_backoff_seconds", "Extra wait before the next collection because the server was slow.", prometheus.GaugeValue)
	mCompliance                         = desc("pgmedic_compliance_score", "HIPAA compliance score (0 to 100) from the compliance checks.", prometheus.GaugeValue)
	mFiring                             = prometheus.NewDesc("pgmedic_alerts_firing", "Alerts firing, by rule.", []string{"alert"}, nil)
	allMetricDescs                      = []metricDesc{mUp, mMaxConns, mBackends, mCommit, mRollback, mBlksRead, mBlksHit, mDeadlocks, mTempBytes, mConflicts, mSize, mXIDAge, mActivity, mBlocked, mMaxTx, mLag, mReplicaLag, mSlotActive, mSlotRetained, mArchived, mArchFailed, mWALBytes, mDiskSize, mDiskFree, mCacheHit, mCollect, mBackoff, mCompliance}
	_              prometheus.Collector = (*Monitor)(nil)
)

// Describe sends every metric description (the Monitor is a prometheus.Collector).
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allMetricDescs {
		ch <- d.d
	}
	ch <- mFiring
}

// Collect sends the metrics of the latest samples; it reads no database, so a scrape
// costs the servers nothing.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.targets {
		m.collectTarget(ch, t)
	}
	firing := map[string]int{}
	for _, a := range m.book.firingNow() {
		firing[a.Name]++
	}
	for _, r := range m.rules {
		ch <- prometheus.MustNewConstMetric(mFiring, prometheus.GaugeValue, float64(firing[r.Name]), r.Name)
	}
}

func (m *Monitor) collectTarget(ch chan<- prometheus.Metric, t *target) {
	s := t.cur
	if s == nil {
		return
	}
	emit := func(d metricDesc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d.d, d.kind, v, append([]string{t.name}, labels...)...)
	}
	emit(mUp, b2f(s.Up))
	emit(mCollect, s.Took.Seconds())
	emit(mBackoff, s.Backoff.Seconds())
	if m.opts.Compliance != nil {
		if score, ok := m.opts.Compliance.ComplianceScore(t.name); ok {
			emit(mCompliance, score)
		}
	}
	if !s.Up || s.Snap == nil {
		return
	}
	emit(mMaxConns, float64(s.MaxConnections))
	for _, d := range s.Snap.Databases {
		emit(mBackends, float64(d.Backends), d.Name)
		emit(mCommit, float64(d.XactCommit), d.Name)
		emit(mRollback, float64(d.XactRollback), d.Name)
		emit(mBlksRead, float64(d.BlksRead), d.Name)
		emit(mBlksHit, float64(d.BlksHit), d.Name)
		emit(mDeadlocks, float64(d.Deadlocks), d.Name)
		emit(mTempBytes, float64(d.TempBytes), d.Name)
		emit(mConflicts, float64(d.Conflicts), d.Name)
		if d.SizeBytes >= 0 {
			emit(mSize, float64(d.SizeBytes), d.Name)
		}
		emit(mXIDAge, float64(d.FrozenXIDAge), d.Name)
	}
	m.activityMetrics(emit, s)
	m.replicationMetrics(emit, s)
	if a := s.Snap.Archiver; a != nil {
		emit(mArchived, float64(a.Archived))
		emit(mArchFailed, float64(a.Failed))
	}
	if w := s.Snap.WAL; w != nil {
		emit(mWALBytes, float64(w.Bytes))
	}
	if s.Disk != nil {
		emit(mDiskSize, float64(s.Disk.TotalBytes))
		emit(mDiskFree, float64(s.Disk.FreeBytes))
	}
	if pct, ok := cacheHitPct(s, t.prev); ok && t.prev != s {
		emit(mCacheHit, pct/100)
	}
}

func (m *Monitor) activityMetrics(emit func(metricDesc, float64, ...string), s *Sample) {
	type key struct{ db, state string }
	counts := map[key]int{}
	blocked := 0
	oldest := 0.0
	for _, x := range s.Snap.Sessions {
		if x.BackendType != "client backend" {
			continue
		}
		state := x.State
		if state == "" {
			state = "unknown"
		}
		counts[key{x.Database, state}]++
		if len(x.BlockedBy) > 0 {
			blocked++
		}
		if x.XactStart != nil {
			oldest = max(oldest, s.Snap.CollectedAt.Sub(*x.XactStart).Seconds())
		}
	}
	// Every database and state has a series, zero included, so a state's rate or absence
	// never has to be guessed from a missing series.
	for _, d := range s.Snap.Databases {
		for _, st := range sessionStates {
			if _, ok := counts[key{d.Name, st}]; !ok {
				counts[key{d.Name, st}] = 0
			}
		}
	}
	for k, n := range counts {
		emit(mActivity, float64(n), k.db, k.state)
	}
	emit(mBlocked, float64(blocked))
	emit(mMaxTx, oldest)
}

func (m *Monitor) replicationMetrics(emit func(metricDesc, float64, ...string), s *Sample) {
	r := s.Snap.Replication
	lag := 0.0
	if r.ReplayLagSeconds != nil {
		lag = *r.ReplayLagSeconds
	}
	emit(mLag, lag)
	for _, x := range r.Replicas {
		if x.ReplayLagSeconds != nil {
			emit(mReplicaLag, *x.ReplayLagSeconds, x.Application)
		}
	}
	for _, sl := range r.Slots {
		emit(mSlotActive, b2f(sl.Active), sl.Name)
		if sl.RetainedBytes != nil {
			emit(mSlotRetained, float64(*sl.RetainedBytes), sl.Name)
		}
	}
}

var sessionStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
