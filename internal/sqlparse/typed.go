package sqlparse

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Typed literals lose their constant to normalisation: pg_stat_statements turns
// `date '2024-01-31'` into `date $4` and `interval '30 days'` into `interval $5`, which
// the grammar rejects (a type name may only precede a string constant). The rewrite
// works on the scanner's tokens, so strings, comments and quoted names are never
// mistaken for types.

// tok names a scanner token by its grammar name.
func tok(name string) pg_query.Token { return pg_query.Token(pg_query.Token_value[name]) }

var (
	tokParam    = pg_query.Token_PARAM
	tokIdent    = pg_query.Token_IDENT
	tokOpen     = pg_query.Token_ASCII_40
	tokClose    = pg_query.Token_ASCII_41
	tokDot      = pg_query.Token_ASCII_46
	tokComma    = pg_query.Token_ASCII_44
	tokZone     = tok("ZONE")
	tokTime     = tok("TIME")
	tokTimestmp = tok("TIMESTAMP")
	tokPrec     = tok("PRECISION")
	tokDouble   = tok("DOUBLE_P")
	tokVarying  = tok("VARYING")
	tokNational = tok("NATIONAL")
	tokExtract  = tok("EXTRACT")
	tokFrom     = tok("FROM")
	// The keywords that open a type name the grammar accepts before a string
	// constant (ConstTypename, ConstInterval, and JSON from PostgreSQL 16).
	typeKeywords = tokenSet("INT_P", "INTEGER", "SMALLINT", "BIGINT", "REAL", "FLOAT_P", "DECIMAL_P", "DEC",
		"NUMERIC", "BOOLEAN_P", "BIT", "CHARACTER", "CHAR_P", "VARCHAR", "NCHAR", "TIMESTAMP", "TIME", "INTERVAL", "JSON")
	// The keywords that may follow a type before the zone: WITH / WITHOUT TIME ZONE.
	zoneOpeners = tokenSet("WITH", "WITH_LA", "WITHOUT", "WITHOUT_LA")
	commentToks = map[pg_query.Token]bool{pg_query.Token_SQL_COMMENT: true, pg_query.Token_C_COMMENT: true}
)

func tokenSet(names ...string) map[pg_query.Token]bool {
	m := map[pg_query.Token]bool{}
	for _, n := range names {
		if v, ok := pg_query.Token_value[n]; ok {
			m[pg_query.Token(v)] = true
		}
	}
	return m
}

// edit replaces text[from:to].
type edit struct {
	from, to int
	with     string
}

func applyEdits(text string, edits []edit) string {
	if len(edits) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, e := range edits {
		b.WriteString(text[last:e.from])
		b.WriteString(e.with)
		last = e.to
	}
	b.WriteString(text[last:])
	return b.String()
}

// scanTokens scans text, leaving out comments.
func scanTokens(text string) ([]*pg_query.ScanToken, error) {
	res, err := pg_query.Scan(text)
	if err != nil {
		return nil, err
	}
	out := make([]*pg_query.ScanToken, 0, len(res.Tokens))
	for _, t := range res.Tokens {
		if !commentToks[t.Token] {
			out = append(out, t)
		}
	}
	return out, nil
}

// RewriteTypedParams turns `type $n` (every type spelling the grammar allows before a
// constant, with type modifiers and time zones) into `$n::type`, and `extract($n from x)`
// into `date_part($n, x)`. It returns the text unchanged when the scanner cannot read it.
func RewriteTypedParams(text string) string {
	toks, err := scanTokens(text)
	if err != nil {
		return text
	}
	return rewriteTokens(text, toks)
}

// maxParamToken is the highest $n among the tokens.
func maxParamToken(text string, toks []*pg_query.ScanToken) int {
	n := 0
	for _, t := range toks {
		if t.Token == tokParam {
			if v, err := strconv.Atoi(text[t.Start+1 : t.End]); err == nil && v > n {
				n = v
			}
		}
	}
	return n
}

// rewriteTokens is RewriteTypedParams on tokens already scanned (comments left out).
func rewriteTokens(text string, toks []*pg_query.ScanToken) string {
	var edits []edit
	for i, t := range toks {
		if t.Token != tokParam || i == 0 {
			continue
		}
		param := text[t.Start:t.End]
		if i >= 2 && toks[i-1].Token == tokOpen && toks[i-2].Token == tokExtract && i+1 < len(toks) && toks[i+1].Token == tokFrom {
			// extract(field FROM x) takes a keyword; its normalised form has a $n there.
			edits = append(edits, edit{int(toks[i-2].Start), int(toks[i+1].End), "pg_catalog.date_part(" + param + "::text,"})
			continue
		}
		start, ok := typeNameBefore(toks, i)
		if !ok {
			continue
		}
		typ := text[toks[start].Start:toks[i-1].End]
		edits = append(edits, edit{int(toks[start].Start), int(t.End), param + "::" + typ})
	}
	return applyEdits(text, edits)
}

// typeNameBefore finds where a type name ending just before toks[i] starts.
func typeNameBefore(toks []*pg_query.ScanToken, i int) (int, bool) {
	j := i - 1
	zone := false
	if j >= 3 && toks[j].Token == tokZone && toks[j-1].Token == tokTime && zoneOpeners[toks[j-2].Token] {
		zone, j = true, j-3
	}
	if j >= 0 && toks[j].Token == tokClose {
		// A type modifier: varchar(10), numeric(10, 2), timestamp(3).
		depth := 0
		for ; j >= 0; j-- {
			switch toks[j].Token {
			case tokClose:
				depth++
			case tokOpen:
				depth--
			case tokIdent, tokComma, pg_query.Token_ICONST:
			default:
				return 0, false
			}
			if depth == 0 {
				break
			}
		}
		j--
	}
	if j < 0 {
		return 0, false
	}
	start := -1
	switch tk := toks[j].Token; {
	case tk == tokPrec && j >= 1 && toks[j-1].Token == tokDouble:
		start = j - 1
	case tk == tokVarying && j >= 1 && typeKeywords[toks[j-1].Token]:
		start = j - 1
	case typeKeywords[tk]:
		start = j
	case tk == tokIdent:
		start = j
		for start >= 2 && toks[start-1].Token == tokDot && toks[start-2].Token == tokIdent {
			start -= 2
		}
	default:
		return 0, false
	}
	if start >= 1 && toks[start-1].Token == tokNational {
		start--
	}
	if zone && toks[start].Token != tokTimestmp && toks[start].Token != tokTime {
		return 0, false // x AT TIME ZONE $1 is not a type
	}
	return start, true
}
