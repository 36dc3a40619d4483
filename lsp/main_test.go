package lsp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The protocol tests run the real `goflyte lsp` as a subprocess over
// pipes, with the example plugins built into a temporary directory, the
// way an editor runs it. They are skipped with -short.

var (
	goflyteBin string // the goflyte binary
	pluginDir  string // the example plugins
	repoRoot   string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	short := false
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			short = true
		}
	}
	if !short {
		dir, err := os.MkdirTemp("", "goflyte-lsp-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		repoRoot, _ = filepath.Abs("..")
		goflyteBin = filepath.Join(dir, "goflyte")
		pluginDir = filepath.Join(dir, "plugins")
		builds := [][]string{{"-o", goflyteBin, "./cmd/goflyte"}}
		for _, p := range []string{"text", "math"} {
			builds = append(builds, []string{"-o", filepath.Join(pluginDir, "goflyte-plugin-"+p), "./examples/" + p})
		}
		for _, b := range builds {
			cmd := exec.Command("go", append([]string{"build"}, b...)...)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build %v: %v\n%s", b, err, out)
				return 1
			}
		}
	}
	return m.Run()
}

// workspace is a temporary workspace folder with a flyte.hcl that finds
// the plugins in plugins (default: the built example plugins) and the
// workflows in its wf/ directory.
type workspace struct {
	t       *testing.T
	dir     string
	plugins string
}

func newWorkspace(t *testing.T, plugins string) *workspace {
	t.Helper()
	if testing.Short() {
		t.Skip("protocol test: runs goflyte lsp and real plugins")
	}
	if plugins == "" {
		plugins = pluginDir
	}
	w := &workspace{t: t, dir: t.TempDir(), plugins: plugins}
	w.write("flyte.hcl", fmt.Sprintf("sdk {\n  plugin_dirs       = [%q]\n  workflow_packages = [\"wf\"]\n}\n", plugins))
	if err := os.MkdirAll(filepath.Join(w.dir, "wf"), 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *workspace) write(name, content string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// client is a minimal LSP client over the pipes of a goflyte lsp process.
type client struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *strings.Builder

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan *message
	diags   chan publishDiagnosticsParams
	done    chan struct{}
}

// start runs goflyte lsp in dir (its working directory; the client names
// no workspace folder when root is "").
func start(t *testing.T, dir string, args ...string) *client {
	t.Helper()
	cmd := exec.Command(goflyteBin, append([]string{"lsp"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	c.cmd = cmd
	cmd.Stderr = &lockedWriter{b: c.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", c.stderr.String())
		}
	})
	go c.readLoop(out)
	return c
}

func newClient(t *testing.T, in io.WriteCloser) *client {
	return &client{t: t, in: in, stderr: &strings.Builder{}, waiting: map[int]chan *message{}, diags: make(chan publishDiagnosticsParams, 100), done: make(chan struct{})}
}

// startInProcess runs Serve in this process over pipes, so that the race
// detector sees the server's goroutines; code receives its exit code.
func startInProcess(t *testing.T, opts Options) (*client, chan int) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := newClient(t, inW)
	code := make(chan int, 1)
	go func() {
		code <- Serve(context.Background(), inR, outW, opts)
		outW.Close()
	}()
	go c.readLoop(outR)
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Error("the in-process server did not end")
		}
	})
	return c, code
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (c *client) readLoop(out io.Reader) {
	defer close(c.done)
	r := newConn(bufio.NewReader(out), io.Discard)
	for {
		m, err := r.read()
		if err != nil {
			if c.cmd != nil {
				_ = c.cmd.Wait()
			}
			return
		}
		if m.Method == "textDocument/publishDiagnostics" {
			var p publishDiagnosticsParams
			if err := json.Unmarshal(m.Params, &p); err == nil {
				c.diags <- p
			}
			continue
		}
		if m.Method != "" {
			continue
		}
		var id int
		if err := json.Unmarshal(m.ID, &id); err != nil {
			continue
		}
		c.mu.Lock()
		ch := c.waiting[id]
		delete(c.waiting, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c.in, "Content-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		c.t.Fatalf("write to server: %v", err)
	}
}

// call sends a request and returns its response message.
func (c *client) call(method string, params any) *message {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan *message, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	c.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	select {
	case m := <-ch:
		return m
	case <-c.done:
		c.t.Fatalf("%s: the server ended", method)
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s: no answer in 30 s", method)
	}
	return nil
}

// result calls and decodes the result into v, failing on an error.
func (c *client) result(method string, params, v any) {
	c.t.Helper()
	m := c.call(method, params)
	if m.Error != nil {
		c.t.Fatalf("%s: %v", method, m.Error)
	}
	if v != nil {
		if err := json.Unmarshal(m.Result, v); err != nil {
			c.t.Fatalf("%s: decode %s: %v", method, m.Result, err)
		}
	}
}

func (c *client) notify(method string, params any) {
	c.t.Helper()
	c.send(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

func (c *client) initialize(root string) {
	c.t.Helper()
	params := map[string]any{"processId": nil, "capabilities": map[string]any{}}
	if root != "" {
		params["rootUri"] = pathToURI(root)
		params["workspaceFolders"] = []map[string]string{{"uri": pathToURI(root), "name": "ws"}}
	}
	var res map[string]any
	c.result("initialize", params, &res)
	if res["capabilities"] == nil {
		c.t.Fatalf("initialize: no capabilities in %v", res)
	}
	c.notify("initialized", map[string]any{})
}

func (c *client) open(path, text string) string {
	uri := pathToURI(path)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "hcl", "version": 1, "text": text}})
	return uri
}

func (c *client) change(uri string, version int, text string) {
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": version}, "contentChanges": []map[string]any{{"text": text}}})
}

// diagnostics waits for diagnostics of uri that satisfy ok.
func (c *client) diagnostics(uri string, ok func([]Diagnostic) bool) []Diagnostic {
	c.t.Helper()
	timeout := time.After(30 * time.Second)
	var last []Diagnostic
	for {
		select {
		case p := <-c.diags:
			if p.URI != uri {
				continue
			}
			last = p.Diagnostics
			if ok(p.Diagnostics) {
				return p.Diagnostics
			}
		case <-timeout:
			c.t.Fatalf("no diagnostics of %s as expected in 30 s; last: %+v", uri, last)
			return nil
		}
	}
}

// exit sends exit and returns the server's exit code.
func (c *client) exit() int {
	c.t.Helper()
	c.notify("exit", nil)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("the server did not end after exit")
	}
	return c.cmd.ProcessState.ExitCode()
}

func pos(line, char int) map[string]any {
	return map[string]any{"line": line, "character": char}
}

func at(uri string, line, char int) map[string]any {
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos(line, char)}
}

// posOf returns the LSP position just after the first occurrence of
// marker in text (UTF-16 columns).
func posOf(t *testing.T, text, marker string) (int, int) {
	t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("%q not in text", marker)
	}
	p := newText([]byte(text)).position(i + len(marker))
	return p.Line, p.Character
}
