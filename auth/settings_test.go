package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/config"
)

func loadConfig(t *testing.T, hcl string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flyte.hcl")
	if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.NewParser().LoadConfig(config.LoadOptions{ExplicitPath: path})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

// TestFromConfigPrecedence is FLYTEKIT.md §1.4: the secret from
// client_secret, then the file, then the variable; a secret from the file
// or the variable forces ClientSecret; a command without auth_mode
// selects the command mode.
func TestFromConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nl := write("nl", "  from-file-SECRET \n")
	raw := write("raw", " raw-SECRET ")
	empty := write("empty", "")
	env := map[string]string{"MY_SECRET": "from-env-SECRET", "EMPTY": ""}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	tests := []struct {
		name       string
		block      string
		mode       Mode
		secret     string
		secretFrom string
	}{
		{name: "default is PKCE", block: ``, mode: ModePKCE},
		{name: "standard", block: `auth_mode = "standard"`, mode: ModePKCE},
		{name: "Pkce", block: `auth_mode = "Pkce"`, mode: ModePKCE},
		{name: "basic", block: `auth_mode = "basic"`, mode: ModeClientCredentials},
		{name: "client_credentials", block: `auth_mode = "client_credentials"`, mode: ModeClientCredentials},
		{name: "ClientSecret any case", block: `auth_mode = "clientsecret"`, mode: ModeClientCredentials},
		{name: "DeviceFlow", block: `auth_mode = "DeviceFlow"`, mode: ModeDeviceFlow},
		{name: "ExternalCommand", block: `auth_mode = "ExternalCommand"`, mode: ModeCommand},
		{name: "external_process", block: `auth_mode = "external_process"`, mode: ModeCommand},
		{name: "command without auth_mode", block: `command = ["tok"]`, mode: ModeCommand},
		{name: "command with explicit auth_mode", block: "command = [\"tok\"]\nauth_mode = \"DeviceFlow\"", mode: ModeDeviceFlow},
		{name: "client_secret does not force", block: `client_secret = "plain-SECRET"`, mode: ModePKCE, secret: "plain-SECRET", secretFrom: "credentials.client_secret"},
		{name: "file with newline is trimmed and forces", block: `client_secret_location = "` + nl + `"`, mode: ModeClientCredentials, secret: "from-file-SECRET", secretFrom: "file " + nl},
		{name: "file without newline is kept", block: `client_secret_location = "` + raw + `"`, mode: ModeClientCredentials, secret: " raw-SECRET ", secretFrom: "file " + raw},
		{name: "file wins over client_secret", block: "client_secret = \"plain-SECRET\"\nclient_secret_location = \"" + nl + "\"\nauth_mode = \"DeviceFlow\"", mode: ModeClientCredentials, secret: "from-file-SECRET", secretFrom: "file " + nl},
		{name: "empty file changes nothing", block: "client_secret = \"plain-SECRET\"\nclient_secret_location = \"" + empty + "\"", mode: ModePKCE, secret: "plain-SECRET", secretFrom: "credentials.client_secret"},
		{name: "variable wins over file", block: "client_secret_location = \"" + nl + "\"\nclient_secret_env_var = \"MY_SECRET\"", mode: ModeClientCredentials, secret: "from-env-SECRET", secretFrom: "env MY_SECRET"},
		{name: "empty variable changes nothing", block: "client_secret = \"plain-SECRET\"\nclient_secret_env_var = \"EMPTY\"", mode: ModePKCE, secret: "plain-SECRET", secretFrom: "credentials.client_secret"},
		{name: "variable forces over command", block: "command = [\"tok\"]\nclient_secret_env_var = \"MY_SECRET\"", mode: ModeClientCredentials, secret: "from-env-SECRET", secretFrom: "env MY_SECRET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "credentials {\n"+tc.block+"\n}\n")
			s, err := FromConfig(cfg, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if s.Mode != tc.mode || s.ClientSecret != tc.secret || s.SecretFrom != tc.secretFrom {
				t.Errorf("mode %s, secret from %q, want %s from %q (secret as expected: %v)", s.Mode, s.SecretFrom, tc.mode, tc.secretFrom, s.ClientSecret == tc.secret)
			}
		})
	}
}

func TestFromConfigMissingFile(t *testing.T) {
	cfg := loadConfig(t, "credentials {\n client_secret_location = \"/no/such/secret\"\n}\n")
	_, err := FromConfig(cfg, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "credentials.client_secret_location") {
		t.Fatalf("got %v, want a *ConfigError naming credentials.client_secret_location", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want []string // in the message; nil: no error
	}{
		{name: "pkce complete", s: Settings{Mode: ModePKCE, Issuer: "http://x/", ClientID: "c"}},
		{name: "pkce without issuer", s: Settings{Mode: ModePKCE, ClientID: "c"}, want: []string{"credentials.issuer", "FLYTE_CREDENTIALS_ISSUER"}},
		{name: "device without client", s: Settings{Mode: ModeDeviceFlow, Issuer: "http://x/"}, want: []string{"credentials.client_id"}},
		{name: "client credentials without secret", s: Settings{Mode: ModeClientCredentials, Issuer: "http://x/", ClientID: "c"}, want: []string{"client_secret_location", "client_secret_env_var"}},
		{name: "command without command", s: Settings{Mode: ModeCommand}, want: []string{"credentials.command"}},
		{name: "command", s: Settings{Mode: ModeCommand, Command: []string{"x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Check()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %s", err, w)
				}
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	s := Settings{SecretEnvVar: "MY_SECRET"}
	got := s.ChildEnv([]string{"PATH=/bin", "FLYTE_CREDENTIALS_CLIENT_SECRET=x", "MY_SECRET=y", "FLYTE_SDK_LOGGING_LEVEL=debug"})
	if strings.Join(got, " ") != "PATH=/bin FLYTE_SDK_LOGGING_LEVEL=debug" {
		t.Errorf("child env %v", got)
	}
}

func TestRefreshMargin(t *testing.T) {
	tests := []struct {
		lifetime, want time.Duration
	}{
		{time.Hour, time.Minute},
		{10 * time.Minute, time.Minute},
		{5 * time.Minute, 30 * time.Second},
		{30 * time.Second, 3 * time.Second},
	}
	base := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		tok := &Token{AccessToken: "a", Obtained: base, Expiry: base.Add(tc.lifetime)}
		if got := tok.RefreshMargin(); got != tc.want {
			t.Errorf("lifetime %s: margin %s, want %s", tc.lifetime, got, tc.want)
		}
		if !tok.fresh(base.Add(tc.lifetime-tc.want-time.Millisecond)) || tok.fresh(base.Add(tc.lifetime-tc.want)) {
			t.Errorf("lifetime %s: fresh until expiry minus %s", tc.lifetime, tc.want)
		}
	}
	if (&Token{AccessToken: "a"}).fresh(base) != true {
		t.Error("a token without expiry is fresh until refused")
	}
}

// BenchmarkTokenFresh is the cost of Token when the token in memory is
// fresh: what every call to the service pays.
func BenchmarkTokenFresh(b *testing.B) {
	s, err := New(Options{Settings: Settings{Mode: ModeCommand, Command: []string{"echo", "tok"}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if _, err := s.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConfiguredAndNewProxy(t *testing.T) {
	if (Settings{Mode: ModePKCE}).Configured() || !(Settings{Mode: ModePKCE, Issuer: "http://x/"}).Configured() || !(Settings{Command: []string{"x"}}).Configured() {
		t.Error("Configured")
	}
	if NewProxy(Options{Settings: Settings{Mode: ModePKCE}}) != nil {
		t.Error("a proxy source without proxy_command")
	}
	p := NewProxy(Options{Settings: Settings{Mode: ModePKCE, ProxyCommand: []string{"echo", "proxy-tok"}}})
	if tok, err := p.Token(t.Context()); err != nil || tok != "proxy-tok" {
		t.Errorf("proxy token %q, %v", tok, err)
	}
}
