package engine

import (
	"context"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/config"
)

// ValidateFile compiles every workflow of wf, a file loaded with
// config.Parser.LoadWorkflowFile or LoadWorkflowSource, and returns what
// `goflyte validate` reports for it after the diagnostics of loading the
// file: each workflow's compile diagnostics, in the file's order. graphs
// holds one entry per workflow, nil for a workflow with errors.
// Sub-workflow calls are looked up with e.Workflows (see [FileLookup]).
//
// `goflyte validate` and the language server (package lsp) both call it,
// so that an editor shows exactly what validate prints.
func (e *Engine) ValidateFile(ctx context.Context, wf *config.WorkflowFile) (graphs []*Graph, diags hcl.Diagnostics) {
	for _, w := range wf.Workflows {
		g, d := e.Compile(ctx, w)
		graphs = append(graphs, g)
		diags = append(diags, d...)
	}
	return graphs, diags
}

// FileLookup returns the lookup sub-workflow calls made from wf use: a
// workflow of wf itself first, then next (nil: nowhere else), which the
// CLI and the language server point at sdk.workflow_packages.
func FileLookup(wf *config.WorkflowFile, next WorkflowLookup) WorkflowLookup {
	return func(name string) *config.Workflow {
		for _, w := range wf.Workflows {
			if w.Name == name {
				return w
			}
		}
		if next != nil {
			return next(name)
		}
		return nil
	}
}
