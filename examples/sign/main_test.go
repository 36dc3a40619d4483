package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

func mac(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignAndVerify(t *testing.T) {
	opts := sdktest.Options{Secrets: map[string]string{"signing/key": "k3y", "other/alt": "alt"}}
	res, err := sdktest.RunWithOptions(t, opts, sdk.Func(sign), map[string]any{"message": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Outputs["signature"], mac("k3y", "hello"); got != want {
		t.Errorf("signature = %v, want %s", got, want)
	}
	res, err = sdktest.RunWithOptions(t, opts, sdk.Func(sign), map[string]any{"message": "hello", "group": "other", "key": "alt"})
	if err != nil || res.Outputs["signature"] != mac("alt", "hello") || res.Outputs["key_id"] != "other/alt" {
		t.Errorf("sign with another key: %v, %v", res, err)
	}
	for _, tc := range []struct {
		sig  string
		want bool
	}{{mac("k3y", "hello"), true}, {mac("wrong", "hello"), false}} {
		res, err := sdktest.RunWithOptions(t, opts, sdk.Func(verify), map[string]any{"message": "hello", "signature": tc.sig})
		if err != nil || res.Outputs["valid"] != tc.want {
			t.Errorf("verify(%s) = %v, %v; want %v", tc.sig, res, err, tc.want)
		}
	}
}

func TestSignWithoutTheSecret(t *testing.T) {
	_, err := sdktest.Run(t, sdk.Func(sign), map[string]any{"message": "hello"})
	var te *plugin.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TaskError for the undeclared secret", err)
	}
}
