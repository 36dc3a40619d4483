package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/secretsbackends"
)

// mapBackend is a fake secrets backend for unit tests; the real backends
// have their own tests and the end-to-end tests use them through the CLI.
type mapBackend map[string]string

func (m mapBackend) Lookup(_ context.Context, n secretsbackends.Name) ([]byte, error) {
	if v, ok := m[n.String()]; ok {
		return []byte(v), nil
	}
	return nil, &secretsbackends.NotFoundError{Name: n, Tried: []string{m.Where(n)}}
}

func (m mapBackend) Where(n secretsbackends.Name) string { return "map " + n.String() }

const secretsWorkflow = `
workflow "s" {
  task "declared" {
    uses = "fake.secrets"
    secret {
      group = "github"
      key   = "token"
    }
    secret {
      group   = "db"
      version = "v2"
      key     = "password"
    }
  }
  task "none" { uses = "fake.secrets" }
  task "plugin" { uses = "fake.needs" }
  output "declared" { value = task.declared }
  output "none"     { value = task.none.names }
  output "plugin"   { value = task.plugin.names }
}`

func TestSecretsResolvedAndSentOnlyAsDeclared(t *testing.T) {
	e, _ := newTestEngine(t)
	e.Secrets = mapBackend{"github/token": "gh-123", "db/v2/password": "pw", "plugin/token": "pt", "other/secret": "nope"}
	res := mustRun(t, e, secretsWorkflow, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := map[string]string{}
	for k, v := range res.Outputs {
		got[k] = FormatValue(v)
	}
	want := map[string]string{
		"declared": `{"names":["github/token","db/v2/password"],"total":8}`,
		"none":     `[]`,
		"plugin":   `["plugin/token"]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMissingSecretFailsBeforeThePluginIsCalled(t *testing.T) {
	e, f := newTestEngine(t)
	e.Secrets = secretsbackends.Chain{mapBackend{"github/token": "gh-123"}}
	res := mustRun(t, e, secretsWorkflow, nil, RunOptions{Parallelism: 1})
	if res.Status != StatusFailed {
		t.Fatalf("status = %s", res.Status)
	}
	var nf *secretsbackends.NotFoundError
	if !errors.As(res.Err, &nf) || !errors.Is(res.Err, secretsbackends.ErrNotFound) {
		t.Fatalf("err = %v, want a NotFoundError", res.Err)
	}
	if !strings.Contains(res.Err.Error(), "map db/v2/password") {
		t.Errorf("error does not list the places tried: %v", res.Err)
	}
	for _, c := range f.callsOf("secrets") {
		if c.Params.Node == "declared" {
			t.Errorf("the plugin was called for a task whose secret is missing")
		}
	}
}

func TestNoSecretsBackend(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "p" {
  task "plugin" { uses = "fake.needs" }
}`, nil, RunOptions{})
	if res.Status != StatusFailed || res.Err == nil {
		t.Fatalf("status %s, err %v: want a failure", res.Status, res.Err)
	}
}

func TestSecretValuesAreRedacted(t *testing.T) {
	e, _ := newTestEngine(t)
	const value = `sup3r "secret" & <value>`
	e.Secrets = mapBackend{"api/token": value}
	res := mustRun(t, e, `workflow "l" {
  task "leak" {
    uses = "fake.leak"
    secret {
      group = "api"
      key   = "token"
    }
  }
}`, nil, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status = %s", res.Status)
	}
	var te *TaskError
	if !errors.As(res.Err, &te) {
		t.Fatalf("err = %v", res.Err)
	}
	texts := []string{res.Err.Error(), fmt.Sprintf("%+v", res.Err), fmt.Sprintf("%#v", res.Err)}
	for _, d := range te.Diagnostics {
		texts = append(texts, d.Summary, d.Detail)
	}
	for _, text := range texts {
		if strings.Contains(text, "sup3r") {
			t.Errorf("secret value in %q", text)
		}
	}
	if !strings.Contains(res.Err.Error(), Redacted) {
		t.Errorf("error %q does not show where the value was redacted", res.Err)
	}
	if got := e.Redact("x " + value + " y"); got != "x *** y" {
		t.Errorf("Redact = %q", got)
	}
}

func TestRedactor(t *testing.T) {
	var r redactor
	if got := r.redact("nothing yet"); got != "nothing yet" {
		t.Errorf("empty redactor changed text: %q", got)
	}
	r.add([]byte("abc\n"))
	r.add([]byte("abcdef"))
	r.add([]byte("-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----\n"))
	r.add([]byte("   \n")) // white space only: nothing to redact
	tests := []struct{ in, want string }{
		{"abc", "***"},
		{"xabcdefx", "x***x"},
		{"line: MIIBOgIBAAJBAKj34GkxFhD9", "line: ***"},
		{"a b c", "a b c"},
	}
	for _, tc := range tests {
		if got := r.redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPluginEnv(t *testing.T) {
	cfg := config.Defaults()
	environ := []string{
		"PATH=/bin",
		"FLYTE_CREDENTIALS_CLIENT_ID=worker",
		"FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION=/run/secret",
		"CI_OIDC_SECRET=s",
		"FLYTE_SECRETS_GITHUB_TOKEN=x",
		"FLYTE_AWS_SECRET_ACCESS_KEY=y",
		"FLYTE_AWS_ACCESS_KEY_ID=id",
		"GOFLYTE_KEYRING_PASSPHRASE=z",
		"HOME=/root",
	}
	environ = append(environ, "FLYTE_CREDENTIALS_CLIENT_SECRET=c", "FLYTE_CREDENTIALS_COMMAND=get-token", "FLYTE_CREDENTIALS_CLIENT_ID=cid",
		"FLYTE_PLATFORM_HTTP_PROXY_URL=http://me:pw@proxy:3128")
	if err := cfg.Override("credentials.client_secret_env_var", "CI_OIDC_SECRET", "test"); err != nil {
		t.Fatal(err)
	}
	got := PluginEnv(environ, cfg, "GOFLYTE_KEYRING_PASSPHRASE")
	want := []string{"PATH=/bin", "FLYTE_AWS_ACCESS_KEY_ID=id", "HOME=/root"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestLearn: a value the CLI teaches the engine (a client secret, a
// token) is redacted like a resolved secret.
func TestLearn(t *testing.T) {
	e := New(config.Defaults(), nil)
	defer e.Close()
	e.Learn("eyJhbGciOiJSUzI1NiJ9.payload.sig")
	if got := e.Redact(`token "eyJhbGciOiJSUzI1NiJ9.payload.sig" refused`); got != `token "***" refused` {
		t.Errorf("Redact = %q", got)
	}
}
