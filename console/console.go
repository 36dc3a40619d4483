package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/sandbox"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CookieName is the cookie that carries the token after the first visit.
const CookieName = "goflyte_console"

// Workflow is a workflow the console can start: `goflyte workflows list`.
type Workflow struct {
	Name        string
	File        string
	Description string
	Inputs      []Input
}

// Input is a typed input of a Workflow.
type Input struct {
	Name, Type, Description string
	// Default is the default value as JSON, "" for a required input.
	Default string
}

// Starter starts goflyte runs, as the CLI would: see [Spawner].
type Starter interface {
	// Start runs `goflyte run` with args and returns the new run's name
	// once its record exists.
	Start(ctx context.Context, args ...string) (run string, err error)
}

// Options configure a Server.
type Options struct {
	// Sandbox is the sandbox to read (sdk.local_sandbox).
	Sandbox sandbox.Sandbox
	// Cache is the result cache (nil: the cache page is empty).
	Cache *cache.Cache
	// Token is the access token; New makes one when it is empty.
	Token string
	// DataPrefix is a local directory used as local.raw_output_data_prefix
	// ("" if none): deleting a run removes its data store there too, and
	// files there can be downloaded.
	DataPrefix string
	// Workflows lists the workflows that can be started; nil: none.
	Workflows func() ([]Workflow, error)
	// Starter starts runs for the start and resume actions; nil: those
	// actions are refused.
	Starter Starter
	// AllowRemote accepts any host name in the Host header (the port must
	// still be the console's): for a console listening beyond loopback.
	AllowRemote bool
	// Poll is how often live views read the sandbox (default 100ms).
	Poll time.Duration
}

// Server is the console's HTTP handler. Create it with New; set its
// address with SetAddr before serving (the Host check needs it).
type Server struct {
	opts  Options
	tmpl  *template.Template
	mux   *http.ServeMux
	ctx   context.Context
	stop  context.CancelFunc
	hosts map[string]bool
	port  string

	lister *sandbox.Lister

	mu   sync.Mutex
	hubs map[string]*hub
	runs *hub
}

// New returns a Server for opts.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		opts.Token = hex.EncodeToString(b[:])
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{opts: opts, tmpl: tmpl, ctx: ctx, stop: stop, hubs: map[string]*hub{}, lister: &sandbox.Lister{Sandbox: opts.Sandbox}}
	s.routes()
	return s, nil
}

// Token returns the access token.
func (s *Server) Token() string { return s.opts.Token }

// SetAddr sets the address the console is served at ("127.0.0.1:8080"):
// requests must name it (or, for loopback, localhost) in their Host.
func (s *Server) SetAddr(addr string) {
	host, port, _ := net.SplitHostPort(addr)
	s.port = port
	s.hosts = map[string]bool{addr: true}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
			s.hosts[h+":"+port] = true
		}
	}
}

// Close stops the live views' readers and ends their streams.
func (s *Server) Close() { s.stop() }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.runsPage)
	m.HandleFunc("GET /runs/{run}", s.runPage)
	m.HandleFunc("GET /runs/{run}/tasks/{task}", s.taskPage)
	m.HandleFunc("GET /runs/{run}/deck/{path...}", s.deck)
	m.HandleFunc("GET /runs/{run}/files", s.file)
	m.HandleFunc("GET /cache", s.cachePage)
	m.HandleFunc("GET /workflows", s.workflowsPage)
	m.HandleFunc("GET /workflows/{name}", s.workflowPage)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{run}", s.apiRun)
	m.HandleFunc("GET /api/cache", s.apiCache)
	m.HandleFunc("GET /api/workflows", s.apiWorkflows)
	m.HandleFunc("GET /api/runs/{run}/events", s.runEvents)
	m.HandleFunc("GET /api/events", s.runsEvents)
	m.HandleFunc("POST /api/runs/{run}/delete", s.actDelete)
	m.HandleFunc("POST /api/runs/{run}/resume", s.actResume)
	m.HandleFunc("POST /api/runs/{run}/cancel", s.actCancel)
	m.HandleFunc("POST /api/workflows/{name}/run", s.actStart)
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		data, _ := staticFS.ReadFile("static/favicon.svg")
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(data)
	})
	s.mux = m
}

// The policy of the console's pages: its own script and styles only.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// ServeHTTP checks the Host, the token and the origin of POSTs, then
// serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	if !s.hostOK(r.Host) {
		http.Error(w, "misdirected request: the Host is not this console's address", http.StatusMisdirectedRequest)
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	if t := r.URL.Query().Get("token"); t != "" {
		if !s.tokenOK(t) {
			http.Error(w, "forbidden: wrong token", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
			// Take the token out of the address bar and history.
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	} else if c, err := r.Cookie(CookieName); err != nil || !s.tokenOK(c.Value) {
		http.Error(w, "forbidden: open the address goflyte console printed, with its token", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.Token)) == 1
}

func (s *Server) hostOK(host string) bool {
	if s.hosts[host] {
		return true
	}
	if s.opts.AllowRemote {
		_, port, err := net.SplitHostPort(host)
		return err == nil && port == s.port
	}
	return false
}

// sameOrigin says whether a POST comes from the console's own pages (or
// from a client that is not a browser: no Origin, no Sec-Fetch-Site).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// writeJSON writes v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// httpError writes err as text (or JSON for the API) with a status that
// fits it.
func httpError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var re *sandbox.RunningError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		status = http.StatusNotFound
	case errors.As(err, &re), errors.Is(err, sandbox.ErrNotRunning):
		status = http.StatusConflict
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	http.Error(w, err.Error(), status)
}

var errBadRequest = errors.New("bad request")
