// Package oidctest runs a real OpenID Connect provider for tests: the
// oidc-testserver program of testservers/oidc (zitadel/oidc's OP library),
// which `make test` builds into the repository's .tools directory.
//
// [Start] looks for the binary in PATH and in .tools. When it is missing
// the test is skipped, unless GOFLYTE_TEST_OIDC=1 (which `make test`
// sets): then a test that was asked for the provider and cannot have it
// fails rather than skipping silently.
//
// The provider issues RS256 JWT access tokens (with a kid, a string sub
// and a "permissions" claim) by client credentials, the device flow,
// authorization code with PKCE, and refresh tokens. [Server.Login] and
// [Server.ApproveDevice] play the user: they submit the login pages with
// an HTTP client, as a browser would.
package oidctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/internal/testserver"
)

// EnvRequire names the variable that turns a missing server into a failure.
const EnvRequire = "GOFLYTE_TEST_OIDC"

// Binary is the program's name in .tools.
const Binary = "oidc-testserver"

// Options configure the provider. Zero values mean the defaults noted.
type Options struct {
	// Clients maps confidential client ids to their secrets.
	Clients map[string]string
	// PublicClients are client ids without a secret (PKCE, device flow).
	PublicClients []string
	// TokenLifetime is the access tokens' lifetime (default 5 min).
	TokenLifetime time.Duration
	// SlowDown answers the first N polls of each device code with
	// slow_down.
	SlowDown int
	// Issuer is the public issuer URL when a proxy is in front; "" means
	// the server's own address.
	Issuer string
	// Permissions is the permissions claim (default ["default:admin"]).
	Permissions []string
}

// Server is a running provider.
type Server struct {
	Issuer   string // as given, or "http://127.0.0.1:PORT/"
	Addr     string // "127.0.0.1:PORT", where it listens
	User     string // the login page's user and password
	Password string
}

// Start starts the provider on a free loopback port and stops it in
// t.Cleanup. It skips or fails t when the binary is missing (see the
// package comment).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, tried := Find()
	if bin == "" {
		msg := fmt.Sprintf("%s not found (looked in PATH and %v); run `make .tools/%s` (make test builds it)", Binary, tried, Binary)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s", EnvRequire, msg)
		}
		t.Skip(msg)
	}
	s := &Server{User: "alice", Password: "wonderland-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	args := []string{"-user", s.User, "-password", s.Password}
	for id, secret := range o.Clients {
		args = append(args, "-client", id+":"+secret)
	}
	for _, id := range o.PublicClients {
		args = append(args, "-public-client", id)
	}
	if o.TokenLifetime > 0 {
		args = append(args, "-token-lifetime", o.TokenLifetime.String())
	}
	if o.SlowDown > 0 {
		args = append(args, "-slow-down", strconv.Itoa(o.SlowDown))
	}
	if o.Issuer != "" {
		args = append(args, "-issuer", o.Issuer)
	}
	if len(o.Permissions) > 0 {
		args = append(args, "-permissions", strings.Join(o.Permissions, ","))
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), Binary+" ready ") {
				ready <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		m := regexp.MustCompile(`issuer=(\S+) addr=(\S+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: bad ready line %q", Binary, line)
		}
		s.Issuer, s.Addr = m[1], m[2]
	case <-exited:
		t.Fatalf("%s exited before it was ready", Binary)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s not ready after 20 s", Binary)
	}
	return s
}

// Login plays the user of the PKCE flow with an HTTP client: it opens
// authURL (the authorization request), submits the login page with the
// user's name and password, and follows the redirects to the client's
// loopback redirect URI, whose answer it returns. client nil means a
// plain client; pass one to go through a proxy.
func (s *Server) Login(ctx context.Context, client *http.Client, authURL string) (*http.Response, error) {
	c, err := s.browserClient(client)
	if err != nil {
		return nil, err
	}
	resp, err := get(ctx, c, authURL)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="authRequestID" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("no login page at the end of %s: %s: %.300s", authURL, resp.Status, body)
	}
	return post(ctx, c, resp.Request.URL.ResolveReference(&url.URL{Path: "/login"}).String(),
		url.Values{"authRequestID": {string(m[1])}, "username": {s.User}, "password": {s.Password}})
}

// ApproveDevice plays the user of the device flow: it submits the
// verification page at verificationURI with the user code.
func (s *Server) ApproveDevice(ctx context.Context, client *http.Client, verificationURI, userCode string) error {
	c, err := s.browserClient(client)
	if err != nil {
		return err
	}
	resp, err := post(ctx, c, verificationURI, url.Values{"user_code": {userCode}, "username": {s.User}, "password": {s.Password}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Device signed in") {
		return fmt.Errorf("approve device code: %s: %.300s", resp.Status, body)
	}
	return nil
}

func (s *Server) browserClient(base *http.Client) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if base != nil {
		c.Transport = base.Transport
	}
	return c, nil
}

func get(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func post(ctx context.Context, c *http.Client, u string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// Find returns the binary, or "" and the directories it tried besides
// PATH.
func Find() (bin string, tried []string) { return testserver.Find(Binary) }
