package replica

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// AddOptions describe the standby to add.
type AddOptions struct {
	// Dir is the new standby's data directory (on the machine that will run it).
	Dir string
	// Host and Port are how the standby reaches the primary.
	Host string
	Port int
	// Role streams WAL (default "pgmedic_replication"); Slot keeps the WAL the standby
	// still needs (default: from the directory's name).
	Role, Slot string
}

// AddPlan is what adding a standby takes: database changes for the executor, and the
// commands an operator runs on the standby's machine (pgmedic does not copy data
// directories between machines).
type AddPlan struct {
	Plan     finding.Plan `json:"plan"`
	Commands []string     `json:"commands"`
	Notes    []string     `json:"notes,omitempty"`
}

var slotUnsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// PlanAdd reads the primary's replication settings and plans a standby.
func PlanAdd(ctx context.Context, q Querier, o AddOptions) (*AddPlan, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("replica: no directory for the standby")
	}
	if o.Role == "" {
		o.Role = "pgmedic_replication"
	}
	if o.Slot == "" {
		o.Slot = strings.Trim(slotUnsafe.ReplaceAllString(strings.ToLower(filepath.Base(o.Dir)), "_"), "_")
		if o.Slot == "" {
			o.Slot = "standby"
		}
		o.Slot = "pgmedic_" + o.Slot
	}
	q = marked{q}
	var walLevel string
	var senders, sendersUsed, slots, slotsUsed int
	err := q.QueryRow(ctx, `SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int,
		(SELECT count(*)::int FROM pg_stat_replication), current_setting('max_replication_slots')::int,
		(SELECT count(*)::int FROM pg_replication_slots)`).Scan(&walLevel, &senders, &sendersUsed, &slots, &slotsUsed)
	if err != nil {
		return nil, fmt.Errorf("replica: reading replication settings: %w", err)
	}
	p := &AddPlan{Plan: finding.Plan{Summary: fmt.Sprintf("add a streaming standby in %s, streaming as %s from slot %s", o.Dir, o.Role, o.Slot)}}
	p.settingSteps(walLevel, senders, sendersUsed, slots, slotsUsed)
	p.Plan.Steps = append(p.Plan.Steps, roleStep(o.Role), slotStep(o.Slot))
	p.Commands = commands(o)
	return p, nil
}

func (p *AddPlan) settingSteps(walLevel string, senders, sendersUsed, slots, slotsUsed int) {
	restart := false
	set := func(name, value, why string) {
		restart = true
		p.Plan.Steps = append(p.Plan.Steps, finding.Step{Description: why, Kind: "setting", NoTransaction: true,
			SQL:    fmt.Sprintf("ALTER SYSTEM SET %s = %s", name, ident.Literal(value)),
			Check:  fmt.Sprintf("SELECT coalesce((SELECT setting = %s FROM pg_file_settings WHERE name = %s AND applied IS NOT NULL ORDER BY seqno DESC LIMIT 1), false)", ident.Literal(value), ident.Literal(name)),
			Object: name})
	}
	if walLevel == "minimal" {
		set("wal_level", "replica", "WAL must carry what a standby replays (wal_level=replica)")
	}
	if senders <= sendersUsed {
		set("max_wal_senders", strconv.Itoa(sendersUsed+5), "room for one more WAL sender")
	}
	if slots <= slotsUsed {
		set("max_replication_slots", strconv.Itoa(slotsUsed+5), "room for one more replication slot")
	}
	if restart {
		p.Notes = append(p.Notes, "the settings above take effect at the primary's next restart; restart it before running the commands")
	}
}

func roleStep(role string) finding.Step {
	return finding.Step{
		Description: "a role that may stream WAL (its password is set by you: \\password in psql)",
		Kind:        "ddl",
		SQL: fmt.Sprintf(`DO $$BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN ALTER ROLE %s WITH REPLICATION LOGIN;
  ELSE CREATE ROLE %s WITH REPLICATION LOGIN; END IF;
END$$`, ident.Literal(role), ident.Quote(role), ident.Quote(role)),
		Check:  fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s AND rolreplication AND rolcanlogin)", ident.Literal(role)),
		Object: role,
	}
}

func slotStep(slot string) finding.Step {
	return finding.Step{
		Description: "a physical replication slot, so the primary keeps the WAL the standby has not received",
		Kind:        "ddl",
		SQL:         fmt.Sprintf("SELECT pg_create_physical_replication_slot(%s)", ident.Literal(slot)),
		Check:       fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %s)", ident.Literal(slot)),
		Undo:        fmt.Sprintf("SELECT pg_drop_replication_slot(%s)", ident.Literal(slot)),
		Object:      slot,
	}
}

func commands(o AddOptions) []string {
	port := ""
	if o.Port != 0 {
		port = " -p " + strconv.Itoa(o.Port)
	}
	return []string{
		fmt.Sprintf("# on the primary, in pg_hba.conf (then SELECT pg_reload_conf()):\nhostssl replication %s <standby address>/32 scram-sha-256", o.Role),
		"# on the standby's machine, as the postgres account (the password from ~/.pgpass or PGPASSWORD, never on the command line):",
		fmt.Sprintf("pg_basebackup -h %s%s -U %s -D %s -X stream -R -S %s --checkpoint=fast --progress",
			shellQuote(o.Host), port, shellQuote(o.Role), shellQuote(o.Dir), shellQuote(o.Slot)),
		fmt.Sprintf("pg_ctl -D %s start", shellQuote(o.Dir)),
		"# then: pgmedic replica status --dsn <primary> (the standby appears streaming, its slot active)",
	}
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"$`\\;&|<>()*?[]#~!{}\t\n") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
