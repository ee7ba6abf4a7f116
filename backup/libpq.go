package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/pgmedic/pgmedic/internal/localpg"
)

var kvPassword = regexp.MustCompile(`(?i)(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// libpqTarget turns a connection string into what a libpq client (pg_dump) takes: the
// string without its password, and the password as PGPASSWORD, so it never shows in
// the process list. An empty dsn leaves everything to the libpq environment.
func libpqTarget(dsn string) (connstr string, env []string) {
	env = os.Environ()
	if dsn == "" {
		return "", env
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn, env
		}
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				env = append(env, "PGPASSWORD="+pw)
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		if q.Has("password") {
			env = append(env, "PGPASSWORD="+q.Get("password"))
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String(), env
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		pw := m[2]
		if strings.HasPrefix(pw, "'") {
			pw = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(strings.Trim(pw, "'"))
		}
		env = append(env, "PGPASSWORD="+pw)
		dsn = kvPassword.ReplaceAllString(dsn, "$1")
	}
	return dsn, env
}

// findTool locates a PostgreSQL client program (pg_dump, pg_restore) of the installed
// server version.
func findTool(ctx context.Context, binDir, name string) (string, error) {
	bin, err := localpg.FindBinaries(ctx, binDir)
	if err == nil {
		return bin.Tool(name), nil
	}
	if p, lerr := exec.LookPath(name); lerr == nil {
		return p, nil
	}
	return "", err
}

func toolVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// stderrTail keeps the last lines a tool wrote to stderr, for one-line errors.
type stderrTail struct{ buf bytes.Buffer }

func (s *stderrTail) Write(p []byte) (int, error) {
	s.buf.Write(p)
	if s.buf.Len() > 64<<10 {
		b := s.buf.Bytes()
		s.buf = *bytes.NewBuffer(append([]byte(nil), b[len(b)-32<<10:]...))
	}
	return len(p), nil
}

// quotedValue matches what PostgreSQL quotes in a message after "DETAIL" or a value
// position; tool errors pass through it so no row value reaches the user.
var quotedValue = regexp.MustCompile(`(?i)(DETAIL|CONTEXT|LINE \d+):.*|"[^"]*"\)|: "[^"]*"`)

// lastError is the last "error:" line a tool printed, stripped of quoted values.
func (s *stderrTail) lastError() string {
	lines := strings.Split(strings.TrimSpace(s.buf.String()), "\n")
	pick := ""
	for _, l := range lines {
		if strings.Contains(l, "error:") || strings.Contains(l, "ERROR:") || strings.Contains(l, "FATAL:") {
			pick = l
		}
	}
	if pick == "" && len(lines) > 0 {
		pick = lines[len(lines)-1]
	}
	return strings.TrimSpace(quotedValue.ReplaceAllString(pick, ""))
}

// firstError is the first error line, stripped of quoted values.
func (s *stderrTail) firstError() string {
	for _, l := range strings.Split(s.buf.String(), "\n") {
		if strings.Contains(l, "error:") || strings.Contains(l, "ERROR:") {
			return strings.TrimSpace(quotedValue.ReplaceAllString(l, ""))
		}
	}
	return ""
}

func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}
