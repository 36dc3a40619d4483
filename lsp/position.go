package lsp

import (
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// text is a document's content with an index of its line starts, to
// convert between byte offsets (what HCL ranges carry) and LSP positions
// (lines and UTF-16 code units).
type text struct {
	src   []byte
	lines []int // byte offset of each line's start
}

func newText(src []byte) *text {
	t := &text{src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

// position returns the LSP position of a byte offset.
func (t *text) position(off int) Position {
	off = max(0, min(off, len(t.src)))
	line := sort.Search(len(t.lines), func(i int) bool { return t.lines[i] > off }) - 1
	return Position{Line: line, Character: utf16Len(t.src[t.lines[line]:off])}
}

// offset returns the byte offset of an LSP position. A character past
// the end of its line is the end of the line; a line past the end is the
// end of the text.
func (t *text) offset(p Position) int {
	if p.Line < 0 {
		return 0
	}
	if p.Line >= len(t.lines) {
		return len(t.src)
	}
	start := t.lines[p.Line]
	end := len(t.src)
	if p.Line+1 < len(t.lines) {
		end = t.lines[p.Line+1] - 1 // the newline
	}
	units := 0
	for i := start; i < end; {
		if units >= p.Character {
			return i
		}
		r, size := utf8.DecodeRune(t.src[i:end])
		if r == '\r' && i+size == end {
			return i
		}
		units += utf16RuneLen(r)
		i += size
	}
	return end
}

// rangeOf returns the LSP range of an HCL range of this text.
func (t *text) rangeOf(r hcl.Range) Range {
	return Range{Start: t.position(r.Start.Byte), End: t.position(r.End.Byte)}
}

func (t *text) span(start, end int) Range {
	return Range{Start: t.position(start), End: t.position(end)}
}

func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		n += utf16RuneLen(r)
		b = b[size:]
	}
	return n
}

func utf16RuneLen(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // an invalid byte is one U+FFFD
}

// applyChange applies one textDocument/didChange content change.
func (t *text) applyChange(c contentChange) *text {
	if c.Range == nil {
		return newText([]byte(c.Text))
	}
	start, end := t.offset(c.Range.Start), t.offset(c.Range.End)
	if end < start {
		start, end = end, start
	}
	src := make([]byte, 0, len(t.src)-(end-start)+len(c.Text))
	src = append(src, t.src[:start]...)
	src = append(src, c.Text...)
	src = append(src, t.src[end:]...)
	return newText(src)
}

// uriToPath turns a file: URI into a path; other URIs are kept as they
// are (they name documents that are not files, such as unsaved buffers).
func uriToPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return uri
	}
	p := u.Path
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' { // file:///C:/...
		p = p[1:]
	}
	return filepath.FromSlash(p)
}

// pathToURI turns an absolute path into a file: URI.
func pathToURI(path string) string {
	if !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
