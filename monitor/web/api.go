package web

import (
	"encoding/json"
	"net/http"

	"github.com/pgmedic/pgmedic/monitor"
)

// alertsBody is the /api/v1/alerts contract:
// {"alerts": [{"name", "state": "firing"|"resolved", "severity", "labels", "summary",
// "started_at", "resolved_at"}]}, firing alerts first, resolved_at null while firing.
type alertsBody struct {
	Alerts []monitor.Alert `json:"alerts"`
}

func (s *Server) alertsAPI(w http.ResponseWriter, r *http.Request) {
	alerts := s.m.Alerts()
	if alerts == nil {
		alerts = []monitor.Alert{}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(alertsBody{Alerts: alerts})
}
