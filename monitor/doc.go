// Package monitor watches PostgreSQL servers on an interval: it reads each target through
// one pgconn session (statement and lock timeouts, its queries marked so that workload
// analysis leaves them out), keeps a bounded history in memory, evaluates alert rules
// declared as data (thresholds from the configuration, each with a `for` duration and a
// severity) and sends alerts as they fire and resolve to sinks (structured log, webhook,
// Alertmanager). It exposes its state for Prometheus (Collector) and for the HTTP API and
// dashboard in monitor/web.
//
//	m, err := monitor.New([]string{dsn}, opts)
//	go m.Run(ctx) // until ctx is cancelled (SIGTERM)
//	alerts := m.Alerts()
package monitor
