package testserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "goflyte-test-server")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "not-executable"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "")
	t.Setenv("GOBIN", dir)
	if got, _ := Find("goflyte-test-server"); got != bin {
		t.Errorf("Find in GOBIN = %q, want %q", got, bin)
	}
	got, tried := Find("not-executable")
	if got != "" || len(tried) == 0 || tried[0] != dir {
		t.Errorf("Find of a file that is not executable = %q, tried %q", got, tried)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testserver", "testserver.go")); err != nil {
		t.Errorf("ModuleRoot = %s, not the goflyte module: %v", root, err)
	}
}

func TestBufferTail(t *testing.T) {
	var b Buffer
	b.Write([]byte("hello, "))
	b.Write([]byte("world"))
	if got := b.String(); got != "hello, world" {
		t.Errorf("String = %q", got)
	}
	if got := b.Tail(5); got != "…world" {
		t.Errorf("Tail(5) = %q", got)
	}
	if got := b.Tail(100); !strings.HasPrefix(got, "hello") {
		t.Errorf("Tail(100) = %q", got)
	}
}
