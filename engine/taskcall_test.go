package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore"
	"github.com/goflyte/goflyte/engine/datastore/s3test"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/internal/testtmp"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/secretsbackends"
)

// The tests of Engine.ExecuteTask run real plugin processes (the example
// text plugin and the probe test plugin) over gRPC, and real data stores
// (a local directory, and versitygw for a bucket).

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// taskPlugins builds the text and probe plugins once per test binary.
func taskPlugins(t *testing.T) string {
	t.Helper()
	pluginsOnce.Do(func() {
		pluginsDir, pluginsErr = testtmp.Dir("goflyte-taskcall-plugins-")
		if pluginsErr != nil {
			return
		}
		for name, pkg := range map[string]string{"text": "./examples/text", "probe": "./internal/testplugins/probe"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(pluginsDir, "goflyte-plugin-"+name), pkg)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				pluginsErr = errors.New("build " + name + ": " + err.Error() + "\n" + string(out))
				return
			}
		}
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return pluginsDir
}

// dataStorage is engine/datastore as the engine's Storage (as the CLI
// wires it).
type dataStorage struct{ opts datastore.Options }

func (s dataStorage) Open(ctx context.Context, prefix string) (engine.Store, error) {
	st, err := datastore.Open(ctx, prefix, s.opts)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (s dataStorage) Fetch(ctx context.Context, uri, dst string, dir bool) error {
	return datastore.Fetch(ctx, uri, dst, dir, s.opts)
}

func (s dataStorage) IsNotFound(err error) bool { return errors.Is(err, datastore.ErrNotFound) }

const probeSecret = "s3cr3t-probe-token-5e1f"

// newTaskEngine returns an engine with the test plugins, a secret
// probe/token in its chain, and the data store s; its log goes to logBuf.
func newTaskEngine(t *testing.T, s engine.Storage, logBuf *syncBuffer) *engine.Engine {
	t.Helper()
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{taskPlugins(t)}
	cfg.SDK.LoggingLevel = "info"
	var logger hclog.Logger
	if logBuf != nil {
		logger = hclog.New(&hclog.LoggerOptions{Output: logBuf, Level: hclog.Info})
	}
	e := engine.New(cfg, logger)
	e.Storage = s
	e.Secrets = secretsbackends.Env{Prefix: "TEST_", Getenv: func(name string) (string, bool) {
		if name == "TEST_PROBE_TOKEN" {
			return probeSecret, true
		}
		return "", false
	}}
	t.Cleanup(e.Close)
	return e
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestExecuteTask(t *testing.T) {
	e := newTaskEngine(t, dataStorage{}, nil)
	ctx := context.Background()
	prefix := t.TempDir()
	res, err := e.ExecuteTask(ctx, engine.TaskCall{
		ExecutionID: "p:d:r1", ExecutionDate: time.Now(), Node: "up@2",
		Plugin: "text", Task: "upper", Attempt: 2,
		Inputs: json.RawMessage(`{"text":"hello"}`), DataPrefix: prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Outputs); got != `{"text":"HELLO"}` {
		t.Errorf("outputs = %s", got)
	}
	// text.upper never uses its working directory, and the sdk makes it
	// only when a task does: none made, none reported.
	if res.Cache != "" || res.WorkDir != "" {
		t.Errorf("cache %q, work dir %q", res.Cache, res.WorkDir)
	}
	// Nor anything in the attempt's run but its task log (a lazy run:
	// sandbox.LazyRun); working directories go to the shared one.
	worker := filepath.Join(e.Config.SDK.LocalSandbox, engine.WorkerSandbox)
	if dirs, _ := filepath.Glob(filepath.Join(worker, sandbox.SharedTasksDir, "*")); len(dirs) > 0 {
		t.Errorf("working directories made for a task that used none: %v", dirs)
	}
	if dirs, _ := filepath.Glob(filepath.Join(worker, "runs", "*", "*")); len(dirs) != 1 || filepath.Base(dirs[0]) != sandbox.TaskLogFile {
		t.Errorf("the attempt's run holds %v, want only its task log", dirs)
	}
	// text.write writes its file output there: the plugin made it.
	wres, err := e.ExecuteTask(ctx, engine.TaskCall{
		ExecutionID: "p:d:r1", ExecutionDate: time.Now(), Node: "w",
		Plugin: "text", Task: "write", Attempt: 1,
		Inputs: json.RawMessage(`{"text":"hello","name":"h.txt"}`), DataPrefix: prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	if wres.WorkDir == "" || filepath.Dir(wres.WorkDir) != filepath.Join(worker, sandbox.SharedTasksDir) {
		t.Errorf("text.write: work dir %q", wres.WorkDir)
	} else if _, err := os.Stat(filepath.Join(wres.WorkDir, "h.txt")); err != nil {
		t.Errorf("text.write: %v", err)
	}
	if res.Logs == "" {
		t.Error("no task log")
	} else if data, err := os.ReadFile(filepath.Join(prefix, "_logs", "up@2.2.log")); err != nil || !strings.Contains(string(data), "task succeeded") {
		t.Errorf("task log in the data store (%s): %v %s", res.Logs, err, data)
	}
	if len(res.Metrics) == 0 {
		t.Error("no metrics")
	}

	// Bad inputs are the task's error, not retryable.
	_, err = e.ExecuteTask(ctx, engine.TaskCall{Plugin: "text", Task: "upper", Inputs: json.RawMessage(`{"txt":"x"}`)})
	var te *engine.TaskCallError
	if !errors.As(err, &te) || te.Kind != engine.FailTask || te.Retryable || !strings.Contains(te.Message, `"txt"`) {
		t.Errorf("bad inputs: %#v", err)
	}
}

func TestExecuteTaskFailures(t *testing.T) {
	logs := &syncBuffer{}
	e := newTaskEngine(t, dataStorage{}, logs)
	ctx := context.Background()
	tests := []struct {
		name      string
		call      engine.TaskCall
		kind      string
		retryable bool
		stderr    bool // may have a stderr tail (it is read apart from the answer)
		diags     bool
	}{
		{"task error", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"error"}`)}, engine.FailTask, false, false, false},
		{"retryable task error", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"retryable"}`)}, engine.FailTask, true, false, false},
		{"diagnostic", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"diagnostic"}`)}, engine.FailTask, false, false, true},
		{"secret in outputs", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"output"}`)}, engine.FailOutputs, false, false, false},
		{"crash", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"crash"}`)}, engine.FailProcess, true, true, false},
		{"timeout", engine.TaskCall{Plugin: "probe", Task: "steps", Inputs: json.RawMessage(`{"n":100,"ms":100}`), Timeout: 300 * time.Millisecond}, engine.FailTimeout, true, false, false},
		{"missing secret", engine.TaskCall{Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"none"}`), Secrets: []plugin.SecretRequest{{Group: "probe", Key: "absent"}}}, engine.FailSecret, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.DataPrefix = t.TempDir()
			res, err := e.ExecuteTask(ctx, tt.call)
			var te *engine.TaskCallError
			if !errors.As(err, &te) {
				t.Fatalf("ExecuteTask = %v, %v; want a TaskCallError", res, err)
			}
			if te.Kind != tt.kind || te.Retryable != tt.retryable {
				t.Errorf("kind %q retryable %v, want %q %v (%s)", te.Kind, te.Retryable, tt.kind, tt.retryable, te.Message)
			}
			if !tt.stderr && te.Stderr != "" {
				t.Errorf("stderr = %q", te.Stderr)
			}
			if tt.diags != (len(te.Diagnostics) > 0) {
				t.Errorf("diagnostics = %v", te.Diagnostics)
			}
			all, _ := json.Marshal(te)
			if s := string(all) + te.Error() + te.Stderr; strings.Contains(s, probeSecret) {
				t.Errorf("the secret leaked into the failure: %s", s)
			}
			if te.Message == "" {
				t.Error("no message")
			}
		})
	}
	// The log mode logs the secret: redacted in the engine's log and in
	// the task log stored in the data store.
	prefix := t.TempDir()
	res, err := e.ExecuteTask(ctx, engine.TaskCall{Node: "l", Plugin: "probe", Task: "leak", Inputs: json.RawMessage(`{"mode":"log"}`), DataPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Outputs), probeSecret) || !strings.Contains(string(res.Outputs), "digest") {
		t.Errorf("outputs: %s", res.Outputs)
	}
	time.Sleep(100 * time.Millisecond) // the plugin's log line travels apart from its answer
	var stored strings.Builder
	_ = filepath.WalkDir(prefix, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			stored.Write(data)
		}
		return nil
	})
	if !strings.Contains(stored.String(), "using the token ***") {
		t.Errorf("the task log in the data store lacks the redacted line:\n%s", stored.String())
	}
	for what, s := range map[string]string{"engine log": logs.String(), "data store": stored.String()} {
		if strings.Contains(s, probeSecret) {
			t.Errorf("the secret leaked into the %s:\n%s", what, s)
		}
	}
}

// TestExecuteTaskCheckpoints: an attempt's checkpoint is put in the data
// store while it runs (Checkpointed), and the next attempt, on another
// engine, starts from it.
func TestExecuteTaskCheckpoints(t *testing.T) {
	prefix := t.TempDir()
	e1 := newTaskEngine(t, dataStorage{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	call := engine.TaskCall{
		ExecutionID: "p:d:cp", Node: "s", Plugin: "probe", Task: "steps", Attempt: 1,
		Inputs: json.RawMessage(`{"n":40,"ms":50}`), DataPrefix: prefix,
		CheckpointEvery: 100 * time.Millisecond,
		Checkpointed: func(uri string) {
			mu.Lock()
			seen = append(seen, uri)
			if len(seen) == 3 {
				cancel() // the machine goes away mid-task
			}
			mu.Unlock()
		},
	}
	_, err := e1.ExecuteTask(ctx, call)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled attempt: %v", err)
	}
	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()

	e2 := newTaskEngine(t, dataStorage{}, nil)
	call.Checkpointed, call.PrevCheckpoint = nil, last
	res, err := e2.ExecuteTask(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ResumedFrom int `json:"resumed_from"`
		Done        int `json:"done"`
	}
	_ = json.Unmarshal(res.Outputs, &out)
	if out.ResumedFrom == 0 || out.Done != 40 {
		t.Errorf("second attempt: %s (from checkpoint %s)", res.Outputs, last)
	}
	if res.Checkpoint == "" || res.Checkpoint == last {
		t.Errorf("the second attempt's checkpoint is %q (last of the first %q)", res.Checkpoint, last)
	}
}

// TestExecuteTaskStoreCache: a result computed by one engine is a hit for
// another sharing the store; a corrupt entry is a miss with a warning.
func TestExecuteTaskStoreCache(t *testing.T) {
	testStoreCache(t, dataStorage{}, t.TempDir(), t.TempDir())
}

func TestExecuteTaskStoreCacheS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("cache")
	opts := datastore.Options{AWS: datastore.AWSOptions{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Region: srv.Region}}
	testStoreCache(t, dataStorage{opts: opts}, "s3://cache/goflyte-cache", "s3://cache/runs/r1")
}

func testStoreCache(t *testing.T, s dataStorage, cachePrefix, dataPrefix string) {
	ctx := context.Background()
	logs := &syncBuffer{}
	e1 := newTaskEngine(t, s, nil)
	e2 := newTaskEngine(t, s, logs)
	call := engine.TaskCall{
		ExecutionID: "p:d:c1", Node: "w", Plugin: "text", Task: "write",
		Inputs: json.RawMessage(`{"text":"cached words"}`), DataPrefix: dataPrefix,
		Cache: &engine.CachePolicy{Version: "1"}, CacheStore: e1.StoreCache(cachePrefix),
	}
	first, err := e1.ExecuteTask(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cache != engine.CacheMiss || first.CacheKey == "" {
		t.Fatalf("first: cache %q key %q", first.Cache, first.CacheKey)
	}
	call.CacheStore = e2.StoreCache(cachePrefix)
	second, err := e2.ExecuteTask(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if second.Cache != engine.CacheHit || string(second.Outputs) != string(first.Outputs) || second.WorkDir != "" {
		t.Fatalf("second: cache %q outputs %s (first %s) work dir %q", second.Cache, second.Outputs, first.Outputs, second.WorkDir)
	}
	// The file output is a data-store URI, readable from anywhere.
	var outs map[string]string
	_ = json.Unmarshal(second.Outputs, &outs)
	dst := filepath.Join(t.TempDir(), "f")
	if err := s.Fetch(ctx, outs["file"], dst, false); err != nil {
		t.Fatalf("fetch the cached file %s: %v", outs["file"], err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "cached words" {
		t.Errorf("cached file holds %q", data)
	}
	// Another cache version misses.
	call.Cache = &engine.CachePolicy{Version: "2"}
	if r, err := e2.ExecuteTask(ctx, call); err != nil || r.Cache != engine.CacheMiss {
		t.Fatalf("version 2: %v %v", r, err)
	}
	// Corrupt the version 1 entry: a miss, with a warning, and the task
	// runs and stores it again.
	call.Cache = &engine.CachePolicy{Version: "1"}
	corruptEntry(t, s, cachePrefix, first.CacheKey)
	third, err := e2.ExecuteTask(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if third.Cache != engine.CacheMiss {
		t.Errorf("corrupt entry: cache %q", third.Cache)
	}
	if !strings.Contains(logs.String(), "corrupt cache entry treated as a miss") {
		t.Errorf("no warning about the corrupt entry:\n%s", logs.String())
	}
	if r, err := e1.ExecuteTask(ctx, call); err != nil || r.Cache != engine.CacheHit {
		t.Errorf("after the rewrite: %v %v", r, err)
	}
	testStoreCacheAdmin(t, s, e1, call, cachePrefix, first.CacheKey)
}

// testStoreCacheAdmin manages the store cache as `goflyte cache --remote`
// does: it holds the entries of versions 1 and 2 of text.write.
func testStoreCacheAdmin(t *testing.T, s dataStorage, e *engine.Engine, call engine.TaskCall, cachePrefix, key string) {
	ctx := context.Background()
	sc := e.StoreCache(cachePrefix)
	defer sc.Close()
	infos, err := sc.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, in := range infos {
		if in.Task != "text.write" || in.Size == 0 || in.Created.IsZero() || !in.LastHit.IsZero() || in.Run != "p:d:c1" {
			t.Errorf("entry %+v", in)
		}
		versions = append(versions, in.Version)
	}
	if strings.Join(versions, ",") != "1,2" { // newest first: the rewritten 1
		t.Errorf("versions %v, want 1,2", versions)
	}
	if other, err := sc.List(ctx, "text.upper"); err != nil || len(other) != 0 {
		t.Errorf("List(text.upper) = %v, %v", other, err)
	}
	k, err := sc.Resolve(ctx, key[:10])
	if err != nil || k.String() != key {
		t.Fatalf("Resolve(%s) = %s, %v", key[:10], k, err)
	}
	en, err := sc.Entry(ctx, k)
	if err != nil || en.Task != "text.write" || en.Version != "1" || !strings.Contains(string(en.Outputs), "file") {
		t.Errorf("Entry = %+v, %v", en, err)
	}
	if _, err := sc.Resolve(ctx, "00000000"); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("Resolve(00000000): %v, want a miss", err)
	}
	for _, bad := range []string{"abc", "not-hex-at-all"} {
		if _, err := sc.Resolve(ctx, bad); err == nil || errors.Is(err, cache.ErrMiss) {
			t.Errorf("Resolve(%q): %v, want a usage error", bad, err)
		}
	}
	if n, err := sc.Prune(ctx, time.Hour, time.Now()); err != nil || n != 0 {
		t.Errorf("Prune(1h) = %d, %v; want 0", n, err)
	}
	if n, err := sc.Clear(ctx, "text.upper"); err != nil || n != 0 {
		t.Errorf("Clear(text.upper) = %d, %v; want 0", n, err)
	}
	if n, err := sc.Clear(ctx, "text.write"); err != nil || n != 2 {
		t.Errorf("Clear(text.write) = %d, %v; want 2", n, err)
	}
	if _, err := sc.Entry(ctx, k); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("Entry after Clear: %v, want a miss", err)
	}
	// A cleared entry is a miss for the next call, which writes it again.
	call.CacheStore = sc
	if r, err := e.ExecuteTask(ctx, call); err != nil || r.Cache != engine.CacheMiss {
		t.Fatalf("after Clear: %v %v", r, err)
	}
	// A corrupt entry is left out of List, and Clear("") removes it.
	corruptEntry(t, s, cachePrefix, key)
	if infos, err := sc.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("List with a corrupt entry = %v, %v", infos, err)
	}
	if n, err := sc.Clear(ctx, ""); err != nil || n != 1 {
		t.Errorf("Clear() = %d, %v; want 1", n, err)
	}
	if r, err := e.ExecuteTask(ctx, call); err != nil || r.Cache != engine.CacheMiss {
		t.Fatalf("after Clear(): %v %v", r, err)
	}
	if n, err := sc.Prune(ctx, 30*time.Minute, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("Prune(30m, an hour later) = %d, %v; want 1", n, err)
	}
}

// corruptEntry flips a byte of key's entry in the store cache at prefix.
func corruptEntry(t *testing.T, s dataStorage, prefix, key string) {
	t.Helper()
	ctx := context.Background()
	obj := key[:2] + "/" + key
	src := filepath.Join(t.TempDir(), "entry")
	uri := prefix + "/" + obj
	if !strings.Contains(prefix, "://") {
		uri = filepath.Join(prefix, obj)
	}
	if err := s.Fetch(ctx, uri, src, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(src)
	data[len(data)-3] ^= 0x20
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := s.Open(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.(*datastore.Store).PutFileMove(ctx, obj, bad); err != nil {
		t.Fatal(err)
	}
}

// TestExecuteTaskDynamic: a dynamic task's workflow goes back to the
// driver, with the schemas and digests of the plugins it uses, and
// compiles with them as the driver will compile it.
func TestExecuteTaskDynamic(t *testing.T) {
	e := newTaskEngine(t, dataStorage{}, nil)
	res, err := e.ExecuteTask(context.Background(), engine.TaskCall{
		Node: "each", Plugin: "text", Task: "count_each",
		Inputs: json.RawMessage(`{"texts":["a b","c d e"]}`), DataPrefix: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Dynamic
	if d == nil || !strings.Contains(d.Source, "workflow") || d.Schemas["text"] == nil || len(d.Digests["text"]) != 64 {
		t.Fatalf("dynamic: %+v (outputs %s)", d, res.Outputs)
	}
	w, err := engine.ParseDynamic(d.Source, "dynamic")
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.TaskGraph(context.Background(), "text.count_each")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.DynamicGraph(g.Nodes[0], w, engine.Sources{Schemas: d.Schemas}); err != nil {
		t.Errorf("the returned workflow does not compile with the returned schemas: %v", err)
	}
}

// TestExecuteTaskLocalCache: without a CacheStore, a cached call uses
// the local cache directory, the other ResultCache.
func TestExecuteTaskLocalCache(t *testing.T) {
	e := newTaskEngine(t, dataStorage{}, nil)
	call := engine.TaskCall{Plugin: "text", Task: "upper", Inputs: json.RawMessage(`{"text":"once"}`), Cache: &engine.CachePolicy{Version: "1"}}
	for i, want := range []string{engine.CacheMiss, engine.CacheHit} {
		res, err := e.ExecuteTask(context.Background(), call)
		if err != nil {
			t.Fatal(err)
		}
		if res.Cache != want || string(res.Outputs) != `{"text":"ONCE"}` {
			t.Errorf("call %d: cache %q outputs %s", i+1, res.Cache, res.Outputs)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(e.Config.CachePath(), "??", "*"))
	if len(entries) != 1 {
		t.Errorf("local cache entries: %v", entries)
	}
}

// TestExecuteTaskDeck: a task with decks enabled gets its deck page
// rendered and put in the data store.
func TestExecuteTaskDeck(t *testing.T) {
	e := newTaskEngine(t, dataStorage{}, nil)
	prefix := t.TempDir()
	res, err := e.ExecuteTask(context.Background(), engine.TaskCall{
		Node: "top", Plugin: "text", Task: "top", EnableDeck: true, DataPrefix: prefix,
		Inputs: json.RawMessage(`{"words":["a","b","a"],"k":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(prefix, "_decks", "top.html")
	data, err := os.ReadFile(page)
	if res.Deck == "" || err != nil || !strings.Contains(string(data), "Top words") {
		t.Errorf("deck %q: %v", res.Deck, err)
	}
}

// TestExecuteTaskEagerChildren: the calls an eager task makes come back
// as records (what a remote run's record keeps and shows progress lines
// for), each with its task log in the data store.
func TestExecuteTaskEagerChildren(t *testing.T) {
	e := newTaskEngine(t, dataStorage{}, nil)
	prefix := t.TempDir()
	res, err := e.ExecuteTask(context.Background(), engine.TaskCall{
		ExecutionID: "p:d:r1", ExecutionDate: time.Now(), Node: "shouts",
		Plugin: "text", Task: "shout_all", Attempt: 1, Mode: plugin.ModeLocalWorkflowExecution,
		Inputs: json.RawMessage(`{"texts":["to be","or not"]}`), DataPrefix: prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nested) != 2 || len(res.Children) != 2 {
		t.Fatalf("nested %+v, children %q: want 2 each", res.Nested, res.Children)
	}
	names := map[string]bool{}
	for _, r := range res.Nested {
		names[r.Name] = true
		if r.Task != "text.upper" || r.Status != "succeeded" || r.Attempts != 1 || r.Start.IsZero() || r.End.Before(r.Start) {
			t.Errorf("child record %+v", r)
		}
		if len(r.LogURIs) != 1 {
			t.Errorf("child %s: log URIs %v, want its log", r.Name, r.LogURIs)
			continue
		}
		if data, err := os.ReadFile(filepath.Join(prefix, "_logs", r.Name+".log")); err != nil || !strings.Contains(string(data), `"node":"`+r.Name+`"`) {
			t.Errorf("child %s's log in the data store (%s): %v %s", r.Name, r.LogURIs[0], err, data)
		}
	}
	if !names["shouts+1+upper"] || !names["shouts+2+upper"] {
		t.Errorf("children's names: %v", names)
	}
	if !strings.HasSuffix(res.Logs, "shouts.log") {
		t.Errorf("the eager task's own log: %s", res.Logs)
	}
}
