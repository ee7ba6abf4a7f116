package healthcare

import (
	"fmt"
	"sort"
	"strings"
)

// Match is one reason to think a column holds an identifier or health information.
type Match struct {
	Identifier Identifier `json:"identifier"`
	// Confidence is in [0,1]: 0.95 for a whole-name dictionary hit, 0.8 for a hit on part
	// of the name, 0.5 or less for weak or ambiguous evidence, 1 when configured.
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
}

// typeClass is what a column's SQL type allows it to hold.
type typeClass int

const (
	tText    typeClass = iota // text, varchar, char, enums and anything unrecognised
	tUnknown                  // no type given: judge by name alone
	tBool
	tInt
	tNum // numeric, floating point, money
	tDate
	tTime // time of day and intervals
	tUUID
	tInet
	tCidr
	tMac
	tBytes
	tDoc // json, jsonb, xml, hstore
	tGeo
)

// classifyType maps a PostgreSQL type name as format_type, information_schema or udt_name
// spell it ("character varying(20)", "int4", "_text", "timestamp(3) with time zone").
func classifyType(dataType string) typeClass {
	s := strings.ToLower(strings.TrimSpace(dataType))
	if s == "" || s == "unknown" {
		return tUnknown
	}
	// Arrays hold several values of the element type: classify the element.
	s = strings.TrimSuffix(s, "[]")
	if strings.HasPrefix(s, "_") {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '('); i >= 0 {
		if j := strings.IndexByte(s[i:], ')'); j >= 0 {
			s = strings.TrimSpace(s[:i] + s[i+j+1:])
		}
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 { // pg_catalog.int4
		s = s[i+1:]
	}
	s = strings.Join(strings.Fields(s), " ")
	switch s {
	case "bool", "boolean":
		return tBool
	case "smallint", "integer", "int", "int2", "int4", "int8", "bigint", "serial", "bigserial",
		"smallserial", "serial2", "serial4", "serial8", "oid":
		return tInt
	case "numeric", "decimal", "real", "double precision", "float", "float4", "float8", "money":
		return tNum
	case "date":
		return tDate
	case "uuid":
		return tUUID
	case "inet":
		return tInet
	case "cidr":
		return tCidr
	case "macaddr", "macaddr8":
		return tMac
	case "bytea", "blob", "lo":
		return tBytes
	case "json", "jsonb", "xml", "hstore":
		return tDoc
	case "point", "geometry", "geography":
		return tGeo
	case "interval":
		return tTime
	}
	switch {
	case strings.HasPrefix(s, "timestamp"):
		return tDate
	case s == "time" || s == "timetz" || strings.HasPrefix(s, "time "):
		return tTime
	}
	return tText
}

// allows reports whether a column of this type can hold the identifier.
func (tc typeClass) allows(id Identifier) bool {
	switch tc {
	case tBool:
		return false
	case tInt: // numbers can be MRNs, ZIP codes, phone numbers, yyyymmdd dates or code keys
		switch id {
		case Name, Email, URL, Photo, Biometric:
			return false
		}
		return true
	case tNum: // measurements: coordinates, ages, lab values
		return id == Geographic || id == Date || id == HealthInfo
	case tDate, tTime:
		return id == Date
	case tUUID: // generated keys: only the number-like identifiers, and then weakly
		return !isThingID(id) && id != HealthInfo
	case tInet, tCidr:
		return id == IPAddress
	case tMac:
		return id == Device
	case tGeo:
		return id == Geographic
	}
	return true
}

func (tc typeClass) textLike() bool { return tc == tText || tc == tUnknown }

// classifyColumn applies the dictionary and type rules, without configuration.
func classifyColumn(column, dataType string) []Match {
	tc := classifyType(dataType)
	if tc == tBool { // a yes/no answer identifies no one (email_sent, phone_verified)
		return nil
	}
	toks := tokenize(column)
	if len(toks) == 0 || flagPrefixes[toks[0]] {
		return nil
	}
	hasMeta, hasDateWord := false, false
	for _, t := range toks {
		if secretWords[t] || providerWords[t] {
			return nil
		}
		hasMeta = hasMeta || metaWords[t]
		hasDateWord = hasDateWord || dateWords[t]
	}
	if (tc == tInt || tc == tNum) && isCount(toks) {
		return nil
	}
	dateContext := hasDateWord || tc == tDate || tc == tTime
	last := toks[len(toks)-1]
	endsInKey := keyWords[last]

	byID := map[Identifier]Match{} // the best match of each identifier
	keep := func(m Match) {
		if old, ok := byID[m.Identifier]; !ok || m.Confidence > old.Confidence {
			byID[m.Identifier] = m
		}
	}
	for _, h := range dictionaryHits(toks) {
		e := h.e
		if e.needsDate && !dateContext {
			continue
		}
		if e.textOnly && !tc.textLike() {
			continue
		}
		if !tc.allows(e.id) {
			continue
		}
		if metaAfter(toks, h.end) {
			continue
		}
		conf := e.token
		reason := fmt.Sprintf("name %q contains %q from the %s dictionary", column, strings.Join(e.words, "_"), e.id.Description())
		if h.exact {
			conf = e.exact
			reason = fmt.Sprintf("name %q matches the %s dictionary", column, e.id.Description())
		}
		var notes []string
		if e.id == Date && hasWord(toks, yearWords) && !hasWord(toks, finerDateWords) {
			conf = min(conf, confYear)
			notes = append(notes, "a year alone may stay under Safe Harbor unless the age is over 89")
		}
		keyOutside := endsInKey && h.end < len(toks) // city_id: the entry does not include "id"
		switch {
		case keyOutside && isThingID(e.id):
			conf = min(conf, confKeyRef)
			notes = append(notes, "looks like a key to a lookup row, not the value")
		case keyOutside && e.id == HealthInfo && (tc == tInt || tc == tUUID) && !hasAny(toks, "concept", "code", "cd"):
			// condition_occurrence_id numbers a clinical row; condition_concept_id is the diagnosis.
			conf = min(conf, confKeyRef)
			notes = append(notes, "a key of a clinical row, not its content")
		case keyOutside && e.id == HealthInfo:
			conf = min(conf, confWeak)
			notes = append(notes, "a key to a clinical code or concept")
		case (tc == tInt && endsInKey) || tc == tUUID:
			conf = min(conf, confWeak)
			notes = append(notes, "a numeric or uuid key may be a surrogate key")
		}
		if len(notes) > 0 {
			reason += "; " + strings.Join(notes, "; ")
		}
		keep(Match{Identifier: e.id, Confidence: conf, Reason: reason})
	}
	// Types that hold identifiers whatever the column is called.
	if len(byID) == 0 && !hasMeta {
		switch tc {
		case tInet:
			keep(Match{Identifier: IPAddress, Confidence: confWeak, Reason: "column type inet holds IP addresses"})
		case tMac:
			keep(Match{Identifier: Device, Confidence: confWeak, Reason: "column type macaddr holds device hardware addresses"})
		case tGeo:
			keep(Match{Identifier: Geographic, Confidence: confWeak, Reason: "a geometric column type can hold a location"})
		}
	}
	if len(byID) == 0 {
		return nil
	}
	out := make([]Match, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	sortMatches(out)
	return out
}

func sortMatches(ms []Match) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Confidence != ms[j].Confidence {
			return ms[i].Confidence > ms[j].Confidence
		}
		return ms[i].Identifier < ms[j].Identifier
	})
}

type hit struct {
	e          *entry
	start, end int // token span [start,end)
	exact      bool
}

// dictionaryHits finds dictionary entries in the token list. Entries come longest first;
// an entry is dropped where every one of its tokens already belongs to a longer hit, so
// email_address is Email and not also Geographic, while same-length hits on the same
// words (diagnosis as HealthInfo and as a diagnosis date) are all kept.
func dictionaryHits(toks []string) []hit {
	covered := make([]int, len(toks)) // length of the longest hit over each token
	var hits []hit
	for i := range dictionary {
		e := &dictionary[i]
		n := len(e.words)
		if n > len(toks) {
			continue
		}
		for s := 0; s+n <= len(toks); s++ {
			if !wordsAt(e.words, toks, s) {
				continue
			}
			shadowed := true
			for k := s; k < s+n; k++ {
				if covered[k] <= n {
					shadowed = false
				}
			}
			if shadowed {
				continue
			}
			exact := s == 0 && n == len(toks)
			if !exact && e.token == 0 {
				continue
			}
			hits = append(hits, hit{e: e, start: s, end: s + n, exact: exact})
			for k := s; k < s+n; k++ {
				covered[k] = max(covered[k], n)
			}
			break
		}
	}
	return hits
}

func wordsAt(words, toks []string, s int) bool {
	for k, w := range words {
		if !tokEq(w, toks[s+k]) {
			return false
		}
	}
	return true
}

func metaAfter(toks []string, end int) bool {
	for _, t := range toks[end:] {
		if metaWords[t] {
			return true
		}
	}
	return false
}

func hasWord(toks []string, set map[string]bool) bool {
	for _, t := range toks {
		if set[t] {
			return true
		}
	}
	return false
}

// isCount reports names of counts and measures (num_visits, phone_count, number_of_claims).
func isCount(toks []string) bool {
	if toks[0] == "num" || toks[0] == "n" {
		return len(toks) > 1
	}
	for i, t := range toks {
		if countWords[t] {
			return true
		}
		if (t == "number" || t == "no") && i+1 < len(toks) && toks[i+1] == "of" {
			return true
		}
	}
	return false
}
