package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/pgerr"
	policy "github.com/pgmedic/pgmedic/pgconn"
)

// Part status: a part that could not be read makes the checks that need it "unknown".
type Part struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"` // ok, unknown
	Reason     string  `json:"reason,omitempty"`
	DurationMs float64 `json:"duration_ms"`
}

// HBARule is one line of pg_hba_file_rules.
type HBARule struct {
	Line       int      `json:"line"`
	Type       string   `json:"type"`
	Databases  []string `json:"databases"`
	Users      []string `json:"users"`
	Address    string   `json:"address,omitempty"`
	Netmask    string   `json:"netmask,omitempty"`
	AuthMethod string   `json:"auth_method"`
	Error      string   `json:"error,omitempty"`
}

// RoleInfo is one role from pg_roles with the memberships that matter.
type RoleInfo struct {
	Name                                                  string
	Super, Login, BypassRLS, CreateRole, Replication, Inh bool
	ConnLimit                                             int
	Powerful                                              []string // predefined roles it belongs to (server files, all data)
	InheritsSuper                                         bool
}

// TableSec is what the audit needs to know about one PHI table.
type TableSec struct {
	Name         string // schema.table
	Role         string // the table's role from discovery (patient, claim, audit ...)
	Owner        string
	RLS, Force   bool
	Policies     int
	AlwaysTrue   []string // policies whose USING or WITH CHECK is always true
	PublicPrivs  []string // privileges granted to PUBLIC
	AuditTrigger bool     // a row trigger whose function writes an audit trail
	AuditedReads bool     // pgaudit.role may SELECT it (object audit of reads)
}

// AuditTable is a table holding an audit trail, with the roles that may rewrite it.
type AuditTable struct {
	Name     string
	Rewriter []string // non-owner login roles with UPDATE, DELETE or TRUNCATE
}

// Facts is everything the audit checks read, gathered in one read-only pass.
type Facts struct {
	Collected                  time.Time         `json:"collected_at"`
	Version                    int               `json:"server_version_num"`
	User                       string            `json:"user"`
	Superuser                  bool              `json:"superuser"`
	Settings                   map[string]string `json:"-"`
	HBA                        []HBARule         `json:"-"`
	Roles                      []RoleInfo        `json:"-"`
	MD5Roles                   []string          `json:"-"`
	PHI                        *Discovery        `json:"-"`
	PHITables                  []*TableSec       `json:"-"`
	AuditTabs                  []AuditTable      `json:"-"`
	PublicDefs                 []string          `json:"-"` // default privileges granting to PUBLIC
	PublicCreateOnPublicSchema bool              `json:"-"`
	SecDefNoPath               []string          `json:"-"`
	AuditOffSettings           []string          `json:"-"` // per-role or per-database pgaudit.log=none
	PgAuditInstalled           bool              `json:"-"`
	PlainRemote                int               `json:"-"` // remote sessions without TLS
	PlainRemoteSeen            bool              `json:"-"` // false when other roles' sessions are hidden
	ArchiveFailures            int64             `json:"-"`
	LastArchiveFail            *time.Time        `json:"-"`
	Attested                   map[string]bool   `json:"-"`
	Parts                      []Part            `json:"parts"`
}

// part reports whether the named part was read.
func (f *Facts) part(name string) (Part, bool) {
	for _, p := range f.Parts {
		if p.Name == name {
			return p, p.Status == "ok"
		}
	}
	return Part{Name: name, Status: "unknown", Reason: "not collected"}, false
}

// collector runs one part, recording its duration and whether it could be read.
type collector struct {
	ctx  context.Context
	conn *pgx.Conn
	f    *Facts
}

func (c *collector) run(name string, fn func() error) {
	start := time.Now()
	err := fn()
	p := Part{Name: name, Status: "ok", DurationMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		p.Status = "unknown"
		p.Reason = partReason(err)
	}
	c.f.Parts = append(c.f.Parts, p)
}

func partReason(err error) string {
	switch {
	case pgerr.Privilege(err):
		return "insufficient privilege: " + pgerr.Safe(err)
	case pgerr.Canceled(err):
		return "timed out"
	}
	return pgerr.Safe(err)
}

// query scans each row with scan; a helper so parts stay short.
func (c *collector) query(sql string, scan func(pgx.Rows) error, args ...any) error {
	rows, err := c.conn.Query(c.ctx, policy.Marker+sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// errHidden marks a part the role can see only partly.
type errHidden struct{ what string }

func (e errHidden) Error() string { return fmt.Sprintf("insufficient privilege: %s", e.what) }
