package config

import (
	"fmt"
	"os"

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
	// refused holds the diagnostics of sources refused before parsing
	// (see CheckNesting), by file name.
	refused map[string]hcl.Diagnostics
	// deferred holds sources added with Defer and not parsed yet, by
	// file name.
	deferred map[string][]byte
}

// NewParser returns a Parser that has not parsed anything yet.
func NewParser() *Parser {
	return &Parser{p: hclparse.NewParser(), refused: map[string]hcl.Diagnostics{}}
}

// Files returns every file parsed so far, keyed by the file name used in
// diagnostic ranges, after parsing the sources given to Defer. The map
// and the files must not be modified.
func (p *Parser) Files() map[string]*hcl.File {
	for name := range p.deferred {
		p.parseDeferred(name)
	}
	return p.p.Files()
}

// Defer gives the parser a file's source without parsing it: it is
// parsed when Files, or a parse of the same file name, needs it. A
// command that has what it needs from the file without parsing it (a
// compiled workflow kept in the sandbox) still renders diagnostics that
// point into it exactly as if it had parsed it.
func (p *Parser) Defer(src []byte, filename string) {
	if _, ok := p.deferred[filename]; ok {
		return
	}
	if _, _, done := p.cached(filename); done {
		return
	}
	if p.deferred == nil {
		p.deferred = map[string][]byte{}
	}
	p.deferred[filename] = src
}

// parseDeferred parses the source given to Defer under filename.
func (p *Parser) parseDeferred(filename string) {
	src, ok := p.deferred[filename]
	if !ok {
		return
	}
	delete(p.deferred, filename)
	p.ParseHCL(src, filename)
}

// ParseHCLFile reads and parses a file in HCL native syntax. A file already
// parsed under the same name is returned from the cache. If the file cannot
// be read, the diagnostics say so and the file is nil; if it has syntax
// errors, the file is partial. Source nested deeper than [MaxNesting] is
// not parsed: the file is nil and the diagnostic points at the bracket
// that crosses the limit.
func (p *Parser) ParseHCLFile(path string) (*hcl.File, hcl.Diagnostics) {
	if f, diags, done := p.cached(path); done {
		return f, diags
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read file",
			Detail:   fmt.Sprintf("The file %q could not be read: %v.", path, err),
		}}
	}
	return p.ParseHCL(src, path)
}

// ParseHCL is ParseHCLFile for source in memory; filename names it in
// diagnostics and in Files.
func (p *Parser) ParseHCL(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if f, diags, done := p.cached(filename); done {
		return f, diags
	}
	// hcl/v2's parser recurses per level of nesting and a Go stack
	// overflow is fatal: refuse what it cannot survive before it sees it.
	if diags := CheckNesting(src, filename); diags.HasErrors() {
		// Keep the bytes, so that the diagnostic shows its snippet.
		p.p.AddFile(filename, &hcl.File{Body: hcl.EmptyBody(), Bytes: src})
		p.refused[filename] = diags
		return nil, diags
	}
	if len(src) >= chunkedMin {
		if f, ok := parseChunked(src, filename); ok {
			p.p.AddFile(filename, f)
			return f, nil
		}
	}
	return p.p.ParseHCL(src, filename)
}

// cached returns what an earlier ParseHCL of filename returned.
func (p *Parser) cached(filename string) (*hcl.File, hcl.Diagnostics, bool) {
	p.parseDeferred(filename)
	if diags, ok := p.refused[filename]; ok {
		return nil, diags, true
	}
	if f := p.p.Files()[filename]; f != nil {
		return f, nil, true
	}
	return nil, nil, false
}
