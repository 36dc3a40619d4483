package lsp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine"
)

func (s *server) hover(params json.RawMessage) (any, error) {
	var p textDocumentPositionParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	v, off, err := s.viewAt(p, true)
	if err != nil {
		return nil, err
	}
	text, start, end := v.hoverAt(off)
	if text == "" {
		return nil, nil
	}
	rng := v.doc.text.span(start, end)
	return Hover{Contents: *markdown(text), Range: &rng}, nil
}

func (v *view) hoverAt(off int) (string, int, int) {
	c := v.o.cursor
	at := c.block()
	if at == nil {
		at = v.o.root
	}
	wb := at.ancestor("workflow")
	// A reference: its type (and doc).
	if ch, i, ok := v.o.chainAt(off); ok && wb != nil {
		start, end := ch.ranges[0].Start.Byte, ch.ranges[i].End.Byte
		if doc := v.refDoc(at, wb, ch, i); doc != "" {
			return doc, start, end
		}
	}
	// uses = "plugin.task": the task's doc and schema.
	if a := at.attrs["uses"]; a != nil && a.isStr && at.typ == "task" && off >= a.start && off <= a.end {
		if ts, ok := v.task(a.str); ok {
			_, version := v.pluginVersion(a.str)
			return taskDoc(a.str, version, ts), a.start, a.end
		}
	}
	// A key of inputs = { }: the input's type and doc.
	word, ws, we := wordAt(v.doc.text.src, off)
	if word != "" && at.typ == "task" && wb != nil {
		if a := at.attrs["inputs"]; a != nil && off >= a.start && off <= a.end && followedByEqual(v.doc.text.src, we) {
			if _, f := v.inputType(wb, at, word); f != nil {
				req := "required"
				if f.Optional {
					req = "optional"
				}
				doc := fmt.Sprintf("**input %s** (%s, %s)", f.Name, f.Type, req)
				if f.Doc != "" {
					doc += "\n\n" + f.Doc
				}
				return doc, ws, we
			}
		}
	}
	// A block or attribute name: the language's documentation.
	if word != "" {
		for _, b := range []*block{at, at.parent} {
			if b == nil {
				continue
			}
			for _, ch := range b.children {
				if ch.typeRange.Start.Byte == ws {
					if k, ok := findKeyword(b.typ, word); ok {
						return fmt.Sprintf("**%s** block\n\n%s", k.name, k.doc), ws, we
					}
				}
			}
		}
		if a := at.attrs[word]; a != nil && a.nameRange.Start.Byte == ws {
			if k, ok := findKeyword(at.typ, word); ok {
				return fmt.Sprintf("**%s**\n\n%s", k.name, k.doc), ws, we
			}
		}
	}
	return "", 0, 0
}

func (v *view) pluginVersion(uses string) (string, string) {
	p, _, _ := strings.Cut(uses, ".")
	if d := v.schemas[p]; d != nil && d.schema != nil {
		return p, d.schema.Version
	}
	return p, ""
}

// refDoc describes the reference ch up to step i.
func (v *view) refDoc(at, wb *block, ch chain, i int) string {
	show := func(path string, ty cty.Type, doc string) string {
		s := fmt.Sprintf("`%s`: `%s`", path, engine.TypeString(ty))
		if doc != "" {
			s += "\n\n" + doc
		}
		return s
	}
	path := strings.Join(ch.parts[:i+1], ".")
	if i == 0 {
		return ""
	}
	name := ch.parts[1]
	switch ch.root() {
	case "input":
		for _, n := range v.inputs(wb) {
			if n.name == name {
				return show(path, n.ty, n.doc)
			}
		}
	case "task":
		for _, n := range v.tasks(wb, at, name) {
			if n.name != name {
				continue
			}
			if i == 1 {
				doc := "Task `" + name + "`"
				if n.detail != "" {
					doc += " (" + n.detail + ")"
				}
				return show(path, n.ty, doc)
			}
			for _, o := range v.taskOutputs(wb, n.decl) {
				if o.name == ch.parts[2] {
					return show(path, o.ty, o.doc)
				}
			}
		}
	case "branch":
		for _, n := range v.branches(wb, at) {
			if n.name != name {
				continue
			}
			if i == 1 {
				return show(path, n.ty, "")
			}
			for _, o := range attrsOf(n.ty) {
				if o.name == ch.parts[2] {
					return show(path, o.ty, "")
				}
			}
		}
	case "each":
		if task := at.ancestor("task"); task != nil {
			for _, n := range v.each(wb, task) {
				if n.name == name {
					return show(path, n.ty, n.doc)
				}
			}
		}
	case "workflow":
		if w := v.findWorkflow(name); w != nil {
			return workflowDoc(*w)
		}
	}
	return ""
}

func wordAt(src []byte, off int) (string, int, int) {
	s, e := off, off
	for s > 0 && isIdentByte(src[s-1]) {
		s--
	}
	for e < len(src) && isIdentByte(src[e]) {
		e++
	}
	return string(src[s:e]), s, e
}

func followedByEqual(src []byte, off int) bool {
	for off < len(src) && (src[off] == ' ' || src[off] == '\t') {
		off++
	}
	return off < len(src) && (src[off] == '=' && (off+1 >= len(src) || src[off+1] != '=') || src[off] == ':')
}

// target is what a reference or a declaration names.
type target struct {
	kind string // input, task, branch, workflow
	name string
	wb   *block // the workflow whose names these are (nil for workflow)
}

// targetAt finds the declaration or reference at off.
func (v *view) targetAt(off int) (target, bool) {
	at := v.o.blockAt(off)
	wb := at.ancestor("workflow")
	if ch, i, ok := v.o.chainAt(off); ok {
		switch root := ch.root(); root {
		case "input", "task", "branch":
			if wb != nil && i >= 0 {
				return target{kind: root, name: ch.parts[1], wb: wb}, true
			}
		case "workflow":
			return target{kind: "workflow", name: ch.parts[1]}, true
		}
	}
	// On the label of a declaration.
	var found *block
	v.o.root.each(func(b *block) {
		for _, r := range b.labelRanges {
			if off >= r.Start.Byte && off <= r.End.Byte {
				found = b
			}
		}
	})
	if found != nil {
		switch found.typ {
		case "input", "task", "branch":
			if w := found.ancestor("workflow"); w != nil {
				return target{kind: found.typ, name: found.label(), wb: w}, true
			}
		case "workflow":
			return target{kind: "workflow", name: found.label()}, true
		}
	}
	return target{}, false
}

func (s *server) definition(params json.RawMessage) (any, error) {
	var p textDocumentPositionParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	v, off, err := s.viewAt(p, false)
	if err != nil {
		return nil, err
	}
	t, ok := v.targetAt(off)
	if !ok {
		return nil, nil
	}
	locs := v.declarations(t)
	if len(locs) == 0 {
		return nil, nil
	}
	return locs, nil
}

// declarations returns where t is declared.
func (v *view) declarations(t target) []Location {
	var out []Location
	if t.kind == "workflow" {
		seen := map[string]bool{}
		for _, w := range v.allWorkflows() {
			if w.wf.Name != t.name || seen[w.path] {
				continue
			}
			seen[w.path] = true
			o := readOutline(w.src, w.path, -1)
			for _, b := range o.root.children {
				if b.typ == "workflow" && b.label() == t.name {
					out = append(out, Location{URI: v.uriOf(w.path), Range: newText(w.src).rangeOf(b.labelRange())})
				}
			}
			break // the first found is the one calls use
		}
		return out
	}
	t.wb.each(func(b *block) {
		if b.typ == t.kind && b.label() == t.name && (t.kind != "input" || b.parent == t.wb) {
			out = append(out, Location{URI: v.doc.uri, Range: v.doc.text.rangeOf(b.labelRange())})
		}
	})
	return out
}

// uriOf is the URI of path: the open document's own URI when it is open.
func (v *view) uriOf(path string) string {
	if path == v.doc.path {
		return v.doc.uri
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	for _, d := range v.s.docs {
		if d.path == path {
			return d.uri
		}
	}
	return pathToURI(path)
}

func (s *server) references(params json.RawMessage) (any, error) {
	var p referenceParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	v, off, err := s.viewAt(p.textDocumentPositionParams, false)
	if err != nil {
		return nil, err
	}
	t, ok := v.targetAt(off)
	if !ok {
		return []Location{}, nil
	}
	var out []Location
	if p.Context.IncludeDeclaration {
		out = append(out, v.declarations(t)...)
	}
	refs := func(o *outline, uri string, tx *text, within *block) {
		for _, ch := range o.chains {
			if ch.root() != t.kind || ch.parts[1] != t.name {
				continue
			}
			if within != nil && (ch.ranges[0].Start.Byte < within.start || ch.ranges[0].Start.Byte >= within.end) {
				continue
			}
			out = append(out, Location{URI: uri, Range: tx.rangeOf(hcl.RangeBetween(ch.ranges[0], ch.ranges[1]))})
		}
	}
	if t.kind != "workflow" {
		refs(v.o, v.doc.uri, v.doc.text, t.wb)
		return out, nil
	}
	refs(v.o, v.doc.uri, v.doc.text, nil)
	for _, f := range s.workflowFiles(v.doc.path) {
		refs(readOutline(f.src, f.path, -1), v.uriOf(f.path), newText(f.src), nil)
	}
	return out, nil
}

// viewAt returns the view of the document of a position request and the
// byte offset of the position. typed asks for the types of what is
// written there (completion, hover): the plugins' schemas are refreshed
// and the view evaluates at the offset.
func (s *server) viewAt(p textDocumentPositionParams, typed bool) (*view, int, error) {
	if typed {
		s.ensureSchemas()
	}
	d, schemas, err := s.snapshot(p.TextDocument.URI)
	if err != nil {
		return nil, 0, err
	}
	off := d.text.offset(p.Position)
	at := -1
	if typed {
		at = off
	}
	return s.viewOf(d, schemas, at), off, nil
}
