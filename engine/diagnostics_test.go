package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/config"
)

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*(.+?)\s*$`)

// TestWorkflowDiagnostics loads every file in testdata/workflows/errors and
// checks that the diagnostics are exactly the ones marked in the file, each
// on its line, as `# ERROR: <summary>`.
func TestWorkflowDiagnostics(t *testing.T) {
	files, err := filepath.Glob("testdata/workflows/errors/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := markedErrors(t, file)
			diags := loadAndCompile(t, file)
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s: %s", d.Summary, d.Detail)
					continue
				}
				got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
				if d.Severity == hcl.DiagError && d.Detail == "" {
					t.Errorf("line %d: %q has no detail", d.Subject.Start.Line, d.Summary)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall:\n%s", diff, diags.Error())
			}
		})
	}
}

func TestValidWorkflows(t *testing.T) {
	files, _ := filepath.Glob("testdata/workflows/valid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if diags := loadAndCompile(t, file); len(diags) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", diags.Error())
			}
		})
	}
}

func TestValidWorkflowRuns(t *testing.T) {
	e, _ := newTestEngine(t)
	src, err := os.ReadFile("testdata/workflows/valid/all.hcl")
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, e, string(src), map[string]string{"text": "a b c"}, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := map[string]string{}
	for k, v := range res.Outputs {
		got[k] = FormatValue(v)
	}
	want := map[string]string{"count": "4", "label": "L-4", "all": `{"s":"A B C"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func loadAndCompile(t *testing.T, file string) hcl.Diagnostics {
	t.Helper()
	e, _ := newTestEngine(t)
	wf, diags := config.NewParser().LoadWorkflowFile(file)
	if wf == nil {
		return diags
	}
	for _, w := range wf.Workflows {
		_, d := e.Compile(context.Background(), w)
		diags = append(diags, d...)
	}
	return diags
}

func markedErrors(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := errorMarker.FindStringSubmatch(sc.Text()); m != nil {
			for _, s := range strings.Split(m[1], ";") {
				want = append(want, fmt.Sprintf("%d: %s", line, strings.TrimSpace(s)))
			}
		}
	}
	sort.Strings(want)
	return want
}
