package replica

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parseLSN reads PostgreSQL's pg_lsn text ("16/B374D848"); "" is 0.
func parseLSN(s string) uint64 {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0
	}
	return h<<32 | l
}

const stoodStill = "replay stood still"

// readyBacklog is how many WAL files may wait for the archiver before it counts as
// falling behind.
const readyBacklog = 64

// judge decides which replicas lag and whether the cluster is ready.
func (st *Status) judge(first []Replica, opts Options) {
	for i := range st.Replicas {
		r := &st.Replicas[i]
		r.judge(first, opts)
		if sb := st.standbyFor(r); sb != nil {
			r.judgeStandby(sb, st.Primary.Timeline, opts)
		}
		r.Lagging = len(r.Reasons) > 0
	}
	st.Archiving.judge()
	healthy := 0
	for _, r := range st.Replicas {
		if !r.Lagging {
			healthy++
		}
	}
	switch {
	case len(st.Replicas) == 0:
		st.Reasons = append(st.Reasons, "no standby is connected to the primary")
	case healthy == 0:
		var why []string
		for _, r := range st.Replicas {
			why = append(why, fmt.Sprintf("%s: %s", display(r.Name), strings.Join(r.Reasons, ", ")))
		}
		st.Reasons = append(st.Reasons, "no standby is streaming under the lag bound ("+strings.Join(why, "; ")+")")
	}
	if !st.Archiving.Healthy {
		st.Reasons = append(st.Reasons, "archiving: "+st.Archiving.Reason)
	}
	if st.Patroni != nil {
		st.Reasons = append(st.Reasons, st.Patroni.Reasons...)
	}
	st.Ready = len(st.Reasons) == 0
}

func display(name string) string {
	if name == "" {
		return "(unnamed standby)"
	}
	return name
}

// judge applies the bounds and compares with the first reading: WAL waiting to be
// replayed while replay stood still between the readings is a stuck (or paused) replay.
func (r *Replica) judge(first []Replica, opts Options) {
	switch r.State {
	case "streaming":
	case "":
		// pg_stat_replication hides a standby's details from roles without pg_monitor.
		r.Reasons = append(r.Reasons, "state unknown: the role may not read pg_stat_replication's details (grant pg_monitor)")
	default:
		r.Reasons = append(r.Reasons, fmt.Sprintf("state %s, not streaming", r.State))
	}
	if r.LagBytes > opts.MaxLagBytes {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d bytes of WAL not replayed (bound %d)", r.LagBytes, opts.MaxLagBytes))
	}
	if r.LagSeconds != nil && *r.LagSeconds > opts.MaxLag.Seconds() {
		r.Reasons = append(r.Reasons, fmt.Sprintf("replay lag %.1fs (bound %s)", *r.LagSeconds, opts.MaxLag))
	}
	for _, f := range first {
		if f.Name != r.Name || f.ClientAddr != r.ClientAddr {
			continue
		}
		waiting := parseLSN(r.FlushLSN) > parseLSN(r.ReplayLSN)
		if waiting && parseLSN(f.ReplayLSN) == parseLSN(r.ReplayLSN) {
			r.Stuck = true
			r.Reasons = append(r.Reasons, fmt.Sprintf(stoodStill+" at %s for %s with received WAL waiting", r.ReplayLSN, opts.Interval))
		}
	}
}

// standbyFor is the standby session that belongs to r: the one whose cluster_name is
// r's application_name, or the only one when there is one replica.
func (st *Status) standbyFor(r *Replica) *Standby {
	for i := range st.Standbys {
		if s := &st.Standbys[i]; s.ClusterName != "" && s.ClusterName == r.Name {
			return s
		}
	}
	if len(st.Standbys) == 1 && len(st.Replicas) == 1 {
		return &st.Standbys[0]
	}
	return nil
}

func (r *Replica) judgeStandby(s *Standby, timeline int, opts Options) {
	if s.Error != "" {
		return
	}
	paused := s.PauseState != "not paused"
	r.Paused = &paused
	if paused {
		// Paused replay lags even when nothing is written: the next write will not reach
		// it. The pause also explains a replay that stood still.
		r.Reasons = slices.DeleteFunc(r.Reasons, func(s string) bool { return strings.HasPrefix(s, stoodStill) })
		r.Reasons = append(r.Reasons, "replay is "+s.PauseState+" (pg_wal_replay_pause)")
	}
	if s.ReplayDelaySecs != nil && *s.ReplayDelaySecs > opts.MaxLag.Seconds() {
		r.Reasons = append(r.Reasons, fmt.Sprintf("last replayed commit %.0fs old with WAL waiting", *s.ReplayDelaySecs))
	}
	if s.Timeline != 0 && timeline != 0 && s.Timeline != timeline {
		r.Reasons = append(r.Reasons, fmt.Sprintf("timeline %d, primary on %d", s.Timeline, timeline))
	}
}

func (a *Archiving) judge() {
	a.Healthy = false
	switch {
	case a.Mode == "off":
		a.Reason = "archive_mode is off: there is no WAL archive to recover or rebuild a standby from"
	case a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime)):
		a.Reason = fmt.Sprintf("the last attempt to archive WAL failed (%d failures)", a.Failed)
	case a.ReadyFiles != nil && *a.ReadyFiles > readyBacklog:
		a.Reason = fmt.Sprintf("%d WAL files wait to be archived", *a.ReadyFiles)
	default:
		a.Healthy = true
	}
}
