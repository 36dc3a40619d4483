package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
)

// Options configures [Serve].
type Options struct {
	// ConfigPath is the --config flag: an explicit flyte.hcl. "" means
	// what every command does (FLYTE_CONFIG, then ./flyte.hcl, then the
	// user config dir), with "." the client's workspace folder when it
	// names one, else WorkDir.
	ConfigPath string
	// WorkDir is the directory searched for flyte.hcl when the client
	// names no workspace folder; "" means the working directory.
	WorkDir string
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// NoLock turns off the check of plugin binaries against the lock file
	// (goflyte --lock=false).
	NoLock bool
	// Logger receives the server's own log (never stdout, which carries
	// the protocol); nil discards it.
	Logger hclog.Logger
	// Debounce is how long diagnostics wait after the last change of a
	// document; 0 means 150 ms, a negative value no wait.
	Debounce time.Duration
	// Poll is how often plugin binaries and flyte.hcl are checked for
	// changes (default 1 s).
	Poll time.Duration
}

// Serve runs a language server that reads requests from in and writes
// responses and notifications to out, until the client sends exit (or
// in ends), and returns the process exit code the protocol asks for: 0
// after shutdown, 1 otherwise. It never returns early for a bad request
// or a broken plugin: those are errors in the answer or diagnostics.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) int {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	switch {
	case opts.Debounce == 0:
		opts.Debounce = 150 * time.Millisecond
	case opts.Debounce < 0:
		opts.Debounce = 0
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &server{
		opts:   opts,
		conn:   newConn(in, out),
		log:    opts.Logger,
		ctx:    ctx,
		docs:   map[string]*document{},
		cache:  newSchemaCache(nil),
		files:  map[string]*diskFile{},
		kick:   make(chan struct{}, 1),
		queued: map[string]bool{},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.worker()
	}()
	code := s.loop()
	cancel()
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.wg.Wait() // the worker and the poller, with any plugin they were describing
	return code
}

type server struct {
	opts Options
	conn *conn
	log  hclog.Logger
	ctx  context.Context
	wg   sync.WaitGroup // goroutines Serve waits for

	initialized bool // initialize answered
	shutdown    bool // shutdown received
	snippets    bool // the client takes snippets in completions

	mu      sync.Mutex
	cfg     *config.Config
	cfgFile string
	cfgMod  time.Time
	workDir string
	docs    map[string]*document
	files   map[string]*diskFile // other workflow files, by path
	queued  map[string]bool      // documents waiting for diagnostics
	timer   *time.Timer
	polling bool

	cache *schemaCache
	kick  chan struct{}
}

// document is an open text document.
type document struct {
	uri, path string
	version   int
	text      *text
	// graphs are the last workflows of the document that compiled, by
	// name: the types completion and hover show while the file is broken.
	graphs map[string]*engine.Graph
}

// diskFile is a workflow file that is not open, parsed once per change.
type diskFile struct {
	mod  time.Time
	size int64
	wf   *config.WorkflowFile
	src  []byte
}

func (s *server) loop() int {
	for {
		m, err := s.conn.read()
		var re *rpcError
		switch {
		case errors.Is(err, io.EOF):
			return s.exitCode()
		case errors.As(err, &re):
			_ = s.conn.replyError(nil, re)
			continue
		case err != nil:
			s.log.Error("reading from the client", "error", err)
			return s.exitCode()
		}
		if m.Method == "exit" {
			return s.exitCode()
		}
		if m.Method == "" {
			continue // a response to a request of ours: none are sent
		}
		s.handle(m)
	}
}

func (s *server) exitCode() int {
	if s.shutdown {
		return 0
	}
	return 1
}

// handle answers one request or applies one notification. A panic in a
// handler is an internal error in the answer, not the end of the server.
func (s *server) handle(m *message) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "method", m.Method, "panic", r, "stack", string(debug.Stack()))
			if m.isRequest() {
				_ = s.conn.replyError(m.ID, &rpcError{Code: codeInternalError, Message: fmt.Sprintf("internal error in %s: %v", m.Method, r)})
			}
		}
	}()
	if !s.initialized && m.Method != "initialize" {
		if m.isRequest() {
			_ = s.conn.replyError(m.ID, &rpcError{Code: codeServerNotInitialized, Message: "the server is not initialized"})
		}
		return
	}
	if s.shutdown && m.isRequest() {
		_ = s.conn.replyError(m.ID, &rpcError{Code: codeInvalidRequest, Message: "the server is shut down"})
		return
	}
	h, ok := handlers[m.Method]
	if !ok {
		if m.isRequest() {
			_ = s.conn.replyError(m.ID, &rpcError{Code: codeMethodNotFound, Message: "method not supported: " + m.Method})
		}
		return
	}
	result, err := h(s, m.Params)
	if !m.isRequest() {
		if err != nil {
			s.log.Warn("notification failed", "method", m.Method, "error", err)
		}
		return
	}
	if err != nil {
		var re *rpcError
		if !errors.As(err, &re) {
			re = &rpcError{Code: codeInternalError, Message: err.Error()}
		}
		_ = s.conn.replyError(m.ID, re)
		return
	}
	_ = s.conn.reply(m.ID, result)
}

type handler func(s *server, params json.RawMessage) (any, error)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"initialize":                          (*server).initialize,
		"initialized":                         func(*server, json.RawMessage) (any, error) { return nil, nil },
		"shutdown":                            (*server).shutdownRequest,
		"textDocument/didOpen":                (*server).didOpen,
		"textDocument/didChange":              (*server).didChange,
		"textDocument/didClose":               (*server).didClose,
		"textDocument/didSave":                (*server).didSave,
		"textDocument/completion":             (*server).completion,
		"textDocument/hover":                  (*server).hover,
		"textDocument/definition":             (*server).definition,
		"textDocument/references":             (*server).references,
		"textDocument/documentSymbol":         (*server).documentSymbol,
		"textDocument/formatting":             (*server).formatting,
		"textDocument/semanticTokens/full":    (*server).semanticTokens,
		"workspace/didChangeWatchedFiles":     (*server).filesChanged,
		"workspace/didChangeConfiguration":    func(*server, json.RawMessage) (any, error) { return nil, nil },
		"$/cancelRequest":                     func(*server, json.RawMessage) (any, error) { return nil, nil },
		"$/setTrace":                          func(*server, json.RawMessage) (any, error) { return nil, nil },
		"workspace/didChangeWorkspaceFolders": func(*server, json.RawMessage) (any, error) { return nil, nil },
	}
}

func decode(params json.RawMessage, v any) error {
	if err := json.Unmarshal(params, v); err != nil {
		return &rpcError{Code: codeInvalidParams, Message: err.Error()}
	}
	return nil
}

func (s *server) initialize(params json.RawMessage) (any, error) {
	var p initializeParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	var caps clientCapabilities
	_ = json.Unmarshal(p.Capabilities, &caps)
	s.snippets = caps.TextDocument.Completion.CompletionItem.SnippetSupport
	dir := s.opts.WorkDir
	switch {
	case len(p.WorkspaceFolders) > 0:
		dir = uriToPath(p.WorkspaceFolders[0].URI)
	case p.RootURI != "":
		dir = uriToPath(p.RootURI)
	case p.RootPath != "":
		dir = p.RootPath
	}
	s.mu.Lock()
	s.workDir = dir
	s.mu.Unlock()
	s.loadConfig()
	s.initialized = true
	s.startPolling()
	return map[string]any{
		"capabilities": map[string]any{
			"positionEncoding": "utf-16",
			"textDocumentSync": map[string]any{
				"openClose": true,
				"change":    2, // incremental
				"save":      map[string]any{"includeText": false},
			},
			"completionProvider": map[string]any{
				"triggerCharacters": []string{".", "\"", "{", " ", "="},
			},
			"hoverProvider":              true,
			"definitionProvider":         true,
			"referencesProvider":         true,
			"documentSymbolProvider":     true,
			"documentFormattingProvider": true,
			"semanticTokensProvider": map[string]any{
				"legend": map[string]any{"tokenTypes": tokenTypes, "tokenModifiers": tokenModifiers},
				"full":   true,
			},
		},
		"serverInfo": map[string]any{"name": "goflyte", "version": "1"},
	}, nil
}

func (s *server) shutdownRequest(json.RawMessage) (any, error) {
	s.shutdown = true
	return nil, nil // the protocol's answer is null
}

// loadConfig (re)loads flyte.hcl as every command does, from the
// workspace folder, and points the plugin cache at its plugin_dirs and
// lock file. A broken flyte.hcl is logged and leaves the defaults.
func (s *server) loadConfig() {
	s.mu.Lock()
	dir := s.workDir
	s.mu.Unlock()
	p := config.NewParser()
	cfg, diags := p.LoadConfig(config.LoadOptions{ExplicitPath: s.opts.ConfigPath, WorkDir: dir, Getenv: s.opts.Getenv})
	if diags.HasErrors() {
		s.log.Warn("flyte.hcl has errors", "error", diags.Error())
		if cfg == nil {
			cfg = config.Defaults()
		}
	}
	var lock *config.Lock
	lockPath := ""
	if !s.opts.NoLock {
		base := dir
		if base == "" {
			base, _ = os.Getwd()
		}
		lockPath = config.LockPath(cfg, base)
		l, ld := p.LoadLock(lockPath)
		if ld.HasErrors() {
			l = &config.Lock{} // trust nothing rather than everything, as the CLI does
		}
		lock = l
	}
	var mod time.Time
	if cfg.File != "" {
		if info, err := os.Stat(cfg.File); err == nil {
			mod = info.ModTime()
		}
	}
	s.cache.configure(cfg.SDK.PluginDirs, lock, lockPath, describePlugin(cfg, s.log))
	s.mu.Lock()
	s.cfg, s.cfgFile, s.cfgMod = cfg, cfg.File, mod
	s.files = map[string]*diskFile{}
	s.mu.Unlock()
}

// startPolling checks, every opts.Poll, whether a plugin binary or
// flyte.hcl changed, and if so publishes every open document's
// diagnostics again: a plugin rebuilt during a session shows without any
// notification from the editor.
func (s *server) startPolling() {
	s.mu.Lock()
	if s.polling {
		s.mu.Unlock()
		return
	}
	s.polling = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.cache.refresh(s.ctx) {
			s.queueAll()
		}
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			if s.configChanged() {
				s.loadConfig()
			}
			if s.cache.refresh(s.ctx) {
				s.log.Info("plugins changed: checking open documents again")
				s.queueAll()
			}
		}
	}()
}

func (s *server) configChanged() bool {
	s.mu.Lock()
	file, mod := s.cfgFile, s.cfgMod
	s.mu.Unlock()
	if file == "" {
		return false
	}
	info, err := os.Stat(file)
	return err == nil && !info.ModTime().Equal(mod)
}

func (s *server) didOpen(params json.RawMessage) (any, error) {
	var p didOpenParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	d := &document{uri: p.TextDocument.URI, path: uriToPath(p.TextDocument.URI), version: p.TextDocument.Version, text: newText([]byte(p.TextDocument.Text))}
	s.mu.Lock()
	s.docs[d.uri] = d
	s.mu.Unlock()
	s.queue(d.uri, 0)
	return nil, nil
}

func (s *server) didChange(params json.RawMessage) (any, error) {
	var p didChangeParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	d, ok := s.docs[p.TextDocument.URI]
	if ok {
		t := d.text
		for _, c := range p.ContentChanges {
			t = t.applyChange(c)
		}
		nd := *d
		nd.text, nd.version = t, p.TextDocument.Version
		s.docs[d.uri] = &nd
	}
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("change of a document that is not open: %s", p.TextDocument.URI)
	}
	s.queue(p.TextDocument.URI, s.opts.Debounce)
	return nil, nil
}

func (s *server) didClose(params json.RawMessage) (any, error) {
	var p didCloseParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.docs, p.TextDocument.URI)
	delete(s.queued, p.TextDocument.URI)
	s.mu.Unlock()
	// The problems of a closed file are no longer shown.
	return nil, s.conn.notify("textDocument/publishDiagnostics", publishDiagnosticsParams{URI: p.TextDocument.URI, Diagnostics: []Diagnostic{}})
}

func (s *server) didSave(params json.RawMessage) (any, error) {
	var p didSaveParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if filepath.Base(uriToPath(p.TextDocument.URI)) == config.FileName {
		s.loadConfig()
		s.cache.refresh(s.ctx)
	}
	// Another file may call a workflow of this one.
	s.queueAll()
	return nil, nil
}

func (s *server) filesChanged(json.RawMessage) (any, error) {
	if s.configChanged() {
		s.loadConfig()
	}
	s.cache.refresh(s.ctx)
	s.queueAll()
	return nil, nil
}

// queue asks for a document's diagnostics after delay; a later change
// before then delays them again (debouncing while the user types).
func (s *server) queue(uri string, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued[uri] = true
	if s.timer == nil {
		s.timer = time.AfterFunc(delay, s.fire)
		return
	}
	s.timer.Reset(delay)
}

func (s *server) queueAll() {
	s.mu.Lock()
	uris := make([]string, 0, len(s.docs))
	for uri := range s.docs {
		uris = append(uris, uri)
	}
	s.mu.Unlock()
	for _, uri := range uris {
		s.queue(uri, 0)
	}
}

func (s *server) fire() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// worker publishes the diagnostics of queued documents, one at a time.
func (s *server) worker() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		s.mu.Lock()
		uris := make([]string, 0, len(s.queued))
		for uri := range s.queued {
			uris = append(uris, uri)
		}
		s.queued = map[string]bool{}
		s.mu.Unlock()
		sort.Strings(uris)
		if len(uris) > 0 && s.cache.refresh(s.ctx) {
			s.queueAll()
			s.fire()
		}
		for _, uri := range uris {
			s.publish(uri)
		}
	}
}

// publish computes and sends one document's diagnostics, unless it
// changed meanwhile (a newer run is queued then).
func (s *server) publish(uri string) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic computing diagnostics", "uri", uri, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	s.mu.Lock()
	d := s.docs[uri]
	s.mu.Unlock()
	if d == nil {
		return
	}
	diags, graphs := s.diagnose(s.ctx, d)
	if s.ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	cur := s.docs[uri]
	if cur == nil || cur.version != d.version {
		s.mu.Unlock()
		return
	}
	if cur.graphs == nil {
		cur.graphs = map[string]*engine.Graph{}
	}
	for name, g := range graphs {
		cur.graphs[name] = g
	}
	s.mu.Unlock()
	v := d.version
	_ = s.conn.notify("textDocument/publishDiagnostics", publishDiagnosticsParams{URI: uri, Version: &v, Diagnostics: lspDiagnostics(d, diags)})
}

// diagnose returns what `goflyte validate FILE` reports for the
// document's current text, through the same calls (config's loader, then
// engine.ValidateFile), with plugins described from the cache. flyte.hcl
// and the lock file are configuration, checked by the commands that load
// them: no diagnostics here.
func (s *server) diagnose(ctx context.Context, d *document) (hcl.Diagnostics, map[string]*engine.Graph) {
	if base := filepath.Base(d.path); base == config.FileName || base == config.LockFileName {
		return nil, nil
	}
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	p := config.NewParser()
	wf, diags := p.LoadWorkflowSource(d.text.src, d.path)
	if wf == nil {
		return diags, nil
	}
	reg := s.cache.registry(cfg.SDK.PluginDirs)
	defer reg.Close()
	eng := &engine.Engine{Config: cfg, Plugins: reg, Logger: hclog.NewNullLogger(), Workflows: engine.FileLookup(wf, s.packageLookup(d.path))}
	graphs, more := eng.ValidateFile(ctx, wf)
	diags = append(diags, more...)
	good := map[string]*engine.Graph{}
	for i, g := range graphs {
		if g != nil {
			good[wf.Workflows[i].Name] = g
		}
	}
	return diags, good
}

// lspDiagnostics converts the diagnostics whose subject is in the
// document; the message is validate's summary and detail.
func lspDiagnostics(d *document, diags hcl.Diagnostics) []Diagnostic {
	out := []Diagnostic{}
	for _, hd := range diags {
		var rng Range
		if hd.Subject != nil {
			if hd.Subject.Filename != d.path {
				continue // another file's problem (a called workflow's): shown in that file
			}
			rng = d.text.rangeOf(*hd.Subject)
		}
		sev := severityError
		if hd.Severity == hcl.DiagWarning {
			sev = severityWarning
		}
		msg := hd.Summary
		if hd.Detail != "" {
			msg += ": " + hd.Detail
		}
		out = append(out, Diagnostic{Range: rng, Severity: sev, Source: "goflyte", Message: msg})
	}
	return out
}

// packageLookup finds workflows in sdk.workflow_packages for sub-workflow
// calls, reading open documents from the editor and other files from disk
// (parsed again only when they change).
func (s *server) packageLookup(self string) engine.WorkflowLookup {
	return func(name string) *config.Workflow {
		for _, f := range s.workflowFiles(self) {
			if f.wf == nil {
				continue
			}
			for _, w := range f.wf.Workflows {
				if w.Name == name {
					return w
				}
			}
		}
		return nil
	}
}

// workflowFile is a workflow file of sdk.workflow_packages, from the editor
// when it is open.
type workflowFile struct {
	path string
	src  []byte
	wf   *config.WorkflowFile
}

func (s *server) workflowFiles(self string) []workflowFile {
	s.mu.Lock()
	cfg := s.cfg
	open := map[string][]byte{}
	for _, d := range s.docs {
		open[d.path] = d.text.src
	}
	s.mu.Unlock()
	paths, err := config.FindWorkflowFiles(cfg.SDK.WorkflowPackages)
	if err != nil {
		return nil
	}
	var out []workflowFile
	for _, path := range paths {
		if sameFile(path, self) {
			continue
		}
		if src, ok := open[path]; ok {
			wf, _ := config.NewParser().LoadWorkflowSource(src, path)
			out = append(out, workflowFile{path: path, src: src, wf: wf})
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			continue
		}
		s.mu.Lock()
		f := s.files[path]
		s.mu.Unlock()
		if f == nil || !f.mod.Equal(info.ModTime()) || f.size != info.Size() {
			src, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			wf, _ := config.NewParser().LoadWorkflowSource(src, path)
			f = &diskFile{mod: info.ModTime(), size: info.Size(), wf: wf, src: src}
			s.mu.Lock()
			s.files[path] = f
			s.mu.Unlock()
		}
		out = append(out, workflowFile{path: path, src: f.src, wf: f.wf})
	}
	return out
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// snapshot returns a document and what completion and hover need: the
// plugins' schemas and the document's last compiled graphs.
func (s *server) snapshot(uri string) (*document, map[string]*described, error) {
	s.mu.Lock()
	d := s.docs[uri]
	s.mu.Unlock()
	if d == nil {
		return nil, nil, &rpcError{Code: codeInvalidParams, Message: "document not open: " + uri}
	}
	return d, s.cache.schemas(), nil
}
