package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML either as an integer number of
// milliseconds (the seed configuration's slowQueryThreshold: 1000) or as a Go duration
// string ("2s", "500ms", "1m30s"). It is written back as a Go duration string.
type Duration struct{ time.Duration }

// UnmarshalYAML accepts an integer (milliseconds) or a Go duration string. A quoted
// number is refused: it is more likely a forgotten unit than milliseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected milliseconds or a duration string, got " + nodeKind(n))
	}
	switch n.ShortTag() {
	case "!!int":
		var ms int64
		if err := n.Decode(&ms); err != nil {
			return fmt.Errorf("%q is not a whole number of milliseconds", n.Value)
		}
		v, err := fromMillis(ms)
		if err != nil {
			return err
		}
		d.Duration = v
		return nil
	case "!!str":
		v, err := parseDuration(n.Value, false)
		if err != nil {
			return err
		}
		d.Duration = v
		return nil
	case "!!float":
		return fmt.Errorf("%s is not a whole number of milliseconds (write a duration string such as \"1.5s\" instead)", n.Value)
	}
	return fmt.Errorf("%q is not milliseconds or a duration string", n.Value)
}

// MarshalYAML writes the Go duration string, e.g. "1s" or "1m30s".
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

// fromMillis converts milliseconds, refusing what a time.Duration cannot hold.
func fromMillis(ms int64) (time.Duration, error) {
	if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
		return 0, fmt.Errorf("%d milliseconds is out of range", ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

var digitsRE = regexp.MustCompile(`^-?[0-9]+$`)

// parseDuration parses a Go duration string. bareMillis also accepts a plain integer
// as milliseconds, for environment variables, which cannot tell 2000 from "2000".
func parseDuration(s string, bareMillis bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if digitsRE.MatchString(s) {
		if !bareMillis {
			return 0, fmt.Errorf("%q has no unit (write %s without quotes for milliseconds, or add a unit such as \"%ss\")", s, s, s)
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return fromMillis(ms)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use a Go duration such as \"2s\", \"500ms\" or \"1m30s\")", s)
	}
	return d, nil
}

// ByteSize is a number of bytes, written in YAML as an integer or as a string with a
// decimal (KB, MB, GB, TB, PB) or binary (KiB, MiB, GiB, TiB, PiB) unit, any case:
// "10GB", "512MiB", "1.5GB". It is written back in the shortest exact such form.
type ByteSize int64

// Byte size units.
const (
	B   ByteSize = 1
	KB  ByteSize = 1000
	MB           = 1000 * KB
	GB           = 1000 * MB
	TB           = 1000 * GB
	PB           = 1000 * TB
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
	PiB ByteSize = 1 << 50
)

// byteUnits is ordered largest first, which String relies on.
func byteUnits() []struct {
	name string
	size ByteSize
} {
	return []struct {
		name string
		size ByteSize
	}{
		{"PiB", PiB}, {"PB", PB}, {"TiB", TiB}, {"TB", TB}, {"GiB", GiB}, {"GB", GB},
		{"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB}, {"B", B},
	}
}

var byteSizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$`)

// ParseByteSize parses "10GB", "512MiB", "1.5GB", "1024" (bytes) or "0". Units are
// case-insensitive; the result must be a whole, non-negative number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	m := byteSizeRE.FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (use bytes or a number with a unit, such as \"10GB\" or \"512MiB\")", s)
	}
	unit := B
	if m[2] != "" {
		found := false
		for _, u := range byteUnits() {
			if strings.EqualFold(m[2], u.name) {
				unit, found = u.size, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%q has an unknown unit %q (use B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB)", s, m[2])
		}
	}
	// Exact rational arithmetic, so "1.1GB" is 1100000000 and not a float's neighbour.
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(unit)))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(r.Num().Int64()), nil
}

// String writes the size with the largest unit that keeps it exact with at most two
// decimals: 10GB, 512MiB, 1.5GB, 0, 1234B.
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	if b < 0 {
		return strconv.FormatInt(int64(b), 10) + "B"
	}
	for _, u := range byteUnits() {
		if b < u.size {
			continue
		}
		// b/u.size has at most two decimals when b*100 is a multiple of u.size; test it
		// without overflowing by dividing out what 100 and u.size share.
		step := int64(u.size) / gcd(int64(u.size), 100)
		if int64(b)%step != 0 {
			continue
		}
		whole, rem := int64(b)/int64(u.size), int64(b)%int64(u.size)
		s := strconv.FormatInt(whole, 10)
		if rem != 0 {
			frac := fmt.Sprintf("%02d", rem*100/int64(u.size))
			s += "." + strings.TrimRight(frac, "0")
		}
		return s + u.name
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// UnmarshalYAML accepts an integer number of bytes or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected bytes or a size string, got " + nodeKind(n))
	}
	switch n.ShortTag() {
	case "!!int":
		var v int64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("%q is not a whole number of bytes", n.Value)
		}
		if v < 0 {
			return fmt.Errorf("%d is negative", v)
		}
		*b = ByteSize(v)
		return nil
	case "!!str":
		v, err := ParseByteSize(n.Value)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	return fmt.Errorf("%q is not a size (use bytes or a string such as \"10GB\" or \"512MiB\")", n.Value)
}

// MarshalYAML writes the size as String does; zero stays the integer 0 (unlimited).
func (b ByteSize) MarshalYAML() (any, error) {
	if b == 0 {
		return 0, nil
	}
	return b.String(), nil
}

// nodeKind names a YAML node's kind for messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	if n.ShortTag() == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}
