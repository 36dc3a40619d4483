// Package remotetest runs a real Temporal server for tests:
// temporal-testserver, the small program in testservers/temporal that
// embeds the Temporal server library (frontend, history, matching and
// worker services in one process, SQLite in a temporary directory, tuned
// for tests: about 14 ms per chained activity instead of 100).
//
// [Start] looks for the temporal-testserver binary in PATH, in
// $(go env GOPATH)/bin and in the repository's .tools directory, where
// `make test` installs it. When it is missing the test is skipped, unless
// GOFLYTE_TEST_TEMPORAL=1 (which `make test` sets): then a test that was
// asked to use Temporal and cannot fails rather than skipping silently.
//
// Options turn on TLS for the frontend (to test the TLS settings) and the
// JWT claim mapper with Temporal's default authorizer (to test
// credentials): the server then fetches signing keys from a JWKS URL and
// wants a token whose "permissions" claim grants "<namespace>:<role>".
package remotetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goflyte/goflyte/internal/testserver"
)

// Binary is the program's name; the Makefile installs it into .tools.
const Binary = "temporal-testserver"

// EnvRequire names the variable that turns a missing server into a failure.
const EnvRequire = "GOFLYTE_TEST_TEMPORAL"

// Options configure the server. The zero value is a plaintext server with
// no authorization and the namespace "default".
type Options struct {
	// Namespaces to register besides "default".
	Namespaces []string
	// TLSCertFile and TLSKeyFile, both set, make the frontend speak TLS
	// with this certificate.
	TLSCertFile, TLSKeyFile string
	// JWKSURL, if set, turns on the JWT claim mapper and the default
	// authorizer, with signing keys from this URL (fetched at start and
	// every JWKSRefresh, default 10 s).
	JWKSURL     string
	JWKSRefresh time.Duration
	// Audience, with JWKSURL, makes the server refuse a token whose aud
	// claim does not hold it (Temporal's global.authorization.audience).
	Audience string
	// Dynamic config values, "key": JSON value, beside the tuning for
	// tests (see testservers/temporal).
	Dynamic map[string]string
}

// Server is a running temporal-testserver.
type Server struct {
	Addr      string // the frontend, "127.0.0.1:PORT"
	Namespace string // "default"; Shared's: the test's own
	TLS       bool   // the frontend speaks TLS
	// Output is the server's log (stderr), for failure messages.
	Output *testserver.Buffer
}

// Start starts a server and stops it in t.Cleanup. It skips or fails t when
// the binary is missing (see the package comment), and fails t when the
// server is not ready within a minute.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, stop, err := Launch(o, t.TempDir)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %v", EnvRequire, err)
		}
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatalf("start %s: %v", Binary, err)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", Binary, s.Output.Tail(4000))
		}
	})
	return s
}

// NotFoundError is Launch's error when the binary is nowhere to be found.
type NotFoundError struct{ Tried []string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s not found (looked in PATH and %v); run `make test` or `make .tools/%s`", Binary, e.Tried, Binary)
}

// Launch is Start outside a test (the benchmarks of cmd/goflyte-bench):
// it starts a server with its database in a fresh directory from
// tempDir, and returns it with the function that stops it. A missing
// binary is a *NotFoundError.
func Launch(o Options, tempDir func() string) (*Server, func(), error) {
	bin, tried := testserver.Find(Binary)
	if bin == "" {
		return nil, nil, &NotFoundError{Tried: tried}
	}
	args := []string{"--port", "0", "--exit-on-stdin-close"}
	for _, ns := range o.Namespaces {
		args = append(args, "--namespace", ns)
	}
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		args = append(args, "--tls-cert", o.TLSCertFile, "--tls-key", o.TLSKeyFile)
	}
	if o.JWKSURL != "" {
		args = append(args, "--jwks-url", o.JWKSURL)
		if o.Audience != "" {
			args = append(args, "--audience", o.Audience)
		}
		if o.JWKSRefresh > 0 {
			args = append(args, "--jwks-refresh", o.JWKSRefresh.String())
		}
	}
	for k, v := range o.Dynamic {
		args = append(args, "--dynamic", k+"="+v)
	}
	// The server picks its free ports before it binds them, so a server
	// starting at the same time (tests run in parallel) can take one
	// first: that start is tried again, with a fresh database.
	var s *Server
	var stop func()
	var err error
	for try := 1; ; try++ {
		s, stop, err = start(bin, append([]string{"--db-dir", tempDir()}, args...))
		var lost portLost
		if err == nil || !errors.As(err, &lost) || try == 3 {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	s.TLS = o.TLSCertFile != ""
	return s, stop, nil
}

func start(bin string, args []string) (*Server, func(), error) {
	cmd := exec.Command(bin, args...)
	out := &testserver.Buffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	// The server stops when its stdin closes: if the test binary dies
	// before its cleanups run, the server goes with it.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		stdin.Close()
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case addr := <-ready:
		return &Server{Addr: addr, Namespace: "default", Output: out}, stop, nil
	case err := <-exited:
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "flag provided but not defined") {
				return nil, nil, fmt.Errorf("%s is older than testservers/temporal (%s): rebuild it with `make .tools/%s` (seconds from the build cache)", bin, line, Binary)
			}
		}
		if o := out.String(); strings.Contains(o, "address already in use") || strings.Contains(o, "Failed to start gRPC listener") {
			return nil, nil, portLost{fmt.Errorf("exited before it was ready, a port taken (%v): %s", err, out.Tail(4000))}
		}
		return nil, nil, fmt.Errorf("exited before it was ready (%v): %s", err, out.Tail(4000))
	case <-time.After(60 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("not ready after 60s: %s", out.Tail(4000))
	}
}

// portLost is a start that failed because another process took one of
// the ports the server had picked.
type portLost struct{ error }

func (e portLost) Unwrap() error { return e.error }

// SharedNamespaces is how many tests Shared serves from its one server;
// later calls start a server of their own.
const SharedNamespaces = 40

// shared is the server Shared starts once per test binary.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
	next atomic.Int32
}

// Shared returns the package's shared server (plaintext, no
// authorization), started by the first call and stopped when the test
// binary exits (its stdin closes), with a namespace of the test's own:
// the test sees none of the other tests' workflows, task queues or
// visibility records, as with a server of its own, without paying a
// server's start (about 1.4 s of CPU and seconds of wall on a loaded
// machine) and its idle work. Dial with Namespace: srv.Namespace and pass
// srv.Namespace where a namespace is named. For tests that put little
// load on the server: one that pushes hundreds of activities through it
// (or needs TLS, authorization or dynamic config) uses Start. A missing
// binary skips or fails t as with Start.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		var o Options
		for i := 1; i <= SharedNamespaces; i++ {
			o.Namespaces = append(o.Namespaces, sharedNamespace(i))
		}
		// No --db-dir of the tests': the server makes its own temporary
		// directory and removes it when it exits.
		shared.srv, _, shared.err = Launch(o, func() string { return "" })
	})
	var nf *NotFoundError
	if errors.As(shared.err, &nf) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %v", EnvRequire, shared.err)
		}
		t.Skip(shared.err.Error())
	}
	if shared.err != nil {
		t.Fatalf("start the shared %s: %v", Binary, shared.err)
	}
	n := int(shared.next.Add(1))
	if n > SharedNamespaces {
		return Start(t, Options{})
	}
	s := *shared.srv
	s.Namespace = sharedNamespace(n)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared %s log (namespace %s):\n%s", Binary, s.Namespace, s.Output.Tail(4000))
		}
	})
	return &s
}

func sharedNamespace(i int) string { return fmt.Sprintf("test-%02d", i) }
