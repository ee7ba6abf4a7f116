package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/display"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or check the effective configuration",
		Long: `pgmedic reads pgmedic.yaml (--config, else ./pgmedic.yaml when present, else built-in
defaults), picks a profile (--profile, else PGMEDIC_PROFILE, else the file's "profile"
key, else production), and applies PGMEDIC_<SECTION>_<KEY> environment overrides, such as
PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD=2s. See pgmedic.example.yaml for every key.
Keys that no command reads are rejected with a hint, in the file and the environment.`,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration of the selected profile as YAML",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			out, err := cfg.YAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "# profile: %s\n", cfg.Name)
			_, err = a.stdout.Write(out)
			return err
		},
	}, &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and list each key's value, origin and readers",
		Long: `Checks the configuration file and PGMEDIC_* environment overrides of the selected
profile, then lists every key with its effective value, where the value came from (the
built-in default, file:line or the environment variable) and the commands that read it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return writeSettings(a.stdout, cfg)
		},
	})
	return cmd
}

// writeSettings prints the validation verdict and one aligned line per key.
func writeSettings(w io.Writer, cfg *config.Profile) error {
	w = display.NewWriter(w) // values and file names come from the user
	fmt.Fprintf(w, "configuration is valid (profile %s)\n", cfg.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM\tREAD BY")
	for _, s := range cfg.Settings() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Path, display.Shorten(s.Value, 40), s.Source, strings.Join(s.Readers, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "fix and demo also read what check reads; demo and index apply (without --from) what index advise reads.")
	return err
}
