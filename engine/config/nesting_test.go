package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// lexNestingOffset is hclNestingOffset computed from hclsyntax's own
// tokens: the reference the byte scanner must agree with.
func lexNestingOffset(src []byte, limit int) int {
	toks, _ := hclsyntax.LexConfig(src, "ref.hcl", hcl.InitialPos)
	var open []hclsyntax.TokenType
	pop := func(want hclsyntax.TokenType) {
		if len(open) > 0 && open[len(open)-1] == want {
			open = open[:len(open)-1]
		}
	}
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOParen, hclsyntax.TokenOBrack, hclsyntax.TokenOBrace, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			ty := t.Type
			if ty == hclsyntax.TokenTemplateControl {
				ty = hclsyntax.TokenTemplateInterp
			}
			open = append(open, ty)
			if len(open) > limit {
				return t.Range.Start.Byte
			}
		case hclsyntax.TokenCParen:
			pop(hclsyntax.TokenOParen)
		case hclsyntax.TokenCBrack:
			pop(hclsyntax.TokenOBrack)
		case hclsyntax.TokenCBrace:
			pop(hclsyntax.TokenOBrace)
		case hclsyntax.TokenTemplateSeqEnd:
			for len(open) > 0 {
				ty := open[len(open)-1]
				open = open[:len(open)-1]
				if ty == hclsyntax.TokenTemplateInterp {
					break
				}
			}
		}
	}
	return -1
}

func TestHCLNestingOffset(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want int // offset of the bracket that makes level 4, or -1
	}{
		{"flat", `a = [1, 2, {b = (3)}]`, -1},
		{"three", `a = [[[1]]]`, -1},
		{"four", `a = [[[[1]]]]`, 7},
		{"block and expression", `w { t { a = [[1]] } }`, 13},
		{"siblings do not add", `a = [[[1]], [[2]], [[3]]]`, -1},
		{"in a string", `a = "[[[[[[[["`, -1},
		{"escaped quote", `a = "\" [[[[[["`, -1},
		{"in a comment", "# [[[[[[\n// ((((((\n/* {{{{{{ */ a = 1", -1},
		{"unterminated block comment is code", `a = /* [[[[`, 10},
		{"interpolations count", `a = "${"${"${"${x}"}"}"}"`, 14},
		{"directives count", `a = "%{if [[[true]]]}x%{endif}"`, 12},
		{"escaped interpolation", `a = "$${[[[[" `, -1},
		{"dollar then literal", `a = "$$${[[[[x]]]]}"`, -1},
		{"heredoc text", "a = <<EOT\n[[[[[[\n  EOT\nb = 1", -1},
		{"heredoc indented", "a = <<-EOT\n  [[[[[[\n  EOT\n", -1},
		{"heredoc interpolation", "a = <<EOT\n${[[[1]]]}\nEOT\n", 14},
		{"code after heredoc", "a = <<EOT\nx\nEOT\nb = [[[[1]]]]", 23},
		{"marker inside interpolation is not the end", "a = <<EOT\n${ [\nEOT\n[[1]]]}\nEOT\n", 20},
		{"not a heredoc", `a = 1 << [[[[2]]]]`, 12},
		{"brace ends interpolation", `a = "${ { } [[x]] }" + [[[[y]]]]`, 26},
		{"unbalanced closers do not lower", `a = [[[ ) ) ) [`, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hclNestingOffset([]byte(tc.src), 3)
			if got != tc.want {
				t.Errorf("hclNestingOffset(%q, 3) = %d, want %d", tc.src, got, tc.want)
			}
			if ref := lexNestingOffset([]byte(tc.src), 3); got != ref && tc.name != "unbalanced closers do not lower" {
				t.Errorf("hclNestingOffset(%q, 3) = %d, but hclsyntax's tokens say %d", tc.src, got, ref)
			}
		})
	}
}

func TestJSONNestingOffset(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`[[[1]]]`, -1},
		{`{"a":{"b":{"c":[1]}}}`, 15},
		{`["[[[[", "\"[[[["]`, -1},
		{`[1, [2, [3]], [[4]], {"x": [5]}]`, -1},
	} {
		if got := jsonNestingOffset([]byte(tc.src), 3); got != tc.want {
			t.Errorf("jsonNestingOffset(%q, 3) = %d, want %d", tc.src, got, tc.want)
		}
	}
}

// TestNestingAgreesWithLexer runs the scanner and the lexer-based reference
// over every HCL fixture and example, at limits that every one of them
// reaches.
func TestNestingAgreesWithLexer(t *testing.T) {
	var files []string
	for _, p := range []string{"testdata/config/*/*.hcl", "../testdata/workflows/*/*.hcl", "../../examples/workflows/*.hcl", "../../flyte.hcl"} {
		m, _ := filepath.Glob(p)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d fixtures", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for limit := 0; limit <= 6; limit++ {
			if got, want := hclNestingOffset(src, limit), lexNestingOffset(src, limit); got != want {
				t.Errorf("%s, limit %d: scanner says %d, lexer says %d", f, limit, got, want)
			}
		}
	}
}

// FuzzNesting checks the scanner against hclsyntax's lexer on arbitrary
// source: they must agree wherever the lexer finds the source well formed
// enough to parse.
func FuzzNesting(f *testing.F) {
	seedFiles(f, "testdata/config/*/*.hcl", "../testdata/workflows/*/*.hcl", "../../examples/workflows/*.hcl")
	for _, s := range []string{`a = "${"${x}"}"`, "a = <<EOT\n${[1]}\nEOT\n", `a = "$${[" `, `a = /* [[`, "a = <<-X\n  ${ {} }\n X\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 4096 {
			return
		}
		if _, diags := hclsyntax.ParseConfig(src, "f.hcl", hcl.InitialPos); diags.HasErrors() {
			return // for broken source the scanner may only count higher
		}
		for limit := 0; limit <= 4; limit++ {
			if got, want := hclNestingOffset(src, limit), lexNestingOffset(src, limit); got != want {
				t.Fatalf("limit %d: scanner says %d, lexer says %d for %q", limit, got, want, src)
			}
		}
	})
}

// TestDeepNestingRefused: 100,000 levels of brackets, which overflow
// hcl/v2's parser stack (a fatal error), get a diagnostic instead, in a
// workflow file and in the configuration file, at the bracket that crosses
// the limit.
func TestDeepNestingRefused(t *testing.T) {
	deep := "workflow \"w\" {\n  task \"t\" {\n    uses = \"text.upper\"\n    inputs = { text = " +
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + " }\n  }\n}\n"
	check := func(t *testing.T, diags hcl.Diagnostics, file string) {
		t.Helper()
		if len(diags) != 1 || diags[0].Summary != "Nesting too deep" {
			t.Fatalf("diags = %v, want one \"Nesting too deep\"", diags)
		}
		s := diags[0].Subject
		if s == nil || s.Filename != file || s.Start.Line != 4 || s.Start.Column != 23+MaxNesting-3 || !strings.Contains(diags[0].Detail, "1000") {
			t.Errorf("subject %+v, detail %q; want %s:4:%d (three levels of braces come first)", s, diags[0].Detail, file, 23+MaxNesting-3)
		}
	}
	p := NewParser()
	wf, diags := p.LoadWorkflowSource([]byte(deep), "deep.hcl")
	if wf != nil {
		t.Errorf("LoadWorkflowSource returned a file")
	}
	check(t, diags, "deep.hcl")
	if f := p.Files()["deep.hcl"]; f == nil || len(f.Bytes) != len(deep) {
		t.Errorf("the refused source is not kept for the snippet")
	}
	// Asking again gives the same answer, not a half-made file.
	if wf, again := p.LoadWorkflowSource([]byte(deep), "deep.hcl"); wf != nil || len(again) != 1 {
		t.Errorf("second load: %v, %v", wf, again)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "deep.hcl")
	if err := os.WriteFile(path, []byte(deep), 0o600); err != nil {
		t.Fatal(err)
	}
	wff, diags := NewParser().LoadWorkflowFile(path)
	if wff != nil {
		t.Errorf("LoadWorkflowFile returned a file")
	}
	check(t, diags, path)

	conf := filepath.Join(dir, "flyte.hcl")
	if err := os.WriteFile(conf, []byte("sdk {\n  plugin_dirs = []\n}\n# x\nlocal { project = "+strings.Repeat("(", 5000)+"\"p\""+strings.Repeat(")", 5000)+" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = NewParser().LoadConfig(LoadOptions{ExplicitPath: conf, WorkDir: dir, Getenv: func(string) (string, bool) { return "", false }})
	if !diags.HasErrors() || diags[0].Summary != "Nesting too deep" || diags[0].Subject.Start.Line != 5 {
		t.Errorf("config diags = %v, want \"Nesting too deep\" on line 5", diags)
	}

	// At the limit, the parser gets the source.
	ok := "a = " + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting) + "\n"
	if _, diags := NewParser().ParseHCL([]byte(ok), "ok.hcl"); diags.HasErrors() {
		t.Errorf("%d levels refused: %v", MaxNesting, diags)
	}
}

// BenchmarkCheckNesting measures the pre-check against parsing on a
// workflow of about 0.8 MB (issue 17: parsing speed matters); compare
// with BenchmarkParseLargeWorkflow.
func BenchmarkCheckNesting(b *testing.B) {
	src := largeWorkflow()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if diags := CheckNesting(src, "large.hcl"); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkParseLargeWorkflow parses the workflow of BenchmarkCheckNesting
// with hclsyntax alone: what the check adds to.
func BenchmarkParseLargeWorkflow(b *testing.B) {
	src := largeWorkflow()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, diags := hclsyntax.ParseConfig(src, "large.hcl", hcl.InitialPos); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// largeWorkflow returns a workflow of about 0.8 MB: many tasks with
// strings, interpolations, lists, objects, comments and heredocs.
func largeWorkflow() []byte {
	var sb strings.Builder
	sb.WriteString("workflow \"large\" {\n  input \"text\" { type = string }\n")
	for i := 0; sb.Len() < 800_000; i++ {
		dep := ""
		if i > 0 {
			dep = " task.t" + itoa(i-1) + ".words,"
		}
		sb.WriteString("  # task " + itoa(i) + " [does] {nothing} (special)\n")
		sb.WriteString("  task \"t" + itoa(i) + "\" {\n    uses   = \"text.split\"\n")
		sb.WriteString("    inputs = { text = \"${input.text} [${" + itoa(i) + "}] {x}\", sep = join(\",\", [\"a\", \"b\",\"c\"]), extra = [" + dep + " { k = [1, 2, (3 + 4)] }],\n")
		sb.WriteString("      note = <<-EOT\n        Task " + itoa(i) + " splits ${input.text}; [brackets] {braces} (parens).\n      EOT\n    }\n  }\n")
	}
	sb.WriteString("}\n")
	return []byte(sb.String())
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
