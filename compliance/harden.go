package compliance

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Role names the hardening plan creates (seed 003's least-privilege roles) and the
// auditor role pgaudit's object auditing uses.
const (
	RoleReadOnly  = "app_readonly"
	RoleReadWrite = "app_readwrite"
	RoleAdmin     = "app_admin"
	RoleAuditor   = "pgmedic_auditor"
	// AuditSchema holds the audit trail the trigger writes.
	AuditSchema = "audit"
	AuditTrail  = "phi_changes"
	// ProviderSetting is the session setting the provider policy reads; the application
	// sets it per transaction (SET LOCAL app.current_provider_id = ...).
	ProviderSetting = "app.current_provider_id"
	// UserSetting names the application user an audit row records.
	UserSetting = "app.current_user_id"
)

// HardenOptions choose what the hardening plan covers.
type HardenOptions struct {
	// Skip names parts to leave out: roles, grants, rls, audit, pgaudit, settings.
	Skip []string
	// AuditDaysAhead is how many daily audit partitions to create ahead (0: 7).
	AuditDaysAhead int
}

func (o HardenOptions) skip(part string) bool {
	for _, s := range o.Skip {
		if s == part {
			return true
		}
	}
	return false
}

// HardenParts lists the parts of the hardening plan, in order.
func HardenParts() []string {
	return []string{"roles", "grants", "rls", "audit", "pgaudit", "settings"}
}

// phiTable is what hardening needs to know about one PHI table.
type phiTable struct {
	schema, name string
	role         healthcare.Role
	columns      map[string]string // name -> type
	pk           []string
	fks          map[string]fkRef // single-column foreign keys by column
	leading      map[string]bool  // columns that lead an index
}

type fkRef struct{ schema, table, column string }

func (t *phiTable) qname() string { return t.schema + "." + t.name }

// HardenPlan builds the plan that closes what the audit found: least-privilege roles,
// no PUBLIC access to PHI, row-level security by provider, an append-only audit trail,
// pgaudit and the logging, logoff and durability settings. Every step checks whether its
// effect is already in place, so a second run changes nothing.
func HardenPlan(ctx context.Context, conn *pgx.Conn, disc *Discovery, facts *Facts, opts HardenOptions) (*finding.Plan, []string, error) {
	if opts.AuditDaysAhead <= 0 {
		opts.AuditDaysAhead = 7
	}
	tables, err := readPHITables(ctx, conn, disc)
	if err != nil {
		return nil, nil, err
	}
	plan := &finding.Plan{Summary: fmt.Sprintf("HIPAA hardening of %d PHI tables", len(tables))}
	var notes []string
	add := func(steps []finding.Step, n []string) {
		plan.Steps = append(plan.Steps, steps...)
		notes = append(notes, n...)
	}
	if !opts.skip("roles") {
		add(roleSteps(tables, otherTables(disc)), nil)
	}
	if !opts.skip("grants") {
		add(grantSteps(tables, facts), nil)
	}
	if !opts.skip("rls") {
		add(rlsSteps(tables))
	}
	if !opts.skip("audit") {
		add(auditSteps(tables, opts.AuditDaysAhead), nil)
	}
	if !opts.skip("pgaudit") {
		add(pgauditSteps(tables, facts))
	}
	if !opts.skip("settings") {
		add(settingSteps(facts), nil)
	}
	return plan, notes, nil
}

const phiTableColumns = `
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       coalesce(a.attnum = ANY ((SELECT i.indkey FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::int2[]), false),
       (SELECT ARRAY[fn.nspname::text, fc.relname::text, fa.attname::text]
          FROM pg_constraint k JOIN pg_class fc ON fc.oid = k.confrelid
          JOIN pg_namespace fn ON fn.oid = fc.relnamespace
          JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]
         WHERE k.contype = 'f' AND k.conrelid = c.oid AND cardinality(k.conkey) = 1 AND k.conkey[1] = a.attnum LIMIT 1),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname || '.' || c.relname = ANY($1)
ORDER BY n.nspname, c.relname, a.attnum`

func readPHITables(ctx context.Context, conn *pgx.Conn, disc *Discovery) ([]*phiTable, error) {
	roles := map[string]healthcare.Role{}
	for _, t := range disc.Tables {
		roles[t.Schema+"."+t.Name] = healthcare.Role(t.Role)
	}
	var names []string
	for _, n := range disc.PHITables() {
		if !strings.HasPrefix(n, AuditSchema+".") { // pgmedic's own trail is handled apart
			names = append(names, n)
		}
	}
	rows, err := conn.Query(ctx, policy.Marker+phiTableColumns, names)
	if err != nil {
		return nil, fmt.Errorf("read PHI tables: %w", err)
	}
	defer rows.Close()
	byName := map[string]*phiTable{}
	var out []*phiTable
	for rows.Next() {
		var schema, table, col, typ string
		var pk, lead bool
		var ref []string
		if err := rows.Scan(&schema, &table, &col, &typ, &pk, &ref, &lead); err != nil {
			return nil, fmt.Errorf("read PHI tables: %w", err)
		}
		t := byName[schema+"."+table]
		if t == nil {
			t = &phiTable{schema: schema, name: table, role: roles[schema+"."+table], columns: map[string]string{},
				fks: map[string]fkRef{}, leading: map[string]bool{}}
			byName[schema+"."+table] = t
			out = append(out, t)
		}
		t.columns[col] = typ
		if pk {
			t.pk = append(t.pk, col)
		}
		if lead {
			t.leading[col] = true
		}
		if len(ref) == 3 {
			t.fks[col] = fkRef{ref[0], ref[1], ref[2]}
		}
	}
	return out, rows.Err()
}

// otherTables are the user tables that hold no PHI: the application roles need them too.
func otherTables(disc *Discovery) []*phiTable {
	phi := map[string]bool{}
	for _, n := range disc.PHITables() {
		phi[n] = true
	}
	var out []*phiTable
	for _, t := range disc.Tables {
		if !phi[t.Schema+"."+t.Name] && t.Schema != AuditSchema {
			out = append(out, &phiTable{schema: t.Schema, name: t.Name, role: healthcare.Role(t.Role)})
		}
	}
	return out
}
