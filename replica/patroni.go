package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Patroni is what Patroni's REST API (/cluster) says of the cluster, judged.
type Patroni struct {
	URL     string          `json:"url"`
	Scope   string          `json:"scope,omitempty"`
	Paused  bool            `json:"paused"`
	Members []PatroniMember `json:"members"`
	Leaders int             `json:"leaders"`
	Reasons []string        `json:"reasons,omitempty"`
}

// PatroniMember is one member of the cluster.
type PatroniMember struct {
	Name     string `json:"name"`
	Role     string `json:"role"`  // leader, replica, sync_standby, standby_leader
	State    string `json:"state"` // running, streaming, stopped, starting ...
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Timeline int    `json:"timeline"`
	// LagBytes is nil when Patroni does not know it ("unknown").
	LagBytes   *int64 `json:"lag_bytes"`
	NoFailover bool   `json:"nofailover,omitempty"`
}

// patroniCluster is the /cluster document.
type patroniCluster struct {
	Scope   string `json:"scope"`
	Pause   bool   `json:"pause"`
	Members []struct {
		Name     string          `json:"name"`
		Role     string          `json:"role"`
		State    string          `json:"state"`
		Host     string          `json:"host"`
		Port     int             `json:"port"`
		Timeline int             `json:"timeline"`
		Lag      json.RawMessage `json:"lag"`
		Tags     map[string]any  `json:"tags"`
	} `json:"members"`
}

// ReadPatroni reads GET <url>/cluster.
func ReadPatroni(ctx context.Context, client *http.Client, url string) (*Patroni, error) {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	base := strings.TrimRight(url, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/cluster", nil)
	if err != nil {
		return nil, fmt.Errorf("replica: Patroni URL %q: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("replica: reading Patroni's /cluster: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("replica: reading Patroni's /cluster: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replica: Patroni's /cluster answered %s", resp.Status)
	}
	var doc patroniCluster
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("replica: Patroni's /cluster is not the expected JSON: %w", err)
	}
	p := &Patroni{URL: base, Scope: doc.Scope, Paused: doc.Pause}
	for _, m := range doc.Members {
		pm := PatroniMember{Name: m.Name, Role: m.Role, State: m.State, Host: m.Host, Port: m.Port, Timeline: m.Timeline}
		var lag int64
		if json.Unmarshal(m.Lag, &lag) == nil && len(m.Lag) > 0 {
			pm.LagBytes = &lag
		}
		if v, ok := m.Tags["nofailover"].(bool); ok {
			pm.NoFailover = v
		}
		p.Members = append(p.Members, pm)
	}
	return p, nil
}

// judge applies the failover conditions: exactly one leader, not paused, one timeline
// among the running members, and a replica that streams within maxLagBytes and may be
// promoted.
func (p *Patroni) judge(maxLagBytes int64) {
	timelines := map[int]bool{}
	candidates := 0
	for _, m := range p.Members {
		switch m.Role {
		case "leader", "standby_leader", "master", "primary":
			p.Leaders++
		case "replica", "sync_standby":
			ok := (m.State == "running" || m.State == "streaming") && !m.NoFailover && m.LagBytes != nil && *m.LagBytes <= maxLagBytes
			if ok {
				candidates++
			}
		}
		if m.State == "running" || m.State == "streaming" {
			timelines[m.Timeline] = true
		}
	}
	if p.Leaders != 1 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("Patroni reports %d leaders, not one", p.Leaders))
	}
	if p.Paused {
		p.Reasons = append(p.Reasons, "Patroni is paused: it will not fail over")
	}
	if len(timelines) > 1 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("Patroni's members run on %d timelines", len(timelines)))
	}
	if candidates == 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no Patroni replica is running within %d bytes of the leader and allowed to fail over", maxLagBytes))
	}
}
