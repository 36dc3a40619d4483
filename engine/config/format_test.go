package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine/format"
)

// TestFormatKeepsConfigs: goflyte fmt never changes what a flyte.hcl
// means. Every configuration fixture (and the repository's flyte.hcl),
// formatted, loads to the same settings from the same lines, or fails
// with the same diagnostics on the same lines.
func TestFormatKeepsConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*/*.hcl")
	files = append(files, filepath.Join("..", "..", "flyte.hcl"))
	changed := 0
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, diags := format.Source(src, file)
			if diags.HasErrors() {
				if !strings.Contains(file, "syntax") {
					t.Errorf("does not parse: %s", diags.Error())
				}
				return
			}
			if string(out) != string(src) {
				changed++
			}
			orig, _ := filepath.Abs(file)
			copyPath := filepath.Join(t.TempDir(), filepath.Base(file))
			if err := os.WriteFile(copyPath, out, 0o644); err != nil {
				t.Fatal(err)
			}
			host := LoadOptions{HomeDir: t.TempDir(), UserConfigDir: t.TempDir(), UserCacheDir: t.TempDir()}
			before := configShape(t, orig, host)
			after := strings.ReplaceAll(configShape(t, copyPath, host), filepath.Dir(copyPath), filepath.Dir(orig))
			if before != after {
				t.Errorf("loads differently once formatted:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	if changed == 0 {
		t.Error("formatting changed no fixture: the test proves nothing")
	}
}

// configShape loads a configuration and describes its settings with their
// sources, or its diagnostics.
func configShape(t *testing.T, path string, host LoadOptions) string {
	t.Helper()
	host.ExplicitPath, host.WorkDir = path, filepath.Dir(path)
	cfg, diags := loadConfig(t, host)
	var lines []string
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		lines = append(lines, fmt.Sprintf("%d: %s: %s: %s", line, severity(d.Severity), d.Summary, d.Detail))
	}
	sort.Strings(lines)
	if cfg != nil && !diags.HasErrors() {
		for _, s := range cfg.Settings() {
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(b))
		}
	}
	return strings.Join(lines, "\n")
}

func severity(s hcl.DiagnosticSeverity) string {
	if s == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}
