package sqlparse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Intake is a statement as a system sent it (pg_stat_statements, a server log, a file)
// made ready to plan: values replaced by parameters, typed literals written as casts,
// wrappers (PREPARE, EXPLAIN, DECLARE CURSOR, COPY (query)) removed.
type Intake struct {
	// Text is what gets planned: parameters only, no values, no comments.
	Text string
	// Display is the normalised statement as the user knows it (values replaced by $n,
	// comments removed): the only form that may be printed.
	Display string
	// Params is the number of parameters Text takes.
	Params int
	// Literals holds, for raw texts, the constant each parameter replaced (index n-1;
	// nil where the text already had $n). Values stay in the process: never print them.
	Literals []*Literal
	// Declared holds the parameter types a PREPARE spelled out (index n-1, "" unknown).
	Declared []string
	// Wrapper names what was removed around the statement ("PREPARE", "EXPLAIN",
	// "DECLARE CURSOR", "COPY", "CREATE TABLE AS"), "" for none.
	Wrapper string
}

// Literal is a constant of a raw statement.
type Literal struct {
	Kind  string // string, integer, float, boolean, null, bitstring
	value string
	// Typed is the type name of a typed literal (date '2024-01-31'), "" otherwise.
	Typed string
}

// Value is the literal's value as text. It can be a patient's identifier: it may be
// bound as a parameter on pgmedic's own session, never printed or put into SQL text.
func (l *Literal) Value() string { return l.value }

// NotPlannable explains why a text cannot be planned. Code is stable for programs;
// Reason is a sentence for people and never quotes the text.
type NotPlannable struct {
	Code   string
	Reason string
}

func (e *NotPlannable) Error() string { return e.Reason }

// Reasons a text cannot be planned.
const (
	ReasonTruncated  = "truncated"
	ReasonSyntax     = "syntax"
	ReasonSeveral    = "several-statements"
	ReasonProcedural = "procedural"
	ReasonCall       = "call"
	ReasonExecute    = "execute"
	ReasonCopy       = "copy"
	ReasonCursor     = "cursor"
	ReasonUtility    = "utility"
	ReasonEmpty      = "empty"
	ReasonHidden     = "hidden"
)

// HiddenText is what pg_stat_statements shows in place of the text of another role's
// statement to a role without pg_read_all_stats.
const HiddenText = "<insufficient privilege>"

// IsNotPlannable reports whether err says a text cannot be planned, and why.
func IsNotPlannable(err error) (*NotPlannable, bool) {
	var np *NotPlannable
	ok := errors.As(err, &np)
	return np, ok
}

// Take turns one statement text into a plannable statement. Texts that cannot be
// planned get a *NotPlannable error with a precise reason.
func Take(text string) (*Intake, error) {
	if strings.TrimSpace(text) == HiddenText {
		return nil, &NotPlannable{ReasonHidden, "this role may not read the statement's text (pg_stat_statements hides other roles' statements): GRANT pg_read_all_stats TO it"}
	}
	rewritten := text
	if mayHaveTypedParams(text) {
		rewritten = RewriteTypedParams(text)
	}
	tree, err := pg_query.Parse(rewritten)
	if err != nil {
		return nil, parseFailure(text, err)
	}
	switch n := len(tree.Stmts); {
	case n == 0:
		return nil, &NotPlannable{ReasonEmpty, "the text holds no statement (only comments or blanks)"}
	case n > 1:
		return nil, &NotPlannable{ReasonSeveral, fmt.Sprintf("the text holds %d statements; split it (SplitStatements) to plan them one by one", n)}
	}
	in := &Intake{}
	inner, err := unwrap(tree.Stmts[0].Stmt, in)
	if err != nil {
		return nil, err
	}
	body, bodyTree := rewritten, tree
	if inner != nil {
		bodyTree = &pg_query.ParseResult{Version: tree.Version, Stmts: []*pg_query.RawStmt{{Stmt: inner}}}
		if body, err = pg_query.Deparse(bodyTree); err != nil {
			return nil, &NotPlannable{ReasonSyntax, "the statement inside the " + in.Wrapper + " could not be read back"}
		}
	}
	norm, lits, normToks, err := normalizeWithLiterals(body, bodyTree)
	if err != nil {
		return nil, err
	}
	in.Literals = lits
	if normToks != nil {
		// Values became $n: typed literals (date '2024-01-31') are now `date $n`.
		in.Text = rewriteTokens(norm, normToks)
		in.Params = maxParamToken(norm, normToks)
	} else {
		in.Text = norm
		in.Params = maxParam(bodyTree.Stmts[0].Stmt)
	}
	in.Text = stripComments(in.Text)
	switch {
	case inner != nil || rewritten == text:
		in.Display = OneLine(stripComments(norm))
	default:
		in.Display = OneLine(stripComments(text)) // already normalised: `date $1` as written
	}
	for len(in.Literals) < in.Params {
		in.Literals = append(in.Literals, nil)
	}
	return in, nil
}

// mayHaveTypedParams: only texts with a $n can hold `type $n` or `extract($n from`.
func mayHaveTypedParams(text string) bool { return strings.IndexByte(text, '$') >= 0 }

// parseFailure says why a text does not parse, without quoting it. A text that ends
// where the grammar expects more was cut: pg_stat_activity and some log pipelines cut
// statements at track_activity_query_size (1024 bytes by default).
func parseFailure(text string, err error) error {
	var pe *parser.Error
	if errors.As(err, &pe) && pe.Cursorpos >= len(strings.TrimRight(text, " \t\n;")) || unterminated(err) {
		n := len(text)
		if n >= 1000 && (isPow2(n+1) || isPow2(n)) {
			return &NotPlannable{ReasonTruncated, fmt.Sprintf("the text stops after %d bytes, mid-statement: it was cut at track_activity_query_size; raise it (and restart) to see whole statements", n)}
		}
		return &NotPlannable{ReasonTruncated, fmt.Sprintf("the text ends mid-statement after %d bytes: it was cut short before it reached pgmedic", n)}
	}
	return &NotPlannable{ReasonSyntax, "it does not parse: " + RedactNear(err.Error())}
}

func unterminated(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unterminated ") // quoted string, comment, dollar-quoted string
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// unwrap finds the plannable statement inside a top-level one: nil when the statement
// itself is plannable, an error when there is none.
func unwrap(n *pg_query.Node, in *Intake) (*pg_query.Node, error) {
	switch {
	case n.GetSelectStmt() != nil:
		if n.GetSelectStmt().IntoClause != nil {
			in.Wrapper = "SELECT INTO"
			sel := *n.GetSelectStmt()
			sel.IntoClause = nil
			return &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &sel}}, nil
		}
		return nil, nil
	case n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil, n.GetMergeStmt() != nil:
		return nil, nil
	case n.GetPrepareStmt() != nil:
		ps := n.GetPrepareStmt()
		in.Wrapper = "PREPARE"
		for _, a := range ps.Argtypes {
			in.Declared = append(in.Declared, typeNameSQL(a.GetTypeName()))
		}
		return ps.Query, nil
	case n.GetExplainStmt() != nil:
		in.Wrapper = "EXPLAIN"
		return unwrapInner(n.GetExplainStmt().Query, in)
	case n.GetDeclareCursorStmt() != nil:
		in.Wrapper = "DECLARE CURSOR"
		return n.GetDeclareCursorStmt().Query, nil
	case n.GetCreateTableAsStmt() != nil:
		in.Wrapper = "CREATE TABLE AS"
		return unwrapInner(n.GetCreateTableAsStmt().Query, in)
	case n.GetCopyStmt() != nil:
		if q := n.GetCopyStmt().Query; q != nil {
			in.Wrapper = "COPY"
			return q, nil
		}
		return nil, &NotPlannable{ReasonCopy, "COPY of a whole table moves rows without a plan; only COPY (query) TO has one"}
	case n.GetDoStmt() != nil:
		return nil, &NotPlannable{ReasonProcedural, "a DO block is procedural code with no plan of its own; the statements it runs are tracked on their own with pg_stat_statements.track = all"}
	case n.GetCallStmt() != nil:
		return nil, &NotPlannable{ReasonCall, "CALL runs a procedure, which has no plan of its own; the statements inside are tracked on their own with pg_stat_statements.track = all"}
	case n.GetExecuteStmt() != nil:
		return nil, &NotPlannable{ReasonExecute, "EXECUTE runs a statement prepared earlier by name; its text is in the PREPARE, which is analysed as itself"}
	case n.GetFetchStmt() != nil || n.GetClosePortalStmt() != nil:
		return nil, &NotPlannable{ReasonCursor, "FETCH, MOVE and CLOSE read an open cursor; the cursor's query is planned at its DECLARE"}
	}
	return nil, &NotPlannable{ReasonUtility, "a utility statement (" + utilityName(n) + ") has no query plan"}
}

// unwrapInner unwraps a statement that may itself need unwrapping (EXPLAIN of a
// CREATE TABLE AS ...), keeping the outermost wrapper's name.
func unwrapInner(q *pg_query.Node, in *Intake) (*pg_query.Node, error) {
	if q == nil {
		return nil, &NotPlannable{ReasonUtility, "the " + in.Wrapper + " has no statement inside"}
	}
	outer := in.Wrapper
	inner, err := unwrap(q, in)
	in.Wrapper = outer
	if err != nil {
		return nil, err
	}
	if inner == nil {
		return q, nil
	}
	return inner, nil
}

func utilityName(n *pg_query.Node) string {
	name := string(n.ProtoReflect().WhichOneof(n.ProtoReflect().Descriptor().Oneofs().Get(0)).Name())
	return strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(name, "_stmt"), "stmt"))
}

func typeNameSQL(tn *pg_query.TypeName) string {
	if tn == nil {
		return ""
	}
	var parts []string
	for _, n := range tn.Names {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	name := strings.Join(parts, ".")
	if len(tn.ArrayBounds) > 0 {
		name += "[]"
	}
	return name
}

// stripComments removes SQL comments (sqlcommenter tags, ORM markers): they can carry
// request data and do not change the plan.
func stripComments(text string) string {
	if !strings.Contains(text, "--") && !strings.Contains(text, "/*") {
		return strings.TrimSpace(text)
	}
	res, err := pg_query.Scan(text)
	if err != nil {
		return text
	}
	var edits []edit
	for _, t := range res.Tokens {
		if commentToks[t.Token] {
			edits = append(edits, edit{int(t.Start), int(t.End), " "})
		}
	}
	return strings.TrimSpace(applyEdits(text, edits))
}

// normalizeWithLiterals replaces constants with $n (as pg_stat_statements does) and
// returns, for each new parameter, the constant it replaced. The two token streams
// are aligned: a parameter of the normalised text faces the constant it stands for.
func normalizeWithLiterals(text string, tree *pg_query.ParseResult) (string, []*Literal, []*pg_query.ScanToken, error) {
	norm, err := pg_query.Normalize(text)
	if err != nil {
		return "", nil, nil, &NotPlannable{ReasonSyntax, "its values could not be separated from it: " + RedactNear(err.Error())}
	}
	if norm == text {
		return text, nil, nil, nil
	}
	a, errA := scanTokens(text)
	b, errB := scanTokens(norm)
	if errA != nil || errB != nil {
		return "", nil, nil, &NotPlannable{ReasonSyntax, "its values could not be separated from it"}
	}
	consts := constsByLocation(tree)
	var lits []*Literal
	i := 0
	for _, tb := range b {
		if i >= len(a) {
			return "", nil, nil, &NotPlannable{ReasonSyntax, "its values could not be separated from it"}
		}
		ta := a[i]
		if tb.Token != tokParam || ta.Token == tokParam && text[ta.Start:ta.End] == norm[tb.Start:tb.End] {
			i++
			continue
		}
		n, _ := strconv.Atoi(norm[tb.Start+1 : tb.End])
		lit := consts[int(ta.Start)]
		if ta.Token == pg_query.Token_ASCII_45 && i+1 < len(a) { // a negative number: "-" and the digits
			i++
		}
		i++
		if lit == nil {
			lit = &Literal{Kind: "unknown"}
		}
		for len(lits) < n {
			lits = append(lits, nil)
		}
		if n >= 1 {
			lits[n-1] = lit
		}
	}
	return norm, lits, b, nil
}

// constsByLocation maps each constant of a parsed statement to where it starts.
func constsByLocation(tree *pg_query.ParseResult) map[int]*Literal {
	out := map[int]*Literal{}
	for _, s := range tree.Stmts {
		walkNodes(s.ProtoReflect(), func(m protoreflect.Message) bool {
			switch v := m.Interface().(type) {
			case *pg_query.A_Const:
				if _, seen := out[int(v.Location)]; !seen {
					out[int(v.Location)] = &Literal{Kind: constKind(v), value: constText(v)}
				}
			case *pg_query.TypeCast:
				if c := v.Arg.GetAConst(); c != nil && v.TypeName != nil && v.TypeName.Location >= 0 && v.TypeName.Location < c.Location {
					// date '2024-01-31': the type comes first.
					out[int(c.Location)] = &Literal{Kind: constKind(c), value: constText(c), Typed: typeNameSQL(v.TypeName)}
				}
			}
			return true
		})
	}
	return out
}
