package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
)

// TestE2ECheckpointRetries runs a task that saves its progress in a
// checkpoint and fails after two steps in each attempt: every retry goes
// on from the checkpoint of the attempt before, so the fifth attempt
// finishes, starting from 81.
func TestE2ECheckpointRetries(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("series.hcl", `workflow "series" {
  task "count" {
    uses          = "math.series"
    inputs        = { n = 100, stop_after = 2 }
    retries       = 4
    retry_backoff = "1ms"
  }
  output "sum" { value = task.count.sum }
  output "resumed_from" { value = task.count.resumed_from }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 0 || out.Outputs["sum"] != float64(5050) || out.Outputs["resumed_from"] != float64(81) {
		t.Fatalf("want sum 5050 resumed from 81\n%s", r)
	}
	// Each attempt saved into a directory of its own.
	for _, name := range []string{"count", "count.2", "count.3", "count.4", "count.5"} {
		if _, err := os.Stat(filepath.Join(out.RunDir, "checkpoints", name, "_dst_cp")); err != nil {
			t.Errorf("checkpoint of attempt %s: %v", name, err)
		}
	}
}

// TestE2ECheckpointResume resumes a failed run: the task runs again from
// the checkpoint its last attempt saved in the run it resumes.
func TestE2ECheckpointResume(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("series.hcl", `workflow "series" {
  task "count" {
    uses          = "math.series"
    inputs        = { n = 100, stop_after = 3 }
    retries       = 1
    retry_backoff = "1ms"
  }
  output "sum" { value = task.count.sum }
  output "resumed_from" { value = task.count.resumed_from }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 1 || !strings.Contains(out.Error, "stopped after 3 steps at 61") {
		t.Fatalf("first run: want a failure after two attempts (six steps)\n%s", r)
	}
	runName := filepath.Base(out.RunDir)
	out, r = x.runJSON("run", "--resume", runName)
	if r.code != 0 || out.Outputs["sum"] != float64(5050) || out.Outputs["resumed_from"] != float64(91) {
		t.Fatalf("resumed run: want sum 5050, its second attempt starting from 91\n%s", r)
	}
}

// TestE2EFilePipeline passes a file and a directory across four tasks: each
// writes into its working directory or a RandomLocalDir and returns the
// path, and the next one reads the copy in the run's data store.
func TestE2EFilePipeline(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "files", "--input", "text=a\nb\n")
	if r.code != 0 || out.Outputs["text"] != "A\nB\n" {
		t.Fatalf("want the upper-cased lines back\n%s", r)
	}
	data := filepath.Join(out.RunDir, "data")
	wantFile := config.LocalURI(filepath.Join(data, "shout", "file", "upper-input.txt"))
	if out.Outputs["file"] != wantFile {
		t.Errorf("output file = %v, want %s", out.Outputs["file"], wantFile)
	}
	path := filepath.Join(data, "shout", "file", "upper-input.txt")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("stored file %s: %v, mode %v; want it read-only", path, err, fi.Mode())
	}
	lines, _ := out.Outputs["lines"].(string)
	if !strings.HasPrefix(lines, config.LocalURI(filepath.Join(data, "lines", "dir"))+"/") {
		t.Errorf("output lines = %q, want a directory in the data store", lines)
	}
	// The record keeps the URIs.
	r = x.run("runs", "show", out.ExecutionID, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, wantFile) {
		t.Errorf("runs show --json should list the stored file\n%s", r)
	}
}

// TestE2EFileInputsFeedTheCacheKey reads a file given on the command line
// with a cached task: the same contents hit the cache, wherever they are;
// changed contents miss it.
func TestE2EFileInputsFeedTheCacheKey(t *testing.T) {
	x := newE2E(t)
	a := x.writeFile("a.txt", "hello\n")
	b := x.writeFile("b.txt", "hello\n")
	out, r := x.runJSON("run", "read_file", "--input", "file=a.txt")
	if r.code != 0 || out.Outputs["text"] != "hello\n" || out.Tasks[0].Cache != "miss" {
		t.Fatalf("first read: want a miss\n%s", r)
	}
	out, r = x.runJSON("run", "read_file", "--input", "file="+b)
	if r.code != 0 || out.Tasks[0].Cache != "hit" {
		t.Errorf("same contents at another path: want a hit\n%s", r)
	}
	if err := os.WriteFile(a, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, r = x.runJSON("run", "read_file", "--input", "file=a.txt", "--explain")
	if r.code != 0 || out.Tasks[0].Cache != "miss" || out.Outputs["text"] != "changed\n" {
		t.Errorf("changed contents: want a miss and the new text\n%s", r)
	}
	r = x.run("run", "read_file", "--input", "file=missing.txt")
	if r.code != 2 || !strings.Contains(r.stderr, "missing.txt") {
		t.Errorf("a missing input file: want exit 2 naming it\n%s", r)
	}
}

// TestE2EFileOutputsCannotEscape has a plugin return files that are not
// its to return: each fails the task with an error saying why, and
// nothing from outside gets into the data store.
func TestE2EFileOutputsCannotEscape(t *testing.T) {
	x := newE2E(t)
	for how, want := range map[string]string{
		"dotdot":   "outside its working directory",
		"absolute": "outside its working directory",
		"symlink":  "outside its working directory",
		"missing":  "does not exist",
		"dir":      "is not a regular file",
	} {
		t.Run(how, func(t *testing.T) {
			out, r := x.runJSON("run", "--task", "misbehave.bad_file", "--input", "how="+how)
			if r.code != 1 || !strings.Contains(out.Error, want) || !strings.Contains(out.Error, `output "file"`) {
				t.Errorf("want a failed task saying %q\n%s", want, r)
			}
			if _, err := os.Stat(filepath.Join(out.RunDir, "data")); !os.IsNotExist(err) {
				t.Errorf("the data store got something: %v", err)
			}
		})
	}
}

// TestE2EFilePipelineOnS3 runs the file pipeline with its data store in a
// bucket of a real S3-compatible server: outputs are s3:// URIs, each
// task downstream fetches what it reads, and a stored file can be the
// input of another run. Wrong credentials and missing objects fail with
// clear errors that never show the secret key.
func TestE2EFilePipelineOnS3(t *testing.T) {
	x := newE2E(t)
	srv := s3test.Start(t)
	srv.CreateBucket("runs")
	conf := mustRead(t, filepath.Join(x.dir, "flyte.hcl"))
	x.writeFile("flyte.hcl", conf+fmt.Sprintf(`
aws {
  endpoint          = %q
  access_key_id     = %q
  secret_access_key = %q
  retries           = 1
  backoff_seconds   = 0
}
`, srv.Endpoint, srv.AccessKey, srv.SecretKey))

	out, r := x.runJSON("run", "files", "--input", "text=x\ny\n", "--raw-output-data-prefix", "s3://runs/goflyte")
	if r.code != 0 || out.Outputs["text"] != "X\nY\n" {
		t.Fatalf("want the pipeline to run through the bucket\n%s", r)
	}
	runName := filepath.Base(out.RunDir)
	want := "s3://runs/goflyte/" + runName + "/shout/file/upper-input.txt"
	if out.Outputs["file"] != want {
		t.Errorf("output file = %v, want %s", out.Outputs["file"], want)
	}
	// The objects are in the bucket, and the sandbox has no data store.
	list, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("runs")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, *o.Key)
	}
	for _, k := range []string{"goflyte/" + runName + "/write/file/input.txt", "goflyte/" + runName + "/shout/file/upper-input.txt"} {
		if !slices.Contains(keys, k) {
			t.Errorf("bucket has %v, want %s", keys, k)
		}
	}
	if _, err := os.Stat(filepath.Join(out.RunDir, "data")); !os.IsNotExist(err) {
		t.Errorf("a run with a bucket data store made a local one: %v", err)
	}
	// A stored object is an input like any file.
	out, r = x.runJSON("run", "read_file", "--input", "file="+want)
	if r.code != 0 || out.Outputs["text"] != "X\nY\n" {
		t.Errorf("read_file from s3\n%s", r)
	}
	// A missing object, then a wrong secret key.
	out, r = x.runJSON("run", "read_file", "--input", "file=s3://runs/nothing/here.txt")
	if r.code != 1 || !strings.Contains(out.Error, "s3://runs/nothing/here.txt") || !strings.Contains(out.Error, "no such object") {
		t.Errorf("a missing object: want a failure naming it\n%s", r)
	}
	wrong := "wrong-secret-" + srv.SecretKey
	r = x.runEnv([]string{"FLYTE_AWS_SECRET_ACCESS_KEY=" + wrong}, "run", "read_file", "--input", "file="+want)
	if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "denied") {
		t.Errorf("a wrong secret key: want a permission error\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, wrong) || strings.Contains(r.stdout+r.stderr, srv.SecretKey) {
		t.Errorf("the secret key leaked into the output\n%s", r)
	}
}

// TestE2EPluginWritesGarbageToStdout has a plugin write junk to its
// standard output after the handshake, through os.Stdout and straight to
// file descriptor 1: the calls still succeed, and the plugin serves a
// second call after it.
func TestE2EPluginWritesGarbageToStdout(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("garbage.hcl", `workflow "garbage" {
  task "first" { uses = "misbehave.garbage" }
  task "second" {
    uses       = "misbehave.garbage"
    depends_on = [task.first]
  }
  output "wrote" { value = task.second.wrote }
}
`)
	done := make(chan struct{})
	var out runJSON
	var r result
	go func() {
		defer close(done)
		out, r = x.runJSON("run", path)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a plugin writing to stdout hung the run") // a hang, not a timing target
	}
	if r.code != 0 || out.Outputs["wrote"] == nil {
		t.Fatalf("want both calls to succeed\n%s", r)
	}
}

// TestE2EFilesThroughSubWorkflows passes files out of a sub-workflow call
// and of for_each instances into other tasks.
func TestE2EFilesThroughSubWorkflows(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("outer.hcl", `workflow "outer" {
  task "inner" {
    uses   = workflow.files
    inputs = { text = "p\nq\n" }
  }
  task "each" {
    uses     = "text.write"
    for_each = ["x", "y"]
    inputs   = { text = each.value, name = "${each.value}.txt" }
  }
  task "read" {
    uses     = "text.read"
    for_each = concat([task.inner.file], task.each.file)
    inputs   = { file = each.value }
  }
  output "texts" { value = task.read.text }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	if got := fmt.Sprint(out.Outputs["texts"]); got != "[P\nQ\n x y]" {
		t.Errorf("texts = %q", got)
	}
}

// TestE2EOneTaskEveryReport runs the report example with -v: its count
// task makes a deck, records metrics and logs, and the run record ties
// all three to it.
func TestE2EOneTaskEveryReport(t *testing.T) {
	x := newE2E(t)
	out, r := x.runJSON("run", "report", "-v", "--input", "text=a b a", "--input", "k=1")
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	r = x.run("runs", "show", out.ExecutionID, "--json")
	var rec struct {
		Tasks []struct {
			Name    string `json:"name"`
			Deck    string `json:"deck"`
			LogFile string `json:"log_file"`
			Metrics []struct {
				Name  string  `json:"name"`
				Kind  string  `json:"kind"`
				Value float64 `json:"value"`
			} `json:"metrics"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, r)
	}
	for _, task := range rec.Tasks {
		if task.Name != "count" {
			continue
		}
		metrics := map[string]string{}
		for _, m := range task.Metrics {
			metrics[m.Name] = m.Kind
		}
		if metrics["text.words"] != "counter" || metrics["engine.task.duration"] != "timer" {
			t.Errorf("count's metrics = %v, want its own text.words and the engine's task duration", metrics)
		}
		for what, rel := range map[string]string{"deck": task.Deck, "log": task.LogFile} {
			if rel == "" {
				t.Errorf("count has no %s in the record", what)
				continue
			}
			if _, err := os.Stat(filepath.Join(out.RunDir, filepath.FromSlash(rel))); err != nil {
				t.Errorf("count's %s: %v", what, err)
			}
		}
		return
	}
	t.Fatalf("no task count in the record\n%s", r.stdout)
}

// TestE2EDecksOfDynamicAndEagerTasks turns decks on for a dynamic and an
// eager task: the tasks they run show on their pages.
func TestE2EDecksOfDynamicAndEagerTasks(t *testing.T) {
	x := newE2E(t)
	path := x.writeFile("dyn.hcl", `workflow "dyn" {
  task "counts" {
    uses        = "text.count_each"
    inputs      = { texts = ["a b", "c"] }
    enable_deck = true
  }
  task "shouts" {
    uses        = "text.shout_all"
    inputs      = { texts = ["x", "y"] }
    enable_deck = true
  }
}
`)
	out, r := x.runJSON("run", path)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	for task, children := range map[string][]string{
		"counts": {"+split0 attempt 1", "+count1 attempt 1"},
		"shouts": {"+1+upper attempt 1", "+2+upper attempt 1"},
	} {
		page, err := os.ReadFile(filepath.Join(out.RunDir, "tasks", task, "deck.html"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range children {
			if !strings.Contains(string(page), c) {
				t.Errorf("the deck of %s does not show %q", task, c)
			}
		}
	}
}
