package monitor

import (
	"context"
	"regexp"
	"strings"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	"github.com/pgmedic/pgmedic/pgconn"
)

// maxLogRead bounds what one collection reads of the server log.
const maxLogRead = 1 << 20

// authFailure matches the FATAL messages of a refused login (lc_messages=C), capturing
// the role. Only role names are kept from the log, never statements or values.
var authFailure = regexp.MustCompile(`FATAL:  (?:password authentication failed for user|role|no pg_hba\.conf entry for host "[^"]*", user|pg_hba\.conf rejects connection for host "[^"]*", user) "([^"]*)"`)

// logState follows the server's current log file through SQL (pg_current_logfile and
// pg_read_file: the logging collector must be on, and the role a superuser or granted
// pg_read_server_files and pg_monitor). When that is not possible it says so once and
// stops trying until the session is reopened.
type logState struct {
	off      bool
	file     string
	offset   int64
	reported bool
}

// failedLogins returns the refused logins by role since the last call (nil the first
// time: it starts at the end of the file).
func (t *target) failedLogins(ctx context.Context) map[string]int {
	ls := &t.log
	if ls.off {
		return nil
	}
	var file *string
	err := t.conn.QueryRow(ctx, pgconn.Marker+`SELECT pg_current_logfile('stderr')`).Scan(&file)
	if err != nil || file == nil {
		t.logOff("the server log is not readable through SQL (logging_collector off, or no privilege)", err)
		return nil
	}
	var size int64
	if err := t.conn.QueryRow(ctx, pgconn.Marker+`SELECT size FROM pg_stat_file($1)`, *file).Scan(&size); err != nil {
		t.logOff("cannot read the size of the server log", err)
		return nil
	}
	if *file != ls.file || size < ls.offset {
		first := ls.file == ""
		ls.file, ls.offset = *file, 0
		if first {
			ls.offset = size // start at the end: earlier failures are history
			return nil
		}
	}
	if size == ls.offset {
		return map[string]int{}
	}
	n := min(size-ls.offset, maxLogRead)
	var text string
	if err := t.conn.QueryRow(ctx, pgconn.Marker+`SELECT pg_read_file($1, $2, $3)`, *file, ls.offset, n).Scan(&text); err != nil {
		t.logOff("cannot read the server log", err)
		return nil
	}
	ls.offset += n
	out := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		if m := authFailure.FindStringSubmatch(line); m != nil {
			out[m[1]]++
		}
	}
	return out
}

func (t *target) logOff(why string, err error) {
	t.log.off = true
	if t.log.reported {
		return
	}
	t.log.reported = true
	args := []any{"target", t.name}
	if err != nil && pgerr.Privilege(err) {
		args = append(args, "hint", "grant pg_read_server_files and pg_monitor to the monitor's role")
	}
	t.opts.Logger.Info("monitor: failed logins not watched: "+why, args...)
}
