package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/pgconn"
)

// serverAccount is who owns the private clusters: postgres when the tests run as root.
func serverAccount(t *testing.T) (name string, chown func(string) error) {
	t.Helper()
	if os.Geteuid() != 0 {
		u, _ := user.Current()
		return u.Username, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return "postgres", func(p string) error { return os.Chown(p, uid, gid) }
}

func needPgBackRest(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		t.Fatal("pgbackrest is not installed: run scripts/setup")
	}
}

type pitrRig struct {
	cluster *localpg.Cluster
	br      *PgBackRest
	plan    *PgBackRestPlan
	base    string
	chown   func(string) error
}

// newPITRRig starts a private cluster, writes the pgBackRest plan, applies its settings
// through the executor, restarts the server and creates the stanza.
func newPITRRig(t *testing.T) *pitrRig {
	needPgBackRest(t)
	ctx := ctxFor(t)
	base, err := os.MkdirTemp("", "pgmedic-pitr-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	account, chown := serverAccount(t)
	c, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(base, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background()); os.RemoveAll(base) })
	for _, d := range []string{"repo", "lock", "etc"} {
		os.Mkdir(filepath.Join(base, d), 0o700)
		if chown != nil {
			chown(filepath.Join(base, d))
		}
	}
	conn, err := pgconn.Connect(ctx, c.SocketURI("postgres"), pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	stanza := "t" + strconv.FormatInt(time.Now().UnixNano(), 36)
	plan, err := PlanPgBackRest(ctx, conn, PgBackRestOptions{Stanza: stanza, Repo: filepath.Join(base, "repo"),
		ConfigPath: filepath.Join(base, "etc", "pgbackrest.conf"), LockPath: filepath.Join(base, "lock"), ArchiveTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.RestartNeeded || !strings.Contains(plan.Config, "repo1-cipher-type=aes-256-cbc") || !strings.Contains(plan.Config, "repo1-cipher-pass=") {
		t.Fatalf("the plan must encrypt the repository and say a restart is needed:\n%s", plan.Config)
	}
	if err := plan.WriteConfig(chown); err != nil {
		t.Fatal(err)
	}
	if err := plan.WriteConfig(chown); !errors.Is(err, ErrConfigExists) {
		t.Fatalf("an existing configuration must never be replaced, got %v", err)
	}
	run, err := change.New(conn, change.Options{Tool: "pgmedic backup plan (test)"}).Run(ctx, plan.Settings)
	if err != nil || run.Failed > 0 {
		t.Fatalf("applying the archive settings: %v %+v", err, run)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(base, "cluster")}); err != nil {
		t.Fatal(err)
	}
	as, err := AsUser(account)
	if err != nil {
		t.Fatal(err)
	}
	br := &PgBackRest{ConfigPath: plan.ConfigPath, Stanza: stanza, As: as}
	if _, err := br.Run(ctx, "stanza-create"); err != nil {
		t.Fatal(err)
	}
	if _, err := br.Run(ctx, "check"); err != nil {
		t.Fatalf("archiving does not work: %v", err)
	}
	return &pitrRig{cluster: c, br: br, plan: plan, base: base, chown: chown}
}

func (r *pitrRig) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := pgconn.Connect(ctxFor(t), r.cluster.SocketURI("postgres"), pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctxFor(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestPgBackRestPITR: a full backup, then two writes with a timestamp between them;
// a point-in-time restore to that timestamp has the first and not the second.
func TestPgBackRestPITR(t *testing.T) {
	r := newPITRRig(t)
	ctx := ctxFor(t)
	r.exec(t, "CREATE TABLE visits (id int PRIMARY KEY, note text)")
	if _, err := r.br.Run(ctx, "backup", "--type=full"); err != nil {
		t.Fatal(err)
	}
	r.exec(t, "INSERT INTO visits VALUES (0, 'before the incremental')")
	if _, err := r.br.Run(ctx, "backup", "--type=incr"); err != nil {
		t.Fatal(err)
	}
	// pgBackRest records the backup's stop time in whole seconds, and restores to a
	// time only from a backup that stopped before it.
	time.Sleep(1100 * time.Millisecond)
	r.exec(t, "INSERT INTO visits VALUES (1, 'first')")
	conn, err := pgconn.Connect(ctx, r.cluster.SocketURI("postgres"), pgconn.Policy{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var target time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&target); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_sleep(0.3)"); err != nil {
		t.Fatal(err)
	}
	r.exec(t, "INSERT INTO visits VALUES (2, 'second')")
	waitArchived(t, conn)

	// The status sees the full backup, healthy archiving and no WAL at risk.
	st, err := ReadStatus(ctx, conn, StatusOptions{PgBackRest: r.br})
	if err != nil {
		t.Fatal(err)
	}
	if st.Repo == nil || st.Repo.LastFull == nil || st.Repo.LastIncr == nil || st.Repo.LastIncr.Type != "incr" || st.Repo.Cipher != "aes-256-cbc" ||
		st.Repo.Backups != 2 || st.Archiver.Failing || st.Archiver.RPOSeconds == nil || *st.Archiver.RPOSeconds != 0 {
		t.Fatalf("status: %+v %+v", st.Repo, st.Archiver)
	}
	// A write not yet archived is exposure: the RPO now is the time since the last
	// archived segment.
	r.exec(t, "CREATE TABLE unarchived AS SELECT generate_series(1, 1000) AS id")
	st, err = ReadStatus(ctx, conn, StatusOptions{PgBackRest: r.br})
	if err != nil || st.Archiver.PendingBytes == nil || *st.Archiver.PendingBytes <= 0 || *st.Archiver.RPOSeconds <= 0 {
		t.Fatalf("unarchived WAL must show as RPO: %+v %v", st.Archiver, err)
	}

	// The newest backup and all WAL, restored and checked: a measured recovery time.
	records := t.TempDir()
	v, err := VerifyPhysical(ctx, PhysicalOptions{PgBackRest: r.br, RecordDir: records})
	if err != nil || !v.OK || v.RestoreSeconds <= 0 || v.Amcheck.Tables == 0 || v.DatabaseBytes == 0 {
		t.Fatalf("physical verification: %+v %v", v, err)
	}
	if last, err := LastVerified(records); err != nil || last == nil || last.File != v.File {
		t.Fatalf("the physical verification record is not found: %+v %v", last, err)
	}
	t.Logf("pgBackRest restore and recovery %.1fs, amcheck %.1fs over %d tables and %d indexes",
		v.RestoreSeconds, v.AmcheckSeconds, v.Amcheck.Tables, v.Amcheck.Indexes)

	restored := filepath.Join(r.base, "restored")
	os.Mkdir(restored, 0o700)
	if r.chown != nil {
		r.chown(restored)
	}
	if err := r.br.RestoreToTime(ctx, restored, target); err != nil {
		t.Fatal(err)
	}
	uri := startRestored(t, r, restored)
	got := queryStrings(t, uri, "SELECT note FROM visits ORDER BY id")
	if strings.Join(got, ",") != "before the incremental,first" {
		t.Fatalf("restored to %s: want only the first write, got %v", target.Format(time.RFC3339Nano), got)
	}
}

// waitArchived switches WAL and waits until the segment holding everything so far is
// archived.
func waitArchived(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := ctxFor(t)
	var seg string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 600; i++ {
		var last *string
		conn.QueryRow(ctx, "SELECT last_archived_wal FROM pg_stat_archiver").Scan(&last)
		if last != nil && *last >= seg {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("segment %s was not archived within a minute", seg)
}

// startRestored runs a server on the restored data directory (as its owner, on a
// private socket, no TCP, archiving off) and waits until recovery has promoted it.
func startRestored(t *testing.T, r *pitrRig, dataDir string) string {
	t.Helper()
	ctx := ctxFor(t)
	sock := filepath.Join(r.base, "sock")
	os.Mkdir(sock, 0o700)
	if r.chown != nil {
		r.chown(sock)
	}
	port := 20000 + int(time.Now().UnixNano()%20000)
	pgctl := r.cluster.Bin.Tool("pg_ctl")
	opts := fmt.Sprintf("-p %d -c listen_addresses='' -c unix_socket_directories=%s -c archive_mode=off -c ssl=off", port, sock)
	logFile := filepath.Join(sock, "restored.log")
	start := exec.Command(pgctl, "-D", dataDir, "-o", opts, "-l", logFile, "-w", "-t", "120", "start")
	if r.br.As != nil {
		r.br.As(start)
	}
	if out, err := start.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("starting the restored server: %v %s %s", err, out, log)
	}
	t.Cleanup(func() {
		stop := exec.Command(pgctl, "-D", dataDir, "-m", "immediate", "stop")
		if r.br.As != nil {
			r.br.As(stop)
		}
		stop.Run()
	})
	uri := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d", sock, port)
	for i := 0; i < 600; i++ {
		conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{})
		if err == nil {
			var inRecovery bool
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(context.Background())
			if err == nil && !inRecovery {
				return uri
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile)
	t.Fatalf("the restored server did not finish recovery: %s", log)
	return ""
}

func queryStrings(t *testing.T, uri, sql string) []string {
	t.Helper()
	conn, err := pgconn.Connect(ctxFor(t), uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctxFor(t), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
