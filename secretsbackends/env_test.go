package secretsbackends

import (
	"context"
	"errors"
	"testing"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestEnvVar(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		n      Name
		want   string
	}{
		{name: "prefixed", prefix: "FLYTE_SECRETS_", n: Name{Group: "github", Key: "token"}, want: "FLYTE_SECRETS_GITHUB_TOKEN"},
		{name: "unprefixed", n: Name{Group: "github", Key: "token"}, want: "GITHUB_TOKEN"},
		{name: "version", prefix: "FLYTE_SECRETS_", n: Name{Group: "github", Version: "v1", Key: "token"}, want: "FLYTE_SECRETS_GITHUB_V1_TOKEN"},
		{name: "dashes kept", prefix: "FLYTE_SECRETS_", n: Name{Group: "my-group", Version: "v1", Key: "abc"}, want: "FLYTE_SECRETS_MY-GROUP_V1_ABC"},
		{name: "group-less", prefix: "FLYTE_SECRETS_", n: Name{Key: "token"}, want: "FLYTE_SECRETS_TOKEN"},
		{name: "group-less unprefixed", n: Name{Key: "token"}, want: "TOKEN"},
		{name: "upper-cased", prefix: "FLYTE_SECRETS_", n: Name{Group: "GitHub", Key: "apiToken"}, want: "FLYTE_SECRETS_GITHUB_APITOKEN"},
		{name: "prefix as given", prefix: "_fsec_", n: Name{Group: "a", Key: "b"}, want: "_fsec_A_B"},
		{name: "dots kept", prefix: "P_", n: Name{Group: "a.b", Key: "c"}, want: "P_A.B_C"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Env{Prefix: tc.prefix}
			if got := e.Var(tc.n); got != tc.want {
				t.Errorf("Var(%#v) = %q, want %q", tc.n, got, tc.want)
			}
			if got, want := e.Where(tc.n), "env "+tc.want; got != want {
				t.Errorf("Where = %q, want %q", got, want)
			}
		})
	}
}

func TestEnvLookup(t *testing.T) {
	env := Env{Prefix: "FLYTE_SECRETS_", Getenv: envMap(map[string]string{
		"FLYTE_SECRETS_GITHUB_TOKEN": "ghp-1\n",
		"FLYTE_SECRETS_EMPTY":        "",
		"GITHUB_TOKEN":               "unprefixed",
		"FLYTE_SECRETS_A=B_C":        "impossible",
	})}
	tests := []struct {
		name  string
		n     Name
		want  string
		found bool
	}{
		{name: "found, exact bytes", n: Name{Group: "github", Key: "token"}, want: "ghp-1\n", found: true},
		{name: "present but empty is a hit", n: Name{Key: "empty"}, want: "", found: true},
		{name: "missing", n: Name{Group: "slack", Key: "token"}},
		{name: "a name with = is never a variable", n: Name{Group: "a=b", Key: "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := env.Lookup(context.Background(), tc.n)
			if !tc.found {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Lookup = %q, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want || got == nil {
				t.Errorf("Lookup = %#v, %v; want %q", got, err, tc.want)
			}
		})
	}
}
