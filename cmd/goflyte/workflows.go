package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
)

// foundWorkflow is a workflow and the file it came from.
type foundWorkflow struct {
	wf   *config.Workflow
	file string
}

// loadWorkflowArg resolves `goflyte run FILE [NAME]` or `goflyte run NAME`:
// a path to a file (NAME optional when the file has one workflow), or the
// name of a workflow in sdk.workflow_packages. The diagnostics are those of
// the workflow's file; the workflow is returned even when they have errors,
// so that compiling it can report the rest of its problems at once.
func (c *cli) loadWorkflowArg(cfg *config.Config, args []string) (*config.Workflow, hcl.Diagnostics, error) {
	first := args[0]
	if info, err := os.Stat(first); err == nil && !info.IsDir() || strings.HasSuffix(first, ".hcl") {
		wf, diags := c.parser.LoadWorkflowFile(first)
		if wf == nil || len(wf.Workflows) == 0 {
			return nil, nil, &diagError{diags: diags}
		}
		switch {
		case len(args) == 2:
			for _, w := range wf.Workflows {
				if w.Name == args[1] {
					return w, diags, nil
				}
			}
			return nil, nil, usagef("%s has no workflow named %q%s", first, args[1], didYouMean(args[1], workflowNames(wf.Workflows)))
		case len(wf.Workflows) == 1:
			return wf.Workflows[0], diags, nil
		default:
			return nil, nil, usagef("%s has %d workflows (%s): name the one to run, as in goflyte run %s %s", first, len(wf.Workflows), strings.Join(workflowNames(wf.Workflows), ", "), first, wf.Workflows[0].Name)
		}
	}
	if len(args) > 1 {
		return nil, nil, usagef("no workflow file %q", first)
	}
	found, broken, err := c.findWorkflows(cfg)
	if err != nil {
		return nil, nil, err
	}
	var matches []foundWorkflow
	var names []string
	for _, f := range found {
		names = append(names, f.wf.Name)
		if f.wf.Name == first {
			matches = append(matches, f)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0].wf, broken[matches[0].file], nil
	case 0:
		if len(cfg.SDK.WorkflowPackages) == 0 {
			return nil, nil, usagef("no workflow file %q, and no sdk.workflow_packages are configured to find a workflow by name", first)
		}
		msg := fmt.Sprintf("no workflow named %q in %s%s", first, strings.Join(cfg.SDK.WorkflowPackages, ", "), didYouMean(first, names))
		if len(broken) > 0 {
			msg += "\n(some workflow files have errors; run goflyte workflows list to see them)"
		}
		return nil, nil, usagef("%s", msg)
	default:
		return nil, nil, usagef("workflow %q is declared in both %s and %s; run it by file", first, matches[0].file, matches[1].file)
	}
}

// workflowFileArg returns the workflow file that args name, if they
// name one (as loadWorkflowArg tells), and the workflow asked for in it
// ("": the file's only one).
func workflowFileArg(args []string) (file, name string, ok bool) {
	if len(args) == 0 {
		return "", "", false
	}
	first := args[0]
	if info, err := os.Stat(first); err == nil && !info.IsDir() || strings.HasSuffix(first, ".hcl") {
		if len(args) == 2 {
			name = args[1]
		}
		return first, name, true
	}
	return "", "", false
}

// cachedGraph returns the compiled graph of the workflow file that args
// name from the compiled-workflow cache (engine.CachedGraph), or nil.
// On a hit the file is handed to the parser unparsed, so that
// diagnostics of the run still show its lines.
func (c *cli) cachedGraph(ctx context.Context, eng *engine.Engine, cfg *config.Config, args []string) *engine.Graph {
	file, name, ok := workflowFileArg(args)
	if !ok {
		return nil
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil // loading the file says why
	}
	g, ok := eng.CachedGraph(ctx, engine.CompiledKey(file, src, name), src)
	if !ok {
		return nil
	}
	c.parser.Defer(src, file)
	eng.Workflows = c.workflowLookup(cfg, file)
	return g
}

// keepGraph keeps g, compiled without any diagnostic from the workflow
// file that args name, in the compiled-workflow cache.
func (c *cli) keepGraph(ctx context.Context, eng *engine.Engine, args []string, g *engine.Graph) {
	file, name, ok := workflowFileArg(args)
	if !ok || g.File != file {
		return
	}
	f := c.parser.Files()[file]
	if f == nil {
		return
	}
	eng.KeepGraph(ctx, engine.CompiledKey(file, f.Bytes, name), f.Bytes, g)
}

// findWorkflows loads every workflow file in sdk.workflow_packages. The
// diagnostics of files that have any are returned in broken, keyed by path.
func (c *cli) findWorkflows(cfg *config.Config) ([]foundWorkflow, map[string]hcl.Diagnostics, error) {
	files, err := config.FindWorkflowFiles(cfg.SDK.WorkflowPackages)
	if err != nil {
		return nil, nil, err
	}
	var found []foundWorkflow
	broken := map[string]hcl.Diagnostics{}
	for _, path := range files {
		wf, diags := c.parser.LoadWorkflowFile(path)
		if len(diags) > 0 {
			broken[path] = diags
		}
		if wf == nil {
			continue
		}
		for _, w := range wf.Workflows {
			found = append(found, foundWorkflow{wf: w, file: path})
		}
	}
	return found, broken, nil
}

func workflowNames(ws []*config.Workflow) []string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	return names
}

func didYouMean(given string, names []string) string {
	if s := config.Suggest(given, names); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

func workflowsCommand() *command {
	return &command{
		name:    "workflows",
		args:    "list [--json]",
		summary: "List the workflows in sdk.workflow_packages",
		help: `
Lists every workflow found in the directories named by sdk.workflow_packages
(flyte.hcl or FLYTE_SDK_WORKFLOW_PACKAGES), with its file, inputs and
outputs. Files with errors are listed with their first problem.

Flags:
  --json   print a JSON array instead of a table`,
		run: func(ctx context.Context, c *cli, args []string) error {
			fs := newFlagSet("workflows")
			asJSON := fs.Bool("json", false, "")
			pos, err := c.parseArgs(fs, args, 1, 1)
			if err != nil {
				return err
			}
			if pos[0] != "list" {
				return usagef("workflows: unknown subcommand %q; try goflyte workflows list", pos[0])
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			found, broken, err := c.findWorkflows(cfg)
			if err != nil {
				return err
			}
			type row struct {
				Name        string   `json:"name"`
				File        string   `json:"file"`
				Description string   `json:"description,omitempty"`
				Inputs      []string `json:"inputs"`
				Outputs     []string `json:"outputs"`
			}
			rows := []row{}
			for _, f := range found {
				r := row{Name: f.wf.Name, File: f.file, Description: f.wf.Description, Inputs: []string{}, Outputs: []string{}}
				for _, in := range f.wf.Inputs {
					r.Inputs = append(r.Inputs, in.Name+" "+in.TypeExpr)
				}
				for _, o := range f.wf.Outputs {
					r.Outputs = append(r.Outputs, o.Name)
				}
				rows = append(rows, r)
			}
			if *asJSON {
				return writeJSON(c.stdout, rows)
			}
			if len(rows) == 0 && len(broken) == 0 {
				fmt.Fprintf(c.stderr, "No workflows found in sdk.workflow_packages (%s).\n", strings.Join(cfg.SDK.WorkflowPackages, ", "))
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFILE\tINPUTS\tOUTPUTS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.File, strings.Join(r.Inputs, ", "), strings.Join(r.Outputs, ", "))
			}
			tw.Flush()
			for _, path := range sortedKeysDiags(broken) {
				if d := broken[path]; d.HasErrors() {
					fmt.Fprintf(c.stderr, "warning: %s has errors: %s\n", path, d.Errs()[0])
				}
			}
			return nil
		},
	}
}

func sortedKeysDiags(m map[string]hcl.Diagnostics) []string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = k
	}
	return sortedStrings(s)
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// workflowLookup finds the workflows that sub-workflow calls name: in
// file (the calling workflow's file) first, then in sdk.workflow_packages.
func (c *cli) workflowLookup(cfg *config.Config, file string) engine.WorkflowLookup {
	return func(name string) *config.Workflow {
		if file != "" {
			if wf, _ := c.parser.LoadWorkflowFile(file); wf != nil {
				for _, w := range wf.Workflows {
					if w.Name == name {
						return w
					}
				}
			}
		}
		found, _, err := c.findWorkflows(cfg)
		if err != nil {
			return nil
		}
		for _, f := range found {
			if f.wf.Name == name {
				return f.wf
			}
		}
		return nil
	}
}
