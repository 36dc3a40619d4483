// Package format rewrites workflow files and flyte.hcl in the canonical
// HCL style, as `terraform fmt` does: the output is byte for byte that of
// [hclwrite.Format]. Formatting changes only whitespace (indentation,
// spaces between tokens, alignment of `=` and of comments), never a token,
// so a formatted workflow compiles to the same graph.
//
// The package owns the formatting of one source; finding files, writing
// them back and reporting belong to its callers (`goflyte fmt`, the
// language server).
package format

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Source returns src formatted in the canonical HCL style. filename is
// used only in diagnostics.
//
// Source first parses src as HCL native syntax: when src has syntax errors
// it returns nil and the parser's diagnostics (with file:line:column), and
// formats nothing, since formatting a file that does not parse could
// change what it means once fixed. Otherwise the diagnostics are empty and
// the result is exactly hclwrite.Format(src); it may share no memory with
// src. Source is safe to call from many goroutines.
func Source(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// Changed reports whether formatting src would change it. It returns the
// diagnostics of [Source] when src does not parse.
func Changed(src []byte, filename string) (bool, hcl.Diagnostics) {
	out, diags := Source(src, filename)
	if diags.HasErrors() {
		return false, diags
	}
	return !bytes.Equal(out, src), nil
}
