package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// The tests in this file reproduce the defects of issue 12, found by
// trying goflyte from the outside as a new user would.

// awsIsolated returns environment settings that leave goflyte no AWS
// credentials of the host: no AWS_* variables, no shared files, and an EC2
// metadata service (a real server on 127.0.0.1) that refuses the IMDSv2
// token, so that the SDK warns "falling back to IMDSv1", and has no role.
func awsIsolated(t *testing.T, x *e2e) []string {
	t.Helper()
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	t.Cleanup(imds.Close)
	var env []string
	for _, kv := range x.env {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	x.env = env
	none := filepath.Join(t.TempDir(), "none")
	return []string{
		"HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=" + none,
		"AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL,
		"AWS_REGION=us-east-1",
	}
}

// loadRecord reads a run's record with runs show --json.
func (x *e2e) loadRecord(id string) sandbox.Record {
	x.t.Helper()
	r := x.run("runs", "show", id, "--json")
	var rec sandbox.Record
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		x.t.Fatalf("runs show --json: %v\n%s", err, r)
	}
	return rec
}

// TestE2EDataStoreFailure: a data store that cannot be opened fails the
// task that returns a file, with a message naming the URI and the cause,
// exit code 1, the record saying so; no panic, no goroutine dump, no
// secret, and no raw AWS SDK lines on stderr.
func TestE2EDataStoreFailure(t *testing.T) {
	const prefix = "s3://nosuchbucket/x"
	check := func(t *testing.T, x *e2e, env []string, cause string, secrets ...string) {
		t.Helper()
		r := x.runEnv(env, "run", "--task", "text.write", "--input", "text=hello", "--raw-output-data-prefix", prefix, "--json")
		var out runJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, r)
		}
		if r.code != 1 || out.Status != "failed" {
			t.Errorf("want exit 1 and a failed run\n%s", r)
		}
		for _, bad := range []string{"panic", "goroutine ", "nil pointer", "SDK ", "IMDS"} {
			if strings.Contains(r.stderr, bad) {
				t.Errorf("stderr holds %q\n%s", bad, r)
			}
		}
		if !strings.Contains(out.Error, prefix) || !strings.Contains(out.Error, cause) {
			t.Errorf("error %q does not name %s and %q", out.Error, prefix, cause)
		}
		rec := x.loadRecord(out.ExecutionID)
		if rec.Status != "failed" || len(rec.Tasks) != 1 || !strings.Contains(rec.Tasks[0].Error, prefix) || !strings.Contains(rec.Tasks[0].Error, cause) {
			t.Errorf("record: status %s, tasks %+v; want the task failed naming %s", rec.Status, rec.Tasks, prefix)
		}
		data, _ := os.ReadFile(filepath.Join(out.RunDir, "record.json"))
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr+string(data), s) {
				t.Errorf("the secret %q leaked\n%s", s, r)
			}
		}
	}
	t.Run("no credentials", func(t *testing.T) {
		x := newE2E(t)
		check(t, x, awsIsolated(t, x), "no credentials")
	})
	t.Run("missing bucket", func(t *testing.T) {
		x := newE2E(t)
		env := awsIsolated(t, x)
		srv := s3test.Start(t)
		env = append(env, "FLYTE_AWS_ENDPOINT="+srv.Endpoint, "FLYTE_AWS_ACCESS_KEY_ID="+srv.AccessKey, "FLYTE_AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
		check(t, x, env, "no such bucket", srv.SecretKey)
	})
	t.Run("SDK lines at debug", func(t *testing.T) {
		// With --log-level debug the SDK's warning is there, as a goflyte
		// log line.
		x := newE2E(t)
		r := x.runEnv(awsIsolated(t, x), "run", "--task", "text.write", "--input", "text=hello", "--raw-output-data-prefix", prefix, "--log-level", "debug")
		if r.code != 1 || !strings.Contains(r.stderr, "[DEBUG] goflyte: aws: falling back to IMDSv1") && !strings.Contains(r.stderr, "aws: falling back to IMDSv1") {
			t.Errorf("want the SDK's warning as a debug line\n%s", r)
		}
		if strings.Contains(r.stderr, "SDK 2") {
			t.Errorf("a raw SDK line reached stderr\n%s", r)
		}
	})
}

// TestE2EFailedTaskKeepsMetricsAndDecks: a task that records a metric and
// writes a deck and then fails, with an error or a panic, keeps both: the
// metric in runs show (text and --json), the deck in its deck page.
func TestE2EFailedTaskKeepsMetricsAndDecks(t *testing.T) {
	x := newE2E(t)
	wf := x.writeFile("report.hcl", `workflow "report" {
  input "panic" { type = bool }
  task "report" {
    uses        = "misbehave.report"
    inputs      = { panic = input.panic }
    enable_deck = true
  }
}
`)
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			r := x.run("run", wf, "--input", fmt.Sprintf("panic=%v", how == "panic"), "--json")
			var out runJSON
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out.Status != "failed" {
				t.Fatalf("want a failed run (%v)\n%s", err, r)
			}
			rec := x.loadRecord(out.ExecutionID)
			if len(rec.Tasks) != 1 {
				t.Fatalf("record tasks: %+v", rec.Tasks)
			}
			tk := rec.Tasks[0]
			var found bool
			for _, m := range tk.Metrics {
				if m.Name == "report.tries" && m.Tags["how"] == how && m.Value == 1 {
					found = true
				}
			}
			if !found {
				t.Errorf("the task's metric is not in the record: %+v", tk.Metrics)
			}
			show := x.run("runs", "show", out.ExecutionID)
			if !strings.Contains(show.stdout, "report.tries") {
				t.Errorf("runs show lacks the task's metric\n%s", show)
			}
			if tk.Deck == "" {
				t.Fatalf("the failed task has no deck page: %+v", tk)
			}
			page := mustRead(t, filepath.Join(out.RunDir, filepath.FromSlash(tk.Deck)))
			for _, want := range []string{"Failure report", "What went wrong", "the report task failed on purpose"} {
				if !strings.Contains(page, want) {
					t.Errorf("deck page lacks %q", want)
				}
			}
		})
	}
}

// TestE2EDataStoreFileModes: a file a task returns is owner-only in the
// local data store, and so is the task's own file, which the store
// hard-links (SECURITY.md).
func TestE2EDataStoreFileModes(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.write", "--input", "text=hello")
	if r.code != 0 {
		t.Fatalf("run\n%s", r)
	}
	uri, _ := out.Outputs["file"].(string)
	stored := strings.TrimPrefix(uri, "file://")
	if stored == uri || len(out.Tasks) != 1 {
		t.Fatalf("output file %q, tasks %+v", uri, out.Tasks)
	}
	own := filepath.Join(out.Tasks[0].WorkDir, filepath.Base(stored))
	for _, path := range []string{stored, own} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o400 {
			t.Errorf("%s has mode %o, want 400", path, perm)
		}
	}
}

// TestE2ESingleTaskNode: ExecutionParams.Node is empty for a single-task
// run, as the sdk documents, and the task name in a workflow; the task log
// of a single-task run still gets the plugin's lines.
func TestE2ESingleTaskNode(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "--task", "text.env", "-v")
	if r.code != 0 {
		t.Fatalf("run --task\n%s", r)
	}
	if node, ok := out.Outputs["node"]; !ok || node != "" {
		t.Errorf("node = %#v in a single-task run, want \"\"", node)
	}
	logs := x.run("runs", "logs", out.ExecutionID, "env")
	if logs.code != 0 || !strings.Contains(logs.stdout, "reporting execution parameters") {
		t.Errorf("the single-task run's log lacks the plugin's line\n%s", logs)
	}
	out, r = x.runJSON("run", "params")
	if r.code != 0 {
		t.Fatalf("run params\n%s", r)
	}
	for _, name := range []string{"first", "second"} {
		p, _ := out.Outputs[name].(map[string]any)
		if p["node"] != name {
			t.Errorf("node of %s = %#v in a workflow, want %q", name, p["node"], name)
		}
	}
}

// TestE2EPluginEnvironment: a plugin process inherits neither secrets
// (FLYTE_SECRETS_*), nor secret-bearing FLYTE_* settings, nor the variable
// credentials.client_secret_env_var names, nor the keyring passphrase;
// PATH and HOME pass. The browser opener (runs deck --open) is held to the
// same rule.
func TestE2EPluginEnvironment(t *testing.T) {
	x := newE2E(t)
	conf := mustRead(t, filepath.Join(x.dir, "flyte.hcl"))
	x.writeFile("flyte.hcl", conf+`
credentials {
  client_secret_env_var = "MY_APP_CLIENT_SECRET"
}
`)
	secret := map[string]string{
		"FLYTE_SECRETS_FOO_BAR":           "s1-foo-bar",
		"FLYTE_AWS_SECRET_ACCESS_KEY":     "s2-aws-secret",
		"FLYTE_CREDENTIALS_CLIENT_SECRET": "s3-client-secret",
		"FLYTE_CREDENTIALS_COMMAND":       "s4-token-command",
		"MY_APP_CLIENT_SECRET":            "s5-app-secret",
		"GOFLYTE_KEYRING_PASSPHRASE":      "s6-passphrase",
	}
	var env []string
	for k, v := range secret {
		env = append(env, k+"="+v)
	}
	env = append(env, "GOFLYTE_TEST_HARMLESS=1")
	r := x.runEnv(env, "run", "--task", "misbehave.environ", "--json")
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("run (%v)\n%s", err, r)
	}
	got := map[string]string{}
	list, _ := out.Outputs["environ"].([]any)
	for _, kv := range list {
		k, v, _ := strings.Cut(kv.(string), "=")
		got[k] = v
	}
	for k := range secret {
		if _, ok := got[k]; ok {
			t.Errorf("the plugin inherited %s", k)
		}
	}
	for _, k := range []string{"PATH", "HOME", "GOFLYTE_TEST_HARMLESS"} {
		if _, ok := got[k]; !ok {
			t.Errorf("the plugin lacks %s: %v", k, list)
		}
	}

	// runs deck --open starts the platform's opener: a script that writes
	// its environment.
	bin := t.TempDir()
	dump := filepath.Join(bin, "env.txt")
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\nenv > "+dump+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run, r := x.runJSON("run", "report", "--input", "text=a b a")
	if r.code != 0 {
		t.Fatalf("run report\n%s", r)
	}
	r = x.runEnv(append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), "runs", "deck", run.ExecutionID, "--open")
	if r.code != 0 {
		t.Fatalf("runs deck --open\n%s", r)
	}
	seen := mustRead(t, dump)
	for k := range secret {
		if strings.Contains(seen, k+"=") {
			t.Errorf("the browser opener inherited %s", k)
		}
	}
	if !strings.Contains(seen, "GOFLYTE_TEST_HARMLESS=1") {
		t.Errorf("the opener's environment lacks an ordinary variable:\n%s", seen)
	}
}

// TestE2EDeepNesting: 100,000 levels of brackets crashed hcl's parser
// with a fatal stack overflow. A workflow file (validate and run), the
// configuration file and an --input value each get a "Nesting too deep"
// diagnostic and exit code 2, with a snippet that does not echo the
// 200 KB line.
func TestE2EDeepNesting(t *testing.T) {
	x := newE2E(t)
	const n = 100_000
	deep := strings.Repeat("[", n) + strings.Repeat("]", n)
	wf := x.writeFile("deep.hcl", "workflow \"deep\" {\n  task \"t\" {\n    uses   = \"text.upper\"\n    inputs = { text = "+deep+" }\n  }\n}\n")
	check := func(r result, where string) {
		t.Helper()
		if r.code != 2 || !strings.Contains(r.stderr, "Nesting too deep") || !strings.Contains(r.stderr, where) {
			t.Errorf("want exit 2 and a diagnostic at %s\n%.2000s", where, r)
		}
		if len(r.stderr) > 4000 {
			t.Errorf("stderr is %d bytes: the snippet is not cut", len(r.stderr))
		}
		if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "stack overflow") {
			t.Errorf("crashed\n%.2000s", r)
		}
	}
	check(x.run("validate", wf), "deep.hcl line 4")
	check(x.run("run", wf), "deep.hcl line 4")

	// An argument is at most 128 KiB (Linux's MAX_ARG_STRLEN): 30,000 levels.
	arg := strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000)
	check(x.run("run", "--task", "text.count", "--input", "words="+arg), "--input")
	check(x.run("run", "--task", "text.count", "--inputs-file", x.writeFile("in.json", `{"words": `+deep+`}`)), "in.json")

	conf := mustRead(t, filepath.Join(x.dir, "flyte.hcl"))
	x.writeFile("flyte.hcl", conf+"local {\n  project = "+strings.Repeat("(", n)+`"p"`+strings.Repeat(")", n)+"\n}\n")
	check(x.run("validate", wf), "flyte.hcl line")
}
