package replica

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/localpg"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startEtcd runs a one-member etcd for Patroni's DCS.
func startEtcd(t *testing.T, dir string) string {
	t.Helper()
	client, peer := freePort(t), freePort(t)
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	cmd := exec.Command("etcd", "--name", "e1", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
		"--initial-advertise-peer-urls", pu, "--initial-cluster", "e1="+pu)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	waitFor(t, "etcd", func() bool {
		resp, err := http.Get(cu + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return fmt.Sprintf("127.0.0.1:%d", client)
}

type patroniMember struct {
	name         string
	api          string
	pgPort       int
	cmd          *exec.Cmd
	dir, logPath string
}

const patroniConfig = `scope: pgmedic-test
name: %[1]s
restapi:
  listen: 127.0.0.1:%[2]d
  connect_address: 127.0.0.1:%[2]d
etcd3:
  hosts: [%[3]s]
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        archive_mode: "on"
        archive_command: /bin/true
  initdb:
    - encoding: UTF8
    - auth-local: trust
  pg_hba:
    - local all all trust
    - local replication all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:%[4]d
  connect_address: 127.0.0.1:%[4]d
  use_unix_socket: true
  data_dir: %[5]s/data
  bin_dir: %[6]s
  pgpass: %[5]s/pgpass
  authentication:
    superuser: {username: postgres, password: patroni-test-su}
    replication: {username: replicator, password: patroni-test-rep}
  parameters:
    unix_socket_directories: %[5]s
    fsync: "off"
`

func startPatroni(t *testing.T, dir, name, etcd, binDir string) *patroniMember {
	t.Helper()
	m := &patroniMember{name: name, pgPort: freePort(t), dir: filepath.Join(dir, name)}
	binPgCtl := filepath.Join(binDir, "pg_ctl")
	apiPort := freePort(t)
	m.api = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, name+".yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(patroniConfig, name, apiPort, etcd, m.pgPort, m.dir, binDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := localpg.GiveToServer(m.dir, cfg); err != nil {
		t.Fatal(err)
	}
	cmd, err := localpg.ServerCommand("patroni", cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.logPath = filepath.Join(dir, name+".log")
	logf, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting patroni: %v", err)
	}
	m.cmd = cmd
	t.Cleanup(func() {
		// SIGTERM: Patroni stops its PostgreSQL, then exits.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		// A paused Patroni leaves PostgreSQL running when it exits: stop it too.
		if _, err := os.Stat(filepath.Join(m.dir, "data", "postmaster.pid")); err == nil {
			if stop, err := localpg.ServerCommand(binPgCtl, "stop", "-D", filepath.Join(m.dir, "data"), "-m", "immediate"); err == nil {
				_ = stop.Run()
			}
		}
	})
	return m
}

// clusterState waits until Patroni shows leader as the one leader and every other
// member a replica that runs on the leader's timeline with a known lag.
func clusterState(t *testing.T, api, leader string, members int) *Patroni {
	t.Helper()
	var last *Patroni
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := ReadPatroni(context.Background(), nil, api)
		if err == nil && len(p.Members) == members {
			last = p
			ok := true
			tl := 0
			for _, m := range p.Members {
				if m.Name == leader {
					ok = ok && m.Role == "leader" && m.State == "running"
					tl = m.Timeline
				}
			}
			for _, m := range p.Members {
				if m.Name != leader {
					ok = ok && m.Role == "replica" && (m.State == "running" || m.State == "streaming") && m.LagBytes != nil && m.Timeline == tl
				}
			}
			if ok {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("Patroni never showed %s leading %d members: %+v", leader, members, last)
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPatroniReadinessAndSwitchover(t *testing.T) {
	for _, bin := range []string{"patroni", "etcd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/setup installs patroni and etcd-server): %v", bin, err)
		}
	}
	bins, err := localpg.FindBinaries(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pgmedic-patroni-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	etcd := startEtcd(t, dir)
	pg1 := startPatroni(t, dir, "pg1", etcd, bins.Dir)
	waitFor(t, "pg1 to lead", func() bool {
		p, err := ReadPatroni(context.Background(), nil, pg1.api)
		return err == nil && len(p.Members) == 1 && p.Members[0].Role == "leader" && p.Members[0].State == "running"
	})
	pg2 := startPatroni(t, dir, "pg2", etcd, bins.Dir)
	clusterState(t, pg1.api, "pg1", 2)

	st := patroniStatus(t, pg1, pg1.api)
	if !st.Ready || st.Patroni == nil || st.Patroni.Leaders != 1 || len(st.Patroni.Reasons) != 0 || len(st.Replicas) != 1 {
		t.Fatalf("Patroni cluster with a streaming replica: ready=%v reasons=%v patroni=%+v", st.Ready, st.Reasons, st.Patroni)
	}

	// Switch over to pg2 through Patroni; pg1 comes back as its replica on timeline 2.
	body := bytes.NewBufferString(`{"leader": "pg1", "candidate": "pg2"}`)
	resp, err := http.Post(pg1.api+"/switchover", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("switchover: %s", resp.Status)
	}
	clusterState(t, pg2.api, "pg2", 2)
	st = patroniStatus(t, pg2, pg2.api)
	if !st.Ready || st.Primary.Timeline != 2 || st.Primary.InRecovery {
		t.Fatalf("after the switchover: ready=%v reasons=%v timeline=%d", st.Ready, st.Reasons, st.Primary.Timeline)
	}
	// Paused, Patroni will not fail over: not ready, whatever the standbys do.
	req, _ := http.NewRequest(http.MethodPatch, pg2.api+"/config", bytes.NewBufferString(`{"pause": true}`))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the pause", func() bool {
		p, err := ReadPatroni(context.Background(), nil, pg2.api)
		return err == nil && p.Paused
	})
	if st = patroniStatus(t, pg2, pg2.api); st.Ready {
		t.Fatalf("paused Patroni judged ready: %v", st.Reasons)
	}
}

func patroniStatus(t *testing.T, leader *patroniMember, api string) *Status {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:patroni-test-su@127.0.0.1:%d/postgres?sslmode=disable", leader.pgPort))
	if err != nil {
		t.Fatalf("connecting to %s: %v", leader.name, err)
	}
	defer conn.Close(ctx)
	var st *Status
	// The replica may need a moment to stream after (re)joining.
	waitFor(t, "the replica to stream", func() bool {
		st, err = GetStatus(ctx, conn, Options{PatroniURL: api, Interval: 300 * time.Millisecond, MaxLag: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Replicas) == 1 && st.Replicas[0].State == "streaming"
	})
	return st
}
