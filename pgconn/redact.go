package pgconn

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

var (
	kvPassword  = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&"` + "`" + `]+)`)
	uriUserinfo = regexp.MustCompile(`(?i)(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)`)
)

// Redact masks passwords in a connection string, a URI, or any text that may contain
// one (an error message quoting a connection string).
func Redact(s string) string {
	s = uriUserinfo.ReplaceAllString(s, "${1}xxxxx${3}")
	return kvPassword.ReplaceAllString(s, "${1}xxxxx")
}

// Secrets lists the passwords a connection string or the libpq environment carries, so
// callers can scrub them from anything they print.
func Secrets(dsn string) []string {
	var out []string
	add := func(s string) {
		// Masking a one-letter "password" would mangle every message.
		if len(s) >= 3 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
		add(u.Query().Get("password"))
		add(u.Query().Get("sslpassword"))
	} else if m := uriUserinfo.FindStringSubmatch(dsn); m != nil {
		add(m[2])
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.Trim(m[2], "'"))
	}
	if pw, ok := os.LookupEnv("PGPASSWORD"); ok {
		add(pw)
	}
	return out
}

// lookupParam finds a parameter in a URI's query or in key=value pairs.
func lookupParam(dsn, key string) (string, bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", false
		}
		q := u.Query()
		if !q.Has(key) {
			return "", false
		}
		return q.Get(key), true
	}
	for _, kv := range splitKV(dsn) {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == key {
			return strings.Trim(strings.TrimSpace(v), "'"), true
		}
	}
	return "", false
}

// splitKV splits "a=1 b='x y'" into its pairs, honouring single quotes and spaces
// around '='.
func splitKV(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	s = regexp.MustCompile(`\s*=\s*`).ReplaceAllString(s, "=")
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case ch == '\'':
			inQuote = !inQuote
			cur.WriteByte(ch)
		case (ch == ' ' || ch == '\t' || ch == '\n') && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func lookupEnv(key string) (string, bool) { return os.LookupEnv(key) }
