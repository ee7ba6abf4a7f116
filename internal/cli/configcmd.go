package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or check the effective configuration",
		Long: `pgmedic reads pgmedic.yaml (--config, else ./pgmedic.yaml when present, else built-in
defaults), picks a profile (--profile, else PGMEDIC_PROFILE, else the file's "profile"
key, else production), and applies PGMEDIC_<SECTION>_<KEY> environment overrides, such as
PGMEDIC_QUERY_ANALYZER_SLOW_QUERY_THRESHOLD=2s. See pgmedic.example.yaml for every key.`,
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
		Short: "Check the configuration file and environment overrides",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "configuration is valid (profile %s)\n", cfg.Name)
			return nil
		},
	})
	return cmd
}
