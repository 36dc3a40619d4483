package lsp

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// This file reads the structure of a workflow file from HCL's tokens
// rather than its syntax tree: while the user types, the file is rarely
// valid (`task.` or an unterminated `uses = "te`), and the parser then
// drops whole blocks, but the tokens still say which blocks enclose the
// cursor, which attribute or object key it is in, and which names are
// declared. Completion, hover, definition, references, symbols and
// semantic tokens all work from this outline.

// block is a block of the file (or the file itself, the root, with an
// empty type).
type block struct {
	typ         string
	typeRange   hcl.Range
	labels      []string
	labelRanges []hcl.Range
	start, end  int // from its type to its closing brace (or the end of the file)
	attrs       map[string]*attr
	children    []*block
	parent      *block
}

// attr is an attribute of a block.
type attr struct {
	name       string
	nameRange  hcl.Range
	start, end int // its expression
	// str is the value when it is one plain quoted string (isStr).
	str   string
	isStr bool
	// trav is the value when it is a plain traversal (workflow.x).
	trav []string
	toks int // tokens of the expression seen so far
}

func (b *block) label() string {
	if len(b.labels) > 0 {
		return b.labels[0]
	}
	return ""
}

// labelRange is where the block's name is, else its type.
func (b *block) labelRange() hcl.Range {
	if len(b.labelRanges) > 0 {
		return b.labelRanges[0]
	}
	return b.typeRange
}

// ancestor returns the nearest enclosing block (or b) of type typ.
func (b *block) ancestor(typ string) *block {
	for ; b != nil; b = b.parent {
		if b.typ == typ {
			return b
		}
	}
	return nil
}

// each calls fn for every block under b, depth first, in file order.
func (b *block) each(fn func(*block)) {
	for _, c := range b.children {
		fn(c)
		c.each(fn)
	}
}

type frameKind int

const (
	frameBlock frameKind = iota
	frameObject
	frameTuple
	frameParen
	frameInterp
	frameQuote
	frameHeredoc
)

// Statement states of a block frame.
const (
	stmtStart  = iota // before a statement
	stmtHeader        // after a name: an attribute (=) or a block (labels, {)
	stmtExpr          // in an attribute's expression
	stmtSkip          // in something unreadable, until the end of the line
)

type frame struct {
	kind frameKind
	blk  *block
	// block frames
	state  int
	header []hclsyntax.Token
	cur    *attr
	// object frames
	owner   *attr // the attribute whose whole value the object is
	keys    []string
	keyPos  bool
	pending string
	curKey  string
}

// cursor is what surrounds a position: the enclosing blocks, and where
// in a statement, expression or object the position is.
type cursor struct {
	off    int
	blocks []*block // innermost last; the root excluded
	kind   frameKind
	// stmtStart: at the start of a statement of the innermost block,
	// where block and attribute names go.
	stmtStart bool
	// attr is the attribute of the innermost block whose expression holds
	// the position.
	attr *attr
	// obj is the object frame the position is directly in (keys are
	// complete once the scan ends), keyPos whether it is where a key goes,
	// and valueKey the key whose value it is in.
	obj      *frame
	keyPos   bool
	valueKey string
	// inString: in a quoted string that starts at strStart.
	inString bool
	strStart int
}

func (c *cursor) block() *block {
	if len(c.blocks) == 0 {
		return nil
	}
	return c.blocks[len(c.blocks)-1]
}

// outline is a file read from its tokens.
type outline struct {
	src    []byte
	toks   hclsyntax.Tokens
	root   *block
	chains []chain
	cursor *cursor // when asked for
}

// chain is a traversal: a name followed by .name steps.
type chain struct {
	parts  []string
	ranges []hcl.Range
}

func (c chain) root() string { return c.parts[0] }

// lex returns the tokens of src. A quoted string that runs past the end
// of its line (the user is typing it) ends there, and lexing starts again
// on the next line, so that the rest of the file reads as it will once
// the string is closed.
func lex(src []byte, filename string) hclsyntax.Tokens {
	var out hclsyntax.Tokens
	base := 0
	for {
		toks, _ := hclsyntax.LexConfig(src[base:], filename, hcl.Pos{Byte: base, Line: 1, Column: 1})
		cut := -1
		for i, t := range toks {
			if t.Type == hclsyntax.TokenQuotedNewline {
				cut = i
				break
			}
		}
		if cut < 0 {
			return append(out, toks...)
		}
		nl := toks[cut]
		out = append(out, toks[:cut]...)
		end := nl.Range.Start
		out = append(out, hclsyntax.Token{Type: hclsyntax.TokenCQuote, Range: hcl.Range{Filename: filename, Start: end, End: end}})
		out = append(out, hclsyntax.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n"), Range: nl.Range})
		base = nl.Range.End.Byte
	}
}

// readOutline reads src; when at >= 0 it also records the cursor there.
func readOutline(src []byte, filename string, at int) *outline {
	o := &outline{src: src, toks: lex(src, filename)}
	o.root = &block{attrs: map[string]*attr{}, end: len(src)}
	stack := []*frame{{kind: frameBlock, blk: o.root}}
	top := func() *frame { return stack[len(stack)-1] }
	push := func(f *frame) { stack = append(stack, f) }
	// pop closes frames up to and including the innermost of kind k
	// (never the root).
	pop := func(k frameKind, end int) {
		for i := len(stack) - 1; i > 0; i-- {
			if stack[i].kind != k {
				continue
			}
			for j := len(stack) - 1; j >= i; j-- {
				if f := stack[j]; f.kind == frameBlock {
					f.blk.end = end
					if f.cur != nil {
						f.cur.end = end - 1
					}
				}
			}
			stack = stack[:i]
			return
		}
	}
	snap := func(inString bool, strStart int) {
		if o.cursor != nil || at < 0 {
			return
		}
		c := &cursor{off: at, inString: inString, strStart: strStart}
		t := top()
		c.kind = t.kind
		for _, f := range stack[1:] {
			if f.kind == frameBlock {
				c.blocks = append(c.blocks, f.blk)
			}
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if f := stack[i]; f.kind == frameBlock {
				if f.state == stmtExpr {
					c.attr = f.cur
				}
				c.stmtStart = i == len(stack)-1 && (f.state == stmtStart || f.state == stmtHeader && len(f.header) == 1 && f.header[0].Range.End.Byte >= at)
				break
			}
		}
		if t.kind == frameObject || inString && len(stack) > 1 && t.kind == frameBlock {
			if t.kind == frameObject {
				c.obj = t
				c.keyPos = t.keyPos || t.pending != "" && t.pending == wordBefore(src, at)
				if !c.keyPos {
					c.valueKey = t.curKey
				}
			}
		}
		o.cursor = c
	}
	// expr notes a token of the current attribute's expression.
	expr := func(f *frame, t hclsyntax.Token) {
		if f.kind != frameBlock || f.cur == nil {
			return
		}
		a := f.cur
		a.toks++
		a.end = t.Range.End.Byte
		switch {
		case t.Type == hclsyntax.TokenIdent && (a.toks == 1 || len(a.trav) > 0 && a.toks == 2*len(a.trav)+1):
			a.trav = append(a.trav, string(t.Bytes))
		case t.Type == hclsyntax.TokenDot && len(a.trav) > 0 && a.toks == 2*len(a.trav):
		default:
			a.trav = nil
			a.isStr = false
		}
	}
	toks := o.toks
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if at >= 0 && o.cursor == nil && (t.Range.End.Byte > at || t.Type == hclsyntax.TokenEOF ||
			t.Range.End.Byte == at && (t.Type == hclsyntax.TokenIdent || t.Type == hclsyntax.TokenNumberLit)) {
			snap(false, 0)
		}
		f := top()
		// A plain quoted string is read as one unit.
		if t.Type == hclsyntax.TokenOQuote {
			j, lit := i+1, ""
			if j < len(toks) && toks[j].Type == hclsyntax.TokenQuotedLit {
				lit = string(toks[j].Bytes)
				j++
			}
			if j < len(toks) && toks[j].Type == hclsyntax.TokenCQuote {
				closeQ := toks[j]
				if at > t.Range.Start.Byte && at <= closeQ.Range.Start.Byte {
					snap(true, t.Range.End.Byte)
				}
				rng := hcl.Range{Filename: t.Range.Filename, Start: t.Range.Start, End: closeQ.Range.End}
				o.plainString(f, lit, rng, &stack, expr, closeQ)
				i = j
				continue
			}
			push(&frame{kind: frameQuote})
			expr(f, t)
			continue
		}
		switch f.kind {
		case frameQuote:
			switch t.Type {
			case hclsyntax.TokenCQuote:
				pop(frameQuote, t.Range.End.Byte)
			case hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
				push(&frame{kind: frameInterp})
			}
			continue
		case frameHeredoc:
			switch t.Type {
			case hclsyntax.TokenCHeredoc:
				pop(frameHeredoc, t.Range.End.Byte)
			case hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
				push(&frame{kind: frameInterp})
			}
			continue
		case frameBlock:
			if o.blockToken(f, t, push, pop, expr) {
				continue
			}
		case frameObject:
			o.objectToken(f, t)
		}
		// Brackets, in expressions.
		switch t.Type {
		case hclsyntax.TokenOBrace:
			nf := &frame{kind: frameObject, keyPos: true}
			if f.kind == frameBlock && f.cur != nil && f.cur.toks == 0 {
				nf.owner = f.cur
			}
			expr(f, t)
			push(nf)
		case hclsyntax.TokenCBrace:
			pop(frameObject, t.Range.End.Byte)
			expr(top(), t)
		case hclsyntax.TokenOBrack:
			expr(f, t)
			push(&frame{kind: frameTuple})
		case hclsyntax.TokenCBrack:
			pop(frameTuple, t.Range.End.Byte)
		case hclsyntax.TokenOParen:
			expr(f, t)
			push(&frame{kind: frameParen})
		case hclsyntax.TokenCParen:
			pop(frameParen, t.Range.End.Byte)
		case hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			push(&frame{kind: frameInterp})
		case hclsyntax.TokenTemplateSeqEnd:
			pop(frameInterp, t.Range.End.Byte)
		case hclsyntax.TokenOHeredoc:
			expr(f, t)
			push(&frame{kind: frameHeredoc})
		default:
			if f.kind == frameBlock {
				expr(f, t)
			}
		}
	}
	if at >= 0 && o.cursor == nil {
		snap(false, 0)
	}
	o.chains = chains(toks)
	return o
}

// plainString handles a whole quoted string without interpolation: a
// block label, an attribute's value, or an object key.
func (o *outline) plainString(f *frame, lit string, rng hcl.Range, stack *[]*frame, expr func(*frame, hclsyntax.Token), closeQ hclsyntax.Token) {
	switch f.kind {
	case frameBlock:
		switch f.state {
		case stmtHeader:
			f.header = append(f.header, hclsyntax.Token{Type: hclsyntax.TokenQuotedLit, Bytes: []byte(lit), Range: rng})
			return
		case stmtExpr:
			if f.cur != nil && f.cur.toks == 0 {
				expr(f, hclsyntax.Token{Type: hclsyntax.TokenQuotedLit, Range: rng})
				f.cur.str, f.cur.isStr = lit, true
				return
			}
			expr(f, hclsyntax.Token{Type: hclsyntax.TokenQuotedLit, Range: rng})
			return
		default:
			f.state = stmtSkip
		}
	case frameObject:
		if f.keyPos {
			f.pending, f.keyPos = lit, false
		}
	}
}

// blockToken advances a block frame's statement; it reports whether the
// token was used up.
func (o *outline) blockToken(f *frame, t hclsyntax.Token, push func(*frame), pop func(frameKind, int), expr func(*frame, hclsyntax.Token)) bool {
	newline := t.Type == hclsyntax.TokenNewline || t.Type == hclsyntax.TokenComment && bytes.HasSuffix(t.Bytes, []byte("\n"))
	switch f.state {
	case stmtStart, stmtSkip:
		switch {
		case newline:
			f.state = stmtStart
		case t.Type == hclsyntax.TokenComment:
		case t.Type == hclsyntax.TokenCBrace:
			pop(frameBlock, t.Range.End.Byte)
		case t.Type == hclsyntax.TokenIdent && f.state == stmtStart:
			f.state, f.header = stmtHeader, []hclsyntax.Token{t}
		case t.Type == hclsyntax.TokenEOF:
		default:
			f.state = stmtSkip
		}
		return true
	case stmtHeader:
		switch {
		case t.Type == hclsyntax.TokenIdent:
			f.header = append(f.header, t)
		case t.Type == hclsyntax.TokenOBrace:
			h := f.header
			b := &block{typ: string(h[0].Bytes), typeRange: h[0].Range, start: h[0].Range.Start.Byte, end: len(o.src), attrs: map[string]*attr{}, parent: f.blk}
			for _, l := range h[1:] {
				b.labels = append(b.labels, string(l.Bytes))
				b.labelRanges = append(b.labelRanges, l.Range)
			}
			f.blk.children = append(f.blk.children, b)
			f.state, f.header = stmtStart, nil
			push(&frame{kind: frameBlock, blk: b})
		case t.Type == hclsyntax.TokenEqual && len(f.header) == 1:
			a := &attr{name: string(f.header[0].Bytes), nameRange: f.header[0].Range, start: t.Range.End.Byte, end: t.Range.End.Byte}
			f.blk.attrs[a.name] = a
			f.cur, f.state, f.header = a, stmtExpr, nil
		case newline:
			f.state, f.header = stmtStart, nil
		case t.Type == hclsyntax.TokenCBrace:
			f.state, f.header = stmtStart, nil
			pop(frameBlock, t.Range.End.Byte)
		default:
			f.state = stmtSkip
		}
		return true
	case stmtExpr:
		switch {
		case newline:
			f.state, f.cur = stmtStart, nil
			return true
		case t.Type == hclsyntax.TokenCBrace:
			f.state, f.cur = stmtStart, nil
			pop(frameBlock, t.Range.End.Byte)
			return true
		}
	}
	return false
}

// objectToken tracks the keys of an object.
func (o *outline) objectToken(f *frame, t hclsyntax.Token) {
	switch t.Type {
	case hclsyntax.TokenComma, hclsyntax.TokenNewline:
		f.keyPos, f.pending = true, ""
	case hclsyntax.TokenComment:
		if bytes.HasSuffix(t.Bytes, []byte("\n")) {
			f.keyPos, f.pending = true, ""
		}
	case hclsyntax.TokenIdent:
		if f.keyPos {
			f.pending, f.keyPos = string(t.Bytes), false
		}
	case hclsyntax.TokenEqual, hclsyntax.TokenColon:
		if f.pending != "" {
			f.keys = append(f.keys, f.pending)
			f.curKey, f.pending = f.pending, ""
		}
	default:
		f.keyPos = false
	}
}

// wordBefore returns the identifier that ends at off.
func wordBefore(src []byte, off int) string {
	i := off
	for i > 0 && isIdentByte(src[i-1]) {
		i--
	}
	return string(src[i:off])
}

func isIdentByte(b byte) bool {
	return b == '_' || b == '-' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

// chains finds the traversals of the file that start with a name goflyte
// gives meaning to (input, task, branch, each, workflow).
func chains(toks hclsyntax.Tokens) []chain {
	var out []chain
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Type != hclsyntax.TokenIdent || i > 0 && toks[i-1].Type == hclsyntax.TokenDot {
			continue
		}
		switch string(t.Bytes) {
		case "input", "task", "branch", "each", "workflow":
		default:
			continue
		}
		c := chain{parts: []string{string(t.Bytes)}, ranges: []hcl.Range{t.Range}}
		j := i + 1
		for j+1 < len(toks) && toks[j].Type == hclsyntax.TokenDot && toks[j+1].Type == hclsyntax.TokenIdent {
			c.parts = append(c.parts, string(toks[j+1].Bytes))
			c.ranges = append(c.ranges, toks[j+1].Range)
			j += 2
		}
		if len(c.parts) > 1 {
			out = append(out, c)
		}
		i = j - 1
	}
	return out
}

// chainAt returns the chain whose name or step holds off, and the index of
// that step.
func (o *outline) chainAt(off int) (chain, int, bool) {
	for _, c := range o.chains {
		for i, r := range c.ranges {
			if off >= r.Start.Byte && off <= r.End.Byte {
				return c, i, true
			}
		}
	}
	return chain{}, 0, false
}

// blockAt returns the innermost block holding off (the root if none).
func (o *outline) blockAt(off int) *block {
	b := o.root
	for {
		var next *block
		for _, c := range b.children {
			if off >= c.start && off < c.end {
				next = c
			}
		}
		if next == nil {
			return b
		}
		b = next
	}
}
