package pglog

import (
	"bufio"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Parts of a stderr message that pglog keeps while the message is being read.
const (
	partNone = iota - 1 // HINT, QUERY, LOCATION: read past, not kept
	partText
	partDetail
	partContext
	partStatement
	numParts
)

// secondaryPart says which part a secondary line (DETAIL:, STATEMENT:, ...) fills.
func secondaryPart(sev string) (part int, ok bool) {
	switch sev {
	case "DETAIL":
		return partDetail, true
	case "CONTEXT":
		return partContext, true
	case "STATEMENT":
		return partStatement, true
	case "HINT", "QUERY", "LOCATION":
		return partNone, true
	}
	return 0, false
}

// pending is a stderr message still being read: its secondary lines (DETAIL,
// STATEMENT, ...) and continuation lines may follow.
type pending struct {
	msg   message
	parts [numParts]strings.Builder
	cur   int // part continuation lines extend
	last  int // last line read into it
	key   string
	done  bool
}

func (pm *pending) add(s string) {
	if pm.cur != partNone {
		pm.parts[pm.cur].WriteString(s)
	}
}

// Flushing: a message whose session has been silent this many lines is complete.
const (
	staleAfter = 1000
	flushEvery = 4096
)

// stderrParser groups stderr lines into messages. Messages are keyed by session (the
// pid in the prefix or the syslog header), so that lines of sessions interleaved by
// syslog still reach the right message.
type stderrParser struct {
	out     *collector
	prefix  *linePrefix
	syslog  bool
	ident   string // syslog program name of the server
	pending map[string]*pending
	last    *pending // receives continuation lines
	// opened holds the messages in the order they started (a queue: finished ones
	// are dropped from its front), so the earliest open one is found cheaply.
	opened []*pending
}

// syslogHeader matches what syslog puts before PostgreSQL's text: time, host,
// ident[pid]: and, with syslog_sequence_numbers, [line-chunk].
var syslogHeader = regexp.MustCompile(`^(?:<\d+>\d? ?)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+\-]\d\d:?\d\d)?) \S+ ([^\s\[\]:]+)\[(\d+)\]: (?:\[(\d+)-(\d+)\] )?`)

func newStderrParser(head []byte, complete bool, prefix string, out *collector) (*stderrParser, error) {
	p := &stderrParser{out: out, pending: map[string]*pending{}}
	lines := strings.Split(string(head), "\n")
	if !complete && len(lines) > 1 {
		lines = lines[:len(lines)-1] // cut short by the head's size
	}
	var contents []string
	headers, nonEmpty := 0, 0
	idents := map[string]int{}
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		nonEmpty++
		if m := syslogHeader.FindStringSubmatchIndex(l); m != nil {
			headers++
			content := l[m[1]:]
			if anySeverity.MatchString(window(content)) {
				idents[l[m[2]:m[3]]]++
				contents = append(contents, content)
			}
			continue
		}
		contents = append(contents, l)
	}
	if nonEmpty > 0 && headers*2 > nonEmpty {
		p.syslog = true
		for ident, n := range idents {
			if n > idents[p.ident] || (n == idents[p.ident] && ident < p.ident) {
				p.ident = ident
			}
		}
	}
	if prefix != "" {
		lp, err := compilePrefix(prefix)
		if err != nil {
			return nil, err
		}
		p.prefix = lp
		return p, nil
	}
	var samples []string
	for _, c := range contents {
		if c[0] != '\t' && anySeverity.MatchString(window(c)) {
			samples = append(samples, c)
			if len(samples) == 2000 {
				break
			}
		}
	}
	p.prefix = detectPrefix(samples)
	return p, nil
}

func window(s string) string {
	if len(s) > matchWindow {
		return s[:matchWindow]
	}
	return s
}

func (p *stderrParser) run(br *bufio.Reader) error {
	lr := &lineReader{r: br}
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if p.syslog {
			p.syslogLine(lr.line, line)
		} else {
			p.plainLine(lr.line, line)
		}
		if lr.line%flushEvery == 0 {
			for _, pm := range p.pending {
				if pm.last < lr.line-staleAfter {
					p.finish(pm)
				}
			}
		}
		if p.out.err != nil {
			return p.out.err
		}
	}
	for _, pm := range p.pending {
		p.finish(pm)
	}
	return p.out.err
}

// openFrom returns the first line of the earliest message still open, math.MaxInt
// when none is.
func (p *stderrParser) openFrom() int {
	for len(p.opened) > 0 && p.opened[0].done {
		p.opened[0] = nil
		p.opened = p.opened[1:]
	}
	if len(p.opened) == 0 {
		return math.MaxInt
	}
	return p.opened[0].msg.line
}

func (p *stderrParser) plainLine(n int, line string) {
	switch {
	case strings.HasPrefix(line, "\t"):
		// PostgreSQL indents every further line of a message with a tab.
		p.continueLast(n, "\n"+line[1:])
	default:
		if f, ok := p.match(line, false); ok {
			p.start(n, f)
			return
		}
		if p.prefix.looksLikeEntry(line) {
			p.out.problem(n, "line starts like a log entry but has no severity keyword after log_line_prefix")
			p.last = nil
			return
		}
		// Output of something else on the server's stderr, or a message written
		// without tabs: it continues the previous message.
		p.continueLast(n, "\n"+line)
	}
}

func (p *stderrParser) syslogLine(n int, line string) {
	m := syslogHeader.FindStringSubmatchIndex(window(line))
	if m == nil {
		p.continueLast(n, "\n"+line)
		return
	}
	if line[m[2]:m[3]] != p.ident {
		return // another program's message
	}
	pid := line[m[4]:m[5]]
	// rsyslog writes control characters as #ooo: PostgreSQL's continuation tabs
	// arrive as #011.
	content := strings.ReplaceAll(line[m[1]:], "#011", "\t")
	chunk := 1
	if m[8] >= 0 {
		chunk, _ = strconv.Atoi(line[m[8]:m[9]])
	}
	// PostgreSQL hands syslog the whole message, DETAIL and STATEMENT lines included,
	// and syslog sends each line (and each 900-byte piece of a long line) as a chunk.
	if chunk > 1 || strings.HasPrefix(content, "\t") {
		if rest, ok := strings.CutPrefix(content, "\t"); ok {
			p.last = p.pending[pid]
			p.continueLast(n, "\n"+rest)
			return
		}
		if f, ok := p.match(content, true); ok {
			if _, secondary := secondaryPart(f.sev); secondary {
				f.key = pid
				p.start(n, f)
				return
			}
		}
		p.last = p.pending[pid]
		p.continueLast(n, content) // a long line split by syslog
		return
	}
	if f, ok := p.match(content, true); ok {
		f.key = pid
		p.start(n, f)
		return
	}
	p.out.problem(n, "syslog line from the server has no severity keyword after log_line_prefix")
	p.last = nil
}

// match recognises a message line. A line that the prefix does not fit but that
// starts like an entry (log_line_prefix changed within the file, or was given wrong)
// is read with the heuristic rather than lost.
func (p *stderrParser) match(line string, entryLike bool) (prefixFields, bool) {
	if f, ok := p.prefix.match(line); ok {
		return f, true
	}
	if p.prefix.entry != nil && (entryLike || p.prefix.looksLikeEntry(line)) {
		return matchHeuristic(line, window(line))
	}
	return prefixFields{}, false
}

func (p *stderrParser) continueLast(n int, s string) {
	if p.last == nil {
		return
	}
	p.last.add(s)
	p.last.last = n
}

func (p *stderrParser) start(n int, f prefixFields) {
	if part, secondary := secondaryPart(f.sev); secondary {
		pm := p.pending[f.key]
		if pm == nil {
			// A DETAIL or STATEMENT whose message is gone: kept as a message without
			// severity, which interpret ignores.
			pm = &pending{msg: message{line: n}, key: f.key}
			p.pending[f.key] = pm
		}
		if part != partNone && pm.parts[part].Len() > 0 {
			pm.parts[part].WriteByte('\n')
		}
		pm.cur, pm.last = part, n
		pm.add(f.rest)
		p.last = pm
		return
	}
	if pm := p.pending[f.key]; pm != nil {
		p.finish(pm)
	}
	pm := &pending{
		msg: message{line: n, severity: f.sev, sqlstate: f.sqlstate, user: f.user, db: f.db, app: f.app},
		cur: partText, last: n, key: f.key,
	}
	rest := f.rest
	// log_error_verbosity = verbose writes the SQLSTATE after the severity.
	if len(rest) >= 7 && isSQLState(rest[:5]) && rest[5:7] == ": " {
		if pm.msg.sqlstate == "" {
			pm.msg.sqlstate = rest[:5]
		}
		rest = rest[7:]
	}
	pm.add(rest)
	p.pending[f.key] = pm
	p.opened = append(p.opened, pm)
	p.last = pm
}

func isSQLState(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return len(s) == 5
}

func (p *stderrParser) finish(pm *pending) {
	if p.pending[pm.key] == pm {
		delete(p.pending, pm.key)
	}
	if p.last == pm {
		p.last = nil
	}
	pm.done = true
	m := pm.msg
	m.text = pm.parts[partText].String()
	m.detail = pm.parts[partDetail].String()
	m.context = pm.parts[partContext].String()
	m.stmtTxt = pm.parts[partStatement].String()
	p.out.interpret(&m)
}
