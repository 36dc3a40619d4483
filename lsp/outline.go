package lsp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func (s *server) documentSymbol(params json.RawMessage) (any, error) {
	var p struct {
		TextDocument textDocumentIdentifier `json:"textDocument"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	d, _, err := s.snapshot(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	o := readOutline(d.text.src, d.path, -1)
	return symbols(d.text, o.root), nil
}

// symbols is the outline: workflows, their inputs, tasks, branches (with
// their arms) and outputs.
func symbols(t *text, b *block) []DocumentSymbol {
	out := []DocumentSymbol{}
	arm := 0
	for _, c := range b.children {
		kind := 0
		name, detail := c.label(), ""
		switch c.typ {
		case "workflow":
			kind = symbolModule
		case "input":
			kind = symbolVariable
			if a := c.attrs["type"]; a != nil {
				detail = string(bytes.TrimSpace(t.src[a.start:min(a.end, len(t.src))]))
			}
		case "task":
			kind = symbolFunction
			if a := c.attrs["uses"]; a != nil {
				detail = string(bytes.TrimSpace(t.src[a.start:min(a.end, len(t.src))]))
			}
		case "branch":
			kind = symbolEnum
		case "case":
			arm++
			kind, name = symbolEvent, fmt.Sprintf("case %d", arm)
		case "default":
			kind, name = symbolEvent, "default"
		case "output":
			kind = symbolProperty
		default:
			continue
		}
		if name == "" {
			name = c.typ
		}
		end := min(c.end, len(t.src))
		sym := DocumentSymbol{Name: name, Detail: detail, Kind: kind, Range: t.span(c.start, end), SelectionRange: t.rangeOf(c.labelRange())}
		if kids := symbols(t, c); len(kids) > 0 {
			sym.Children = kids
		}
		out = append(out, sym)
	}
	return out
}

func (s *server) formatting(params json.RawMessage) (any, error) {
	var p documentFormattingParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	d, _, err := s.snapshot(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	return formatEdits(d.text), nil
}

// formatEdits returns the edit that makes the document what
// hclwrite.Format (goflyte fmt) makes of it: none for a file with syntax
// errors, which the formatter could only make worse.
func formatEdits(t *text) []TextEdit {
	if _, diags := hclsyntax.ParseConfig(t.src, "", hcl.InitialPos); diags.HasErrors() {
		return []TextEdit{}
	}
	out := hclwrite.Format(t.src)
	if bytes.Equal(out, t.src) {
		return []TextEdit{}
	}
	return []TextEdit{{Range: t.span(0, len(t.src)), NewText: string(out)}}
}

// The semantic token legend.
var (
	tokenTypes     = []string{"keyword", "property", "variable", "function", "namespace", "type", "string", "number", "comment", "parameter"}
	tokenModifiers = []string{"declaration", "defaultLibrary"}
)

const (
	tokKeyword = iota
	tokProperty
	tokVariable
	tokFunction
	tokNamespace
	tokType
	tokString
	tokNumber
	tokComment
	tokParameter
)

func (s *server) semanticTokens(params json.RawMessage) (any, error) {
	var p semanticTokensParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	d, _, err := s.snapshot(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	return SemanticTokens{Data: semanticTokens(d.text, readOutline(d.text.src, d.path, -1))}, nil
}

type semTok struct {
	start, end int
	typ, mods  int
}

// semanticTokens classifies the file's words: block types and keywords,
// attribute names and object keys, declared names, references (their
// root, the name, the output), functions, types, strings, numbers and
// comments; encoded relative to each other as the protocol wants.
func semanticTokens(t *text, o *outline) []uint32 {
	role := map[int]int{} // start byte -> token type, from the outline
	decl := map[int]bool{}
	var typeAttrs [][2]int
	var walk func(b *block)
	walk = func(b *block) {
		for _, c := range b.children {
			role[c.typeRange.Start.Byte] = tokKeyword
			for _, r := range c.labelRanges {
				role[r.Start.Byte] = tokVariable // a quoted label starts at its opening quote
				decl[r.Start.Byte] = true
			}
			for _, a := range c.attrs {
				role[a.nameRange.Start.Byte] = tokProperty
				if a.name == "type" && c.typ == "input" {
					typeAttrs = append(typeAttrs, [2]int{a.start, a.end})
				}
			}
			walk(c)
		}
	}
	walk(o.root)
	for _, ch := range o.chains {
		role[ch.ranges[0].Start.Byte] = tokNamespace
		for i, r := range ch.ranges[1:] {
			if i == 0 {
				role[r.Start.Byte] = tokVariable
			} else {
				role[r.Start.Byte] = tokProperty
			}
		}
	}
	inType := func(off int) bool {
		for _, r := range typeAttrs {
			if off >= r[0] && off < r[1] {
				return true
			}
		}
		return false
	}
	var toks []semTok
	ts := o.toks
	for i, tk := range ts {
		start, end := tk.Range.Start.Byte, tk.Range.End.Byte
		switch tk.Type {
		case hclsyntax.TokenComment:
			for end > start && (t.src[end-1] == '\n' || t.src[end-1] == '\r') {
				end--
			}
			toks = append(toks, semTok{start: start, end: end, typ: tokComment})
		case hclsyntax.TokenNumberLit:
			toks = append(toks, semTok{start: start, end: end, typ: tokNumber})
		case hclsyntax.TokenOQuote:
			// A whole plain string is one token, quotes included.
			j := i + 1
			if j < len(ts) && ts[j].Type == hclsyntax.TokenQuotedLit {
				j++
			}
			if j < len(ts) && ts[j].Type == hclsyntax.TokenCQuote {
				typ, mods := tokString, 0
				if r, ok := role[start]; ok {
					typ = r
					if decl[start] {
						mods = 1
					}
				}
				toks = append(toks, semTok{start: start, end: ts[j].Range.End.Byte, typ: typ, mods: mods})
			} else {
				toks = append(toks, semTok{start: start, end: end, typ: tokString})
			}
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit, hclsyntax.TokenCQuote:
			if tk.Type == hclsyntax.TokenQuotedLit && i > 0 && ts[i-1].Type == hclsyntax.TokenOQuote && i+1 < len(ts) && ts[i+1].Type == hclsyntax.TokenCQuote {
				continue // part of the plain string above
			}
			if tk.Type == hclsyntax.TokenCQuote && i > 0 && (ts[i-1].Type == hclsyntax.TokenOQuote || i > 1 && ts[i-1].Type == hclsyntax.TokenQuotedLit && ts[i-2].Type == hclsyntax.TokenOQuote) {
				continue
			}
			toks = append(toks, semTok{start: start, end: end, typ: tokString})
		case hclsyntax.TokenIdent:
			word := string(tk.Bytes)
			next := hclsyntax.TokenNil
			if i+1 < len(ts) {
				next = ts[i+1].Type
			}
			typ := tokVariable
			mods := 0
			if r, ok := role[start]; ok {
				typ = r
			} else {
				switch {
				case next == hclsyntax.TokenOParen && !inType(start):
					typ, mods = tokFunction, 2
				case word == "true" || word == "false" || word == "null" || word == "for" || word == "in" || word == "if":
					typ = tokKeyword
				case inType(start):
					typ = tokType
				case next == hclsyntax.TokenEqual || next == hclsyntax.TokenColon:
					typ = tokProperty
				}
			}
			toks = append(toks, semTok{start: start, end: end, typ: typ, mods: mods})
		}
	}
	sort.Slice(toks, func(i, j int) bool { return toks[i].start < toks[j].start })
	var data []uint32
	prevLine, prevChar := 0, 0
	emit := func(start, end, typ, mods int) {
		if end <= start {
			return
		}
		p := t.position(start)
		n := utf16Len(t.src[start:end])
		dl := p.Line - prevLine
		dc := p.Character
		if dl == 0 {
			dc -= prevChar
		}
		data = append(data, uint32(dl), uint32(dc), uint32(n), uint32(typ), uint32(mods))
		prevLine, prevChar = p.Line, p.Character
	}
	for _, tk := range toks {
		// Tokens may not span lines: split at newlines.
		s := tk.start
		for s < tk.end {
			e := bytes.IndexByte(t.src[s:tk.end], '\n')
			if e < 0 {
				emit(s, tk.end, tk.typ, tk.mods)
				break
			}
			line := s + e
			if line > s && t.src[line-1] == '\r' {
				emit(s, line-1, tk.typ, tk.mods)
			} else {
				emit(s, line, tk.typ, tk.mods)
			}
			s = line + 1
		}
	}
	if data == nil {
		data = []uint32{}
	}
	return data
}
