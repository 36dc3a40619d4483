package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/goflyte/goflyte/console"
	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

func consoleCommand() *command {
	return &command{
		name:    "console",
		args:    "[--addr HOST:PORT] [--no-open] [--json] [--allow-remote]",
		summary: "Serve a web console of the sandbox's runs, live, on 127.0.0.1",
		help: `
Serves the runs of the sandbox (sdk.local_sandbox), their graphs, timelines,
tasks, logs and decks, and the cache, in a browser, updated live as other
goflyte processes run. From the console you can start a workflow of
sdk.workflow_packages, resume, cancel or delete runs: it runs goflyte
itself for them, so a run it starts is an ordinary run.

It prints the address with an access token (as Jupyter does) and opens it
in a browser. Every request needs the token (once in the address, then a
cookie); requests for another host name and cross-origin POSTs are
refused. While it serves, goflyte run prints the link of its run.

Flags:
  --addr HOST:PORT  where to listen (default 127.0.0.1 and a free port)
  --no-open         do not open a browser
  --json            print {"url": ..., "addr": ...} instead of the line
  --allow-remote    allow an address that is not loopback (anyone who can
                    reach it and has the token can read your runs and start
                    runs as you)

Stop it with Ctrl-C; runs it started keep going.`,
		run: runConsole,
	}
}

// consoleFile is where a console serving the sandbox writes its address,
// for goflyte run to print links.
const consoleFile = "console.json"

type consoleInfo struct {
	URL   string `json:"url"`
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

func runConsole(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("console")
	addr := fs.String("addr", "127.0.0.1:0", "")
	noOpen := fs.Bool("no-open", false, "")
	asJSON := fs.Bool("json", false, "")
	allowRemote := fs.Bool("allow-remote", false, "")
	if _, err := c.parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("console: --addr %q: %v", *addr, err)
	}
	if !isLoopback(host) && !*allowRemote {
		return usagef("console: --addr %s is not a loopback address: anyone who can reach it could read your runs; add --allow-remote if you mean it", *addr)
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	sb := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}
	var cc *cache.Cache
	if cc, err = cache.Open(cfg.CachePath()); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var global []string
	if c.configPath != "" {
		abs, _ := filepath.Abs(c.configPath)
		global = append(global, "--config", abs)
	}
	wd, _ := os.Getwd()
	srv, err := console.New(console.Options{
		Sandbox:     sb,
		Cache:       cc,
		DataPrefix:  localDataPrefix(cfg.Local.RawOutputDataPrefix),
		Workflows:   func() ([]console.Workflow, error) { return c.consoleWorkflows(cfg) },
		Starter:     console.Spawner{Exe: exe, Args: global, Dir: wd, Sandbox: sb},
		AllowRemote: *allowRemote,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	bound := ln.Addr().String()
	if h, p, err := net.SplitHostPort(bound); err == nil && (h == "::" || h == "0.0.0.0") {
		bound = net.JoinHostPort("127.0.0.1", p)
	}
	srv.SetAddr(bound)
	if *allowRemote {
		srv.SetAddr(ln.Addr().String())
	}
	base := "http://" + bound + "/"
	link := base + "?token=" + srv.Token()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	info := consoleInfo{URL: base, Addr: bound, Token: srv.Token(), PID: os.Getpid()}
	infoPath := filepath.Join(sb.Root, consoleFile)
	if data, err := json.Marshal(info); err == nil && os.MkdirAll(sb.Root, 0o700) == nil {
		tmp := infoPath + ".tmp-" + strconv.Itoa(os.Getpid())
		if os.WriteFile(tmp, data, 0o600) == nil {
			os.Rename(tmp, infoPath)
		}
	}
	defer func() {
		// Remove the address only if it is still ours.
		if cur, err := readConsoleInfo(sb); err == nil && cur.PID == os.Getpid() {
			os.Remove(infoPath)
		}
	}()

	if *asJSON {
		writeJSON(c.stdout, map[string]string{"url": link, "addr": bound})
	} else {
		fmt.Fprintf(c.stdout, "goflyte console serving %s at %s\n", sb.Root, link)
	}
	if !*noOpen {
		// The browser gets what plugins get: no secrets, no credentials.
		if err := openInBrowser(link, engine.PluginEnv(os.Environ(), cfg, cfg.Secrets.FallbackPassphraseEnv)); err != nil {
			fmt.Fprintf(c.stderr, "(no browser opened: %v)\n", err)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("console: %w", err)
	}
	srv.Close() // ends the event streams, so Shutdown does not wait on them
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readConsoleInfo reads the address a console wrote into the sandbox.
func readConsoleInfo(sb sandbox.Sandbox) (*consoleInfo, error) {
	data, err := os.ReadFile(filepath.Join(sb.Root, consoleFile))
	if err != nil {
		return nil, err
	}
	var info consoleInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// consoleLink returns the console's link to run when a console is serving
// sb: its process is alive and its address answers. A stale file (a
// console killed) gives "".
func consoleLink(sb sandbox.Sandbox, run string) string {
	info, err := readConsoleInfo(sb)
	if err != nil || info.PID <= 0 {
		return ""
	}
	if p, err := os.FindProcess(info.PID); err != nil || p.Signal(syscall.Signal(0)) != nil {
		return ""
	}
	conn, err := net.DialTimeout("tcp", info.Addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	conn.Close()
	return info.URL + "runs/" + run + "?token=" + info.Token
}

// consoleWorkflows lists the workflows of sdk.workflow_packages as
// `goflyte workflows list` does, with their typed inputs.
func (c *cli) consoleWorkflows(cfg *config.Config) ([]console.Workflow, error) {
	found, _, err := c.findWorkflows(cfg)
	if err != nil {
		return nil, err
	}
	var out []console.Workflow
	for _, f := range found {
		w := console.Workflow{Name: f.wf.Name, File: f.file, Description: f.wf.Description}
		for _, in := range f.wf.Inputs {
			ci := console.Input{Name: in.Name, Type: in.TypeExpr, Description: in.Description}
			if !in.Required() {
				ci.Default = defaultJSON(in)
			}
			w.Inputs = append(w.Inputs, ci)
		}
		out = append(out, w)
	}
	return out, nil
}

// defaultJSON is an input's default as JSON text (strings bare, as a
// form shows them).
func defaultJSON(in *config.WorkflowInput) string {
	data, err := ctyjson.Marshal(in.Default, in.Default.Type())
	if err != nil {
		return "(default)"
	}
	var s string
	if json.Unmarshal(data, &s) == nil {
		return s
	}
	return string(data)
}
