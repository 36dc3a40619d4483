package remote_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/remote"
)

// record regenerates the committed test data of this package: the
// example plugins' schemas (TestRecordSchemas) and the workflow histories
// the replay test replays (TestRecordHistories):
//
//	go test ./remote -run 'TestRecord(Schemas|Histories)' -args -record
var record = flag.Bool("record", false, "regenerate testdata/schemas and testdata/replay")

// examplePlugins are the repository's example plugins whose schemas the
// workflow tests compile against.
var examplePlugins = []string{"math", "sign", "text"}

// TestRecordSchemas builds the example plugins, starts each as the local
// engine does (a real subprocess over gRPC) and keeps its Describe
// answer in testdata/schemas/<plugin>.json.
func TestRecordSchemas(t *testing.T) {
	if !*record {
		t.Skip("regenerates testdata; run with -args -record")
	}
	dir := t.TempDir()
	for _, name := range examplePlugins {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, plugin.BinaryPrefix+name), "../examples/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	ps := engine.NewPlugins(engine.PluginsOptions{Dirs: []string{dir}})
	defer ps.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range examplePlugins {
		_, schema, err := ps.Get(ctx, name)
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		data, err := json.MarshalIndent(schema, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "schemas", name+".json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadPlugins reads the committed schemas as a run's plugins.
func loadPlugins(t testing.TB) map[string]remote.PluginRef {
	t.Helper()
	out := map[string]remote.PluginRef{}
	for _, name := range examplePlugins {
		data, err := os.ReadFile(filepath.Join("testdata", "schemas", name+".json"))
		if err != nil {
			t.Fatalf("%v (regenerate with: go test ./remote -run TestRecordSchemas -args -record)", err)
		}
		var s plugin.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		out[name] = remote.PluginRef{Schema: &s, SHA256: "sha-" + name}
	}
	return out
}
