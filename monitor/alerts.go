package monitor

import (
	"sort"
	"time"
)

// Alert states in the API.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// Alert is one alert as /api/v1/alerts and the sinks see it.
type Alert struct {
	Name       string            `json:"name"`
	State      string            `json:"state"`
	Severity   string            `json:"severity"`
	Labels     map[string]string `json:"labels"`
	Summary    string            `json:"summary"`
	StartedAt  time.Time         `json:"started_at"`
	ResolvedAt *time.Time        `json:"resolved_at"`
	Value      float64           `json:"-"`
}

// Event is a change of state sent to the sinks: an alert started firing or resolved.
type Event struct {
	Alert Alert `json:"alert"`
}

// active is an alert whose condition holds: pending until its `for` has passed.
type active struct {
	alert        Alert
	pendingSince time.Time
	firing       bool
}

// keepResolved bounds how many resolved alerts the API still shows.
const keepResolved = 200

// alertBook tracks the alerts of every rule and target. One instance (rule and labels)
// is one alert: it notifies once when it fires and once when it resolves, however many
// collections see it in between.
type alertBook struct {
	active   map[string]*active // by labelKey
	resolved []Alert            // newest last
}

func newAlertBook() *alertBook { return &alertBook{active: map[string]*active{}} }

// update applies one rule's instances on one target and returns the events.
func (b *alertBook) update(targetName string, r Rule, forDur time.Duration, now time.Time, instances []Instance) []Event {
	var events []Event
	seen := map[string]bool{}
	for _, in := range instances {
		labels := map[string]string{"target": targetName}
		for k, v := range in.Labels {
			labels[k] = v
		}
		key := labelKey(r.Name, labels)
		seen[key] = true
		a := b.active[key]
		if a == nil {
			a = &active{pendingSince: now, alert: Alert{Name: r.Name, Severity: r.Severity, Labels: labels}}
			b.active[key] = a
		}
		a.alert.Summary, a.alert.Value, a.alert.Severity = in.Summary, in.Value, r.Severity
		if !a.firing && now.Sub(a.pendingSince) >= forDur {
			a.firing = true
			a.alert.State, a.alert.StartedAt = Firing, now
			events = append(events, Event{Alert: a.alert})
		}
	}
	for key, a := range b.active {
		if seen[key] || a.alert.Name != r.Name || a.alert.Labels["target"] != targetName {
			continue
		}
		delete(b.active, key)
		if !a.firing {
			continue // pending only: it never fired, so nothing resolves
		}
		t := now
		a.alert.State, a.alert.ResolvedAt = Resolved, &t
		b.resolved = append(b.resolved, a.alert)
		if len(b.resolved) > keepResolved {
			b.resolved = b.resolved[len(b.resolved)-keepResolved:]
		}
		events = append(events, Event{Alert: a.alert})
	}
	return events
}

// list returns firing alerts, then resolved ones, newest first within each.
func (b *alertBook) list() []Alert {
	var firing []Alert
	for _, a := range b.active {
		if a.firing {
			firing = append(firing, copyAlert(a.alert))
		}
	}
	sort.Slice(firing, func(i, j int) bool {
		if !firing[i].StartedAt.Equal(firing[j].StartedAt) {
			return firing[i].StartedAt.After(firing[j].StartedAt)
		}
		return labelKey(firing[i].Name, firing[i].Labels) < labelKey(firing[j].Name, firing[j].Labels)
	})
	out := firing
	for i := len(b.resolved) - 1; i >= 0; i-- {
		out = append(out, copyAlert(b.resolved[i]))
	}
	return out
}

func copyAlert(a Alert) Alert {
	l := make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		l[k] = v
	}
	a.Labels = l
	return a
}

// firingNow returns the alerts firing now (Alertmanager wants them all on every push).
func (b *alertBook) firingNow() []Alert {
	var out []Alert
	for _, a := range b.active {
		if a.firing {
			out = append(out, copyAlert(a.alert))
		}
	}
	return out
}
