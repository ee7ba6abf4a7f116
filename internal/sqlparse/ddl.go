package sqlparse

import (
	"errors"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// IndexDDL is what a CREATE INDEX or DROP INDEX statement does, read from its parse
// tree: a file of statements to run is checked against what it says it runs.
type IndexDDL struct {
	Drop         bool
	Schema       string // of the table (CREATE) or of the index (DROP); "" when unqualified
	Table        string // CREATE only
	Name         string
	Concurrently bool
	IfExists     bool // IF NOT EXISTS for CREATE, IF EXISTS for DROP
	Unique       bool
}

// ReadIndexDDL reads exactly one CREATE INDEX or DROP INDEX (of one index).
func ReadIndexDDL(sql string) (*IndexDDL, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, &ParseError{Msg: RedactNear(err.Error())}
	}
	if len(tree.Stmts) != 1 {
		return nil, errors.New("not exactly one statement")
	}
	n := tree.Stmts[0].Stmt
	if ix := n.GetIndexStmt(); ix != nil && ix.Relation != nil {
		return &IndexDDL{Schema: ix.Relation.Schemaname, Table: ix.Relation.Relname, Name: ix.Idxname,
			Concurrently: ix.Concurrent, IfExists: ix.IfNotExists, Unique: ix.Unique}, nil
	}
	if d := n.GetDropStmt(); d != nil && d.RemoveType == pg_query.ObjectType_OBJECT_INDEX {
		if len(d.Objects) != 1 {
			return nil, errors.New("drops more than one index")
		}
		var parts []string
		for _, p := range d.Objects[0].GetList().GetItems() {
			parts = append(parts, p.GetString_().GetSval())
		}
		ddl := &IndexDDL{Drop: true, Concurrently: d.Concurrent, IfExists: d.MissingOk}
		switch len(parts) {
		case 1:
			ddl.Name = parts[0]
		case 2:
			ddl.Schema, ddl.Name = parts[0], parts[1]
		default:
			return nil, errors.New("names an index as " + strings.Join(parts, "."))
		}
		return ddl, nil
	}
	return nil, errors.New("neither CREATE INDEX nor DROP INDEX")
}
