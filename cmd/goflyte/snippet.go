package main

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// maxSnippetLine is how many bytes of a source line a diagnostic's snippet
// shows. hcl's text writer prints every line of the snippet whole, so an
// error in a file with a megabyte-long line (generated JSON-like HCL, or
// the 100,000 brackets of a nesting error) would echo all of it.
const maxSnippetLine = 240

// ellipsis marks where shortSnippet cut a line.
const ellipsis = "…"

// shortSnippet returns files and d as hcl's text writer should see them so
// that no line of d's snippet is longer than maxSnippetLine (plus the
// ellipses): when one is, d's file is replaced in a copy of files by a
// stand-in holding only the snippet's lines, each long one cut to a window
// around the subject and marked with "…", with blank lines before them so
// that line numbers stay right, and d's ranges are moved to match.
// Otherwise files and d are returned as they are.
func shortSnippet(files map[string]*hcl.File, d *hcl.Diagnostic) (map[string]*hcl.File, *hcl.Diagnostic) {
	if d.Subject == nil {
		return files, d
	}
	f := files[d.Subject.Filename]
	if f == nil || f.Bytes == nil {
		return files, d
	}
	src := f.Bytes
	snip := *d.Subject
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	start := min(max(snip.Start.Byte, 0), len(src))
	end := min(max(snip.End.Byte+1, start), len(src)) // +1: the writer widens empty ranges
	first := bytes.LastIndexByte(src[:start], '\n') + 1
	last := len(src)
	if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
		last = end + i
	}
	long := false
	for _, line := range bytes.Split(src[first:last], []byte{'\n'}) {
		if len(line) > maxSnippetLine {
			long = true
			break
		}
	}
	if !long {
		return files, d
	}

	// The stand-in: blank lines up to the first line, then each line of
	// the snippet, cut when long. moves maps the original offsets of
	// d's ranges to the stand-in's.
	var buf bytes.Buffer
	buf.Write(bytes.Repeat([]byte{'\n'}, bytes.Count(src[:first], []byte{'\n'})))
	hs := d.Subject.Start.Byte
	type cut struct{ ls, le, a, b, at, pre int } // line, kept window, where it went, prefix length
	var cuts []cut
	for ls := first; ls <= last; {
		le := last
		if i := bytes.IndexByte(src[ls:last], '\n'); i >= 0 {
			le = ls + i
		}
		a, b := ls, le
		if le-ls > maxSnippetLine {
			// A window around the subject's start on this line.
			a = min(max(hs, ls), le) - maxSnippetLine/3
			a = max(a, ls)
			b = min(a+maxSnippetLine, le)
			a = max(ls, b-maxSnippetLine)
			for a < b && !utf8.RuneStart(src[a]) {
				a++
			}
			for b < le && b > a && !utf8.RuneStart(src[b]) {
				b--
			}
		}
		c := cut{ls: ls, le: le, a: a, b: b, at: buf.Len()}
		if a > ls {
			buf.WriteString(ellipsis)
			c.pre = len(ellipsis)
		}
		buf.Write(src[a:b])
		if b < le {
			buf.WriteString(ellipsis)
		}
		cuts = append(cuts, c)
		if le == last {
			break
		}
		buf.WriteByte('\n')
		ls = le + 1
	}
	move := func(p hcl.Pos) hcl.Pos {
		for _, c := range cuts {
			if p.Byte > c.le && c.le != last {
				continue
			}
			switch {
			case p.Byte <= c.a:
				if p.Byte < c.a {
					p.Byte = c.at
				} else {
					p.Byte = c.at + c.pre
				}
			case p.Byte <= c.b:
				p.Byte = c.at + c.pre + p.Byte - c.a
			default: // cut off after the window: past its ellipsis
				p.Byte = c.at + c.pre + c.b - c.a + len(ellipsis)
			}
			return p
		}
		return p
	}
	nd := *d
	subj := *d.Subject
	subj.Start, subj.End = move(subj.Start), move(subj.End)
	nd.Subject = &subj
	if d.Context != nil {
		ctx := *d.Context
		ctx.Start, ctx.End = move(ctx.Start), move(ctx.End)
		nd.Context = &ctx
	}
	out := make(map[string]*hcl.File, len(files))
	for k, v := range files {
		out[k] = v
	}
	stand := &hcl.File{Body: f.Body, Bytes: buf.Bytes()}
	if cs, ok := f.Nav.(interface{ ContextString(int) string }); ok {
		stand.Nav = fixedContext(cs.ContextString(d.Subject.Start.Byte))
	}
	out[d.Subject.Filename] = stand
	return out, &nd
}

// fixedContext is the "in block ..." of a diagnostic whose file was
// replaced by a stand-in, worked out on the real file.
type fixedContext string

func (c fixedContext) ContextString(int) string { return string(c) }
