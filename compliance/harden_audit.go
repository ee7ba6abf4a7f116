package compliance

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// auditTrailSQL is the append-only trail the trigger writes, partitioned by day so
// retention drops whole days. Application roles get no privilege on it: the trigger
// function writes as its owner.
var auditTrailSQL = fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    changed_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    table_schema     text NOT NULL,
    table_name       text NOT NULL,
    operation        text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row          jsonb,
    new_row          jsonb,
    app_user         text,
    db_user          text NOT NULL DEFAULT session_user,
    client_addr      inet DEFAULT pg_catalog.inet_client_addr(),
    application_name text,
    transaction_id   bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    PRIMARY KEY (changed_at, id)
) PARTITION BY RANGE (changed_at);
REVOKE ALL ON %[1]s FROM PUBLIC`, ident.Quote(AuditSchema, AuditTrail))

// logFunctionSQL: SECURITY DEFINER with a fixed search_path, so it writes the trail for
// roles that may not touch it and cannot be hijacked by their objects.
var logFunctionSQL = fmt.Sprintf(`CREATE OR REPLACE FUNCTION %[1]s() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    INSERT INTO %[2]s (table_schema, table_name, operation, old_row, new_row, app_user, application_name)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
            current_setting(%[3]s, true), current_setting('application_name', true));
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION %[1]s() FROM PUBLIC`, ident.Quote(AuditSchema, "log_phi_change"), ident.Quote(AuditSchema, AuditTrail), ident.Literal(UserSetting))

// guardFunctionSQL refuses UPDATE and DELETE on the trail, even by its owner.
var guardFunctionSQL = fmt.Sprintf(`CREATE OR REPLACE FUNCTION %[1]s() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RAISE EXCEPTION 'the PHI audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
END
$fn$;
REVOKE ALL ON FUNCTION %[1]s() FROM PUBLIC`, ident.Quote(AuditSchema, "forbid_change"))

func functionExists(schema, name string) string {
	return fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.proname = %s)",
		ident.Literal(schema), ident.Literal(name))
}

func triggerExists(schema, table, name string) string {
	return fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s)",
		ident.Literal(ident.Quote(schema, table)), ident.Literal(name))
}

func relationExists(schema, name string) string {
	return "SELECT pg_catalog.to_regclass(" + ident.Literal(ident.Quote(schema, name)) + ") IS NOT NULL"
}

// auditSteps build the trail (schema, partitioned table, a default and daysAhead daily
// partitions), its guard, the logging function, and a trigger on every PHI table that is
// not itself an audit log.
func auditSteps(tables []*phiTable, daysAhead int) []finding.Step {
	trail := ident.Quote(AuditSchema, AuditTrail)
	out := []finding.Step{
		{Description: "create schema " + AuditSchema + " for the PHI audit trail",
			SQL:  "CREATE SCHEMA IF NOT EXISTS " + ident.Quote(AuditSchema) + "; REVOKE ALL ON SCHEMA " + ident.Quote(AuditSchema) + " FROM PUBLIC",
			Kind: "ddl", Lock: catalogOnly, Object: AuditSchema,
			Check: "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = " + ident.Literal(AuditSchema) + ")"},
		{Description: "create the audit trail " + AuditSchema + "." + AuditTrail + ", partitioned by day",
			SQL: auditTrailSQL, Kind: "ddl", Lock: "none (a new table)", Object: AuditSchema + "." + AuditTrail,
			Check: relationExists(AuditSchema, AuditTrail)},
		{Description: "create the default partition of the audit trail, so no write ever lacks a partition",
			SQL:  fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s DEFAULT", ident.Quote(AuditSchema, AuditTrail+"_default"), trail),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE on the new, empty trail", Object: AuditSchema + "." + AuditTrail + "_default",
			Check: relationExists(AuditSchema, AuditTrail+"_default")},
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for i := 0; i < daysAhead; i++ {
		from, to := day.AddDate(0, 0, i), day.AddDate(0, 0, i+1)
		name := AuditTrail + "_" + from.Format("20060102")
		out = append(out, finding.Step{Description: "create the audit trail's partition for " + from.Format("2006-01-02"),
			SQL: fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)", ident.Quote(AuditSchema, name), trail,
				ident.Literal(from.Format("2006-01-02 15:04:05+00")), ident.Literal(to.Format("2006-01-02 15:04:05+00"))),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE on the trail's default partition (brief)", Object: AuditSchema + "." + name,
			// A day whose rows already went to the default partition is left there (moving
			// them is partition maintenance's job), so a late rerun skips it rather than fail.
			Check: fmt.Sprintf("SELECT %s OR EXISTS (SELECT FROM %s WHERE changed_at >= %s AND changed_at < %s)",
				strings.TrimPrefix(relationExists(AuditSchema, name), "SELECT "), ident.Quote(AuditSchema, AuditTrail+"_default"),
				ident.Literal(from.Format("2006-01-02 15:04:05+00")), ident.Literal(to.Format("2006-01-02 15:04:05+00")))})
	}
	out = append(out,
		finding.Step{Description: "make the audit trail append-only: UPDATE and DELETE raise an error",
			SQL: guardFunctionSQL + ";\nCREATE TRIGGER pgmedic_append_only BEFORE UPDATE OR DELETE ON " + trail +
				" FOR EACH ROW EXECUTE FUNCTION " + ident.Quote(AuditSchema, "forbid_change") + "()",
			Kind: "ddl", Lock: "SHARE ROW EXCLUSIVE on the trail", Object: AuditSchema + "." + AuditTrail,
			Check: triggerExists(AuditSchema, AuditTrail, "pgmedic_append_only")},
		finding.Step{Description: "let " + RoleAdmin + " read the audit trail; no application role may write or change it",
			SQL:  fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s; GRANT SELECT ON %s TO %s", ident.Quote(AuditSchema), ident.Quote(RoleAdmin), trail, ident.Quote(RoleAdmin)),
			Kind: "ddl", Lock: catalogOnly, Object: AuditSchema + "." + AuditTrail,
			Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = %s) AND has_table_privilege(%s, %s, 'SELECT')",
				ident.Literal(RoleAdmin), ident.Literal(RoleAdmin), ident.Literal(trail))},
		finding.Step{Description: "row-level security on the audit trail: its owner (the audit function) appends, " + RoleAdmin + " reads",
			SQL: fmt.Sprintf("CREATE POLICY %[2]s ON %[1]s FOR INSERT TO CURRENT_USER WITH CHECK (true); CREATE POLICY %[3]s ON %[1]s FOR SELECT TO %[4]s USING (true); "+
				"ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY; ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY",
				trail, ident.Quote(policyAppend), ident.Quote(policyAdmin), ident.Quote(RoleAdmin)),
			Kind: "ddl", Lock: "ACCESS EXCLUSIVE on the trail (brief)", Object: AuditSchema + "." + AuditTrail,
			Check: "SELECT relrowsecurity AND relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = " + ident.Literal(trail) + "::regclass"},
		finding.Step{Description: "create the audit function (old and new rows as jsonb, the application user from " + UserSetting + ", the client address)",
			SQL: logFunctionSQL, Kind: "ddl", Lock: catalogOnly, Object: AuditSchema + ".log_phi_change",
			Check: functionExists(AuditSchema, "log_phi_change")},
	)
	for _, t := range tables {
		if t.role == healthcare.Audit {
			continue
		}
		out = append(out, finding.Step{Description: "audit every row change of " + t.qname(),
			SQL: fmt.Sprintf("CREATE TRIGGER pgmedic_audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()",
				ident.Quote(t.schema, t.name), ident.Quote(AuditSchema, "log_phi_change")),
			Kind: "ddl", Lock: "SHARE ROW EXCLUSIVE (brief)", Object: t.qname(),
			Check: triggerExists(t.schema, t.name, "pgmedic_audit"),
			Undo:  "DROP TRIGGER IF EXISTS pgmedic_audit ON " + ident.Quote(t.schema, t.name)})
	}
	return out
}
