package healthcare

import (
	"strings"
	"unicode"
)

// tokenize splits an identifier into lower-case words at non-alphanumeric characters,
// camelCase boundaries and letter/digit changes, so first_name, FirstName and FIRST-NAME
// all give [first name], ICD10Code gives [icd 10 code] and MRNNumber gives [mrn number].
func tokenize(s string) []string {
	rs := []rune(s)
	var out []string
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			out = append(out, strings.ToLower(string(rs[start:end])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		switch {
		case unicode.IsDigit(r) != unicode.IsDigit(prev):
			flush(i)
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i)
		// The last capital of a run starts the next word when a lower-case letter follows:
		// "MRNNumber" is MRN + Number, "FName" is F + Name.
		case unicode.IsUpper(r) && unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			flush(i)
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(rs))
	return out
}

// tokEq reports whether a column token is a dictionary word or a regular plural of it, so
// one entry covers phone/phones, address/addresses, diagnosis/diagnoses, allergy/allergies.
func tokEq(word, tok string) bool {
	if word == tok {
		return true
	}
	if strings.HasSuffix(word, "is") && tok == word[:len(word)-2]+"es" {
		return true
	}
	if tok == word+"s" || tok == word+"es" {
		return true
	}
	if strings.HasSuffix(word, "y") && tok == word[:len(word)-1]+"ies" {
		return true
	}
	return false
}

// hasAny reports whether any token equals (or is a plural of) any of words.
func hasAny(toks []string, words ...string) bool {
	for _, t := range toks {
		for _, w := range words {
			if tokEq(w, t) {
				return true
			}
		}
	}
	return false
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
