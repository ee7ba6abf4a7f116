package pglog

import (
	"strconv"
	"strings"
)

// message is one server log message with the parts pglog uses, whatever format it came
// from. detail and context may hold parameter values: they are only counted, and the
// message is dropped once interpreted.
type message struct {
	line                           int
	severity                       string
	sqlstate                       string
	user, db, app                  string
	text, detail, context, stmtTxt string
}

// isPrimary reports whether sev starts a message (DETAIL, STATEMENT and the other
// secondary parts follow one).
func isPrimary(sev string) bool {
	switch sev {
	case "LOG", "INFO", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC",
		"DEBUG", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5":
		return true
	}
	return false
}

// isFailure reports whether a message of severity sev ends the statement it reports.
func isFailure(sev string) bool {
	return sev == "ERROR" || sev == "FATAL" || sev == "PANIC"
}

// severityPattern matches the severity keyword that starts a message (and its two
// spaces): everything before it is log_line_prefix.
const severityPattern = `(LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DEBUG[1-5]?|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):  `

// interpret turns a complete message into an Entry, a Problem, or nothing (most log
// messages are not statements).
func (c *collector) interpret(m *message) {
	if isFailure(m.severity) {
		if m.stmtTxt == "" {
			return
		}
		e := m.entry(KindError, m.stmtTxt, 0)
		e.SQLState = strings.Clone(m.sqlstate)
		// log_parameter_max_length_on_error puts the bind parameters in CONTEXT.
		if i := strings.Index(m.context, "with parameters: "); i >= 0 {
			e.ParamCount, _ = countParams(m.context[i+len("with parameters: "):])
		}
		c.add(e)
		return
	}
	if !isPrimary(m.severity) {
		return
	}
	rest := m.text
	duration, hasDuration := 0.0, false
	if r, ok := strings.CutPrefix(rest, "duration: "); ok {
		num, after, ok := strings.Cut(r, " ms")
		if !ok {
			c.problem(m.line, "duration without a unit")
			return
		}
		d, err := strconv.ParseFloat(num, 64)
		if err != nil || d < 0 {
			c.problem(m.line, "unreadable duration")
			return
		}
		duration, hasDuration = d, true
		if strings.TrimSpace(after) == "" {
			return // log_duration alone: the statement was logged (or not) separately
		}
		rest, ok = strings.CutPrefix(after, "  ")
		if !ok {
			c.problem(m.line, "unrecognised text after a duration")
			return
		}
	}
	switch {
	case strings.HasPrefix(rest, "statement: "):
		e := m.entry(KindStatement, rest[len("statement: "):], duration)
		c.addParams(&e, m)
		c.add(e)
	case strings.HasPrefix(rest, "execute "):
		// "execute <unnamed>: SQL", "execute S_1/C_2: SQL", "execute fetch from S_1/C_2: SQL"
		_, sql, ok := strings.Cut(rest, ": ")
		if !ok {
			c.problem(m.line, "execute message without statement text")
			return
		}
		e := m.entry(KindExecute, sql, duration)
		c.addParams(&e, m)
		c.add(e)
	case strings.HasPrefix(rest, "parse "), strings.HasPrefix(rest, "bind "),
		strings.HasPrefix(rest, "fastpath function call: "):
		// Parse and bind precede the execute that carries the statement; counting
		// them too would triple the calls.
	case hasDuration && (rest == "plan:" || strings.HasPrefix(rest, "plan:\n")):
		query, plan, params, err := splitPlan(strings.TrimPrefix(rest, "plan:"))
		if err != "" {
			c.problem(m.line, err)
			return
		}
		e := m.entry(KindPlan, query, duration)
		e.PlanText = strings.Clone(plan)
		e.ParamCount = params
		c.add(e)
	case hasDuration:
		c.problem(m.line, "unrecognised text after a duration")
	}
}

// entry copies the strings it keeps: they are often slices of a whole log record, whose
// DETAIL (parameter values) must not stay reachable from the result.
func (m *message) entry(kind, stmt string, duration float64) Entry {
	return Entry{Statement: strings.Clone(stmt), DurationMs: duration, Kind: kind, Database: strings.Clone(m.db),
		User: strings.Clone(m.user), Application: strings.Clone(m.app), Line: m.line}
}

// addParams counts the "DETAIL:  parameters: $1 = ..." list of an execute.
func (c *collector) addParams(e *Entry, m *message) {
	list, ok := strings.CutPrefix(m.detail, "parameters: ")
	if !ok {
		return
	}
	n, _ := countParams(list)
	if n == 0 {
		c.problem(m.line, "unreadable parameter list")
	}
	e.ParamCount = n
}

// countParams counts the items of a parameter list as PostgreSQL writes it
// (BuildParamLogString): `$1 = 'it”s, here', $2 = NULL`. Values are skipped with the
// quoting rules, so a value holding quotes, commas, newlines or "$3 = " is one item.
// It returns the count and the offset where the list ends.
func countParams(s string) (n, end int) {
	i := 0
	for {
		if i >= len(s) || s[i] != '$' {
			return n, end
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || !strings.HasPrefix(s[j:], " = ") {
			return n, end
		}
		j += len(" = ")
		switch {
		case strings.HasPrefix(s[j:], "NULL"):
			j += len("NULL")
		case j < len(s) && s[j] == '\'':
			j++
			for {
				k := strings.IndexByte(s[j:], '\'')
				if k < 0 { // cut short (a truncated file): the value still counts
					return n + 1, len(s)
				}
				j += k + 1
				if j < len(s) && s[j] == '\'' {
					j++ // doubled quote inside the value
					continue
				}
				break
			}
		default:
			return n, end
		}
		n, end = n+1, j
		if !strings.HasPrefix(s[j:], ", $") {
			return n, end
		}
		i = j + len(", ")
	}
}
