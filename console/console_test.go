package console

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/sandbox"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// fixture is a sandbox with one finished run and one going (its Recorder
// open), served by a console on 127.0.0.1.
type fixture struct {
	t       *testing.T
	sb      sandbox.Sandbox
	srv     *Server
	ts      *httptest.Server
	live    *sandbox.Recorder
	liveRec *sandbox.Record
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sb := sandbox.Sandbox{Root: t.TempDir()}
	f := &fixture{t: t, sb: sb}
	// A finished run whose task failed with markup in its error.
	run, err := sb.NewRun("r20261201-100000-aaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	rec := &sandbox.Record{ID: "local:local:" + run.Name, Workflow: "secretive", Start: t0, Tasks: []sandbox.TaskRecord{
		{Name: "a", Task: "text.fail", Status: sandbox.StatusPending},
		{Name: "b", Task: "text.upper", Status: sandbox.StatusPending, Deps: []string{"a"}},
	}}
	rc, err := run.StartRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.End, rec.Error = sandbox.StatusFailed, t0.Add(time.Second), "task a failed: <script>window.pwned=1</script>"
	rec.Tasks[0].Status, rec.Tasks[0].Error = sandbox.StatusFailed, "<script>window.pwned=1</script>"
	rec.Tasks[1].Status = sandbox.StatusSkipped
	if err := rc.Finish(rec); err != nil {
		t.Fatal(err)
	}
	// A running run.
	run2, err := sb.NewRun("r20261201-110000-bbbbbbbb")
	if err != nil {
		t.Fatal(err)
	}
	f.liveRec = &sandbox.Record{ID: "local:local:" + run2.Name, Workflow: "wide", Start: t0.Add(time.Hour), Tasks: []sandbox.TaskRecord{
		{Name: "x", Task: "text.upper", Status: sandbox.StatusPending},
		{Name: "y", Task: "text.upper", Status: sandbox.StatusPending, Deps: []string{"x"}},
	}}
	if f.live, err = run2.StartRecord(f.liveRec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.live.Close() })
	f.srv, err = New(Options{Sandbox: sb, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv)
	f.srv.SetAddr(f.ts.Listener.Addr().String())
	t.Cleanup(func() { f.srv.Close(); f.ts.Close() })
	return f
}

func (f *fixture) get(path string, header map[string]string) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *fixture) cookie() map[string]string {
	return map[string]string{"Cookie": CookieName + "=" + f.srv.Token()}
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSecurity(t *testing.T) {
	f := newFixture(t)
	paths := []string{"/", "/runs/r20261201-100000-aaaaaaaa", "/runs/r20261201-100000-aaaaaaaa/tasks/a", "/cache",
		"/api/runs", "/api/runs/r20261201-100000-aaaaaaaa", "/api/cache", "/api/runs/r20261201-100000-aaaaaaaa/events", "/api/events"}
	for _, p := range paths {
		t.Run("no token "+p, func(t *testing.T) {
			r := f.get(p, nil)
			b := body(t, r)
			if r.StatusCode != http.StatusForbidden || strings.Contains(b, "r2026") || strings.Contains(b, "secretive") {
				t.Errorf("status %d, body %q", r.StatusCode, b)
			}
			r = f.get(p+"?token=wrong", nil)
			if b := body(t, r); r.StatusCode != http.StatusForbidden || strings.Contains(b, "r2026") {
				t.Errorf("wrong token: status %d, body %q", r.StatusCode, b)
			}
		})
		t.Run("wrong host "+p, func(t *testing.T) {
			h := f.cookie()
			h["Host"] = "attacker.example:" + strings.Split(f.ts.Listener.Addr().String(), ":")[1]
			r := f.get(p, h)
			if b := body(t, r); r.StatusCode != http.StatusMisdirectedRequest || strings.Contains(b, "r2026") {
				t.Errorf("status %d, body %q", r.StatusCode, b)
			}
		})
	}
	t.Run("token then cookie", func(t *testing.T) {
		r := f.get("/?token="+f.srv.Token(), nil)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("status %d, location %q", r.StatusCode, r.Header.Get("Location"))
		}
		var c *http.Cookie
		for _, ck := range r.Cookies() {
			if ck.Name == CookieName {
				c = ck
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value != f.srv.Token() {
			t.Fatalf("cookie %+v", c)
		}
		r = f.get("/", f.cookie())
		if b := body(t, r); r.StatusCode != 200 || !strings.Contains(b, "r20261201-100000-aaaaaaaa") {
			t.Errorf("with the cookie: %d", r.StatusCode)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
	})
	t.Run("cross-origin POST", func(t *testing.T) {
		for _, h := range []map[string]string{{"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}} {
			req, _ := http.NewRequest("POST", f.ts.URL+"/api/runs/r20261201-100000-aaaaaaaa/delete", nil)
			req.Header.Set("Cookie", CookieName+"="+f.srv.Token())
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%v: status %d", h, resp.StatusCode)
			}
		}
		if _, err := f.sb.LoadRecord("r20261201-100000-aaaaaaaa"); err != nil {
			t.Errorf("the run is gone after refused deletes: %v", err)
		}
	})
	t.Run("markup is text", func(t *testing.T) {
		for _, p := range []string{"/runs/r20261201-100000-aaaaaaaa", "/runs/r20261201-100000-aaaaaaaa/tasks/a"} {
			b := body(t, f.get(p, f.cookie()))
			if strings.Contains(b, "<script>window") || !strings.Contains(b, "&lt;script&gt;window.pwned=1&lt;/script&gt;") {
				t.Errorf("%s: the error is not escaped", p)
			}
		}
	})
}

// TestAPI checks that the JSON API serves what the sandbox package gives
// the CLI.
func TestAPI(t *testing.T) {
	f := newFixture(t)
	var got []sandbox.RunSummary
	if err := json.Unmarshal([]byte(body(t, f.get("/api/runs", f.cookie()))), &got); err != nil {
		t.Fatal(err)
	}
	want, _, err := f.sb.ListSummaries()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/api/runs (-want +got):\n%s", diff)
	}
	var rec sandbox.Record
	if err := json.Unmarshal([]byte(body(t, f.get("/api/runs/r20261201-100000-aaaaaaaa", f.cookie()))), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != sandbox.StatusFailed || len(rec.Tasks) != 2 {
		t.Errorf("/api/runs/{run}: %+v", rec)
	}
	if r := f.get("/api/runs/r20000101-000000-00000000", f.cookie()); r.StatusCode != 404 {
		t.Errorf("missing run: %d", r.StatusCode)
	}
	var filtered []sandbox.RunSummary
	json.Unmarshal([]byte(body(t, f.get("/api/runs?status=running", f.cookie()))), &filtered)
	if len(filtered) != 1 || filtered[0].Name != "r20261201-110000-bbbbbbbb" || filtered[0].TaskCounts["pending"] != 2 {
		t.Errorf("running runs: %+v", filtered)
	}
	if r := f.get("/favicon.ico", f.cookie()); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

type sse struct{ id, name, data string }

// readEvents reads n events from an event stream.
func readEvents(t *testing.T, r *bufio.Reader, n int) []sse {
	t.Helper()
	var out []sse
	var cur sse
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
			}
			cur = sse{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

func (f *fixture) stream(path, lastID string) (*bufio.Reader, func()) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
	req.Header.Set("Cookie", CookieName+"="+f.srv.Token())
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		f.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
}

func status(t *testing.T, e sse) string {
	var v struct{ Name, Status string }
	if err := json.Unmarshal([]byte(e.data), &v); err != nil {
		t.Fatal(err)
	}
	return v.Name + ":" + v.Status
}

// TestEventsReconnect follows a run while it is recorded, drops the
// stream, lets the run move on, and reconnects with Last-Event-ID: the
// events continue right after the last one seen, none lost or repeated.
func TestEventsReconnect(t *testing.T) {
	f := newFixture(t)
	const path = "/api/runs/r20261201-110000-bbbbbbbb/events"
	r, stop := f.stream(path, "")
	first := readEvents(t, r, 3) // x, y pending; run
	if got := []string{status(t, first[0]), status(t, first[1]), first[2].name}; !cmp.Equal(got, []string{"x:pending", "y:pending", "run"}) {
		t.Fatalf("first events %v", got)
	}
	if err := f.live.Task(sandbox.TaskRecord{Name: "x", Task: "text.upper", Status: sandbox.StatusRunning, Start: t0}); err != nil {
		t.Fatal(err)
	}
	ev := readEvents(t, r, 1)[0]
	if ev.name != "task" || status(t, ev) != "x:running" {
		t.Fatalf("live event %+v", ev)
	}
	stop()
	lastID := ev.id
	// While nobody listens, the run goes on.
	f.live.Task(sandbox.TaskRecord{Name: "x", Task: "text.upper", Status: sandbox.StatusSucceeded, Start: t0, End: t0.Add(time.Second)})
	f.live.Task(sandbox.TaskRecord{Name: "y", Task: "text.upper", Status: sandbox.StatusRunning, Start: t0})
	time.Sleep(50 * time.Millisecond) // a few polls
	r, stop = f.stream(path, lastID)
	defer stop()
	got := readEvents(t, r, 2)
	if a, b := status(t, got[0]), status(t, got[1]); a != "x:succeeded" || b != "y:running" {
		t.Errorf("after reconnect: %s, %s", a, b)
	}
	var n1, n2 int
	var ep1, ep2 string
	splitID(lastID, &ep1, &n1)
	splitID(got[0].id, &ep2, &n2)
	if ep1 != ep2 || n2 != n1+1 {
		t.Errorf("ids %s then %s: not consecutive", lastID, got[0].id)
	}
	// The run ends: final states, run, end; then the stream closes.
	final := *f.liveRec
	final.Status, final.End = sandbox.StatusSucceeded, t0.Add(time.Minute)
	final.Tasks = []sandbox.TaskRecord{
		{Name: "x", Task: "text.upper", Status: sandbox.StatusSucceeded, Start: t0, End: t0.Add(time.Second)},
		{Name: "y", Task: "text.upper", Status: sandbox.StatusSucceeded, Start: t0, End: t0.Add(2 * time.Second)},
	}
	if err := f.live.Finish(&final); err != nil {
		t.Fatal(err)
	}
	tail := readEvents(t, r, 3)
	if status(t, tail[0]) != "y:succeeded" || tail[1].name != "run" || tail[2].name != "end" {
		t.Errorf("tail %+v", tail)
	}
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("the stream did not end after end: %v", err)
	}

	// A stream opened after the end, with a foreign id: the final states.
	r2, stop2 := f.stream("/api/runs/r20261201-100000-aaaaaaaa/events", "ffff-3")
	defer stop2()
	evs := readEvents(t, r2, 4)
	if status(t, evs[0]) != "a:failed" || status(t, evs[1]) != "b:skipped" || evs[2].name != "run" || evs[3].name != "end" {
		t.Errorf("after the end: %+v", evs)
	}
}

func splitID(id string, epoch *string, n *int) {
	e, s, _ := strings.Cut(id, "-")
	*epoch = e
	json.Unmarshal([]byte(s), n)
}

func TestLayout(t *testing.T) {
	tasks := []sandbox.TaskRecord{
		{Name: "a", Status: "succeeded"},
		{Name: "b", Status: "running", Deps: []string{"a"}},
		{Name: "c", Status: "pending", Deps: []string{"a", "b"}},
		{Name: "d", Status: "succeeded", Instances: 10000, FailedInstances: []string{"3: boom"}},
		{Name: "sub", Status: "succeeded"},
		{Name: "sub+x", Status: "succeeded"},
		{Name: "sub+y", Status: "succeeded", Deps: []string{"sub+x"}},
	}
	g := layout(tasks, nil)
	layers := map[string]int{}
	for _, n := range g.nodes {
		layers[n.task.Name] = n.layer
	}
	want := map[string]int{"a": 0, "b": 1, "c": 2, "d": 0, "sub": 0}
	if diff := cmp.Diff(want, layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	svg := g.svg("r1")
	for _, s := range []string{`id="node-c" class="node st-pending" data-status="pending"`, "10000 instances, 1 failed", "+2 tasks"} {
		if !strings.Contains(svg, s) {
			t.Errorf("svg lacks %q", s)
		}
	}
	g = layout(tasks, []string{"sub"})
	if len(g.nodes) != 7 {
		t.Errorf("expanded: %d nodes", len(g.nodes))
	}
}

// TestDeck serves a run's deck with a CSP sandbox, and only the decks the
// record names.
func TestDeck(t *testing.T) {
	sb := sandbox.Sandbox{Root: t.TempDir()}
	run, err := sb.NewRun("r20261201-100000-cccccccc")
	if err != nil {
		t.Fatal(err)
	}
	rec := &sandbox.Record{ID: "local:local:" + run.Name, Workflow: "w", Start: t0, Tasks: []sandbox.TaskRecord{{Name: "a", Task: "text.a", Status: "pending"}}}
	rc, err := run.StartRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run.Dir, "deck.html"), []byte("<script>parent.document.title='x'</script>deck"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run.Dir, "other.html"), []byte("no"), 0o600)
	rec.Status, rec.End, rec.Deck = sandbox.StatusSucceeded, t0.Add(time.Second), "deck.html"
	rec.Tasks[0].Status = sandbox.StatusSucceeded
	if err := rc.Finish(rec); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	srv.SetAddr(ts.Listener.Addr().String())
	f := &fixture{t: t, srv: srv, ts: ts}
	r := f.get("/runs/"+run.Name+"/deck/deck.html", f.cookie())
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Security-Policy"), "sandbox allow-scripts;") {
		t.Errorf("deck: %d, CSP %q", r.StatusCode, r.Header.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"other.html", "record.json", "../../x"} {
		// 404, or the mux's redirect to a cleaned path.
		if r := f.get("/runs/"+run.Name+"/deck/"+p, f.cookie()); r.StatusCode != 404 && r.StatusCode != 307 {
			t.Errorf("deck path %s: %d", p, r.StatusCode)
		}
	}
	page := body(t, f.get("/runs/"+run.Name, f.cookie()))
	if !strings.Contains(page, `<iframe class="deck" sandbox="allow-scripts" src="/runs/`+run.Name+`/deck/deck.html"`) {
		t.Error("the run page does not show the deck in a sandboxed frame")
	}
}

// TestTaskPageCheckpoints: the task page lists the checkpoints the
// task's attempts saved, with their size.
func TestTaskPageCheckpoints(t *testing.T) {
	f := newFixture(t)
	run := "r20261201-100000-aaaaaaaa"
	dir := filepath.Join(f.sb.RunDir(run), "checkpoints", "a")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state"), []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	page := body(t, f.get("/runs/"+run+"/tasks/a", f.cookie()))
	if !strings.Contains(page, "<h2>Checkpoints</h2>") || !strings.Contains(page, "<code>checkpoints/a</code></td><td>1</td><td>10</td>") {
		t.Errorf("the task page does not list the checkpoint:\n%s", page)
	}
	if page := body(t, f.get("/runs/"+run+"/tasks/b", f.cookie())); strings.Contains(page, "<h2>Checkpoints</h2>") {
		t.Error("a task without checkpoints has a Checkpoints section")
	}
}

// TestTaskPageLogs: the task page shows the task's log lines (its
// attempts, its for_each instances), not the other tasks' in the run's
// one log file, and still reads a run recorded with a file per attempt.
func TestTaskPageLogs(t *testing.T) {
	f := newFixture(t)
	run := "r20261201-100000-aaaaaaaa"
	logs := (&sandbox.Run{Name: run, Dir: f.sb.RunDir(run)}).TaskLogs()
	for i, l := range []struct {
		node    string
		attempt int
		msg     string
	}{
		{"a", 1, "a-first"}, {"b", 1, "b-line"}, {"a@0", 1, "instance-line"}, {"ab", 1, "other-task"}, {"a", 2, "a-second"},
	} {
		line := sandbox.LogLine{Time: t0.Add(time.Duration(i) * time.Millisecond), Level: "info", Source: sandbox.LogSourcePlugin, Node: l.node, Attempt: l.attempt, Msg: l.msg}
		if err := logs.Write(&line); err != nil {
			t.Fatal(err)
		}
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	page := body(t, f.get("/runs/"+run+"/tasks/a", f.cookie()))
	for _, want := range []string{"<td>a</td><td>info</td><td>a-first", "<td>a.2</td><td>info</td><td>a-second", "<td>a@0</td><td>info</td><td>instance-line"} {
		if !strings.Contains(page, want) {
			t.Errorf("task a's page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "b-line") || strings.Contains(page, "other-task") {
		t.Errorf("task a's page shows other tasks' lines:\n%s", page)
	}
	if i, j := strings.Index(page, "a-first"), strings.Index(page, "a-second"); i > j {
		t.Errorf("task a's lines are out of order:\n%s", page)
	}

	// A run recorded before logs.jsonl: a file per task attempt.
	old := "r20261201-110000-bbbbbbbb"
	dir := filepath.Join(f.sb.RunDir(old), "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-12-01T11:00:00Z","level":"warn","source":"plugin","logger":"text","node":"x","attempt":1,"msg":"old-layout-line"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "x.log"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if page := body(t, f.get("/runs/"+old+"/tasks/x", f.cookie())); !strings.Contains(page, "<td>x</td><td>warn</td><td>old-layout-line") {
		t.Errorf("the task page of an old-layout run lacks its line:\n%s", page)
	}
}

// TestCachePage checks the cache page's Run column: a link to the run
// that wrote the entry while the sandbox still holds it, plain text once
// it is gone (or for a name that is no run at all), "-" for an entry that
// does not record its run; /api/cache carries the run as cache list --json.
func TestCachePage(t *testing.T) {
	f := newFixture(t)
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		kept = "r20261201-100000-aaaaaaaa" // in the fixture's sandbox
		gone = "r20251130-090000-deadbeef" // pruned: not in it
		evil = `../../etc"><script>window.pwned=1</script>`
	)
	for i, run := range []string{kept, gone, "", evil} {
		err := c.Put(cache.Sum([]byte{byte(i)}), &cache.Entry{Task: fmt.Sprintf("text.t%d", i), Version: "1", Outputs: json.RawMessage(`{}`), Run: run})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv, err := New(Options{Sandbox: f.sb, Cache: c, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	srv.SetAddr(ts.Listener.Addr().String())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Cookie", CookieName+"="+srv.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return body(t, resp)
	}

	page := get("/cache")
	for _, want := range []string{
		`<a class="run" href="/runs/` + kept + `">` + kept + `</a>`,
		`<span class="run">` + gone + `</span>`,
		`<td>-</td></tr>`,
		`<span class="run">../../etc&#34;&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("cache page lacks %s\n%s", want, page)
		}
	}
	if n := strings.Count(page, `href="/runs/`); n != 1 {
		t.Errorf("cache page has %d run links, want 1 (only the run still in the sandbox)\n%s", n, page)
	}
	if strings.Contains(page, "<script>window.pwned") {
		t.Errorf("cache page shows a run name as HTML\n%s", page)
	}

	var infos []cache.Info
	if err := json.Unmarshal([]byte(get("/api/cache")), &infos); err != nil {
		t.Fatal(err)
	}
	runs := map[string]string{}
	for _, in := range infos {
		runs[in.Task] = in.Run
	}
	if diff := cmp.Diff(map[string]string{"text.t0": kept, "text.t1": gone, "text.t2": "", "text.t3": evil}, runs); diff != "" {
		t.Errorf("/api/cache runs by task (-want +got):\n%s", diff)
	}
}

// TestRunPageTimeline: the run page's timeline has one bar per attempt,
// retried attempts marked failed and "retried", each titled with its task
// and attempt; a task recorded without attempt times (an older record) is
// one bar from its start to its end.
func TestRunPageTimeline(t *testing.T) {
	f := newFixture(t)
	run, err := f.sb.NewRun("r20261201-120000-cccccccc")
	if err != nil {
		t.Fatal(err)
	}
	at := func(from, to int) sandbox.AttemptTime {
		return sandbox.AttemptTime{Start: t0.Add(time.Duration(from) * time.Second), End: t0.Add(time.Duration(to) * time.Second)}
	}
	rec := &sandbox.Record{ID: "local:local:" + run.Name, Workflow: "flaky", Start: t0, Tasks: []sandbox.TaskRecord{
		{Name: "flaky", Task: "text.flaky", Status: sandbox.StatusPending},
		{Name: "old", Task: "text.upper", Status: sandbox.StatusPending},
		{Name: "never", Task: "text.upper", Status: sandbox.StatusPending},
	}}
	rc, err := run.StartRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.End = sandbox.StatusSucceeded, t0.Add(10*time.Second)
	rec.Tasks[0] = sandbox.TaskRecord{Name: "flaky", Task: "text.flaky", Status: sandbox.StatusSucceeded, Attempts: 3, Start: t0, End: t0.Add(6 * time.Second),
		AttemptErrors: []string{"<b>reset</b>", "timed out after 1s"}, AttemptTimes: []sandbox.AttemptTime{at(0, 1), at(2, 3), at(5, 6)}}
	rec.Tasks[1] = sandbox.TaskRecord{Name: "old", Task: "text.upper", Status: sandbox.StatusSucceeded, Attempts: 2, Start: t0.Add(6 * time.Second), End: t0.Add(10 * time.Second),
		AttemptErrors: []string{"reset"}}
	rec.Tasks[2].Status = sandbox.StatusSkipped
	if err := rc.Finish(rec); err != nil {
		t.Fatal(err)
	}
	r := f.get("/runs/"+run.Name, f.cookie())
	if r.StatusCode != 200 {
		t.Fatalf("run page: %d", r.StatusCode)
	}
	page := body(t, r)
	bar := regexp.MustCompile(`<rect class="([^"]*)" data-task="([^"]*)" data-attempt="(\d+)" x="(\d+)"[^>]*><title>([^<]*)</title></rect>`)
	var got []string
	lastX := map[string]int{}
	for _, m := range bar.FindAllStringSubmatch(page, -1) {
		got = append(got, m[2]+" "+m[3]+" "+m[1]+" | "+m[5])
		x, _ := strconv.Atoi(m[4])
		if prev, ok := lastX[m[2]]; ok && x <= prev {
			t.Errorf("%s attempt %s at x=%d, not after the previous attempt at %d", m[2], m[3], x, prev)
		}
		lastX[m[2]] = x
	}
	want := []string{
		"flaky 1 st-failed retried | flaky attempt 1 of 3: failed after 1s: &lt;b&gt;reset&lt;/b&gt;",
		"flaky 2 st-failed retried | flaky attempt 2 of 3: failed after 1s: timed out after 1s",
		"flaky 3 st-succeeded | flaky attempt 3 of 3: succeeded after 1s",
		"old 2 st-succeeded | old attempt 2: succeeded after 4s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline bars (-want +got):\n%s", diff)
	}
	if !strings.Contains(page, "flaky (3 attempts)") {
		t.Errorf("the timeline does not label flaky with its attempts")
	}
}
