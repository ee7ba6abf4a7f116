package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Sink receives alert events. Send may block (it runs on the sink's own goroutine) and
// should retry what is worth retrying; firing is every alert firing at the time.
type Sink interface {
	Name() string
	Send(ctx context.Context, events []Event, firing []Alert) error
}

// LogSink writes each event as one structured log record.
type LogSink struct{ Logger *slog.Logger }

func (s LogSink) Name() string { return "log" }

func (s LogSink) Send(_ context.Context, events []Event, _ []Alert) error {
	for _, ev := range events {
		a := ev.Alert
		level := slog.LevelInfo
		if a.State == Firing && a.Severity == Critical {
			level = slog.LevelError
		} else if a.State == Firing {
			level = slog.LevelWarn
		}
		args := []any{"alert", a.Name, "state", a.State, "severity", a.Severity, "summary", a.Summary,
			"started_at", a.StartedAt.Format(time.RFC3339)}
		for k, v := range a.Labels {
			args = append(args, "label_"+k, v)
		}
		s.Logger.Log(context.Background(), level, "pgmedic alert", args...)
	}
	return nil
}

// Retry says how a sink retries a failed delivery: Attempts in all, the first wait
// Backoff, doubling.
type Retry struct {
	Attempts int
	Backoff  time.Duration
}

func (r Retry) orDefault() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = time.Second
	}
	return r
}

// WebhookSink POSTs {"events": [...]} as JSON, retrying on network errors, 429 and 5xx.
type WebhookSink struct {
	URL    string
	Client *http.Client
	Retry  Retry
}

func (s WebhookSink) Name() string { return "webhook" }

func (s WebhookSink) Send(ctx context.Context, events []Event, _ []Alert) error {
	alerts := make([]Alert, len(events))
	for i, ev := range events {
		alerts[i] = ev.Alert
	}
	body, err := json.Marshal(map[string]any{"source": "pgmedic", "alerts": alerts})
	if err != nil {
		return err
	}
	return post(ctx, s.Client, s.URL, body, s.Retry)
}

// AlertmanagerSink POSTs to Alertmanager's /api/v2/alerts: every firing alert on each
// change (Alertmanager expects them repeated) plus the resolved ones with their end time.
type AlertmanagerSink struct {
	URL    string // base, e.g. http://alertmanager:9093
	Client *http.Client
	Retry  Retry
	// GeneratorURL links back to the dashboard's alerts page.
	GeneratorURL string
}

func (s AlertmanagerSink) Name() string { return "alertmanager" }

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Refresh re-sends the firing alerts: Alertmanager resolves an alert by itself when it
// has not heard of it for its resolve_timeout (5 minutes by default).
func (s AlertmanagerSink) Refresh(ctx context.Context, firing []Alert) error {
	if len(firing) == 0 {
		return nil
	}
	return s.Send(ctx, nil, firing)
}

func (s AlertmanagerSink) Send(ctx context.Context, events []Event, firing []Alert) error {
	var out []amAlert
	add := func(a Alert) {
		labels := map[string]string{"alertname": a.Name, "severity": a.Severity}
		for k, v := range a.Labels {
			labels[k] = v
		}
		out = append(out, amAlert{Labels: labels, Annotations: map[string]string{"summary": a.Summary},
			StartsAt: a.StartedAt, EndsAt: a.ResolvedAt, GeneratorURL: s.GeneratorURL})
	}
	for _, a := range firing {
		add(a)
	}
	for _, ev := range events {
		if ev.Alert.State == Resolved {
			add(ev.Alert)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return post(ctx, s.Client, strings.TrimRight(s.URL, "/")+"/api/v2/alerts", body, s.Retry)
}

func post(ctx context.Context, client *http.Client, url string, body []byte, r Retry) error {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	r = r.orDefault()
	wait := r.Backoff
	var last error
	for attempt := 1; attempt <= r.Attempts; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			switch {
			case resp.StatusCode < 300:
				return nil
			case resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500:
				return fmt.Errorf("POST %s: %s (not retried)", url, resp.Status)
			}
			err = fmt.Errorf("POST %s: %s", url, resp.Status)
		}
		last = err
		if attempt == r.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", last, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	return fmt.Errorf("%w (after %d attempts)", last, r.Attempts)
}

// dispatcher feeds each sink from its own queue, so a slow webhook never delays a
// collection; a full queue drops the batch and says so.
type dispatcher struct {
	sinks  []Sink
	log    *slog.Logger
	queues []chan batch
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	n      int
}

type batch struct {
	events  []Event
	firing  []Alert
	refresh bool // only for sinks that want the firing alerts repeated
}

// Refresher is a sink that wants the firing alerts repeated now and then.
type Refresher interface {
	Refresh(ctx context.Context, firing []Alert) error
}

func newDispatcher(sinks []Sink, log *slog.Logger) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{sinks: sinks, log: log, done: make(chan struct{}, len(sinks)), ctx: ctx, cancel: cancel, n: len(sinks)}
	for _, s := range sinks {
		q := make(chan batch, 256)
		d.queues = append(d.queues, q)
		go func() {
			defer func() { d.done <- struct{}{} }()
			for b := range q {
				var err error
				if b.refresh {
					err = s.(Refresher).Refresh(ctx, b.firing)
				} else {
					err = s.Send(ctx, b.events, b.firing)
				}
				if err != nil {
					log.Error("monitor: alert delivery failed", "sink", s.Name(), "error", err.Error())
				}
			}
		}()
	}
	return d
}

func (d *dispatcher) send(events []Event, firing []Alert) {
	for i, q := range d.queues {
		select {
		case q <- batch{events: events, firing: firing}:
		default:
			d.log.Error("monitor: alert queue full; events dropped", "sink", d.sinks[i].Name(), "events", len(events))
		}
	}
}

// refresh queues the firing alerts for the sinks that repeat them.
func (d *dispatcher) refresh(firing []Alert) {
	for i, q := range d.queues {
		if _, ok := d.sinks[i].(Refresher); !ok {
			continue
		}
		select {
		case q <- batch{firing: firing, refresh: true}:
		default:
		}
	}
}

// close lets the sinks deliver what is queued for up to grace, then cancels them.
func (d *dispatcher) close(grace time.Duration) {
	for _, q := range d.queues {
		close(q)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for range d.n {
		select {
		case <-d.done:
		case <-timer.C:
			d.cancel()
			<-d.done
		}
	}
	d.cancel()
}
