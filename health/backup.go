package health

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Backup checks judge the evidence the backup package attaches to a snapshot
// (snapshot.Backups) against the configured objectives (backup.* in pgmedic.yaml).

var contingencyRef = finding.Reference{Title: "HIPAA 45 CFR 164.308(a)(7) contingency plan (data backup, disaster recovery, testing)",
	URL: "https://www.ecfr.gov/current/title-45/section-164.308#p-164.308(a)(7)"}

// Without evidence (no backup.dir or backup.pgbackrestConfig configured) the checks
// that need it stay silent; evidence that could not be read makes them unknown.
func evidenceProblem(c *Context) (finding.Finding, bool) {
	b := c.Snap.Backups
	if b != nil && len(b.Problems) > 0 {
		return c.Unknown("", "backup evidence could not be read: "+b.Problems[0]), true
	}
	return finding.Finding{}, false
}

func backupChecks() []Check {
	return []Check{
		{
			ID: "backup.restore", Area: "backup", Severity: finding.High,
			Title:       "Restores not proven recently, or slower than the recovery time objective",
			Description: "A backup nobody restored is a hope: the newest restore 'pgmedic backup verify' proved (restored, compared with its manifest, amcheck clean) must be recent, and its time, scaled to the database's size now, within backup.rtoTarget. Runs when backup.dir or backup.pgbackrestConfig is set.",
			Needs:       []string{"databases"},
			Thresholds: []Threshold{
				{Name: "max_age_hours", Default: 168, Unit: "h", FromConfig: func(p *config.Profile) float64 { return p.Backup.MaxVerifiedAge.Hours() }},
				{Name: "rto_target_seconds", Default: 4 * 3600, Unit: "s", FromConfig: func(p *config.Profile) float64 { return p.Backup.RTOTarget.Seconds() }},
			},
			References: []finding.Reference{contingencyRef, finding.DocsRef("app-pgrestore.html", "pg_restore")},
			Run:        checkRestore,
		},
		{
			ID: "backup.rpo", Area: "backup", Severity: finding.High,
			Title:       "Recovery point objective at risk",
			Description: "Committed work not yet archived (the time since the last archived WAL segment while newer WAL exists; needs backup evidence) and an archive_timeout longer than the target, against backup.rpoTarget.",
			Needs:       []string{"settings", "archiver"},
			Thresholds: []Threshold{{Name: "target_seconds", Default: 900, Unit: "s",
				FromConfig: func(p *config.Profile) float64 { return p.Backup.RPOTarget.Seconds() }}},
			References: []finding.Reference{contingencyRef, finding.DocsRef("continuous-archiving.html", "Continuous Archiving and Point-in-Time Recovery")},
			Run:        checkRPO,
		},
	}
}

func checkRestore(c *Context) []finding.Finding {
	b := c.Snap.Backups
	if b == nil {
		return nil
	}
	if f, bad := evidenceProblem(c); bad {
		return []finding.Finding{f}
	}
	maxAge := time.Duration(c.T("max_age_hours") * float64(time.Hour))
	if b.LastVerified == nil {
		f := c.New("", "No backup restore has been verified")
		f.Detail = fmt.Sprintf("Sources read: %v.", b.Sources)
		f.Recommendation = "Run 'pgmedic backup verify FILE --key KEY' on the newest backup, and schedule it."
		return []finding.Finding{*f}
	}
	var out []finding.Finding
	if f := restoreTime(c, b); f != nil {
		out = append(out, *f)
	}
	age := c.Now.Sub(*b.LastVerified)
	if age <= maxAge {
		return out
	}
	f := c.New("verified", fmt.Sprintf("The newest verified restore is %s old", age.Round(time.Hour)))
	f.Evidence = []finding.Evidence{ev("age_hours", round1(age.Hours()), "h"), ev("max_age_hours", round1(maxAge.Hours()), "h")}
	f.Detail = "Verified " + b.LastVerified.UTC().Format(time.RFC3339) + "; a newer backup may not restore."
	f.Recommendation = "Verify a recent backup ('pgmedic backup verify') and schedule verification at least as often as backup.maxVerifiedAge."
	return append(out, *f)
}

func checkRPO(c *Context) []finding.Finding {
	target := c.T("target_seconds")
	var out []finding.Finding
	if st, ok := c.Snap.Setting("archive_timeout"); ok {
		if v, err := strconv.ParseFloat(st.Value, 64); err == nil && (v == 0 || v > target) && archivingOn(c) {
			f := c.New("server/archive_timeout", "archive_timeout lets a quiet server go longer than the RPO target without archiving")
			f.Severity = finding.Medium
			f.Evidence = []finding.Evidence{ev("archive_timeout_seconds", v, "s"), ev("target_seconds", target, "s")}
			f.Detail = "A segment is archived only when full or when archive_timeout forces a switch; 0 means never forced."
			f.Recommendation = fmt.Sprintf("Set archive_timeout to at most %.0fs ('pgmedic backup plan --pgbackrest' sets it).", target)
			f.Fix = &finding.Plan{Summary: "Bound the time between WAL switches", Steps: []finding.Step{
				{Description: "set archive_timeout", SQL: fmt.Sprintf("ALTER SYSTEM SET archive_timeout = '%.0fs'", min(target, 60)), NoTransaction: true, Kind: "setting"},
				{Description: "apply without a restart", SQL: "SELECT pg_reload_conf()", Kind: "setting"},
			}}
			out = append(out, *f)
		}
	}
	b := c.Snap.Backups
	if f, bad := evidenceProblem(c); bad {
		return append(out, f)
	}
	switch {
	case b == nil:
	case !archivingOn(c):
		// wal.archiving reports archiving that is off; the RPO is then the last backup.
	case b.RPOSeconds == nil:
		out = append(out, c.Unknown("", "the archive lag is unknown (nothing archived yet, or a standby)"))
	case *b.RPOSeconds > target:
		f := c.New("", fmt.Sprintf("%.0fs of committed work is not archived (target %.0fs)", *b.RPOSeconds, target))
		f.Evidence = []finding.Evidence{ev("rpo_seconds", round1(*b.RPOSeconds), "s"), ev("target_seconds", target, "s")}
		f.Recommendation = "Find why archiving lags (pg_stat_archiver, the archive_command's log) and fix it; a loss now would cost this much work."
		out = append(out, *f)
	}
	return out
}

func archivingOn(c *Context) bool {
	return c.Snap.Archiver == nil || c.Snap.Archiver.Mode != "off"
}

// restoreTime projects the last verified restore's time to the database's size now.
func restoreTime(c *Context, b *snapshot.Backups) *finding.Finding {
	if b.RestoreSeconds <= 0 {
		return nil
	}
	projected := b.RestoreSeconds
	db := c.Snap.ThisDatabase()
	if db != nil && db.SizeBytes > 0 && b.RestoredBytes > 0 {
		projected *= float64(db.SizeBytes) / float64(b.RestoredBytes)
	}
	target := c.T("rto_target_seconds")
	if projected <= target {
		return nil
	}
	f := c.New("rto", fmt.Sprintf("A restore would take about %s; the target is %s",
		time.Duration(projected*float64(time.Second)).Round(time.Second), time.Duration(target*float64(time.Second))))
	f.Evidence = []finding.Evidence{ev("measured_restore_seconds", round1(b.RestoreSeconds), "s"),
		ev("projected_restore_seconds", round1(projected), "s"), ev("target_seconds", target, "s")}
	f.Detail = "Projected from the last verified restore, scaled by the database's size now over the size restored."
	f.Recommendation = "Shorten restores: physical backups with pgBackRest (parallel restore, delta), a standby to fail over to, or partitioning cold data out of the restore path."
	return f
}
