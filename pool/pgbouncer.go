package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/pgconn"
)

// PgBouncerOptions describe the PgBouncer to configure and the server behind it.
type PgBouncerOptions struct {
	// Version of the installed PgBouncer ("1.18.0"): settings it does not know make it
	// refuse the whole file, so only those it has are written.
	Version string
	// Host, Port, Database and User are the server and role every alias connects to;
	// ReadHost and ReadPort, when set, send the read profiles' aliases to a replica.
	Host, ReadHost string
	Port, ReadPort int
	Database, User string
	// ServerCAFile verifies the server's certificate (server_tls_sslmode=verify-full).
	// Empty is allowed only for a Unix socket or loopback host, then without TLS.
	ServerCAFile string
	// ListenAddr and ListenPort are where clients connect (default 127.0.0.1:6432).
	ListenAddr string
	ListenPort int
	// ClientCertFile and ClientKeyFile are PgBouncer's own certificate for clients:
	// client_tls_sslmode=require, so no client reaches it in plaintext over TCP.
	ClientCertFile, ClientKeyFile string
	// AuthSecret is User's SCRAM secret (from pg_authid) for the auth file: clients
	// authenticate against it, and PgBouncer reuses the exchange to log in to the server,
	// so no password is written anywhere.
	AuthSecret string
}

// PgBouncerFiles are what WritePgBouncer wrote.
type PgBouncerFiles struct {
	Ini, AuthFile string
}

// version is major.minor of a PgBouncer version string.
func parseVersion(v string) (major, minor int, err error) {
	parts := strings.SplitN(strings.TrimSpace(v), ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("pool: %q is not a PgBouncer version such as 1.18.0", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("pool: %q is not a PgBouncer version such as 1.18.0", v)
	}
	return major, minor, nil
}

func (o *PgBouncerOptions) check() error {
	if o.ListenAddr == "" {
		o.ListenAddr = "127.0.0.1"
	}
	if o.ListenPort == 0 {
		o.ListenPort = 6432
	}
	switch {
	case o.Host == "" || o.Database == "" || o.User == "":
		return errors.New("pool: PgBouncer needs the server's host, database and user")
	case o.ClientCertFile == "" || o.ClientKeyFile == "":
		return errors.New("pool: PgBouncer needs a certificate and key for its clients (client TLS is required)")
	case o.ServerCAFile == "" && !pgconn.IsLocal(o.Host):
		return fmt.Errorf("pool: the server %s is not local, so PgBouncer must verify it: give the CA file (sslrootcert)", o.Host)
	case o.AuthSecret != "" && !strings.HasPrefix(o.AuthSecret, "SCRAM-SHA-256$"):
		return errors.New("pool: the auth secret is not a SCRAM-SHA-256 secret; set password_encryption=scram-sha-256 and reset the password")
	}
	return nil
}

// WritePgBouncer writes pgbouncer.ini and the auth file into dir: one database alias
// per profile with the advised pool size, the profile's pool mode and its statement
// timeout (PgBouncer before 1.24 has no per-user settings, and it refuses unknown
// startup parameters, so the timeout is set by connect_query on each server connection).
func WritePgBouncer(dir string, adv *Advice, o PgBouncerOptions) (*PgBouncerFiles, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	major, minor, err := parseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if major != 1 || minor < 12 {
		return nil, fmt.Errorf("pool: PgBouncer %s is too old: SCRAM pass-through needs 1.12 or later", o.Version)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pool: creating %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pool: resolving %s: %w", dir, err)
	}
	files := &PgBouncerFiles{Ini: filepath.Join(abs, "pgbouncer.ini"), AuthFile: filepath.Join(abs, "userlist.txt")}
	ini := renderIni(abs, adv, o, minor, files.AuthFile)
	if err := os.WriteFile(files.Ini, []byte(ini), 0o644); err != nil {
		return nil, fmt.Errorf("pool: writing %s: %w", files.Ini, err)
	}
	auth := "; user \"SCRAM secret\": fill in from pg_authid (SELECT rolpassword FROM pg_authid WHERE rolname = ...)\n"
	if o.AuthSecret != "" {
		auth = quoteIni(o.User) + " " + quoteIni(o.AuthSecret) + "\n"
	}
	if err := os.WriteFile(files.AuthFile, []byte(auth), 0o600); err != nil {
		return nil, fmt.Errorf("pool: writing %s: %w", files.AuthFile, err)
	}
	return files, nil
}

func quoteIni(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// connValue quotes a value inside a [databases] connection string.
func connValue(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\\") {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func renderIni(dir string, adv *Advice, o PgBouncerOptions, minor int, authFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ";; Written by pgmedic pool advise for PgBouncer %s.\n;; Sizes: %s.\n", o.Version, adv.Source)
	b.WriteString(";; Clients using pgx in transaction mode need default_query_exec_mode=exec (or simple_protocol):\n")
	if minor < 21 {
		b.WriteString(";; this PgBouncer does not track protocol-level prepared statements (that came in 1.21).\n")
	}
	b.WriteString("\n[databases]\n")
	total := 0
	for _, p := range adv.Profiles {
		host, port := o.Host, o.Port
		if p.Intent == Read && o.ReadHost != "" {
			host, port = o.ReadHost, o.ReadPort
		}
		fmt.Fprintf(&b, "%s = host=%s", p.Name, connValue(host))
		if port != 0 {
			fmt.Fprintf(&b, " port=%d", port)
		}
		// No min_pool_size: connections opened ahead of any client cannot log in with
		// the SCRAM secret (PgBouncer borrows the client's exchange); each alias is its
		// own pool anyway, so claims cannot take audit's server connections.
		// No user= either: a forced user logs in with its own auth-file entry, which
		// for a SCRAM secret cannot work; clients log in as themselves.
		fmt.Fprintf(&b, " dbname=%s pool_size=%d pool_mode=%s", connValue(o.Database), p.Size, p.PoolMode)
		if p.StatementTime > 0 {
			fmt.Fprintf(&b, " connect_query=%s", connValue(fmt.Sprintf("SET statement_timeout = %d", p.StatementTime)))
		}
		fmt.Fprintf(&b, "\n;   %s\n", p.Reason)
		total += p.Size
	}
	b.WriteString("\n[pgbouncer]\n")
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	kv("listen_addr", o.ListenAddr)
	kv("listen_port", strconv.Itoa(o.ListenPort))
	kv("unix_socket_dir", "")
	kv("pidfile", filepath.Join(dir, "pgbouncer.pid"))
	kv("logfile", filepath.Join(dir, "pgbouncer.log"))
	kv("auth_type", "scram-sha-256")
	kv("auth_file", authFile)
	kv("admin_users", o.User)
	kv("pool_mode", "transaction")
	kv("max_client_conn", strconv.Itoa(max(100, total*10)))
	kv("max_db_connections", "0")
	kv("reserve_pool_size", "0")
	kv("server_reset_query", "DISCARD ALL")
	kv("server_check_query", "SELECT 1")
	kv("query_wait_timeout", "30")
	kv("idle_transaction_timeout", "60")
	kv("server_idle_timeout", "600")
	kv("ignore_startup_parameters", "extra_float_digits")
	kv("client_tls_sslmode", "require")
	kv("client_tls_cert_file", o.ClientCertFile)
	kv("client_tls_key_file", o.ClientKeyFile)
	kv("client_tls_protocols", "tlsv1.2,tlsv1.3")
	if o.ServerCAFile != "" {
		kv("server_tls_sslmode", "verify-full")
		kv("server_tls_ca_file", o.ServerCAFile)
		kv("server_tls_protocols", "tlsv1.2,tlsv1.3")
	} else if strings.HasPrefix(o.Host, "/") {
		b.WriteString(";; The server is reached over its Unix socket: no TLS needed.\n")
		kv("server_tls_sslmode", "disable")
	} else {
		b.WriteString(";; The server is on this machine's loopback; give its CA to have it verified (verify-full).\n")
		kv("server_tls_sslmode", "require")
	}
	return b.String()
}

// InstalledPgBouncerVersion asks the pgbouncer on PATH for its version ("1.18.0").
func InstalledPgBouncerVersion(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		return "", errors.New("pool: pgbouncer is not installed (not on PATH)")
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pool: running pgbouncer --version: %w", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(first)
	if len(f) < 2 || !strings.EqualFold(f[0], "pgbouncer") {
		return "", fmt.Errorf("pool: unexpected pgbouncer --version output %q", first)
	}
	return f[1], nil
}

// AuthSecret reads the connected role's SCRAM secret from pg_authid (superuser only),
// for PgBouncer's auth file.
func AuthSecret(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (user, secret string, err error) {
	err = q.QueryRow(ctx, pgconn.Marker+"SELECT current_user::text, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = current_user").
		Scan(&user, &secret)
	if err != nil {
		return "", "", fmt.Errorf("pool: reading the role's SCRAM secret (needs superuser): %w", err)
	}
	return user, secret, nil
}
