package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/pool"
)

// demoTopology is what `pgmedic demo status` prints: where each server of the demo
// listens (passwords stay in the pgpass files the URIs name).
type demoTopology struct {
	Primary   string   `json:"primary"`
	Replicas  []string `json:"replicas"`
	PgBouncer string   `json:"pgbouncer,omitempty"`
}

const topologyFile = "topology.json"

func replicaDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("replica%d", i)) }
func bouncerDir(dir string) string        { return filepath.Join(dir, "pgbouncer") }

// startTopology starts f.replicas streaming standbys of primary and, with f.pgbouncer,
// PgBouncer configured by pool advise (read aliases on the first standby), then records
// the URIs in DIR/topology.json. The returned function stops what it started.
func (a *app) startTopology(primary *localpg.Cluster, f demoFlags, out io.Writer) (func(), error) {
	topo := demoTopology{Primary: primary.URI(demoDatabase), Replicas: []string{}}
	var standbys []*localpg.Cluster
	var bouncer *localpg.PgBouncer
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if bouncer != nil {
			bouncer.Stop()
		}
		for _, s := range standbys {
			_ = s.Stop(ctx)
		}
	}
	for i := 1; i <= f.replicas; i++ {
		sb, err := localpg.StartStandby(a.ctx, primary, localpg.StandbyOptions{Slot: fmt.Sprintf("demo_replica%d", i),
			Options: localpg.Options{Dir: replicaDir(f.dir, i), Detached: f.keep, Log: logWriter{a}}})
		if err != nil {
			stop()
			return nil, &jobError{msg: err.Error(), err: err, hint: "see the standby's server log under " + replicaDir(f.dir, i)}
		}
		standbys = append(standbys, sb)
		topo.Replicas = append(topo.Replicas, sb.URI(demoDatabase))
	}
	if f.pgbouncer {
		b, uri, err := a.startBouncer(primary, standbys, f)
		if err != nil {
			stop()
			return nil, err
		}
		bouncer, topo.PgBouncer = b, uri
	}
	raw, _ := json.MarshalIndent(topo, "", "  ")
	if err := os.WriteFile(filepath.Join(f.dir, topologyFile), append(raw, '\n'), 0o644); err != nil {
		stop()
		return nil, fmt.Errorf("writing %s: %w", topologyFile, err)
	}
	fmt.Fprintf(out, "\ntopology: primary and %d streaming standby(s)", len(standbys))
	if bouncer != nil {
		fmt.Fprintf(out, ", PgBouncer on %s (one database per workload profile)", bouncer.Addr)
	}
	fmt.Fprintln(out, "; 'pgmedic demo status' lists the connection URIs")
	return stop, nil
}

// startBouncer writes PgBouncer's configuration from the advice for the demo workload
// and starts it on a free loopback port, TLS with the primary's certificate.
func (a *app) startBouncer(primary *localpg.Cluster, standbys []*localpg.Cluster, f demoFlags) (*localpg.PgBouncer, string, error) {
	snap, err := a.collectSnapshot(primary.URI(demoDatabase), collectFlags{maxStatements: 5000})
	if err != nil {
		return nil, "", err
	}
	adv, err := pool.AdviseSnapshot(snap, pool.AdviseOptions{})
	if err != nil {
		return nil, "", &jobError{msg: err.Error(), err: err, hint: "run the demo with a longer --duration"}
	}
	conn, err := pgconn.Connect(a.ctx, primary.SocketURI(demoDatabase), pgconn.Policy{})
	if err != nil {
		return nil, "", err
	}
	user, secret, err := pool.AuthSecret(a.ctx, conn)
	conn.Close(a.ctx)
	if err != nil {
		return nil, "", err
	}
	cert, key, err := primary.ServerTLSFiles()
	if err != nil {
		return nil, "", err
	}
	port, err := localpg.FreePort()
	if err != nil {
		return nil, "", err
	}
	version, err := pool.InstalledPgBouncerVersion(a.ctx)
	if err != nil {
		return nil, "", &jobError{msg: err.Error(), err: err, hint: "install pgbouncer (scripts/setup) or run the demo without --pgbouncer"}
	}
	opts := pool.PgBouncerOptions{Version: version, Host: "127.0.0.1", Port: primary.Port(), Database: demoDatabase, User: user,
		ServerCAFile: primary.CAFile, ListenPort: port, ClientCertFile: cert, ClientKeyFile: key, AuthSecret: secret}
	if len(standbys) > 0 {
		// The standbys share the primary's CA (localpg.StartStandby), so one
		// server_tls_ca_file verifies both.
		opts.ReadHost, opts.ReadPort = "127.0.0.1", standbys[0].Port()
	}
	dir := bouncerDir(f.dir)
	files, err := pool.WritePgBouncer(dir, adv, opts)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
	defer cancel()
	b, err := localpg.StartPgBouncer(ctx, files.Ini, addr, f.keep, files.AuthFile)
	if err != nil {
		return nil, "", &jobError{msg: err.Error(), err: err, hint: "see " + filepath.Join(dir, "pgbouncer.log")}
	}
	return b, bouncerURI(dir, primary, user, port), nil
}

// bouncerURI names the patient_read alias over verified TLS; the password goes into a
// pgpass file beside the configuration.
func bouncerURI(dir string, primary *localpg.Cluster, user string, port int) string {
	pass := filepath.Join(dir, "pgpass")
	if pw, err := primary.Password(); err == nil {
		esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(pw)
		_ = os.WriteFile(pass, []byte(fmt.Sprintf("127.0.0.1:%d:*:%s:%s\n", port, user, esc)), 0o600)
	}
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {primary.CAFile}, "passfile": {pass}}
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path: "/" + string(pool.PatientRead), RawQuery: q.Encode()}
	return u.String()
}

// stopTopology stops the standbys and PgBouncer a kept demo left running.
func (a *app) stopTopology(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localpg.StopPgBouncer(ctx, filepath.Join(bouncerDir(dir), "pgbouncer.pid")); err != nil {
		return err
	}
	for i := 1; ; i++ {
		c, err := localpg.Attach(ctx, replicaDir(dir, i))
		if errors.Is(err, localpg.ErrNotACluster) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Stop(ctx); err != nil {
			return err
		}
		a.logf("stopped the demo standby in %s", replicaDir(dir, i))
	}
}

func (a *app) demoStatusCommand(dir *string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the connection URIs of a kept demo: primary, standbys, PgBouncer",
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageHint("use --format text or --format json", "--format must be text or json, got %q", format)
			}
			raw, err := os.ReadFile(filepath.Join(*dir, topologyFile))
			if errors.Is(err, os.ErrNotExist) {
				return usageHint("give the --dir the demo was started with (demo --keep)", "no demo topology in %s", *dir)
			}
			if err != nil {
				return err
			}
			var topo demoTopology
			if err := json.Unmarshal(raw, &topo); err != nil {
				return &jobError{msg: fmt.Sprintf("%s is damaged: %v", topologyFile, err), hint: "run the demo again"}
			}
			if format == "json" {
				return writeJSON(a.stdout, topo)
			}
			fmt.Fprintf(a.stdout, "primary    %s\n", topo.Primary)
			for i, r := range topo.Replicas {
				fmt.Fprintf(a.stdout, "replica%-3d %s\n", i+1, r)
			}
			if topo.PgBouncer != "" {
				fmt.Fprintf(a.stdout, "pgbouncer  %s\n", topo.PgBouncer)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(dir, "dir", filepath.Join(".pgmedic", "demo"), "directory of the demo cluster")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
