package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// GOFLYTE_TEST_SHELLS=1 (set by .ci/run, which installs them) makes a
// missing bash-completion, zsh or fish fail the completion tests instead of
// skipping them.
func requireShellTool(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if p, err := exec.LookPath(path); err == nil && p != "" {
		return
	}
	if os.Getenv("GOFLYTE_TEST_SHELLS") == "1" {
		t.Fatalf("%s (%s) is missing and GOFLYTE_TEST_SHELLS=1 asks for it: apt-get install bash-completion zsh fish", what, path)
	}
	t.Skipf("%s (%s) is missing: apt-get install bash-completion zsh fish, or set GOFLYTE_TEST_SHELLS=1 to require it", what, path)
}

const bashCompletionLib = "/usr/share/bash-completion/bash_completion"

// compWords splits a command line as bash does for COMP_WORDS: at blanks,
// and around each character of COMP_WORDBREAKS's = and :, which become
// words of their own. A line ending in a blank has an empty last word.
func compWords(line string) []string {
	var words []string
	for _, w := range strings.Fields(line) {
		for w != "" {
			i := strings.IndexAny(w, "=:")
			if i < 0 {
				words = append(words, w)
				break
			}
			if i > 0 {
				words = append(words, w[:i])
			}
			words = append(words, w[i:i+1])
			w = w[i+1:]
		}
	}
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	return words
}

func bashQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestCompletionBash sources the script of goflyte completion bash into a
// real bash with bash-completion, calls the function that `complete`
// registered for goflyte the way bash does on TAB, and checks COMPREPLY
// against a real sandbox with a real run and the real example plugins.
func TestCompletionBash(t *testing.T) {
	// Self-contained (its own directories, console, browser): it overlaps the tests that wait.
	t.Parallel()
	x := newE2E(t)
	requireShellTool(t, "bash-completion", bashCompletionLib)
	rec, res := x.runJSON("run", "wordcount", "--input", "text=to be or not")
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	run := runNameOf(rec)
	x.writeFile("wf.hcl", "workflow \"w\" {\n  input \"a\" { type = string }\n  task \"t\" {\n    uses   = \"text.upper\"\n    inputs = { text = input.a }\n  }\n}\n")

	cases := []struct {
		line string
		want []string
	}{
		{"goflyte ru", []string{"run", "runs"}},
		{"goflyte run --inp", []string{"--input", "--inputs-file"}},
		{"goflyte runs ", []string{"cancel", "deck", "delete", "list", "logs", "prune", "show"}},
		{"goflyte runs show ", []string{run}},
		{"goflyte runs show " + run[:5], []string{run}},
		{"goflyte runs logs " + run + " ", []string{"count", "split"}},
		{"goflyte runs deck " + run + " s", []string{"split"}},
		{"goflyte run --resume ", []string{run}},
		{"goflyte run --resume=", []string{run}},
		{"goflyte run --resume " + run + " --from c", []string{"count"}},
		{"goflyte run --resume=" + run + " --from=s", []string{"split"}},
		{"goflyte run --task text.up", []string{"text.upper", "text.upper_file"}},
		{"goflyte run --task=math.", []string{"math.add", "math.div", "math.mean", "math.mul", "math.series", "math.sum"}},
		{"goflyte run word", []string{"wordcount"}},
		{"goflyte run wordcount --input ", []string{"text="}},
		{"goflyte run wordcount --input=t", []string{"text="}},
		{"goflyte run wf.hcl --input ", []string{"a="}},
		{"goflyte run wf.hcl --input a=x --input ", nil},
		{"goflyte validate w", []string{"wf.hcl"}},
		{"goflyte plugins describe ma", []string{"math"}},
		{"goflyte completion ", []string{"bash", "fish", "zsh"}},
		{"goflyte -v run --log-level=w", []string{"warn"}},
		{"goflyte help workf", []string{"workflows"}},
	}
	var script strings.Builder
	fmt.Fprintf(&script, "source %s\nsource <(goflyte completion bash)\n", bashCompletionLib)
	// The function `complete` registered for goflyte, as bash would call it.
	script.WriteString("spec=$(complete -p goflyte) || exit 3\nfn=${spec#*-F }; fn=${fn%% *}\n")
	for i, tc := range cases {
		words := compWords(tc.line)
		quoted := make([]string, len(words))
		for j, w := range words {
			quoted[j] = bashQuote(w)
		}
		cword := len(words) - 1
		prev := ""
		if cword > 0 {
			prev = words[cword-1]
		}
		fmt.Fprintf(&script, "COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(%s); COMP_CWORD=%d; COMPREPLY=()\n",
			bashQuote(tc.line), strings.Join(quoted, " "), cword)
		fmt.Fprintf(&script, "$fn goflyte %s %s 2>/dev/null\necho '@@case %d'; printf '%%s\\n' \"${COMPREPLY[@]}\"\n", bashQuote(words[cword]), bashQuote(prev), i)
	}
	path := x.writeFile("complete-test.bash", script.String())
	cmd := exec.Command("bash", "--norc", "--noprofile", path)
	cmd.Dir = x.dir
	cmd.Env = append(append([]string{}, x.env...), "PATH="+filepath.Dir(e2eBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := map[int][]string{}
	at := -1
	marker := regexp.MustCompile(`^@@case (\d+)$`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := marker.FindStringSubmatch(line); m != nil {
			fmt.Sscan(m[1], &at)
			got[at] = nil
			continue
		}
		if at >= 0 && line != "" {
			got[at] = append(got[at], line)
		}
	}
	for i, tc := range cases {
		g, ok := got[i]
		if !ok {
			t.Errorf("%q: no output\n%s", tc.line, out)
			continue
		}
		sort.Strings(g)
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("%q: COMPREPLY (-want +got):\n%s", tc.line, diff)
		}
	}
}

// runNameOf returns the run's name, the last part of its execution id.
func runNameOf(rec runJSON) string {
	return rec.ExecutionID[strings.LastIndex(rec.ExecutionID, ":")+1:]
}

// TestCompleteE2E checks __complete's dynamic values against the real
// plugins and a real run: descriptions and the order of runs.
func TestCompleteE2E(t *testing.T) {
	x := newE2E(t)
	var runs []string
	for i := 0; i < 2; i++ {
		rec, res := x.runJSON("run", "wordcount", "--input", "text=a b")
		if res.code != 0 {
			t.Fatalf("run: %s", res)
		}
		runs = append(runs, runNameOf(rec))
	}
	r := x.run("__complete", "runs", "show", "")
	want := fmt.Sprintf("%s\twordcount succeeded", runs[1])
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], want) || !strings.HasPrefix(lines[1], runs[0]+"\t") || lines[2] != ":36" {
		t.Errorf("runs, newest first, kept in order (:36):\n%s", r.stdout)
	}
	r = x.run("__complete", "run", "--task", "text.spl")
	if !strings.Contains(r.stdout, "text.split\tSplits text into words") {
		t.Errorf("plugin tasks with their docs:\n%s", r)
	}
	r = x.run("__complete", "run", "--task", "text.split", "--input", "")
	if got := strings.Fields(strings.ReplaceAll(r.stdout, "\t", " ")); !slices.Contains(got, "text=") || !slices.Contains(got, "sep=") {
		t.Errorf("a task's inputs for --task:\n%s", r)
	}
}

// TestCompletionScriptsParse checks the zsh and fish scripts with the
// shells' own syntax check (zsh -n, fish -n).
func TestCompletionScriptsParse(t *testing.T) {
	// Self-contained (its own directories, console, browser): it overlaps the tests that wait.
	t.Parallel()
	x := newE2E(t)
	for _, shell := range []string{"zsh", "fish", "bash"} {
		t.Run(shell, func(t *testing.T) {
			requireShellTool(t, shell, shell)
			r := x.run("completion", shell)
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			path := x.writeFile("goflyte."+shell, r.stdout)
			if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
			if shell == "zsh" {
				// Sourced after compinit, the script registers _goflyte.
				out, err := exec.Command("zsh", "-f", "-c", "autoload -U compinit; compinit -u -D; source "+path+"; print -r -- ${_comps[goflyte]}").CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "_goflyte" {
					t.Errorf("zsh: the script does not register _goflyte for goflyte: %v\n%s", err, out)
				}
			}
		})
	}
}

// TestCompletionFish loads the fish script into a real fish and asks it
// what it would complete (complete -C), against a real run.
func TestCompletionFish(t *testing.T) {
	x := newE2E(t)
	requireShellTool(t, "fish", "fish")
	rec, res := x.runJSON("run", "wordcount", "--input", "text=to be")
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	run := runNameOf(rec)
	script := x.writeFile("goflyte.fish", x.run("completion", "fish").stdout)
	cases := []struct {
		line string
		want []string
	}{
		{"goflyte ru", []string{"run", "runs"}},
		{"goflyte runs logs " + run + " ", []string{"count", "split"}},
		{"goflyte run --resume=", []string{"--resume=" + run}},
		{"goflyte run wordcount --input ", []string{"text="}},
		{"goflyte run --task text.sp", []string{"text.split", "text.split_lines"}},
	}
	var prog strings.Builder
	fmt.Fprintf(&prog, "source %s\n", script)
	for i, tc := range cases {
		fmt.Fprintf(&prog, "echo '@@case %d'\ncomplete -C %s\n", i, bashQuote(tc.line))
	}
	cmd := exec.Command("fish", "--no-config", "-c", prog.String())
	cmd.Dir = x.dir
	cmd.Env = append(append([]string{}, x.env...), "PATH="+filepath.Dir(e2eBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fish: %v\n%s", err, out)
	}
	got := map[int][]string{}
	at := -1
	for _, line := range strings.Split(string(out), "\n") {
		if n, ok := strings.CutPrefix(line, "@@case "); ok {
			fmt.Sscan(n, &at)
			got[at] = nil
			continue
		}
		if at >= 0 && line != "" {
			v, _, _ := strings.Cut(line, "\t")
			got[at] = append(got[at], v)
		}
	}
	for i, tc := range cases {
		g := got[i]
		sort.Strings(g)
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.line, diff)
		}
	}
}
