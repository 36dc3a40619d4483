package format_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/goflyte/goflyte/engine/format"
)

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"formatted", "a = 1\n", "a = 1\n"},
		{"spaces around =", "a=1\n", "a = 1\n"},
		{"alignment", "workflow \"w\" {\ninput \"x\" {\ntype=string\ndescription=\"d\"\n}\n}\n",
			"workflow \"w\" {\n  input \"x\" {\n    type        = string\n    description = \"d\"\n  }\n}\n"},
		{"object", "inputs = {a=input.x,bb=task.t.y}\n", "inputs = { a = input.x, bb = task.t.y }\n"},
		{"comments kept", "a=1 # one\nbb=2 # two\n", "a  = 1 # one\nbb = 2 # two\n"},
		{"non-ASCII", "x = \"héllo wörld\"  # ünïcode\n", "x = \"héllo wörld\" # ünïcode\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := format.Source([]byte(tc.in), "x.hcl")
			if diags.HasErrors() {
				t.Fatalf("diagnostics: %s", diags.Error())
			}
			if string(got) != tc.want {
				t.Errorf("Source(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
			}
			again, _ := format.Source(got, "x.hcl")
			if !bytes.Equal(again, got) {
				t.Errorf("formatting is not idempotent: %q -> %q", got, again)
			}
			changed, _ := format.Changed([]byte(tc.in), "x.hcl")
			if changed != (tc.in != tc.want) {
				t.Errorf("Changed = %v, want %v", changed, tc.in != tc.want)
			}
		})
	}
}

func TestSourceSyntaxError(t *testing.T) {
	src := []byte("workflow \"w\" {\n  input \"x\" {\n    type = \n}\n")
	got, diags := format.Source(src, "bad.hcl")
	if !diags.HasErrors() {
		t.Fatalf("no diagnostics for a syntax error; got %q", got)
	}
	if got != nil {
		t.Errorf("Source returned output for a file that does not parse: %q", got)
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Filename != "bad.hcl" || d.Subject.Start.Line == 0 {
		t.Errorf("diagnostic without a position in bad.hcl: %#v", d)
	}
	if _, diags := format.Changed(src, "bad.hcl"); !diags.HasErrors() {
		t.Error("Changed: no diagnostics for a syntax error")
	}
}

// TestSourceIsHCLWrite checks the contract on every .hcl file of the
// repository (examples, flyte.hcl and the test fixtures): the output is
// byte for byte hclwrite.Format's, and formatting it again changes nothing.
func TestSourceIsHCLWrite(t *testing.T) {
	root := filepath.Join("..", "..")
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d .hcl files under %s", len(files), root)
	}
	parsed := 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got, diags := format.Source(src, file)
		if diags.HasErrors() {
			continue // fixtures of syntax errors
		}
		parsed++
		if want := hclwrite.Format(src); !bytes.Equal(got, want) {
			t.Errorf("%s: Source differs from hclwrite.Format", file)
		}
		if again, _ := format.Source(got, file); !bytes.Equal(again, got) {
			t.Errorf("%s: formatting twice changes the file", file)
		}
	}
	if parsed == 0 {
		t.Fatal("no file parsed")
	}
}

func ExampleSource() {
	out, diags := format.Source([]byte("task \"t\" {\nuses=\"text.upper\"\ninputs={text=input.x}\n}\n"), "wf.hcl")
	if diags.HasErrors() {
		panic(diags)
	}
	os.Stdout.Write(out)
	// Output:
	// task "t" {
	//   uses   = "text.upper"
	//   inputs = { text = input.x }
	// }
}
