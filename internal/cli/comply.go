package cli

import (
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/report"
)

type complyFlags struct {
	format, output, failOn string
	sample                 int
	minScore               float64
}

func (a *app) complyCommand() *cobra.Command {
	var f complyFlags
	cmd := &cobra.Command{
		Use:   "comply",
		Short: "Audit the HIPAA technical safeguards (45 CFR 164.312) and score them",
		Long: `comply finds the PHI (as 'pgmedic phi' does), then audits the database against the
five standards of 45 CFR 164.312: access control (roles, PUBLIC grants, row-level
security on PHI tables, SECURITY DEFINER functions, automatic logoff, plaintext SSNs
and MRNs), audit controls (pgaudit, audit triggers, append-only audit tables,
connection logging, PHI in logs), integrity (checksums, durability, WAL archiving),
authentication (pg_hba rules, password hashing) and transmission security (TLS).
Each standard is scored 0-100 by the severity of what passed; the total is their mean,
capped at 50 when a critical check fails. A check whose evidence the role cannot read
is "unknown", never a pass. Safeguards SQL cannot see (disk encryption, OS access,
emergency access) come from compliance.attestations in the configuration.`,
		Example: `  pgmedic comply --dsn postgres://auditor@db.example.org/ehr
  pgmedic comply --format html -o hipaa.html
  pgmedic comply --format sarif --min-score 90   # exit 1 below 90`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.comply(f) },
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: "+strings.Join(report.Formats(), ", "))
	cmd.Flags().IntVar(&f.sample, "sample", 500, "rows sampled per table for PHI discovery (0: names only)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "", "exit 1 when a check at or above this severity fails")
	cmd.Flags().Float64Var(&f.minScore, "min-score", 0, "exit 1 when the score is below this")
	cmd.AddCommand(a.complyFixCommand())
	return cmd
}

func (a *app) comply(f complyFlags) error {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return usageHint("run 'pgmedic comply --help'", "--format: %v", err)
	}
	if f.sample < 0 {
		return usageHint("0 judges by names and foreign keys only", "--sample must be 0 or more, got %d", f.sample)
	}
	if f.minScore < 0 || f.minScore > 100 {
		return usageHint("scores run from 0 to 100", "--min-score must be between 0 and 100, got %g", f.minScore)
	}
	var failOn *finding.Severity
	if f.failOn != "" {
		s, err := finding.ParseSeverity(f.failOn)
		if err != nil {
			return usageHint("e.g. --fail-on high", "--fail-on: %v", err)
		}
		failOn = &s
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.complianceConfig()
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(a.ctx)
	rep, err := compliance.Audit(a.ctx, conn, cfg, compliance.AuditOptions{Discover: discoverOptions(f.sample)})
	if err != nil {
		return &jobError{msg: "HIPAA audit failed: " + a.scrub(err.Error()), hint: "check that the role may read the catalog"}
	}
	if err := a.writeTo(f.output, func(w io.Writer) error { return writeCompliance(w, format, rep) }); err != nil {
		return err
	}
	return complyExit(rep, failOn, f.minScore)
}

// complianceConfig loads the configuration and checks its compliance section.
func (a *app) complianceConfig() (*config.Profile, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return cfg, a.checkComplianceConfig(cfg)
}

// checkComplianceConfig validates attestations and disabled audit checks.
func (a *app) checkComplianceConfig(cfg *config.Profile) error {
	for _, at := range cfg.Compliance.Attestations {
		if !slices.Contains(compliance.Attestations(), at) {
			return usageHint("attest only what is true: "+strings.Join(compliance.Attestations(), ", "), "compliance.attestations: unknown attestation %q", at)
		}
	}
	if err := compliance.ValidateDisabled(cfg.Compliance.Disabled); err != nil {
		return usageHint("run 'pgmedic comply' to see the check ids", "%v", err)
	}
	return nil
}

func writeCompliance(w io.Writer, format report.Format, rep *compliance.Report) error {
	switch format {
	case report.Text:
		return compliance.WriteReportText(w, rep)
	case report.JSON:
		return compliance.WriteReportJSON(w, rep)
	case report.Markdown:
		return compliance.WriteReportMarkdown(w, rep)
	}
	return report.Write(w, format, rep.Input("pgmedic "+version), report.Options{})
}

func complyExit(rep *compliance.Report, failOn *finding.Severity, minScore float64) error {
	if minScore > 0 && rep.Score < minScore {
		return &exitError{code: 1}
	}
	if failOn != nil {
		for _, c := range rep.Failed() {
			if c.Severity >= *failOn {
				return &exitError{code: 1}
			}
		}
	}
	return nil
}
