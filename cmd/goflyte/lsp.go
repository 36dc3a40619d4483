package main

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/lsp"
)

func lspCommand() *command {
	return &command{
		name:    "lsp",
		args:    "[--stdio]",
		summary: "Run the language server for workflow files (for editors)",
		help: `
Speaks the Language Server Protocol on stdin and stdout, for any editor:
diagnostics (what validate reports, as you type), completion of plugin
tasks, task inputs and references, hover, go to definition, references,
the outline, semantic tokens and formatting. flyte.hcl is found as by
every command, with the editor's workspace folder as the working
directory; plugins come from sdk.plugin_dirs and are described once per
binary (a rebuilt plugin is picked up within a second or so).

The server's own log goes to stderr (at sdk.logging_level, or -v).
Exit code: 0 after the client's shutdown and exit, 1 when it exits (or
closes stdin) without shutdown, as the protocol says. See "Editor support"
in the README for VS Code, Neovim and Helix.

Flags:
  --stdio          accepted and ignored: stdio is the only transport
  --debounce D     how long diagnostics wait after the last change of a
                   document (default 150ms; 0 checks after every change)`,
		run: func(ctx context.Context, c *cli, args []string) error {
			fs := newFlagSet("lsp")
			fs.Bool("stdio", true, "")
			debounce := fs.Duration("debounce", 150*time.Millisecond, "")
			if err := c.parseFlags(fs, args, 0); err != nil {
				return err
			}
			level := "warn"
			switch {
			case c.logLevel != "":
				level = c.logLevel
			case c.verbose >= 2:
				level = "debug"
			case c.verbose == 1:
				level = "info"
			}
			logger := hclog.New(&hclog.LoggerOptions{Name: "goflyte-lsp", Level: hclog.LevelFromString(level), Output: c.stderr, Color: hclog.ColorOff})
			wd, _ := os.Getwd()
			if *debounce <= 0 {
				*debounce = -1 // lsp.Options: negative is no wait
			}
			code := lsp.Serve(ctx, c.stdin, c.stdout, lsp.Options{ConfigPath: c.configPath, WorkDir: wd, NoLock: !c.lock, Logger: logger, Debounce: *debounce})
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}
