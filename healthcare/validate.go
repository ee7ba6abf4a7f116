package healthcare

import (
	"net"
	"strings"
	"time"
)

// The validators below judge one sampled value each. They are written as code rather than
// regular expressions because the checks they need (SSN area rules, Luhn, calendar dates)
// are beyond Go's RE2, which also has no look-around. Each trims surrounding white space
// first (char(n) columns pad with blanks). A shape match alone is weak evidence: callers
// should combine it with the column name and require most of a sample to match.

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// ssnParts returns area, group and serial of "NNN-NN-NNNN" or "NNNNNNNNN".
func ssnParts(s string) (area, group, serial string, ok bool) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) == 11 && s[3] == '-' && s[6] == '-':
		area, group, serial = s[:3], s[4:6], s[7:]
	case len(s) == 9:
		area, group, serial = s[:3], s[3:5], s[5:]
	default:
		return "", "", "", false
	}
	if !allDigits(area) || !allDigits(group) || !allDigits(serial) {
		return "", "", "", false
	}
	return area, group, serial, true
}

// LooksLikeSSN reports whether s has the shape of a Social Security number, NNN-NN-NNNN or
// nine digits, with an area other than 000 and 666, a group other than 00 and a serial
// other than 0000. The 9xx area passes: it is never issued, but test data (Synthea, the
// pgmedic synthetic set) uses it, and such a column still has to be found; see SSNIssuable.
func LooksLikeSSN(s string) bool {
	area, group, serial, ok := ssnParts(s)
	return ok && area != "000" && area != "666" && group != "00" && serial != "0000"
}

// SSNIssuable reports whether s looks like an SSN that the Social Security Administration
// could have issued: LooksLikeSSN and an area below 900.
func SSNIssuable(s string) bool {
	area, _, _, _ := ssnParts(s)
	return LooksLikeSSN(s) && area[0] != '9'
}

// ValidLuhn reports whether digits (at least two, digits only) pass the Luhn mod-10 check.
func ValidLuhn(digits string) bool {
	if len(digits) < 2 || !allDigits(digits) {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ValidNPI reports whether s is a National Provider Identifier: ten digits whose check
// digit is the Luhn digit of the number prefixed with 80840 (the US health industry
// prefix of ISO 7812), e.g. 1234567893. An NPI identifies a provider, not a patient.
func ValidNPI(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) == 10 && allDigits(s) && ValidLuhn("80840"+s)
}

// LooksLikeEmail reports whether s has the shape local@domain.tld: one @, a local part of
// at most 64 characters without spaces, and a domain of dot-separated labels (letters,
// digits, hyphens not at either end) whose last label is at least two letters.
func LooksLikeEmail(s string) bool {
	s = strings.TrimSpace(s)
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>[]:;,\"`, c) >= 0 {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || len(domain) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isLetter(l[i]) && !(l[i] >= '0' && l[i] <= '9') && l[i] != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return false
		}
	}
	return true
}

// LooksLikeUSPhone reports whether s is a North American number: ten digits, optionally
// after +1 or 1, written with any of spaces, dots, hyphens and one pair of parentheses
// around the area code; area code and exchange both start with 2-9.
func LooksLikeUSPhone(s string) bool {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	var digits []byte
	open := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.':
		case c == '(' && open == -1: // one pair at most
			open = len(digits)
		case c == ')' && open >= 0:
			// The parentheses must enclose exactly the area code.
			n := len(digits) - open
			if n != 3 || !(open == 0 || (open == 1 && digits[0] == '1')) {
				return false
			}
			open = -2
		default:
			return false
		}
	}
	if open >= 0 { // unclosed parenthesis
		return false
	}
	if len(digits) == 11 && digits[0] == '1' {
		digits = digits[1:]
	}
	return len(digits) == 10 && digits[0] >= '2' && digits[3] >= '2'
}

// LooksLikeMRN reports whether s has a common medical record number shape: 6 to 10
// digits, or 1 to 4 letters followed (optionally after one hyphen) by 5 to 12 digits, as
// in MRN00123456. Nothing distinguishes an MRN by value alone, so use it with column names.
func LooksLikeMRN(s string) bool {
	s = strings.TrimSpace(s)
	if allDigits(s) {
		return len(s) >= 6 && len(s) <= 10
	}
	i := 0
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	if i == 0 || i > 4 {
		return false
	}
	rest := strings.TrimPrefix(s[i:], "-")
	return allDigits(rest) && len(rest) >= 5 && len(rest) <= 12
}

// dateLayouts are the written date forms LooksLikeDate accepts; time.Parse also checks the
// calendar (no 31 April) and takes fractional seconds after the seconds field.
var dateLayouts = []string{
	"2006-01-02", "2006/01/02", "1/2/2006", "1-2-2006", "2.1.2006", "1/2/06",
	"02-Jan-2006", "2-Jan-2006", "02 Jan 2006", "Jan 2, 2006", "January 2, 2006",
	"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05-07", "2006-01-02 15:04",
}

// LooksLikeDate reports whether s is a calendar date, alone or with a time: ISO 8601 and
// PostgreSQL's text output, US month/day/year, day.month.year, 02-Jan-2006 and
// "January 2, 2006", or eight digits yyyymmdd with a year between 1850 and 2199.
func LooksLikeDate(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) == 8 && allDigits(s) {
		t, err := time.Parse("20060102", s)
		return err == nil && t.Year() >= 1850 && t.Year() < 2200
	}
	for _, l := range dateLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// LooksLikeZIP reports whether s is a US ZIP code, 12345 or 12345-6789. Five digits are
// also amounts and IDs, so use it with column names.
func LooksLikeZIP(s string) bool {
	s = strings.TrimSpace(s)
	switch {
	case len(s) == 5:
		return allDigits(s)
	case len(s) == 10 && s[5] == '-':
		return allDigits(s[:5]) && allDigits(s[6:])
	}
	return false
}

// LooksLikeIPv4 reports whether s is a dotted-quad IPv4 address.
func LooksLikeIPv4(s string) bool {
	s = strings.TrimSpace(s)
	return !strings.Contains(s, ":") && net.ParseIP(s) != nil
}

// LooksLikeIPv6 reports whether s is an IPv6 address (including IPv4-mapped forms such as
// ::ffff:192.0.2.1).
func LooksLikeIPv6(s string) bool {
	s = strings.TrimSpace(s)
	return strings.Contains(s, ":") && net.ParseIP(s) != nil
}
