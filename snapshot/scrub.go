package snapshot

import "strings"

// ScrubLiterals removes what could carry a value from statement text: string literals
// (quoted, E”, B”, X”, U&” and dollar-quoted) become '?', numbers become ?, and
// comments are dropped (application tags in comments can carry user or patient ids).
// Identifiers, keywords and $n parameters are kept. pg_stat_statements already
// normalises the statements it plans; this catches utility statements such as
// SET app.patient_id = '12345' that it keeps verbatim, and texts from other sources.
func ScrubLiterals(sql string) string { return scrub(sql, true) }

// ScrubStrings is ScrubLiterals for statements pg_stat_statements has normalised: the
// numbers left in them are structural (ORDER BY 1, numeric(12,2)), so they stay, and
// only string literals and comments go.
func ScrubStrings(sql string) string { return scrub(sql, false) }

func scrub(sql string, numbers bool) string {
	var b strings.Builder
	b.Grow(len(sql))
	n := len(sql)
	prevIdent := false // previous byte belongs to an identifier or keyword
	for i := 0; i < n; {
		ch := sql[i]
		switch {
		case ch == '-' && i+1 < n && sql[i+1] == '-':
			for i < n && sql[i] != '\n' {
				i++
			}
			prevIdent = false
		case ch == '/' && i+1 < n && sql[i+1] == '*':
			depth := 0
			for i < n {
				if i+1 < n && sql[i] == '/' && sql[i+1] == '*' {
					depth++
					i += 2
					continue
				}
				if i+1 < n && sql[i] == '*' && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
					continue
				}
				i++
			}
			b.WriteByte(' ')
			prevIdent = false
		case ch == '"':
			j := i + 1
			for j < n {
				if sql[j] == '"' {
					if j+1 < n && sql[j+1] == '"' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j < n {
				j++
			}
			b.WriteString(sql[i:j])
			i = j
			prevIdent = true
		case ch == '\'' || (isPrefixedString(sql, i) && !prevIdent):
			backslash := false
			if ch != '\'' {
				// E'..', B'..', X'..', N'..', U&'..': skip the prefix.
				backslash = ch == 'E' || ch == 'e'
				for i < n && sql[i] != '\'' {
					i++
				}
			}
			i = skipQuoted(sql, i, backslash)
			b.WriteString("'?'")
			prevIdent = false
		case ch == '$' && i+1 < n && isDigit(sql[i+1]):
			j := i + 1
			for j < n && isDigit(sql[j]) {
				j++
			}
			b.WriteString(sql[i:j])
			i = j
			prevIdent = false
		case ch == '$' && !prevIdent:
			if tag, ok := dollarTag(sql, i); ok {
				end := strings.Index(sql[i+len(tag):], tag)
				if end < 0 {
					i = n
				} else {
					i += len(tag) + end + len(tag)
				}
				b.WriteString("'?'")
				prevIdent = false
				continue
			}
			b.WriteByte(ch)
			i++
		case numbers && (isDigit(ch) || (ch == '.' && i+1 < n && isDigit(sql[i+1]))) && !prevIdent:
			j := i
			for j < n && (isDigit(sql[j]) || sql[j] == '.' || sql[j] == '_' ||
				((sql[j] == 'e' || sql[j] == 'E') && j+1 < n && (isDigit(sql[j+1]) || sql[j+1] == '-' || sql[j+1] == '+')) ||
				((sql[j] == '-' || sql[j] == '+') && j > i && (sql[j-1] == 'e' || sql[j-1] == 'E')) ||
				(j == i+1 && sql[i] == '0' && (sql[j] == 'x' || sql[j] == 'X' || sql[j] == 'o' || sql[j] == 'b')) ||
				(isHex(sql[j]) && j > i+1 && (sql[i+1] == 'x' || sql[i+1] == 'X'))) {
				j++
			}
			b.WriteByte('?')
			i = j
			prevIdent = false
		default:
			b.WriteByte(ch)
			prevIdent = isIdent(ch)
			i++
		}
	}
	return strings.TrimSpace(b.String())
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isIdent(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// isPrefixedString recognises E'...', B'...', X'...', N'...' and U&'...'.
func isPrefixedString(s string, i int) bool {
	if i+1 >= len(s) {
		return false
	}
	switch s[i] {
	case 'E', 'e', 'B', 'b', 'X', 'x', 'N', 'n':
		return s[i+1] == '\''
	case 'U', 'u':
		return i+2 < len(s) && s[i+1] == '&' && s[i+2] == '\''
	}
	return false
}

// skipQuoted returns the index after the string literal that starts at s[i] == '\”.
func skipQuoted(s string, i int, backslash bool) int {
	i++
	for i < len(s) {
		switch {
		case backslash && s[i] == '\\' && i+1 < len(s):
			i += 2
		case s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i += 2
		case s[i] == '\'':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// dollarTag returns the opening tag of a dollar-quoted string ($$ or $name$).
func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && (isIdent(s[j]) && !(j == i+1 && isDigit(s[j]))) {
		j++
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1], true
	}
	return "", false
}
