package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// eagerWF runs only an eager task: text.shout_all calls text.upper
// through the engine, and an eager task may call any plugin's task.
const eagerWF = `
workflow "shout" {
  input "texts" { type = list(string) }
  task "shouts" {
    uses   = "text.shout_all"
    inputs = { texts = input.texts }
  }
  output "shouts" { value = task.shouts.shouts }
}
`

// TestE2ERemoteEagerPlugins: a run with an eager task carries every
// plugin this machine has in its RunInput (their schemas and digests),
// as a run with a dynamic task does, not only those its graph names.
func TestE2ERemoteEagerPlugins(t *testing.T) {
	t.Parallel()
	x := newRemoteE2E(t, "s3://runs/goflyte", "text")
	wf := x.writeFile("shout.hcl", eagerWF)
	r := x.run("run", "--remote", wf, "--input", `texts=["a", "b"]`, "--detach")
	if r.code != 0 {
		t.Fatalf("run --remote --detach\n%s", r)
	}
	in := x.inputs.Next(t)
	entries, err := os.ReadDir(e2ePlugins)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, e := range entries {
		if name, ok := strings.CutPrefix(e.Name(), "goflyte-plugin-"); ok {
			want = append(want, name)
		}
	}
	for name, ref := range in.Plugins {
		if ref.Schema == nil || ref.SHA256 == "" {
			t.Errorf("plugin %s: %+v", name, ref)
		}
		got = append(got, name)
	}
	slices.Sort(got)
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Errorf("RunInput plugins %q, want every local plugin %q", got, want)
	}
}
