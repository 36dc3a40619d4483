package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// signTask is a sign.hmac task that signs with the secret group/k.
func signTask(name, group string) string {
	return fmt.Sprintf(`
  task %q {
    uses   = "sign.hmac"
    inputs = { message = "m", group = %q, key = "k" }
    secret {
      group = %q
      key   = "k"
    }
  }
  output %q { value = task.%s.signature }`, name, group, group, name, name)
}

// TestE2ESecretsFromEveryPlace runs a plugin that reads one secret from
// each place of the chain: prefixed env var, unprefixed env var, a file
// under default_dir, and (with GOFLYTE_TEST_KEYCHAIN=1, as in CI) the OS
// keychain, stored there with `goflyte secrets set`.
func TestE2ESecretsFromEveryPlace(t *testing.T) {
	x := newE2E(t)
	secretsDir := filepath.Join(x.dir, "secrets")
	x.writeFile("secrets/fromfile/k", "file-value\n")
	service := fmt.Sprintf("goflyte-e2e-%d", os.Getpid())
	x.writeFile("flyte.hcl", fmt.Sprintf(`
sdk {
  plugin_dirs   = [%q]
  local_sandbox = %q
}
secrets {
  default_dir      = %q
  keychain_service = %q
}
`, e2ePlugins, x.sandbox, secretsDir, service))

	tasks := signTask("prefixed", "fromenv") + signTask("unprefixed", "plain") + signTask("file", "fromfile")
	want := map[string]any{
		"prefixed":   hmacHex("env-value", "m"),
		"unprefixed": hmacHex("plain-value", "m"),
		"file":       hmacHex("file-value\n", "m"),
	}
	if os.Getenv("GOFLYTE_TEST_KEYCHAIN") == "1" {
		r := x.runWithStdin("keychain-value", "secrets", "set", "fromkeychain", "k")
		if r.code != 0 {
			t.Fatalf("secrets set\n%s", r)
		}
		t.Cleanup(func() { x.run("secrets", "delete", "fromkeychain", "k") })
		tasks += signTask("keychain", "fromkeychain")
		want["keychain"] = hmacHex("keychain-value", "m")
		r = x.run("secrets", "where", "fromkeychain", "k")
		if r.code != 0 || !strings.Contains(r.stdout, "found") || strings.Contains(r.stdout, "keychain-value") {
			t.Errorf("secrets where\n%s", r)
		}
	} else {
		t.Log("GOFLYTE_TEST_KEYCHAIN is not 1: the keychain part is skipped (.ci/run sets it with a real keyring daemon)")
	}
	path := x.writeFile("secrets.hcl", "workflow \"s\" {"+tasks+"\n}\n")
	x.env = append(x.env, "FLYTE_SECRETS_SIGNING_KEY=signing", "FLYTE_SECRETS_FROMENV_K=env-value", "PLAIN_K=plain-value")
	out, r := x.runJSON("run", path)
	if r.code != 0 {
		t.Fatalf("want success\n%s", r)
	}
	for k, v := range want {
		if out.Outputs[k] != v {
			t.Errorf("output %s = %v, want %v", k, out.Outputs[k], v)
		}
	}
}

func TestE2EMissingSecret(t *testing.T) {
	x := newE2E(t)
	x.writeFile("flyte.hcl", fmt.Sprintf("sdk {\n  plugin_dirs = [%q]\n  local_sandbox = %q\n}\nsecrets {\n  default_dir = %q\n}\n", e2ePlugins, x.sandbox, filepath.Join(x.dir, "nosecrets")))
	r := x.run("run", "--task", "sign.hmac", "--input", "message=m")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	// The error names every place it looked.
	for _, want := range []string{"FLYTE_SECRETS_SIGNING_KEY", "SIGNING_KEY", filepath.Join(x.dir, "nosecrets", "signing", "key"), "keychain"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r)
		}
	}
}

// TestE2ESecretNeverLeaks runs a plugin that logs its secret, prints it to
// stderr, returns it as an output, puts it in an error and dies holding it,
// and checks that the value appears nowhere: not in goflyte's output (text
// or JSON, at debug level), not in the sandbox.
func TestE2ESecretNeverLeaks(t *testing.T) {
	x := newE2E(t)
	const value = "hunter2-Wp9&<q>"
	x.env = append(x.env, "FLYTE_SECRETS_LEAK_TOKEN="+value)
	var all strings.Builder
	for _, task := range []string{"leaky.log", "leaky.fail", "leaky.crash"} {
		for _, extra := range [][]string{{"-vv"}, {"--json", "-vv"}} {
			r := x.run(append([]string{"run", "--task", task}, extra...)...)
			all.WriteString(r.String())
			if task == "leaky.log" && r.code != 0 || task != "leaky.log" && r.code != 1 {
				t.Errorf("%s %v: unexpected exit\n%s", task, extra, r)
			}
		}
	}
	r := x.run("config", "show", "--json")
	all.WriteString(r.String())
	text := all.String()
	if strings.Contains(text, value) || strings.Contains(text, "hunter2") {
		t.Errorf("the secret value was printed:\n%s", text)
	}
	if !strings.Contains(text, "***") {
		t.Errorf("nothing was redacted: did the plugin run?\n%s", text)
	}
	_ = filepath.WalkDir(x.sandbox, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), "hunter2") {
			t.Errorf("the secret value is in %s", path)
		}
		return nil
	})
}

func TestE2ESecretsCLI(t *testing.T) {
	x := newE2E(t)
	x.env = append(x.env, "FLYTE_SECRETS_API_TOKEN=tok-123")
	r := x.run("secrets", "get", "api", "token")
	if r.code != 0 || !strings.Contains(r.stdout, "env FLYTE_SECRETS_API_TOKEN") || strings.Contains(r.stdout, "tok-123") {
		t.Errorf("secrets get without --reveal\n%s", r)
	}
	r = x.run("secrets", "get", "api", "token", "--reveal")
	if r.code != 0 || r.stdout != "tok-123" {
		t.Errorf("secrets get --reveal\n%s", r)
	}
	r = x.run("secrets", "where", "api", "token", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"result": "found"`) || strings.Contains(r.stdout, "tok-123") {
		t.Errorf("secrets where --json\n%s", r)
	}
	r = x.run("secrets", "get", "../etc", "passwd")
	if r.code != 2 {
		t.Errorf("an invalid name: want exit 2\n%s", r)
	}
	r = x.run("secrets", "set", "api", "token", "tok-on-argv")
	if r.code != 2 {
		t.Errorf("a value on the command line must be refused\n%s", r)
	}
	r = x.run("doctor", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"Backend"`) && !strings.Contains(r.stdout, `"backend"`) {
		t.Errorf("doctor --json\n%s", r)
	}
}
