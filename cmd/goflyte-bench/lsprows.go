package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/config"
)

// Rows of the language server (goflyte lsp): how long diagnostics take
// after an edit of a large workflow, and how long a completion takes,
// with the plugins already described and cached. The server runs as the
// editor runs it, a subprocess over pipes, with --debounce 0 so that the
// time is the work, not the wait for the user to stop typing.

const lspTasks = 1000

func lspComparisons() []Comparison {
	return []Comparison{
		{
			ID:   "lsp-diagnostics-1000",
			Name: "lsp: diagnostics after an edit, 1000 tasks",
			Goflyte: Side{
				What:  fmt.Sprintf("didChange of a %d-task chain (a literal edited each time) until its publishDiagnostics arrives: parse, compile against the cached schemas, JSON both ways. Spec: under 100 ms", lspTasks),
				Setup: setupLSPDiagnostics,
			},
			Baseline: &Side{
				What:  "config.Parser.LoadWorkflowSource of the same text in this process: the parse alone, the floor of any checker",
				Setup: setupParseOnly,
			},
			Limit: 100 * time.Millisecond,
			N:     30, QuickN: 10, Warmup: 3,
		},
		{
			ID:   "lsp-completion",
			Name: "lsp: completion in a 1000-task file",
			Goflyte: Side{
				What:  fmt.Sprintf("textDocument/completion after `task.t%d.` in the %d-task chain, until the list arrives. Spec: under 20 ms", lspTasks, lspTasks),
				Setup: setupLSPCompletion,
			},
			Baseline: &Side{
				What:  "a request the server answers at once (an unknown method): the JSON-RPC round trip over the pipes",
				Setup: setupLSPRoundTrip,
			},
			Limit: 20 * time.Millisecond,
			N:     200, QuickN: 50, Warmup: 10,
		},
	}
}

// lspClient is a minimal client of a goflyte lsp process.
type lspClient struct {
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
	id  int
}

// startLSP runs goflyte lsp in a workspace whose flyte.hcl finds the text
// plugin, initializes it and opens the 1000-task chain; it returns once
// the first diagnostics arrived (the plugin is described and cached).
func startLSP(ctx context.Context, env *Env, name, text string) (*lspClient, string, error) {
	dir := filepath.Join(env.Dir, "lsp-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	cfg := fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n}\n", env.PluginDir)
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(cfg), 0o644); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(env.CLI, "lsp", "--debounce", "0")
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := &lspClient{in: in, out: bufio.NewReader(out), cmd: cmd}
	env.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	uri := "file://" + filepath.ToSlash(filepath.Join(dir, name+".hcl"))
	if _, err := c.call("initialize", map[string]any{"processId": nil, "rootUri": "file://" + filepath.ToSlash(dir), "capabilities": map[string]any{}}); err != nil {
		return nil, "", err
	}
	if err := c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "hcl", "version": 1, "text": text}}); err != nil {
		return nil, "", err
	}
	if _, err := c.waitDiagnostics(1); err != nil {
		return nil, "", err
	}
	return c, uri, nil
}

func (c *lspClient) write(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.in, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return err
}

func (c *lspClient) notify(method string, params any) error {
	return c.write(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

type lspMessage struct {
	ID     *int            `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *lspClient) read() (*lspMessage, error) {
	tp := textproto.NewReader(c.out)
	n := -1
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return nil, fmt.Errorf("goflyte lsp: %w", err)
		}
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.out, body); err != nil {
		return nil, err
	}
	var m lspMessage
	return &m, json.Unmarshal(body, &m)
}

// call sends a request and reads until its response (notifications in
// between are dropped).
func (c *lspClient) call(method string, params any) (*lspMessage, error) {
	c.id++
	if err := c.write(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	for {
		m, err := c.read()
		if err != nil {
			return nil, err
		}
		if m.ID != nil && *m.ID == c.id && m.Method == "" {
			return m, nil
		}
	}
}

// waitDiagnostics reads until diagnostics of document version arrive.
func (c *lspClient) waitDiagnostics(version int) (int, error) {
	for {
		m, err := c.read()
		if err != nil {
			return 0, err
		}
		if m.Method != "textDocument/publishDiagnostics" {
			continue
		}
		var p struct {
			Version     int               `json:"version"`
			Diagnostics []json.RawMessage `json:"diagnostics"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil {
			return 0, err
		}
		if p.Version == version {
			return len(p.Diagnostics), nil
		}
	}
}

func setupLSPDiagnostics(ctx context.Context, env *Env) (Sampler, error) {
	text := chainWorkflow(lspTasks)
	c, uri, err := startLSP(ctx, env, "diagnostics", text)
	if err != nil {
		return nil, err
	}
	version := 1
	return func(ctx context.Context) (time.Duration, error) {
		version++
		edited := strings.Replace(text, `input "text" { type = string }`, fmt.Sprintf("input \"text\" { type = string }\n  # edit %d", version), 1)
		start := time.Now()
		if err := c.notify("textDocument/didChange", map[string]any{
			"textDocument":   map[string]any{"uri": uri, "version": version},
			"contentChanges": []map[string]any{{"text": edited}},
		}); err != nil {
			return 0, err
		}
		n, err := c.waitDiagnostics(version)
		d := time.Since(start)
		if err == nil && n != 0 {
			err = fmt.Errorf("the %d-task chain got %d diagnostics, want none", lspTasks, n)
		}
		return d, err
	}, nil
}

func setupParseOnly(ctx context.Context, env *Env) (Sampler, error) {
	text := []byte(chainWorkflow(lspTasks))
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		wf, diags := config.NewParser().LoadWorkflowSource(text, "chain.hcl")
		d := time.Since(start)
		if wf == nil || diags.HasErrors() {
			return 0, fmt.Errorf("parse: %v", diags)
		}
		return d, nil
	}, nil
}

// completionText is the chain with one more task being written: its
// input's value is `task.t<n>.` with the cursor at the end.
func completionText() (string, int, int) {
	text := chainWorkflow(lspTasks)
	marker := fmt.Sprintf("  task \"more\" {\n    uses   = \"text.upper\"\n    inputs = { text = task.t%d. }\n  }\n", lspTasks)
	i := strings.LastIndex(text, "\n  output")
	text = text[:i+1] + marker + text[i+1:]
	lines := strings.Split(text[:strings.Index(text, marker)+strings.Index(marker, "= task.")+len("= task.")+len(strconv.Itoa(lspTasks))+2], "\n")
	return text, len(lines) - 1, len(lines[len(lines)-1])
}

func setupLSPCompletion(ctx context.Context, env *Env) (Sampler, error) {
	text, line, char := completionText()
	c, uri, err := startLSP(ctx, env, "completion", text)
	if err != nil {
		return nil, err
	}
	params := map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": line, "character": char}}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		m, err := c.call("textDocument/completion", params)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		var list struct {
			Items []struct{ Label string } `json:"items"`
		}
		if err := json.Unmarshal(m.Result, &list); err != nil {
			return 0, err
		}
		if len(list.Items) != 1 || list.Items[0].Label != "text" {
			return 0, fmt.Errorf("completion after task.t%d. = %s, want [text]", lspTasks, m.Result)
		}
		return d, nil
	}, nil
}

func setupLSPRoundTrip(ctx context.Context, env *Env) (Sampler, error) {
	c, _, err := startLSP(ctx, env, "roundtrip", chainWorkflow(3))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		m, err := c.call("goflyte/ping", map[string]any{})
		d := time.Since(start)
		if err == nil && m.Error == nil {
			err = fmt.Errorf("goflyte/ping answered without the expected error")
		}
		return d, err
	}, nil
}
