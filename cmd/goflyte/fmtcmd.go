package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/format"
)

func fmtCommand() *command {
	return &command{
		name:    "fmt",
		args:    "[PATH...] [--check] [--diff]",
		summary: "Rewrite workflow files and flyte.hcl in the canonical HCL style",
		help: `
Rewrites HCL files in the canonical style, as terraform fmt does: the
output is byte for byte that of HCL's own formatter (hclwrite.Format).
Only whitespace changes (indentation, spaces, the alignment of = and of
comments), so a formatted workflow means exactly what it meant before.

PATH is a file (formatted whatever its name) or a directory, searched
recursively for *.hcl files (workflows, flyte.hcl, goflyte.lock.hcl),
skipping directories whose name starts with a dot (.git, .tools). Without
a PATH, the current directory. A file is rewritten atomically (a temporary
file renamed over it) and keeps its permissions; the names of the files
that changed are printed on stdout.

PATH "-" reads a file from stdin and writes it formatted to stdout.

A file that does not parse is reported (file:line:column) and left as it
is; the other files are still formatted, and the exit code is 2.

Flags:
  --check   write nothing; list the files that would change on stdout and
            exit 1 if there are any (with -: exit 1, print nothing)
  --diff    also print a unified diff of each change on stdout (with
            --check it is printed and nothing is written; with - it is
            printed instead of the formatted source)

Exit codes: 0 formatted (or, with --check, nothing to change), 1 --check
found files to change, or a file could not be written, 2 bad arguments or
a file that does not parse.`,
		run: runFmt,
	}
}

func runFmt(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("fmt")
	check := fs.Bool("check", false, "")
	diff := fs.Bool("diff", false, "")
	paths, err := c.parseArgs(fs, args, 0, -1)
	if err != nil {
		return err
	}
	f := &formatter{c: c, check: *check, diff: *diff}
	if len(paths) == 1 && paths[0] == "-" {
		return f.stdin()
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		if p == "-" {
			return usagef("fmt: - (stdin) cannot be combined with other paths")
		}
		found, err := hclFiles(p)
		if err != nil {
			return usagef("fmt: %v", err)
		}
		files = append(files, found...)
	}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.file(file); err != nil {
			return err
		}
	}
	if len(f.diags) > 0 {
		c.writeDiagsFiles(f.diags, f.sources)
		return &exitError{code: exitUsage}
	}
	if f.check && f.changed > 0 {
		return &exitError{code: exitFailed}
	}
	return nil
}

// formatter formats files for one fmt command and collects what went
// wrong, so that every file is tried.
type formatter struct {
	c           *cli
	check, diff bool
	changed     int
	diags       hcl.Diagnostics
	sources     map[string]*hcl.File // files with diagnostics, for snippets
}

// file formats one file: it lists it when formatting changes it, prints
// the diff with --diff, and rewrites it unless --check.
func (f *formatter) file(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("fmt: %w", err)
	}
	out, diags := format.Source(src, path)
	if diags.HasErrors() {
		f.addDiags(path, src, diags)
		return nil
	}
	if bytes.Equal(src, out) {
		return nil
	}
	f.changed++
	fmt.Fprintln(f.c.stdout, path)
	if f.diff {
		if _, err := f.c.stdout.Write(unifiedDiff(path+".orig", path, src, out)); err != nil {
			return err
		}
	}
	if f.check {
		return nil
	}
	if err := writeFileKeepMode(path, out); err != nil {
		return fmt.Errorf("fmt: %w", err)
	}
	return nil
}

func (f *formatter) stdin() error {
	const name = "<stdin>"
	src, err := io.ReadAll(f.c.stdin)
	if err != nil {
		return fmt.Errorf("fmt: read stdin: %w", err)
	}
	out, diags := format.Source(src, name)
	if diags.HasErrors() {
		f.addDiags(name, src, diags)
		f.c.writeDiagsFiles(f.diags, f.sources)
		return &exitError{code: exitUsage}
	}
	changed := !bytes.Equal(src, out)
	switch {
	case f.diff:
		if changed {
			if _, err := f.c.stdout.Write(unifiedDiff(name, name, src, out)); err != nil {
				return err
			}
		}
	case f.check:
	default:
		if _, err := f.c.stdout.Write(out); err != nil {
			return err
		}
	}
	if f.check && changed {
		return &exitError{code: exitFailed}
	}
	return nil
}

func (f *formatter) addDiags(name string, src []byte, diags hcl.Diagnostics) {
	if f.sources == nil {
		f.sources = map[string]*hcl.File{}
	}
	f.sources[name] = &hcl.File{Bytes: src}
	f.diags = append(f.diags, diags...)
}

// hclFiles returns path itself when it is a file, or the *.hcl files under
// it, in lexical order, skipping directories whose name starts with a dot
// (below path). Symbolic links to directories are not followed.
func hclFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".hcl") && (d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// writeFileKeepMode replaces the file at path (the target of a symbolic
// link) with data atomically: it writes a temporary file in the same
// directory with the file's permission bits, syncs it and renames it over
// the file, so a reader sees the old or the new content, never a part.
func writeFileKeepMode(path string, data []byte) (err error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".fmt-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(info.Mode().Perm()); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// unifiedDiff returns a unified diff (3 lines of context) from old to new.
//
// Formatting changes only the whitespace within lines, never the number of
// lines (newlines are tokens that hclwrite keeps), so line i of old pairs
// with line i of new and no general diff algorithm is needed. Should the
// line counts ever differ, the diff is one hunk that replaces everything:
// still correct, if not minimal.
func unifiedDiff(oldName, newName string, old, new []byte) []byte {
	a, b := splitLines(old), splitLines(new)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "--- %s\n+++ %s\n", oldName, newName)
	if len(a) != len(b) {
		writeHunk(&buf, a, b, 0, len(a), 0, len(b))
		return buf.Bytes()
	}
	const context = 3
	for i := 0; i < len(a); {
		if a[i] == b[i] {
			i++
			continue
		}
		// A hunk: from context lines before the first change to context
		// lines after the last change that is within 2*context of the
		// previous one.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(a); j++ {
			if a[j] != b[j] {
				end = j + 1
			} else if j-end >= 2*context {
				break
			}
		}
		stop := min(end+context, len(a))
		fmt.Fprintf(&buf, "@@ -%s +%s @@\n", hunkRange(start, stop-start), hunkRange(start, stop-start))
		for k := start; k < stop; {
			if a[k] == b[k] {
				writeLine(&buf, ' ', a[k])
				k++
				continue
			}
			n := k
			for n < stop && a[n] != b[n] {
				n++
			}
			for _, l := range a[k:n] {
				writeLine(&buf, '-', l)
			}
			for _, l := range b[k:n] {
				writeLine(&buf, '+', l)
			}
			k = n
		}
		i = stop
	}
	return buf.Bytes()
}

func writeHunk(buf *bytes.Buffer, a, b []string, as, ae, bs, be int) {
	fmt.Fprintf(buf, "@@ -%s +%s @@\n", hunkRange(as, ae-as), hunkRange(bs, be-bs))
	for _, l := range a[as:ae] {
		writeLine(buf, '-', l)
	}
	for _, l := range b[bs:be] {
		writeLine(buf, '+', l)
	}
}

// hunkRange formats a hunk's start line (1-based) and length; an empty
// range starts at the line before it, as diff(1) writes it.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func writeLine(buf *bytes.Buffer, prefix byte, line string) {
	buf.WriteByte(prefix)
	buf.WriteString(line)
	if !strings.HasSuffix(line, "\n") {
		buf.WriteString("\n\\ No newline at end of file\n")
	}
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s []byte) []string {
	var lines []string
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, string(s))
			break
		}
		lines = append(lines, string(s[:i+1]))
		s = s[i+1:]
	}
	return lines
}
