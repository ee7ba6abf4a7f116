package compliance

import (
	"fmt"
	"net"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
)

// Attestations the configuration may give for safeguards SQL cannot see.
const (
	AttestDiskEncryption  = "disk_encryption"
	AttestOSAccess        = "os_access"
	AttestEmergencyAccess = "emergency_access"
)

// Attestations lists the valid compliance.attestations entries.
func Attestations() []string {
	return []string{AttestDiskEncryption, AttestOSAccess, AttestEmergencyAccess}
}

// Checks returns the audit checks, grouped by 164.312 standard. A function, so no caller
// can change the table.
func Checks() []Check {
	var out []Check
	out = append(out, transmissionChecks()...)
	out = append(out, authenticationChecks()...)
	out = append(out, accessChecks()...)
	out = append(out, auditChecks()...)
	out = append(out, integrityChecks()...)
	return out
}

func transmissionChecks() []Check {
	return []Check{
		{ID: "tls.ssl", Standard: finding.TransmissionSecurity, Paragraph: "164.312(e)(1)", Severity: finding.Critical,
			Title: "TLS is off", Needs: []string{"settings"}, Fix: "set ssl = on with a certificate and key, then reload",
			Run: func(f *Facts) Outcome { return failIf(f.Settings["ssl"] != "on", "ssl = "+f.Settings["ssl"]) }},
		{ID: "tls.min_protocol", Standard: finding.TransmissionSecurity, Paragraph: "164.312(e)(2)(ii)", Severity: finding.High,
			Title: "TLS versions below 1.2 are accepted", Needs: []string{"settings"},
			Fix: "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2' (or TLSv1.3), then reload",
			Run: func(f *Facts) Outcome {
				v := f.Settings["ssl_min_protocol_version"]
				return failIf(v == "" || v == "TLSv1" || v == "TLSv1.1", "ssl_min_protocol_version = "+v)
			}},
		{ID: "tls.plaintext_sessions", Standard: finding.TransmissionSecurity, Paragraph: "164.312(e)(1)", Severity: finding.High,
			Title: "Remote sessions are connected without TLS", Needs: []string{"sessions"},
			Fix: "make every remote pg_hba rule hostssl and have clients use sslmode=verify-full",
			Run: func(f *Facts) Outcome {
				return failIf(f.PlainRemote > 0, fmt.Sprintf("%d remote sessions without TLS", f.PlainRemote))
			}},
		{ID: "hba.host_without_ssl", Standard: finding.TransmissionSecurity, Paragraph: "164.312(e)(1)", Severity: finding.High,
			Title: "pg_hba accepts remote connections without TLS", Needs: []string{"hba"},
			Fix: "change host and hostnossl rules for remote addresses to hostssl (or reject)",
			Run: func(f *Facts) Outcome {
				bad := hbaWhere(f, func(h HBARule) bool {
					return (h.Type == "host" || h.Type == "hostnossl") && h.AuthMethod != "reject" && !loopback(h)
				})
				return failOn(bad, "%d rules accept plaintext from the network", len(bad))
			}},
	}
}

func authenticationChecks() []Check {
	return []Check{
		{ID: "hba.trust", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.Critical,
			Title: "pg_hba lets clients in without a password over the network (trust or password in clear)", Needs: []string{"hba"},
			Fix: "replace trust and password with scram-sha-256 (or cert) in pg_hba.conf, then reload",
			Run: func(f *Facts) Outcome {
				bad := hbaWhere(f, func(h HBARule) bool {
					return h.Type != "local" && (h.AuthMethod == "trust" || h.AuthMethod == "password") || h.Error != ""
				})
				return failOn(bad, "%d network rules authenticate no one or send passwords in clear", len(bad))
			}},
		{ID: "hba.local_trust", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.Medium,
			Title: "Local socket connections are trusted without authentication", Needs: []string{"hba"},
			Fix: "use peer (or scram-sha-256) for local rules so each OS user maps to its own role",
			Run: func(f *Facts) Outcome {
				bad := hbaWhere(f, func(h HBARule) bool { return h.Type == "local" && h.AuthMethod == "trust" })
				return failOn(bad, "any OS account that reaches the socket may log in as any role")
			}},
		{ID: "hba.md5", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.High,
			Title: "pg_hba uses md5 password authentication", Needs: []string{"hba"},
			Fix: "switch md5 rules to scram-sha-256 after resetting the roles' passwords under scram",
			Run: func(f *Facts) Outcome {
				bad := hbaWhere(f, func(h HBARule) bool { return h.AuthMethod == "md5" })
				return failOn(bad, "md5 challenge-response can be replayed from a stolen hash")
			}},
		{ID: "hba.wide_network", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.High,
			Title: "pg_hba admits the whole internet or very wide networks", Needs: []string{"hba"},
			Fix: "narrow the address of these rules to the application's subnets",
			Run: func(f *Facts) Outcome {
				bad := hbaWhere(f, func(h HBARule) bool { return h.Type != "local" && h.AuthMethod != "reject" && wideNetwork(h) })
				return failOn(bad, "rules matching more than 65,536 addresses")
			}},
		{ID: "hba.remote_superuser", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.Critical,
			Title: "Superusers may log in from the network", Needs: []string{"hba", "roles"},
			Fix: "reject superusers on host rules (put a reject rule for them first); administer over the local socket",
			Run: func(f *Facts) Outcome {
				supers := map[string]bool{}
				for _, r := range f.Roles {
					if r.Super {
						supers[r.Name] = true
					}
				}
				var bad []string
				for _, h := range f.HBA {
					if h.Type == "local" || h.AuthMethod == "reject" || loopback(h) {
						continue
					}
					for _, u := range h.Users {
						if u == "all" || supers[u] {
							bad = append(bad, hbaName(h))
							break
						}
					}
				}
				return failOn(bad, "%d remote rules admit a superuser", len(bad))
			}},
		{ID: "auth.password_encryption", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.High,
			Title: "New passwords are not hashed with SCRAM", Needs: []string{"settings"},
			Fix: "ALTER SYSTEM SET password_encryption = 'scram-sha-256'; reload",
			Run: func(f *Facts) Outcome {
				v := f.Settings["password_encryption"]
				return failIf(v != "scram-sha-256", "password_encryption = "+v)
			}},
		{ID: "auth.md5_passwords", Standard: finding.Authentication, Paragraph: "164.312(d)", Severity: finding.High,
			Title: "Roles have md5-hashed passwords", Needs: []string{"passwords"},
			Fix: "reset these roles' passwords with password_encryption = scram-sha-256",
			Run: func(f *Facts) Outcome {
				return failOn(append([]string(nil), f.MD5Roles...), "%d roles keep an md5 hash", len(f.MD5Roles))
			}},
	}
}

func accessChecks() []Check {
	return []Check{
		{ID: "roles.superusers", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.High,
			Title: "More than one login superuser, or login roles that inherit superuser", Needs: []string{"roles"},
			Fix: "keep one superuser for administration; give applications least-privilege roles",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, r := range f.Roles {
					if r.Login && (r.Super || r.InheritsSuper) {
						bad = append(bad, r.Name)
					}
				}
				if len(bad) <= 1 {
					return pass(fmt.Sprintf("%d login superuser", len(bad)))
				}
				return failOn(bad, "%d login roles are or inherit superuser", len(bad))
			}},
		{ID: "roles.powerful", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.Medium,
			Title: "Roles that bypass RLS, create roles, replicate, or read every table or server file", Needs: []string{"roles"},
			Fix: "revoke BYPASSRLS, CREATEROLE, REPLICATION and the pg_read_all_data-style roles from roles that do not need them",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, r := range f.Roles {
					if r.Super {
						continue
					}
					var what []string
					if r.BypassRLS {
						what = append(what, "BYPASSRLS")
					}
					if r.CreateRole {
						what = append(what, "CREATEROLE")
					}
					what = append(what, r.Powerful...)
					if len(what) > 0 {
						bad = append(bad, r.Name+" ("+strings.Join(what, ", ")+")")
					}
				}
				return failOn(bad, "%d roles hold powers beyond their tables", len(bad))
			}},
		{ID: "grants.public_phi", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.Critical,
			Title: "PHI tables are readable or writable by PUBLIC", Needs: []string{"phi_tables"},
			Fix: "REVOKE ALL ON the table FROM PUBLIC; grant to application roles instead (pgmedic comply fix)",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, t := range f.PHITables {
					if len(t.PublicPrivs) > 0 {
						bad = append(bad, t.Name+" ("+strings.Join(t.PublicPrivs, ", ")+")")
					}
				}
				return failOn(bad, "every role, present and future, can reach these PHI tables")
			}},
		{ID: "grants.default_public", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.Medium,
			Title: "Default privileges grant new objects to PUBLIC", Needs: []string{"privileges"},
			Fix: "ALTER DEFAULT PRIVILEGES ... REVOKE ... FROM PUBLIC",
			Run: func(f *Facts) Outcome {
				return failOn(append([]string(nil), f.PublicDefs...), "tables created later are exposed to every role")
			}},
		{ID: "schema.public_create", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.High,
			Title: "Every role may create objects in the public schema", Needs: []string{"privileges"},
			Fix: "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
			Run: func(f *Facts) Outcome {
				return failIf(f.PublicCreateOnPublicSchema, "a role can plant functions and tables others resolve by search_path")
			}},
		{ID: "functions.secdef_search_path", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.High,
			Title: "SECURITY DEFINER functions without a fixed search_path", Needs: []string{"functions"},
			Fix: "ALTER FUNCTION ... SET search_path = pg_catalog, <schema>",
			Run: func(f *Facts) Outcome {
				return failOn(append([]string(nil), f.SecDefNoPath...), "a caller's objects can hijack them with the owner's rights")
			}},
		{ID: "rls.phi_tables", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.High,
			Title: "PHI tables without row-level security (enabled, forced and with policies)", Needs: []string{"phi_tables"},
			Fix: "enable and force RLS with a policy per role (pgmedic comply fix builds the provider policy)",
			Run: func(f *Facts) Outcome {
				if len(f.PHITables) == 0 {
					return Outcome{Status: NotApplicable, Detail: "no PHI table found"}
				}
				var bad []string
				for _, t := range f.PHITables {
					if !t.RLS || !t.Force || t.Policies == 0 {
						bad = append(bad, fmt.Sprintf("%s (enabled %v, forced %v, %d policies)", t.Name, t.RLS, t.Force, t.Policies))
					}
				}
				return failOn(bad, "%d of %d PHI tables rely on table grants alone", len(bad), len(f.PHITables))
			}},
		{ID: "rls.always_true", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.High,
			Title: "Row-level security policies that let every role see every row", Needs: []string{"phi_tables"},
			Fix: "rewrite the policy's USING and WITH CHECK to restrict rows",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, t := range f.PHITables {
					for _, p := range t.AlwaysTrue {
						bad = append(bad, t.Name+"."+p)
					}
				}
				return failOn(bad, "a permissive true policy makes every other policy on the table moot")
			}},
		{ID: "session.timeouts", Standard: finding.AccessControl, Paragraph: "164.312(a)(2)(iii)", Severity: finding.Medium,
			Title: "Idle sessions are never logged off", Needs: []string{"settings"},
			Fix: "ALTER SYSTEM SET idle_session_timeout = '15min' and idle_in_transaction_session_timeout = '5min'",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, s := range []string{"idle_session_timeout", "idle_in_transaction_session_timeout"} {
					if v, ok := f.setting(s); ok && v == "0" {
						bad = append(bad, s)
					}
				}
				return failOn(bad, "automatic logoff is off")
			}},
		{ID: "encryption.high_risk_plaintext", Standard: finding.AccessControl, Paragraph: "164.312(a)(2)(iv)", Severity: finding.High,
			Title: "SSNs, beneficiary numbers or MRNs stored as plaintext", Needs: []string{"phi_tables"},
			Fix: "encrypt the column with pgmedic comply fix --encrypt (AES-256-GCM, keys kept off the server) and look it up by its blind index",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, c := range f.PHI.PHIColumns() {
					if highRisk(c.Category) && !strings.Contains(c.Type, "bytea") {
						bad = append(bad, c.Schema+"."+c.Table+"."+c.Column+" ("+c.Category+")")
					}
				}
				return failOn(bad, "a copy of the table, a backup or a superuser's query shows them")
			}},
		{ID: "encryption.at_rest", Standard: finding.AccessControl, Paragraph: "164.312(a)(2)(iv)", Severity: finding.Medium,
			Title: "Disk or volume encryption of the data directory", Attestation: AttestDiskEncryption,
			Fix: "encrypt the volumes holding PGDATA, WAL and backups; then attest it in the configuration"},
		{ID: "access.os", Standard: finding.AccessControl, Paragraph: "164.312(a)(1)", Severity: finding.Medium,
			Title: "Operating-system access to the database host is restricted", Attestation: AttestOSAccess,
			Fix: "limit shell access to the server and its files; then attest it in the configuration"},
		{ID: "access.emergency", Standard: finding.AccessControl, Paragraph: "164.312(a)(2)(ii)", Severity: finding.Low,
			Title: "An emergency access procedure exists", Attestation: AttestEmergencyAccess,
			Fix: "document a break-glass role (NOLOGIN until needed, fully audited); then attest it"},
	}
}

func auditChecks() []Check {
	return []Check{
		{ID: "pgaudit.loaded", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.Critical,
			Title: "pgaudit is not loaded", Needs: []string{"settings", "pgaudit"},
			Fix: "add pgaudit to shared_preload_libraries (restart), then CREATE EXTENSION pgaudit",
			Run: func(f *Facts) Outcome {
				switch {
				case !f.preloaded("pgaudit"):
					return Outcome{Status: Fail, Detail: "pgaudit is not in shared_preload_libraries"}
				case !f.PgAuditInstalled:
					return Outcome{Status: Fail, Detail: "pgaudit is preloaded but CREATE EXTENSION pgaudit was not run"}
				}
				return pass("loaded and installed")
			}},
		{ID: "pgaudit.classes", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.High,
			Title: "pgaudit does not log DDL, role changes and writes", Needs: []string{"settings", "pgaudit"},
			Fix: "ALTER SYSTEM SET pgaudit.log = 'ddl, role, write'; reload",
			Run: func(f *Facts) Outcome {
				if !f.preloaded("pgaudit") {
					return Outcome{Status: Fail, Detail: "pgaudit is not loaded"}
				}
				classes := auditClasses(f.Settings["pgaudit.log"])
				var missing []string
				for _, c := range []string{"ddl", "role", "write"} {
					if !classes[c] && !classes["all"] {
						missing = append(missing, c)
					}
				}
				bad := failOn(missing, "pgaudit.log lacks %s", strings.Join(missing, ", "))
				if len(f.AuditOffSettings) > 0 {
					bad = Outcome{Status: Fail, Detail: "pgaudit.log is switched off per role or database", Objects: f.AuditOffSettings}
				}
				return bad
			}},
		{ID: "pgaudit.phi_reads", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.High,
			Title: "Reads of PHI tables are not audited", Needs: []string{"settings", "phi_tables"},
			Fix: "set pgaudit.role to an auditor role and GRANT SELECT on each PHI table to it (object auditing)",
			Run: func(f *Facts) Outcome {
				if auditClasses(f.Settings["pgaudit.log"])["read"] || auditClasses(f.Settings["pgaudit.log"])["all"] {
					return pass("pgaudit.log includes read")
				}
				var bad []string
				for _, t := range f.PHITables {
					if !t.AuditedReads {
						bad = append(bad, t.Name)
					}
				}
				return failOn(bad, "%d PHI tables are read without an audit record", len(bad))
			}},
		{ID: "audit.triggers", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.Medium,
			Title: "Changes to PHI tables leave no row-level audit trail", Needs: []string{"phi_tables"},
			Fix: "install an audit trigger writing old and new rows to an append-only audit table (pgmedic comply fix)",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, t := range f.PHITables {
					if !t.AuditTrigger && t.Role != string(healthcare.Audit) && !strings.HasPrefix(t.Name, AuditSchema+".") {
						bad = append(bad, t.Name)
					}
				}
				return failOn(bad, "%d PHI tables change without a trail", len(bad))
			}},
		{ID: "audit.append_only", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.High,
			Title: "Audit tables can be rewritten by application roles", Needs: []string{"audit_tables"},
			Fix: "REVOKE UPDATE, DELETE, TRUNCATE on audit tables from every role but the owner",
			Run: func(f *Facts) Outcome {
				var bad []string
				for _, a := range f.AuditTabs {
					if len(a.Rewriter) > 0 {
						bad = append(bad, a.Name+" ("+strings.Join(a.Rewriter, ", ")+")")
					}
				}
				return failOn(bad, "an audit trail its subjects can edit proves nothing")
			}},
		{ID: "logging.connections", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.High,
			Title: "Connections and disconnections are not logged", Needs: []string{"settings"},
			Fix: "ALTER SYSTEM SET log_connections = on, log_disconnections = on",
			Run: func(f *Facts) Outcome {
				var bad []string
				if v := f.Settings["log_connections"]; v == "off" || v == "" {
					bad = append(bad, "log_connections")
				}
				if f.Settings["log_disconnections"] != "on" {
					bad = append(bad, "log_disconnections")
				}
				return failOn(bad, "logins cannot be traced to a person and a time")
			}},
		{ID: "logging.line_prefix", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.Medium,
			Title: "log_line_prefix does not identify who, where and when", Needs: []string{"settings"},
			Fix: "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d %a %h '",
			Run: func(f *Facts) Outcome {
				p := f.Settings["log_line_prefix"]
				var missing []string
				for _, want := range [][]string{{"%m", "%t", "%n"}, {"%p", "%c"}, {"%u"}, {"%d"}, {"%h", "%r"}} {
					if !containsAny(p, want) {
						missing = append(missing, want[0])
					}
				}
				return failOn(missing, "log_line_prefix lacks %s", strings.Join(missing, " "))
			}},
		{ID: "logging.phi_in_logs", Standard: finding.AuditControls, Paragraph: "164.312(b)", Severity: finding.Medium,
			Title: "Server logs record statement values (PHI in logs)", Needs: []string{"settings"},
			Fix: "set log_statement = 'ddl' and pgaudit.log_parameter = off, or treat the logs as PHI (mode 0600, encrypted shipping)",
			Run: func(f *Facts) Outcome {
				var bad []string
				if f.Settings["log_statement"] == "all" || f.Settings["log_statement"] == "mod" {
					bad = append(bad, "log_statement = "+f.Settings["log_statement"])
				}
				if f.Settings["pgaudit.log_parameter"] == "on" {
					bad = append(bad, "pgaudit.log_parameter = on")
				}
				if f.Settings["log_min_duration_statement"] == "0" {
					bad = append(bad, "log_min_duration_statement = 0")
				}
				return failOn(bad, "statements with their literal values are written to the log")
			}},
	}
}

func integrityChecks() []Check {
	return []Check{
		{ID: "integrity.checksums", Standard: finding.Integrity, Paragraph: "164.312(c)(2)", Severity: finding.High,
			Title: "Data checksums are off", Needs: []string{"settings"},
			Fix: "enable checksums (pg_checksums --enable on a stopped cluster, or initdb --data-checksums)",
			Run: func(f *Facts) Outcome {
				return failIf(f.Settings["data_checksums"] != "on", "silent corruption goes undetected")
			}},
		{ID: "integrity.durability", Standard: finding.Integrity, Paragraph: "164.312(c)(1)", Severity: finding.Critical,
			Title: "fsync or full_page_writes is off, or checksum failures are ignored", Needs: []string{"settings"},
			Fix: "set fsync = on, full_page_writes = on, ignore_checksum_failure = off, zero_damaged_pages = off",
			Run: func(f *Facts) Outcome {
				var bad []string
				for s, want := range map[string]string{"fsync": "on", "full_page_writes": "on", "ignore_checksum_failure": "off", "zero_damaged_pages": "off"} {
					if v, ok := f.setting(s); ok && v != want {
						bad = append(bad, s+" = "+v)
					}
				}
				return failOn(bad, "a crash or bad block can destroy or alter records")
			}},
		{ID: "integrity.archiving", Standard: finding.Integrity, Paragraph: "164.312(c)(1)", Severity: finding.Medium,
			Title: "WAL archiving is off or failing", Needs: []string{"settings", "archiver"},
			Fix: "set archive_mode = on with an archive_command (pgmedic backup plan --pgbackrest writes one)",
			Run: func(f *Facts) Outcome {
				if f.Settings["archive_mode"] == "off" || (f.Settings["archive_command"] == "" && f.Settings["archive_library"] == "") {
					return Outcome{Status: Fail, Detail: "archive_mode = " + f.Settings["archive_mode"] + "; no point-in-time recovery"}
				}
				return failIf(f.ArchiveFailures > 0 && f.LastArchiveFail != nil, fmt.Sprintf("%d archive failures", f.ArchiveFailures))
			}},
	}
}

// hbaWhere names the pg_hba rules that keep accepts.
func hbaWhere(f *Facts, keep func(HBARule) bool) []string {
	var out []string
	for _, h := range f.HBA {
		if keep(h) {
			out = append(out, hbaName(h))
		}
	}
	return out
}

func loopback(h HBARule) bool {
	ip := net.ParseIP(h.Address)
	return ip != nil && ip.IsLoopback() || h.Address == "localhost"
}

// wideNetwork: all addresses, or a mask shorter than /16 (IPv4) or /48 (IPv6).
func wideNetwork(h HBARule) bool {
	if h.Address == "all" || h.Address == "0.0.0.0" || h.Address == "::" {
		return true
	}
	m := net.ParseIP(h.Netmask)
	if m == nil {
		return false
	}
	if v4 := m.To4(); v4 != nil {
		ones, _ := net.IPMask(v4).Size()
		return ones < 16
	}
	ones, _ := net.IPMask(m).Size()
	return ones < 48
}

func hbaName(h HBARule) string {
	addr := h.Address
	if h.Netmask != "" {
		addr += "/" + h.Netmask
	}
	return strings.TrimSpace(fmt.Sprintf("line %d: %s %s %s %s %s", h.Line, h.Type,
		strings.Join(h.Databases, ","), strings.Join(h.Users, ","), addr, h.AuthMethod))
}

func auditClasses(v string) map[string]bool {
	out := map[string]bool{}
	for _, c := range strings.Split(strings.ToLower(v), ",") {
		c = strings.TrimSpace(c)
		if c != "" && !strings.HasPrefix(c, "-") {
			out[c] = true
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func highRisk(category string) bool {
	switch category {
	case healthcare.SSN.String(), healthcare.HealthPlanID.String(), healthcare.MRN.String():
		return true
	}
	return false
}
