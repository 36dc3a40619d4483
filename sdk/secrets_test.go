package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

type tokenOut struct {
	Token   string `json:"token"`
	Raw     string `json:"raw"`
	Missing string `json:"missing"`
}

func readToken(ctx context.Context, _ struct{}) (tokenOut, error) {
	s := sdk.Params(ctx).Secrets()
	token, err := s.Get("github", "token")
	if err != nil {
		return tokenOut{}, err
	}
	raw, err := s.GetBytes("github", "token")
	if err != nil {
		return tokenOut{}, err
	}
	_, err = s.Get("aws", "key")
	return tokenOut{Token: token, Raw: string(raw), Missing: err.Error()}, nil
}

func TestSecrets(t *testing.T) {
	task := sdk.Func(readToken).WithSecrets(sdk.SecretRequest{Group: "github", Key: "token"})
	if got := task.Schema().Secrets; len(got) != 1 || got[0].String() != "github/token" {
		t.Fatalf("schema secrets = %v", got)
	}
	res, err := sdktest.RunWithOptions(t, sdktest.Options{Secrets: map[string]string{"github/token": "s3cr3t\n"}}, task, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out tokenOut
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Token != "s3cr3t" || out.Raw != "s3cr3t\n" {
		t.Errorf("text %q, bytes %q; want the text form trimmed and the bytes exact", out.Token, out.Raw)
	}
	// The error for an undeclared secret names it (and never a value).
	if !strings.Contains(out.Missing, `"aws/key"`) || strings.Contains(out.Missing, "s3cr3t") {
		t.Errorf("undeclared secret error = %q", out.Missing)
	}
}

func TestSecretVersions(t *testing.T) {
	task := sdk.Func(func(ctx context.Context, _ struct{}) (struct{}, error) {
		s := sdk.Params(ctx).Secrets()
		if _, err := s.Get("db", "password"); err == nil {
			return struct{}{}, errors.New("Get of a key declared at two versions succeeded")
		}
		v2, err := s.Lookup(sdk.SecretRequest{Group: "db", Version: "v2", Key: "password"})
		if err != nil || string(v2) != "two" {
			return struct{}{}, errors.New("Lookup v2 failed")
		}
		if n := len(s.Names()); n != 2 {
			return struct{}{}, errors.New("Names: want 2")
		}
		return struct{}{}, nil
	})
	_, err := sdktest.RunWithOptions(t, sdktest.Options{Secrets: map[string]string{"db/v1/password": "one", "db/v2/password": "two"}}, task, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecretFormatting(t *testing.T) {
	s := plugin.Secret{SecretRequest: plugin.SecretRequest{Group: "g", Key: "k"}, Value: []byte("hunter2")}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if got := sprintf(verb, s); strings.Contains(got, "hunter2") {
			t.Errorf("%s shows the value: %s", verb, got)
		}
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }
