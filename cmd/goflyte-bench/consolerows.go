package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/console"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// The console rows: its pages over a large sandbox, against the CLI's
// `runs list --json` / `runs show --json` of the same data, and the
// latency of a live update.

// consoleRuns is the number of runs in the runs rows' sandbox.
const consoleRuns = 10000

// consoleForEach is the instances of the for_each in the run page row.
const consoleForEach = 10000

// consoleLiveLimit is the goal for the p95 latency of a live update.
const consoleLiveLimit = 500 * time.Millisecond

func consoleComparisons() []Comparison {
	return []Comparison{
		{
			ID:   "console-runs-page",
			Name: fmt.Sprintf("console runs page, %d runs, vs runs list --json", consoleRuns),
			Goflyte: Side{
				What:  fmt.Sprintf("GET / of goflyte console (in process, over TCP) on a sandbox of %d finished runs of 3 tasks each", consoleRuns),
				Setup: setupConsoleGet("/", false),
			},
			Baseline: &Side{
				What:  "goflyte runs list --json on the same sandbox, through the CLI",
				Setup: setupRunsListCLI,
			},
			Limit: time.Second,
			N:     10, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "console-api-runs",
			Name: fmt.Sprintf("console /api/runs, %d runs, vs runs list --json", consoleRuns),
			Goflyte: Side{
				What:  "GET /api/runs on the same sandbox",
				Setup: setupConsoleGet("/api/runs", false),
			},
			Baseline: &Side{
				What:  "goflyte runs list --json, as above",
				Setup: setupRunsListCLI,
			},
			Limit: time.Second,
			N:     10, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "console-run-page-foreach",
			Name: fmt.Sprintf("console run page, a %d-element for_each, vs runs show --json", consoleForEach),
			Goflyte: Side{
				What:  fmt.Sprintf("GET /runs/{run} of a run whose for_each had %d instances (50 failed), with the tasks before and after it", consoleForEach),
				Setup: setupConsoleGet("", true),
			},
			Baseline: &Side{
				What:  "goflyte runs show RUN --json of the same run, through the CLI",
				Setup: setupRunsShowCLI,
			},
			Limit: time.Second,
			N:     10, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "console-live",
			Name: "console live update, p95 of event written → SSE event received",
			Goflyte: Side{
				What:  "a Recorder appends a task update to a running run's events.jsonl; time until /api/runs/{run}/events delivers it; each sample is the p95 of 20",
				Setup: setupConsoleLive,
			},
			Limit: consoleLiveLimit,
			N:     5, QuickN: 2,
		},
	}
}

// consoleFixture is a sandbox of many runs and one for_each run, written
// with the sandbox package, made once per bench.
type consoleFixture struct {
	dir, config string
	sb          sandbox.Sandbox
	foreach     string
}

var (
	consoleFixtureOnce sync.Once
	consoleFix         *consoleFixture
	consoleFixErr      error
)

func getConsoleFixture(env *Env) (*consoleFixture, error) {
	consoleFixtureOnce.Do(func() { consoleFix, consoleFixErr = makeConsoleFixture(env) })
	return consoleFix, consoleFixErr
}

func makeConsoleFixture(env *Env) (*consoleFixture, error) {
	dir, err := env.TempDir("console-")
	if err != nil {
		return nil, err
	}
	f := &consoleFixture{dir: dir, config: filepath.Join(dir, "flyte.hcl"), sb: sandbox.Sandbox{Root: filepath.Join(dir, "sandbox")}}
	cfg := fmt.Sprintf("sdk {\n  plugin_dirs   = [%q]\n  local_sandbox = %q\n}\n", env.PluginDir, f.sb.Root)
	if err := os.WriteFile(f.config, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The first run goes through a Recorder (StartRecord, Finish), the
	// rest are that record's JSON written with a new name and tasks:
	// Finish syncs to disk, which for 10,000 runs would take minutes.
	first := true
	write := func(name string, rec *sandbox.Record) error {
		if first {
			first = false
			run, err := f.sb.NewRun(name)
			if err != nil {
				return err
			}
			final := *rec
			rec.Status = sandbox.StatusRunning
			rc, err := run.StartRecord(rec)
			if err != nil {
				return err
			}
			return rc.Finish(&final)
		}
		dir := f.sb.RunDir(name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		rec.Name = name
		rec.TaskCounts = map[string]int{}
		for _, t := range rec.Tasks {
			rec.TaskCounts[t.Status]++
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "record.json"), data, 0o600)
	}
	statuses := []string{sandbox.StatusSucceeded, sandbox.StatusSucceeded, sandbox.StatusFailed}
	for i := range consoleRuns {
		at := start.Add(time.Duration(i) * time.Minute)
		st := statuses[i%3]
		rec := &sandbox.Record{ID: fmt.Sprintf("local:local:r%06d", i), Workflow: []string{"report", "fanout", "wordcount"}[i%3],
			Status: st, Start: at, End: at.Add(1500 * time.Millisecond), PID: 1,
			Tasks: []sandbox.TaskRecord{
				{Name: "split", Task: "text.split", Status: sandbox.StatusSucceeded, Start: at, End: at.Add(time.Second)},
				{Name: "count", Task: "text.count", Status: st, Start: at.Add(time.Second), End: at.Add(1400 * time.Millisecond), Deps: []string{"split"}},
				{Name: "report", Task: "text.join", Status: map[bool]string{true: sandbox.StatusSucceeded, false: sandbox.StatusSkipped}[st == sandbox.StatusSucceeded], Deps: []string{"count"}},
			}}
		if err := write(fmt.Sprintf("r%06d", i), rec); err != nil {
			return nil, err
		}
	}
	var failed []string
	for i := range 50 {
		failed = append(failed, fmt.Sprintf("%d: boom", i*200))
	}
	f.foreach = "r999999"
	at := start.Add(-time.Hour)
	rec := &sandbox.Record{ID: "local:local:" + f.foreach, Workflow: "fanout", Status: sandbox.StatusFailed, Start: at, End: at.Add(time.Minute), PID: 1,
		Tasks: []sandbox.TaskRecord{
			{Name: "texts", Task: "text.split", Status: sandbox.StatusSucceeded, Start: at, End: at.Add(time.Second)},
			{Name: "count", Task: "text.count", Status: sandbox.StatusFailed, Start: at.Add(time.Second), End: at.Add(time.Minute), Deps: []string{"texts"},
				Instances: consoleForEach, FailedInstances: failed, Error: "50 of 10000 instances failed"},
			{Name: "total", Task: "math.sum", Status: sandbox.StatusSkipped, Deps: []string{"count"}},
		}}
	if err := write(f.foreach, rec); err != nil {
		return nil, err
	}
	return f, nil
}

// serveConsole serves a console of sb on 127.0.0.1 until the bench ends.
func serveConsole(env *Env, sb sandbox.Sandbox) (base, token string, err error) {
	srv, err := console.New(console.Options{Sandbox: sb})
	if err != nil {
		return "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	srv.SetAddr(ln.Addr().String())
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	env.Cleanup(func() { srv.Close(); hs.Close() })
	return "http://" + ln.Addr().String(), srv.Token(), nil
}

func consoleGet(ctx context.Context, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cookie", console.CookieName+"="+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}

// setupConsoleGet times GET path (or the for_each run's page) of a
// console of the fixture, body read to the end.
func setupConsoleGet(path string, foreach bool) func(ctx context.Context, env *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		f, err := getConsoleFixture(env)
		if err != nil {
			return nil, err
		}
		base, token, err := serveConsole(env, f.sb)
		if err != nil {
			return nil, err
		}
		if foreach {
			path = "/runs/" + f.foreach
		}
		return func(ctx context.Context) (time.Duration, error) {
			start := time.Now()
			resp, err := consoleGet(ctx, base+path, token)
			if err != nil {
				return 0, err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if err == nil && n < 1000 {
				err = fmt.Errorf("GET %s: only %d bytes", path, n)
			}
			return d, err
		}, nil
	}
}

func cliSampler(env *Env, f *consoleFixture, args ...string) Sampler {
	return func(ctx context.Context) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, env.CLI, append(args, "--config", f.config)...)
		cmd.Env = hostEnv()
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("goflyte %s: %w", strings.Join(args, " "), err)
		}
		if len(out) < 100 {
			return 0, fmt.Errorf("goflyte %s: output %q", strings.Join(args, " "), out)
		}
		return d, nil
	}
}

func setupRunsListCLI(ctx context.Context, env *Env) (Sampler, error) {
	f, err := getConsoleFixture(env)
	if err != nil {
		return nil, err
	}
	return cliSampler(env, f, "runs", "list", "--json"), nil
}

func setupRunsShowCLI(ctx context.Context, env *Env) (Sampler, error) {
	f, err := getConsoleFixture(env)
	if err != nil {
		return nil, err
	}
	return cliSampler(env, f, "runs", "show", f.foreach, "--json"), nil
}

// setupConsoleLive keeps a run going (a Recorder held open) with a
// console streaming its events; a sample writes 20 task updates one at a
// time and returns the p95 of the delays until each arrived.
func setupConsoleLive(ctx context.Context, env *Env) (Sampler, error) {
	dir, err := env.TempDir("live-")
	if err != nil {
		return nil, err
	}
	sb := sandbox.Sandbox{Root: dir}
	run, err := sb.NewRun("r000001")
	if err != nil {
		return nil, err
	}
	rc, err := run.StartRecord(&sandbox.Record{ID: "local:local:r000001", Workflow: "live", Start: time.Now(), Tasks: []sandbox.TaskRecord{{Name: "t", Task: "text.upper", Status: sandbox.StatusPending}}})
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { rc.Close() })
	base, token, err := serveConsole(env, sb)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	env.Cleanup(cancel)
	resp, err := consoleGet(sctx, base+"/api/runs/r000001/events", token)
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { resp.Body.Close() })
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data: ") && strings.Contains(line, `"attempts":`) {
				got <- line
			}
		}
		close(got)
	}()
	attempt := 0
	return func(ctx context.Context) (time.Duration, error) {
		var ds []time.Duration
		for range 20 {
			attempt++
			start := time.Now()
			if err := rc.Task(sandbox.TaskRecord{Name: "t", Task: "text.upper", Status: sandbox.StatusRunning, Attempts: attempt}); err != nil {
				return 0, err
			}
			want := fmt.Sprintf(`"attempts":%d,`, attempt)
			for {
				select {
				case line, ok := <-got:
					if !ok {
						return 0, fmt.Errorf("the event stream ended")
					}
					if !strings.Contains(line, want) {
						continue
					}
				case <-time.After(10 * time.Second):
					return 0, fmt.Errorf("no event within 10s")
				}
				break
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)*95/100-1], nil
	}, nil
}
