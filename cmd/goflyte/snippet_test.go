package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/config"
)

// render parses src as name and renders its diagnostics as the CLI does.
func render(t *testing.T, name, src string) string {
	t.Helper()
	var stderr bytes.Buffer
	c := &cli{stderr: &stderr, parser: config.NewParser()}
	_, diags := c.parser.ParseHCL([]byte(src), name)
	if !diags.HasErrors() {
		t.Fatalf("%s parsed without errors", name)
	}
	c.writeDiags(diags)
	return stderr.String()
}

// TestLongLineSnippet: a diagnostic in a megabyte-long line shows a few
// hundred characters of it around the error, marked "…", not the line.
func TestLongLineSnippet(t *testing.T) {
	line := "a = [" + strings.Repeat("1, ", 50_000) + "@" + strings.Repeat(", 2", 50_000) + "]"
	src := "# first\n\nb = 1\n" + line + "\nc = 2\n"
	out := render(t, "long.hcl", src)
	if len(out) > 2000 {
		t.Fatalf("the diagnostic is %d bytes long:\n%.3000s", len(out), out)
	}
	for _, want := range []string{"Invalid character", "on long.hcl line 4:", "   4: …", "1, 1, @, 2, 2", "2…\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Lines of ordinary length render as hcl renders them.
	short := "a = [1, @]\n"
	var want bytes.Buffer
	p := config.NewParser()
	_, diags := p.ParseHCL([]byte(short), "short.hcl")
	_ = hcl.NewDiagnosticTextWriter(&want, p.Files(), 78, false).WriteDiagnostics(diags)
	if got := render(t, "short.hcl", short); got != want.String() {
		t.Errorf("short line rendered as\n%s\nwant\n%s", got, want.String())
	}
}

// TestLongLineSnippetEnds: an error near either end of a long line, or in
// a line of multi-byte characters, cuts on one side only and never in the
// middle of a character.
func TestLongLineSnippetEnds(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"start", "a = @" + strings.Repeat(" + 1", 10_000) + "\n", "   1: a = @ + 1"},
		{"end", "a = 1" + strings.Repeat(" + 1", 10_000) + " @\n", " + 1 @\n"},
		{"runes", "a = \"" + strings.Repeat("é", 10_000) + "\" @ \"" + strings.Repeat("ü", 10_000) + "\"\n", "é\" @ \"ü"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, "x.hcl", tc.src)
			if len(out) > 2000 || !strings.Contains(out, tc.want) || !strings.Contains(out, "…") {
				t.Errorf("want a short snippet with %q and an ellipsis:\n%.3000s", tc.want, out)
			}
			if !utf8Valid(out) {
				t.Errorf("the snippet cuts a character:\n%s", out)
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestManyDiagnostics: past maxShownDiags diagnostics the CLI writes the
// first ones and counts the rest, instead of 10,000 copies of one
// mistake (each of which costs hcl's writer a scan of the whole file).
func TestManyDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		n, shown int
		more     string
	}{
		{maxShownDiags, maxShownDiags, ""},
		{maxShownDiags + 7, maxShownDiags, "... and 7 more (7 errors, 0 warnings) not shown; goflyte validate --json lists them all\n"},
	} {
		var diags hcl.Diagnostics
		for i := range tc.n {
			r := hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: i + 1, Column: 1}, End: hcl.Pos{Line: i + 1, Column: 2}}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown plugin", Subject: &r})
		}
		var stderr bytes.Buffer
		c := &cli{stderr: &stderr, parser: config.NewParser()}
		c.writeDiags(diags)
		out := stderr.String()
		if got := strings.Count(out, "Error: Unknown plugin"); got != tc.shown {
			t.Errorf("%d diagnostics: %d written, want %d", tc.n, got, tc.shown)
		}
		if tc.more == "" && strings.Contains(out, "more (") || !strings.HasSuffix(out, tc.more) {
			t.Errorf("%d diagnostics: output ends\n%s\nwant it to end %q", tc.n, out[max(0, len(out)-200):], tc.more)
		}
	}
}
