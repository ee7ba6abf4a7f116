// Package ident quotes SQL identifiers and literals and names the indexes pgmedic
// creates: one scheme, so an index has the same name whoever proposes it (a health
// check's fix, the index advisor, a partition of either) and a plan can be run again.
package ident

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Quote quotes a possibly qualified name: Quote("public", "Lab Results").
func Quote(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// Literal quotes a string constant.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// maxName is PostgreSQL's identifier limit (NAMEDATALEN - 1), less room for "_idx".
const maxName = 59

// IndexName is the name of an index on table over parts (columns or expressions),
// letters, digits and underscores only. variant distinguishes indexes on the same keys
// (INCLUDE columns, a predicate, a method, a direction): when it is not empty, or the
// name would be too long, a short hash of table, parts and variant is appended.
func IndexName(table string, parts []string, variant string) string {
	words := []string{namePart(table)}
	for _, p := range parts {
		if w := namePart(p); w != "" {
			words = append(words, w)
		}
	}
	name := strings.Join(words, "_")
	if variant != "" || len(name) > maxName-7 {
		if len(name) > maxName-7 {
			name = strings.TrimRight(name[:maxName-7], "_")
		}
		name = fmt.Sprintf("%s_%06x", name, hash(table+"|"+strings.Join(parts, ",")+"|"+variant)&0xffffff)
	}
	return name + "_idx"
}

// PartitionIndexName names a partition's share of a partitioned index.
func PartitionIndexName(partition, index string) string {
	return IndexName(partition, []string{strings.TrimSuffix(index, "_idx")}, "")
}

// namePart keeps what an identifier may be made of: lower-case letters, digits, and
// underscores for the rest.
func namePart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
