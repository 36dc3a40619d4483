package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

func validateCommand() *command {
	return &command{
		name:    "validate",
		args:    "FILE... [--json]",
		summary: "Check workflow files without running them",
		help: `
Checks everything that can be checked without running: syntax, unknown
plugins and tasks (with suggestions), references, cycles, missing or
unknown inputs, and the type of every edge against the plugins' schemas.
All problems are reported at once. Starts the plugins the files use, to ask
them for their schemas.

Flags:
  --json   print {"valid": bool, "diagnostics": [...]} on stdout`,
		run: func(ctx context.Context, c *cli, args []string) error {
			fs := newFlagSet("validate")
			asJSON := fs.Bool("json", false, "")
			files, err := c.parseArgs(fs, args, 1, -1)
			if err != nil {
				return err
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			eng := c.newEngine(cfg)
			defer eng.Close()
			var all hcl.Diagnostics
			count := 0
			for _, file := range files {
				wf, diags := c.parser.LoadWorkflowFile(file)
				all = append(all, diags...)
				if wf == nil {
					continue
				}
				eng.Workflows = c.workflowLookup(cfg, file)
				count += len(wf.Workflows)
				_, d := eng.ValidateFile(ctx, wf)
				all = append(all, d...)
			}
			if *asJSON {
				if err := writeJSON(c.stdout, diagnosticsJSON(all)); err != nil {
					return err
				}
				if all.HasErrors() {
					return &exitError{code: exitUsage}
				}
				return nil
			}
			if all.HasErrors() {
				return &diagError{diags: all}
			}
			c.warn(all)
			fmt.Fprintf(c.stdout, "Success! %d workflow(s) in %d file(s) are valid.\n", count, len(files))
			return nil
		},
	}
}

type posJSON struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type rangeJSON struct {
	Filename string  `json:"filename"`
	Start    posJSON `json:"start"`
	End      posJSON `json:"end"`
}

type diagJSON struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *rangeJSON `json:"range,omitempty"`
}

type validateOut struct {
	Valid       bool       `json:"valid"`
	ErrorCount  int        `json:"error_count"`
	Diagnostics []diagJSON `json:"diagnostics"`
}

func diagnosticsJSON(diags hcl.Diagnostics) validateOut {
	out := validateOut{Valid: !diags.HasErrors(), Diagnostics: []diagJSON{}}
	for _, d := range diags {
		dj := diagJSON{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			dj.Severity = "warning"
		} else {
			out.ErrorCount++
		}
		if d.Subject != nil {
			dj.Range = &rangeJSON{
				Filename: d.Subject.Filename,
				Start:    posJSON{d.Subject.Start.Line, d.Subject.Start.Column, d.Subject.Start.Byte},
				End:      posJSON{d.Subject.End.Line, d.Subject.End.Column, d.Subject.End.Byte},
			}
		}
		out.Diagnostics = append(out.Diagnostics, dj)
	}
	return out
}
