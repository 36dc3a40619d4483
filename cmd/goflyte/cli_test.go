package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestHoistGlobalFlags(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"run", "wf.hcl", "-v"}, []string{"run", "wf.hcl", "-v"}},
		{[]string{"-v", "run", "wf.hcl"}, []string{"run", "-v", "wf.hcl"}},
		{[]string{"--log-format", "json", "-vv", "runs", "list"}, []string{"runs", "--log-format", "json", "-vv", "list"}},
		{[]string{"--config=x.hcl", "--lock=false", "validate", "a.hcl"}, []string{"validate", "--config=x.hcl", "--lock=false", "a.hcl"}},
		{[]string{"-h"}, []string{"-h"}},
		{[]string{"--nope", "run"}, []string{"--nope", "run"}},
		{[]string{"-v"}, []string{"-v"}}, // no command: Main says so
		{nil, nil},
	} {
		if got := hoistGlobalFlags(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("hoistGlobalFlags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInterruptedExitCode: a command that fails after an interrupt (Ctrl-C
// while plugins were being described, say) exits 130, as scripts expect
// of an interrupted command; the same failure without one exits 2.
func TestInterruptedExitCode(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flyte.hcl")
	wf := filepath.Join(dir, "wf.hcl")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg, fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n  local_sandbox = %q\n}\n", dir, filepath.Join(dir, "sandbox")))
	write(wf, "workflow \"w\" {\n  task \"t\" {\n    uses = \"nope.x\"\n  }\n}\n")
	for _, tc := range []struct {
		name        string
		interrupted bool
		want        int
	}{
		{"failure", false, exitUsage},
		{"failure after an interrupt", true, exitCancel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.interrupted {
				cancel()
			}
			var out, errb bytes.Buffer
			if got := Main(ctx, []string{"validate", "--config", cfg, wf}, nil, &out, &errb); got != tc.want {
				t.Errorf("exit %d, want %d\n%s", got, tc.want, errb.String())
			}
		})
	}
}
