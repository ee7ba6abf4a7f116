package pglog

import (
	"fmt"
	"regexp"
	"strings"
)

// matchWindow bounds how far into a line the prefix and severity are looked for: a
// prefix is short, while the line after it can be megabytes of SQL.
const matchWindow = 8192

// linePrefix recognises the start of a stderr log message: log_line_prefix, then the
// severity keyword. Built from a known log_line_prefix it is exact; without one
// (entry == nil) it finds the first severity keyword and reads the fields it can from
// what precedes it.
type linePrefix struct {
	entry *regexp.Regexp // ^prefix(SEVERITY):  ; nil for the heuristic
	head  *regexp.Regexp // ^prefix, when the prefix has a shape of its own (timestamp, pid)
	// submatch indexes in entry; 0 when the prefix lacks the escape
	user, db, app, pid, session, sqlstate, sev int
}

// prefixFields is what one message line's prefix says.
type prefixFields struct {
	sev, rest                    string // severity keyword; the message after it
	user, db, app, key, sqlstate string
}

var (
	anySeverity    = regexp.MustCompile(`\b` + severityPattern)
	timestampStart = regexp.MustCompile(`^(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d|\d{9,}\.\d{3}\b|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |< \d{4}-\d\d-\d\d )`)
)

// compilePrefix turns a log_line_prefix into a matcher. Fields whose width is padded
// (%-10u) are trimmed; the part after %q is optional, as non-session processes
// (checkpointer, autovacuum) stop printing the prefix there.
func compilePrefix(tpl string) (*linePrefix, error) {
	p := &linePrefix{}
	var b strings.Builder
	b.WriteString("^")
	groups, optional, shaped := 0, false, false
	capture := func(pat string, padded bool, idx *int) {
		groups++
		*idx = groups
		if padded {
			b.WriteString(` *(` + pat + `) *`)
		} else {
			b.WriteString(`(` + pat + `)`)
		}
	}
	plain := func(pat string, padded bool) {
		if padded {
			b.WriteString(` *(?:` + pat + `) *`)
		} else {
			b.WriteString(`(?:` + pat + `)`)
		}
	}
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if c != '%' || i+1 == len(tpl) {
			b.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		j := i + 1
		if tpl[j] == '-' {
			j++
		}
		for j < len(tpl) && tpl[j] >= '0' && tpl[j] <= '9' {
			j++
		}
		if j == len(tpl) {
			b.WriteString(regexp.QuoteMeta(tpl[i:]))
			break
		}
		padded := j > i+1
		esc := tpl[j]
		i = j
		const (
			text = `.*?`
			ts   = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: [A-Za-z0-9+\-]+)?`
			tsMs = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?: [A-Za-z0-9+\-]+)?`
		)
		switch esc {
		case 'a':
			capture(text, padded, &p.app)
		case 'u':
			capture(text, padded, &p.user)
		case 'd':
			capture(text, padded, &p.db)
		case 'p':
			capture(`\d+`, padded, &p.pid)
			shaped = true
		case 'c':
			capture(`[0-9a-f]+\.[0-9a-f]+`, padded, &p.session)
			shaped = true
		case 'e':
			capture(`[0-9A-Z]{5}`, padded, &p.sqlstate)
		case 'r', 'h', 'L', 'b', 'i':
			plain(text, padded)
		case 'P', 'x':
			plain(`\d*`, padded)
		case 'Q':
			plain(`-?\d*`, padded)
		case 'v':
			plain(`[0-9/\-]*`, padded)
		case 'l':
			plain(`\d+`, padded)
			shaped = true
		case 'n':
			plain(`\d+\.\d+`, padded)
			shaped = true
		case 't', 's':
			plain(ts, padded)
			shaped = true
		case 'm':
			plain(tsMs, padded)
			shaped = true
		case 'q':
			if !optional {
				b.WriteString("(?:")
				optional = true
			}
		case '%':
			b.WriteString("%")
		default:
			// PostgreSQL prints nothing for an unknown escape.
		}
	}
	if optional {
		// Lazy: prefer the short form, so a session line's fields cannot reach into
		// the message of a non-session line.
		b.WriteString(")??")
	}
	prefix := b.String()
	entry, err := regexp.Compile(prefix + severityPattern)
	if err != nil {
		return nil, fmt.Errorf("pglog: log_line_prefix %q: %w", tpl, err)
	}
	p.entry = entry
	p.sev = groups + 1
	if shaped {
		p.head = regexp.MustCompile(prefix)
	}
	return p, nil
}

// match recognises a message line.
func (p *linePrefix) match(line string) (prefixFields, bool) {
	window := line
	if len(window) > matchWindow {
		window = window[:matchWindow]
	}
	if p.entry == nil {
		return matchHeuristic(line, window)
	}
	m := p.entry.FindStringSubmatchIndex(window)
	if m == nil {
		return prefixFields{}, false
	}
	get := func(idx int) string {
		if idx == 0 || m[2*idx] < 0 {
			return ""
		}
		return strings.TrimSpace(window[m[2*idx]:m[2*idx+1]])
	}
	f := prefixFields{
		sev: get(p.sev), rest: line[m[1]:],
		user: get(p.user), db: get(p.db), app: get(p.app), sqlstate: get(p.sqlstate),
		key: get(p.pid),
	}
	if f.key == "" {
		f.key = get(p.session)
	}
	return f, true
}

// looksLikeEntry reports whether a line that is not a message still starts like one:
// such a line is a damaged entry, not the continuation of the previous message.
func (p *linePrefix) looksLikeEntry(line string) bool {
	window := line
	if len(window) > matchWindow {
		window = window[:matchWindow]
	}
	return timestampStart.MatchString(window) || (p.head != nil && p.head.MatchString(window))
}

var (
	kvUser  = regexp.MustCompile(`(?:^|[\s,;\[(|])(?:user|usr|username|u)=([^\s,;\])|]*)`)
	kvDB    = regexp.MustCompile(`(?:^|[\s,;\[(|])(?:db|database|dbname|d)=([^\s,;\])|]*)`)
	kvApp   = regexp.MustCompile(`(?:^|[\s,;\[(|])(?:app|application|appname|application_name|a)=([^,;\])|]*)`)
	kvState = regexp.MustCompile(`(?:^|[\s,;\[(|])(?:sqlstate|state|e)=([0-9A-Z]{5})\b`)
	nextKey = regexp.MustCompile(`\s\w+=`)
	pidRE   = regexp.MustCompile(`\[(\d+)\]`)
)

// matchHeuristic handles an unknown log_line_prefix: the message starts at the first
// severity keyword, and user, database and application are read from the forms
// people use (user=...,db=...,app=... or user@db[/app]).
func matchHeuristic(line, window string) (prefixFields, bool) {
	m := anySeverity.FindStringSubmatchIndex(window)
	if m == nil {
		return prefixFields{}, false
	}
	prefix := window[:m[0]]
	f := prefixFields{sev: window[m[2]:m[3]], rest: line[m[1]:]}
	if s := pidRE.FindStringSubmatch(prefix); s != nil {
		f.key = s[1]
	}
	sub := func(re *regexp.Regexp) string {
		if s := re.FindStringSubmatch(prefix); s != nil {
			return strings.TrimSpace(s[1])
		}
		return ""
	}
	f.user, f.db, f.sqlstate = sub(kvUser), sub(kvDB), sub(kvState)
	f.app = sub(kvApp)
	if loc := nextKey.FindStringIndex(f.app); loc != nil {
		f.app = strings.TrimSpace(f.app[:loc[0]])
	}
	if f.user == "" && f.db == "" {
		f.user, f.db, f.app = userAtDB(prefix, f.app)
	}
	return f, true
}

// userAtDB reads the %u@%d form (optionally %u@%d/%a), also inside a token such as
// Amazon RDS's "%t:%r:%u@%d:[%p]:".
func userAtDB(prefix, app string) (user, db, application string) {
	fields := strings.Fields(prefix)
	for i := len(fields) - 1; i >= 0; i-- {
		tok := fields[i]
		at := strings.LastIndexByte(tok, '@')
		if at < 0 {
			continue
		}
		user = tok[:at]
		if k := strings.LastIndexAny(user, ":[]()"); k >= 0 {
			user = user[k+1:]
		}
		rest := tok[at+1:]
		if k := strings.IndexAny(rest, ":[]()"); k >= 0 {
			rest = rest[:k]
		}
		db, application, _ = strings.Cut(rest, "/")
		if application == "" {
			application = app
		}
		return user, db, application
	}
	return "", "", app
}

// commonPrefixes are log_line_prefix values seen in the wild, most specific first:
// detection picks the first that fits the most lines.
var commonPrefixes = []string{
	"%m [%p] %q%u@%d/%a ",
	"%t [%p] %q%u@%d/%a ",
	"%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", // pgBadger's recommendation
	"%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
	"%t [%p]: [%l-1] db=%d,user=%u,app=%a,client=%h ",
	"%m [%p]: [%l-1] db=%d,user=%u,app=%a,client=%h ",
	"%t [%p]: user=%u,db=%d,app=%a,client=%h ",
	"%m [%p]: user=%u,db=%d,app=%a,client=%h ",
	"%t [%p]: [%l-1] user=%u,db=%d ",
	"%m [%p]: [%l-1] user=%u,db=%d ",
	"%t:%r:%u@%d:[%p]:", // Amazon RDS
	"%m:%r:%u@%d:[%p]:",
	"%m [%p] %q%u@%d ", // Debian and Ubuntu
	"%t [%p] %q%u@%d ",
	"%t [%p-%l] %q%u@%d ",
	"%m [%p-%l] %q%u@%d ",
	"%m [%p] ", // PostgreSQL's default
	"%t [%p] ",
	"< %m > ", // Red Hat
	"< %t > ",
	"%m ",
	"%t ",
}

// detectPrefix picks the common prefix that recognises the most of the sample lines
// (lines holding a severity keyword), if it recognises nearly all of them; otherwise
// the heuristic.
func detectPrefix(samples []string) *linePrefix {
	if len(samples) == 0 {
		return &linePrefix{}
	}
	var best *linePrefix
	bestCount := 0
	for _, tpl := range commonPrefixes {
		p, err := compilePrefix(tpl)
		if err != nil {
			continue
		}
		n := 0
		for _, s := range samples {
			if _, ok := p.match(s); ok {
				n++
			}
		}
		if n > bestCount {
			best, bestCount = p, n
		}
	}
	if best != nil && bestCount*10 >= len(samples)*9 {
		return best
	}
	return &linePrefix{}
}
