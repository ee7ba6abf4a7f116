package health

import (
	"fmt"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
)

func replicationChecks() []Check {
	return []Check{
		{
			ID: "replication.lag", Area: "replication", Severity: finding.High,
			Title:       "Replication lag",
			Description: "Replicas that replay WAL later than the threshold: reads routed to them (patient look-ups, reports) see stale data, and a failover loses what they have not received.",
			Needs:       []string{"replication"},
			Thresholds: []Threshold{{Name: "max_seconds", Unit: "s",
				FromConfig: func(p *config.Profile) float64 { return p.Monitor.AlertThresholds.ReplicationLag.Seconds() }}},
			References: []finding.Reference{finding.DocsRef("warm-standby.html#STREAMING-REPLICATION-MONITORING", "Monitoring streaming replication")},
			Run:        checkReplicationLag,
		},
		{
			ID: "replication.inactive_slot", Area: "replication", Severity: finding.Medium,
			Title:       "Replication slots nothing consumes",
			Description: "An inactive slot keeps every WAL segment its consumer has not confirmed, and holds back VACUUM for logical slots, until the disk fills.",
			Needs:       []string{"replication"},
			Thresholds: []Threshold{
				{Name: "high_retained_bytes", Default: 1 << 30, Unit: "bytes"},
			},
			References: []finding.Reference{finding.DocsRef("warm-standby.html#STREAMING-REPLICATION-SLOTS", "Replication Slots")},
			Run:        checkInactiveSlots,
		},
	}
}

func checkReplicationLag(c *Context) []finding.Finding {
	var out []finding.Finding
	rep := c.Snap.Replication
	max := c.T("max_seconds")
	if c.Snap.Server.InRecovery && rep.ReplayLagSeconds != nil && *rep.ReplayLagSeconds > max {
		f := c.New("this standby", fmt.Sprintf("This standby replays %s behind its primary", durHuman(*rep.ReplayLagSeconds)))
		f.Evidence = []finding.Evidence{ev("replay_lag", round1(*rep.ReplayLagSeconds), "s")}
		if rep.ReceiveLagBytes != nil {
			f.Evidence = append(f.Evidence, ev("received_not_replayed", float64(*rep.ReceiveLagBytes), "bytes"))
		}
		f.Recommendation = "Look for replay conflicts with long queries on the standby (max_standby_streaming_delay), I/O saturation, or a network bottleneck."
		out = append(out, *f)
	}
	for _, r := range rep.Replicas {
		lag := 0.0
		if r.ReplayLagSeconds != nil {
			lag = *r.ReplayLagSeconds
		}
		if lag <= max {
			continue
		}
		f := c.New("replica "+r.Application, fmt.Sprintf("Replica %s replays %s behind", r.Application, durHuman(lag)))
		f.Evidence = []finding.Evidence{ev("replay_lag", round1(lag), "s")}
		if r.ReplayLagBytes != nil {
			f.Evidence = append(f.Evidence, ev("replay_lag_bytes", float64(*r.ReplayLagBytes), "bytes"))
		}
		f.Detail = fmt.Sprintf("State %s, sync state %s.", r.State, r.SyncState)
		f.Recommendation = "Route reads that must be current (a patient's latest results) to the primary while the replica catches up; find why it lags."
		out = append(out, *f)
	}
	return out
}

func checkInactiveSlots(c *Context) []finding.Finding {
	var out []finding.Finding
	for _, s := range c.Snap.Replication.Slots {
		if s.Active {
			continue
		}
		retained := int64(0)
		if s.RetainedBytes != nil {
			retained = *s.RetainedBytes
		}
		f := c.New("slot "+s.Name, fmt.Sprintf("Replication slot %s is inactive and retains %s of WAL", s.Name, bytesHuman(retained)))
		switch {
		case s.WALStatus == "lost":
			f.Severity = finding.High
			f.Detail = "The WAL it needed is gone: its consumer can never resume from it."
		case s.WALStatus == "unreserved":
			f.Severity = finding.Critical
			f.Detail = "It retains more WAL than max_wal_size allows and is about to be invalidated."
		case float64(retained) >= c.T("high_retained_bytes"):
			f.Severity = finding.High
		}
		f.Evidence = []finding.Evidence{ev("retained_bytes", float64(retained), "bytes")}
		if s.SafeWALSize != nil {
			f.Evidence = append(f.Evidence, ev("safe_wal_size", float64(*s.SafeWALSize), "bytes"))
		}
		if f.Detail == "" {
			f.Detail = fmt.Sprintf("A %s slot%s with no consumer connected.", s.Type, map[bool]string{true: " on database " + s.Database, false: ""}[s.Database != ""])
		}
		f.Recommendation = "Reconnect its consumer (a replica, a CDC pipeline, a backup tool) or drop the slot. Set max_slot_wal_keep_size so a forgotten slot cannot fill the disk."
		f.Fix = &finding.Plan{Summary: "Drop the slot (only once you are sure no consumer will come back for it)", Steps: []finding.Step{{
			Description: "drop slot " + s.Name,
			SQL:         fmt.Sprintf("SELECT pg_drop_replication_slot(%s)", quoteLiteral(s.Name)),
		}}}
		out = append(out, *f)
	}
	return out
}
