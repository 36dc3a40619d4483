package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNew(t *testing.T) {
	describe := func(c Chain) []string {
		var out []string
		for _, b := range c {
			out = append(out, fmt.Sprintf("%T %s", b, b.Where(token)))
		}
		return out
	}
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{
			name: "local",
			opts: Options{EnvPrefix: "FLYTE_SECRETS_", Local: true, DefaultDir: "/etc/secrets", FilePrefix: "s-"},
			want: []string{
				"secretsbackends.Env env FLYTE_SECRETS_GITHUB_TOKEN",
				"secretsbackends.Env env GITHUB_TOKEN",
				"secretsbackends.Dir file /etc/secrets/github/s-token",
				`*secretsbackends.Store keychain service "goflyte" account "github/token"`,
			},
		},
		{
			name: "not local: no unprefixed lookup",
			opts: Options{EnvPrefix: "FLYTE_SECRETS_", DefaultDir: "/etc/secrets", KeychainService: "svc"},
			want: []string{
				"secretsbackends.Env env FLYTE_SECRETS_GITHUB_TOKEN",
				"secretsbackends.Dir file /etc/secrets/github/token",
				`*secretsbackends.Store keychain service "svc" account "github/token"`,
			},
		},
		{
			name: "no prefix, no dir",
			opts: Options{Local: true},
			want: []string{
				"secretsbackends.Env env GITHUB_TOKEN",
				`*secretsbackends.Store keychain service "goflyte" account "github/token"`,
			},
		},
		{
			name: "a fallback is named before the choice",
			opts: Options{EnvPrefix: "P_", Fallback: "file", FallbackDir: "/k"},
			want: []string{
				"secretsbackends.Env env P_GITHUB_TOKEN",
				`*secretsbackends.Store keychain service "goflyte" account "github/token", or encrypted file keyring /k account "github/token" if the keychain is unreachable`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, describe(New(tc.opts))); diff != "" {
				t.Errorf("New (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewEnvBeforeKeychain(t *testing.T) {
	// A hit in the environment never reaches the store, so it needs no
	// D-Bus: this works on any machine.
	c := New(Options{EnvPrefix: "FLYTE_SECRETS_", Getenv: envMap(map[string]string{"FLYTE_SECRETS_GITHUB_TOKEN": "v"})})
	if v, err := c.Lookup(context.Background(), token); err != nil || string(v) != "v" {
		t.Errorf("Lookup = %q, %v", v, err)
	}
}

func TestStoreUnknownFallback(t *testing.T) {
	s := NewStore(Options{Fallback: "kwallet"})
	_, err := s.Lookup(context.Background(), token)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup with an unknown fallback = %v, want a real error", err)
	}
}

func TestStoreWithoutFallbackIsTheKeychain(t *testing.T) {
	s := NewStore(Options{KeychainService: "svc"})
	b, err := s.Backend(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Keychain{Service: "svc"}, b); diff != "" {
		t.Errorf("Backend (-want +got):\n%s", diff)
	}
}
