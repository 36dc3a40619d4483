package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/remote/remotetest"
)

// The remote forms of the CLI's other commands, end to end with real
// goflyte workers, a real Temporal server and a real bucket: run --task,
// the cache commands, a dynamic task whose workflow uses a plugin the
// run's graph does not, and every connection through an HTTP CONNECT
// proxy.

// viaWF calls sign.hmac from a dynamic task (probe.via): the run's own
// graph uses only the probe plugin.
const viaWF = `
workflow "via_sign" {
  input "message" { type = string }
  task "via" {
    uses   = "probe.via"
    inputs = { uses = "sign.hmac", inputs = { message = input.message }, output = "signature" }
  }
  output "signature" { value = task.via.value }
}
`

func TestIntegrationRemoteCLI(t *testing.T) {
	t.Parallel()
	x := newIntegration(t)
	x.writeFile("wf/cached.hcl", cachedWF)
	x.writeFile("wf/via.hcl", viaWF)
	// text, math and probe: no sign.
	x.startWorker("worker-a", x.partial, true)

	// run --remote --task: a single task, with a local run's outputs,
	// tasks, text and progress lines.
	t.Run("task", func(t *testing.T) {
		args := []string{"--task", "text.upper", "--input", "text=to be or not"}
		local, remote, lr, rr := x.runBoth(t, args...)
		if lr.code != 0 || local.Outputs["text"] != "TO BE OR NOT" {
			t.Fatalf("local run --task\n%s", lr)
		}
		sameRun(t, local, remote, lr, rr, true)
		lt := x.runT(t, append([]string{"run"}, args...)...)
		rt := x.runT(t, append([]string{"run", "--remote"}, args...)...)
		if lt.stdout != rt.stdout {
			t.Errorf("stdout differs\nlocal:\n%s\nremote:\n%s", lt.stdout, rt.stdout)
		}
		if l, r := progressLines(lt.stderr), progressLines(rt.stderr); l != r || l == "" {
			t.Errorf("progress lines differ\nlocal:\n%s\nremote:\n%s", l, r)
		}
		if !strings.Contains(rt.stderr, "text.upper succeeded") {
			t.Errorf("the summary does not name the task\n%s", rt.stderr)
		}
		rs := x.runT(t, "runs", "show", "--remote", remote.ExecutionID)
		if rs.code != 0 || !strings.Contains(rs.stdout, "upper") {
			t.Errorf("runs show --remote of a task run\n%s", rs)
		}
		// Resumed from its task, as a local task run is.
		lres, lr := x.runJSONT(t, "run", "--resume", local.ExecutionID, "--from", "upper")
		rres, rr := x.runJSONT(t, "run", "--remote", "--resume", remote.ExecutionID, "--from", "upper")
		if lr.code != 0 {
			t.Fatalf("local resume of a task run\n%s", lr)
		}
		sameRun(t, lres, rres, lr, rr, true)
		// The same errors as locally, before anything is submitted.
		for _, bad := range []string{"text.nope", "nope"} {
			l, r := x.runT(t, "run", "--task", bad), x.runT(t, "run", "--remote", "--task", bad)
			if l.code != 2 || r.code != 2 || lastLine(l.stderr) != lastLine(r.stderr) {
				t.Errorf("--task %s: want exit 2 and the same error\nlocal: %s\nremote: %s", bad, l, r)
			}
		}
	})

	// The cache of remote runs lives in the bucket; the cache commands
	// with --remote show and clean it as they do the local one.
	t.Run("cache", func(t *testing.T) {
		out, r := x.runJSONT(t, "run", "--remote", "cached", "--input", "text=a b")
		if r.code != 0 || cacheOutcomes(out)["shout"] != "miss" {
			t.Fatalf("first remote run\n%s", r)
		}
		key := ""
		for _, tk := range out.Tasks {
			if tk.Name == "shout" {
				key = tk.CacheKey
			}
		}
		if len(key) != 64 {
			t.Fatalf("no cache key in the remote run's result\n%s", r)
		}
		if out, r := x.runJSONT(t, "run", "--remote", "cached", "--input", "text=a b"); cacheOutcomes(out)["shout"] != "hit" {
			t.Fatalf("second remote run: want a hit\n%s", r)
		}

		r = x.runT(t, "cache", "list", "--remote", "--json")
		var entries []struct {
			Key, Task, Version, Run string
			Size                    int64
			LastHit                 time.Time `json:"last_hit"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 || len(entries) != 1 {
			t.Fatalf("cache list --remote --json: %v\n%s", err, r)
		}
		if e := entries[0]; e.Key != key || e.Task != "text.upper" || e.Version != "1" || e.Run != out.ExecutionID || e.Size == 0 {
			t.Errorf("cache list --remote --json: %+v, want key %s of run %s", e, key, out.ExecutionID)
		}
		// The local cache is another one.
		if r := x.runT(t, "cache", "list", "--json"); r.code != 0 || strings.Contains(r.stdout, key) {
			t.Errorf("the local cache holds the remote run's entry\n%s", r)
		}
		r = x.runT(t, "cache", "list", "--remote")
		if r.code != 0 || !strings.Contains(r.stdout, "TASK") || !strings.Contains(r.stdout, key[:16]) || !strings.Contains(r.stdout, "never") {
			t.Errorf("cache list --remote\n%s", r)
		}
		r = x.runT(t, "cache", "show", "--remote", key[:12])
		if r.code != 0 || !strings.Contains(r.stdout, "text.upper") || !strings.Contains(r.stdout, `"A B"`) || !strings.Contains(r.stdout, "run      "+out.ExecutionID+"\n") {
			t.Errorf("cache show --remote\n%s", r)
		}
		r = x.runT(t, "cache", "show", "--remote", key[:12], "--json")
		var shown struct{ Key, Run string }
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Key != key || shown.Run != out.ExecutionID {
			t.Errorf("cache show --remote --json: %+v (%v)\n%s", shown, err, r)
		}
		if r := x.runT(t, "cache", "show", "--remote", "0000000000"); r.code != 2 {
			t.Errorf("cache show --remote of no entry: want exit 2\n%s", r)
		}
		r = x.runT(t, "cache", "list", "--remote", "--task", "text.split")
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No cache entries in s3://runs/goflyte/cache") {
			t.Errorf("cache list --remote --task text.split\n%s", r)
		}
		if r := x.runT(t, "cache", "prune", "--remote", "--older-than", "1h"); r.code != 0 || !strings.Contains(r.stderr, "Removed 0 cache entries") {
			t.Errorf("cache prune --remote\n%s", r)
		}
		if r := x.runT(t, "cache", "clear", "--remote"); r.code != 2 {
			t.Errorf("cache clear --remote without --task or --all: want exit 2\n%s", r)
		}
		if r := x.runT(t, "cache", "clear", "--remote", "--task", "text.upper"); r.code != 0 || !strings.Contains(r.stderr, "Removed 1 cache entry.") {
			t.Errorf("cache clear --remote --task\n%s", r)
		}
		// Cleared: the next remote run misses, and writes the entry again.
		if out, r := x.runJSONT(t, "run", "--remote", "cached", "--input", "text=a b"); cacheOutcomes(out)["shout"] != "miss" {
			t.Errorf("after cache clear --remote: want a miss\n%s", r)
		}
		// --raw-output-data-prefix names the bucket for this command.
		local := []string{"FLYTE_LOCAL_RAW_OUTPUT_DATA_PREFIX=" + t.TempDir()}
		r, err := x.command(nil, local, "cache", "list", "--remote", "--json", "--raw-output-data-prefix", "s3://runs/goflyte")
		if err != nil || r.code != 0 || !strings.Contains(r.stdout, key) {
			t.Errorf("cache list --remote --raw-output-data-prefix: %v\n%s", err, r)
		}
		if r := x.runT(t, "cache", "list", "--raw-output-data-prefix", "s3://runs/goflyte"); r.code != 2 {
			t.Errorf("--raw-output-data-prefix without --remote: want exit 2\n%s", r)
		}
		if r := x.runT(t, "cache", "clear", "--remote", "--all"); r.code != 0 || !strings.Contains(r.stderr, "Removed 1 cache entry.") {
			t.Errorf("cache clear --remote --all\n%s", r)
		}
		if r := x.runT(t, "cache", "list", "--remote", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("cache list --remote --json after clear --all\n%s", r)
		}
		// No bucket, no remote cache: exit 2, as for run --remote.
		r, err = x.command(nil, local, "cache", "list", "--remote")
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 2 || !strings.Contains(r.stderr, "raw_output_data_prefix") {
			t.Errorf("cache list --remote with a local prefix: want exit 2\n%s", r)
		}
	})

	// A dynamic task's workflow uses sign, which the run's graph does
	// not: the readiness check could not know it. With no worker serving
	// sign the run fails naming it (within the dynamic task's wait for
	// pollers, not Temporal's schedule-to-start timeout of minutes).
	t.Run("dynamic task's plugin", func(t *testing.T) {
		out, r := x.runJSONT(t, "run", "--remote", "via_sign", "--input", "message=hi")
		if r.code != 1 || out.Status != "failed" || !strings.Contains(out.Error, "no worker serves") || !strings.Contains(out.Error, "sign") {
			t.Fatalf("via_sign with no worker for sign: want a failed run naming the plugin\n%s", r)
		}
		// A worker that serves sign alone: the dynamic task runs on
		// worker-a, which lacks sign, and its workflow compiles with the
		// schema the run carries; its sign task runs on worker-sign.
		signOnly := linkPlugins(t, filepath.Join(e2ePlugins, "goflyte-plugin-sign"))
		s := x.startWorker("worker-sign", signOnly, true)
		local, remote, lr, rr := x.runBoth(t, "via_sign", "--input", "message=hi")
		if lr.code != 0 {
			t.Fatalf("local run\n%s", lr)
		}
		sameRun(t, local, remote, lr, rr, true)
		if !strings.Contains(s.log.String(), "task=sign.hmac") || strings.Contains(s.log.String(), "task=probe.via") {
			t.Errorf("worker-sign did not run the sign task alone:\n%s", s.log.String())
		}
	})
}

// TestIntegrationRemoteProxy: with platform.http_proxy_url, goflyte
// worker, run --remote and doctor reach Temporal through a real HTTP
// CONNECT proxy (with Basic authentication); with the proxy down they
// fail naming the setting.
func TestIntegrationRemoteProxy(t *testing.T) {
	t.Parallel()
	x := newIntegration(t)
	const password = "proxy-pw-3c9e"
	proxy := remotetest.NewConnectProxy(t, "alice", password)
	x.e2e.env = append(x.e2e.env, "FLYTE_PLATFORM_HTTP_PROXY_URL="+proxy.URL)

	x.startWorker("worker-p", x.full, true)
	// Only the worker has connected through the proxy yet (the test's
	// own client dials the server directly).
	viaWorker := proxy.Targets()[x.w.srv.Addr]
	if viaWorker == 0 {
		t.Fatalf("the worker did not connect through the proxy: tunnels %v", proxy.Targets())
	}
	r := x.run("run", "--remote", "wordcount", "--input", "text=to be or not to be")
	if r.code != 0 || !strings.Contains(r.stdout, "n = 6") {
		t.Fatalf("run --remote through the proxy\n%s", r)
	}
	if proxy.Targets()[x.w.srv.Addr] <= viaWorker {
		t.Errorf("run --remote did not connect through the proxy: tunnels %v", proxy.Targets())
	}
	for target := range proxy.Targets() {
		if target != x.w.srv.Addr {
			t.Errorf("a tunnel to %s, not to the Temporal frontend %s", target, x.w.srv.Addr)
		}
	}
	d := x.run("doctor")
	if !strings.Contains(d.stdout, "via http://alice:xxxxx@") || strings.Contains(d.stdout+d.stderr+r.stdout+r.stderr, password) {
		t.Errorf("doctor: want the platform reached via the proxy, its password hidden\n%s", d)
	}

	// The proxy goes away: every command says which setting to look at.
	proxy.Close()
	r = x.run("run", "--remote", "wordcount", "--input", "text=a b")
	if r.code == 0 || !strings.Contains(r.stderr, "platform.http_proxy_url") || strings.Contains(r.stderr, password) {
		t.Errorf("run --remote with the proxy down: want a failure naming platform.http_proxy_url\n%s", r)
	}
	d = x.run("doctor")
	if d.code == 0 || !strings.Contains(d.stdout+d.stderr, "platform.http_proxy_url") {
		t.Errorf("doctor with the proxy down: want a failure naming platform.http_proxy_url\n%s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBin, "worker")
	cmd.Dir, cmd.Env = x.dir, x.e2e.env
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(outb), "platform.http_proxy_url") {
		t.Errorf("goflyte worker with the proxy down: want exit 1 naming platform.http_proxy_url, got %v\n%s", err, outb)
	}
}

// runJSONT runs goflyte with args and --json for the test t, and decodes
// the run's result.
func (x *integration) runJSONT(t *testing.T, args ...string) (runJSON, result) {
	t.Helper()
	r := x.runT(t, append(args, "--json")...)
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r)
	}
	return out, r
}
