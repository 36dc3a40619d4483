package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/auth/oidctest"
	"github.com/goflyte/goflyte/internal/browsertest"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/remote/remotetest"
)

const (
	e2eClient   = "ci-worker"
	e2eSecret   = "e2e-platform-SECRET-4a9c"
	e2ePublic   = "goflyte-cli"
	e2eAudience = "temporal"
	// e2eLifetime is the provider's token lifetime: short, so that the
	// tests see tokens expire and get refreshed.
	e2eLifetime = 5 * time.Second
)

// authWorld is a real OpenID Connect provider and a Temporal server that
// checks its tokens (JWKS, audience, permissions), as a team would run
// them, plus what the tests learn along the way.
type authWorld struct {
	op  *oidctest.Server
	srv *remotetest.Server
	// remote, once withWorker has run, is a bucket and a goflyte worker
	// serving srv's task queue; every env can then run upperWorkflow
	// with run --remote.
	remote *integration

	mu      sync.Mutex
	outputs []string // every stdout and stderr, checked for secrets at the end
	secrets []string // tokens and secrets that must never be printed
}

func newAuthWorld(t *testing.T) *authWorld {
	t.Helper()
	op := oidctest.Start(t, oidctest.Options{
		Clients:       map[string]string{e2eClient: e2eSecret},
		PublicClients: []string{e2ePublic},
		TokenLifetime: e2eLifetime,
	})
	srv := remotetest.Start(t, remotetest.Options{JWKSURL: op.Issuer + "keys", Audience: e2eAudience})
	w := &authWorld{op: op, srv: srv, secrets: []string{e2eSecret}}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, o := range w.outputs {
			for _, s := range w.secrets {
				if s != "" && strings.Contains(o, s) {
					t.Errorf("a secret or a token was printed:\n%s", o)
				}
			}
			if strings.Contains(o, "eyJ") {
				t.Errorf("something that looks like a JWT was printed:\n%s", o)
			}
		}
	})
	return w
}

func (w *authWorld) keep(outputs ...string) {
	w.mu.Lock()
	w.outputs = append(w.outputs, outputs...)
	w.mu.Unlock()
}

func (w *authWorld) secret(s string) {
	w.mu.Lock()
	w.secrets = append(w.secrets, s)
	w.mu.Unlock()
}

// withWorker starts a bucket and one real `goflyte worker` with client
// credentials (TestIntegrationWorkerCredentials' setup) that serves the
// text plugin on w's authorizing server, for the envs made from then on.
func (w *authWorld) withWorker(t *testing.T) {
	t.Helper()
	x := newAuthIntegration(t, w)
	wk := x.startWorker("worker-auth", x.partial, true)
	// Runs before the worker is stopped and before newAuthWorld's check.
	t.Cleanup(func() { w.keep(wk.log.String()) })
	w.remote = x
}

// token gets a token from the provider as a worker would (client
// credentials for audience), for the command mode's tests.
func (w *authWorld) token(t *testing.T, audience string) string {
	t.Helper()
	src, err := auth.New(auth.Options{Settings: auth.Settings{Mode: auth.ModeClientCredentials,
		Issuer: w.op.Issuer, ClientID: e2eClient, ClientSecret: e2eSecret, Audience: audience}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w.secret(tok)
	return tok
}

// authEnv is one configuration: a working directory whose flyte.hcl has
// the credentials block given, tokens cached in an encrypted file (no
// D-Bus on purpose: the keychain test is TestE2EPlatformKeychain), and
// the platform pointing at the authorizing server (or at url).
type authEnv struct {
	w   *authWorld
	x   *e2e
	env []string
}

func (w *authWorld) env(t *testing.T, credentials string, extra ...string) *authEnv {
	t.Helper()
	x := newE2E(t)
	dir := t.TempDir()
	x.writeFile("flyte.hcl", fmt.Sprintf(`
secrets {
  keychain_service = "goflyte-e2e-auth"
  fallback         = "file"
  fallback_dir     = %q
}
credentials {
%s
}
`, filepath.Join(dir, "keyring"), credentials))
	env := []string{
		"FLYTE_PLATFORM_URL=" + w.srv.Addr, "FLYTE_PLATFORM_INSECURE=true",
		"GOFLYTE_KEYRING_PASSPHRASE=e2e passphrase",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(dir, "no-bus"),
		"DISPLAY=", "WAYLAND_DISPLAY=", // no browser is opened: the URL is printed
	}
	if r := w.remote; r != nil {
		x.writeFile("wf/upper.hcl", upperWorkflow)
		hcl, err := readFile(filepath.Join(x.dir, "flyte.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		x.writeFile("flyte.hcl", hcl+fmt.Sprintf(`
sdk {
  plugin_dirs       = [%q]
  workflow_packages = [%q]
  local_sandbox     = %q
}
local {
  raw_output_data_prefix = "s3://runs/goflyte"
}
platform {
  task_queue = %q
}
aws {
  endpoint          = %q
  access_key_id     = %q
  secret_access_key = %q
}
`, e2ePlugins, filepath.Join(x.dir, "wf"), x.sandbox, integrationQueue, r.bucket.Endpoint, r.bucket.AccessKey, r.bucket.SecretKey))
		env = append(env, "AWS_REGION="+r.bucket.Region)
	}
	return &authEnv{w: w, x: x, env: append(env, extra...)}
}

func (a *authEnv) run(args ...string) result {
	a.x.t.Helper()
	r := a.x.runEnv(a.env, args...)
	a.w.keep(r.stdout, r.stderr)
	return r
}

// upperWorkflow is the tiny workflow that each mode runs remotely.
const upperWorkflow = `
workflow "upper" {
  input "text" { type = string }
  task "upper" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  output "text" { value = task.upper.text }
}
`

// ranRemote runs upperWorkflow with run --remote (the world's worker runs
// it) and wants it to succeed with its output, its data in the bucket.
func (a *authEnv) ranRemote() {
	t := a.x.t
	t.Helper()
	text := "run by " + t.Name()
	r := a.run("run", "--remote", "upper", "--input", "text="+text, "--json")
	var out runJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Status != "succeeded" || out.Outputs["text"] != strings.ToUpper(text) {
		t.Fatalf("run --remote: want success with text %q (%v)\n%s", strings.ToUpper(text), err, r)
	}
	if !strings.HasPrefix(out.RunDir, "s3://runs/goflyte/") {
		t.Errorf("run_dir %q is not in the bucket", out.RunDir)
	}
}

// refusedRemote runs upperWorkflow with run --remote and wants exit 2, a
// message that says to check the credentials, and nothing submitted: the
// server lists as many runs after as before (it lists each mode's run).
func (a *authEnv) refusedRemote() {
	t := a.x.t
	t.Helper()
	c := a.w.remote.w.c
	before, err := remote.List(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := a.run("run", "--remote", "upper", "--input", "text=refused")
	if r.code != 2 || !strings.Contains(r.stderr, "check credentials") {
		t.Errorf("run --remote: want exit 2 and the credentials to check\n%s", r)
	}
	after, err := remote.List(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("run --remote was refused but submitted a run: %d runs before, %d after", len(before), len(after))
	}
}

// doctorJSON is what the tests read of goflyte doctor --json.
type doctorJSON struct {
	AuthMode      string     `json:"auth_mode"`
	TokenCached   bool       `json:"token_cached"`
	ExpiresAt     *time.Time `json:"expires_at"`
	TokenAccepted *bool      `json:"token_accepted"`
	Error         string     `json:"error"`
	Platform      *struct {
		Reachable bool   `json:"reachable"`
		Refused   bool   `json:"refused"`
		Setting   string `json:"setting"`
		Error     string `json:"error"`
	} `json:"platform"`
}

func (a *authEnv) doctor() (doctorJSON, result) {
	a.x.t.Helper()
	r := a.run("doctor", "--json")
	var d doctorJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Platform == nil {
		a.x.t.Fatalf("doctor --json: %v\n%s", err, r)
	}
	return d, r
}

// accepted runs goflyte doctor --json and wants the platform to have
// authorized a call with the token of mode.
func (a *authEnv) accepted(mode string) doctorJSON {
	a.x.t.Helper()
	d, r := a.doctor()
	if r.code != 0 || d.TokenAccepted == nil || !*d.TokenAccepted || !d.Platform.Reachable || d.AuthMode != mode {
		a.x.t.Fatalf("doctor: want exit 0, auth_mode %s and token_accepted true\n%s", mode, r)
	}
	return d
}

// refused runs goflyte doctor and wants exit 2, token_accepted false and
// a message on stderr that names each of settings.
func (a *authEnv) refused(settings ...string) result {
	a.x.t.Helper()
	d, r := a.doctor()
	if r.code != 2 || d.TokenAccepted == nil || *d.TokenAccepted || d.Platform.Reachable {
		a.x.t.Fatalf("doctor: want exit 2 and token_accepted false\n%s", r)
	}
	for _, s := range settings {
		if !strings.Contains(r.stderr, s) {
			a.x.t.Errorf("the message does not name %s\n%s", s, r)
		}
	}
	return r
}

// login starts goflyte login and hands each line of its stderr to lines;
// wait returns its result.
func (a *authEnv) login(t *testing.T) (lines <-chan string, wait func() result) {
	t.Helper()
	cmd := exec.Command(e2eBin, "login")
	cmd.Dir = a.x.dir
	cmd.Env = append(append([]string{}, a.x.env...), a.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			select {
			case ch <- sc.Text():
			default:
			}
		}
	}()
	var once sync.Once
	var res result
	wait = func() result {
		once.Do(func() {
			<-done
			err := cmd.Wait()
			res = result{stdout: stdout.String(), stderr: stderr.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				res.code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			a.w.keep(res.stdout, res.stderr)
		})
		return res
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wait()
	})
	return ch, wait
}

// await returns the first match of re in lines, within 30 s.
func await(t *testing.T, lines <-chan string, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("goflyte login ended without printing %v", re)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("goflyte login did not print %v within 30 s", re)
		}
	}
}

var (
	loginURLLine  = regexp.MustCompile(`^\s+(http://127\.0\.0\.1:\d+/\S+)$`)
	deviceURLLine = regexp.MustCompile(`open (\S+) in a browser .* enter the code (\S+)$`)
)

// TestE2EPlatformCredentials: every auth mode gets a token that the
// authorizing Temporal server accepts, through the real goflyte binary
// (goflyte doctor's namespace check), and with it `run --remote` of a
// tiny workflow succeeds on a real worker (client credentials) with its
// data in a real bucket; the tokens it refuses, and no token where one is
// required, are exit 2 with a message naming the settings, and run
// --remote exits 2 with nothing submitted. No secret and no token is ever
// printed.
func TestE2EPlatformCredentials(t *testing.T) {
	// Its own servers (Temporal, OIDC, bucket): it waits on them more than it computes.
	t.Parallel()
	w := newAuthWorld(t)
	w.withWorker(t)
	base := fmt.Sprintf("  issuer = %q\n", w.op.Issuer)
	cc := base + fmt.Sprintf("  client_id = %q\n  audience = %q\n", e2eClient, e2eAudience)
	// client_secret in flyte.hcl does not choose the mode (as in
	// Flytekit): auth_mode does.
	ccSecret := cc + fmt.Sprintf("  auth_mode = \"ClientSecret\"\n  client_secret = %q\n", e2eSecret)
	public := base + fmt.Sprintf("  client_id = %q\n  audience = %q\n", e2ePublic, e2eAudience)
	// Taken now, used last: by then it has expired.
	expiring := w.token(t, e2eAudience)

	t.Run("client_secret", func(t *testing.T) {
		a := w.env(t, cc+fmt.Sprintf("  auth_mode = \"client_credentials\"\n  client_secret = %q\n", e2eSecret))
		d := a.accepted("ClientSecret")
		if !d.TokenCached || d.ExpiresAt == nil {
			t.Errorf("the token was not cached: %+v", d)
		}
		// The next process uses the cached token, or a new one once it
		// is about to expire: accepted either way.
		a.accepted("ClientSecret")
		a.ranRemote()
		r := a.run("doctor")
		if r.code != 0 || !regexp.MustCompile(`accepted\s+yes: the platform authorized a call on namespace default`).MatchString(r.stdout) {
			t.Errorf("doctor (text): want the token accepted\n%s", r)
		}
	})
	t.Run("client_secret_location", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(e2eSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		a := w.env(t, cc+fmt.Sprintf("  client_secret_location = %q\n", file))
		a.accepted("ClientSecret")
		a.ranRemote()
	})
	t.Run("client_secret_env_var", func(t *testing.T) {
		a := w.env(t, cc+"  client_secret_env_var = \"E2E_OIDC_SECRET\"\n", "E2E_OIDC_SECRET="+e2eSecret)
		a.accepted("ClientSecret")
		a.ranRemote()
	})
	t.Run("DeviceFlow", func(t *testing.T) {
		a := w.env(t, public+"  auth_mode = \"DeviceFlow\"\n")
		// Without a cached token doctor does not log in: it says to.
		r := a.refused("goflyte login")
		if !strings.Contains(r.stderr, "login required") {
			t.Errorf("doctor before login\n%s", r)
		}
		lines, wait := a.login(t)
		m := await(t, lines, deviceURLLine)
		if err := w.op.ApproveDevice(t.Context(), nil, m[1], m[2]); err != nil {
			t.Fatal(err)
		}
		if r := wait(); r.code != 0 || !strings.Contains(r.stdout, "Logged in (auth_mode DeviceFlow)") {
			t.Fatalf("login\n%s", r)
		}
		a.accepted("DeviceFlow")
		a.ranRemote()
	})
	t.Run("Pkce via HTTP", func(t *testing.T) {
		a := w.env(t, public+"  auth_mode = \"Pkce\"\n")
		lines, wait := a.login(t)
		m := await(t, lines, loginURLLine)
		resp, err := w.op.Login(t.Context(), nil, m[1])
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "You are logged in to goflyte") {
			t.Errorf("the loopback page says %q", page)
		}
		if r := wait(); r.code != 0 {
			t.Fatalf("login\n%s", r)
		}
		d := a.accepted("Pkce")
		if !d.TokenCached {
			t.Errorf("doctor after login: %+v", d)
		}
		// Past the token's lifetime the refresh token gets a new one,
		// without a browser.
		time.Sleep(time.Until(d.ExpiresAt.Add(100 * time.Millisecond)))
		if d2 := a.accepted("Pkce"); !d2.ExpiresAt.After(*d.ExpiresAt) {
			t.Errorf("no new token after expiry: %v then %v", d.ExpiresAt, d2.ExpiresAt)
		}
		a.ranRemote()
	})
	t.Run("Pkce in Chromium", func(t *testing.T) {
		allocCtx := browsertest.Allocator(t)
		a := w.env(t, public)
		lines, wait := a.login(t)
		m := await(t, lines, loginURLLine)
		ctx, cancel := chromedp.NewContext(allocCtx)
		defer cancel()
		ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
		defer cancelT()
		err := chromedp.Do(ctx,
			chromedp.Navigate(m[1]),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), w.op.User),
			chromedp.SendKeys(chromedp.ID("password"), w.op.Password),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.CSS("p")),
		)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); !strings.Contains(text, "You are logged in to goflyte") {
			t.Errorf("the browser shows %q", text)
		}
		if r := wait(); r.code != 0 || !strings.Contains(r.stdout, "Logged in (auth_mode Pkce)") {
			t.Fatalf("login\n%s", r)
		}
		a.accepted("Pkce")
		a.ranRemote()
	})
	t.Run("ExternalCommand", func(t *testing.T) {
		// The command prints the token in file, which the test keeps
		// fresh (tokens live 5 s, a run may outlive one).
		file := filepath.Join(t.TempDir(), "token")
		w.keepFresh(t, file)
		a := w.env(t, fmt.Sprintf("  command = [\"cat\", %q]\n", file))
		if d := a.accepted("ExternalCommand"); d.TokenCached {
			t.Errorf("a command's token was cached: %+v", d)
		}
		a.ranRemote()
	})
	t.Run("proxy_command through an identity-aware proxy", func(t *testing.T) {
		proxyToken := "proxy-TOKEN-" + fmt.Sprint(time.Now().UnixNano())
		w.secret(proxyToken)
		iap := newIAP(t, w.srv.Addr, proxyToken)
		file := filepath.Join(t.TempDir(), "proxy-token")
		if err := os.WriteFile(file, []byte(proxyToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		creds := ccSecret + fmt.Sprintf("  proxy_command = [\"cat\", %q]\n", file)
		a := w.env(t, creds, "FLYTE_PLATFORM_URL="+iap.addr)
		a.accepted("ClientSecret")
		passed := iap.passed.Load()
		if passed == 0 {
			t.Error("no call went through the proxy")
		}
		a.ranRemote()
		if iap.passed.Load() == passed {
			t.Error("run --remote made no call through the proxy")
		}
		// Without proxy_command the proxy refuses every call: the message
		// names proxy_command, and does not blame the service's token.
		b := w.env(t, ccSecret, "FLYTE_PLATFORM_URL="+iap.addr)
		if r := b.refused("credentials.proxy_command", "wants a token of its own"); strings.Contains(r.stderr, "refused the token") {
			t.Errorf("the message blames the service's token\n%s", r)
		}
		b.refusedRemote()
		// A proxy token the proxy refuses: the message names proxy_command.
		if err := os.WriteFile(file, []byte("proxy-TOKEN-wrong\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		a.refused("credentials.proxy_command")
		a.refusedRemote()
		if iap.refused.Load() < 2 {
			t.Errorf("the proxy refused %d calls", iap.refused.Load())
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		a := w.env(t, "")
		a.refused("none is configured", "credentials.issuer", "credentials.client_id")
		a.refusedRemote()
	})
	t.Run("wrong audience", func(t *testing.T) {
		a := w.env(t, strings.Replace(ccSecret, fmt.Sprintf("audience = %q", e2eAudience), `audience = "not-temporal"`, 1))
		a.refused(`"not-temporal"`, "credentials.audience")
		r := a.run("doctor")
		if r.code != 2 || !regexp.MustCompile(`accepted\s+no`).MatchString(r.stdout) || !strings.Contains(r.stderr, "credentials.audience") {
			t.Errorf("doctor (text): want exit 2, the token not accepted and the settings\n%s", r)
		}
		a.refusedRemote()
	})
	t.Run("tampered", func(t *testing.T) {
		parts := strings.Split(w.token(t, e2eAudience), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = bytes.Replace(payload, []byte(`"default:admin"`), []byte(`"system:admin"`), 1)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		w.secret(tampered)
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(tampered), 0o600); err != nil {
			t.Fatal(err)
		}
		a := w.env(t, fmt.Sprintf("  command = [\"cat\", %q]\n", file))
		a.refused("cannot verify", `"system:admin"`, "credentials.issuer")
		a.refusedRemote()
	})
	t.Run("expired", func(t *testing.T) {
		claims := jwtClaims(t, expiring)
		time.Sleep(time.Until(time.Unix(int64(claims["exp"].(float64))+1, 0)))
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(expiring), 0o600); err != nil {
			t.Fatal(err)
		}
		a := w.env(t, fmt.Sprintf("  command = [\"cat\", %q]\n", file))
		a.refused("it expired at", "credentials.issuer")
		a.refusedRemote()
	})
	t.Run("a missing setting", func(t *testing.T) {
		a := w.env(t, cc+"  auth_mode = \"ClientSecret\"\n")
		d, r := a.doctor()
		if r.code != 2 || d.TokenAccepted == nil || *d.TokenAccepted || !strings.Contains(r.stderr, "client_secret_location") {
			t.Errorf("doctor with no client secret: want exit 2 naming the settings\n%s", r)
		}
		a.refusedRemote()
	})
}

// keepFresh writes a new token of w's provider to file now and every
// second until t ends, each written atomically (the command mode's
// command may read it at any time).
func (w *authWorld) keepFresh(t *testing.T, file string) {
	t.Helper()
	write := func(ctx context.Context) error {
		src, err := auth.New(auth.Options{Settings: auth.Settings{Mode: auth.ModeClientCredentials,
			Issuer: w.op.Issuer, ClientID: e2eClient, ClientSecret: e2eSecret, Audience: e2eAudience}})
		if err != nil {
			return err
		}
		tok, err := src.Token(ctx)
		if err != nil {
			return err
		}
		w.secret(tok)
		if err := os.WriteFile(file+".new", []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		return os.Rename(file+".new", file)
	}
	if err := write(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := write(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("a fresh token for the command: %v", err)
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestE2EPlatformNoKeychain: with no keychain and no fallback the token
// cannot be cached; the call is made all the same with the token kept in
// memory, and "log in again" is said once.
func TestE2EPlatformNoKeychain(t *testing.T) {
	// Its own servers (Temporal, OIDC, bucket): it waits on them more than it computes.
	t.Parallel()
	w := newAuthWorld(t)
	a := w.env(t, fmt.Sprintf("  issuer = %q\n  client_id = %q\n  audience = %q\n  auth_mode = \"ClientSecret\"\n  client_secret = %q\n", w.op.Issuer, e2eClient, e2eAudience, e2eSecret))
	hcl, err := readFile(filepath.Join(a.x.dir, "flyte.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	a.x.writeFile("flyte.hcl", strings.Replace(hcl, `fallback         = "file"`, "", 1))
	d := a.accepted("ClientSecret")
	if d.TokenCached {
		t.Errorf("a token was cached with no keychain: %+v", d)
	}
	_, r := a.doctor()
	if n := strings.Count(r.stderr, "log in again"); n != 1 {
		t.Errorf("want \"log in again\" said once on stderr, said %d times\n%s", n, r)
	}
}

// jwtClaims reads a JWT's claims (not verified).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// iap is an identity-aware proxy in front of Temporal: a real HTTP/2
// (h2c) reverse proxy that passes a gRPC call on only when it carries
// proxy-authorization: Bearer with its token, and otherwise answers 401
// (which gRPC reads as Unauthenticated), as Google's IAP does.
type iap struct {
	addr            string
	passed, refused atomic.Int64
}

func newIAP(t *testing.T, backend, token string) *iap {
	t.Helper()
	p := &iap{}
	target := &url.URL{Scheme: "http", Host: backend}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     &http.Transport{Protocols: &protocols},
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Proxy-Authorization") != "Bearer "+token {
				p.refused.Add(1)
				http.Error(w, "the identity-aware proxy wants proxy-authorization", http.StatusUnauthorized)
				return
			}
			p.passed.Add(1)
			rp.ServeHTTP(w, r)
		})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.addr = ln.Addr().String()
	return p
}

// TestE2EPlatformKeychain keeps the token in the real OS keychain (the
// Secret Service of bash .ci/keyring-session.sh, GOFLYTE_TEST_KEYCHAIN=1):
// the next goflyte process finds it there and the platform accepts it.
func TestE2EPlatformKeychain(t *testing.T) {
	if os.Getenv("GOFLYTE_TEST_KEYCHAIN") != "1" {
		t.Skip("needs a Secret Service: bash .ci/keyring-session.sh go test ./cmd/goflyte/")
	}
	w := newAuthWorld(t)
	x := newE2E(t)
	service := fmt.Sprintf("goflyte-e2e-%d", time.Now().UnixNano())
	x.writeFile("flyte.hcl", fmt.Sprintf(`
secrets {
  keychain_service = %q
}
credentials {
  issuer                = %q
  client_id             = %q
  audience              = %q
  client_secret_env_var = "E2E_OIDC_SECRET"
}
`, service, w.op.Issuer, e2eClient, e2eAudience))
	// The session's D-Bus, from keyring-session.sh.
	a := &authEnv{w: w, x: x, env: []string{"FLYTE_PLATFORM_URL=" + w.srv.Addr, "FLYTE_PLATFORM_INSECURE=true", "E2E_OIDC_SECRET=" + e2eSecret}}
	first := a.accepted("ClientSecret")
	if !first.TokenCached || first.ExpiresAt == nil {
		t.Fatalf("not cached: %+v", first)
	}
	r := a.run("login", "--json")
	var st struct {
		CachedIn string `json:"cached_in"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || !strings.Contains(st.CachedIn, `keychain service "`+service+`-tokens"`) {
		t.Fatalf("login: want the token in the keychain under %s-tokens (%v)\n%s", service, err, r)
	}
	if r := a.run("logout"); r.code != 0 || !strings.Contains(r.stdout, "Logged out") {
		t.Errorf("logout\n%s", r)
	}
	if d := a.accepted("ClientSecret"); !d.TokenCached {
		t.Errorf("a new token was not cached after logout: %+v", d)
	}
	a.run("logout")
}

// TestE2EPlatformLockedKeychain runs goflyte doctor in a Secret Service
// session of its own whose login keyring is locked: the token cannot be
// cached, the platform accepts the token all the same (kept in memory),
// and "log in again" is said once. It runs with GOFLYTE_TEST_KEYCHAIN=1,
// which says that dbus-run-session and gnome-keyring are installed.
func TestE2EPlatformLockedKeychain(t *testing.T) {
	if os.Getenv("GOFLYTE_TEST_KEYCHAIN") != "1" {
		t.Skip("needs dbus-run-session and gnome-keyring: bash .ci/keyring-session.sh go test ./cmd/goflyte/")
	}
	w := newAuthWorld(t)
	x := newE2E(t)
	x.writeFile("flyte.hcl", fmt.Sprintf(`
secrets {
  keychain_service = "goflyte-e2e-locked"
}
credentials {
  issuer                = %q
  client_id             = %q
  audience              = %q
  client_secret_env_var = "E2E_OIDC_SECRET"
}
`, w.op.Issuer, e2eClient, e2eAudience))
	// A session of its own (not the one this test may run in), whose
	// fresh login keyring is locked before goflyte runs.
	lock := `dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets ` +
		`org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null && exec "$0" doctor --json`
	cmd := exec.Command("bash", filepath.Join(repoRoot, ".ci", "keyring-session.sh"), "bash", "-c", lock, e2eBin)
	cmd.Dir = x.dir
	for _, kv := range x.env {
		if !strings.HasPrefix(kv, "GOFLYTE_KEYRING_SESSION=") && !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "FLYTE_PLATFORM_URL="+w.srv.Addr, "FLYTE_PLATFORM_INSECURE=true", "E2E_OIDC_SECRET="+e2eSecret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	w.keep(r.stdout, r.stderr)
	var d doctorJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 || d.TokenAccepted == nil || !*d.TokenAccepted {
		t.Fatalf("doctor with a locked keychain: want exit 0 and the token accepted (%v)\n%s", err, r)
	}
	if d.TokenCached {
		t.Errorf("a token was cached in a locked keychain: %+v", d)
	}
	if n := strings.Count(r.stderr, "log in again"); n != 1 || !strings.Contains(r.stderr, "locked") {
		t.Errorf("want \"log in again\" said once on stderr, and why (locked), said %d times\n%s", n, r)
	}
	t.Logf("what the user sees:\n%s", r.stderr)
}
