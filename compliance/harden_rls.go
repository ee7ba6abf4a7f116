package compliance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmedic/pgmedic/change"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// Policy names pgmedic creates.
const (
	policyProvider = "pgmedic_provider"
	policyAdmin    = "pgmedic_admin"
	policyAppend   = "pgmedic_append"
)

// providerValue is the current provider, read once per statement: the (SELECT ...)
// wrapper makes it an InitPlan instead of a per-row function call.
func providerValue(typ string) string {
	return fmt.Sprintf("(SELECT NULLIF(pg_catalog.current_setting(%s, true), ''))::%s", ident.Literal(ProviderSetting), typ)
}

// rowPath is how a table's rows reach a provider: the policy expression and the index it
// needs, if any.
type rowPath struct {
	using string
	why   string
	index *indexNeed
}

type indexNeed struct {
	schema, table string
	cols          []string
}

// providerColumn is the table's own column naming the provider: provider_id, or a
// column whose foreign key points at a provider table.
func providerColumn(t *phiTable, roles map[string]healthcare.Role) string {
	if _, ok := t.columns["provider_id"]; ok {
		return "provider_id"
	}
	for _, col := range sortedKeys(t.fks) {
		fk := t.fks[col]
		if roles[fk.schema+"."+fk.table] == healthcare.Provider {
			return col
		}
	}
	return ""
}

// pathOf finds how a PHI table's rows belong to a provider: its own provider column; for
// a patient table, a linking table (appointments, encounters, claims) that names both;
// or a parent row that has a provider column.
func pathOf(t *phiTable, tables []*phiTable, byName map[string]*phiTable, roles map[string]healthcare.Role) (rowPath, bool) {
	if c := providerColumn(t, roles); c != "" {
		p := rowPath{using: ident.Quote(c) + " = " + providerValue(t.columns[c]), why: "its own " + c}
		if !t.leading[c] {
			p.index = &indexNeed{t.schema, t.name, []string{c}}
		}
		return p, true
	}
	if t.role == healthcare.Patient && len(t.pk) == 1 {
		for _, want := range []healthcare.Role{healthcare.Appointment, healthcare.Encounter, healthcare.Claim} {
			for _, l := range tables {
				if l.role != want {
					continue
				}
				pc := providerColumn(l, roles)
				for _, col := range sortedKeys(l.fks) {
					fk := l.fks[col]
					if pc != "" && fk.schema == t.schema && fk.table == t.name && fk.column == t.pk[0] {
						return rowPath{
							using: fmt.Sprintf("EXISTS (SELECT 1 FROM %s l WHERE l.%s = %s.%s AND l.%s = %s)", ident.Quote(l.schema, l.name),
								ident.Quote(col), ident.Quote(t.name), ident.Quote(t.pk[0]), ident.Quote(pc), providerValue(l.columns[pc])),
							why:   "the provider of its " + l.name,
							index: &indexNeed{l.schema, l.name, []string{pc, col}}}, true
					}
				}
			}
		}
	}
	for _, col := range sortedKeys(t.fks) {
		fk := t.fks[col]
		parent := byName[fk.schema+"."+fk.table]
		if parent == nil {
			continue
		}
		if pc := providerColumn(parent, roles); pc != "" {
			return rowPath{
				using: fmt.Sprintf("EXISTS (SELECT 1 FROM %s p WHERE p.%s = %s.%s AND p.%s = %s)", ident.Quote(parent.schema, parent.name),
					ident.Quote(fk.column), ident.Quote(t.name), ident.Quote(col), ident.Quote(pc), providerValue(parent.columns[pc])),
				why: "the provider of its " + parent.name}, true
		}
	}
	return rowPath{}, false
}

func policyExists(t *phiTable, name string) string {
	return fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = %s::regclass AND polname = %s)",
		ident.Literal(ident.Quote(t.schema, t.name)), ident.Literal(name))
}

// rlsSteps: per PHI table, the index the policy needs, the provider policy (or, for an
// audit table, append-only policies), the administrators' policy, and then RLS enabled
// and forced, in that order, so there is no moment with RLS on and no policy.
func rlsSteps(tables []*phiTable) ([]finding.Step, []string) {
	byName := map[string]*phiTable{}
	roles := map[string]healthcare.Role{}
	for _, t := range tables {
		byName[t.qname()] = t
		roles[t.qname()] = t.role
	}
	var indexes []indexNeed
	var policies []finding.Step
	var notes []string
	apps := ident.Quote(RoleReadOnly) + ", " + ident.Quote(RoleReadWrite)
	for _, t := range tables {
		q := ident.Quote(t.schema, t.name)
		var steps []finding.Step
		switch p, ok := pathOf(t, tables, byName, roles); {
		case t.role == healthcare.Audit:
			steps = append(steps, policyStep(t, policyAppend, "FOR INSERT TO "+apps+" WITH CHECK (true)",
				"let the application roles append to "+t.qname()+", never read or change it"))
		case t.role == healthcare.User:
			notes = append(notes, fmt.Sprintf("%s: an accounts table is read across providers to log users in, so no provider policy was planned; restrict it by hand if the application allows", t.qname()))
			continue
		case ok:
			if p.index != nil {
				indexes = append(indexes, *p.index)
			}
			steps = append(steps, policyStep(t, policyProvider, fmt.Sprintf("FOR ALL TO %s USING (%s) WITH CHECK (%s)", apps, p.using, p.using),
				"let a provider's session see and write only the rows of "+t.qname()+" that belong to it ("+p.why+")"))
		default:
			notes = append(notes, fmt.Sprintf("%s: no column or foreign key leads to a provider, so no provider policy was planned and row-level security stays off; write a policy for it by hand", t.qname()))
			continue
		}
		steps = append(steps, policyStep(t, policyAdmin, "FOR ALL TO "+ident.Quote(RoleAdmin)+" USING (true) WITH CHECK (true)",
			"let "+RoleAdmin+" reach every row of "+t.qname()))
		policies = append(policies, steps...)
		policies = append(policies, finding.Step{Description: "enable and force row-level security on " + t.qname(),
			SQL:  "ALTER TABLE " + q + " ENABLE ROW LEVEL SECURITY; ALTER TABLE " + q + " FORCE ROW LEVEL SECURITY",
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE (brief: catalog only)", Object: t.qname(),
			Check: "SELECT relrowsecurity AND relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = " + ident.Literal(q) + "::regclass",
			Undo:  "ALTER TABLE " + q + " NO FORCE ROW LEVEL SECURITY; ALTER TABLE " + q + " DISABLE ROW LEVEL SECURITY"})
	}
	out := indexSteps(indexes)
	out = append(out, policies...)
	if len(policies) > 0 {
		notes = append(notes, "row-level security: the application connects as a member of "+RoleReadOnly+" or "+RoleReadWrite+
			" and runs SET LOCAL "+ProviderSetting+" = <provider id> in each transaction; table owners that are not superusers are held to the policies too (FORCE)")
	}
	return out, notes
}

// indexSteps builds the indexes the policies need, first and concurrently; a need that
// is the leading part of another on the same table is served by that one.
func indexSteps(needs []indexNeed) []finding.Step {
	var out []finding.Step
	for i, n := range needs {
		covered := false
		for j, m := range needs {
			if i != j && m.schema == n.schema && m.table == n.table && len(m.cols) >= len(n.cols) &&
				strings.Join(m.cols[:len(n.cols)], ",") == strings.Join(n.cols, ",") && (len(m.cols) > len(n.cols) || j < i) {
				covered = true
			}
		}
		if covered {
			continue
		}
		name := ident.IndexName(n.table, n.cols, "rls")
		cols := make([]string, len(n.cols))
		for k, c := range n.cols {
			cols[k] = ident.Quote(c)
		}
		out = append(out, change.BuildIndexStep(n.schema, name,
			fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)", ident.Quote(name), ident.Quote(n.schema, n.table), strings.Join(cols, ", ")),
			fmt.Sprintf("index %s.%s (%s) for the provider policies", n.schema, n.table, strings.Join(n.cols, ", "))))
	}
	return out
}

func policyStep(t *phiTable, name, body, description string) finding.Step {
	q := ident.Quote(t.schema, t.name)
	return finding.Step{Description: description, SQL: "CREATE POLICY " + ident.Quote(name) + " ON " + q + " " + body,
		Kind: "ddl", Lock: "ACCESS EXCLUSIVE (brief: catalog only)", Object: t.qname(), Check: policyExists(t, name),
		Undo: "DROP POLICY IF EXISTS " + ident.Quote(name) + " ON " + q}
}

func sortedKeys(m map[string]fkRef) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
