package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// KeyInfo describes one setting: its key, its environment variable and the commands
// that read it (each field's reader tag in config.go).
type KeyInfo struct {
	Path    string   // relative to a profile, e.g. queryAnalyzer.slowQueryThreshold
	Env     string   // PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD
	Readers []string // commands, e.g. check, queries
}

// Keys lists every setting in the order the file and `pgmedic config show` give them.
func Keys() []KeyInfo {
	var out []KeyInfo
	for _, v := range leaves() {
		out = append(out, KeyInfo{Path: v.path, Env: v.name, Readers: splitReaders(v.reader)})
	}
	return out
}

// splitReaders reads a reader tag: commands separated by commas.
func splitReaders(tag string) []string {
	var out []string
	for _, r := range strings.Split(tag, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Setting is one setting of a profile: its key, its effective value and where the value
// came from.
type Setting struct {
	KeyInfo
	Value  string // as the file would hold it: 30s, 10MB, 99, [patients, claims]
	Source string // "default" (the built-in profile's), "file:line" or the environment variable
}

// Settings lists every setting of p with its value and origin, in the order of Keys.
func (p *Profile) Settings() []Setting {
	pv := reflect.ValueOf(p).Elem()
	var out []Setting
	for _, v := range leaves() {
		s := Setting{
			KeyInfo: KeyInfo{Path: v.path, Env: v.name, Readers: splitReaders(v.reader)},
			Value:   formatValue(pv.FieldByIndex(v.index)),
			Source:  "default",
		}
		if o, ok := p.origins[v.path]; ok {
			switch {
			case o.env != "":
				s.Source = o.env
			case o.source != "" && o.line > 0:
				s.Source = fmt.Sprintf("%s:%d", o.source, o.line)
			case o.source != "":
				s.Source = o.source
			}
		}
		out = append(out, s)
	}
	return out
}

// formatValue writes a setting as the file would hold it.
func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return x.Duration.String()
	case ByteSize:
		return x.String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return fmtFloat(v.Float())
	case reflect.String:
		if v.String() == "" {
			return `""` // as YAML writes an empty string, and so a listing keeps its columns
		}
		return v.String()
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
