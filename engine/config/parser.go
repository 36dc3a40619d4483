package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Parser parses HCL files and keeps them, so that diagnostics can be
// rendered with source snippets:
//
//	wr := hcl.NewDiagnosticTextWriter(os.Stderr, parser.Files(), 78, color)
//	wr.WriteDiagnostics(diags)
//
// Use one Parser for everything a command loads, so that Files covers every
// diagnostic. A Parser is not safe for concurrent use.
type Parser struct {
	p *hclparse.Parser
}

// NewParser returns a Parser that has not parsed anything yet.
func NewParser() *Parser {
	return &Parser{p: hclparse.NewParser()}
}

// Files returns every file parsed so far, keyed by the file name used in
// diagnostic ranges. The map and the files must not be modified.
func (p *Parser) Files() map[string]*hcl.File {
	return p.p.Files()
}

// ParseHCLFile reads and parses a file in HCL native syntax. A file already
// parsed under the same name is returned from the cache. If the file cannot
// be read, the diagnostics say so and the file is nil; if it has syntax
// errors, the file is partial.
func (p *Parser) ParseHCLFile(path string) (*hcl.File, hcl.Diagnostics) {
	return p.p.ParseHCLFile(path)
}
