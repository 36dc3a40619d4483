package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/format"
)

// graphShape describes everything in g that the workflow's text decides,
// and nothing that moves when only whitespace changes: it walks every
// exported field (nodes, dependencies, types, policies, branches, arms,
// sub-workflows, outputs) and writes each expression as its tokens, while
// it leaves out source ranges and what is derived from the raw text (the
// file, digests of the source, a task's source text).
func graphShape(t *testing.T, g *Graph) string {
	t.Helper()
	s := &shaper{t: t, srcs: map[string][]byte{}, seen: map[uintptr]bool{}}
	s.dump(reflect.ValueOf(g), "graph")
	return s.b.String()
}

type shaper struct {
	t    *testing.T
	b    strings.Builder
	srcs map[string][]byte
	seen map[uintptr]bool
}

var (
	exprType  = reflect.TypeFor[hcl.Expression]()
	rangeType = reflect.TypeFor[hcl.Range]()
	ctyType   = reflect.TypeFor[cty.Type]()
	ctyValue  = reflect.TypeFor[cty.Value]()
	// Fields that hold the file or depend on its whitespace.
	textFields = map[string]bool{"File": true, "FileDigest": true, "Digest": true, "Source": true}
)

func (s *shaper) dump(v reflect.Value, path string) {
	if !v.IsValid() {
		fmt.Fprintf(&s.b, "%s = <nil>\n", path)
		return
	}
	if v.Type() == rangeType {
		return
	}
	if v.Kind() == reflect.Interface && v.Type().Implements(exprType) || v.Type().Implements(exprType) && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			fmt.Fprintf(&s.b, "%s = <nil>\n", path)
			return
		}
		if expr, ok := v.Interface().(hcl.Expression); ok {
			if toks, ok := s.tokens(expr); ok {
				fmt.Fprintf(&s.b, "%s = expr %s\n", path, toks)
				return
			}
		}
	}
	switch v.Type() {
	case ctyType:
		fmt.Fprintf(&s.b, "%s = %s\n", path, v.Interface().(cty.Type).GoString())
		return
	case ctyValue:
		val := v.Interface().(cty.Value)
		if val == cty.NilVal {
			fmt.Fprintf(&s.b, "%s = NilVal\n", path)
		} else {
			fmt.Fprintf(&s.b, "%s = %s\n", path, val.GoString())
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			fmt.Fprintf(&s.b, "%s = <nil>\n", path)
			return
		}
		if v.Kind() == reflect.Pointer {
			if s.seen[v.Pointer()] {
				fmt.Fprintf(&s.b, "%s = <seen %s>\n", path, v.Type())
				return
			}
			s.seen[v.Pointer()] = true
		}
		s.dump(v.Elem(), path)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || textFields[f.Name] || f.Type == rangeType {
				continue
			}
			s.dump(v.Field(i), path+"."+f.Name)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem() == rangeType {
			return
		}
		for i := 0; i < v.Len(); i++ {
			s.dump(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			s.dump(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
	default:
		fmt.Fprintf(&s.b, "%s = %v\n", path, v)
	}
}

// tokens returns an expression's tokens without newlines and comments, or
// false for an expression that has no source (made by the engine).
func (s *shaper) tokens(expr hcl.Expression) (string, bool) {
	rng := expr.Range()
	if rng.Filename == "" || rng.End.Byte <= rng.Start.Byte {
		return "", false
	}
	src, ok := s.srcs[rng.Filename]
	if !ok {
		var err error
		if src, err = os.ReadFile(rng.Filename); err != nil {
			s.t.Fatalf("read the source of an expression: %v", err)
		}
		s.srcs[rng.Filename] = src
	}
	toks, diags := hclsyntax.LexExpression(rng.SliceBytes(src), rng.Filename, rng.Start)
	if diags.HasErrors() {
		s.t.Fatalf("lex %s: %s", rng, diags.Error())
	}
	var parts []string
	for _, tok := range toks {
		switch tok.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenComment, hclsyntax.TokenEOF:
			continue
		}
		parts = append(parts, fmt.Sprintf("%s%q", tok.Type, tok.Bytes))
	}
	return strings.Join(parts, " "), true
}

// compileFileShapes compiles every workflow of file and returns, by
// workflow, its graph's shape, or its diagnostics (summary, detail and
// line) when it does not compile.
// Shapes of graphs start with "graph."; diagnostics with a line number.
func compileFileShapes(t *testing.T, e *Engine, file string) map[string]string {
	t.Helper()
	wf, diags := config.NewParser().LoadWorkflowFile(file)
	out := map[string]string{}
	if wf == nil {
		out[""] = diagShape(diags)
		return out
	}
	if len(diags) > 0 {
		out[""] = diagShape(diags)
	}
	for _, w := range wf.Workflows {
		g, diags := e.Compile(context.Background(), w)
		if diags.HasErrors() {
			out[w.Name] = diagShape(diags)
			continue
		}
		out[w.Name] = graphShape(t, g)
	}
	return out
}

func diagShape(diags hcl.Diagnostics) string {
	var lines []string
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		lines = append(lines, fmt.Sprintf("%d: %s: %s", line, d.Summary, d.Detail))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// formattedCopy writes file, formatted, into a directory of its own under
// the same base name, and reports whether formatting changed it.
func formattedCopy(t *testing.T, file string) (string, bool) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out, diags := format.Source(src, file)
	if diags.HasErrors() {
		t.Fatalf("format %s: %s", file, diags.Error())
	}
	path := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, string(out) != string(src)
}

// checkFormatKeepsGraphs compiles each file and its formatted copy and
// requires the same graphs (or the same diagnostics, on the same lines).
// With mustCompile, every workflow must compile.
// With requireChange, formatting must change at least one file.
func checkFormatKeepsGraphs(t *testing.T, e *Engine, files []string, mustCompile func(file string) bool, requireChange bool) {
	t.Helper()
	changed := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			formatted, diff := formattedCopy(t, file)
			if diff {
				changed++
			}
			before := compileFileShapes(t, e, file)
			after := compileFileShapes(t, e, formatted)
			if len(before) == 0 {
				t.Fatal("no workflow")
			}
			for name, shape := range before {
				if mustCompile(file) && !strings.HasPrefix(shape, "graph.") {
					t.Errorf("workflow %q does not compile:\n%s", name, shape)
				}
				if after[name] != strings.ReplaceAll(shape, file, formatted) {
					t.Errorf("workflow %q compiles differently once formatted:\nbefore:\n%s\nafter:\n%s", name, shape, after[name])
				}
			}
		})
	}
	if requireChange && changed == 0 {
		t.Errorf("formatting changed none of the %d files: the test proves nothing", len(files))
	}
}

// TestFormatKeepsFixtureGraphs: goflyte fmt never changes meaning. Every
// fixture workflow, formatted, compiles to the same graph, or fails with
// the same diagnostics on the same lines.
func TestFormatKeepsFixtureGraphs(t *testing.T) {
	files, _ := filepath.Glob("testdata/workflows/*/*.hcl")
	if len(files) < 10 {
		t.Fatalf("only %d fixtures", len(files))
	}
	e, _ := newTestEngine(t)
	checkFormatKeepsGraphs(t, e, files, func(file string) bool { return strings.Contains(file, "/valid/") }, true)
}

// TestGraphShapeSeesChanges: the comparison above can fail. A change of
// an operator, a reference, a type or a policy changes the shape; a change
// of whitespace does not.
func TestGraphShapeSeesChanges(t *testing.T) {
	e, _ := newTestEngine(t)
	src, err := os.ReadFile("testdata/workflows/valid/all.hcl")
	if err != nil {
		t.Fatal(err)
	}
	shape := func(text string) string {
		path := filepath.Join(t.TempDir(), "all.hcl")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		shapes := compileFileShapes(t, e, path)
		return strings.ReplaceAll(shapes["all"], path, "all.hcl")
	}
	base := shape(string(src))
	if base == "" || !strings.Contains(base, "expr ") {
		t.Fatalf("no shape:\n%s", base)
	}
	for _, tc := range []struct{ from, to string }{
		{"input.cfg.n * task.count.n", "input.cfg.n + task.count.n"},
		{`default = ["x"]`, `default = ["y"]`},
		{`format("%s-%d"`, `format("%s+%d"`},
		{"inputs = { words = concat(task.split.words, input.extra) }", "inputs = { words = concat(input.extra, task.split.words) }"},
	} {
		if !strings.Contains(string(src), tc.from) {
			t.Fatalf("all.hcl has no %q", tc.from)
		}
		if got := shape(strings.Replace(string(src), tc.from, tc.to, 1)); got == base {
			t.Errorf("changing %q to %q leaves the shape as it was", tc.from, tc.to)
		}
	}
	spaced := strings.ReplaceAll(strings.ReplaceAll(string(src), " = ", "    =   "), "\n  ", "\n\t")
	if got := shape(spaced); got != base {
		t.Errorf("whitespace changed the shape:\n%s\nvs\n%s", base, got)
	}
}

// TestFormatKeepsExampleGraphs does the same for the example workflows,
// compiled against the real example plugins (built here).
func TestFormatKeepsExampleGraphs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example plugins")
	}
	pluginDir := t.TempDir()
	mains, _ := filepath.Glob("../examples/*/main.go")
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		cmd := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "goflyte-plugin-"+name), "./examples/"+name)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{pluginDir}
	e := New(cfg, nil)
	t.Cleanup(e.Close)
	files, _ := filepath.Glob("../examples/workflows/*.hcl")
	// Sub-workflow calls find their workflows among the examples.
	workflows := map[string]*config.Workflow{}
	for _, f := range files {
		wf, _ := config.NewParser().LoadWorkflowFile(f)
		if wf != nil {
			for _, w := range wf.Workflows {
				workflows[w.Name] = w
			}
		}
	}
	e.Workflows = func(name string) *config.Workflow { return workflows[name] }
	checkFormatKeepsGraphs(t, e, files, func(string) bool { return true }, false)
}
