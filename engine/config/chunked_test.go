package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestParseChunkedSame checks that parsing in pieces gives exactly what
// hclsyntax.ParseConfig gives for the whole file (every range, every
// expression, the navigation for diagnostics), for the repository's
// workflows and for large generated ones, cutting at every possible place
// (pieces of one item) and in pieces of a few KB.
func TestParseChunkedSame(t *testing.T) {
	files, _ := filepath.Glob("../../examples/workflows/*.hcl")
	for _, glob := range []string{"../testdata/workflows/*/*.hcl", "testdata/config/*/*.hcl"} {
		more, _ := filepath.Glob(glob)
		files = append(files, more...)
	}
	if len(files) < 40 {
		t.Fatalf("found only %d workflow files", len(files))
	}
	type source struct {
		name string
		src  []byte
	}
	var sources []source
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{f, src})
	}
	sources = append(sources,
		source{"large", largeWorkflow()},
		source{"blocks", []byte(blocksWorkflow(500))},
		source{"crlf", []byte(strings.ReplaceAll(blocksWorkflow(50), "\n", "\r\n"))},
		source{"comments", []byte("# head\nworkflow \"w\" {\n  # first\n\n  task \"a\" {\n    uses = \"p.t\"\n  }\n  /* a\n  comment */\n  x = 1\n\n  task \"b\" {\n    uses = \"p.t\" # why\n  }\n\n}\n# tail\nworkflow \"v\" {\n  task \"c\" {\n    uses = <<EOT\n}\n  task \"d\" {\nEOT\n  }\n}\n")},
	)
	defer func(m, s int) { chunkedMin, chunkSize = m, s }(chunkedMin, chunkSize)
	chunkedMin = 0
	for _, size := range []int{1, 4 << 10} {
		chunkSize = size
		cut := 0
		for _, s := range sources {
			want, wdiags := hclsyntax.ParseConfig(s.src, s.name, hcl.InitialPos)
			got, ok := parseChunked(s.src, s.name)
			if !ok {
				continue
			}
			cut++
			if len(wdiags) > 0 {
				t.Errorf("%s: parsed in pieces, but a whole parse has diagnostics: %v", s.name, wdiags)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (pieces of %d bytes): the parse in pieces differs from hclsyntax.ParseConfig", s.name, size)
			}
		}
		if want := map[int]int{1: 10}[size] + 3; cut < want {
			t.Errorf("pieces of %d bytes: only %d files were cut", size, cut)
		}
	}
}

// TestParseChunkedFallsBack checks that a file with a problem in any
// piece, or an attribute set in two pieces, is not parsed in pieces, so
// that ParseHCL reports hclsyntax's own diagnostics.
func TestParseChunkedFallsBack(t *testing.T) {
	defer func(m, s int) { chunkedMin, chunkSize = m, s }(chunkedMin, chunkSize)
	chunkedMin, chunkSize = 0, 1
	body := blocksWorkflow(20)
	cases := map[string]string{
		"syntax error in a piece": strings.Replace(body, "task t7 {", "task t7 {{", 1),
		"redefined attribute":     strings.Replace(body, "task t3 {", "x = 1\ntask t3 {", 1) + "\n",
		"unclosed block":          strings.TrimSuffix(body, "}\n"),
		"attribute beside brace":  strings.Replace(body, "workflow cached {\n", "workflow cached { a = 1\n", 1),
	}
	cases["redefined attribute"] = strings.Replace(cases["redefined attribute"], "task t9 {", "x = 2\ntask t9 {", 1)
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := parseChunked([]byte(src), "w.hcl"); ok {
				t.Errorf("parsed in pieces")
			}
			_, diags := NewParser().ParseHCL([]byte(src), "w.hcl")
			_, want := hclsyntax.ParseConfig([]byte(src), "w.hcl", hcl.InitialPos)
			if !diags.HasErrors() || diags.Error() != want.Error() {
				t.Errorf("ParseHCL diagnostics = %v, want hclsyntax's %v", diags, want)
			}
		})
	}
}

// blocksWorkflow is the bench's workflow of n cached task blocks
// (cmd/goflyte-bench cachedWorkflow).
func blocksWorkflow(n int) string {
	var b strings.Builder
	b.WriteString("workflow cached {\n")
	for i := 1; i <= n; i++ {
		b.WriteString("task t" + itoa(i) + " {\nuses=\"text.upper\"\ninputs={text=\"w" + itoa(i) + "\"}\ncache=true\ncache_version=\"1\"\n}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// BenchmarkParseChunked parses the bench's 10,000 task blocks (0.8 MB)
// in pieces; compare with BenchmarkParseWhole.
func BenchmarkParseChunked(b *testing.B) {
	src := []byte(blocksWorkflow(10000))
	b.SetBytes(int64(len(src)))
	cpu := cpuTime()
	for b.Loop() {
		if _, ok := parseChunked(src, "blocks.hcl"); !ok {
			b.Fatal("not parsed in pieces")
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkParseWhole parses the workflow of BenchmarkParseChunked with
// hclsyntax.ParseConfig.
func BenchmarkParseWhole(b *testing.B) {
	src := []byte(blocksWorkflow(10000))
	b.SetBytes(int64(len(src)))
	cpu := cpuTime()
	for b.Loop() {
		if _, diags := hclsyntax.ParseConfig(src, "blocks.hcl", hcl.InitialPos); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// A source given to Defer is parsed when Files or a load of the same file
// needs it, with the bytes given (not the file on disk), and then is what
// a parse of the whole source gives.
func TestParserDefer(t *testing.T) {
	src := []byte("workflow \"w\" {\n  task \"t\" {\n    uses = \"p.t\"\n  }\n}\n")
	p := NewParser()
	p.Defer(src, "nowhere/wf.hcl") // no such file: loading must use src
	wf, diags := p.LoadWorkflowFile("nowhere/wf.hcl")
	if diags.HasErrors() || wf == nil || len(wf.Workflows) != 1 || wf.Workflows[0].Tasks[0].Name != "t" {
		t.Fatalf("LoadWorkflowFile after Defer: %v, %v", wf, diags)
	}
	q := NewParser()
	q.Defer(src, "wf.hcl")
	f := q.Files()["wf.hcl"]
	want, _ := NewParser().ParseHCL(src, "wf.hcl")
	if f == nil || !reflect.DeepEqual(f, want) {
		t.Fatalf("Files after Defer: %v, want the parsed file", f)
	}
}
