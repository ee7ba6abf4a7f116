package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/compliance"
	"github.com/pgmedic/pgmedic/pgconn"
)

type phiFlags struct {
	format, output string
	sample         int
	all            bool
}

func (a *app) phiCommand() *cobra.Command {
	var f phiFlags
	cmd := &cobra.Command{
		Use:   "phi",
		Short: "Find the PHI: classify every column by name, sampled values and foreign keys",
		Long: `phi classifies every column of every user table into the Safe Harbor identifiers
(45 CFR 164.514(b)(2)), free text quoting identifiers, and health information. Three
signals are combined: the column name (a dictionary with the abbreviations EHRs use),
sampled values (TABLESAMPLE SYSTEM with a row cap, read-only, under a statement
timeout; the validators count SSN, MBI, phone, e-mail, ZIP, date, IP and NPI shapes),
and structure (a column referencing an MRN column is an MRN). Each column gets a
category, a confidence and the evidence; sampled values are counted, never shown.
Tables the role may not read are judged by their names and marked so.
healthcare.phiColumns and healthcare.notPHI in the configuration win.`,
		Example: `  pgmedic phi --dsn postgres://auditor@db.example.org/ehr
  pgmedic phi --format json --sample 2000 -o phi.json`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.phi(f) },
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text, json or markdown")
	cmd.Flags().IntVar(&f.sample, "sample", 500, "rows sampled per table at most (0: names and structure only)")
	cmd.Flags().BoolVar(&f.all, "all", false, "list every column, the ones judged not PHI too")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) phi(f phiFlags) error {
	write, err := discoveryWriter(f.format)
	if err != nil {
		return err
	}
	if f.sample < 0 || f.sample > 1_000_000 {
		return usageHint("500 rows per table is the default; 0 judges by names and foreign keys only", "--sample must be between 0 and 1000000 rows, got %d", f.sample)
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(a.ctx, a.dsn, a.policy(cfg, readOnly))
	if err != nil {
		return err
	}
	defer conn.Close(a.ctx)
	d, err := compliance.Discover(a.ctx, conn, cfg.Healthcare, discoverOptions(f.sample))
	if err != nil {
		return &jobError{msg: "PHI discovery failed: " + a.scrub(err.Error()), hint: "check that the role may read the catalog (pg_class, pg_attribute)"}
	}
	return a.writeTo(f.output, func(w io.Writer) error { return write(w, d, f.all) })
}

func discoveryWriter(format string) (func(io.Writer, *compliance.Discovery, bool) error, error) {
	switch format {
	case "text":
		return compliance.WriteDiscoveryText, nil
	case "json":
		return compliance.WriteDiscoveryJSON, nil
	case "markdown":
		return compliance.WriteDiscoveryMarkdown, nil
	}
	return nil, usageHint("run 'pgmedic phi --help'", "--format must be text, json or markdown, got %q", format)
}

// discoverOptions turns --sample into discovery options: 0 means names and foreign keys
// only (the library's 0 is its default sample).
func discoverOptions(sample int) compliance.DiscoverOptions {
	if sample == 0 {
		return compliance.DiscoverOptions{Sample: -1}
	}
	return compliance.DiscoverOptions{Sample: sample}
}
