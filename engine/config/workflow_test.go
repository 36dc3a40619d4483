package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadWorkflowSource(t *testing.T, src string) *Workflow {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wf.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	wf, diags := NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return wf.Workflows[0]
}

func TestTaskDigest(t *testing.T) {
	const src = `workflow "w" {
  task "a" {
    uses   = "p.t"
    inputs = { x = 1 }
  }
  task "b" {
    uses   = "p.t"
    inputs = { x = task.a.y }
  }
}`
	before := loadWorkflowSource(t, src)
	edited := loadWorkflowSource(t, strings.Replace(src, "x = 1", "x = 2", 1))
	moved := loadWorkflowSource(t, "\n\n# a comment above\n"+src)
	if before.Task("a").Digest == edited.Task("a").Digest {
		t.Error("editing task a did not change its digest")
	}
	if before.Task("b").Digest != edited.Task("b").Digest {
		t.Error("editing task a changed task b's digest")
	}
	if before.Task("a").Digest != moved.Task("a").Digest {
		t.Error("moving task a within the file changed its digest")
	}
	if before.Task("a").Digest == "" || len(before.Task("a").Digest) != 64 {
		t.Errorf("digest = %q", before.Task("a").Digest)
	}
}
