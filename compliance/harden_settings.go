package compliance

import (
	"fmt"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// setting is one ALTER SYSTEM the hardening may plan, with what makes it due.
type setting struct {
	name, value string
	due         func(*Facts) bool
	why         string
}

func settingDue(name string, bad ...string) func(*Facts) bool {
	return func(f *Facts) bool {
		v, ok := f.setting(name)
		if !ok {
			return true
		}
		for _, b := range bad {
			if v == b {
				return true
			}
		}
		return false
	}
}

func hardenedSettings() []setting {
	return []setting{
		{"log_connections", "on", settingDue("log_connections", "off", ""), "log every login (164.312(b))"},
		{"log_disconnections", "on", settingDue("log_disconnections", "off"), "log every logout with the session's length"},
		{"log_line_prefix", "%m [%p] %q%u@%d %a %h ", func(f *Facts) bool {
			p := f.Settings["log_line_prefix"]
			return !(containsAny(p, []string{"%m", "%t", "%n"}) && containsAny(p, []string{"%p", "%c"}) &&
				strings.Contains(p, "%u") && strings.Contains(p, "%d") && containsAny(p, []string{"%h", "%r"}))
		}, "name who, from where and when on every log line"},
		{"idle_session_timeout", "15min", settingDue("idle_session_timeout", "0"), "log idle sessions off (164.312(a)(2)(iii))"},
		{"idle_in_transaction_session_timeout", "5min", settingDue("idle_in_transaction_session_timeout", "0"), "end sessions idle inside a transaction"},
		{"password_encryption", "scram-sha-256", settingDue("password_encryption", "md5"), "hash new passwords with SCRAM"},
		{"ssl_min_protocol_version", "TLSv1.2", settingDue("ssl_min_protocol_version", "TLSv1", "TLSv1.1"), "refuse TLS below 1.2"},
		{"fsync", "on", settingDue("fsync", "off"), "make commits durable"},
		{"full_page_writes", "on", settingDue("full_page_writes", "off"), "survive torn pages after a crash"},
		{"log_statement", "ddl", settingDue("log_statement", "all", "mod"), "keep statement values (PHI) out of the server log"},
	}
}

// alterSystemStep sets one server setting; it is done when postgresql.auto.conf already
// holds the value.
func alterSystemStep(name, value, why string) finding.Step {
	return finding.Step{Description: fmt.Sprintf("set %s = '%s' (%s)", name, value, why),
		SQL:  fmt.Sprintf("ALTER SYSTEM SET %s = %s", ident.Quote(name), ident.Literal(value)),
		Kind: "setting", NoTransaction: true, Lock: "none", Object: name,
		Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_catalog.pg_file_settings WHERE name = %s AND setting = %s AND sourcefile LIKE '%%postgresql.auto.conf')",
			ident.Literal(name), ident.Literal(value)),
		Undo: "ALTER SYSTEM RESET " + ident.Quote(name)}
}

// ReloadStep makes the settings take effect; it is done when the configuration was
// loaded after postgresql.auto.conf last changed.
func ReloadStep() finding.Step {
	return finding.Step{Description: "reload the configuration so the settings above take effect",
		SQL: "SELECT pg_catalog.pg_reload_conf()", Kind: "setting", NoTransaction: true, Lock: "none", Object: "configuration",
		Check: "SELECT (pg_catalog.pg_stat_file('postgresql.auto.conf')).modification <= pg_catalog.pg_conf_load_time()",
		// The reload is asynchronous: sessions pick it up at their next statement.
		Verify: "SELECT true"}
}

func settingSteps(facts *Facts) []finding.Step {
	var out []finding.Step
	for _, s := range hardenedSettings() {
		if facts == nil || s.due(facts) {
			out = append(out, alterSystemStep(s.name, s.value, s.why))
		}
	}
	return append(out, ReloadStep())
}

// pgauditSteps: pgaudit must be preloaded (a restart); once it is, the extension, the
// auditor role with SELECT on every PHI table (object auditing of reads), and the
// session classes.
func pgauditSteps(tables []*phiTable, facts *Facts) ([]finding.Step, []string) {
	if facts != nil && !facts.preloaded("pgaudit") {
		libs := strings.TrimSpace(facts.Settings["shared_preload_libraries"])
		if libs != "" {
			libs += ","
		}
		step := alterSystemStep("shared_preload_libraries", libs+"pgaudit", "load pgaudit")
		return []finding.Step{step}, []string{"pgaudit: shared_preload_libraries takes effect only after a restart of the server; restart it, then run `pgmedic comply fix` again to configure pgaudit"}
	}
	out := []finding.Step{
		{Description: "install the pgaudit extension", SQL: "CREATE EXTENSION IF NOT EXISTS pgaudit", Kind: "ddl", Lock: catalogOnly,
			Object: "pgaudit", Check: "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pgaudit')"},
		{Description: "create role " + RoleAuditor + " for pgaudit's object auditing", SQL: "CREATE ROLE " + ident.Quote(RoleAuditor) + " NOLOGIN",
			Kind: "ddl", Lock: catalogOnly, Object: RoleAuditor, Check: roleExists(RoleAuditor)},
	}
	for _, t := range tables {
		q := ident.Quote(t.schema, t.name)
		out = append(out, finding.Step{Description: "audit every read of " + t.qname() + " (object auditing)",
			SQL: "GRANT SELECT ON " + q + " TO " + ident.Quote(RoleAuditor), Kind: "ddl", Lock: catalogOnly, Object: t.qname(),
			Check: fmt.Sprintf("SELECT has_table_privilege(%s, %s, 'SELECT')", ident.Literal(RoleAuditor), ident.Literal(q))})
	}
	trail := ident.Quote(AuditSchema, AuditTrail)
	out = append(out, finding.Step{Description: "audit every read of the audit trail " + AuditSchema + "." + AuditTrail,
		SQL: "GRANT SELECT ON " + trail + " TO " + ident.Quote(RoleAuditor), Kind: "ddl", Lock: catalogOnly, Object: AuditSchema + "." + AuditTrail,
		Check: fmt.Sprintf("SELECT pg_catalog.to_regclass(%s) IS NULL OR has_table_privilege(%s, %s, 'SELECT')", ident.Literal(trail), ident.Literal(RoleAuditor), ident.Literal(trail))})
	out = append(out,
		alterSystemStep("pgaudit.role", RoleAuditor, "object auditing of PHI reads"),
		alterSystemStep("pgaudit.log", "ddl, role, write", "log schema, role and data changes"),
		alterSystemStep("pgaudit.log_parameter", "off", "keep bound values (PHI) out of the log"),
		alterSystemStep("pgaudit.log_relation", "on", "one record per table a statement touches"))
	return out, nil
}

// BenchSwitchPlan switches the audit triggers and pgaudit's logging on or off, for
// measuring what each costs (pgmedic bench harden). It needs the hardening installed.
func BenchSwitchPlan(trigger, pgaudit bool) *finding.Plan {
	state, classes, role := "DISABLE", "none", ""
	if trigger {
		state = "ENABLE"
	}
	if pgaudit {
		classes, role = "ddl, role, write", RoleAuditor
	}
	toggle := fmt.Sprintf(`DO $$DECLARE r record; BEGIN
  FOR r IN SELECT tgrelid::regclass AS t FROM pg_catalog.pg_trigger WHERE tgname = 'pgmedic_audit' LOOP
    EXECUTE format('ALTER TABLE %%s %s TRIGGER pgmedic_audit', r.t);
  END LOOP; END$$`, state)
	return &finding.Plan{Summary: "switch the measured safeguards", Steps: []finding.Step{
		{Description: strings.ToLower(state) + " the audit triggers", SQL: toggle, Kind: "ddl", Lock: "SHARE ROW EXCLUSIVE (brief)", Object: "pgmedic_audit"},
		alterSystemStep("pgaudit.log", classes, "bench profile"),
		alterSystemStep("pgaudit.role", role, "bench profile"),
		ReloadStep(),
	}}
}
