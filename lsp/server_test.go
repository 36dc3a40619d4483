package lsp

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func TestShutdownAnswersNullAndExitCodeZero(t *testing.T) {
	w := newWorkspace(t, "")
	c := start(t, w.dir)
	c.initialize(w.dir)
	m := c.call("shutdown", nil)
	if m.Error != nil || string(m.Result) != "null" {
		t.Fatalf("shutdown answered result %s, error %v; want result null", m.Result, m.Error)
	}
	if after := c.call("textDocument/hover", at("file:///x.hcl", 0, 0)); after.Error == nil || after.Error.Code != codeInvalidRequest {
		t.Errorf("a request after shutdown: error %v, want code %d", after.Error, codeInvalidRequest)
	}
	if code := c.exit(); code != 0 {
		t.Errorf("exit after shutdown: exit code %d, want 0", code)
	}
}

func TestExitWithoutShutdownIsExitCodeOne(t *testing.T) {
	w := newWorkspace(t, "")
	c := start(t, w.dir)
	c.initialize(w.dir)
	if code := c.exit(); code != 1 {
		t.Errorf("exit without shutdown: exit code %d, want 1", code)
	}
}

func TestProtocolErrors(t *testing.T) {
	w := newWorkspace(t, "")
	c := start(t, w.dir)
	if m := c.call("textDocument/hover", at("file:///x.hcl", 0, 0)); m.Error == nil || m.Error.Code != codeServerNotInitialized {
		t.Errorf("request before initialize: error %v, want code %d", m.Error, codeServerNotInitialized)
	}
	c.initialize(w.dir)
	if m := c.call("workspace/executeCommand", map[string]any{}); m.Error == nil || m.Error.Code != codeMethodNotFound {
		t.Errorf("unknown method: error %v, want code %d", m.Error, codeMethodNotFound)
	}
	// A body that is not JSON is answered with a parse error; the server goes on.
	if _, err := c.in.Write([]byte("Content-Length: 5\r\n\r\n{nope")); err != nil {
		t.Fatal(err)
	}
	if m := c.call("textDocument/hover", at("file:///not-open.hcl", 0, 0)); m.Error == nil || m.Error.Code != codeInvalidParams {
		t.Errorf("hover of a document not open: error %v, want code %d", m.Error, codeInvalidParams)
	}
}

// validateJSON runs goflyte validate --json on a file in dir.
func validateJSON(t *testing.T, dir, file string) []diagJSON {
	t.Helper()
	cmd := exec.Command(goflyteBin, "validate", "--json", file)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, _ := cmd.Output()
	var res struct {
		Diagnostics []diagJSON `json:"diagnostics"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("validate --json: %v\n%s", err, out)
	}
	return res.Diagnostics
}

type diagJSON struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Range    *struct {
		Start struct{ Byte int } `json:"start"`
		End   struct{ Byte int } `json:"end"`
	} `json:"range"`
}

const typoWorkflow = `workflow "wc" {
  input "text" { type = string }

  task "split" {
    uses   = "text.splt"
    inputs = { text = input.txt }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  task "other" {
    uses = "nope.thing"
  }
  output "n" { value = task.count.n }
}
`

func TestDiagnosticsAreValidates(t *testing.T) {
	w := newWorkspace(t, "")
	path := w.write("wf/typo.hcl", typoWorkflow)
	want := validateJSON(t, w.dir, path)
	if len(want) < 3 {
		t.Fatalf("validate found %d problems in the typo workflow, want at least 3: %+v", len(want), want)
	}
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, typoWorkflow)
	got := c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) > 0 })
	tx := newText([]byte(typoWorkflow))
	var wantLSP []Diagnostic
	for _, d := range want {
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		wantLSP = append(wantLSP, Diagnostic{Range: tx.span(d.Range.Start.Byte, d.Range.End.Byte), Severity: severityError, Source: "goflyte", Message: msg})
	}
	if diff := cmp.Diff(wantLSP, got); diff != "" {
		t.Errorf("diagnostics differ from goflyte validate's (-validate +lsp):\n%s", diff)
	}
	var didYouMean bool
	for _, d := range got {
		didYouMean = didYouMean || strings.Contains(d.Message, `Did you mean "text.split"?`)
	}
	if !didYouMean {
		t.Errorf("no \"did you mean\" for text.splt in %+v", got)
	}

	// Fixing the file as the user types clears them.
	fixed := strings.NewReplacer("text.splt", "text.split", "input.txt", "input.text", `"nope.thing"`, "\"text.upper\"\n    inputs = { text = input.text }").Replace(typoWorkflow)
	c.change(uri, 2, fixed)
	c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 0 })
}

// utf16Col is the UTF-16 column of byte offset i of its line.
func utf16Col(line string, i int) int { return len(utf16.Encode([]rune(line[:i]))) }

func TestPositionsAreUTF16(t *testing.T) {
	w := newWorkspace(t, "")
	src := `workflow "u" {
  input "text" { type = string }
  task "s" {
    uses   = "text.split"
    inputs = { sep = "😀é日", text = input.nope }
  }
  task "c" {
    uses   = "text.count"
    inputs = { words = ["ß😀", task.s.words[0]] }
  }
}
`
	path := w.write("wf/u.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	got := c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) > 0 })
	line := strings.Split(src, "\n")[4]
	i := strings.Index(line, "input.nope")
	want := Range{Start: Position{4, utf16Col(line, i)}, End: Position{4, utf16Col(line, i+len("input.nope"))}}
	if len(got) != 1 || got[0].Range != want {
		t.Fatalf("diagnostics %+v, want one at %+v (UTF-16 columns)", got, want)
	}
	// Hover on "words" of task.s.words, after an emoji on its line.
	line = strings.Split(src, "\n")[8]
	i = strings.Index(line, "task.s.words") + len("task.s.w")
	var h Hover
	c.result("textDocument/hover", at(uri, 8, utf16Col(line, i)), &h)
	if !strings.Contains(h.Contents.Value, "`task.s.words`: `list(string)`") {
		t.Errorf("hover after non-ASCII text = %q, want the type of task.s.words", h.Contents.Value)
	}
	// Completion after non-ASCII text on the same line.
	edited := strings.Replace(src, "task.s.words[0]", "task.s.", 1)
	c.change(uri, 2, edited)
	line = strings.Split(edited, "\n")[8]
	i = strings.Index(line, "task.s.") + len("task.s.")
	var list CompletionList
	c.result("textDocument/completion", at(uri, 8, utf16Col(line, i)), &list)
	if labels := labelsOf(list); !cmp.Equal(labels, []string{"words"}) {
		t.Errorf("completion after task.s. on a non-ASCII line = %v, want [words]", labels)
	}
	for _, it := range list.Items {
		if it.TextEdit == nil || it.TextEdit.Range.Start != (Position{8, utf16Col(line, i)}) {
			t.Errorf("completion edit %+v, want it to start at character %d", it.TextEdit, utf16Col(line, i))
		}
	}
}

func labelsOf(l CompletionList) []string {
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Label)
	}
	sort.Strings(out)
	return out
}

func item(l CompletionList, label string) *CompletionItem {
	for i := range l.Items {
		if l.Items[i].Label == label {
			return &l.Items[i]
		}
	}
	return nil
}

func TestCompletion(t *testing.T) {
	w := newWorkspace(t, "")
	w.write("wf/other.hcl", `workflow "other" {
  description = "Another workflow."
  input "x" { type = string }
}
`)
	src := `workflow "c" {
  input "text" { type = string }
  input "k" { type = number }
  input "ws" { type = list(string) }

  task "split" {
    uses   = "text.split"
    inputs = { text = input.text, }
  }
  task "count" {
    uses   = "text.count"
    inputs = {  }
  }
  task "add" {
    uses   = "math.add"
    inputs = { a = task., b = input. }
  }
  task "fan" {
    uses     = "text.upper"
    for_each = input.ws
    inputs   = { text = each. }
  }
  task "new" {
    uses = "
  }
  
}
`
	path := w.write("wf/c.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	c.diagnostics(uri, func([]Diagnostic) bool { return true })
	complete := func(marker string) CompletionList {
		t.Helper()
		line, char := posOf(t, src, marker)
		var l CompletionList
		c.result("textDocument/completion", at(uri, line, char), &l)
		return l
	}
	tests := []struct {
		name, marker string
		want         []string
	}{
		{"inputs not yet written", "inputs = { text = input.text, ", []string{"sep"}},
		{"all inputs of an empty object", "text.count\"\n    inputs = { ", []string{"words"}},
		// split's words do not fit; fan (for_each) and new (uses being
		// typed) have outputs of types not known until the file compiles.
		{"tasks with an output that fits a number", "inputs = { a = task.", []string{"count", "fan", "new"}},
		{"inputs that fit a number", "b = input.", []string{"k", "text"}}, // a string converts to a number
		{"each", "inputs   = { text = each.", []string{"key", "value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := labelsOf(complete(tc.marker)); !cmp.Equal(got, tc.want) {
				t.Errorf("completion at %q = %v, want %v", tc.marker, got, tc.want)
			}
		})
	}

	t.Run("input details", func(t *testing.T) {
		l := complete("inputs = { text = input.text, ")
		it := item(l, "sep")
		if it == nil || it.Detail != "string, optional" || it.Documentation == nil || !strings.Contains(it.Documentation.Value, "separator") {
			t.Errorf("sep item = %+v, want type, optional and its doc", it)
		}
	})
	t.Run("uses", func(t *testing.T) {
		l := complete(`uses = "`)
		split := item(l, "text.split")
		if split == nil || split.Documentation == nil || !strings.Contains(split.Documentation.Value, "Splits text into words") {
			t.Fatalf("uses completion: text.split = %+v, want it with its doc", split)
		}
		if item(l, "math.add") == nil || item(l, "workflow.other") == nil {
			t.Errorf("uses completion %v lacks math.add or workflow.other", labelsOf(l))
		}
	})
	t.Run("keywords", func(t *testing.T) {
		line, _ := posOf(t, src, "  task \"new\" {\n    uses = \"\n  }\n")
		var l CompletionList
		c.result("textDocument/completion", at(uri, line, 2), &l)
		for _, k := range []string{"input", "task", "output", "branch", "description"} {
			if item(l, k) == nil {
				t.Errorf("keywords in a workflow %v lack %q", labelsOf(l), k)
			}
		}
	})
}

func TestTypeFilteredCompletion(t *testing.T) {
	w := newWorkspace(t, "")
	src := `workflow "f" {
  input "text" { type = string }
  input "ws" { type = list(string) }
  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = input. }
  }
  task "count2" {
    uses   = "text.count"
    inputs = { words = task. }
  }
}
`
	path := w.write("wf/f.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	for marker, want := range map[string][]string{
		"words = input.": {"ws"},
		"words = task.":  {"split"}, // count's outputs are numbers
	} {
		line, char := posOf(t, src, marker)
		var l CompletionList
		c.result("textDocument/completion", at(uri, line, char), &l)
		if got := labelsOf(l); !cmp.Equal(got, want) {
			t.Errorf("completion after %q for a list(string) input = %v, want %v", marker, got, want)
		}
	}
}

func TestHoverDefinitionReferences(t *testing.T) {
	w := newWorkspace(t, "")
	otherPath := w.write("wf/other.hcl", "workflow \"other\" {\n  input \"x\" { type = string }\n  output \"y\" { value = input.x }\n}\n")
	src := `workflow "h" {
  input "text" {
    type        = string
    description = "The text."
  }
  task "split" {
    uses   = "text.split"
    inputs = { text = input.text }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  task "sub" {
    uses   = workflow.other
    inputs = { x = input.text }
  }
  output "n" { value = task.count.n }
}
`
	path := w.write("wf/h.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	hover := func(marker string) string {
		t.Helper()
		line, char := posOf(t, src, marker)
		var h *Hover
		c.result("textDocument/hover", at(uri, line, char-1), &h)
		if h == nil {
			return ""
		}
		return h.Contents.Value
	}
	for _, tc := range []struct{ marker, want string }{
		{`uses   = "text.sp`, "Splits text into words"},
		{`uses   = "text.sp`, "`text` (string, required)"},
		{`inputs = { te`, "**input text** (string, required)\n\nThe text to split."},
		{`task.split.wo`, "`task.split.words`: `list(string)`"},
		{`value = input.te`, ""},
		{`inputs = { x = input.te`, "`input.text`: `string`\n\nThe text."},
		{`workflow.oth`, "**workflow.other**"},
	} {
		if tc.want == "" {
			continue
		}
		if got := hover(tc.marker); !strings.Contains(got, tc.want) {
			t.Errorf("hover at %q = %q, want it to contain %q", tc.marker, got, tc.want)
		}
	}

	definition := func(marker string) []Location {
		t.Helper()
		line, char := posOf(t, src, marker)
		var locs []Location
		c.result("textDocument/definition", at(uri, line, char-1), &locs)
		return locs
	}
	tx := newText([]byte(src))
	labelAt := func(label string) Range {
		i := strings.Index(src, label)
		return tx.span(i, i+len(label))
	}
	if got := definition("task.split.wo"); len(got) != 1 || got[0].URI != uri || got[0].Range != labelAt(`"split"`) {
		t.Errorf("definition of task.split.words = %+v, want task \"split\" at %+v", got, labelAt(`"split"`))
	}
	if got := definition("x = input.te"); len(got) != 1 || got[0].Range != labelAt(`"text"`) {
		t.Errorf("definition of input.text = %+v, want input \"text\"", got)
	}
	otherSrc, _ := os.ReadFile(otherPath)
	if got := definition("workflow.oth"); len(got) != 1 || uriToPath(got[0].URI) != otherPath || got[0].Range != newText(otherSrc).span(9, 16) {
		t.Errorf("definition of workflow.other = %+v, want workflow \"other\" in %s", got, otherPath)
	}

	wline, wchar := posOf(t, src, "workflow.oth")
	var wrefs []Location
	c.result("textDocument/references", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos(wline, wchar), "context": map[string]any{"includeDeclaration": true}}, &wrefs)
	wi := strings.Index(src, "workflow.other")
	wantW := []Location{
		{URI: pathToURI(otherPath), Range: newText(otherSrc).span(9, 16)},
		{URI: uri, Range: tx.span(wi, wi+len("workflow.other"))},
	}
	if !cmp.Equal(wrefs, wantW) {
		t.Errorf("references of workflow.other = %+v, want %+v", wrefs, wantW)
	}

	line, char := posOf(t, src, `task "spl`)
	var refs []Location
	c.result("textDocument/references", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos(line, char), "context": map[string]any{"includeDeclaration": false}}, &refs)
	i := strings.Index(src, "task.split.words")
	if want := []Location{{URI: uri, Range: tx.span(i, i+len("task.split"))}}; !cmp.Equal(refs, want) {
		t.Errorf("references of task \"split\" = %+v, want %+v", refs, want)
	}
}

func TestSymbolsTokensFormatting(t *testing.T) {
	w := newWorkspace(t, "")
	src := "workflow \"s\" {\n  input \"text\" {\n    type = string\n  }\n  task \"up\" {\n  uses=\"text.upper\"\n  inputs = { text = input.text } # shout\n  }\n  branch \"b\" {\n    case {\n      if = true\n      output \"o\" { value = task.up.text }\n    }\n    default {\n      fail = \"no\"\n    }\n  }\n  output \"o\" { value = upper(branch.b.o) }\n}\n"
	path := w.write("wf/s.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	doc := map[string]any{"textDocument": map[string]any{"uri": uri}}

	var syms []DocumentSymbol
	c.result("textDocument/documentSymbol", doc, &syms)
	var names []string
	var walk func([]DocumentSymbol, string)
	walk = func(ss []DocumentSymbol, indent string) {
		for _, s := range ss {
			names = append(names, indent+s.Name)
			walk(s.Children, indent+"  ")
		}
	}
	walk(syms, "")
	want := []string{`s`, `  text`, `  up`, `  b`, `    case 1`, `      o`, `    default`, `  o`}
	if !cmp.Equal(names, want) {
		t.Errorf("symbols = %q, want %q", names, want)
	}

	var toks SemanticTokens
	c.result("textDocument/semanticTokens/full", doc, &toks)
	if len(toks.Data)%5 != 0 || len(toks.Data) < 5*10 {
		t.Fatalf("semantic tokens: %d numbers", len(toks.Data))
	}
	// Decode and check a few: workflow is a keyword, "up" a declared
	// name, uses a property, branch.b.o a reference, upper a function.
	tx := newText([]byte(src))
	got := map[string]string{}
	line, char := 0, 0
	for i := 0; i < len(toks.Data); i += 5 {
		if toks.Data[i] > 0 {
			line, char = line+int(toks.Data[i]), 0
		}
		char += int(toks.Data[i+1])
		start := tx.offset(Position{line, char})
		end := tx.offset(Position{line, char + int(toks.Data[i+2])})
		got[src[start:end]] = tokenTypes[toks.Data[i+3]]
	}
	for word, typ := range map[string]string{"workflow": "keyword", `"up"`: "variable", "uses": "property", "branch": "namespace", "upper": "function", "# shout": "comment", `"text.upper"`: "string", "string": "type"} {
		if got[word] != typ {
			t.Errorf("semantic token of %s = %q, want %q", word, got[word], typ)
		}
	}

	var edits []TextEdit
	c.result("textDocument/formatting", map[string]any{"textDocument": map[string]any{"uri": uri}, "options": map[string]any{"tabSize": 2, "insertSpaces": true}}, &edits)
	if len(edits) != 1 || edits[0].NewText != string(hclwrite.Format([]byte(src))) {
		t.Errorf("formatting edits = %+v, want the whole file as hclwrite.Format makes it", edits)
	}
}

// copyFile replaces dst the way a build does: a new file renamed over
// the old one.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func TestRebuiltPluginIsPickedUp(t *testing.T) {
	if testing.Short() {
		t.Skip("protocol test: runs goflyte lsp and real plugins")
	}
	plugins := t.TempDir()
	tool := filepath.Join(plugins, "goflyte-plugin-tool")
	copyFile(t, filepath.Join(pluginDir, "goflyte-plugin-text"), tool)
	w := newWorkspace(t, plugins)
	src := "workflow \"r\" {\n  task \"s\" {\n    uses   = \"tool.split\"\n    inputs = { text = \"a b\" }\n  }\n}\n"
	path := w.write("wf/r.hcl", src)
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 0 })

	// The plugin is rebuilt (here: replaced by the math plugin) while the
	// server runs; the editor says nothing.
	copyFile(t, filepath.Join(pluginDir, "goflyte-plugin-math"), tool)
	start := time.Now()
	got := c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 1 && strings.HasPrefix(d[0].Message, "Unknown task: ") })
	t.Logf("rebuilt plugin picked up after %v: %s", time.Since(start).Round(time.Millisecond), got[0].Message)

	// A plugin that cannot start is a diagnostic, not a crash.
	if err := os.WriteFile(tool+".tmp", []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tool+".tmp", tool); err != nil {
		t.Fatal(err)
	}
	c.diagnostics(uri, func(d []Diagnostic) bool {
		return len(d) == 1 && strings.HasPrefix(d[0].Message, `Plugin failed to start: Plugin "tool" could not be started or described`)
	})
	var h *Hover
	c.result("textDocument/hover", at(uri, 2, 16), &h) // the server still answers
}

// TestServeInProcess drives Serve in this process (real plugins, real
// files) while the poller runs, for the race detector: edits, requests
// and a rebuilt plugin at once.
func TestServeInProcess(t *testing.T) {
	plugins := t.TempDir()
	tool := filepath.Join(plugins, "goflyte-plugin-text")
	copyFile(t, filepath.Join(pluginDir, "goflyte-plugin-text"), tool)
	w := newWorkspace(t, plugins)
	c, code := startInProcess(t, Options{WorkDir: w.dir, Debounce: time.Millisecond, Poll: 20 * time.Millisecond})
	c.initialize(w.dir)
	src := "workflow \"p\" {\n  input \"text\" { type = string }\n  task \"s\" {\n    uses   = \"text.split\"\n    inputs = { text = input.text }\n  }\n}\n"
	uri := c.open(filepath.Join(w.dir, "wf", "p.hcl"), src)
	c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 0 })
	for i := 2; i < 20; i++ {
		c.change(uri, i, strings.Replace(src, "input.text", "input.tex", i%2))
		var l CompletionList
		c.result("textDocument/completion", at(uri, 4, 15), &l)
		if i == 10 {
			copyFile(t, filepath.Join(pluginDir, "goflyte-plugin-text"), tool) // same bytes, new file
		}
	}
	c.change(uri, 20, strings.Replace(src, "input.text", "input.tex", 1))
	got := c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 1 })
	if !strings.Contains(got[0].Message, `Did you mean "text"?`) {
		t.Errorf("diagnostic %q, want a suggestion", got[0].Message)
	}
	if m := c.call("shutdown", nil); m.Error != nil {
		t.Fatal(m.Error)
	}
	c.notify("exit", nil)
	select {
	case got := <-code:
		if got != 0 {
			t.Errorf("Serve returned %d after shutdown and exit, want 0", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after exit")
	}
}

// A plugin the lock file does not trust is validate's "Plugin not
// trusted", in the editor too; --lock=false turns the check off.
func TestLockedPlugins(t *testing.T) {
	w := newWorkspace(t, "")
	w.write("goflyte.lock.hcl", `plugin "text" {
  path             = "x"
  version          = "1"
  protocol_version = 1
  sha256           = "0000000000000000000000000000000000000000000000000000000000000000"
}
`)
	src := "workflow \"l\" {\n  task \"s\" {\n    uses   = \"text.upper\"\n    inputs = { text = \"a\" }\n  }\n  task \"m\" {\n    uses   = \"math.add\"\n    inputs = { a = 1, b = 2 }\n  }\n}\n"
	path := w.write("wf/l.hcl", src)
	want := validateJSON(t, w.dir, path)
	if len(want) != 2 || want[0].Summary != "Plugin not trusted" {
		t.Fatalf("validate: %+v, want two untrusted plugins", want)
	}
	c := start(t, w.dir)
	c.initialize(w.dir)
	uri := c.open(path, src)
	got := c.diagnostics(uri, func(d []Diagnostic) bool { return len(d) > 0 })
	if len(got) != 2 {
		t.Fatalf("diagnostics %+v, want validate's two", got)
	}
	for i, d := range want {
		if msg := d.Summary + ": " + d.Detail; got[i].Message != msg {
			t.Errorf("diagnostic %d = %q, want validate's %q", i, got[i].Message, msg)
		}
	}

	c2 := start(t, w.dir, "--lock=false")
	c2.initialize(w.dir)
	uri = c2.open(path, src)
	c2.diagnostics(uri, func(d []Diagnostic) bool { return len(d) == 0 })
}
