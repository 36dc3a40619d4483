package lsp

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/plugin"
)

func (s *server) completion(params json.RawMessage) (any, error) {
	var p textDocumentPositionParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	v, off, err := s.viewAt(p, true)
	if err != nil {
		return nil, err
	}
	items := v.complete(off)
	if items == nil {
		items = []CompletionItem{}
	}
	return CompletionList{Items: items}, nil
}

// ensureSchemas describes the plugins once before the first request that
// needs them (the poller does it too; this waits for it).
func (s *server) ensureSchemas() {
	if len(s.cache.schemas()) == 0 {
		s.cache.refresh(s.ctx)
	}
}

// refPattern matches a reference being typed at the end of a line:
// root, then one or two steps, the last possibly empty.
var refPattern = regexp.MustCompile(`(?:^|[^\w.\-])(input|task|branch|each|workflow)\.([\w\-]*)(?:\.([\w\-]*))?$`)

func (v *view) complete(off int) []CompletionItem {
	c := v.o.cursor
	src := v.doc.text.src
	lineStart := off
	for lineStart > 0 && src[lineStart-1] != '\n' {
		lineStart--
	}
	line := string(src[lineStart:off])
	at := c.block()
	if at == nil {
		at = v.o.root
	}
	wb := at.ancestor("workflow")

	// uses = "<plugin>.<task>", on_failure = "...": inside the string.
	if c.inString && c.attr != nil && (c.attr.name == "uses" && at.typ == "task" || c.attr.name == "on_failure" && at.typ == "workflow") {
		return v.usesItems(c, off, true)
	}
	if c.inString {
		return nil
	}
	// References: input., task., task.x., branch.x., each., workflow.
	if m := refPattern.FindStringSubmatchIndex(line); m != nil && wb != nil {
		return v.refItems(c, at, wb, line, m, off)
	}
	// The keys of inputs = { ... }: the inputs not written yet.
	if c.obj != nil && c.keyPos && c.obj.owner != nil && c.obj.owner.name == "inputs" && at.typ == "task" && wb != nil {
		return v.inputItems(c, at, wb, off)
	}
	if c.stmtStart {
		return v.keywordItems(at, off)
	}
	if c.attr != nil && (c.attr.name == "uses" && at.typ == "task" || c.attr.name == "on_failure" && at.typ == "workflow") {
		return v.usesItems(c, off, false)
	}
	if c.attr != nil && c.attr.name == "type" && at.typ == "input" {
		var items []CompletionItem
		start := off - len(wordBefore(src, off))
		for _, t := range typeNames {
			items = append(items, v.item(t, kindClass, "type", "", start, off, t))
		}
		return items
	}
	if c.attr != nil || c.obj != nil && !c.keyPos {
		return v.rootItems(at, off)
	}
	return nil
}

// item builds a completion item that replaces [start, end) with text.
func (v *view) item(label string, kind int, detail, doc string, start, end int, text string) CompletionItem {
	it := CompletionItem{Label: label, Kind: kind, Detail: detail, TextEdit: &TextEdit{Range: v.doc.text.span(start, end), NewText: text}}
	if doc != "" {
		it.Documentation = markdown(doc)
	}
	return it
}

// usesItems offers every installed plugin task and every workflow.
func (v *view) usesItems(c *cursor, off int, inString bool) []CompletionItem {
	src := v.doc.text.src
	var items []CompletionItem
	start, end := off, off
	if inString {
		start = c.strStart
		for end < len(src) && (isIdentByte(src[end]) || src[end] == '.') {
			end++
		}
	} else {
		start = off - len(wordBefore(src, off))
	}
	for _, r := range taskIDs(v.schemas) {
		text := r.id()
		if !inString {
			text = `"` + text + `"`
		}
		it := v.item(r.id(), kindFunction, fmt.Sprintf("%s task of plugin %s", r.task.Kind, r.plugin), taskDoc(r.id(), r.version, r.task), start, end, text)
		it.FilterText = r.id()
		if !inString {
			it.FilterText = text
		}
		items = append(items, it)
	}
	// workflow.<name> replaces the whole string, quotes included.
	wstart, wend := start, end
	if inString {
		wstart = c.strStart - 1
		if wend < len(src) && src[wend] == '"' {
			wend++
		}
	}
	self := ""
	if wb := c.block(); wb != nil {
		if w := wb.ancestor("workflow"); w != nil {
			self = w.label()
		}
	}
	seen := map[string]bool{}
	for _, w := range v.allWorkflows() {
		name := w.wf.Name
		if seen[name] || name == self {
			continue
		}
		seen[name] = true
		it := v.item("workflow."+name, kindModule, "workflow", workflowDoc(w), wstart, wend, "workflow."+name)
		if inString {
			it.FilterText = `"` + "workflow." + name
		}
		items = append(items, it)
	}
	return items
}

// refItems offers the names in scope after input., task., task.<name>.,
// branch.<name>., each. and workflow., only those whose type fits when
// the cursor is the value of a task input of known type.
func (v *view) refItems(c *cursor, at, wb *block, line string, m []int, off int) []CompletionItem {
	root := line[m[2]:m[3]]
	first := line[m[4]:m[5]]
	second, hasSecond := "", m[6] >= 0
	if hasSecond {
		second = line[m[6]:m[7]]
	}
	prefix := first
	if hasSecond {
		prefix = second
	}
	start := off - len(prefix)

	// The type wanted: that of the task input whose value this is.
	want := cty.DynamicPseudoType
	if task := at.ancestor("task"); task != nil && c.obj != nil && !c.keyPos && c.valueKey != "" && c.obj.owner != nil && c.obj.owner.name == "inputs" {
		want, _ = v.inputType(wb, task, c.valueKey)
	}
	var names []named
	kind := kindVariable
	switch {
	case root == "input" && !hasSecond:
		names = v.inputs(wb)
	case root == "task" && !hasSecond:
		names = v.tasks(wb, at)
	case root == "task":
		for _, b := range v.tasks(wb, at, first) {
			if b.name == first {
				names = v.taskOutputs(wb, b.decl)
			}
		}
		kind = kindField
	case root == "branch" && !hasSecond:
		names = v.branches(wb, at)
	case root == "branch":
		for _, b := range v.branches(wb, at) {
			if b.name == first {
				names = attrsOf(b.ty)
			}
		}
		kind = kindField
	case root == "each" && !hasSecond:
		if task := at.ancestor("task"); task != nil && task.attrs["for_each"] != nil {
			names = v.each(wb, task)
		}
	case root == "workflow" && !hasSecond:
		seen := map[string]bool{}
		var items []CompletionItem
		for _, w := range v.allWorkflows() {
			if seen[w.wf.Name] || w.wf.Name == wb.label() {
				continue
			}
			seen[w.wf.Name] = true
			items = append(items, v.item(w.wf.Name, kindModule, "workflow", workflowDoc(w), start, off, w.wf.Name))
		}
		return items
	}
	var items []CompletionItem
	for _, n := range names {
		fits := converts(n.ty, want)
		if root == "task" && !hasSecond || root == "branch" && !hasSecond {
			fits = anyConverts(n.ty, want) // a step towards an output that fits
		}
		if !fits {
			continue
		}
		detail := n.detail
		if detail == "" {
			detail = engine.TypeString(n.ty)
		} else if n.ty != cty.DynamicPseudoType && !strings.HasPrefix(detail, engine.TypeString(n.ty)) && root != "task" {
			detail = engine.TypeString(n.ty) + ", " + detail
		}
		items = append(items, v.item(n.name, kind, detail, n.doc, start, off, n.name))
	}
	return items
}

// inputItems offers exactly the inputs of the task's uses that its
// inputs object does not give yet.
func (v *view) inputItems(c *cursor, task, wb *block, off int) []CompletionItem {
	src := v.doc.text.src
	word := wordBefore(src, off)
	start := off - len(word)
	written := map[string]bool{}
	for _, k := range c.obj.keys {
		written[k] = true
	}
	var items []CompletionItem
	for i, f := range v.taskInputs(wb, task) {
		if written[f.Name] {
			continue
		}
		req := "required"
		if f.Optional {
			req = "optional"
		}
		it := v.item(f.Name, kindProperty, f.Type+", "+req, f.Doc, start, off, f.Name+" = ")
		it.FilterText = f.Name
		it.SortText = fmt.Sprintf("%d%03d", map[bool]int{true: 1, false: 0}[f.Optional], i)
		items = append(items, it)
	}
	return items
}

// keywordItems offers the blocks and attributes of the block at the
// cursor, leaving out attributes already set.
func (v *view) keywordItems(at *block, off int) []CompletionItem {
	src := v.doc.text.src
	start := off - len(wordBefore(src, off))
	var items []CompletionItem
	for _, k := range keywords[at.typ] {
		if a := at.attrs[k.name]; !k.block && a != nil && a.nameRange.Start.Byte != start {
			continue
		}
		text, kind, format := k.name+" = ", kindProperty, 0
		switch {
		case k.block && k.label != "" && v.s.snippets:
			text, kind, format = k.name+` "${1:`+k.label+`}" {`+"\n\t$0\n}", kindKeyword, 2
		case k.block && k.label != "":
			text, kind = k.name+` "" {}`, kindKeyword
		case k.block && v.s.snippets:
			text, kind, format = k.name+" {\n\t$0\n}", kindKeyword, 2
		case k.block:
			text, kind = k.name+" {}", kindKeyword
		}
		detail := "attribute"
		if k.block {
			detail = "block"
		}
		it := v.item(k.name, kind, detail, k.doc, start, off, text)
		it.FilterText = k.name
		it.InsertTextFormat = format
		items = append(items, it)
	}
	return items
}

// rootItems offers what an expression can start with: the references'
// roots and the functions.
func (v *view) rootItems(at *block, off int) []CompletionItem {
	src := v.doc.text.src
	start := off - len(wordBefore(src, off))
	var items []CompletionItem
	roots := []struct{ name, doc string }{
		{"input", "The workflow's inputs: `input.<name>`."},
		{"task", "The tasks' outputs: `task.<name>.<output>`."},
		{"branch", "The branches' outputs: `branch.<name>.<output>`."},
	}
	if t := at.ancestor("task"); t != nil && t.attrs["for_each"] != nil {
		roots = append(roots, struct{ name, doc string }{"each", "The element of this for_each instance: `each.key`, `each.value`."})
	}
	for _, r := range roots {
		items = append(items, v.item(r.name, kindModule, "reference", r.doc, start, off, r.name))
	}
	for _, f := range engine.FunctionNames() {
		items = append(items, v.item(f, kindFunction, "function", "", start, off, f))
	}
	return items
}

// taskDoc is a plugin task's documentation and schema, in Markdown.
func taskDoc(id, version string, ts *plugin.TaskSchema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", id)
	if ts.Kind != plugin.KindPlain {
		fmt.Fprintf(&b, " (%s task)", ts.Kind)
	}
	if version != "" {
		fmt.Fprintf(&b, " · plugin version %s", version)
	}
	b.WriteString("\n\n")
	if ts.Doc != "" {
		b.WriteString(ts.Doc + "\n\n")
	}
	writeFields(&b, "Inputs", ts.Inputs, true)
	writeFields(&b, "Outputs", ts.Outputs, false)
	if len(ts.Secrets) > 0 {
		b.WriteString("Secrets:")
		for _, s := range ts.Secrets {
			fmt.Fprintf(&b, " `%s`", s.String())
		}
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

func writeFields(b *strings.Builder, title string, fields []plugin.Field, inputs bool) {
	if len(fields) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n", title)
	sorted := append([]plugin.Field(nil), fields...)
	sort.SliceStable(sorted, func(i, j int) bool { return !sorted[i].Optional && sorted[j].Optional })
	for _, f := range sorted {
		fmt.Fprintf(b, "- `%s` (%s", f.Name, f.Type)
		if inputs {
			if f.Optional {
				b.WriteString(", optional")
			} else {
				b.WriteString(", required")
			}
		}
		b.WriteString(")")
		if f.Doc != "" {
			b.WriteString(": " + f.Doc)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func workflowDoc(w foundWorkflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**workflow.%s**\n\n", w.wf.Name)
	if w.wf.Description != "" {
		b.WriteString(w.wf.Description + "\n\n")
	}
	var ins []plugin.Field
	for _, in := range w.wf.Inputs {
		ins = append(ins, plugin.Field{Name: in.Name, Type: in.TypeExpr, Doc: in.Description, Optional: !in.Required()})
	}
	writeFields(&b, "Inputs", ins, true)
	var outs []plugin.Field
	for _, o := range w.wf.Outputs {
		outs = append(outs, plugin.Field{Name: o.Name, Doc: o.Description})
	}
	if len(outs) > 0 {
		b.WriteString("Outputs:")
		for _, o := range outs {
			fmt.Fprintf(&b, " `%s`", o.Name)
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "Declared in %s", w.path)
	return b.String()
}
