//go:build unix

package web_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/monitor/web"
	"github.com/pgmedic/pgmedic/pgconn"
)

const chromiumPath = "/usr/bin/chromium" // installed by scripts/setup

// chromium loads url headless and returns its standard output and error (console
// messages, CSP violations included).
func chromium(t *testing.T, url string, extra ...string) (string, string) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed and is not at %s (%v); run scripts/setup", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0", "--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || err != nil {
		t.Fatalf("chromium: %v; stderr: %.2000s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// The dashboard in a real browser: refused (the sign-in form) without the token; with
// access, the alerts page shows a provoked alert, the overview draws its charts, and
// the strict CSP blocks nothing of the page's own. A screenshot goes to
// $PGMEDIC_ARTIFACTS when set.
func TestDashboardInChromium(t *testing.T) {
	e := setup(t, func(th *monitor.Thresholds) { th.IdleInTransaction = 300 * time.Millisecond })
	dom, _ := chromium(t, e.srv.URL+"/alerts", "--dump-dom")
	if !strings.Contains(dom, `name="token"`) || strings.Contains(dom, "<table") {
		t.Errorf("without the token the browser should get the sign-in form: %.500s", dom)
	}

	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, e.db.SocketURI, pgconn.Policy{Write: true, ApplicationName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(e.m.Alerts()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Chromium's command line cannot send a header, so the browser gets a loopback
	// listener without a token (which the listen policy allows) on the same monitor.
	open, err := web.New(e.m, web.Options{Listen: "127.0.0.1:0", Audit: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(open)
	defer srv.Close()
	dom, logs := chromium(t, srv.URL+"/alerts", "--dump-dom")
	if !strings.Contains(dom, "idle_in_transaction") || !strings.Contains(dom, `class="firing warning"`) {
		t.Errorf("alerts page lacks the provoked alert: %.1000s", dom)
	}
	if strings.Contains(logs, "Content Security Policy") || strings.Contains(logs, "Refused to") {
		t.Errorf("the page breaks its own CSP: %.1000s", logs)
	}
	dom, _ = chromium(t, srv.URL+"/", "--dump-dom")
	if strings.Count(dom, "<polyline") < 3 {
		t.Errorf("overview draws %d charts", strings.Count(dom, "<polyline"))
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	chromium(t, srv.URL+"/", "--screenshot="+shot, "--window-size=1280,1200")
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(data)); err != nil || cfg.Width != 1280 || len(data) < 10*1024 {
		t.Errorf("screenshot: %+v %v, %d bytes", cfg, err, len(data))
	}
	if dir := os.Getenv("PGMEDIC_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			os.WriteFile(filepath.Join(dir, "monitor-dashboard.png"), data, 0o644)
		}
	}
	conn.Exec(ctx, "COMMIT")
}
