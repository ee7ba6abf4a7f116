package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Environment overrides are named PGMEDIC_<SECTION>_<KEY>, the yaml names turned from
// camelCase into UPPER_SNAKE (monitor.alertThresholds.cacheHitRatio is
// PGMEDIC_MONITOR_ALERT_THRESHOLDS_CACHE_HIT_RATIO). The table is derived from the struct
// tags, so a new field can be overridden without touching this file.

const envPrefix = "PGMEDIC_"

// envListKey is a name no real environment variable can have (it holds a NUL). A lookup
// made by MapEnv answers it with its names; os.LookupEnv does not, and then the process
// environment is listed instead. Listing is only needed to report unknown variables.
const envListKey = "\x00pgmedic-env-names"

// envVar is one overridable setting.
type envVar struct {
	name    string // PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD
	section string // queryAnalyzer
	path    string // queryAnalyzer.slowQueryThreshold
	reader  string // its reader tag: check, queries
	index   []int  // field index path from Profile
	typ     reflect.Type
}

// EnvVars lists every PGMEDIC_* variable that overrides a setting, sorted.
func EnvVars() []string {
	var names []string
	for _, v := range envVars() {
		names = append(names, v.name)
	}
	return names
}

// envVars is the override table, sorted by name.
func envVars() []envVar {
	out := leaves()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// leaves derives every setting from Profile's struct tags, in declaration order.
func leaves() []envVar {
	var out []envVar
	var walk func(t reflect.Type, prefix, section, path string, index []int)
	walk = func(t reflect.Type, prefix, section, path string, index []int) {
		for _, f := range fields(t) {
			name := prefix + "_" + upperSnake(f.name)
			idx := append(slices.Clone(index), f.index)
			if isLeaf(f.typ) {
				out = append(out, envVar{name: name, section: section, path: join(path, f.name), reader: f.reader, index: idx, typ: f.typ})
				continue
			}
			walk(f.typ, name, section, join(path, f.name), idx)
		}
	}
	for _, s := range fields(reflect.TypeFor[Profile]()) {
		if isLeaf(s.typ) {
			continue // extends belongs to the file's structure, not to a setting
		}
		walk(s.typ, envPrefix+upperSnake(s.name), s.name, s.name, []int{s.index})
	}
	return out
}

// upperSnake turns a yaml key into its environment form: slowQueryThreshold is
// SLOW_QUERY_THRESHOLD, notPHI is NOT_PHI, phiTables is PHI_TABLES.
func upperSnake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// MapEnv returns an environment lookup over a copy of m, for Load, Parse and Select in
// tests and embedding programs that must not read the process environment. Unlike an
// arbitrary lookup function it can also list its names, so unknown PGMEDIC_* variables
// in it are reported.
func MapEnv(m map[string]string) func(string) (string, bool) {
	c := make(map[string]string, len(m))
	names := make([]string, 0, len(m))
	for k, v := range m {
		c[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	list := strings.Join(names, "\n")
	return func(k string) (string, bool) {
		if k == envListKey {
			return list, true
		}
		v, ok := c[k]
		return v, ok
	}
}

// envNames lists the variable names env knows, for finding unknown overrides.
func envNames(env func(string) (string, bool)) []string {
	if list, ok := env(envListKey); ok {
		if list == "" {
			return nil
		}
		return strings.Split(list, "\n")
	}
	var names []string
	for _, kv := range os.Environ() {
		if k, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// applyEnv applies PGMEDIC_* overrides to p. An empty variable counts as unset, since
// CI files and compose files make unsetting awkward. A variable for a key that nothing
// reads (unread.go) is an error with that key's hint. Variables outside every section
// (PGMEDIC_PROFILE, PGMEDIC_PG_BIN, ...) belong to other parts of pgmedic and are ignored.
func applyEnv(p *Profile, env func(string) (string, bool)) error {
	vars := envVars()
	known := map[string]bool{}
	sections := map[string][]string{} // env prefix of a section -> its variables
	prefixOf := map[string]string{}   // env prefix -> section yaml name
	var errs []error
	pv := reflect.ValueOf(p).Elem()
	for _, v := range vars {
		known[v.name] = true
		prefix := envPrefix + upperSnake(v.section) + "_"
		sections[prefix] = append(sections[prefix], v.name)
		prefixOf[prefix] = v.section
		raw, ok := env(v.name)
		if !ok || raw == "" {
			continue
		}
		key := join("profiles."+p.Name, v.path)
		if err := setFromString(pv.FieldByIndex(v.index), raw); err != nil {
			errs = append(errs, &Error{Env: v.name, Value: raw, Key: key, Msg: fmt.Sprintf("%s: %v", key, err),
				Hint: "unset the variable or give " + expected(v.typ)})
			continue
		}
		p.setOrigin(v.path, origin{key: key, env: v.name, value: raw})
	}
	for _, name := range envNames(env) {
		if known[name] {
			continue
		}
		// The longest matching prefix wins: PGMEDIC_CONNECTION_POOL_X is in connectionPool,
		// a section nothing reads, not in connection.
		best := ""
		for prefix := range sections {
			if strings.HasPrefix(name, prefix) && len(prefix) > len(best) {
				best = prefix
			}
		}
		var unread unreadKey
		unreadLen := 0
		for _, u := range unreadKeys() {
			if n, ok := u.matchEnv(name); ok && n > unreadLen {
				unread, unreadLen = u, n
			}
		}
		isUnread := unreadLen > len(best)
		if best == "" && !isUnread {
			continue
		}
		raw, ok := env(name)
		if !ok || raw == "" {
			continue
		}
		if isUnread {
			key := join("profiles."+p.Name, unread.path)
			errs = append(errs, &Error{Env: name, Value: raw, Key: key, Hint: unread.hint,
				Msg: fmt.Sprintf("%s: %s", key, unread.msg())})
			continue
		}
		valid := sections[best]
		hint := "see pgmedic.example.yaml; the variable is the key path in UPPER_SNAKE case"
		if s := suggest(name, valid); s != "" {
			hint = fmt.Sprintf("did you mean %s?", s)
		}
		errs = append(errs, &Error{Env: name, Value: raw, Key: prefixOf[best], Hint: hint,
			Msg: fmt.Sprintf("%s names no setting of section %s (valid: %s)", name, prefixOf[best], strings.Join(valid, ", "))})
	}
	return errors.Join(errs...)
}

// setFromString parses an environment value into v. Durations also take a bare integer
// as milliseconds, as the file does; lists are comma-separated.
func setFromString(v reflect.Value, raw string) error {
	s := strings.TrimSpace(raw)
	switch t := v.Type(); {
	case t == durationType:
		d, err := parseDuration(s, true)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(Duration{d}))
		return nil
	case t == byteSizeType:
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(b))
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("expected true or false, got %q", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fmt.Errorf("expected a whole number, got %q", raw)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("expected a number, got %q", raw)
		}
		v.SetFloat(f)
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		var list []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	default:
		return fmt.Errorf("cannot be set from the environment (type %s)", v.Type())
	}
	return nil
}
