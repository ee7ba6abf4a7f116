package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/internal/display"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/pool"
)

type poolAdviseFlags struct {
	collectFlags
	format      string
	output      string
	instances   int
	pgbouncer   string
	version     string
	listenPort  int
	tlsCert     string
	tlsKey      string
	replicaHost string
	replicaPort int
}

func (a *app) poolCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Size connection pools per healthcare workload and configure PgBouncer",
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.poolAdviseCommand())
	return cmd
}

func (a *app) poolAdviseCommand() *cobra.Command {
	var f poolAdviseFlags
	cmd := &cobra.Command{
		Use:   "advise",
		Short: "Pool sizes per workload profile by Little's law; optional PgBouncer configuration",
		Long: `advise sizes one pool per workload profile (patient_read, claims_write, reporting,
audit, batch). Each statement in pg_stat_statements is assigned to a profile (by the
role that ran it when a role is named after a profile, else by what it does), and the
profile's busy connections are L = λ × W: statements per second since the statistics
were reset times their mean execution time. The size is L + 2√L; audit keeps its
connections reserved. Together the sizes stay under max_connections minus the reserved
slots and an operations headroom (divided by --instances) and under
connectionPool.maxConnections; connectionPool.minConnections are kept open, shared by
load. Busy connections are compared with what the server's cores run well
(2 × cores + 1).

--pgbouncer DIR writes pgbouncer.ini and userlist.txt for the installed PgBouncer:
one database alias per profile with its pool size, pool mode and statement timeout,
SCRAM authentication (the role's secret from pg_authid, never a password), TLS to
clients (--tls-cert/--tls-key) and verify-full TLS to the server (the DSN's
sslrootcert).`,
		Example: `  pgmedic pool advise --dsn postgres://me@db.internal/claims?sslmode=verify-full --server-cpus 16
  pgmedic pool advise --format json
  pgmedic pool advise --pgbouncer /etc/pgbouncer --tls-cert bouncer.crt --tls-key bouncer.key`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.poolAdvise(f) },
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "text or json")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().IntVar(&f.serverCPUs, "server-cpus", 0, "the database server's CPU count, when it is not this machine")
	cmd.Flags().IntVar(&f.instances, "instances", 1, "application instances sharing the server")
	cmd.Flags().StringVar(&f.pgbouncer, "pgbouncer", "", "write pgbouncer.ini and userlist.txt into this directory")
	cmd.Flags().StringVar(&f.version, "pgbouncer-version", "", "PgBouncer version to write for (default: the installed one)")
	cmd.Flags().IntVar(&f.listenPort, "listen-port", 6432, "port PgBouncer listens on")
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "PgBouncer's certificate for its clients (with --pgbouncer)")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "PgBouncer's key for its clients (with --pgbouncer)")
	cmd.Flags().StringVar(&f.replicaHost, "replica-host", "", "send the read profiles' aliases to this standby (with --pgbouncer)")
	cmd.Flags().IntVar(&f.replicaPort, "replica-port", 5432, "the standby's port")
	return cmd
}

func (a *app) poolAdvise(f poolAdviseFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageHint("use --format text or --format json", "--format must be text or json, got %q", f.format)
	}
	if f.instances < 1 {
		return usageHint("count the application instances that share the server", "--instances must be at least 1, got %d", f.instances)
	}
	if f.pgbouncer != "" && (f.tlsCert == "" || f.tlsKey == "") {
		return usageHint("give PgBouncer a certificate and key for its clients with --tls-cert and --tls-key", "--pgbouncer needs --tls-cert and --tls-key: client TLS is required")
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	f.maxStatements = 5000
	snap, err := a.collectSnapshot(a.dsn, f.collectFlags)
	if err != nil {
		return err
	}
	adv, err := pool.AdviseSnapshot(snap, pool.AdviseOptions{CPUs: f.serverCPUs, Instances: f.instances,
		MinConnections: cfg.ConnectionPool.MinConnections, MaxConnections: cfg.ConnectionPool.MaxConnections})
	if err != nil {
		return &jobError{msg: err.Error(), err: err, hint: "enable pg_stat_statements (shared_preload_libraries and CREATE EXTENSION) and let the application run for a while"}
	}
	if f.pgbouncer != "" {
		if err := a.writePgBouncer(f, adv); err != nil {
			return err
		}
	}
	return a.writeTo(f.output, func(w io.Writer) error { return writePoolAdvice(w, f.format, adv) })
}

func (a *app) writePgBouncer(f poolAdviseFlags, adv *pool.Advice) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	version := f.version
	if version == "" {
		if version, err = pool.InstalledPgBouncerVersion(a.ctx); err != nil {
			return usageHint("install pgbouncer, or say which version to write for with --pgbouncer-version", "%v", err)
		}
	}
	cc, err := pgconn.ParseConfig(a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(a.ctx)
	user, secret, err := pool.AuthSecret(a.ctx, conn)
	if err != nil {
		user = cc.User
		a.logf("pgmedic: warning: %s; userlist.txt gets a line to fill in", err)
	}
	ca := pgconn.SSLRootCert(a.dsn)
	if ca != "" {
		ca, _ = filepath.Abs(ca)
	}
	cert, _ := filepath.Abs(f.tlsCert)
	key, _ := filepath.Abs(f.tlsKey)
	files, err := pool.WritePgBouncer(f.pgbouncer, adv, pool.PgBouncerOptions{Version: version, Host: cc.Host, Port: int(cc.Port),
		Database: cc.Database, User: user, ServerCAFile: ca, ListenPort: f.listenPort, ClientCertFile: cert, ClientKeyFile: key,
		AuthSecret: secret, ReadHost: f.replicaHost, ReadPort: f.replicaPort})
	if err != nil {
		return usageHint("see 'pgmedic pool advise --help'", "%v", err)
	}
	a.logf("wrote %s and %s for PgBouncer %s", files.Ini, files.AuthFile, version)
	return nil
}

func writePoolAdvice(w io.Writer, format string, adv *pool.Advice) error {
	if format == "json" {
		return writeJSON(w, adv)
	}
	w = display.NewWriter(w)
	fmt.Fprintf(w, "Workload: %s.\n", adv.Source)
	s := adv.Server
	fmt.Fprintf(w, "Server: max_connections %d - %d superuser reserved - %d reserved - %d headroom = %d per instance",
		s.MaxConnections, s.SuperuserReserved, s.Reserved, s.OpsHeadroom, s.ServerCeiling)
	if s.CappedByConfig {
		fmt.Fprintf(w, "; connectionPool.maxConnections caps the pools at %d", s.Ceiling)
	}
	if s.Cores > 0 {
		fmt.Fprintf(w, "; %d cores run about %d active connections well", s.Cores, s.ActiveTarget)
	}
	fmt.Fprint(w, ".\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PROFILE\tINTENT\tPGBOUNCER MODE\tSTATEMENTS\tPER SEC\tMEAN HOLD MS\tBUSY\tSIZE\tMIN\tTIMEOUT\n")
	for _, p := range adv.Profiles {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.3f\t%d\t%d\t%dms\n", p.Name, p.Intent, p.PoolMode, p.Statements,
			p.PerSecond, p.MeanHoldMs, p.Busy, p.Size, p.MinConns, p.StatementTime)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, p := range adv.Profiles {
		fmt.Fprintf(w, "%s: %s\n", p.Name, p.Reason)
	}
	for _, n := range adv.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
