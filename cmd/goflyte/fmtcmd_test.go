package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

const (
	unformatted = "workflow \"w\" {\ninput \"x\" {\ntype=string\n}\n}\n"
	formatted   = "workflow \"w\" {\n  input \"x\" {\n    type = string\n  }\n}\n"
	broken      = "workflow \"w\" {\n  input \"x\" {\n    type = \n}\n"
)

// fmtIn runs goflyte fmt in-process in dir.
func fmtIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"fmt"}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// fmtTree writes files (name -> content) under a new directory.
func fmtTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeTestFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

func TestFmtRewritesRecursively(t *testing.T) {
	dir := fmtTree(t, map[string]string{
		"a.hcl":              unformatted,
		"ok.hcl":             formatted,
		"sub/deep/b.hcl":     unformatted,
		"notes.txt":          unformatted, // not *.hcl: left alone
		".hidden/c.hcl":      unformatted, // hidden directory: skipped
		"sub/flyte.hcl":      "sdk {\nlogging_level=\"warn\"\n}\n",
		"sub/named.workflow": unformatted,
	})
	os.Chmod(filepath.Join(dir, "a.hcl"), 0o640)
	r := fmtIn(t, dir, "")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	want := []string{"a.hcl", filepath.Join("sub", "deep", "b.hcl"), filepath.Join("sub", "flyte.hcl")}
	if diff := cmp.Diff(want, strings.Fields(r.stdout)); diff != "" {
		t.Errorf("listed files (-want +got):\n%s", diff)
	}
	got := readTree(t, dir)
	for name, content := range map[string]string{
		"a.hcl": formatted, "ok.hcl": formatted, "sub/deep/b.hcl": formatted,
		"notes.txt": unformatted, ".hidden/c.hcl": unformatted, "sub/named.workflow": unformatted,
		"sub/flyte.hcl": "sdk {\n  logging_level = \"warn\"\n}\n",
	} {
		if got[filepath.FromSlash(name)] != content {
			t.Errorf("%s = %q, want %q", name, got[filepath.FromSlash(name)], content)
		}
	}
	if len(got) != 7 {
		t.Errorf("files left behind: %v", got)
	}
	info, _ := os.Stat(filepath.Join(dir, "a.hcl"))
	if info.Mode().Perm() != 0o640 {
		t.Errorf("a.hcl mode %v, want 0640 kept", info.Mode().Perm())
	}
	// A file named explicitly is formatted whatever its name.
	if r := fmtIn(t, dir, "", filepath.Join("sub", "named.workflow")); r.code != 0 || readTree(t, dir)[filepath.Join("sub", "named.workflow")] != formatted {
		t.Errorf("explicit file: %s", r)
	}
	// Nothing left to do: exit 0, nothing listed.
	if r := fmtIn(t, dir, "", "--check", "."); r.code != 0 || r.stdout != "" {
		t.Errorf("check after fmt: %s", r)
	}
}

func TestFmtCheckWritesNothing(t *testing.T) {
	files := map[string]string{"a.hcl": unformatted, "b.hcl": formatted}
	for _, args := range [][]string{{"-check"}, {"--check", "--diff"}} {
		dir := fmtTree(t, files)
		r := fmtIn(t, dir, "", args...)
		if r.code != exitFailed {
			t.Errorf("%v: exit %d, want 1\n%s", args, r.code, r)
		}
		if first, _, _ := strings.Cut(r.stdout, "\n"); first != "a.hcl" {
			t.Errorf("%v: stdout does not list a.hcl first:\n%s", args, r.stdout)
		}
		if diff := cmp.Diff(files, readTree(t, dir)); diff != "" {
			t.Errorf("%v changed files:\n%s", args, diff)
		}
	}
}

func TestFmtDiff(t *testing.T) {
	dir := fmtTree(t, map[string]string{"a.hcl": unformatted})
	r := fmtIn(t, dir, "", "--diff")
	want := `a.hcl
--- a.hcl.orig
+++ a.hcl
@@ -1,5 +1,5 @@
 workflow "w" {
-input "x" {
-type=string
-}
+  input "x" {
+    type = string
+  }
 }
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("got %s\nwant stdout\n%s", r, want)
	}
	if got := readTree(t, dir)["a.hcl"]; got != formatted {
		t.Errorf("--diff without --check did not write: %q", got)
	}
}

func TestUnifiedDiffHunks(t *testing.T) {
	var old, new strings.Builder
	for i := 1; i <= 20; i++ {
		line := strings.Repeat("x", i)
		old.WriteString(line + "\n")
		if i == 2 || i == 15 {
			line = " " + line
		}
		new.WriteString(line + "\n")
	}
	got := string(unifiedDiff("a", "b", []byte(old.String()), []byte(new.String())))
	want := "--- a\n+++ b\n" +
		"@@ -1,5 +1,5 @@\n x\n-xx\n+ xx\n xxx\n xxxx\n xxxxx\n" +
		"@@ -12,7 +12,7 @@\n " + strings.Repeat("x", 12) + "\n " + strings.Repeat("x", 13) + "\n " + strings.Repeat("x", 14) + "\n-" + strings.Repeat("x", 15) + "\n+ " + strings.Repeat("x", 15) + "\n " + strings.Repeat("x", 16) + "\n " + strings.Repeat("x", 17) + "\n " + strings.Repeat("x", 18) + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(unifiedDiff("a", "b", []byte("a = 1"), []byte("a  = 1"))); got != "--- a\n+++ b\n@@ -1 +1 @@\n-a = 1\n\\ No newline at end of file\n+a  = 1\n\\ No newline at end of file\n" {
		t.Errorf("no final newline: %q", got)
	}
}

func TestFmtStdin(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, in string
		args     []string
		code     int
		stdout   string
	}{
		{"format", unformatted, nil, 0, formatted},
		{"formatted already", formatted, nil, 0, formatted},
		{"check", unformatted, []string{"--check"}, 1, ""},
		{"check formatted", formatted, []string{"--check"}, 0, ""},
		{"diff", "a=1\n", []string{"--diff"}, 0, "--- <stdin>\n+++ <stdin>\n@@ -1 +1 @@\n-a=1\n+a = 1\n"},
		{"syntax error", broken, nil, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fmtIn(t, dir, tc.in, append(tc.args, "-")...)
			if r.code != tc.code || r.stdout != tc.stdout {
				t.Errorf("got %s\nwant exit %d, stdout %q", r, tc.code, tc.stdout)
			}
			if tc.code == 2 && !strings.Contains(r.stderr, "<stdin> line 3") {
				t.Errorf("the diagnostic names no position: %s", r.stderr)
			}
		})
	}
	if r := fmtIn(t, dir, "", "-", "a.hcl"); r.code != exitUsage {
		t.Errorf("- with a path: %s", r)
	}
}

// TestFmtSyntaxError: a file that does not parse is reported with its
// position and left as it is; the others are still formatted; exit 2.
func TestFmtSyntaxError(t *testing.T) {
	dir := fmtTree(t, map[string]string{"bad.hcl": broken, "good.hcl": unformatted})
	r := fmtIn(t, dir, "")
	if r.code != exitUsage {
		t.Errorf("exit %d, want 2\n%s", r.code, r)
	}
	if !strings.Contains(r.stderr, "bad.hcl line 3") || !strings.Contains(r.stderr, "type =") {
		t.Errorf("no diagnostic with file, line and snippet:\n%s", r.stderr)
	}
	got := readTree(t, dir)
	if got["bad.hcl"] != broken {
		t.Errorf("bad.hcl changed: %q", got["bad.hcl"])
	}
	if got["good.hcl"] != formatted {
		t.Errorf("good.hcl not formatted: %q", got["good.hcl"])
	}
	if r := fmtIn(t, dir, "", "missing.hcl"); r.code != exitUsage || !strings.Contains(r.stderr, "missing.hcl") {
		t.Errorf("missing path: %s", r)
	}
}

// TestFmtSymlink: formatting a symbolic link rewrites its target and keeps
// the link.
func TestFmtSymlink(t *testing.T) {
	dir := fmtTree(t, map[string]string{"real/a.hcl": unformatted})
	link := filepath.Join(dir, "link.hcl")
	if err := os.Symlink(filepath.Join(dir, "real", "a.hcl"), link); err != nil {
		t.Skip(err)
	}
	if r := fmtIn(t, dir, "", "link.hcl"); r.code != 0 {
		t.Fatalf("%s", r)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "real", "a.hcl")); string(b) != formatted {
		t.Errorf("target not formatted: %q", b)
	}
}

// TestFmtIsHCLWrite: what fmt writes is byte for byte hclwrite.Format.
func TestFmtIsHCLWrite(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "workflows", "resilient.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := fmtTree(t, map[string]string{"r.hcl": string(src)})
	if r := fmtIn(t, dir, ""); r.code != 0 {
		t.Fatalf("%s", r)
	}
	if got := readTree(t, dir)["r.hcl"]; got != string(hclwrite.Format(src)) {
		t.Errorf("fmt output differs from hclwrite.Format")
	}
}
