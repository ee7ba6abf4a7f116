package healthcare

import (
	"fmt"
	"strings"
	"unicode"
)

// ValueKind is a shape a sampled value can have. Kinds are what the validators recognise;
// which identifier a kind means depends on the column (a ZIP-shaped value is a ZIP code
// only next to a geographic name, an NPI identifies a provider, not a patient).
type ValueKind string

// The value kinds the scanner recognises.
const (
	KindSSN   ValueKind = "SSN"
	KindMBI   ValueKind = "MBI"
	KindNPI   ValueKind = "NPI"
	KindPhone ValueKind = "phone number"
	KindEmail ValueKind = "e-mail address"
	KindZIP   ValueKind = "ZIP code"
	KindDate  ValueKind = "date"
	KindIP    ValueKind = "IP address"
	KindURL   ValueKind = "URL"
	KindMRN   ValueKind = "MRN shape"
)

// wholeKinds are tried on a whole value, in this order: the first that matches counts, so
// a ten-digit NPI with a valid check digit is an NPI before it is a phone number.
var wholeKinds = []struct {
	kind ValueKind
	test func(string) bool
}{
	{KindSSN, looksLikeFormattedSSN},
	{KindMBI, LooksLikeMBI},
	{KindEmail, LooksLikeEmail},
	{KindIP, looksLikeIP},
	{KindURL, looksLikeURL},
	{KindNPI, ValidNPI},
	{KindPhone, LooksLikeUSPhone},
	{KindDate, LooksLikeDate},
	{KindZIP, LooksLikeZIP},
	{KindSSN, func(s string) bool { return len(strings.TrimSpace(s)) == 9 && LooksLikeSSN(s) }},
	{KindMRN, LooksLikeMRN},
}

// ValueScan summarises the sampled values of one column. It holds counts only, never a
// value, so it can be logged, printed and stored.
type ValueScan struct {
	Sampled  int // values read, NULLs included
	NonEmpty int // values neither NULL nor blank
	Distinct int // distinct non-empty values
	// Whole counts values that are, as a whole, of each kind.
	Whole map[ValueKind]int
	// Embedded counts values of free text (several words) that contain an identifier of
	// each kind somewhere inside (a note quoting an SSN, a comment with an e-mail address).
	Embedded map[ValueKind]int
	// FreeText counts values that read as prose: three or more words.
	FreeText int
	// Narrative counts values of eight words or more: notes, reports, summaries.
	Narrative int
}

// ScanValues classifies sampled values. NULLs are passed as nil.
func ScanValues(values []*string) ValueScan {
	s := ValueScan{Whole: map[ValueKind]int{}, Embedded: map[ValueKind]int{}}
	seen := make(map[string]struct{}, len(values))
	for _, v := range values {
		s.Sampled++
		if v == nil || strings.TrimSpace(*v) == "" {
			continue
		}
		x := strings.TrimSpace(*v)
		s.NonEmpty++
		seen[x] = struct{}{}
		if k, ok := wholeKind(x); ok {
			s.Whole[k]++
			continue
		}
		if words := len(strings.Fields(x)); words >= 3 {
			s.FreeText++
			if words >= 8 {
				s.Narrative++
			}
			for _, k := range embeddedKinds(x) {
				s.Embedded[k]++
			}
		}
	}
	s.Distinct = len(seen)
	return s
}

func wholeKind(x string) (ValueKind, bool) {
	if len(x) > 320 {
		return "", false
	}
	for _, w := range wholeKinds {
		if w.test(x) {
			return w.kind, true
		}
	}
	return "", false
}

// Share is the fraction of non-empty values that are wholly of kind k.
func (s ValueScan) Share(k ValueKind) float64 {
	if s.NonEmpty == 0 {
		return 0
	}
	return float64(s.Whole[k]) / float64(s.NonEmpty)
}

// Dominant is the kind most values have and its share; "" when no kind reaches min.
func (s ValueScan) Dominant(min float64) (ValueKind, float64) {
	var best ValueKind
	var share float64
	for _, w := range wholeKinds {
		if sh := s.Share(w.kind); sh >= min && sh > share {
			best, share = w.kind, sh
		}
	}
	return best, share
}

// DistinctRatio is distinct non-empty values over non-empty values (1 when all differ).
func (s ValueScan) DistinctRatio() float64 {
	if s.NonEmpty == 0 {
		return 0
	}
	return float64(s.Distinct) / float64(s.NonEmpty)
}

// embeddedKinds finds identifiers inside free text. Only forms that are unlikely by chance
// count: SSNs with separators, e-mail addresses, formatted phone numbers, MBIs, and
// record numbers introduced by a label (MRN 00123456, "chart #A12345").
func embeddedKinds(text string) []ValueKind {
	var out []ValueKind
	add := func(k ValueKind) {
		for _, o := range out {
			if o == k {
				return
			}
		}
		out = append(out, k)
	}
	words := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;[]{}<>\"'", r)
	})
	for i, raw := range words {
		w := strings.Trim(raw, ".!?:()")
		switch {
		case looksLikeFormattedSSN(w):
			add(KindSSN)
		case strings.Contains(w, "@") && LooksLikeEmail(w):
			add(KindEmail)
		case LooksLikeMBI(w) && strings.IndexFunc(w, unicode.IsDigit) >= 0:
			add(KindMBI)
		case strings.ContainsAny(w, "-.()") && LooksLikeUSPhone(w):
			add(KindPhone)
		case i+1 < len(words) && isPhonePair(raw, words[i+1]):
			add(KindPhone)
		case i > 0 && mrnLabel(words[i-1]) && (LooksLikeMRN(strings.TrimPrefix(w, "#")) || allDigits(strings.TrimPrefix(w, "#"))):
			add(KindMRN)
		}
	}
	return out
}

// isPhonePair recognises "(617) 555-0101", which the tokenizer splits in two words.
func isPhonePair(a, b string) bool {
	return strings.HasPrefix(a, "(") && strings.HasSuffix(a, ")") && LooksLikeUSPhone(a+" "+strings.TrimRight(b, ".!?:;"))
}

func mrnLabel(w string) bool {
	w = strings.ToLower(strings.Trim(w, "#:."))
	switch w {
	case "mrn", "mr", "chart", "record", "patient", "pt", "acct", "account", "member", "ssn":
		return true
	}
	return false
}

// looksLikeFormattedSSN is LooksLikeSSN with separators (NNN-NN-NNNN, NNN NN NNNN,
// NNN.NN.NNNN, the same separator twice): nine bare digits are too often something else.
func looksLikeFormattedSSN(s string) bool {
	if len(s) != 11 || s[3] != s[6] || strings.IndexByte("- .", s[3]) < 0 {
		return false
	}
	return LooksLikeSSN(s[:3] + "-" + s[4:6] + "-" + s[7:])
}

// mbiLetters are the letters a Medicare Beneficiary Identifier may use (no S, L, O, I, B, Z).
const mbiLetters = "ACDEFGHJKMNPQRTUVWXY"

// LooksLikeMBI reports whether s is a Medicare Beneficiary Identifier: eleven characters
// (optionally written 4-3-4 with hyphens) where positions 1, 4, 7, 10 and 11 are digits
// (the first 1-9), 2, 5, 8 and 9 letters, and 3 and 6 letters or digits, letters only from
// the 20 CMS allows.
func LooksLikeMBI(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) == 13 && s[4] == '-' && s[8] == '-' {
		s = s[:4] + s[5:8] + s[9:]
	}
	if len(s) != 11 {
		return false
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	letter := func(c byte) bool { return strings.IndexByte(mbiLetters, c) >= 0 }
	for i := 0; i < 11; i++ {
		c := s[i]
		var ok bool
		switch i {
		case 0:
			ok = c >= '1' && c <= '9'
		case 3, 6, 9, 10:
			ok = digit(c)
		case 1, 4, 7, 8:
			ok = letter(c)
		default:
			ok = digit(c) || letter(c)
		}
		if !ok {
			return false
		}
	}
	return true
}

// looksLikeIP accepts an address alone or, as inet prints it, with a prefix length.
func looksLikeIP(s string) bool {
	if i := strings.IndexByte(s, '/'); i > 0 && i >= len(s)-4 && allDigits(s[i+1:]) {
		s = s[:i]
	}
	return LooksLikeIPv4(s) || LooksLikeIPv6(s)
}

// looksLikeURL accepts http(s) and www. addresses without spaces.
func looksLikeURL(s string) bool {
	l := strings.ToLower(s)
	if strings.ContainsAny(s, " \t\n") {
		return false
	}
	for _, p := range []string{"http://", "https://", "www."} {
		if strings.HasPrefix(l, p) && len(l) > len(p)+3 && strings.Contains(l[len(p):], ".") {
			return true
		}
	}
	return false
}

// Describe is the evidence line for a whole-value kind: "values: 97% match SSN".
func (s ValueScan) Describe(k ValueKind) string {
	return fmt.Sprintf("values: %.0f%% match %s (%d sampled)", 100*s.Share(k), k, s.NonEmpty)
}
