package monitor_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/monitor"
)

// receiver is a real HTTP peer that records what it is sent, failing the first `fail`
// requests with `status`.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
	fail   int
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.paths = append(rc.paths, r.URL.Path)
	if rc.fail > 0 {
		rc.fail--
		w.WriteHeader(rc.status)
		return
	}
	rc.bodies = append(rc.bodies, body)
}

func (rc *receiver) got() ([][]byte, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), len(rc.paths)
}

func sampleEvents() []monitor.Event {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	end := at.Add(time.Minute)
	return []monitor.Event{
		{Alert: monitor.Alert{Name: "connections", State: monitor.Firing, Severity: monitor.Warning,
			Labels: map[string]string{"target": "db1"}, Summary: "85%", StartedAt: at}},
		{Alert: monitor.Alert{Name: "deadlocks", State: monitor.Resolved, Severity: monitor.Warning,
			Labels: map[string]string{"target": "db1"}, Summary: "1 deadlock", StartedAt: at, ResolvedAt: &end}},
	}
}

func TestWebhookRetriesUntilDelivered(t *testing.T) {
	rc := &receiver{fail: 2, status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sink := monitor.WebhookSink{URL: srv.URL, Retry: monitor.Retry{Attempts: 4, Backoff: 10 * time.Millisecond}}
	if err := sink.Send(context.Background(), sampleEvents(), nil); err != nil {
		t.Fatal(err)
	}
	bodies, requests := rc.got()
	if requests != 3 || len(bodies) != 1 {
		t.Fatalf("%d requests, %d delivered; want 3 and 1", requests, len(bodies))
	}
	var got struct {
		Alerts []monitor.Alert `json:"alerts"`
	}
	if err := json.Unmarshal(bodies[0], &got); err != nil || len(got.Alerts) != 2 || got.Alerts[1].ResolvedAt == nil {
		t.Errorf("body %s: %v", bodies[0], err)
	}

	// A client error is not retried.
	bad := &receiver{fail: 5, status: http.StatusBadRequest}
	srv2 := httptest.NewServer(bad)
	defer srv2.Close()
	err := monitor.WebhookSink{URL: srv2.URL, Retry: monitor.Retry{Attempts: 4, Backoff: time.Millisecond}}.Send(context.Background(), sampleEvents(), nil)
	if _, n := bad.got(); err == nil || n != 1 {
		t.Errorf("400: error %v after %d requests, want an error after 1", err, n)
	}
	// Giving up after the attempts says so.
	down := &receiver{fail: 10, status: http.StatusInternalServerError}
	srv3 := httptest.NewServer(down)
	defer srv3.Close()
	err = monitor.WebhookSink{URL: srv3.URL, Retry: monitor.Retry{Attempts: 3, Backoff: time.Millisecond}}.Send(context.Background(), sampleEvents(), nil)
	if _, n := down.got(); err == nil || n != 3 {
		t.Errorf("500s: error %v after %d requests, want an error after 3", err, n)
	}
}

func TestAlertmanagerReceivesFiringAndResolved(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	events := sampleEvents()
	firing := []monitor.Alert{events[0].Alert}
	if err := (monitor.AlertmanagerSink{URL: srv.URL + "/"}).Send(context.Background(), events, firing); err != nil {
		t.Fatal(err)
	}
	bodies, _ := rc.got()
	if len(bodies) != 1 || rc.paths[0] != "/api/v2/alerts" {
		t.Fatalf("paths %v", rc.paths)
	}
	var got []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      *time.Time        `json:"endsAt"`
	}
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Labels["alertname"] != "connections" || got[0].EndsAt != nil ||
		got[1].Labels["alertname"] != "deadlocks" || got[1].EndsAt == nil || got[1].Labels["severity"] != "warning" ||
		got[0].Annotations["summary"] != "85%" || got[0].Labels["target"] != "db1" {
		t.Errorf("alertmanager body: %s", bodies[0])
	}
}

// Through a running monitor, one alert notifies once when it fires and once when it
// resolves, however many collections see it in between.
func TestSinksGetEachTransitionOnce(t *testing.T) {
	db := pg.NewDB(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	r := start(t, []string{db.SocketURI}, func(o *monitor.Options) {
		o.Thresholds.IdleInTransaction = 500 * time.Millisecond
		o.Sinks = []monitor.Sink{monitor.WebhookSink{URL: srv.URL, Retry: monitor.Retry{Backoff: time.Millisecond}}}
	})
	idle := connect(t, db.SocketURI)
	ctx := context.Background()
	fireAndResolve(t, r, "idle_in_transaction", nil, func() {
		idle.Exec(ctx, "BEGIN; SELECT 1")
		waitAlert(t, r.m, "idle_in_transaction", monitor.Firing, nil)
		time.Sleep(5 * testInterval) // several collections see it firing
	}, func() { idle.Exec(ctx, "COMMIT") })
	deadline := time.Now().Add(30 * time.Second)
	var states []string
	for time.Now().Before(deadline) {
		states = states[:0]
		bodies, _ := rc.got()
		for _, b := range bodies {
			var got struct{ Alerts []monitor.Alert }
			json.Unmarshal(b, &got)
			for _, a := range got.Alerts {
				if a.Name == "idle_in_transaction" {
					states = append(states, a.State)
				}
			}
		}
		if len(states) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(states) != 2 || states[0] != monitor.Firing || states[1] != monitor.Resolved {
		t.Errorf("webhook saw %v, want [firing resolved]", states)
	}
}

func TestAlertmanagerRefreshRepeatsFiring(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sink := monitor.AlertmanagerSink{URL: srv.URL}
	if err := sink.Refresh(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, n := rc.got(); n != 0 {
		t.Errorf("nothing firing, yet %d requests", n)
	}
	if err := sink.Refresh(context.Background(), []monitor.Alert{sampleEvents()[0].Alert}); err != nil {
		t.Fatal(err)
	}
	bodies, _ := rc.got()
	if len(bodies) != 1 || !strings.Contains(string(bodies[0]), `"alertname":"connections"`) || strings.Contains(string(bodies[0]), "endsAt") {
		t.Errorf("refresh body: %s", bodies)
	}
}
