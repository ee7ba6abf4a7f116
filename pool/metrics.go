package pool

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pools' Prometheus series, labelled by pool (the workload profile).
// Counters end in _total and times are in seconds, as Prometheus' conventions say.
type metrics struct {
	acquireWait *prometheus.HistogramVec
	rejected    *prometheus.CounterVec
	routed      *prometheus.CounterVec
	guarded     *prometheus.CounterVec
	benched     *prometheus.CounterVec
	p           *Pools // gauges are read from the pools at scrape time

	inUse, idle, total, limit, lagBytes *prometheus.Desc
}

func newMetrics() *metrics {
	return &metrics{
		acquireWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pgmedic_pool_acquire_wait_seconds", Help: "Time from Acquire to a connection: admission gate plus pool.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"pool"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmedic_pool_rejected_total", Help: "Acquisitions refused: the admission wait timed out or no server could serve.",
		}, []string{"pool", "reason"}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmedic_pool_routed_total", Help: "Connections handed out, by the server role that served them.",
		}, []string{"pool", "target"}),
		guarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmedic_pool_guard_broad_phi_reads_total", Help: "Broad reads of PHI tables seen by the query guard, by action (log or reject).",
		}, []string{"pool", "action"}),
		benched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmedic_pool_replica_benched_total", Help: "Times a replica was taken out of routing after a failure.",
		}, []string{"replica"}),
		inUse: prometheus.NewDesc("pgmedic_pool_connections_in_use", "Connections checked out.", []string{"pool", "node"}, nil),
		idle:  prometheus.NewDesc("pgmedic_pool_connections_idle", "Idle connections.", []string{"pool", "node"}, nil),
		total: prometheus.NewDesc("pgmedic_pool_connections", "Open connections.", []string{"pool", "node"}, nil),
		limit: prometheus.NewDesc("pgmedic_pool_admission_limit", "Current admission limit of the profile.", []string{"pool"}, nil),
		lagBytes: prometheus.NewDesc("pgmedic_pool_replica_lag_bytes", "Replay lag of a replica behind the primary, in bytes.",
			[]string{"replica"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.acquireWait.Describe(ch)
	m.rejected.Describe(ch)
	m.routed.Describe(ch)
	m.guarded.Describe(ch)
	m.benched.Describe(ch)
	for _, d := range []*prometheus.Desc{m.inUse, m.idle, m.total, m.limit, m.lagBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: pool gauges come from pgxpool's Stat at
// scrape time.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.acquireWait.Collect(ch)
	m.rejected.Collect(ch)
	m.routed.Collect(ch)
	m.guarded.Collect(ch)
	m.benched.Collect(ch)
	if m.p == nil {
		return
	}
	for _, pr := range m.p.profiles {
		for i, pp := range pr.pools {
			if pp == nil {
				continue
			}
			st := pp.Stat()
			node := m.p.nodes[i].name
			ch <- prometheus.MustNewConstMetric(m.inUse, prometheus.GaugeValue, float64(st.AcquiredConns()), string(pr.Name), node)
			ch <- prometheus.MustNewConstMetric(m.idle, prometheus.GaugeValue, float64(st.IdleConns()), string(pr.Name), node)
			ch <- prometheus.MustNewConstMetric(m.total, prometheus.GaugeValue, float64(st.TotalConns()), string(pr.Name), node)
		}
		limit, _ := pr.gate.current()
		ch <- prometheus.MustNewConstMetric(m.limit, prometheus.GaugeValue, float64(limit), string(pr.Name))
	}
	for _, n := range m.p.nodes[1:] {
		ch <- prometheus.MustNewConstMetric(m.lagBytes, prometheus.GaugeValue, float64(n.snapshot().LagBytes), n.name)
	}
}
