package partition

import (
	"fmt"
	"slices"
	"strings"
)

var kinds = map[string]string{"p": "a partitioned table already", "v": "a view", "m": "a materialized view",
	"f": "a foreign table", "S": "a sequence", "i": "an index"}

// preflight lists what the conversion has to deal with, and what stops it.
func preflight(t *Table, col Column, o Options) []Preflight {
	var out []Preflight
	block := func(code, object, detail, hint string) {
		out = append(out, Preflight{Code: code, Blocks: true, Object: object, Detail: detail, Handling: hint})
	}
	note := func(code, object, detail, handling string) {
		out = append(out, Preflight{Code: code, Object: object, Detail: detail, Handling: handling})
	}
	q := t.Quoted()
	if k, ok := kinds[t.Kind]; ok {
		block("not_a_table", q, q+" is "+k+", not an ordinary table", "")
		return out
	}
	if t.Inherits {
		block("inheritance", q, q+" takes part in table inheritance or is a partition", "convert the inheritance tree by hand")
	}
	switch {
	case t.PK == nil:
		block("no_primary_key", q, q+" has no primary key: the copy walks it and the replay finds rows by it", "add a primary key first")
	case len(t.PK.Columns) != 1:
		block("composite_primary_key", q, fmt.Sprintf("%s has a primary key of %d columns; this version converts tables with a one-column key", q, len(t.PK.Columns)), "")
	case t.PK.Columns[0] == col.Name:
		block("key_is_primary_key", q, "the partition key is the primary key itself", "partition by a date or patient column, or by hash of the key")
	default:
		note("primary_key", q, fmt.Sprintf("the primary key (%s) becomes (%s, %s): a partitioned table's unique keys must hold the partition key, and uniqueness is enforced per partition",
			t.PK.Columns[0], t.PK.Columns[0], col.Name), "the key's values keep coming from its sequence, so they stay unique; the verification compares keys both ways")
	}
	if col.Generated {
		block("generated_key", q, "the partition key "+col.Name+" is a generated column", "")
	}
	if o.Strategy == "range" && !rangeKeyType(col.Type) {
		block("key_type", q, fmt.Sprintf("range partitions by %s need a date or timestamp column; %s is %s", o.Interval, col.Name, col.Type), "use --strategy hash or list")
	}
	if !col.NotNull {
		note("nullable_key", q, col.Name+" allows NULL; the new primary key makes it NOT NULL", "rows with NULL stop the plan (counted below); an insert of NULL during the copy stops the migration, not the writer")
	}
	for _, fk := range t.FKsIn {
		block("foreign_key_in", fk.Table, fmt.Sprintf("foreign key %s on %s references this table; a key referenced from outside must include the partition key %s", fk.Name, fk.Table, col.Name),
			fmt.Sprintf("add %s to %s and make the foreign key reference (%s, %s), or drop it; then plan again", col.Name, fk.Table, strings.Join(keyCols(t), ", "), col.Name))
	}
	for _, fk := range t.FKsOut {
		note("foreign_key_out", q, "foreign key "+fk.Name+" ("+fk.Def+")", "added to the new table after the copy, checked in one pass (writes to the referenced table wait for that pass)")
	}
	for _, v := range t.Views {
		name := v.Schema + "." + v.Name
		if v.Kind == "m" {
			block("materialized_view", name, "materialized view "+name+" reads the table and would keep reading the old one", "drop it and create it again after the conversion")
			continue
		}
		note("view", name, "view "+name+" reads the table", "recreated at the cut-over (views bind to the table, not its name)")
	}
	if t.Rules > 0 {
		block("rules", q, fmt.Sprintf("%d rule(s) on the table", t.Rules), "drop the rules first")
	}
	for _, tr := range t.Triggers {
		note("trigger", q, "trigger "+tr.Name, "created on the new table at the cut-over and disabled on the old one (enabled again by a rollback)")
	}
	if len(t.Grants) > 0 {
		note("grants", q, fmt.Sprintf("%d privilege grant(s)", len(t.Grants)), "granted on the new table at the cut-over")
	}
	if t.ColGrants > 0 {
		block("column_grants", q, fmt.Sprintf("%d column(s) carry column-level grants, which this version does not carry over", t.ColGrants), "revoke them, convert, grant them again")
	}
	if t.RLS || len(t.Policies) > 0 {
		note("row_security", q, fmt.Sprintf("row-level security (enabled %t, forced %t, %d policies)", t.RLS, t.ForceRLS, len(t.Policies)), "policies and the RLS switches are recreated at the cut-over")
	}
	for _, p := range t.Pubs {
		block("publication", q, "the table is in publication "+p+"; moving publication membership is not in this version", "remove it from the publication, convert, add it back")
	}
	return append(out, sequencesAndUniques(t, col)...)
}

// sequencesAndUniques notes identity and owned sequences, and the unique keys that
// widen by the partition key (or stop the conversion when they cannot).
func sequencesAndUniques(t *Table, col Column) []Preflight {
	var out []Preflight
	q := t.Quoted()
	block := func(code, object, detail, hint string) {
		out = append(out, Preflight{Code: code, Blocks: true, Object: object, Detail: detail, Handling: hint})
	}
	note := func(code, object, detail, handling string) {
		out = append(out, Preflight{Code: code, Object: object, Detail: detail, Handling: handling})
	}
	for _, c := range t.Columns {
		switch {
		case c.Identity != "":
			note("identity", q, "identity column "+c.Name+" (GENERATED "+c.Identity+")", "the new table gets its own identity; at the cut-over it continues from the old one's value")
		case c.Sequence != "":
			note("sequence", q, "column "+c.Name+" takes its values from "+c.Sequence, "the sequence keeps feeding the column; its ownership moves to the new table at the cut-over")
		}
	}
	for _, ix := range t.Indexes {
		if ix.Primary || !ix.Unique {
			continue
		}
		if ix.Partial || slices.Contains(ix.Columns, "") {
			if !slices.Contains(ix.Columns, col.Name) {
				block("unique_expression", ix.Name, "unique index "+ix.Name+" has expressions or a predicate and does not hold "+col.Name, "drop it or add the partition key to it first")
			}
			continue
		}
		note("unique", ix.Name, fmt.Sprintf("unique (%s) becomes unique (%s)", strings.Join(ix.Columns, ", "), strings.Join(withKey(ix.Columns, col.Name), ", ")),
			"two rows with the same values and a different "+col.Name+" are then allowed")
	}
	return out
}

func keyCols(t *Table) []string {
	if t.PK == nil {
		return nil
	}
	return t.PK.Columns
}
