package healthcare

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgmedic/pgmedic/config"
)

// defaultSchema stands in for an empty schema, as PostgreSQL's search_path would.
const defaultSchema = "public"

// Classifier classifies columns and tables, applying the overrides of a config.Healthcare.
// It is immutable after New and safe for concurrent use. The zero value (and a nil
// *Classifier) classifies with no overrides.
type Classifier struct {
	phiTables     []tablePattern
	patientTables []tablePattern
	notPHITables  []tablePattern
	phiColumns    []columnPattern
	notPHIColumns []columnPattern
}

// namePart is one dot-separated part of a configured name. Quoted parts ("MyTable") match
// exactly; unquoted ones match case-insensitively, since PostgreSQL folds unquoted names
// and users write them in whatever case their tools show.
type namePart struct {
	s      string
	quoted bool
}

func (p namePart) match(name string) bool {
	if p.quoted {
		return p.s == name
	}
	return strings.EqualFold(p.s, name)
}

type tablePattern struct {
	schema    namePart
	hasSchema bool
	table     namePart
}

func (p tablePattern) match(schema, table string) bool {
	return (!p.hasSchema || p.schema.match(schema)) && p.table.match(table)
}

type columnPattern struct {
	table  tablePattern
	column namePart
}

func (p columnPattern) match(schema, table, column string) bool {
	return p.table.match(schema, table) && p.column.match(column)
}

// New builds a Classifier from the healthcare section of the configuration. Entries are
// "table", "schema.table", "table.column" or "schema.table.column"; parts may be
// double-quoted. phiTables and patientTables take tables, phiColumns takes columns, and
// notPHI takes both: there "a.b" is read as table a's column b and also as table b of
// schema a, since a schema rarely shares a name with a table. Every malformed entry is
// reported, each naming its list and the entry.
func New(cfg config.Healthcare) (*Classifier, error) {
	c := &Classifier{}
	var errs []error
	bad := func(list, entry, msg string) {
		errs = append(errs, fmt.Errorf("healthcare.%s entry %q: %s", list, entry, msg))
	}
	tables := func(list string, entries []string) []tablePattern {
		var out []tablePattern
		for _, e := range entries {
			parts, err := splitName(e)
			if err != nil {
				bad(list, e, err.Error())
				continue
			}
			switch len(parts) {
			case 1:
				out = append(out, tablePattern{table: parts[0]})
			case 2:
				out = append(out, tablePattern{schema: parts[0], hasSchema: true, table: parts[1]})
			default:
				bad(list, e, "want table or schema.table")
			}
		}
		return out
	}
	c.phiTables = tables("phiTables", cfg.PHITables)
	c.patientTables = tables("patientTables", cfg.PatientTables)
	for _, e := range cfg.PHIColumns {
		parts, err := splitName(e)
		if err != nil {
			bad("phiColumns", e, err.Error())
			continue
		}
		switch len(parts) {
		case 2:
			c.phiColumns = append(c.phiColumns, columnPattern{tablePattern{table: parts[0]}, parts[1]})
		case 3:
			c.phiColumns = append(c.phiColumns, columnPattern{tablePattern{parts[0], true, parts[1]}, parts[2]})
		default:
			bad("phiColumns", e, "want table.column or schema.table.column")
		}
	}
	for _, e := range cfg.NotPHI {
		parts, err := splitName(e)
		if err != nil {
			bad("notPHI", e, err.Error())
			continue
		}
		switch len(parts) {
		case 1:
			c.notPHITables = append(c.notPHITables, tablePattern{table: parts[0]})
		case 2:
			c.notPHITables = append(c.notPHITables, tablePattern{parts[0], true, parts[1]})
			c.notPHIColumns = append(c.notPHIColumns, columnPattern{tablePattern{table: parts[0]}, parts[1]})
		case 3:
			c.notPHIColumns = append(c.notPHIColumns, columnPattern{tablePattern{parts[0], true, parts[1]}, parts[2]})
		default:
			bad("notPHI", e, "want table, schema.table, table.column or schema.table.column")
		}
	}
	if len(errs) > 0 {
		return nil, &ConfigError{Err: errors.Join(errs...)}
	}
	return c, nil
}

// splitName splits a possibly quoted, dot-separated name. Inside double quotes a dot is
// part of the name and "" is a literal quote, as in SQL.
func splitName(s string) ([]namePart, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty name")
	}
	var parts []namePart
	var cur strings.Builder
	quoted, inQuote, started := false, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inQuote && ch == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuote && ch == '"':
			inQuote = false
		case inQuote:
			cur.WriteByte(ch)
		case ch == '"':
			if started {
				return nil, errors.New("a quote may only start a part")
			}
			inQuote, quoted, started = true, true, true
		case ch == '.':
			if cur.Len() == 0 {
				return nil, errors.New("empty part")
			}
			parts = append(parts, namePart{cur.String(), quoted})
			cur.Reset()
			quoted, started = false, false
		default:
			if quoted {
				return nil, errors.New("text after a closing quote")
			}
			if ch == ' ' || ch == '\t' {
				return nil, errors.New("white space inside an unquoted name")
			}
			cur.WriteByte(ch)
			started = true
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quote")
	}
	if cur.Len() == 0 {
		return nil, errors.New("empty part")
	}
	return append(parts, namePart{cur.String(), quoted}), nil
}

// splitTable turns "schema.table" or "table" (as given to Column or in References) into
// its parts; an unqualified name gets def as its schema.
func splitTable(name, def string) (schema, table string) {
	if parts, err := splitName(name); err == nil && len(parts) == 2 {
		return parts[0].s, parts[1].s
	} else if err == nil && len(parts) == 1 {
		return def, parts[0].s
	}
	return def, name
}

func anyTable(ps []tablePattern, schema, table string) bool {
	for _, p := range ps {
		if p.match(schema, table) {
			return true
		}
	}
	return false
}

func anyColumn(ps []columnPattern, schema, table, column string) bool {
	for _, p := range ps {
		if p.match(schema, table, column) {
			return true
		}
	}
	return false
}

func (c *Classifier) forcedTable(schema, table string) bool {
	return c != nil && anyTable(c.phiTables, schema, table)
}

func (c *Classifier) configuredPatient(schema, table string) bool {
	return c != nil && anyTable(c.patientTables, schema, table)
}

func (c *Classifier) excludedTable(schema, table string) bool {
	return c != nil && anyTable(c.notPHITables, schema, table)
}

func (c *Classifier) forcedColumn(schema, table, column string) bool {
	return c != nil && anyColumn(c.phiColumns, schema, table, column)
}

func (c *Classifier) excludedColumn(schema, table, column string) bool {
	return c != nil && anyColumn(c.notPHIColumns, schema, table, column)
}

// Column classifies one column of table ("table" or "schema.table"; an unqualified table is
// taken to be in public for schema-qualified overrides) by its name and SQL type. It
// returns the matches best first, or nil when the column looks like no identifier and no
// health information.
//
// Overrides: a column listed in phiColumns gets its best match raised to confidence 1, or
// OtherUniqueID at 1 when nothing was detected; a column listed in notPHI, or in a table
// listed there, gets nil. The more specific entry wins; between a column listed in both
// phiColumns and notPHI, PHI wins, since a missed PHI column costs more than a false one.
func (c *Classifier) Column(table, column, dataType string) []Match {
	schema, name := splitTable(table, defaultSchema)
	return c.column(schema, name, column, dataType)
}

func (c *Classifier) column(schema, table, column, dataType string) []Match {
	if c.forcedColumn(schema, table, column) {
		ms := classifyColumn(column, dataType)
		if len(ms) == 0 {
			return []Match{{Identifier: OtherUniqueID, Confidence: 1, Reason: "listed in healthcare.phiColumns"}}
		}
		ms[0].Confidence = 1
		ms[0].Reason += "; listed in healthcare.phiColumns"
		return ms
	}
	if c.excludedColumn(schema, table, column) || c.excludedTable(schema, table) {
		return nil
	}
	return classifyColumn(column, dataType)
}

// ConfigError is a malformed entry of the healthcare configuration section.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ForcedColumn reports whether the configuration's phiColumns lists the column.
func (c *Classifier) ForcedColumn(schema, table, column string) bool {
	return c.forcedColumn(schema, table, column)
}

// ExcludedColumn reports whether notPHI lists the column or its table (and phiColumns,
// which wins, does not list the column).
func (c *Classifier) ExcludedColumn(schema, table, column string) bool {
	return !c.forcedColumn(schema, table, column) &&
		(c.excludedColumn(schema, table, column) || c.excludedTable(schema, table))
}
