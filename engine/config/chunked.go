package config

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parsing a large file in pieces.
//
// hclsyntax lexes a whole file into one slice of tokens before it parses
// it: for a generated workflow of 10,000 task blocks (0.8 MB) that slice
// grows to about 30 MB by repeated doubling, 160 MB allocated in all, and
// on a virtual machine where fresh memory is slow (page faults) lexing
// alone took 0.4-1.2 s, most of a fully cached re-run (issue 17).
// parseChunked cuts the body of each large top-level block into pieces
// of whole items (attributes and nested blocks) and parses the pieces on
// their own, in parallel, each with its start position so that every
// range is what a parse of the whole file gives. What is left of the file
// (the headers of the blocks, whatever lies outside them, the lines after
// the opening brace and before the closing one) is parsed as a skeleton
// in which the pieces' bytes are a comment of the same lines, and the
// pieces' items are put into the skeleton's blocks. Where a piece or the
// skeleton has any diagnostic, or two pieces set the same attribute,
// ParseHCL parses the whole file the usual way, so that errors are
// exactly hclsyntax's; TestParseChunkedSame checks that the result equals
// the usual parse.

// chunkedMin is the size from which ParseHCL parses a file in pieces, and
// chunkSize about the size of one piece. Variables, so that tests can
// cut small files.
var (
	chunkedMin = 256 << 10
	chunkSize  = 32 << 10
)

// parseChunked parses src as hclsyntax.ParseConfig does, in pieces; ok is
// false when it did not (no large block to cut, or any problem), and the
// caller parses src whole.
func parseChunked(src []byte, filename string) (f *hcl.File, ok bool) {
	var blocks []topBlock
	if scanHCL(src, MaxNesting, &blocks) >= 0 {
		return nil, false
	}
	type piece struct {
		start, end int
		pos        hcl.Pos
		body       *hclsyntax.Body
		bad        bool
	}
	type cutBlock struct {
		open   int
		pieces []*piece
	}
	var cut []cutBlock
	var skeleton []byte
	line, lineAt := 1, 0 // the line of offset lineAt
	lineOf := func(off int) int {
		line += bytes.Count(src[lineAt:off], []byte{'\n'})
		lineAt = off
		return line
	}
	for _, b := range blocks {
		if len(b.cuts) < 2 || b.cuts[len(b.cuts)-1]-b.cuts[0] < chunkSize {
			continue
		}
		first, last := b.cuts[0], b.cuts[len(b.cuts)-1]
		// The comment that stands for the pieces in the skeleton starts
		// and ends on two bytes that are not line ends.
		from := first
		for from+1 < last && (isLineEnd(src[from]) || isLineEnd(src[from+1])) {
			from++
		}
		to := last - 1 // the newline before last
		for to-2 >= from+2 && (isLineEnd(src[to-1]) || isLineEnd(src[to-2])) {
			to--
		}
		if to-2 < from+2 {
			continue
		}
		if skeleton == nil {
			skeleton = bytes.Clone(src)
		}
		for i := first; i < last-1; i++ {
			if src[i] != '\n' {
				skeleton[i] = ' '
			}
		}
		copy(skeleton[from:], "/*")
		copy(skeleton[to-2:], "*/")
		cb := cutBlock{open: b.open}
		start := first
		for i, c := range b.cuts[1:] {
			if c-start < chunkSize && i < len(b.cuts)-2 {
				continue
			}
			cb.pieces = append(cb.pieces, &piece{start: start, end: c, pos: hcl.Pos{Line: lineOf(start), Column: 1, Byte: start}})
			start = c
		}
		cut = append(cut, cb)
	}
	if cut == nil {
		return nil, false
	}
	var all []*piece
	for _, cb := range cut {
		all = append(all, cb.pieces...)
	}
	work := make(chan *piece)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(all)) {
		wg.Go(func() {
			for p := range work {
				pf, diags := hclsyntax.ParseConfig(src[p.start:p.end], filename, p.pos)
				p.body, _ = pf.Body.(*hclsyntax.Body)
				p.bad = len(diags) > 0 || p.body == nil
			}
		})
	}
	var sf *hcl.File
	var sdiags hcl.Diagnostics
	wg.Go(func() { sf, sdiags = hclsyntax.ParseConfig(skeleton, filename, hcl.InitialPos) })
	for _, p := range all {
		work <- p
	}
	close(work)
	wg.Wait()
	if len(sdiags) > 0 {
		return nil, false
	}
	root, _ := sf.Body.(*hclsyntax.Body)
	if root == nil {
		return nil, false
	}
	for _, cb := range cut {
		var blk *hclsyntax.Block
		for _, rb := range root.Blocks {
			if rb.OpenBraceRange.Start.Byte == cb.open {
				blk = rb
			}
		}
		if blk == nil || len(blk.Body.Attributes) > 0 || len(blk.Body.Blocks) > 0 {
			return nil, false
		}
		attrs := hclsyntax.Attributes{}
		items := hclsyntax.Blocks{}
		for _, p := range cb.pieces {
			if p.bad {
				return nil, false
			}
			for name, a := range p.body.Attributes {
				if _, dup := attrs[name]; dup {
					return nil, false // "Attribute redefined": hclsyntax says it
				}
				attrs[name] = a
			}
			items = append(items, p.body.Blocks...)
		}
		blk.Body.Attributes, blk.Body.Blocks = attrs, items
	}
	sf.Bytes = src
	return sf, true
}

func isLineEnd(c byte) bool { return c == '\n' || c == '\r' }
