//go:build unix

package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is where scripts/setup installs Chromium on Debian.
const chromiumPath = "/usr/bin/chromium"

// runChromium runs headless Chromium on a file with a fresh profile and returns its
// standard output. Chromium runs in its own process group, so a timeout kills its
// helper processes too.
func runChromium(t *testing.T, page string, extra ...string) []byte {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed to check the HTML report and is not at %s (%v); run scripts/setup to install it", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}
	args = append(args, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium %s did not finish within 60s; stderr:\n%s", strings.Join(extra, " "), tail(stderr.String(), 2000))
	}
	if err != nil {
		t.Fatalf("chromium %s: %v; stderr:\n%s", strings.Join(extra, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func TestHTMLInChromium(t *testing.T) {
	in := fixture()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(render(t, HTML, in, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}

	dom := string(runChromium(t, page, "--dump-dom"))
	for _, id := range sectionIDs {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("rendered DOM lacks section %q", id)
		}
	}
	// The DOM serialiser escapes only &, < and > in text.
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	for _, f := range in.Findings {
		if !strings.Contains(dom, esc.Replace(f.Title)) {
			t.Errorf("rendered DOM lacks finding %q", f.Title)
		}
	}
	for _, id := range []string{"chart-table-sizes", "chart-top-statements"} {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("rendered DOM lacks chart %s", id)
		}
	}
	// The inline script ran, so the content security policy's hash matches it.
	if !strings.Contains(dom, `<html lang="en" class="js">`) {
		t.Errorf("the inline script did not run under the page's CSP: %.200q", dom)
	}

	shot := filepath.Join(dir, "report.png")
	runChromium(t, page, "--screenshot="+shot, "--window-size=1280,2400")
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(data) <= 10*1024 {
		t.Errorf("screenshot is %d bytes, want more than 10 KB (a blank page?)", len(data))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != 1280 || cfg.Height != 2400 {
		t.Errorf("screenshot is not a 1280×2400 PNG: %+v, %v", cfg, err)
	}
	if dir := os.Getenv("PGMEDIC_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("PGMEDIC_ARTIFACTS: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "report.png"), data, 0o644); err != nil {
			t.Fatalf("PGMEDIC_ARTIFACTS: %v", err)
		}
	}
}
