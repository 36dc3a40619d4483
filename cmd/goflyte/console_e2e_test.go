package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/goflyte/goflyte/console"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/internal/browsertest"
)

func TestE2EConsoleRefusesRemote(t *testing.T) {
	x := newE2E(t)
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		if r := x.run("console", "--addr", addr, "--no-open"); r.code != 2 || !strings.Contains(r.stderr, "--allow-remote") {
			t.Errorf("--addr %s: %s", addr, r)
		}
	}
}

// startConsole starts `goflyte console --json` and returns its URL (with
// the token) and address; the process is interrupted when the test ends,
// and must stop promptly.
func (x *e2e) startConsole() (link, addr string) {
	x.t.Helper()
	cmd := exec.Command(e2eBin, "console", "--no-open", "--json")
	cmd.Dir = x.dir
	cmd.Env = x.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		x.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	exited := make(chan struct{})
	x.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			x.t.Error("the console did not stop within 10s of SIGINT")
			<-exited
		}
		if _, err := os.Stat(filepath.Join(x.sandbox, "console.json")); !os.IsNotExist(err) {
			x.t.Errorf("the console left its address in the sandbox: %v", err)
		}
	})
	var info struct{ URL, Addr string }
	if err := json.NewDecoder(out).Decode(&info); err != nil {
		x.t.Fatalf("console --json: %v; stderr %s", err, stderr.String())
	}
	go func() { io.Copy(io.Discard, out); cmd.Wait(); close(exited) }()
	return info.URL, info.Addr
}

type consoleClient struct {
	t     *testing.T
	base  string
	token string
}

func (c consoleClient) do(method, path string, body io.Reader, header ...string) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	req.Header.Set("Cookie", console.CookieName+"="+c.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitStatus waits for a run's record to reach status.
func (x *e2e) waitStatus(name, status string) {
	x.t.Helper()
	sb := sandbox.Sandbox{Root: x.sandbox}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rec, err := sb.LoadRecord(name); err == nil && rec.Status == status {
			return
		}
	}
	x.t.Fatalf("run %s did not become %s", name, status)
}

// TestE2EConsole serves a sandbox of real runs of the example workflows
// and drives the console with a real Chromium: the pages show what the
// CLI shows, a slow run's graph changes live, markup in logs and errors
// stays text, and the browser reports no errors or CSP violations. The
// actions (start, cancel, resume, delete) run real goflyte processes.
func TestE2EConsole(t *testing.T) {
	// Self-contained (its own directories, console, browser): it overlaps the tests that wait.
	t.Parallel()
	x := newE2E(t)
	allocCtx := browsertest.Allocator(t, chromedp.WindowSize(1280, 900))
	x.writeFile("slow.hcl", `
workflow "slow" {
  input "ms" { type = number }
  task "nap" {
    uses   = "text.sleep"
    inputs = { ms = input.ms }
  }
  task "wake" {
    uses   = "text.upper"
    inputs = { text = "awake ${task.nap.slept_ms}" }
  }
  task "after" {
    uses   = "text.upper"
    inputs = { text = task.wake.text }
  }
}
`)
	// Runs before the console: a fan-out, a failure with markup, a report.
	if r := x.run("run", "fanout", "--input", `texts=["to be or not to be","let it be"]`, "-q"); r.code != 0 {
		t.Fatal(r)
	}
	const evil = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	if r := x.run("run", "--task", "text.fail", "--input", "message="+evil, "-q"); r.code != 1 {
		t.Fatal(r)
	}
	link, addr := x.startConsole()
	u, _ := url.Parse(link)
	c := consoleClient{t: t, base: "http://" + addr, token: u.Query().Get("token")}

	// goflyte run prints the console's link for its run.
	r := x.run("run", "report", "--input", "text=the console shows this run", "-q")
	if r.code != 0 || !strings.Contains(r.stderr, "Console: http://"+addr+"/runs/r") {
		t.Errorf("goflyte run with a console serving: %s", r)
	}

	// The API has the CLI's shapes.
	var cli, api []sandbox.RunSummary
	json.Unmarshal([]byte(x.run("runs", "list", "--json").stdout), &cli)
	code, body := c.do("GET", "/api/runs", nil)
	if err := json.Unmarshal(body, &api); code != 200 || err != nil {
		t.Fatalf("/api/runs: %d %v", code, err)
	}
	if len(cli) != 3 || !slices.EqualFunc(cli, api, func(a, b sandbox.RunSummary) bool { return a.Name == b.Name && a.Status == b.Status }) {
		t.Errorf("/api/runs %+v, runs list --json %+v", api, cli)
	}
	failed := cli[1].Name
	fanout := cli[2].Name

	// The browser.
	var mu sync.Mutex
	var problems []string
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, fmt.Sprintf("console.%s", ev.Type))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, "log: "+ev.Entry.Text)
			}
		}
	}))
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	nav := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatalf("load %s: %v", u, err)
		}
	}

	// The runs page, opened with the token: it lists what runs list does.
	nav(link)
	if got := eval(`location.search`); got != "" {
		t.Errorf("the token stays in the address: %v", got)
	}
	rows := eval(`[...document.querySelectorAll("#runs tbody tr")].map(tr => tr.id.slice(4) + ":" + tr.dataset.status).join(",")`)
	var want []string
	for _, s := range cli {
		want = append(want, s.Name+":"+s.Status)
	}
	if rows != strings.Join(want, ",") {
		t.Errorf("runs page rows %v, want %v", rows, want)
	}

	// A run page: one node per task, with the status of runs show --json.
	for _, name := range []string{fanout, failed} {
		nav("http://" + addr + "/runs/" + name)
		var rec sandbox.Record
		json.Unmarshal([]byte(x.run("runs", "show", name, "--json").stdout), &rec)
		var wantNodes []string
		for _, tk := range rec.Tasks {
			wantNodes = append(wantNodes, tk.Name+":"+tk.Status)
		}
		got := eval(`[...document.querySelectorAll("svg.dag [id^=node-]")].map(n => n.id.slice(5) + ":" + n.dataset.status).sort().join(",")`)
		slices.Sort(wantNodes)
		if got != strings.Join(wantNodes, ",") {
			t.Errorf("run %s graph %v, want %v", name, got, wantNodes)
		}
	}
	// The failed task's markup is text: in the run page, the task page
	// and its log.
	for _, p := range []string{"/runs/" + failed, "/runs/" + failed + "/tasks/fail"} {
		nav("http://" + addr + p)
		if got := eval(`typeof window.pwned`); got != "undefined" {
			t.Errorf("%s: a script from the task ran (window.pwned %v)", p, got)
		}
		if got := eval(`document.body.textContent.includes("<script>window.pwned=1</script>")`); got != true {
			t.Errorf("%s: the error is not shown as text", p)
		}
	}
	if got := eval(`[...document.querySelectorAll("#log td")].some(td => td.textContent.includes("<script>window.pwned=1"))`); got != true {
		t.Error("the task's log does not show the markup as text")
	}

	// A slow run, watched live: it appears on the runs page, and its
	// nodes change without a reload.
	nav("http://" + addr + "/")
	eval(`window.notReloaded = true`)
	slowDone := make(chan result, 1)
	go func() {
		r, _ := x.command(nil, nil, "run", filepath.Join(x.dir, "slow.hcl"), "--input", "ms=2500", "-q")
		slowDone <- r
	}()
	var slow string
	for deadline := time.Now().Add(30 * time.Second); slow == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		recs, _, _ := sandbox.Sandbox{Root: x.sandbox}.ListRecords()
		for _, rec := range recs {
			if rec.Workflow == "slow" {
				slow = rec.Name
			}
		}
	}
	if slow == "" {
		t.Fatal("the slow run did not start")
	}
	// The runs page shows it (the page was loaded before: live).
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("run-`+slow+`") !== null && window.notReloaded === true`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("the runs page did not show the new run live: %v", err)
	}
	nav("http://" + addr + "/runs/" + slow)
	eval(`window.notReloaded = true`)
	if got := eval(`document.getElementById("node-after").dataset.status`); got != "pending" {
		t.Errorf("node after: %v before the run ends", got)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("node-after").dataset.status === "succeeded"`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatalf("the graph did not change live: %v (nap is %v)", err, eval(`document.getElementById("node-nap").dataset.status`))
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("run-status").textContent === "succeeded"`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("the run's status did not change live: %v", err)
	}
	if got := eval(`window.notReloaded === true && document.getElementById("run-status").textContent`); got != "succeeded" {
		t.Errorf("after the run: %v (reloaded, or status not updated)", got)
	}
	if dir := os.Getenv("GOFLYTE_CONSOLE_SCREENSHOT"); dir != "" {
		if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(dir, "console.png"), shot, 0o644)
		}
	}
	if r := <-slowDone; r.code != 0 {
		t.Errorf("slow run: %s", r)
	}
	for _, p := range []string{"/", "/cache", "/workflows", "/workflows/fanout"} {
		nav("http://" + addr + p)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
	}
	mu.Unlock()

	// Actions, as the pages' forms post them.
	same := []string{"Origin", "http://" + addr, "Accept", "application/json"}
	code, body = c.do("POST", "/api/workflows/slow/run", strings.NewReader(""), same...)
	if code != 404 {
		t.Errorf("start of a workflow outside workflow_packages: %d %s", code, body)
	}
	code, body = c.do("POST", "/api/workflows/fanout/run", strings.NewReader(`{"texts":["a b c"]}`), append(same, "Content-Type", "application/json")...)
	var started map[string]string
	if err := json.Unmarshal(body, &started); code != 200 || err != nil || started["run"] == "" {
		t.Fatalf("start: %d %s", code, body)
	}
	x.waitStatus(started["run"], sandbox.StatusSucceeded)
	code, body = c.do("POST", "/api/runs/"+failed+"/resume", nil, same...)
	if code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	var resumed map[string]string
	json.Unmarshal(body, &resumed)
	x.waitStatus(resumed["run"], sandbox.StatusFailed) // text.fail fails again
	if rec, _ := (sandbox.Sandbox{Root: x.sandbox}).LoadRecord(resumed["run"]); rec == nil || !strings.HasSuffix(rec.ResumedFrom, failed) {
		t.Errorf("the resumed run: %+v", rec)
	}
	// Cancel a running run from the console, then delete it.
	_, running, exited := x.startSlowRun(120_000)
	if code, body := c.do("POST", "/api/runs/"+running+"/delete", nil, same...); code != 409 || !strings.Contains(string(body), "is running") {
		t.Errorf("delete of a running run: %d %s", code, body)
	}
	if code, body := c.do("POST", "/api/runs/"+running+"/cancel", nil, same...); code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not stop after cancel")
	}
	x.waitStatus(running, sandbox.StatusCancelled)
	if code, body := c.do("POST", "/api/runs/"+running+"/delete", nil, same...); code != 200 {
		t.Errorf("delete: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(x.sandbox, "runs", running)); !os.IsNotExist(err) {
		t.Errorf("deleted run still there: %v", err)
	}
}
