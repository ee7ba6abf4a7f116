package compliance

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Collect gathers the audit's facts on a read-only session. disc is the PHI discovery the
// PHI-aware checks use; attested lists the manual safeguards the configuration attests.
func Collect(ctx context.Context, conn *pgx.Conn, disc *Discovery, attested []string) *Facts {
	f := &Facts{Collected: time.Now(), Settings: map[string]string{}, PHI: disc, Attested: map[string]bool{}}
	for _, a := range attested {
		f.Attested[a] = true
	}
	c := &collector{ctx: ctx, conn: conn, f: f}
	c.run("server", c.server)
	c.run("settings", c.settings)
	c.run("hba", c.hba)
	c.run("roles", c.roles)
	c.run("passwords", c.passwords)
	c.run("phi_tables", c.phiTables)
	c.run("audit_tables", c.auditTables)
	c.run("privileges", c.privileges)
	c.run("functions", c.functions)
	c.run("pgaudit", c.pgaudit)
	c.run("sessions", c.sessions)
	c.run("archiver", c.archiver)
	return f
}

func (c *collector) server() error {
	return c.conn.QueryRow(c.ctx, policy.Marker+`SELECT current_setting('server_version_num')::int, current_user,
	    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&c.f.Version, &c.f.User, &c.f.Superuser)
}

func (c *collector) settings() error {
	return c.query(`SELECT name, setting FROM pg_settings`, func(r pgx.Rows) error {
		var n, v string
		if err := r.Scan(&n, &v); err != nil {
			return err
		}
		c.f.Settings[n] = v
		return nil
	})
}

func (c *collector) hba() error {
	return c.query(`SELECT coalesce(line_number, 0), coalesce(type, ''), coalesce(database, '{}'),
	    coalesce(user_name, '{}'), coalesce(address, ''), coalesce(netmask, ''), coalesce(auth_method, ''),
	    coalesce(error, '') FROM pg_hba_file_rules ORDER BY line_number`, func(r pgx.Rows) error {
		var h HBARule
		if err := r.Scan(&h.Line, &h.Type, &h.Databases, &h.Users, &h.Address, &h.Netmask, &h.AuthMethod, &h.Error); err != nil {
			return err
		}
		c.f.HBA = append(c.f.HBA, h)
		return nil
	})
}

// powerfulRoles are predefined roles that reach files, programs or every table.
var powerfulRoles = []string{"pg_read_server_files", "pg_write_server_files", "pg_execute_server_program",
	"pg_read_all_data", "pg_write_all_data"}

func (c *collector) roles() error {
	return c.query(`
	WITH RECURSIVE up(member, role) AS (
	    SELECT member, roleid FROM pg_auth_members
	    UNION SELECT up.member, m.roleid FROM up JOIN pg_auth_members m ON m.member = up.role)
	SELECT r.rolname, r.rolsuper, r.rolcanlogin, r.rolbypassrls, r.rolcreaterole, r.rolreplication,
	       r.rolinherit, r.rolconnlimit,
	       coalesce(array(SELECT g.rolname FROM up JOIN pg_roles g ON g.oid = up.role
	                      WHERE up.member = r.oid AND g.rolname = ANY($1) ORDER BY 1), '{}'),
	       EXISTS (SELECT 1 FROM up JOIN pg_roles g ON g.oid = up.role WHERE up.member = r.oid AND g.rolsuper)
	FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY r.rolname`, func(r pgx.Rows) error {
		var ri RoleInfo
		if err := r.Scan(&ri.Name, &ri.Super, &ri.Login, &ri.BypassRLS, &ri.CreateRole, &ri.Replication,
			&ri.Inh, &ri.ConnLimit, &ri.Powerful, &ri.InheritsSuper); err != nil {
			return err
		}
		c.f.Roles = append(c.f.Roles, ri)
		return nil
	}, powerfulRoles)
}

func (c *collector) passwords() error {
	return c.query(`SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5%' ORDER BY 1`, func(r pgx.Rows) error {
		var n string
		err := r.Scan(&n)
		c.f.MD5Roles = append(c.f.MD5Roles, n)
		return err
	})
}

// phiTables reads the protections of every table discovery judged PHI.
func (c *collector) phiTables() error {
	if c.f.PHI == nil {
		return errHidden{"PHI discovery did not run"}
	}
	names := c.f.PHI.PHITables()
	return c.query(`
	SELECT n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity,
	       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
	       coalesce(array(SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive AND 0 = ANY (p.polroles)
	           AND (regexp_replace(coalesce(pg_get_expr(p.polqual, p.polrelid), ''), '[()\s]', '', 'g') IN ('true', '1=1')
	             OR regexp_replace(coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), '[()\s]', '', 'g') IN ('true', '1=1'))
	           ORDER BY 1), '{}'),
	       coalesce(array(SELECT DISTINCT a.privilege_type FROM aclexplode(c.relacl) a WHERE a.grantee = 0 ORDER BY 1), '{}'),
	       EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid
	               WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'
	                 AND (t.tgtype & 1) = 1 AND (f.proname ~* 'audit|history|journal' OR t.tgname ~* 'audit')),
	       CASE WHEN coalesce(current_setting('pgaudit.role', true), '') = '' THEN false
	            WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_setting('pgaudit.role', true)) THEN false
	            ELSE has_table_privilege(current_setting('pgaudit.role', true), c.oid, 'SELECT') END
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname || '.' || c.relname = ANY($1) ORDER BY 1`, func(r pgx.Rows) error {
		t := &TableSec{}
		if err := r.Scan(&t.Name, &t.Owner, &t.RLS, &t.Force, &t.Policies, &t.AlwaysTrue, &t.PublicPrivs,
			&t.AuditTrigger, &t.AuditedReads); err != nil {
			return err
		}
		for _, d := range c.f.PHI.Tables {
			if d.Schema+"."+d.Name == t.Name {
				t.Role = d.Role
			}
		}
		c.f.PHITables = append(c.f.PHITables, t)
		return nil
	}, names)
}

// auditTables finds tables that hold an audit trail (by name) and the login roles other
// than the owner that may rewrite them.
func (c *collector) auditTables() error {
	return c.query(`
	SELECT n.nspname || '.' || c.relname,
	       coalesce(array(SELECT r.rolname FROM pg_roles r
	           WHERE r.rolcanlogin AND NOT r.rolsuper AND r.oid <> c.relowner AND r.rolname !~ '^pg_'
	             AND (has_table_privilege(r.oid, c.oid, 'UPDATE') OR has_table_privilege(r.oid, c.oid, 'DELETE')
	                  OR has_table_privilege(r.oid, c.oid, 'TRUNCATE')) ORDER BY 1), '{}')
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgmedic')
	  AND (c.relname ~* 'audit|access_log|logged_actions' OR n.nspname ~* '^audit')
	ORDER BY 1`, func(r pgx.Rows) error {
		var a AuditTable
		if err := r.Scan(&a.Name, &a.Rewriter); err != nil {
			return err
		}
		c.f.AuditTabs = append(c.f.AuditTabs, a)
		return nil
	})
}

func (c *collector) privileges() error {
	if err := c.conn.QueryRow(c.ctx, policy.Marker+`SELECT coalesce(has_schema_privilege('public', 'public', 'CREATE'), false)
	    FROM pg_namespace WHERE nspname = 'public'`).Scan(&c.f.PublicCreateOnPublicSchema); err != nil && err != pgx.ErrNoRows {
		return err
	}
	return c.query(`SELECT DISTINCT pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text
	    FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE a.grantee = 0 ORDER BY 1`, func(r pgx.Rows) error {
		var s string
		err := r.Scan(&s)
		c.f.PublicDefs = append(c.f.PublicDefs, s)
		return err
	})
}

func (c *collector) functions() error {
	return c.query(`SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	    WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	      AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) s WHERE s LIKE 'search\_path=%')
	      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
	    ORDER BY 1`, func(r pgx.Rows) error {
		var s string
		err := r.Scan(&s)
		c.f.SecDefNoPath = append(c.f.SecDefNoPath, s)
		return err
	})
}

func (c *collector) pgaudit() error {
	if err := c.conn.QueryRow(c.ctx, policy.Marker+`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgaudit')`).Scan(&c.f.PgAuditInstalled); err != nil {
		return err
	}
	return c.query(`SELECT coalesce(d.datname, 'all databases') || ' / ' || coalesce(r.rolname, 'all roles')
	    FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
	    WHERE array_to_string(s.setconfig, ',') ~* 'pgaudit\.log=(none|-)' ORDER BY 1`, func(r pgx.Rows) error {
		var s string
		err := r.Scan(&s)
		c.f.AuditOffSettings = append(c.f.AuditOffSettings, s)
		return err
	})
}

// sessions counts remote sessions without TLS. Without pg_read_all_stats other roles'
// client addresses are hidden, so the count covers only the role's own sessions.
func (c *collector) sessions() error {
	var hidden bool
	err := c.conn.QueryRow(c.ctx, policy.Marker+`SELECT count(*) FILTER (WHERE a.client_addr IS NOT NULL AND NOT host(a.client_addr) IN ('127.0.0.1', '::1') AND NOT coalesce(s.ssl, false)),
	    NOT (pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
	    FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.backend_type = 'client backend'`).Scan(&c.f.PlainRemote, &hidden)
	if err != nil {
		return err
	}
	c.f.PlainRemoteSeen = !hidden
	if hidden {
		return errHidden{"other roles' client addresses need pg_read_all_stats"}
	}
	return nil
}

func (c *collector) archiver() error {
	return c.conn.QueryRow(c.ctx, policy.Marker+`SELECT failed_count, last_failed_time FROM pg_stat_archiver`).Scan(&c.f.ArchiveFailures, &c.f.LastArchiveFail)
}

// setting returns a setting's value and whether it is known.
func (f *Facts) setting(name string) (string, bool) {
	v, ok := f.Settings[name]
	return v, ok
}

// preloaded reports whether a library is in shared_preload_libraries.
func (f *Facts) preloaded(lib string) bool {
	for _, l := range strings.Split(f.Settings["shared_preload_libraries"], ",") {
		if strings.EqualFold(strings.Trim(strings.TrimSpace(l), `"`), lib) {
			return true
		}
	}
	return false
}
