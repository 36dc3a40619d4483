package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The smaller gaps between a remote run and a local one (session 7,
// branch rgaps3), end to end: the real CLI, two real `goflyte worker`
// processes, the Temporal test server and versitygw.

// bigResumeWF has outputs above remote.InlineLimit that the workflow
// reads (make's: split's input is an expression over them) and that it
// only passes on or keeps (shout's, split's: held by reference), and a
// for_each, whose node's metrics are its instances' (a resume runs
// it again, locally too).
const bigResumeWF = `
workflow "bigresume" {
  task "make" {
    uses   = "probe.big"
    inputs = { words = 30000 }
  }
  task "shout" {
    uses   = "text.upper"
    inputs = { text = task.make.text }
  }
  task "split" {
    uses   = "text.split"
    inputs = { text = "${task.make.text} end" }
  }
  task "count" {
    uses   = "text.count"
    inputs = { words = task.split.words }
  }
  task "each" {
    uses     = "text.count"
    for_each = ["a bb ccc dddd", "e"]
    inputs   = { words = split(" ", each.value) }
  }
  output "n" { value = task.count.n }
}
`

// eagerCallWF runs an eager task of the probe plugin that runs a task of
// the text plugin through the engine.
const eagerCallWF = `
workflow "eagercall" {
  input "ignore" { type = bool }
  task "call" {
    uses   = "probe.call"
    inputs = { uses = "text.upper", inputs = { text = "hello" }, output = "text", ignore_fail = input.ignore }
  }
  output "value" { value = task.call.value }
}
`

// startWorkerOn starts a `goflyte worker` as startWorker does, polling
// the task queues of prefix queue.
func (x *integration) startWorkerOn(name, pluginDir, queue string) *workerProc {
	t := x.t
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n  local_sandbox = %q\n}\nplatform {\n  url = %q\n  insecure = true\n  task_queue = %q\n}\naws {\n  endpoint = %q\n  access_key_id = %q\n  secret_access_key = %q\n}\n",
		pluginDir, filepath.Join(dir, "sandbox"), x.w.srv.Addr, queue, x.bucket.Endpoint, x.bucket.AccessKey, x.bucket.SecretKey)
	if err := os.WriteFile(filepath.Join(dir, "flyte.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWorkerProc(t, name, dir, append([]string{}, x.e2e.env...))
	w.waitLog(t, "worker started", 60*time.Second)
	return w
}

// shownTask is a task of `runs show --json`.
type shownTask struct {
	Name        string          `json:"name"`
	Status      string          `json:"status"`
	Resumed     bool            `json:"resumed"`
	Outputs     json.RawMessage `json:"outputs"`
	OutputsFile string          `json:"outputs_file"`
	OutputsRef  string          `json:"outputs_ref"`
	Metrics     []struct {
		Name  string            `json:"name"`
		Kind  string            `json:"kind"`
		Tags  map[string]string `json:"tags"`
		Count int64             `json:"count"`
	} `json:"metrics"`
}

// metricSeries are a task's metrics as "name kind tags count", one a
// line: what a local and a remote run of the same task share (their
// values are times).
func (tk shownTask) metricSeries() string {
	var b strings.Builder
	for _, m := range tk.Metrics {
		fmt.Fprintf(&b, "%s %s %v %d\n", m.Name, m.Kind, m.Tags, m.Count)
	}
	return b.String()
}

// shownTasks runs `runs show [--remote] ID --json` for the run r and
// returns its tasks by name, with a local task's outputs_file read into
// Outputs.
func (x *integration) shownTasks(t *testing.T, r runJSON, remote bool) map[string]shownTask {
	t.Helper()
	id := r.ExecutionID
	args := []string{"runs", "show", id, "--json"}
	if remote {
		args = []string{"runs", "show", "--remote", id, "--json"}
	}
	res := x.runT(t, args...)
	var rec struct {
		Tasks []shownTask `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rec); err != nil || res.code != 0 {
		t.Fatalf("%v: %v\n%.2000s", args, err, res)
	}
	out := map[string]shownTask{}
	for _, tk := range rec.Tasks {
		if tk.OutputsFile != "" && !remote {
			data, err := os.ReadFile(filepath.Join(r.RunDir, filepath.FromSlash(tk.OutputsFile)))
			if err != nil {
				t.Fatal(err)
			}
			tk.Outputs = data
		}
		out[tk.Name] = tk
	}
	return out
}

// resumedTasks are the names of the tasks a run kept, sorted.
func resumedTasks(tasks map[string]shownTask) []string {
	var out []string
	for name, tk := range tasks {
		if tk.Resumed {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestIntegrationRemoteGaps: a remote run behaves as the same run made
// locally where it used to differ.
func TestIntegrationRemoteGaps(t *testing.T) {
	t.Parallel()
	x := newIntegration(t)
	x.writeFile("wf/bigresume.hcl", bigResumeWF)
	x.startWorker("worker-a", x.full, false)
	x.startWorker("worker-b", x.full, true)

	// Outputs above the inline limit: runs show --remote shows their
	// values (not a reference), and --resume keeps them, as locally.
	t.Run("large outputs", func(t *testing.T) {
		local, remote, lr, rr := x.runBoth(t, "bigresume")
		if lr.code != 0 || local.Outputs["n"] != float64(30001) {
			t.Fatalf("local run\n%.3000s", lr)
		}
		sameRun(t, local, remote, lr, rr, true)
		lt, rt := x.shownTasks(t, local, false), x.shownTasks(t, remote, true)
		for _, name := range []string{"make", "shout", "split", "count"} {
			l, r := lt[name], rt[name]
			if r.OutputsRef != "" || len(l.Outputs) == 0 || !jsonEqual(t, l.Outputs, r.Outputs) {
				t.Errorf("runs show --remote --json: task %s: outputs_ref %q, outputs %d bytes; local outputs %d bytes (equal: %v)",
					name, r.OutputsRef, len(r.Outputs), len(l.Outputs), len(l.Outputs) > 0 && jsonEqual(t, l.Outputs, r.Outputs))
			}
		}

		// The tasks' metrics: their own (count's) and the engine's.
		for _, name := range []string{"make", "shout", "split", "count", "each"} {
			if l, r := lt[name].metricSeries(), rt[name].metricSeries(); l != r || !strings.Contains(l, "engine.task.duration timer") {
				t.Errorf("runs show --json: task %s's metrics differ\nlocal:\n%sremote:\n%s", name, l, r)
			}
		}
		if !strings.Contains(lt["count"].metricSeries(), "text.unique_words gauge") {
			t.Errorf("count's local metrics lack its own\n%s", lt["count"].metricSeries())
		}

		lres, lr := x.runJSONT(t, "run", "--resume", local.ExecutionID, "--from", "count")
		rres, rr := x.runJSONT(t, "run", "--remote", "--resume", remote.ExecutionID, "--from", "count")
		if lr.code != 0 || lres.Outputs["n"] != float64(30001) {
			t.Fatalf("local resume\n%.3000s", lr)
		}
		sameRun(t, lres, rres, lr, rr, true)
		lk, rk := resumedTasks(x.shownTasks(t, lres, false)), resumedTasks(x.shownTasks(t, rres, true))
		if want := []string{"make", "shout", "split"}; !slices.Equal(lk, want) || !slices.Equal(rk, lk) {
			t.Errorf("tasks kept by --resume --from count: local %q, remote %q; want %q", lk, rk, want)
		}
	})

	// An eager task's calls run through its worker's own plugins: the
	// worker refuses one whose plugin binary is not the run's, as it
	// refuses a task, even when the eager task would carry on without
	// it.
	t.Run("eager digests", func(t *testing.T) {
		// A worker on a queue of its own whose text plugin is another
		// build (the same program with bytes appended).
		text, err := os.ReadFile(filepath.Join(e2ePlugins, "goflyte-plugin-text"))
		if err != nil {
			t.Fatal(err)
		}
		dir := linkPlugins(t, probePlugin(t))
		if err := os.WriteFile(filepath.Join(dir, "goflyte-plugin-text"), append(text, "another build"...), 0o755); err != nil {
			t.Fatal(err)
		}
		const queue = "gfeager"
		x.startWorkerOn("worker-eager", dir, queue)
		x.writeFile("wf/eagercall.hcl", eagerCallWF)
		env := []string{"FLYTE_PLATFORM_TASK_QUEUE=" + queue}

		if l, r := x.runT(t, "run", "eagercall", "--input", "ignore=false"), x.runT(t, "run", "eagercall", "--input", "ignore=true"); l.code != 0 || r.code != 0 ||
			!strings.Contains(l.stdout, "HELLO") {
			t.Fatalf("local runs\n%s\n%s", l, r)
		}
		for _, ignore := range []string{"false", "true"} {
			r, err := x.command(nil, env, "run", "--remote", "eagercall", "--input", "ignore="+ignore, "--json")
			if err != nil {
				t.Fatal(err)
			}
			var out runJSON
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("--json: %v\n%s", err, r)
			}
			if r.code != 1 || out.Status != "failed" || !strings.Contains(out.Error, `plugin "text" on worker worker-eager`) ||
				!strings.Contains(out.Error, "is not the binary the run was validated against") || len(digestRE.FindAllString(out.Error, -1)) != 2 {
				t.Errorf("ignore=%s: want the eager task refused, naming the plugin and both digests\n%s", ignore, r)
			}
		}
	})
}

var digestRE = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}
