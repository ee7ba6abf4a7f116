// Package pgconn is pgmedic's connection policy: the one place that turns a DSN, a URI or
// the libpq environment into pgx configurations. Every session it opens identifies itself
// as pgmedic, runs under statement, lock and idle-in-transaction timeouts, reads in
// read-only transactions unless an action was asked for, and refuses unverified TLS to a
// remote host when the policy demands it. Passwords never reach an error or a log line.
package pgconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgmedic/pgmedic/internal/pgerr"
)

// Policy says how pgmedic's sessions behave.
type Policy struct {
	// RequireVerifyFull refuses a non-loopback host unless every way the driver might
	// connect uses TLS with certificate and host name verification (sslmode=verify-full).
	// The production profile sets it; otherwise an unverified or plaintext connection
	// to a remote host only produces a warning.
	RequireVerifyFull bool
	// StatementTimeout, LockTimeout and IdleInTransactionTimeout become session settings
	// unless the connection string sets them itself. Zero leaves the server default.
	StatementTimeout         time.Duration
	LockTimeout              time.Duration
	IdleInTransactionTimeout time.Duration
	// ApplicationName defaults to "pgmedic", so pgmedic's own sessions are easy to spot
	// (and to exclude from what it analyses).
	ApplicationName string
	// Write allows read-write transactions. Without it every transaction is READ ONLY.
	Write bool
	// ConnectTimeout bounds each connection attempt (default 10s).
	ConnectTimeout time.Duration
	// Warn receives policy warnings (plaintext to a remote host in development).
	Warn func(msg string)
}

// DefaultApplicationName is what pgmedic's sessions call themselves.
const DefaultApplicationName = "pgmedic"

// Marker starts the text of pgmedic's own catalog and sampling queries, so that
// pg_stat_statements entries it caused can be told apart from the application's
// workload (and left out of the analysis).
const Marker = "/* pgmedic */ "

// InputError is a connection string that cannot be used as given (exit code 2).
type InputError struct {
	Msg  string
	Hint string
}

func (e *InputError) Error() string { return e.Msg }

// PolicyError is a connection the policy forbids (exit code 2: the input must change).
type PolicyError struct {
	Host   string
	Reason string
	Hint   string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("refusing to connect to %s: %s", e.Host, e.Reason)
}

// ParseConfig builds a pgx connection configuration. An empty dsn uses the libpq
// environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, PGPASSFILE and
// ~/.pgpass), as psql would.
func ParseConfig(dsn string, p Policy) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, parseError(dsn, err)
	}
	if err := apply(&cfg.Config, dsn, p); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParsePoolConfig is ParseConfig for a pgxpool (pool_* parameters are honoured).
func ParsePoolConfig(dsn string, p Policy) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, parseError(dsn, err)
	}
	if err := apply(&cfg.ConnConfig.Config, dsn, p); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Connect opens one session under the policy.
func Connect(ctx context.Context, dsn string, p Policy) (*pgx.Conn, error) {
	cfg, err := ParseConfig(dsn, p)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(cfg, err)
	}
	return conn, nil
}

// NewPool opens a pool under the policy and checks that it can reach the server.
func NewPool(ctx context.Context, dsn string, p Policy) (*pgxpool.Pool, error) {
	cfg, err := ParsePoolConfig(dsn, p)
	if err != nil {
		return nil, err
	}
	return NewPoolFromConfig(ctx, cfg)
}

// NewPoolFromConfig opens a pool from a configuration made by ParsePoolConfig.
func NewPoolFromConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(cfg.ConnConfig, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(cfg.ConnConfig, err)
	}
	return pool, nil
}

func apply(cfg *pgconn.Config, dsn string, p Policy) error {
	if err := checkTLS(cfg, dsn, p); err != nil {
		return err
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	name := p.ApplicationName
	if name == "" {
		name = DefaultApplicationName
	}
	cfg.RuntimeParams["application_name"] = name
	setDefault := func(key string, d time.Duration) {
		if _, set := cfg.RuntimeParams[key]; !set && d > 0 {
			cfg.RuntimeParams[key] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
	setDefault("statement_timeout", p.StatementTimeout)
	setDefault("lock_timeout", p.LockTimeout)
	setDefault("idle_in_transaction_session_timeout", p.IdleInTransactionTimeout)
	if p.Write {
		delete(cfg.RuntimeParams, "default_transaction_read_only")
	} else {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = p.ConnectTimeout
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = 10 * time.Second
		}
	}
	return nil
}

// checkTLS inspects what pgx will actually do, not the sslmode string: each host and
// each fallback attempt must use TLS that verifies the certificate chain and the host
// name. sslmode=prefer, for instance, parses into a TLS attempt followed by a plaintext
// one, and require skips verification altogether.
func checkTLS(cfg *pgconn.Config, dsn string, p Policy) error {
	type attempt struct {
		host string
		port uint16
		tls  bool
		ok   bool
	}
	attempts := []attempt{{cfg.Host, cfg.Port, cfg.TLSConfig != nil, verifiesFully(cfg.TLSConfig)}}
	for _, fb := range cfg.Fallbacks {
		attempts = append(attempts, attempt{fb.Host, fb.Port, fb.TLSConfig != nil, verifiesFully(fb.TLSConfig)})
	}
	for _, a := range attempts {
		if IsLocal(a.host) || a.ok {
			continue
		}
		hostport := net.JoinHostPort(a.host, strconv.Itoa(int(a.port)))
		mode := SSLMode(dsn)
		reason := fmt.Sprintf("sslmode=%s does not verify the server's certificate and host name", mode)
		if !a.tls || mode == "prefer" || mode == "allow" || mode == "disable" {
			reason = fmt.Sprintf("sslmode=%s can send the session, password and patient data in plaintext", mode)
		}
		if p.RequireVerifyFull {
			return &PolicyError{
				Host:   hostport,
				Reason: reason + "; the production profile requires sslmode=verify-full for hosts other than loopback or a Unix socket",
				Hint:   "add sslmode=verify-full and sslrootcert=/path/to/ca.crt to the connection string (or set PGSSLMODE/PGSSLROOTCERT)",
			}
		}
		if p.Warn != nil {
			p.Warn(fmt.Sprintf("connection to %s: %s; use sslmode=verify-full outside development", hostport, reason))
		}
		return nil
	}
	return nil
}

// verifiesFully: pgx builds verify-full as normal Go verification with ServerName set;
// every weaker mode sets InsecureSkipVerify (verify-ca then checks only the chain).
func verifiesFully(c *tls.Config) bool {
	return c != nil && !c.InsecureSkipVerify && c.ServerName != ""
}

// IsLocal reports whether host is a Unix socket directory or a loopback address, where
// traffic never leaves the machine.
func IsLocal(host string) bool {
	if host == "" || strings.HasPrefix(host, "/") || strings.HasPrefix(host, "@") {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// SSLMode reports the sslmode a connection string (or, failing that, PGSSLMODE) asks
// for, with libpq's default "prefer".
func SSLMode(dsn string) string {
	if v, ok := lookupParam(dsn, "sslmode"); ok && v != "" {
		return v
	}
	if v, ok := lookupEnv("PGSSLMODE"); ok && v != "" {
		return v
	}
	return "prefer"
}

// SSLRootCert is the CA file a connection string (or, failing that, PGSSLROOTCERT) names
// for verifying the server, "" when none.
func SSLRootCert(dsn string) string {
	if v, ok := lookupParam(dsn, "sslrootcert"); ok && v != "" {
		return v
	}
	v, _ := lookupEnv("PGSSLROOTCERT")
	return v
}

func parseError(dsn string, err error) error {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// pgx quotes the whole connection string; say what is wrong without repeating it.
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
	}
	msg = Redact(msg)
	for _, secret := range Secrets(dsn) {
		msg = strings.ReplaceAll(msg, secret, "xxxxx")
	}
	return &InputError{
		Msg:  "malformed connection string: " + msg,
		Hint: "use a URI such as postgres://user@host:5432/dbname?sslmode=verify-full, or key=value pairs such as 'host=... dbname=...'",
	}
}

// ConnectError is a failure to reach or log in to the server (exit code 1).
type ConnectError struct {
	Target string // user@host:port/db, never the password
	Msg    string
	Hint   string
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s: %s", e.Target, e.Msg)
}
func (e *ConnectError) Unwrap() error { return e.Err }

func connectError(cfg *pgx.ConnConfig, err error) error {
	target := Describe(cfg)
	msg := innermost(err)
	if cfg.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
	}
	hint := "check that the server is running and that --dsn (or PGHOST/PGPORT) points to it"
	switch {
	case pgerr.Is(err, pgerr.InvalidPassword):
		hint = "check the user name and password (PGPASSWORD or ~/.pgpass)"
	case pgerr.Is(err, pgerr.InvalidAuthorization):
		hint = "the server's pg_hba.conf has no entry for this user, database and address; ask its administrator"
	case pgerr.Is(err, pgerr.InvalidCatalogName):
		hint = "the database does not exist; check the database name in --dsn"
	case strings.Contains(msg, "certificate"):
		hint = "the server certificate did not verify: check sslrootcert and that the host name matches the certificate"
	case strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline"):
		hint = "the server did not answer in time: check the host, the port and any firewall in between"
	}
	return &ConnectError{Target: target, Msg: msg, Hint: hint, Err: err}
}

// innermost strips pgx's "failed to connect to `user=... database=...`:" prefix, which
// Describe already covers, and keeps the reason.
func innermost(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 && strings.HasPrefix(msg, "failed to connect to") {
		msg = msg[i+3:]
	}
	msg = strings.ReplaceAll(msg, "\n\t", "; ")
	return strings.TrimSpace(msg)
}

// Describe names a connection target for messages: user@host:port/database.
func Describe(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s@[%s]:%d/%s", cfg.User, host, cfg.Port, cfg.Database)
	}
	return fmt.Sprintf("%s@%s/%s", cfg.User, net.JoinHostPort(host, strconv.Itoa(int(cfg.Port))), cfg.Database)
}
