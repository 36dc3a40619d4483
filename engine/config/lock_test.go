package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLockRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFileName)
	want := &Lock{Plugins: map[string]LockedPlugin{
		"text": {Name: "text", Path: "/p/goflyte-plugin-text", Version: "1.2.0", ProtocolVersion: 1, SHA256: "ab12"},
		"math": {Name: "math", Path: "/p/goflyte-plugin-math", Version: "devel", ProtocolVersion: 1, SHA256: "cd34"},
	}}
	if err := WriteLock(path, want); err != nil {
		t.Fatal(err)
	}
	got, diags := NewParser().LoadLock(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("WriteLock left %d files, want only the lock file", len(entries))
	}
	if l, diags := NewParser().LoadLock(filepath.Join(t.TempDir(), "none.hcl")); l != nil || diags.HasErrors() {
		t.Errorf("a missing lock file: %v %v, want nil, nil", l, diags)
	}
}

func TestLockPath(t *testing.T) {
	cfg := Defaults()
	if got := LockPath(cfg, "/work"); got != "/work/"+LockFileName {
		t.Errorf("without a config file: %s", got)
	}
	cfg.File = "/proj/flyte.hcl"
	if got := LockPath(cfg, "/work"); got != "/proj/"+LockFileName {
		t.Errorf("with a config file: %s", got)
	}
}
