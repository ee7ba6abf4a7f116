package compliance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// catalogOnly is the lock of statements that only change catalog rows (roles, grants).
const catalogOnly = "none on table data (catalog update)"

func roleExists(role string) string {
	return "SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = " + ident.Literal(role) + ")"
}

// roleSteps create the three application roles, NOLOGIN: logins are granted them.
func roleSteps(tables, others []*phiTable) []finding.Step {
	var out []finding.Step
	for _, r := range []struct{ name, what string }{
		{RoleReadOnly, "reads"}, {RoleReadWrite, "reads and writes, never deletes PHI"}, {RoleAdmin, "administers the application's data"},
	} {
		out = append(out, finding.Step{Description: fmt.Sprintf("create role %s (%s)", r.name, r.what),
			SQL: "CREATE ROLE " + ident.Quote(r.name) + " NOLOGIN", Kind: "ddl", Lock: catalogOnly, Object: r.name,
			Check: roleExists(r.name), Undo: "DROP ROLE IF EXISTS " + ident.Quote(r.name)})
	}
	for _, s := range schemasOf(append(append([]*phiTable(nil), tables...), others...)) {
		q := ident.Quote(s)
		out = append(out, finding.Step{Description: "let the application roles use schema " + s,
			SQL:  fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s, %s, %s", q, ident.Quote(RoleReadOnly), ident.Quote(RoleReadWrite), ident.Quote(RoleAdmin)),
			Kind: "ddl", Lock: catalogOnly, Object: s,
			Check: fmt.Sprintf("SELECT has_schema_privilege(%s, %s, 'USAGE') AND has_schema_privilege(%s, %s, 'USAGE') AND has_schema_privilege(%s, %s, 'USAGE')",
				ident.Literal(RoleReadOnly), ident.Literal(s), ident.Literal(RoleReadWrite), ident.Literal(s), ident.Literal(RoleAdmin), ident.Literal(s))})
		out = append(out, finding.Step{Description: "let the writers draw from the sequences of schema " + s,
			SQL:  fmt.Sprintf("GRANT USAGE ON ALL SEQUENCES IN SCHEMA %s TO %s, %s", q, ident.Quote(RoleReadWrite), ident.Quote(RoleAdmin)),
			Kind: "ddl", Lock: catalogOnly, Object: s,
			Check: fmt.Sprintf("SELECT coalesce(bool_and(has_sequence_privilege(%s, c.oid, 'USAGE') AND has_sequence_privilege(%s, c.oid, 'USAGE')), true) FROM pg_catalog.pg_class c WHERE c.relkind = 'S' AND c.relnamespace = %s::regnamespace",
				ident.Literal(RoleReadWrite), ident.Literal(RoleAdmin), ident.Literal(q))})
	}
	for _, t := range tables {
		out = append(out, tableGrantStep(t))
	}
	for _, t := range others {
		out = append(out, otherGrantStep(t))
	}
	return out
}

// otherGrantStep: tables without PHI (providers, schedules, code sets) are read by every
// application role and changed by the writers.
func otherGrantStep(t *phiTable) finding.Step {
	q := ident.Quote(t.schema, t.name)
	lit := ident.Literal(q)
	return finding.Step{Description: "grant " + t.qname() + " (no PHI) to the application roles",
		SQL: fmt.Sprintf("GRANT SELECT ON %[1]s TO %[2]s; GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s TO %[3]s, %[4]s",
			q, ident.Quote(RoleReadOnly), ident.Quote(RoleReadWrite), ident.Quote(RoleAdmin)),
		Kind: "ddl", Lock: catalogOnly, Object: t.qname(),
		Check: fmt.Sprintf("SELECT has_table_privilege(%s, %s, 'SELECT') AND has_table_privilege(%s, %s, 'DELETE') AND has_table_privilege(%s, %s, 'DELETE')",
			ident.Literal(RoleReadOnly), lit, ident.Literal(RoleReadWrite), lit, ident.Literal(RoleAdmin), lit)}
}

// tableGrantStep gives each role its privileges on one PHI table: SELECT; SELECT, INSERT,
// UPDATE; and those with DELETE. TRUNCATE, REFERENCES and TRIGGER go to no one.
func tableGrantStep(t *phiTable) finding.Step {
	q := ident.Quote(t.schema, t.name)
	lit := ident.Literal(q)
	has := func(role, priv string) string {
		return fmt.Sprintf("has_table_privilege(%s, %s, '%s')", ident.Literal(role), lit, priv)
	}
	if t.role == healthcare.Audit { // an audit log: appended to, read by administrators, never changed
		check := strings.Join([]string{has(RoleReadWrite, "INSERT"), has(RoleAdmin, "SELECT"), "NOT " + has(RoleReadWrite, "UPDATE"),
			"NOT " + has(RoleReadWrite, "DELETE"), "NOT " + has(RoleAdmin, "UPDATE"), "NOT " + has(RoleAdmin, "DELETE"), "NOT " + has(RoleReadOnly, "SELECT")}, " AND ")
		return finding.Step{Description: "make " + t.qname() + " append-only for the application roles",
			SQL: fmt.Sprintf("REVOKE ALL ON %[1]s FROM %[2]s, %[3]s, %[4]s; GRANT INSERT ON %[1]s TO %[3]s; GRANT SELECT ON %[1]s TO %[4]s",
				q, ident.Quote(RoleReadOnly), ident.Quote(RoleReadWrite), ident.Quote(RoleAdmin)),
			Kind: "ddl", Lock: catalogOnly, Object: t.qname(), Check: "SELECT " + check}
	}
	check := strings.Join([]string{has(RoleReadOnly, "SELECT"), has(RoleReadWrite, "UPDATE"), has(RoleAdmin, "DELETE"),
		"NOT " + has(RoleReadWrite, "DELETE"), "NOT " + has(RoleReadOnly, "INSERT")}, " AND ")
	return finding.Step{Description: "grant least privilege on " + t.qname() + " to the application roles",
		SQL: fmt.Sprintf("GRANT SELECT ON %[1]s TO %[2]s; GRANT SELECT, INSERT, UPDATE ON %[1]s TO %[3]s; "+
			"GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s TO %[4]s; REVOKE DELETE, TRUNCATE ON %[1]s FROM %[3]s; "+
			"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %[1]s FROM %[2]s",
			q, ident.Quote(RoleReadOnly), ident.Quote(RoleReadWrite), ident.Quote(RoleAdmin)),
		Kind: "ddl", Lock: catalogOnly, Object: t.qname(), Check: "SELECT " + check}
}

// grantSteps take PHI away from PUBLIC, and CREATE on the public schema.
func grantSteps(tables []*phiTable, facts *Facts) []finding.Step {
	var out []finding.Step
	for _, t := range tables {
		q := ident.Quote(t.schema, t.name)
		out = append(out, finding.Step{Description: "revoke every privilege on " + t.qname() + " from PUBLIC",
			SQL: "REVOKE ALL ON " + q + " FROM PUBLIC", Kind: "ddl", Lock: catalogOnly, Object: t.qname(),
			Check: "SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_class c, aclexplode(c.relacl) a WHERE c.oid = " +
				ident.Literal(q) + "::regclass AND a.grantee = 0)"})
	}
	if facts != nil && facts.PublicCreateOnPublicSchema {
		out = append(out, finding.Step{Description: "revoke CREATE on schema public from PUBLIC",
			SQL: "REVOKE CREATE ON SCHEMA public FROM PUBLIC", Kind: "ddl", Lock: catalogOnly, Object: "public",
			Check: "SELECT NOT has_schema_privilege('public', 'public', 'CREATE')"})
	}
	return out
}

func schemasOf(tables []*phiTable) []string {
	set := map[string]bool{}
	for _, t := range tables {
		set[t.schema] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
