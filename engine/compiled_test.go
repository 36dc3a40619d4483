package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// compileKept writes src to a file, loads and compiles its first workflow
// (no diagnostics allowed) and returns the graph and the file's bytes.
func compileKept(t *testing.T, e *Engine, src string) (*Graph, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wf.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	g, diags := e.Compile(context.Background(), wf.Workflows[0])
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return g, []byte(src)
}

const compiledShapes = `
workflow "shapes" {
  input "xs" {
    type    = list(string)
    default = ["a", "b"]
  }
  input "m" {
    type    = map(string)
    default = { k = "v" }
  }
  input "flag" {
    type    = bool
    default = true
  }
  input "s" { type = string }
  task "each" {
    uses            = "fake.echo"
    for_each        = input.xs # a comment
    max_parallel    = 3
    inputs          = { s = "${each.key}/${each.value}" }
    cache           = true
    cache_version   = "2"
    retries         = 2
    retry_backoff   = "10ms"
    timeout         = "1m"
  }
  task "bym" {
    uses     = "fake.echo"
    for_each = input.m
    inputs   = { s = (each.value) }
  }
  task "heredoc" {
    uses = "fake.echo"
    inputs = {
      s = "first ${input.s}\nsecond %{if input.flag}yes%{else}no%{endif}"
    }
    enable_deck = true
  }
  task "words" {
    uses   = "fake.words"
    inputs = { "text" = upper(join(" ", [for w in task.each.s : w if w != "x"])) }
    cache               = true
    cache_version       = "1"
    cache_ignore_inputs = ["text"]
  }
  task "needs" {
    uses       = "fake.needs"
    depends_on = [task.words]
    secret {
      group = "g"
      key   = "k"
    }
  }
  output "words" {
    value       = task.words.words
    description = "the words"
  }
  output "n" { value = length(task.bym.s) * 2 }
}
`

// A graph kept in the compiled-workflow cache reads back equal
// (reflect.DeepEqual) to what compiling gives, expressions included; a
// graph the cache cannot keep exactly (branches, sub-workflow calls,
// failure handlers) gets no entry and so is never a hit.
func TestCompiledGraphSame(t *testing.T) {
	all, err := os.ReadFile("testdata/workflows/valid/all.hcl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		kept bool
		// lazy: the plugin makes its tasks' working directories
		// (plugin.Schema.LazyWorkingDirectory), kept in Node too.
		lazy bool
	}{
		{"all", string(all), true, false},
		{"wordcount", wordcount, true, false},
		{"shapes", compiledShapes, true, false},
		{"one task", "workflow w {\ntask t {\nuses=\"fake.echo\"\ninputs={s=\"w1\"}\ncache=true\ncache_version=\"1\"\n}\n}\n", true, false},
		{"strings", "workflow w {\n  task a {\n    uses = \"fake.echo\"\n    inputs = { s = \"plain ASCII: ~!@#^&*()\" }\n  }\n" +
			"  task b {\n    uses = \"fake.echo\"\n    inputs = { s = \"é $x 100% a\\\"b\\\\\" }\n  }\n" +
			"  task c {\n    uses = \"fake.echo\"\n    inputs = { s = \"\" }\n  }\n}\n", true, false},
		{"no inputs", "workflow \"w\" {\n  task \"t\" { uses = \"fake.params\" }\n}\n", true, false},
		{"lazy working directory", wordcount, true, true},
		// A heredoc's range leaves its end marker out: not kept.
		{"heredoc", "workflow \"w\" {\n  task \"t\" {\n    uses   = \"fake.echo\"\n    inputs = {\n      s = <<-EOT\n        a\n      EOT\n    }\n  }\n}\n", false, false},
		{"branch, sub-workflow, failure handler", pureWF, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newTestEngine(t)
			if tt.lazy {
				lazy := *newFake().schema
				lazy.LazyWorkingDirectory = true
				e.Plugins.Register("fake", schemaOnly{&lazy})
			}
			var g *Graph
			var src []byte
			if !strings.Contains(tt.src, "workflow.sub") {
				g, src = compileKept(t, e, tt.src)
			} else {
				other := *newFake().schema
				other.Name = "other"
				e.Plugins.Register("other", schemaOnly{&other})
				wf, lookup := loadSource(t, tt.src)
				e.Workflows = lookup
				var diags hcl.Diagnostics
				if g, diags = e.Compile(context.Background(), wf); diags.HasErrors() {
					t.Fatal(diags)
				}
				src = []byte(tt.src)
			}
			key := CompiledKey(g.File, src, "")
			if key == "" {
				t.Skip("no executable identity on this system")
			}
			err := e.keepGraph(context.Background(), e.compiledStore(), key, src, g)
			if (err == nil) != tt.kept {
				t.Fatalf("keepGraph: %v, want kept %v", err, tt.kept)
			}
			got, ok := e.CachedGraph(context.Background(), key, src)
			if ok != tt.kept {
				t.Fatalf("CachedGraph: hit %v, want %v", ok, tt.kept)
			}
			if ok && !reflect.DeepEqual(got, g) {
				t.Errorf("the cached graph differs from the compiled one")
			}
		})
	}
}

// schemaOnly is a provider that only describes itself.
type schemaOnly struct{ s *plugin.Schema }

func (p schemaOnly) Describe(context.Context) (*plugin.Schema, error) { return p.s, nil }
func (p schemaOnly) Execute(context.Context, *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	return nil, os.ErrInvalid
}

// A compiled graph is a hit only for the same bytes, file name and
// workflow name, and while each plugin it uses has the same schema; a
// damaged entry is a miss and a warning.
func TestCompiledGraphMisses(t *testing.T) {
	var logs bytes.Buffer
	e, _ := newTestEngine(t)
	e.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	ctx := context.Background()
	g, src := compileKept(t, e, wordcount)
	key := CompiledKey(g.File, src, "")
	if key == "" {
		t.Skip("no executable identity on this system")
	}
	e.KeepGraph(ctx, key, src, g)
	if _, ok := e.CachedGraph(ctx, key, src); !ok {
		t.Fatal("no hit right after KeepGraph")
	}
	changed := bytes.Replace(src, []byte(`"fake.words"`), []byte(`"fake.echo" `), 1)
	for name, k := range map[string]string{
		"another source":   CompiledKey(g.File, changed, ""),
		"another file":     CompiledKey(g.File+"x", src, ""),
		"another workflow": CompiledKey(g.File, src, "other"),
	} {
		if k == key {
			t.Errorf("%s: the same key", name)
		}
		if _, ok := e.CachedGraph(ctx, k, src); ok {
			t.Errorf("%s: a hit", name)
		}
	}

	// Another schema of the plugin: a miss, then (kept again) a hit.
	e2, _ := newTestEngine(t)
	e2.Config.SDK.LocalSandbox = e.Config.SDK.LocalSandbox
	changedSchema := *newFake().schema
	changedSchema.Version = "1.0.1"
	e2.Plugins = NewPlugins(PluginsOptions{Dirs: e.Config.SDK.PluginDirs})
	t.Cleanup(e2.Plugins.Close)
	e2.Plugins.Register("fake", schemaOnly{&changedSchema})
	if _, ok := e2.CachedGraph(ctx, key, src); ok {
		t.Error("a hit with another schema of the plugin")
	}
	if logs.Len() > 0 {
		t.Errorf("misses logged warnings: %s", logs.String())
	}

	// A damaged entry: a miss and a warning, whether the checksum or the
	// content is wrong.
	path := filepath.Join(e.Config.SDK.LocalSandbox, compiledDirName, key)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(data)
	damaged[len(damaged)-10] ^= 0xff
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.CachedGraph(ctx, key, src); ok {
		t.Error("a hit on a damaged entry")
	}
	if !strings.Contains(logs.String(), "damaged compiled-workflow cache entry") {
		t.Errorf("no warning for a damaged entry: %q", logs.String())
	}
	logs.Reset()
	s := e.compiledStore()
	if err := s.write(key, compiledFileHeader, []byte("not gob")); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.CachedGraph(ctx, key, src); ok {
		t.Error("a hit on an entry that does not decode")
	}
	if !strings.Contains(logs.String(), "damaged compiled-workflow cache entry") {
		t.Errorf("no warning for an entry that does not decode: %q", logs.String())
	}
}
