package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/goflyte/goflyte/internal/testtmp"
)

// helperEnv selects what TestHelperProcess does when the test binary runs
// itself as a plugin (the TestHelperProcess trick of go-plugin's
// plugin_test.go).
const helperEnv = "GOFLYTE_TEST_HELPER"

// Distinctive text that helper processes write, so that tests can find it
// in what the host captured.
const (
	crashMarker = "goflyte-test-crash-marker: the disk is on fire"
	panicValue  = "goflyte-test-panic-value"
	testSecret  = "goflyte-test-s3cr3t"
)

// TestHelperProcess is not a test: it is the plugin process that the other
// tests launch, by running this test binary with -test.run set to it and
// helperEnv set to one of the modes in runHelper.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	os.Exit(runHelper(mode))
}

// runHelper runs one helper process mode and returns its exit status.
func runHelper(mode string) int {
	// go-plugin's Serve replaces os.Stderr with a pipe of its own; keep the
	// process's real stderr, which is what the host captures.
	p := &helperProvider{mode: mode, stderr: os.Stderr, logger: NewPluginLogger("x")}
	switch mode {
	case "serve", "crash", "panic-in-goroutine", "deep-panic-in-goroutine":
		Serve(p, ServeOptions{})
		return 0
	case "serve-old", "serve-lost-marks":
		// A plugin built before log marks (it ignores them), and one whose
		// marks never reach the host (as if it died right after answering).
		gp := &grpcPlugin{impl: p, noMarks: mode == "serve-old"}
		if mode == "serve-lost-marks" {
			gp.marks = io.Discard
		}
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: Handshake,
			Plugins:         goplugin.PluginSet{pluginKey: gp},
			GRPCServer:      goplugin.DefaultGRPCServer,
		})
		return 0
	case "not-a-plugin":
		fmt.Println("hello")
		return 0
	case "wrong-protocol":
		handshake := Handshake
		handshake.ProtocolVersion++
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: handshake,
			Plugins:         goplugin.PluginSet{pluginKey: &grpcPlugin{impl: p}},
			GRPCServer:      goplugin.DefaultGRPCServer,
		})
		return 0
	case "hang":
		// Never print the handshake line; the host kills us.
		time.Sleep(time.Minute)
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", helperEnv, mode)
	return 2
}

// panicAtDepth panics with panicValue n calls deep, so that the panic
// trace has about 2n+5 lines.
//
//go:noinline
func panicAtDepth(n int) {
	if n == 0 {
		panic(panicValue)
	}
	panicAtDepth(n - 1)
}

// helperSchema is what the helper plugin describes.
var helperSchema = Schema{
	Name:    "fake",
	Version: "1.0.0",
	Tasks: []TaskSchema{
		{Name: "echo", Doc: "Returns its inputs.", Inputs: []Field{{Name: "x", Type: "any", Optional: true}}, Outputs: []Field{{Name: "x", Type: "any"}}},
		{Name: "params", Doc: "Returns its execution parameters.", Outputs: []Field{{Name: "params", Type: "any"}}},
		{Name: "env", Outputs: []Field{{Name: "level", Type: "string"}, {Name: "environ", Type: "list(string)"}}},
		{Name: "log", Kind: KindPlain},
		{Name: "log-late", Kind: KindPlain},
		{Name: "log-secret", Kind: KindPlain, Secrets: []SecretRequest{{Group: "test", Key: "token"}}},
		{Name: "fail", Kind: KindPlain},
		{Name: "block", Kind: KindPlain},
		{Name: "eager", Kind: KindEager, Inputs: []Field{{Name: "x", Type: "any", Optional: true}}, Outputs: []Field{{Name: "x", Type: "any"}}},
	},
}

// helperProvider is the Provider that helper processes serve. What its
// Execute does depends on the mode and then on the task.
type helperProvider struct {
	mode   string
	stderr io.Writer    // the process's real stderr
	logger hclog.Logger // made before Serve
}

func (p *helperProvider) Describe(context.Context) (*Schema, error) {
	s := helperSchema
	return &s, nil
}

func (p *helperProvider) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	switch p.mode {
	case "crash":
		fmt.Fprintln(p.stderr, "starting the task")
		fmt.Fprintln(p.stderr, crashMarker)
		fmt.Fprintln(p.stderr, "exiting with status 3")
		os.Exit(3)
	case "panic-in-goroutine":
		go func() { panic(panicValue) }()
		<-ctx.Done()
		return nil, ctx.Err()
	case "deep-panic-in-goroutine":
		go panicAtDepth(12)
		<-ctx.Done()
		return nil, ctx.Err()
	}

	var out any
	switch req.Task {
	case "echo":
		return &ExecuteResult{Outputs: req.Inputs}, nil
	case "params":
		out = map[string]any{"params": req.Params}
	case "env":
		out = map[string]any{"level": os.Getenv(LogLevelEnv), "environ": os.Environ()}
	case "log":
		p.logger.Info("hello from task", "k", "v")
		out = map[string]any{}
	case "log-secret":
		p.logger.Info("using token "+testSecret, "token", testSecret)
		fmt.Fprintln(p.stderr, "raw token "+testSecret)
		out = map[string]any{}
	case "log-late":
		NewPluginLogger("x").Info("hello from task", "k", "v")
		out = map[string]any{}
	case "fail":
		// A failed task's decks and metrics still count (ExecuteResult).
		res := &ExecuteResult{
			Decks:   []Deck{{Name: "Failure", Blocks: []DeckBlock{{Markdown: "what went wrong"}}}},
			Metrics: []Metric{{Name: "fail.tries", Kind: Counter, Value: 1}},
		}
		return res, &TaskError{Message: "failed on purpose", Retryable: true, Diagnostics: []Diagnostic{{Summary: "bad", Attribute: "x"}}}
	case "block":
		<-ctx.Done()
		return nil, ctx.Err()
	case "eager":
		if req.Host == nil {
			return nil, errors.New("no host for an eager task")
		}
		out, err := req.Host.RunTask(ctx, req.CallID, "echo", req.Inputs)
		if err != nil {
			return nil, err
		}
		return &ExecuteResult{Outputs: out}, nil
	default:
		return nil, fmt.Errorf("unknown task %q", req.Task)
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &ExecuteResult{Outputs: data}, nil
}

// launchHelper launches this test binary as a plugin in the given helper
// mode. Name, Args and the helper mode are filled in; the rest of opts is
// passed on. A launched client is closed when t ends.
func launchHelper(t *testing.T, mode string, opts LaunchOptions) (*Client, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("launches plugin processes; skipped with -short")
	}
	if opts.Name == "" {
		opts.Name = "fake"
	}
	opts.Args = []string{"-test.run=^TestHelperProcess$"}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	opts.Env = append(opts.Env, helperEnv+"="+mode, fastRaceExit())
	c, err := Launch(context.Background(), os.Args[0], opts)
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

// fastRaceExit returns a GORACE setting that keeps the caller's options
// but stops a race-enabled helper process from sleeping a second on exit.
func fastRaceExit() string {
	opts := os.Getenv("GORACE")
	if opts != "" {
		opts += " "
	}
	return "GORACE=" + opts + "atexit_sleep_ms=0"
}

// mustLaunchHelper is launchHelper for tests that need the launch to work.
func mustLaunchHelper(t *testing.T, mode string, opts LaunchOptions) *Client {
	t.Helper()
	c, err := launchHelper(t, mode, opts)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return c
}

func TestLaunchServe(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	if got, want := c.Name(), "fake"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got, want := c.Path(), os.Args[0]; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	ctx := context.Background()

	schema, err := c.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if diff := cmp.Diff(&helperSchema, schema, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Describe mismatch (-want +got):\n%s", diff)
	}

	in := json.RawMessage(`{"x":{"a":[1,"two",null,true]}}`)
	res, err := c.Execute(ctx, &ExecuteRequest{Task: "echo", Inputs: in})
	if err != nil {
		t.Fatalf("Execute echo: %v", err)
	}
	if diff := cmp.Diff(in, res.Outputs); diff != "" {
		t.Errorf("echo outputs mismatch (-want +got):\n%s", diff)
	}

	params := Params{
		ExecutionID:      "p:d:n",
		ExecutionDate:    time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		WorkingDirectory: t.TempDir(),
		Mode:             ModeLocalTaskExecution,
		TaskID:           "fake.params",
		Node:             "n1",
		Attempt:          2,
		LogLevel:         "trace",
	}
	res, err = c.Execute(ctx, &ExecuteRequest{Task: "params", Inputs: json.RawMessage(`{}`), Params: params})
	if err != nil {
		t.Fatalf("Execute params: %v", err)
	}
	var got struct{ Params Params }
	if err := json.Unmarshal(res.Outputs, &got); err != nil {
		t.Fatalf("decode %s: %v", res.Outputs, err)
	}
	if diff := cmp.Diff(params, got.Params); diff != "" {
		t.Errorf("params seen by the plugin mismatch (-want +got):\n%s", diff)
	}

	// A task failure is a *TaskError, not a ProcessError, and the process
	// lives on.
	res, err = c.Execute(ctx, &ExecuteRequest{Task: "fail", Inputs: json.RawMessage(`{}`)})
	if res == nil || len(res.Decks) != 1 || res.Decks[0].Name != "Failure" || len(res.Metrics) != 1 || res.Metrics[0].Name != "fail.tries" {
		t.Errorf("Execute fail result = %+v, want the failed task's deck and metric (issue 12)", res)
	}
	var te *TaskError
	if !errors.As(err, &te) {
		t.Fatalf("Execute fail error = %#v, want a *TaskError", err)
	}
	wantTE := &TaskError{Message: "failed on purpose", Retryable: true, Diagnostics: []Diagnostic{{Summary: "bad", Attribute: "x"}}}
	if diff := cmp.Diff(wantTE, te); diff != "" {
		t.Errorf("TaskError mismatch (-want +got):\n%s", diff)
	}
	var pe *ProcessError
	if errors.As(err, &pe) {
		t.Errorf("a task failure is a *ProcessError: %v", pe)
	}
	if c.Exited() {
		t.Fatal("plugin exited after a task failure")
	}

	c.Close()
	if !c.Exited() {
		t.Error("Exited() = false after Close")
	}
}

func TestLaunchCrash(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "crash", LaunchOptions{})
	res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)})
	var pe *ProcessError
	if !errors.As(err, &pe) {
		t.Fatalf("Execute = %+v, %#v; want a *ProcessError", res, err)
	}
	if pe.Plugin != "fake" || pe.Path != os.Args[0] || !pe.Exited || pe.Starting || pe.Err == nil {
		t.Errorf("ProcessError = {Plugin:%q Path:%q Exited:%v Starting:%v Err:%v}, want {Plugin:%q Path:%q Exited:true Starting:false Err:non-nil}",
			pe.Plugin, pe.Path, pe.Exited, pe.Starting, pe.Err, "fake", os.Args[0])
	}
	if !strings.Contains(pe.Stderr, crashMarker) {
		t.Errorf("ProcessError.Stderr does not contain %q:\n%s", crashMarker, pe.Stderr)
	}
	if !c.Exited() {
		t.Error("Exited() = false after the plugin crashed")
	}
}

// TestLaunchLeavesNoSocket: the plugin makes its socket in a directory
// of its launch's, which goes when the client is done with the process,
// also when the plugin could not remove its socket itself (it crashed,
// or was killed when its start failed). Not parallel: it sets TMPDIR.
func TestLaunchLeavesNoSocket(t *testing.T) {
	tests := []struct {
		name string
		mode string
		run  func(t *testing.T, c *Client)
	}{
		{name: "closed", mode: "serve", run: func(t *testing.T, c *Client) {
			if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "crashed", mode: "crash", run: func(t *testing.T, c *Client) {
			if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)}); err == nil {
				t.Fatal("Execute of a crashing plugin succeeded")
			}
			if ents, err := os.ReadDir(c.sockets); err != nil || len(ents) == 0 {
				t.Errorf("socket directory %s: %d entries, %v; want the crashed plugin's socket", c.sockets, len(ents), err)
			}
		}},
		{name: "killed", mode: "serve", run: func(t *testing.T, c *Client) { c.Kill() }},
		{name: "start failed", mode: "wrong-protocol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Short: in a long TMPDIR the plugin makes its socket in
			// TMPDIR itself (TestLaunchLongTMPDIR).
			tmp := testtmp.Short(t)
			t.Setenv("TMPDIR", tmp)
			c, err := launchHelper(t, tc.mode, LaunchOptions{StartTimeout: 5 * time.Second})
			if tc.run == nil {
				if err == nil {
					t.Fatal("Launch succeeded, want an error")
				}
			} else {
				if err != nil {
					t.Fatalf("Launch: %v", err)
				}
				tc.run(t, c)
				c.Close()
			}
			if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}
		})
	}
}

// TestLaunchLongTMPDIR: in a TMPDIR so long that a directory more in the
// socket's path would make it too long for the system, the plugin makes
// its socket in TMPDIR itself, and starts. Not parallel: it sets TMPDIR.
func TestLaunchLongTMPDIR(t *testing.T) {
	tmp := testtmp.Short(t)
	long := filepath.Join(tmp, strings.Repeat("d", maxSocketPath-socketName-len(tmp)-10))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", long)
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	if c.sockets != "" {
		t.Errorf("socket directory %s in a TMPDIR of %d bytes, want none", c.sockets, len(long))
	}
	if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ents, _ := os.ReadDir(long); len(ents) > 0 {
		t.Errorf("left in TMPDIR: %v", ents)
	}
}

func TestLaunchPanicInGoroutine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode string
	}{
		{name: "shallow", mode: "panic-in-goroutine"},
		{name: "deep", mode: "deep-panic-in-goroutine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustLaunchHelper(t, tc.mode, LaunchOptions{})
			res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)})
			var pe *ProcessError
			if !errors.As(err, &pe) {
				t.Fatalf("Execute = %+v, %#v; want a *ProcessError", res, err)
			}
			if pe.Plugin != "fake" || !pe.Exited || pe.Starting {
				t.Errorf("ProcessError = {Plugin:%q Exited:%v Starting:%v}, want {Plugin:%q Exited:true Starting:false}", pe.Plugin, pe.Exited, pe.Starting, "fake")
			}
			for _, want := range []string{"panic: " + panicValue, "goroutine "} {
				if !strings.Contains(pe.Stderr, want) {
					t.Errorf("ProcessError.Stderr does not contain %q:\n%s", want, pe.Stderr)
				}
			}
		})
	}
}

func TestLaunchStartFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode string
	}{
		{name: "not a plugin", mode: "not-a-plugin"},
		{name: "wrong protocol version", mode: "wrong-protocol"},
		{name: "no handshake", mode: "hang"},
		{name: "unknown helper mode exits 2", mode: "no-such-mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := launchHelper(t, tc.mode, LaunchOptions{StartTimeout: 2 * time.Second})
			if err == nil {
				t.Fatalf("Launch succeeded (client %v); want an error", c.Name())
			}
			var pe *ProcessError
			if !errors.As(err, &pe) {
				t.Fatalf("Launch error = %#v, want a *ProcessError", err)
			}
			if pe.Plugin != "fake" || pe.Path != os.Args[0] || !pe.Starting || pe.Err == nil {
				t.Errorf("ProcessError = {Plugin:%q Path:%q Starting:%v Err:%v}, want {Plugin:%q Path:%q Starting:true Err:non-nil}",
					pe.Plugin, pe.Path, pe.Starting, pe.Err, "fake", os.Args[0])
			}
		})
	}
}

func TestLaunchMissingBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), BinaryPrefix+"missing")
	c, err := Launch(context.Background(), path, LaunchOptions{})
	if err == nil {
		c.Close()
		t.Fatal("Launch of a missing binary succeeded")
	}
	var pe *ProcessError
	if !errors.As(err, &pe) {
		t.Fatalf("Launch error = %#v, want a *ProcessError", err)
	}
	if pe.Plugin != "missing" || pe.Path != path || !pe.Starting {
		t.Errorf("ProcessError = {Plugin:%q Path:%q Starting:%v}, want {Plugin:%q Path:%q Starting:true}", pe.Plugin, pe.Path, pe.Starting, "missing", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestLaunchCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The binary does not exist: Launch must not get as far as trying it.
	c, err := Launch(ctx, filepath.Join(t.TempDir(), BinaryPrefix+"missing"), LaunchOptions{})
	if err == nil {
		c.Close()
		t.Fatal("Launch with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Launch error = %v, want context.Canceled", err)
	}
}

// TestLaunchNameFromPath launches the helper through a link named like a
// plugin binary, without LaunchOptions.Name.
func TestLaunchNameFromPath(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("launches plugin processes; skipped with -short")
	}
	link := filepath.Join(t.TempDir(), BinaryPrefix+"linked")
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Skipf("cannot make a symlink: %v", err)
	}
	c, err := Launch(context.Background(), link, LaunchOptions{
		Args: []string{"-test.run=^TestHelperProcess$"},
		Env:  append(os.Environ(), helperEnv+"=serve", fastRaceExit()),
	})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	defer c.Close()
	if got, want := c.Name(), "linked"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got := c.Path(); got != link {
		t.Errorf("Path() = %q, want %q", got, link)
	}
}

// TestLaunchCancel: cancelling a call ends the task in the plugin, the
// host gets the context's error, and the plugin keeps serving.
func TestLaunchCancel(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Execute(ctx, &ExecuteRequest{Task: "block", Inputs: json.RawMessage(`{}`)})
		done <- err
	}()
	// Cancel once the call is under way; if it is not yet, the call fails
	// with the same error before it is sent.
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute error = %#v, want context.Canceled", err)
	}
	if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("Execute after a cancelled call: %v", err)
	}
	if c.Exited() {
		t.Error("plugin exited after a cancelled call")
	}
}

func TestLaunchConcurrentExecute(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := json.RawMessage(fmt.Sprintf(`{"x":%d}`, i))
			res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: in})
			switch {
			case err != nil:
				errs[i] = err
			case !bytes.Equal(res.Outputs, in):
				errs[i] = fmt.Errorf("outputs %s, want %s", res.Outputs, in)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

// TestLaunchCallsBeyondStreamWorkers holds more calls in a launched
// plugin than its server keeps goroutines for (streamWorkers, which
// go-plugin's own streams share), and checks that one more call is still
// answered at once: calls beyond the kept goroutines get their own, they
// do not wait for a kept one to be free.
func TestLaunchCallsBeyondStreamWorkers(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	const held = 2 * streamWorkers
	errs := make(chan error, held)
	for i := range held {
		go func() {
			_, err := c.Execute(ctx, &ExecuteRequest{Task: "block", Inputs: json.RawMessage(`{}`), CallID: fmt.Sprint("held-", i)})
			errs <- err
		}()
	}
	defer func() {
		cancel()
		for range held {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("held call: %v, want context.Canceled", err)
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < held; {
		running, err := c.Running(context.Background(), fmt.Sprint("held-", i))
		switch {
		case err != nil:
			t.Fatal(err)
		case running:
			i++
		case time.Now().After(deadline):
			t.Fatalf("call held-%d not running after 10 s", i)
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
	echo, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	res, err := c.Execute(echo, &ExecuteRequest{Task: "echo", Inputs: json.RawMessage(`{"x":1}`)})
	if err != nil {
		t.Fatalf("a call beside %d held ones: %v", held, err)
	}
	if string(res.Outputs) != `{"x":1}` {
		t.Errorf("outputs %s, want {\"x\":1}", res.Outputs)
	}
}

func TestLaunchLargeMessages(t *testing.T) {
	t.Parallel()
	c := mustLaunchHelper(t, "serve", LaunchOptions{})
	big := bigJSON(10 << 20)
	res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "echo", Inputs: big})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if !bytes.Equal(res.Outputs, big) {
		t.Errorf("got %d bytes of outputs, want the %d bytes sent", len(res.Outputs), len(big))
	}
}

// envWithout returns the environment without any setting of key.
func envWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return env
}

func TestLaunchLogLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      string // LogLevelEnv in LaunchOptions.Env; "" for none
		logLevel string // LaunchOptions.LogLevel
		want     string
	}{
		{name: "set", logLevel: "debug", want: "debug"},
		{name: "overrides the environment", env: "error", logLevel: "trace", want: "trace"},
		{name: "unset", want: ""},
		{name: "unset keeps the environment", env: "error", want: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := envWithout(LogLevelEnv)
			if tc.env != "" {
				env = append(env, LogLevelEnv+"="+tc.env)
			}
			c := mustLaunchHelper(t, "serve", LaunchOptions{Env: env, LogLevel: tc.logLevel})
			res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "env", Inputs: json.RawMessage(`{}`)})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			var got struct{ Level string }
			if err := json.Unmarshal(res.Outputs, &got); err != nil {
				t.Fatalf("decode %s: %v", res.Outputs, err)
			}
			if got.Level != tc.want {
				t.Errorf("plugin's %s = %q, want %q", LogLevelEnv, got.Level, tc.want)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer that is safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// linesWith returns the lines of s that contain substr.
func linesWith(s, substr string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func TestLaunchLogForwarding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		task string
	}{
		{name: "logger made before Serve", task: "log"},
		{
			name: "logger made in the task",
			task: "log-late",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf lockedBuffer
			logger := hclog.New(&hclog.LoggerOptions{Name: "engine", Level: hclog.Debug, Output: &buf})
			c := mustLaunchHelper(t, "serve", LaunchOptions{Logger: logger, LogLevel: "debug"})
			if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: tc.task, Inputs: json.RawMessage(`{}`)}); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			// Close waits until go-plugin has read all of the plugin's
			// stderr, so every line has been logged after it.
			c.Close()

			got := linesWith(buf.String(), "hello from task")
			if len(got) != 1 {
				t.Fatalf("host log has %d lines with the task's message, want 1; log:\n%s", len(got), buf.String())
			}
			for _, want := range []string{"[INFO]", "engine.fake", "k=v"} {
				if !strings.Contains(got[0], want) {
					t.Errorf("host log line does not contain %q: %s", want, got[0])
				}
			}
			tail := c.StderrTail()
			if want := `[INFO] hello from task k="v"`; len(linesWith(tail, want)) != 1 {
				t.Errorf("StderrTail() does not contain %q:\n%s", want, tail)
			}
		})
	}
}

// TestLaunchRedact: with LaunchOptions.Redact set, a secret that the
// plugin logs or prints reaches neither the host's log nor the stderr
// tail.
func TestLaunchRedact(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "engine", Level: hclog.Trace, Output: &buf})
	c := mustLaunchHelper(t, "serve", LaunchOptions{
		Logger:   logger,
		LogLevel: "debug",
		Redact:   func(s string) string { return strings.ReplaceAll(s, testSecret, "***") },
	})
	if _, err := c.Execute(context.Background(), &ExecuteRequest{Task: "log-secret", Inputs: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	c.Close() // wait until all of the plugin's stderr has been handled

	hostLog, tail := buf.String(), c.StderrTail()
	for _, out := range []struct{ name, text string }{{"host log", hostLog}, {"stderr tail", tail}} {
		if strings.Contains(out.text, testSecret) {
			t.Errorf("%s shows the secret:\n%s", out.name, out.text)
		}
	}
	for _, want := range []string{`using token ***: token="***"`, "raw token ***"} {
		if len(linesWith(hostLog, want)) != 1 {
			t.Errorf("host log does not contain %q once:\n%s", want, hostLog)
		}
	}
	for _, want := range []string{`[INFO] using token *** token="***"`, "raw token ***"} {
		if len(linesWith(tail, want)) != 1 {
			t.Errorf("stderr tail does not contain %q once:\n%s", want, tail)
		}
	}
}

func TestProcessErrorError(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		name string
		err  *ProcessError
		want string
	}{
		{
			name: "starting",
			err:  &ProcessError{Plugin: "text", Path: "/bin/goflyte-plugin-text", Starting: true, Exited: true, Err: cause},
			want: `start plugin "text" (/bin/goflyte-plugin-text): connection refused`,
		},
		{
			name: "exited with stderr",
			err:  &ProcessError{Plugin: "text", Path: "/bin/goflyte-plugin-text", Exited: true, Stderr: "panic: boom\n\ngoroutine 1", Err: cause},
			want: "plugin \"text\" exited unexpectedly: connection refused\n" +
				"plugin stderr (last lines):\n" +
				"  panic: boom\n" +
				"  \n" +
				"  goroutine 1",
		},
		{
			name: "call failed",
			err:  &ProcessError{Plugin: "text", Err: cause},
			want: `call plugin "text": connection refused`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
			if !errors.Is(tc.err, cause) {
				t.Errorf("errors.Is(ProcessError, cause) = false")
			}
		})
	}
}

// TestLaunchEnvIsWhole checks that LaunchOptions.Env is the plugin's whole
// environment: go-plugin adds its own PLUGIN_* variables and cookie, never
// the host's (issue 12: it appended os.Environ() to the filtered list).
func TestLaunchEnvIsWhole(t *testing.T) {
	t.Setenv("GOFLYTE_TEST_HOST_ONLY", "from-the-host")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOFLYTE_TEST_GIVEN=1"}
	if v, ok := os.LookupEnv("GOCOVERDIR"); ok {
		env = append(env, "GOCOVERDIR="+v)
	}
	c := mustLaunchHelper(t, "serve", LaunchOptions{Env: env})
	res, err := c.Execute(context.Background(), &ExecuteRequest{Task: "env", Inputs: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Environ []string }
	if err := json.Unmarshal(res.Outputs, &out); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, kv := range out.Environ {
		name, _, _ := strings.Cut(kv, "=")
		names[name] = true
	}
	if names["GOFLYTE_TEST_HOST_ONLY"] {
		t.Errorf("the plugin inherited a host variable not in LaunchOptions.Env: %q", out.Environ)
	}
	for _, want := range []string{"PATH", "HOME", "GOFLYTE_TEST_GIVEN", Handshake.MagicCookieKey, "PLUGIN_PROTOCOL_VERSIONS", helperEnv} {
		if !names[want] {
			t.Errorf("plugin environment lacks %s: %q", want, out.Environ)
		}
	}
}
