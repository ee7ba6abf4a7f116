package compliance

import (
	"context"
	"sync"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/pgconn"
)

// ScoreSource audits targets on a schedule of its own and serves their latest scores to
// the monitor (monitor.ComplianceSource). An audit samples values and reads the catalog,
// which a monitor's interval is too short for; every few minutes keeps the score current.
type ScoreSource struct {
	cfg    *config.Profile
	policy pgconn.Policy
	every  time.Duration
	warn   func(target string, err error)

	mu      sync.Mutex
	targets map[string]string // name -> connection string
	scores  map[string]float64
}

// NewScoreSource audits every `every` (at least a minute) with the session policy given.
func NewScoreSource(cfg *config.Profile, policy pgconn.Policy, every time.Duration, warn func(target string, err error)) *ScoreSource {
	return &ScoreSource{cfg: cfg, policy: policy, every: max(every, time.Minute), warn: warn,
		targets: map[string]string{}, scores: map[string]float64{}}
}

// Add names a target (as the monitor names it) and its connection string.
func (s *ScoreSource) Add(name, dsn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets[name] = dsn
}

// ComplianceScore returns the latest score of a target, if one was taken.
func (s *ScoreSource) ComplianceScore(target string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.scores[target]
	return v, ok
}

// Run audits every target now and then every interval, until ctx ends.
func (s *ScoreSource) Run(ctx context.Context) {
	for {
		s.mu.Lock()
		targets := make(map[string]string, len(s.targets))
		for k, v := range s.targets {
			targets[k] = v
		}
		s.mu.Unlock()
		for name, dsn := range targets {
			score, err := s.audit(ctx, dsn)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if s.warn != nil {
					s.warn(name, err)
				}
				continue
			}
			s.mu.Lock()
			s.scores[name] = score
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.every):
		}
	}
}

func (s *ScoreSource) audit(ctx context.Context, dsn string) (float64, error) {
	conn, err := pgconn.Connect(ctx, dsn, s.policy)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	rep, err := Audit(ctx, conn, s.cfg, AuditOptions{Discover: DiscoverOptions{Sample: 100}})
	if err != nil {
		return 0, err
	}
	return rep.Score, nil
}
