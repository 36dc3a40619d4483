package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEveryCommandDeclaresItsFlags checks what completion relies on: every
// command parses its flags with parseArgs before anything else, so that
// commandFlags finds them.
func TestEveryCommandDeclaresItsFlags(t *testing.T) {
	for _, cmd := range visibleCommands() {
		fs := commandFlags(cmd)
		if fs == nil {
			t.Errorf("%s: its run function does not start with parseArgs; completion cannot see its flags", cmd.name)
			continue
		}
		for _, global := range []string{"config", "log-level", "log-format", "v", "vv", "lock"} {
			if fs.Lookup(global) == nil {
				t.Errorf("%s: no global flag --%s", cmd.name, global)
			}
		}
	}
}

// TestHelpListsExactlyTheFlags keeps every command's help consistent: its
// "Flags:" section lists each flag the command parses, and no other.
func TestHelpListsExactlyTheFlags(t *testing.T) {
	for _, cmd := range visibleCommands() {
		t.Run(cmd.name, func(t *testing.T) {
			var parsed []string
			commandFlags(cmd).VisitAll(func(f *flag.Flag) {
				if cmd.name == "doctor" && (f.Name == "version" || f.Name == "reveal") {
					return // goflyte secrets doctor: of the secrets flags only --json applies
				}
				if _, global := globalFlagDocs[f.Name]; !global {
					parsed = append(parsed, f.Name)
				}
			})
			var documented []string
			for name := range flagDocs(cmd.help) {
				documented = append(documented, name)
			}
			sort.Strings(parsed)
			sort.Strings(documented)
			if diff := cmp.Diff(parsed, documented); diff != "" {
				t.Errorf("flags parsed (-) vs listed under Flags: in its help (+):\n%s", diff)
			}
			if len(parsed) > 0 && !strings.Contains(cmd.help, "\nFlags:\n") {
				t.Errorf("its help has no Flags: section")
			}
		})
	}
}

func TestUsageForms(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want [][]string
	}{
		{"run", [][]string{{"FILE", "WORKFLOW"}, {"NAME"}}},
		{"runs", [][]string{{"list"}, {"show", "RUN"}, {"logs", "RUN", "TASK"}, {"deck", "RUN", "TASK"}, {"delete", "RUN..."}, {"prune"}, {"cancel", "RUN"}}},
		{"cache", [][]string{{"list"}, {"show", "KEY"}, {"clear"}, {"prune"}}},
		{"plugins", [][]string{{"list"}, {"describe", "NAME"}, {"lock"}}},
		{"validate", [][]string{{"FILE..."}}},
		{"fmt", [][]string{{"PATH..."}}},
		{"plugin", [][]string{{"new", "NAME"}}},
		{"completion", [][]string{{"bash"}, {"zsh"}, {"fish"}}},
		{"version", nil},
	} {
		if diff := cmp.Diff(tc.want, usageForms(findCommand(tc.cmd))); diff != "" {
			t.Errorf("usageForms(%s) (-want +got):\n%s", tc.cmd, diff)
		}
	}
}

func TestFormWord(t *testing.T) {
	for _, tc := range []struct {
		form, pos []string
		word      string
		bound     map[string]string
		ok        bool
	}{
		{[]string{"logs", "RUN", "TASK"}, nil, "logs", map[string]string{}, true},
		{[]string{"logs", "RUN", "TASK"}, []string{"logs"}, "RUN", map[string]string{}, true},
		{[]string{"logs", "RUN", "TASK"}, []string{"logs", "r1"}, "TASK", map[string]string{"RUN": "r1"}, true},
		{[]string{"logs", "RUN", "TASK"}, []string{"show", "r1"}, "", nil, false},
		{[]string{"logs", "RUN", "TASK"}, []string{"logs", "r1", "t"}, "", nil, false},
		{[]string{"FILE..."}, []string{"a.hcl", "b.hcl"}, "FILE...", map[string]string{"FILE": "b.hcl"}, true},
	} {
		word, bound, ok := formWord(tc.form, tc.pos)
		if word != tc.word || ok != tc.ok || (ok && !cmp.Equal(bound, tc.bound)) {
			t.Errorf("formWord(%q, %q) = %q, %v, %v; want %q, %v, %v", tc.form, tc.pos, word, bound, ok, tc.word, tc.bound, tc.ok)
		}
	}
}

// completeIn runs goflyte __complete in-process and returns the values
// (without descriptions) and the directive line.
func completeIn(t *testing.T, words ...string) ([]string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{completeCmdName}, words...), strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", words, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	var values []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, lines[len(lines)-1]
}

// TestComplete covers what needs no plugin and no run: commands, flags,
// subcommands, fixed values, files, workflows and their inputs. The
// end-to-end test covers plugin tasks, runs and a run's tasks.
func TestComplete(t *testing.T) {
	dir := t.TempDir()
	wfDir := filepath.Join(dir, "workflows")
	writeTestFile(t, filepath.Join(wfDir, "greet.hcl"), `
workflow "greet" {
  description = "Greets."
  input "name" {
    type        = string
    description = "Who."
  }
  input "times" {
    type    = number
    default = 1
  }
  task "t" {
    uses   = "text.upper"
    inputs = { text = input.name }
  }
}
workflow "other" {
  input "x" { type = string }
  task "t" {
    uses   = "text.upper"
    inputs = { text = input.x }
  }
}
`)
	writeTestFile(t, filepath.Join(dir, "flyte.hcl"), `sdk {
  workflow_packages = ["`+wfDir+`"]
  plugin_dirs       = ["`+filepath.Join(dir, "none")+`"]
  local_sandbox     = "`+filepath.Join(dir, "sandbox")+`"
}
`)
	t.Setenv("FLYTE_CONFIG", filepath.Join(dir, "flyte.hcl"))
	writeTestFile(t, filepath.Join(dir, "elsewhere", "e.hcl"), "workflow \"elsewhere\" {\n  input \"x\" { type = string }\n  task \"t\" {\n    uses   = \"text.upper\"\n    inputs = { text = input.x }\n  }\n}\n")
	writeTestFile(t, filepath.Join(dir, "other.hcl"), "sdk {\n  workflow_packages = [\""+filepath.Join(dir, "elsewhere")+"\"]\n}\n")
	t.Chdir(dir)
	greet := filepath.Join("workflows", "greet.hcl")
	for _, tc := range []struct {
		name  string
		words []string
		want  []string // exactly these, in any order
		has   []string // at least these
		dir   string
	}{
		{name: "commands", words: []string{"ru"}, want: []string{"run", "runs"}, dir: ":4"},
		{name: "every command", words: []string{""}, has: []string{"run", "fmt", "plugin", "completion", "help", "version"}, dir: ":4"},
		{name: "no hidden command", words: []string{"__"}, want: nil, dir: ":4"},
		{name: "help topics", words: []string{"help", "pl"}, want: []string{"plugins", "plugin"}, dir: ":4"},
		{name: "global flags", words: []string{"--log-"}, want: []string{"--log-level", "--log-format"}, dir: ":4"},
		{name: "global flag value", words: []string{"--log-level", "w"}, want: []string{"warn"}, dir: ":4"},
		{name: "run flags", words: []string{"run", "--"}, has: []string{"--input", "--inputs-file", "--resume", "--from", "--task", "--json", "--config", "--lock"}, dir: ":4"},
		{name: "one-letter flag", words: []string{"run", "-q"}, want: []string{"-q"}, dir: ":4"},
		{name: "given flags are not offered again", words: []string{"runs", "--json", "--js"}, want: nil, dir: ":4"},
		{name: "subcommands", words: []string{"runs", ""}, want: []string{"list", "show", "logs", "deck", "delete", "prune", "cancel"}, dir: ":4"},
		{name: "subcommand prefix", words: []string{"cache", "p"}, want: []string{"prune"}, dir: ":4"},
		{name: "after a flag", words: []string{"runs", "--json", "l"}, want: []string{"list", "logs"}, dir: ":4"},
		{name: "shells", words: []string{"completion", ""}, want: []string{"bash", "zsh", "fish"}, dir: ":4"},
		{name: "flag=value", words: []string{"run", "--log-format=j"}, want: []string{"--log-format=json"}, dir: ":4"},
		{name: "workflow names and files", words: []string{"run", ""}, want: []string{"greet", "other", "flyte.hcl", "other.hcl", "elsewhere/", "workflows/"}, dir: ":4"},
		{name: "workflow files", words: []string{"run", "workflows/"}, want: []string{greet}, dir: ":4"},
		{name: "validate files", words: []string{"validate", greet, "w"}, want: []string{"workflows/"}, dir: ":4"},
		{name: "workflow in a file", words: []string{"run", greet, "o"}, want: []string{"other"}, dir: ":4"},
		{name: "inputs by name", words: []string{"run", "greet", "--input", ""}, want: []string{"name=", "times="}, dir: ":6"},
		{name: "inputs by file", words: []string{"run", greet, "other", "--input", ""}, want: []string{"x="}, dir: ":6"},
		{name: "inputs not given yet", words: []string{"run", "greet", "--input", "name=Ada", "--input", ""}, want: []string{"times="}, dir: ":6"},
		{name: "input=", words: []string{"run", "greet", "--input=n"}, want: []string{"--input=name="}, dir: ":6"},
		{name: "no workflow, no inputs", words: []string{"run", "--input", ""}, want: nil, dir: ":6"},
		{name: "no runs yet", words: []string{"runs", "show", ""}, want: nil, dir: ":36"},
		{name: "directories", words: []string{"plugin", "new", "x", "--dir", ""}, want: nil, dir: ":16"},
		{name: "--config picks the configuration", words: []string{"--config", filepath.Join(dir, "other.hcl"), "run", ""}, want: []string{"elsewhere", "flyte.hcl", "other.hcl", "workflows/", "elsewhere/"}, dir: ":4"},
		{name: "inputs file", words: []string{"run", "greet", "--inputs-file", ""}, want: nil, dir: ":0"},
		{name: "unknown command", words: []string{"nope", ""}, want: nil, dir: ":4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dir := completeIn(t, tc.words...)
			if tc.has != nil {
				for _, h := range tc.has {
					if !slices.Contains(got, h) {
						t.Errorf("%q: %q missing from %q", tc.words, h, got)
					}
				}
			} else {
				sort.Strings(got)
				want := slices.Clone(tc.want)
				sort.Strings(want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%q (-want +got):\n%s", tc.words, diff)
				}
			}
			if dir != tc.dir {
				t.Errorf("%q: directive %s, want %s", tc.words, dir, tc.dir)
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), []string{"completion", shell}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "__complete") || !strings.Contains(stdout.String(), "goflyte") {
			t.Errorf("completion %s: the script does not call goflyte __complete:\n%s", shell, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"completion", "tcsh"}, nil, &stdout, &stderr); code != exitUsage || stdout.Len() > 0 {
		t.Errorf("completion tcsh: exit %d, stdout %q; want exit 2 and nothing", code, stdout.String())
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
