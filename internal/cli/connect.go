package cli

import (
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/pgconn"
)

// loadConfig reads the configuration once per invocation.
func (a *app) loadConfig() (*config.Profile, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, err := config.Load(a.configPath, a.profile, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// intent says what a command will do with its sessions.
type intent int

const (
	readOnly intent = iota // analysis: read-only transactions
	writes                 // actions and loading: read-write
)

// policy turns the configuration's connection section into pgmedic's session policy.
func (a *app) policy(cfg *config.Profile, what intent) pgconn.Policy {
	p := pgconn.Policy{
		RequireVerifyFull:        cfg.Connection.RequireVerifyFull,
		StatementTimeout:         cfg.Connection.StatementTimeout.Duration,
		LockTimeout:              cfg.Connection.LockTimeout.Duration,
		IdleInTransactionTimeout: cfg.Connection.IdleInTransactionTimeout.Duration,
		ApplicationName:          cfg.Connection.ApplicationName,
		Write:                    what == writes,
		Warn:                     func(msg string) { a.logf("pgmedic: warning: %s", a.scrub(msg)) },
	}
	return p
}

// pool opens a pool on --dsn (or the libpq environment) under the policy.
func (a *app) pool(what intent, maxConns int32, statementTimeout *time.Duration) (*pgxpool.Pool, error) {
	return a.poolFor(a.dsn, what, maxConns, statementTimeout, "")
}

// poolFor opens a pool on dsn under the policy; appName overrides the session name.
func (a *app) poolFor(dsn string, what intent, maxConns int32, statementTimeout *time.Duration, appName string) (*pgxpool.Pool, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	p := a.policy(cfg, what)
	if statementTimeout != nil {
		p.StatementTimeout = *statementTimeout
	}
	if appName != "" {
		p.ApplicationName = appName
	}
	pc, err := pgconn.ParsePoolConfig(dsn, p)
	if err != nil {
		return nil, err
	}
	if pc.ConnConfig.Password != "" {
		a.secrets = append(a.secrets, pc.ConnConfig.Password)
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	return pgconn.NewPoolFromConfig(a.ctx, pc)
}
