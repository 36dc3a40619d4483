package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func TestStatsDDefaults(t *testing.T) {
	cfg, diags := loadConfig(t, LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	if diff := cmp.Diff(StatsD{Port: 8125, Prefix: "goflyte"}, cfg.StatsD); diff != "" {
		t.Errorf("StatsD (-want +got):\n%s", diff)
	}
	if cfg.StatsD.Enabled() {
		t.Error("Enabled() with no host, want false")
	}
}

func TestStatsDBlock(t *testing.T) {
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: filepath.Join("testdata", "config", "valid", "full.hcl"), WorkDir: "."})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	want := StatsD{Host: "statsd.example.com", Port: 9125, Disabled: true, DisableTags: true, Prefix: "flyte.local"}
	if diff := cmp.Diff(want, cfg.StatsD); diff != "" {
		t.Errorf("StatsD (-want +got):\n%s", diff)
	}
	if cfg.StatsD.Enabled() {
		t.Error("Enabled() with disabled = true, want false")
	}
}

func TestStatsDEnv(t *testing.T) {
	cfg, diags := loadConfig(t, LoadOptions{Getenv: envMap(map[string]string{
		"FLYTE_STATSD_HOST":         "127.0.0.1",
		"FLYTE_STATSD_PORT":         "9000",
		"FLYTE_STATSD_DISABLE_TAGS": "1",
		"FLYTE_STATSD_PREFIX":       "ci",
	})})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	want := StatsD{Host: "127.0.0.1", Port: 9000, DisableTags: true, Prefix: "ci"}
	if diff := cmp.Diff(want, cfg.StatsD); diff != "" {
		t.Errorf("StatsD (-want +got):\n%s", diff)
	}
	if !cfg.StatsD.Enabled() {
		t.Error("Enabled() = false with a host")
	}
}

// TestStatsDInSecretsFile loads the deprecated fixture: each line marked
// "# WARNING: <summary>" gets one warning with that summary whose Subject
// starts on that line, and the values apply where the statsd block leaves
// them unset.
func TestStatsDInSecretsFile(t *testing.T) {
	path := filepath.Join("testdata", "config", "deprecated", "statsd_in_secrets.hcl")
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: path, WorkDir: "."})
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:%s", summaries(diags))
	}
	var got []string
	for _, d := range diags {
		if d.Severity != hcl.DiagWarning || d.Subject == nil || d.Subject.Filename != path {
			t.Errorf("diagnostic %q: want a warning with a subject in %s, got severity %v subject %v", d.Summary, path, d.Severity, d.Subject)
			continue
		}
		if !strings.Contains(d.Detail, "statsd {") && !strings.Contains(d.Detail, "ignored") {
			t.Errorf("detail %q does not say where the setting goes", d.Detail)
		}
		got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
	}
	want := marked(t, path, warningMarker)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s\nall:%s", diff, summaries(diags))
	}
	wantCfg := StatsD{Host: "statsd.example.com", Port: 9125, DisableTags: true, Prefix: "goflyte"}
	if diff := cmp.Diff(wantCfg, cfg.StatsD); diff != "" {
		t.Errorf("StatsD (-want +got):\n%s", diff)
	}
	if src, _ := cfg.Source("statsd.host"); src.Kind != SourceFile || src.Range.Start.Line != 5 {
		t.Errorf("statsd.host source = %v, want line 5 of the file", src)
	}
	for _, d := range diags {
		if d.Subject.Start.Line == 8 && !strings.Contains(d.Detail, "ignored") {
			t.Errorf("secrets.disabled, which the statsd block sets: detail %q, want it to say it is ignored", d.Detail)
		}
	}
}

var warningMarker = regexp.MustCompile(`#\s*WARNING:\s*(.+?)\s*$`)

func marked(t *testing.T, path string, marker *regexp.Regexp) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, line := range strings.Split(string(src), "\n") {
		if m := marker.FindStringSubmatch(line); m != nil {
			out = append(out, fmt.Sprintf("%d: %s", i+1, m[1]))
		}
	}
	return out
}

func TestStatsDInSecretsEnv(t *testing.T) {
	const secretish = "s3cr3t-value-never-shown"
	tests := []struct {
		name     string
		file     string
		env      map[string]string
		want     StatsD
		warnings []string // substrings, one per warning
	}{
		{
			name:     "applies",
			env:      map[string]string{"FLYTE_SECRETS_HOST": "10.0.0.1", "FLYTE_SECRETS_PORT": "9999", "FLYTE_SECRETS_DISABLE_TAGS": "true"},
			want:     StatsD{Host: "10.0.0.1", Port: 9999, DisableTags: true, Prefix: "goflyte"},
			warnings: []string{"Use FLYTE_STATSD_HOST instead.", "Use FLYTE_STATSD_PORT instead.", "Use FLYTE_STATSD_DISABLE_TAGS instead."},
		},
		{
			name:     "new variable wins",
			env:      map[string]string{"FLYTE_SECRETS_HOST": secretish, "FLYTE_STATSD_HOST": "10.0.0.2"},
			want:     StatsD{Host: "10.0.0.2", Port: 8125, Prefix: "goflyte"},
			warnings: []string{"which FLYTE_STATSD_HOST already sets"},
		},
		{
			name:     "statsd block wins",
			file:     "statsd {\n  host = \"10.0.0.3\"\n}\n",
			env:      map[string]string{"FLYTE_SECRETS_HOST": secretish},
			want:     StatsD{Host: "10.0.0.3", Port: 8125, Prefix: "goflyte"},
			warnings: []string{"which the statsd block (flyte.hcl:2) already sets"},
		},
		{
			name:     "env wins over the deprecated file name",
			file:     "secrets {\n  host = \"10.0.0.4\"\n}\n",
			env:      map[string]string{"FLYTE_SECRETS_HOST": "10.0.0.5"},
			want:     StatsD{Host: "10.0.0.5", Port: 8125, Prefix: "goflyte"},
			warnings: []string{"Move it there: statsd { host = … }.", "Use FLYTE_STATSD_HOST instead."},
		},
		{
			name:     "a secret that does not parse is ignored",
			env:      map[string]string{"FLYTE_SECRETS_PORT": secretish},
			want:     StatsD{Port: 8125, Prefix: "goflyte"},
			warnings: []string{"its value is not a whole number, at least 0, so goflyte does not use it"},
		},
		{
			name: "other secrets are not config",
			env:  map[string]string{"FLYTE_SECRETS_PREFIX": secretish, "FLYTE_SECRETS_GITHUB_TOKEN": secretish},
			want: StatsD{Port: 8125, Prefix: "goflyte"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			if tc.file != "" {
				writeConfigFile(t, filepath.Join(work, "flyte.hcl"), tc.file)
			}
			cfg, diags := loadConfig(t, LoadOptions{WorkDir: work, Getenv: envMap(tc.env)})
			if diags.HasErrors() {
				t.Fatalf("unexpected errors:%s", summaries(diags))
			}
			if diff := cmp.Diff(tc.want, cfg.StatsD); diff != "" {
				t.Errorf("StatsD (-want +got):\n%s", diff)
			}
			if len(diags) != len(tc.warnings) {
				t.Fatalf("got %d diagnostics, want %d:%s", len(diags), len(tc.warnings), summaries(diags))
			}
			for i, d := range diags {
				if d.Severity != hcl.DiagWarning || !strings.Contains(d.Detail, tc.warnings[i]) {
					t.Errorf("diagnostic %d: %v %q, want a warning containing %q", i, d.Severity, d.Detail, tc.warnings[i])
				}
				if strings.Contains(d.Summary+d.Detail, secretish) {
					t.Errorf("diagnostic %d shows the value of a FLYTE_SECRETS_ variable: %q", i, d.Detail)
				}
			}
			for _, s := range cfg.Settings() {
				if s.Source.Kind == SourceEnv && strings.HasPrefix(s.Source.Name, "FLYTE_SECRETS_") && s.Display != Mask {
					t.Errorf("setting %s from %s shows %q, want it masked", s.Name(), s.Source.Name, s.Display)
				}
				if strings.Contains(s.Display, secretish) {
					t.Errorf("setting %s holds the secret value", s.Name())
				}
			}
		})
	}
}
