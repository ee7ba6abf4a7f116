package monitor_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/internal/localpg"
	"github.com/pgmedic/pgmedic/monitor"
)

// A stopped server raises server_down; the monitor keeps running and the alert resolves
// when the server is back, with the session reopened.
func TestServerDownAndRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second cluster")
	}
	dir, err := os.MkdirTemp("", "pgmedic-monitor-down-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	opts := localpg.Options{Dir: filepath.Join(dir, "cluster")}
	c, err := localpg.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background()) })

	r := start(t, []string{c.SocketURI("postgres")}, nil)
	a := fireAndResolve(t, r, "server_down", nil, func() {
		if err := c.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if c, err = localpg.Start(ctx, opts); err != nil {
			t.Fatal(err)
		}
	})
	if a.Severity != monitor.Critical || a.Summary == "" {
		t.Errorf("server_down alert: %+v", a)
	}
	// Collection goes on against the restarted server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s := r.m.Latest(r.m.Targets()[0]); s != nil && s.Up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no successful collection after the restart")
		}
		time.Sleep(testInterval)
	}
}
