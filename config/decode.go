package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The file is decoded by walking yaml.Node trees against the structs' yaml tags rather
// than with Decoder.KnownFields, because yaml.v3's errors name neither the key path nor
// the valid keys, and because overlaying onto defaults must leave absent keys alone.

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	profileName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// field is one yaml-tagged field of a struct.
type field struct {
	name   string // yaml key
	reader string // reader tag: the commands that read the setting
	index  int
	typ    reflect.Type
}

// fields lists the yaml-tagged fields of struct type t in declaration order.
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, field{name: name, reader: sf.Tag.Get("reader"), index: i, typ: sf.Type})
	}
	return out
}

// fieldNames lists t's yaml keys, sorted, for "valid:" hints.
func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range fields(t) {
		names = append(names, f.name)
	}
	sort.Strings(names)
	return names
}

// isLeaf reports whether t is a single setting rather than a section of settings.
func isLeaf(t reflect.Type) bool {
	switch {
	case t == durationType, t == byteSizeType:
		return true
	case t.Kind() == reflect.Struct:
		return false
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64, reflect.String:
		return true
	}
	panic(fmt.Sprintf("config: field type %s is neither a section nor a supported setting", t))
}

// expected describes what a setting of type t accepts, for type errors.
func expected(t reflect.Type) string {
	switch {
	case t == durationType:
		return `milliseconds as an integer (1000) or a duration string ("2s", "500ms", "1m30s")`
	case t == byteSizeType:
		return `bytes as an integer or a size string ("10GB", "512MiB")`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of strings"
	}
	return t.String()
}

// decoder walks one file, collecting every problem rather than stopping at the first.
type decoder struct {
	source string
	errs   []error
}

func (d *decoder) fail(n *yaml.Node, key, hint, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{Source: d.source, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// pair is one key of a mapping with its value.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// pairs flattens a mapping, putting YAML merge keys (<<: *base) first so that the
// mapping's own keys win, and reporting duplicate keys, which yaml.v3 lets through.
func (d *decoder) pairs(n *yaml.Node, where string) []pair {
	var merged, own []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := resolve(n.Content[i]), n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || isNull(kn) {
			d.fail(kn, where, "", "a key in %s is %s, not a name", where, nodeKind(kn))
			continue
		}
		if kn.ShortTag() == "!!merge" {
			v = resolve(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			// In a merge list the earlier mappings win, so apply them last.
			for j := len(srcs) - 1; j >= 0; j-- {
				m := resolve(srcs[j])
				if m.Kind != yaml.MappingNode {
					d.fail(m, where, "", "merge key in %s must name a mapping, got %s", where, nodeKind(m))
					continue
				}
				merged = append(merged, d.pairs(m, where)...)
			}
			continue
		}
		if seen[kn.Value] {
			d.fail(kn, join(where, kn.Value), "remove one of them", "key %q appears twice in %s", kn.Value, where)
			continue
		}
		seen[kn.Value] = true
		own = append(own, pair{key: kn.Value, kn: kn, v: v})
	}
	return append(merged, own...)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// overlayProfile decodes a profile's mapping onto p, which already holds the base values.
func (d *decoder) overlayProfile(p *Profile, n *yaml.Node, key string) {
	d.overlayStruct(p, reflect.ValueOf(p).Elem(), n, key, "")
}

// overlayStruct decodes mapping n onto struct v, leaving keys that n lacks untouched.
// key is the full path for messages, rel the path within the profile for origins.
func (d *decoder) overlayStruct(p *Profile, v reflect.Value, n *yaml.Node, key, rel string) {
	n = resolve(n)
	if isNull(n) {
		return // an empty section keeps every default
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "", "%s must be a mapping of settings, got %s", key, nodeKind(n))
		return
	}
	fs := fields(v.Type())
	for _, kv := range d.pairs(n, key) {
		var f *field
		for i := range fs {
			if fs[i].name == kv.key {
				f = &fs[i]
				break
			}
		}
		if f == nil {
			if u, ok := lookupUnread(join(rel, kv.key)); ok {
				d.fail(kv.kn, join(key, kv.key), u.hint, "%s: %s", join(key, kv.key), u.msg())
				continue
			}
			valid := fieldNames(v.Type())
			hint := "see pgmedic.example.yaml for every key"
			if s := suggest(kv.key, valid); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.fail(kv.kn, join(key, kv.key), hint, "unknown key %q in %s (valid: %s)", kv.key, key, strings.Join(valid, ", "))
			continue
		}
		fv := v.Field(f.index)
		if isLeaf(f.typ) {
			if d.setLeaf(fv, kv.v, join(key, kv.key)) {
				p.setOrigin(join(rel, kv.key), origin{key: join(key, kv.key), source: d.source, line: resolve(kv.v).Line})
			}
			continue
		}
		d.overlayStruct(p, fv, kv.v, join(key, kv.key), join(rel, kv.key))
	}
}

// setLeaf decodes one setting into v, reporting a type error against key.
func (d *decoder) setLeaf(v reflect.Value, n *yaml.Node, key string) bool {
	n = resolve(n)
	t := v.Type()
	if isNull(n) {
		if t.Kind() == reflect.Slice {
			v.Set(reflect.Zero(t)) // "phiTables:" with nothing clears the list
			return true
		}
		d.fail(n, key, "remove the key to keep the default", "%s has no value (expected %s)", key, expected(t))
		return false
	}
	if t.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			d.fail(n, key, `write a list such as [patients, "billing.claims"]`, "%s: expected %s, got %s", key, expected(t), nodeKind(n))
			return false
		}
		list := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				d.fail(item, key, "", "%s: list items must be names, got %s", key, nodeKind(item))
				return false
			}
			list = append(list, item.Value)
		}
		if len(list) == 0 {
			list = nil // [] and no list mean the same: no overrides
		}
		v.Set(reflect.ValueOf(list).Convert(t))
		return true
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "", "%s: expected %s, got %s", key, expected(t), nodeKind(n))
		return false
	}
	// yaml.v3 would truncate 1.5 into an int and read 1 as true; insist on the YAML type.
	tag := n.ShortTag()
	wrongTag := false
	switch t.Kind() {
	case reflect.Bool:
		wrongTag = tag != "!!bool"
	case reflect.Int, reflect.Int64:
		wrongTag = tag != "!!int" && t != byteSizeType
	case reflect.Float64:
		wrongTag = tag != "!!int" && tag != "!!float"
	}
	if wrongTag {
		d.fail(n, key, "", "%s: expected %s, got %s", key, expected(t), nodeKind(n))
		return false
	}
	tmp := reflect.New(t)
	if err := n.Decode(tmp.Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// yaml.v3's own message names neither the key nor what would be right.
			d.fail(n, key, "", "%s: expected %s, got %s", key, expected(t), nodeKind(n))
		} else {
			d.fail(n, key, "", "%s: %v (expected %s)", key, err, expected(t))
		}
		return false
	}
	v.Set(tmp.Elem())
	return true
}

// parseFile decodes the file and resolves each profile's extends chain.
func parseFile(data []byte, source string) (*File, error) {
	d := &decoder{source: source}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(source, err)
		}
		return nil, &Error{Source: source, Line: extra.Line, Msg: "the file holds more than one YAML document", Hint: "remove the second --- and what follows, or merge it into the first"}
	}
	f := &File{source: source, Profiles: map[string]*Profile{}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return f, nil // empty file: built-in profiles only
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Source: source, Line: root.Line, Msg: "the file must be a mapping with profile and profiles keys, got " + nodeKind(root)}
	}
	nodes := map[string]*yaml.Node{}
	lines := map[string]int{}
	for _, kv := range d.pairs(root, "the top level") {
		switch kv.key {
		case "profile":
			v := resolve(kv.v)
			if v.Kind != yaml.ScalarNode || isNull(v) || v.ShortTag() != "!!str" {
				d.fail(v, "profile", "", "profile: expected a profile name, got %s", nodeKind(v))
				continue
			}
			f.Profile, f.profileLine = v.Value, v.Line
		case "profiles":
			v := resolve(kv.v)
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.MappingNode {
				d.fail(v, "profiles", "", "profiles must map profile names to settings, got %s", nodeKind(v))
				continue
			}
			for _, pv := range d.pairs(v, "profiles") {
				if !profileName.MatchString(pv.key) {
					d.fail(pv.kn, "profiles."+pv.key, "", "profile name %q must be letters, digits, '.', '_' or '-'", pv.key)
					continue
				}
				nodes[pv.key], lines[pv.key] = pv.v, pv.kn.Line
			}
		default:
			hint := "settings go under profiles.<name>, e.g. profiles.production.queryAnalyzer"
			if s := suggest(kv.key, []string{"profile", "profiles"}); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.fail(kv.kn, kv.key, hint, "unknown key %q at the top level (valid: profile, profiles)", kv.key)
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	r := &resolver{d: d, nodes: nodes, lines: lines, done: map[string]*Profile{}, failed: map[string]bool{}}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p := r.resolve(n, nil); p != nil {
			f.Profiles[n] = p
		}
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return f, nil
}

// syntaxError turns a yaml.v3 parse error into an *Error with the line pulled out.
func syntaxError(source string, err error) error {
	msg := strings.TrimPrefix(oneLine(err.Error()), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(oneLine(err.Error())); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &Error{Source: source, Line: line, Msg: "invalid YAML: " + msg, Err: err,
		Hint: "check indentation (spaces, not tabs) and that every key is followed by a colon"}
}

// resolver builds each file profile from its base, following extends.
type resolver struct {
	d      *decoder
	nodes  map[string]*yaml.Node
	lines  map[string]int
	done   map[string]*Profile
	failed map[string]bool
}

// resolve returns the profile name with its extends chain applied, or nil after
// recording why it cannot be built. chain holds the profiles waiting on this one.
func (r *resolver) resolve(name string, chain []string) *Profile {
	if p, ok := r.done[name]; ok {
		return p
	}
	if r.failed[name] {
		return nil
	}
	n := resolve(r.nodes[name])
	key := "profiles." + name
	for _, f := range fields(reflect.TypeFor[Profile]()) {
		if f.name == name && f.name != "extends" {
			// Most likely a section indented one level too little.
			r.d.fail(n, key, "indent it under a profile, e.g. profiles.production."+name,
				"%s: %q is a settings section, not a profile name", key, name)
			r.failed[name] = true
			return nil
		}
	}
	if u, ok := lookupUnread(name); ok && u.section {
		// The same mistake with a section that is no longer read.
		r.d.fail(n, key, u.hint, "%s: %q is a settings section, not a profile name, and %s", key, name, u.msg())
		r.failed[name] = true
		return nil
	}
	if isNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: r.lines[name]}
	}
	if n.Kind != yaml.MappingNode {
		r.d.fail(n, key, "", "%s must be a mapping of settings, got %s", key, nodeKind(n))
		r.failed[name] = true
		return nil
	}
	ext, extNode := "", n
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k.Value == "extends" {
			v := resolve(n.Content[i+1])
			if v.Kind != yaml.ScalarNode || isNull(v) {
				r.d.fail(v, key+".extends", "", "%s.extends: expected a profile name, got %s", key, nodeKind(v))
				r.failed[name] = true
				return nil
			}
			ext, extNode = v.Value, v
		}
	}
	var base *Profile
	if b, ok := builtin(name); ok {
		// Built-in names start from their own defaults; extending would make
		// "production" mean something other than the documented production defaults.
		if ext != "" && ext != name {
			r.d.fail(extNode, key+".extends", "give the profile another name to extend "+ext,
				"%s.extends: the built-in profile %s cannot extend another profile", key, name)
			r.failed[name] = true
			return nil
		}
		base = b
	} else {
		if ext == "" {
			ext = Production
		}
		if ext == name || containsName(chain, ext) {
			cycle := append(append(append([]string{}, chain...), name), ext)
			if i := indexOf(cycle, ext); i >= 0 {
				cycle = cycle[i:]
			}
			r.d.fail(extNode, key+".extends", "make the chain end at production or development",
				"%s.extends: profiles extend each other in a cycle: %s", key, strings.Join(cycle, " -> "))
			r.failed[name] = true
			return nil
		}
		if _, inFile := r.nodes[ext]; inFile {
			base = r.resolve(ext, append(chain, name))
			if base == nil {
				r.failed[name] = true // the base's own problem is already reported
				return nil
			}
		} else if b, ok := builtin(ext); ok {
			base = b
		} else {
			inFile := map[string]*Profile{}
			for n := range r.nodes {
				inFile[n] = nil
			}
			avail := (&File{Profiles: inFile}).Names()
			r.d.fail(extNode, key+".extends", "", "%s.extends: unknown profile %q (available: %s)", key, ext, strings.Join(avail, ", "))
			r.failed[name] = true
			return nil
		}
	}
	p := base.clone()
	before := len(r.d.errs)
	r.d.overlayProfile(p, n, key)
	if len(r.d.errs) > before {
		r.failed[name] = true
		return nil
	}
	p.Name = name
	if _, ok := builtin(name); ok {
		p.Extends = ""
	} else {
		p.Extends = ext
	}
	delete(p.origins, "extends")
	r.done[name] = p
	return p
}

func containsName(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
