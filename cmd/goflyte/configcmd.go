package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/goflyte/goflyte/engine/config"
)

func configCommand() *command {
	return &command{
		name:    "config",
		args:    "show [--json]",
		summary: "Show every effective setting and where it came from",
		help: `
Prints every setting of flyte.hcl with its effective value and its source:
default, file:line, env FLYTE_<SECTION>_<KEY>, or a flag. Precedence is
flag > env > file > default. Secret-bearing settings are masked.

Flags:
  --json   print a JSON object: {"file": ..., "settings": [...]}`,
		run: func(_ context.Context, c *cli, args []string) error {
			fs := newFlagSet("config")
			asJSON := fs.Bool("json", false, "")
			pos, err := c.parseArgs(fs, args, 1, 1)
			if err != nil {
				return err
			}
			if pos[0] != "show" {
				return usagef("config: unknown subcommand %q; try goflyte config show", pos[0])
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			settings := cfg.Settings()
			if *asJSON {
				return writeJSON(c.stdout, struct {
					File     string           `json:"file"`
					Settings []config.Setting `json:"settings"`
				}{cfg.File, settings})
			}
			file := cfg.File
			if file == "" {
				file = "(none: defaults and environment only)"
			}
			fmt.Fprintf(c.stdout, "Configuration file: %s\n\n", file)
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
			for _, s := range settings {
				v := s.Display
				if v == "" {
					v = `""`
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name(), v, s.Source)
			}
			return tw.Flush()
		},
	}
}
