package replica

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) {
	os.Exit(pgtest.MainWithOptions(m, &pg, pgtest.Options{Settings: map[string]string{
		"archive_mode": "on", "archive_command": "/bin/true", "wal_sender_timeout": "10s"}}))
}

func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgconn.Connect(context.Background(), uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func status(t *testing.T, primary *pgx.Conn, standbys map[string]Querier) *Status {
	t.Helper()
	st, err := GetStatus(context.Background(), primary, Options{MaxLag: 30 * time.Second, Interval: 300 * time.Millisecond, Standbys: standbys})
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	return st
}

func waitStreaming(t *testing.T, primary *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := primary.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn = pg_current_wal_lsn()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby never caught up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadyWithACaughtUpStandby(t *testing.T) {
	db := pg.NewDB(t)
	sb := pg.NewStandby(t, nil)
	primary := connect(t, db.URI)
	waitStreaming(t, primary)
	st := status(t, primary, map[string]Querier{"standby": connect(t, sb.URI(db.Name))})
	if !st.Ready || len(st.Reasons) != 0 {
		t.Fatalf("not ready: %v", st.Reasons)
	}
	if len(st.Replicas) != 1 {
		t.Fatalf("replicas = %+v", st.Replicas)
	}
	r := st.Replicas[0]
	if r.State != "streaming" || r.Lagging || r.Paused == nil || *r.Paused || r.ReplayLSN == "" {
		t.Fatalf("replica = %+v", r)
	}
	if !st.Archiving.Healthy || st.Primary.Timeline != 1 {
		t.Fatalf("archiving %+v, timeline %d", st.Archiving, st.Primary.Timeline)
	}
}

func TestPausedStandbyIsNotReadyEvenWhenIdle(t *testing.T) {
	db := pg.NewDB(t)
	sb := pg.NewStandby(t, nil)
	primary := connect(t, db.URI)
	waitStreaming(t, primary)
	standby := connect(t, sb.URI(db.Name))
	if _, err := standby.Exec(context.Background(), "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	// Nothing is written: only the standby's own session can tell.
	st := status(t, primary, map[string]Querier{"standby": standby})
	if st.Ready || !st.Replicas[0].Lagging || st.Replicas[0].Paused == nil || !*st.Replicas[0].Paused {
		t.Fatalf("paused idle standby: ready=%v replica=%+v", st.Ready, st.Replicas[0])
	}
	if !strings.Contains(strings.Join(st.Reasons, " "), "paused") {
		t.Fatalf("reasons do not say paused: %v", st.Reasons)
	}
}

func TestStuckReplaySeenFromThePrimaryAlone(t *testing.T) {
	db := pg.NewDB(t)
	sb := pg.NewStandby(t, nil)
	primary := connect(t, db.URI)
	waitStreaming(t, primary)
	standby := connect(t, sb.URI(db.Name))
	if _, err := standby.Exec(context.Background(), "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "CREATE TABLE stuck AS SELECT g FROM generate_series(1, 1000) g")
	// Wait until the standby has received (flushed) WAL it cannot replay.
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting bool
		if err := primary.QueryRow(context.Background(), "SELECT coalesce(bool_or(flush_lsn > replay_lsn), false) FROM pg_stat_replication").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby never reported received WAL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := status(t, primary, nil)
	if st.Ready || !st.Replicas[0].Stuck || !st.Replicas[0].Lagging {
		t.Fatalf("stuck replay: ready=%v replica=%+v", st.Ready, st.Replicas[0])
	}
}

func TestNoStandbyIsNotReady(t *testing.T) {
	db := pg.NewDB(t)
	st := status(t, connect(t, db.URI), nil)
	if st.Ready || len(st.Replicas) != 0 || len(st.Reasons) == 0 {
		t.Fatalf("no standby: %+v", st)
	}
}

func TestArchivingOffIsNotHealthy(t *testing.T) {
	a := Archiving{Mode: "off"}
	a.judge()
	if a.Healthy || a.Reason == "" {
		t.Fatalf("archive_mode off judged healthy: %+v", a)
	}
	failed := time.Now()
	a = Archiving{Mode: "on", Failed: 3, LastFailedTime: &failed}
	a.judge()
	if a.Healthy {
		t.Fatal("a failing archiver judged healthy")
	}
}

func TestUnprivilegedRoleIsToldWhatItLacks(t *testing.T) {
	db := pg.NewDB(t)
	pg.NewStandby(t, nil)
	primary := connect(t, db.URI)
	waitStreaming(t, primary)
	db.Exec(t, "CREATE ROLE replica_status_probe LOGIN PASSWORD 'probe-pw-1'")
	t.Cleanup(func() { db.Exec(t, "DROP ROLE replica_status_probe") })
	conn, err := pgx.Connect(context.Background(), strings.Replace(db.URI, "postgres@", "replica_status_probe:probe-pw-1@", 1)+"&passfile=/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	st := status(t, conn, nil)
	if st.Ready || len(st.Replicas) != 1 || !strings.Contains(strings.Join(st.Replicas[0].Reasons, " "), "pg_monitor") {
		t.Fatalf("unprivileged: ready=%v replicas=%+v", st.Ready, st.Replicas)
	}
}
