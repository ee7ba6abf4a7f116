package healthcare

import "testing"

func check(t *testing.T, name string, f func(string) bool, valid, invalid []string) {
	t.Helper()
	for _, s := range valid {
		if !f(s) {
			t.Errorf("%s(%q) = false, want true", name, s)
		}
	}
	for _, s := range invalid {
		if f(s) {
			t.Errorf("%s(%q) = true, want false", name, s)
		}
	}
}

func TestLooksLikeSSN(t *testing.T) {
	check(t, "LooksLikeSSN", LooksLikeSSN,
		[]string{"123-45-6789", "123456789", "900-12-3456", "999-01-0001", " 078-05-1120 "},
		[]string{"000-12-3456", "666-12-3456", "123-00-4567", "123-45-0000", "000123456",
			"123-456-789", "12-345-6789", "123 45 6789", "123-45-678", "1234567890", "abc-de-fghi",
			"123-45-67890", "", "123_45_6789"})
}

func TestSSNIssuable(t *testing.T) {
	check(t, "SSNIssuable", SSNIssuable,
		[]string{"123-45-6789", "899-99-9999", "001010001"},
		[]string{"900-12-3456", "999-12-3456", "000-12-3456", "666-12-3456", "not an ssn", ""})
}

func TestValidLuhn(t *testing.T) {
	check(t, "ValidLuhn", ValidLuhn,
		[]string{"79927398713", "4111111111111111", "808401234567893", "00"},
		[]string{"79927398710", "4111111111111112", "1", "", "4111-1111-1111-1111", "abc"})
}

func TestValidNPI(t *testing.T) {
	check(t, "ValidNPI", ValidNPI,
		[]string{"1234567893", " 1234567893 ", "1245319599"},
		[]string{"1234567890", "123456789", "12345678931", "123456789X", "1234-567893", ""})
}

func TestLooksLikeEmail(t *testing.T) {
	check(t, "LooksLikeEmail", LooksLikeEmail,
		[]string{"jane.doe@example.org", "a+tag@mail.example.co.uk", "x_y@sub-domain.example.com", "O'Brien@example.org"},
		[]string{"plain", "@example.org", "jane@", "jane@example", "jane@@example.org", "jane@exa mple.org",
			"jane doe@example.org", "jane@-example.org", "jane@example.c", "jane@example.123",
			".jane@example.org", "ja..ne@example.org", "jane@example..org", "Jane <jane@example.org>"})
}

func TestLooksLikeUSPhone(t *testing.T) {
	check(t, "LooksLikeUSPhone", LooksLikeUSPhone,
		[]string{"212-555-0123", "(212) 555-0123", "212.555.0123", "2125550123", "+1 212 555 0123",
			"1-212-555-0123", "+1 (212) 555-0123", "12125550123"},
		[]string{"555-0123", "112-555-0123", "212-155-0123", "2125550123456", "(212 555-0123",
			"212) 555-0123", "(21) 2555-0123", "212-555-O123", "22125550123", "", "1234567893"})
}

func TestLooksLikeMRN(t *testing.T) {
	check(t, "LooksLikeMRN", LooksLikeMRN,
		[]string{"MRN00123456", "123456", "0012345678", "A12345", "MR-0012345", "abcd123456789012"},
		[]string{"12345", "12345678901", "MRN", "MRNXX123456", "ABCDE12345", "MRN1234", "MRN 123456", "", "12-34-56"})
}

func TestLooksLikeDate(t *testing.T) {
	check(t, "LooksLikeDate", LooksLikeDate,
		[]string{"1980-02-29", "1980/02/29", "2/29/1980", "02/29/1980", "29.02.1980", "29-Feb-1980",
			"Feb 29, 1980", "February 29, 1980", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123456+00",
			"2024-01-02T03:04:05", "19800229", "1/2/06"},
		[]string{"1981-02-29", "2024-13-01", "2024-04-31", "13/01/2024", "12345678", "20241301",
			"yesterday", "2024", "", "1234-56-78", "00000000"})
}

func TestLooksLikeZIP(t *testing.T) {
	check(t, "LooksLikeZIP", LooksLikeZIP,
		[]string{"02139", "02139-4307", " 90210 "},
		[]string{"2139", "021390", "02139-430", "02139 4307", "0213a", "02139-43071", ""})
}

func TestLooksLikeIP(t *testing.T) {
	check(t, "LooksLikeIPv4", LooksLikeIPv4,
		[]string{"192.0.2.1", "10.0.0.255", "0.0.0.0"},
		[]string{"256.0.0.1", "192.0.2", "2001:db8::1", "::ffff:192.0.2.1", "host.example", ""})
	check(t, "LooksLikeIPv6", LooksLikeIPv6,
		[]string{"2001:db8::1", "::1", "::ffff:192.0.2.1", "fe80::1:2:3:4"},
		[]string{"192.0.2.1", "2001:db8:::1", "gggg::1", "", "12:34"})
}
