// Package sqlparse reads SQL statements with PostgreSQL's own parser (pg_query) and
// extracts what pgmedic's analyzers reason about: the kind of statement, the tables it
// touches, its predicates (column, operator, what the column is compared with, whether a
// function or cast wraps the column), joins, ORDER BY, GROUP BY, LIMIT/OFFSET, the select
// list, and literal values where parameters belong. Parsed statements are cached by text.
//
// Literal values are kept only where an analyzer needs one (a constant compared with a
// low-cardinality column becomes a partial-index predicate); nothing here prints them.
package sqlparse

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pgmedic/pgmedic/internal/display"
)

// Kind is what a statement does.
type Kind string

const (
	Select  Kind = "select"
	Insert  Kind = "insert"
	Update  Kind = "update"
	Delete  Kind = "delete"
	Merge   Kind = "merge"
	Utility Kind = "utility"
)

// TableRef is a table (or view, CTE) named in a statement.
type TableRef struct {
	Schema string // "" when unqualified and not resolved
	Name   string
	Alias  string
	CTE    bool // refers to a WITH query, not a relation
}

// Qualified is schema.name (or just name when the schema is unknown).
func (t TableRef) Qualified() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// ValueKind is what a column is compared with.
type ValueKind string

const (
	ValParam    ValueKind = "param"    // $n
	ValConst    ValueKind = "const"    // a literal
	ValColumn   ValueKind = "column"   // another column (a join)
	ValExpr     ValueKind = "expr"     // a function of no columns: now(), current_date - 30
	ValSubquery ValueKind = "subquery" // IN (SELECT ...), = (SELECT ...)
	ValList     ValueKind = "list"     // IN ($1, $2), = ANY($1)
	ValNone     ValueKind = "none"     // IS NULL, boolean column
)

// Predicate is one comparison of a column in a WHERE or JOIN ON clause.
type Predicate struct {
	Table  string // resolved table (schema.name when known), "" if unresolved
	Column string
	Op     string // =, <, >, <=, >=, <>, IN, ANY, LIKE, ILIKE, BETWEEN, IS NULL, IS NOT NULL, ~
	Value  ValueKind
	// Func names a function applied to the column (lower(email) = $1): a plain index on
	// the column cannot serve it.
	Func string
	// Cast is set when the column is cast (col::text = $1), the usual sign of mismatched
	// types.
	Cast string
	// InOr is set for predicates inside an OR: they cannot be AND-ed into one index.
	InOr bool
	// OrGroup numbers the outermost OR the predicate is under (from 1), and OrBranch
	// its argument (from 1): every branch needs an index of its own for a BitmapOr.
	OrGroup, OrBranch int
	// OrWidth is how many branches that OR has.
	OrWidth int
	// Negated for NOT (...) and NOT IN / NOT LIKE.
	Negated bool
	// Param is the $n compared with, when Value is ValParam.
	Param int
	// Params lists every $n the column is compared with directly: the one of Param, the
	// items of an IN list, both ends of a BETWEEN.
	Params []int
	// Other is the other column of a join predicate (schema.table.column).
	OtherTable, OtherColumn string
	// LeadingWildcard: LIKE/ILIKE with a constant pattern starting with % or _.
	LeadingWildcard bool
	// ConstKind describes a literal ("string", "integer", "float", "boolean", "null").
	ConstKind string
	// constValue is the literal itself. It stays inside the process: only the index
	// advisor reads it, for low-cardinality columns (status = 'pended').
	constValue string
}

// ConstValue returns the literal compared with, for callers that must build a partial
// index predicate. Never print it: it can be a patient's identifier.
func (p Predicate) ConstValue() string { return p.constValue }

// SortKey is one ORDER BY item.
type SortKey struct {
	Table      string
	Column     string // "" for an expression
	Expr       bool
	Desc       bool
	NullsFirst *bool
}

// Join is an equality between columns of two tables.
type Join struct {
	LeftTable, LeftColumn   string
	RightTable, RightColumn string
}

// Statement is what sqlparse found in one statement.
type Statement struct {
	Text        string
	Fingerprint string
	Kind        Kind
	Command     string // SELECT, INSERT, SET, CREATE ...
	Writes      bool
	ParamCount  int
	Tables      []TableRef // relations read or written (CTE references excluded)
	Target      *TableRef  // the table an INSERT/UPDATE/DELETE writes
	CTEs        []string
	Predicates  []Predicate
	Joins       []Join
	OrderBy     []SortKey
	GroupBy     []string // table.column
	// Select list.
	SelectStar   bool     // SELECT * or t.*
	StarTables   []string // tables whose columns * expands to
	SelectCols   []string // table.column of plain columns in the select list
	Aggregates   bool
	Distinct     bool
	HasWhere     bool
	OrAcross     bool // an OR compares different columns
	Limit        *Bound
	Offset       *Bound
	Subqueries   int
	SetOperation bool // UNION / INTERSECT / EXCEPT
	ForUpdate    bool
	// Literals counts constants compared with columns (parameters belong there).
	Literals int
	// UpdatedColumns lists the columns an UPDATE sets.
	UpdatedColumns []string
	// ParamUses says, for each $n (index n-1), where the statement uses it: what gives
	// the parameter its type and a plausible value.
	ParamUses [][]ParamUse
}

// Bound is a LIMIT or OFFSET.
type Bound struct {
	Param int   // $n, or 0
	Value int64 // the literal, when Param == 0
	All   bool  // LIMIT ALL
}

// Catalog resolves unqualified names against the database's schema.
type Catalog interface {
	// FindTable returns the schema that holds a table (or view) of this name on the
	// search path, and false when there is none.
	FindTable(schema, name string) (string, bool)
	// HasColumn reports whether schema.table has the column.
	HasColumn(schema, table, column string) bool
}

// Parser parses and caches statements. It is safe for concurrent use.
type Parser struct {
	cat   Catalog
	mu    sync.Mutex
	cache map[string]*cached
	max   int
}

type cached struct {
	st  *Statement
	err error
}

// NewParser returns a parser resolving names through cat (nil: no resolution beyond
// aliases) and caching up to max statements.
func NewParser(cat Catalog, max int) *Parser {
	if max <= 0 {
		max = 10000
	}
	return &Parser{cat: cat, cache: map[string]*cached{}, max: max}
}

// ParseError is a statement PostgreSQL's parser rejects.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return "cannot parse the statement: " + e.Msg }

// nearToken is the token a syntax error quotes, which can be a literal from the text.
// PostgreSQL does not escape quotes inside it ('a"MRN-4417' is quoted as
// "'a"MRN-4417'"), so everything up to the last quote goes.
var nearToken = regexp.MustCompile(`(at or near) ".*"`)

// RedactNear drops the quoted token from a syntax error ("syntax error at or near
// "'MRN-1234'"" becomes "syntax error at or near a token"): the token can be a value.
func RedactNear(msg string) string { return nearToken.ReplaceAllString(msg, "$1 a token") }

// ErrMultiple is returned for text holding more than one statement.
var ErrMultiple = errors.New("more than one statement")

// Parse analyses one statement.
func (p *Parser) Parse(sql string) (*Statement, error) {
	p.mu.Lock()
	if c, ok := p.cache[sql]; ok {
		p.mu.Unlock()
		return c.st, c.err
	}
	p.mu.Unlock()
	st, err := p.parse(sql)
	p.mu.Lock()
	if len(p.cache) >= p.max {
		// Drop everything rather than track recency: workloads repeat, refills are cheap.
		p.cache = map[string]*cached{}
	}
	p.cache[sql] = &cached{st, err}
	p.mu.Unlock()
	return st, err
}

func (p *Parser) parse(sql string) (*Statement, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, &ParseError{Msg: RedactNear(err.Error())}
	}
	if len(tree.Stmts) == 0 {
		return nil, &ParseError{Msg: "no statement"}
	}
	if len(tree.Stmts) > 1 {
		return nil, ErrMultiple
	}
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return nil, &ParseError{Msg: RedactNear(err.Error())}
	}
	st := &Statement{Text: sql, Fingerprint: fp}
	w := &walker{st: st, cat: p.cat}
	w.statement(tree.Stmts[0].Stmt)
	st.ParamCount = maxParam(tree.Stmts[0].Stmt)
	w.collectUses(tree.Stmts[0].Stmt)
	st.Tables = dedupeTables(st.Tables)
	return st, nil
}

// Split cuts a script into statements (comments and strings respected).
func Split(sql string) ([]string, error) {
	parts, err := pg_query.SplitWithParser(sql, true)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	var out []string
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// Normalize replaces literals with $n placeholders, as pg_stat_statements does.
func Normalize(sql string) (string, error) {
	out, err := pg_query.Normalize(sql)
	if err != nil {
		return "", &ParseError{Msg: err.Error()}
	}
	return out, nil
}

// Fingerprint identifies statements that differ only in literals and formatting.
func Fingerprint(sql string) (string, error) {
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return "", &ParseError{Msg: err.Error()}
	}
	return fp, nil
}

func dedupeTables(ts []TableRef) []TableRef {
	seen := map[string]bool{}
	var out []TableRef
	for _, t := range ts {
		key := t.Qualified()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	return out
}

// Uses reports whether the statement reads or writes the table (schema.name or name).
func (s *Statement) Uses(table string) bool {
	for _, t := range s.Tables {
		if t.Qualified() == table || t.Name == table {
			return true
		}
	}
	return false
}

// PredicatesOn returns the predicates on one table.
func (s *Statement) PredicatesOn(table string) []Predicate {
	var out []Predicate
	for _, p := range s.Predicates {
		if p.Table == table {
			out = append(out, p)
		}
	}
	return out
}

func (s *Statement) String() string {
	return fmt.Sprintf("%s %s tables=%v predicates=%d", s.Kind, s.Fingerprint, s.Tables, len(s.Predicates))
}

// OneLine collapses whitespace runs (newlines included) to single spaces.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Shorten is display.Shorten: one line, at most n runes.
func Shorten(s string, n int) string { return display.Shorten(s, n) }

// SafeText is what may be shown of a statement: its normalised form (values replaced
// by $n) cut to n bytes, or, when even the scanner cannot read it, only its first word.
func SafeText(sql string, n int) string {
	if norm, err := Normalize(sql); err == nil {
		return Shorten(norm, n)
	}
	f := strings.Fields(sql)
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0]) + " ... (text withheld: it did not parse, so its values could not be removed)"
}
