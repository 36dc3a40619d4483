package config

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// hermetic fills in the options so that nothing from the machine running
// the test leaks in: no environment, and empty temporary directories.
func hermetic(t *testing.T, opts LoadOptions) LoadOptions {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = envMap(nil)
	}
	for _, d := range []*string{&opts.WorkDir, &opts.HomeDir, &opts.UserConfigDir, &opts.UserCacheDir} {
		if *d == "" {
			*d = t.TempDir()
		}
	}
	return opts
}

func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func loadConfig(t *testing.T, opts LoadOptions) (*Config, hcl.Diagnostics) {
	t.Helper()
	return NewParser().LoadConfig(hermetic(t, opts))
}

func writeConfigFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func settingNamed(t *testing.T, cfg *Config, name string) Setting {
	t.Helper()
	for _, s := range cfg.Settings() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no setting %q", name)
	return Setting{}
}

// summaries renders diagnostics compactly for failure messages.
func summaries(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "\n  %s: %s; %s", d.Subject, d.Summary, d.Detail)
	}
	return b.String()
}

func TestDefaults(t *testing.T) {
	opts := hermetic(t, LoadOptions{})
	cfg, diags := NewParser().LoadConfig(opts)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ = filepath.EvalSymlinks(exe)
	want := &Config{
		SDK: SDK{
			WorkflowPackages: []string{},
			LocalSandbox:     filepath.Join(opts.UserCacheDir, "goflyte", "sandbox"),
			LoggingLevel:     "warn",
			LogFormat:        "text",
			PluginDirs:       []string{filepath.Join(filepath.Dir(exe), "plugins"), filepath.Join(opts.UserConfigDir, "goflyte", "plugins")},
		},
		Local: Local{CacheEnabled: true, Project: "local", Domain: "local"},
		Secrets: Secrets{
			EnvPrefix: "FLYTE_SECRETS_", DefaultDir: "/etc/secrets",
			KeychainService: "goflyte", KeychainTimeoutSeconds: 3, FallbackPassphraseEnv: "GOFLYTE_KEYRING_PASSPHRASE",
		},
		Platform: Platform{URL: "localhost:30080", Namespace: "default", TaskQueue: "goflyte", Compression: "none"},
		Credentials: Credentials{
			Command: []string{}, ProxyCommand: []string{}, Scopes: []string{}, AuthMode: "standard",
		},
		AWS:    AWS{Retries: 3, BackoffSeconds: 5},
		StatsD: StatsD{Port: 8125, Prefix: "goflyte"},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	for _, s := range cfg.Settings() {
		if s.Source.Kind != SourceDefault {
			t.Errorf("%s: source %v, want default", s.Name(), s.Source)
		}
	}
	if got := cfg.AWS.Backoff().String(); got != "5s" {
		t.Errorf("Backoff() = %s, want 5s", got)
	}

	// Defaults agrees with LoadConfig on everything that does not depend
	// on the user's directories.
	d := Defaults()
	if diff := cmp.Diff(want, d, cmpopts.IgnoreUnexported(Config{}), cmpopts.IgnoreFields(SDK{}, "LocalSandbox", "PluginDirs")); diff != "" {
		t.Errorf("Defaults() (-want +got):\n%s", diff)
	}
}

func TestKeys(t *testing.T) {
	want := []string{
		"sdk.workflow_packages", "sdk.local_sandbox", "sdk.logging_level", "sdk.log_format", "sdk.plugin_dirs", "sdk.plugin_tls",
		"local.cache_enabled", "local.cache_overwrite", "local.cache_dir", "local.raw_output_data_prefix", "local.project", "local.domain",
		"secrets.env_prefix", "secrets.default_dir", "secrets.file_prefix",
		"secrets.keychain_service", "secrets.keychain_timeout_seconds", "secrets.fallback", "secrets.fallback_dir",
		"secrets.fallback_passphrase_env", "secrets.pass_dir",
		"platform.url", "platform.insecure", "platform.insecure_skip_verify", "platform.console_endpoint",
		"platform.ca_cert_file_path", "platform.http_proxy_url", "platform.namespace", "platform.task_queue",
		"platform.compression",
		"credentials.command", "credentials.proxy_command", "credentials.client_id", "credentials.client_secret",
		"credentials.client_secret_location", "credentials.client_secret_env_var", "credentials.scopes",
		"credentials.auth_mode", "credentials.audience", "credentials.issuer",
		"aws.endpoint", "aws.access_key_id", "aws.secret_access_key", "aws.addressing_style",
		"aws.enable_debug", "aws.retries", "aws.backoff_seconds",
		"azure.storage_account_name", "azure.storage_account_key", "azure.tenant_id", "azure.client_id", "azure.client_secret",
		"gcp.gsutil_parallelism",
		"statsd.host", "statsd.port", "statsd.disabled", "statsd.disable_tags", "statsd.prefix",
	}
	if diff := cmp.Diff(want, Keys()); diff != "" {
		t.Errorf("Keys() (-want +got):\n%s", diff)
	}
	var names []string
	for _, s := range Defaults().Settings() {
		names = append(names, s.Name())
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Settings() order (-want +got):\n%s", diff)
	}
	if got, want := (Setting{Section: "aws", Key: "retries"}).EnvVar(), "FLYTE_AWS_RETRIES"; got != want {
		t.Errorf("EnvVar() = %q, want %q", got, want)
	}
}

func TestEnvValues(t *testing.T) {
	work := t.TempDir()
	tests := []struct {
		name  string
		env   string
		value string
		key   string
		want  any
		unset bool // the value means "not set": default value and source
	}{
		{name: "bool empty is false", env: "FLYTE_LOCAL_CACHE_ENABLED", value: "", key: "local.cache_enabled", want: false},
		{name: "bool FALSE", env: "FLYTE_LOCAL_CACHE_ENABLED", value: "FALSE", key: "local.cache_enabled", want: false},
		{name: "bool off", env: "FLYTE_LOCAL_CACHE_ENABLED", value: "off", key: "local.cache_enabled", want: false},
		{name: "bool No", env: "FLYTE_LOCAL_CACHE_ENABLED", value: "No", key: "local.cache_enabled", want: false},
		{name: "bool 0", env: "FLYTE_LOCAL_CACHE_ENABLED", value: "0", key: "local.cache_enabled", want: false},
		{name: "bool true", env: "FLYTE_LOCAL_CACHE_OVERWRITE", value: "true", key: "local.cache_overwrite", want: true},
		{name: "bool truee is true", env: "FLYTE_LOCAL_CACHE_OVERWRITE", value: "truee", key: "local.cache_overwrite", want: true},
		{name: "bool 1", env: "FLYTE_LOCAL_CACHE_OVERWRITE", value: "1", key: "local.cache_overwrite", want: true},
		{name: "bool anything", env: "FLYTE_GCP_GSUTIL_PARALLELISM", value: "maybe", key: "gcp.gsutil_parallelism", want: true},

		{name: "list", env: "FLYTE_CREDENTIALS_COMMAND", value: "a,b,c", key: "credentials.command", want: []string{"a", "b", "c"}},
		{name: "list trims and drops empty items", env: "FLYTE_CREDENTIALS_SCOPES", value: " all , ,offline, ", key: "credentials.scopes", want: []string{"all", "offline"}},
		{name: "list of only commas is empty", env: "FLYTE_CREDENTIALS_SCOPES", value: ",,", key: "credentials.scopes", want: []string{}},
		{name: "list empty is unset", env: "FLYTE_CREDENTIALS_COMMAND", value: "", key: "credentials.command", want: []string{}, unset: true},
		{name: "list of paths", env: "FLYTE_SDK_WORKFLOW_PACKAGES", value: "wf, /srv/wf", key: "sdk.workflow_packages", want: []string{filepath.Join(work, "wf"), "/srv/wf"}},

		{name: "int", env: "FLYTE_AWS_RETRIES", value: "7", key: "aws.retries", want: 7},
		{name: "int with spaces", env: "FLYTE_AWS_RETRIES", value: " 8 ", key: "aws.retries", want: 8},
		{name: "int zero", env: "FLYTE_AWS_BACKOFF_SECONDS", value: "0", key: "aws.backoff_seconds", want: 0},
		{name: "int empty is unset", env: "FLYTE_AWS_RETRIES", value: "", key: "aws.retries", want: 3, unset: true},

		{name: "log level 10", env: "FLYTE_SDK_LOGGING_LEVEL", value: "10", key: "sdk.logging_level", want: "debug"},
		{name: "log level 20", env: "FLYTE_SDK_LOGGING_LEVEL", value: "20", key: "sdk.logging_level", want: "info"},
		{name: "log level 30", env: "FLYTE_SDK_LOGGING_LEVEL", value: "30", key: "sdk.logging_level", want: "warn"},
		{name: "log level 40", env: "FLYTE_SDK_LOGGING_LEVEL", value: "40", key: "sdk.logging_level", want: "error"},
		{name: "log level WARNING", env: "FLYTE_SDK_LOGGING_LEVEL", value: "WARNING", key: "sdk.logging_level", want: "warn"},
		{name: "log level Debug", env: "FLYTE_SDK_LOGGING_LEVEL", value: "Debug", key: "sdk.logging_level", want: "debug"},
		{name: "log level empty is unset", env: "FLYTE_SDK_LOGGING_LEVEL", value: "", key: "sdk.logging_level", want: "warn", unset: true},

		{name: "string", env: "FLYTE_LOCAL_PROJECT", value: "demo", key: "local.project", want: "demo"},
		{name: "string empty is unset", env: "FLYTE_LOCAL_PROJECT", value: "", key: "local.project", want: "local", unset: true},
		{name: "url strips dns:///", env: "FLYTE_PLATFORM_URL", value: "dns:///flyte.example.com:443", key: "platform.url", want: "flyte.example.com:443"},
		{name: "namespace", env: "FLYTE_PLATFORM_NAMESPACE", value: "flyte-dev.team_1", key: "platform.namespace", want: "flyte-dev.team_1"},
		{name: "namespace empty is unset", env: "FLYTE_PLATFORM_NAMESPACE", value: "", key: "platform.namespace", want: "default", unset: true},
		{name: "task queue", env: "FLYTE_PLATFORM_TASK_QUEUE", value: "gpu-pool", key: "platform.task_queue", want: "gpu-pool"},
		{name: "compression any case", env: "FLYTE_PLATFORM_COMPRESSION", value: "GZIP", key: "platform.compression", want: "gzip"},
		{name: "compression empty is unset", env: "FLYTE_PLATFORM_COMPRESSION", value: "", key: "platform.compression", want: "none", unset: true},
		{name: "auth mode any case", env: "FLYTE_CREDENTIALS_AUTH_MODE", value: "pkce", key: "credentials.auth_mode", want: "Pkce"},
		{name: "auth mode ClientSecret", env: "FLYTE_CREDENTIALS_AUTH_MODE", value: "CLIENTSECRET", key: "credentials.auth_mode", want: "ClientSecret"},
		{name: "addressing style", env: "FLYTE_AWS_ADDRESSING_STYLE", value: "Path", key: "aws.addressing_style", want: "path"},
		{name: "path", env: "FLYTE_SECRETS_DEFAULT_DIR", value: "secrets", key: "secrets.default_dir", want: filepath.Join(work, "secrets")},

		{name: "keychain service", env: "FLYTE_SECRETS_KEYCHAIN_SERVICE", value: "goflyte-dev", key: "secrets.keychain_service", want: "goflyte-dev"},
		{name: "keychain service empty is unset", env: "FLYTE_SECRETS_KEYCHAIN_SERVICE", value: "", key: "secrets.keychain_service", want: "goflyte", unset: true},
		{name: "keychain timeout", env: "FLYTE_SECRETS_KEYCHAIN_TIMEOUT_SECONDS", value: "10", key: "secrets.keychain_timeout_seconds", want: 10},
		{name: "fallback any case", env: "FLYTE_SECRETS_FALLBACK", value: "File", key: "secrets.fallback", want: "file"},
		{name: "fallback auto", env: "FLYTE_SECRETS_FALLBACK", value: "auto", key: "secrets.fallback", want: "auto"},
		{name: "fallback keyctl", env: "FLYTE_SECRETS_FALLBACK", value: "KEYCTL", key: "secrets.fallback", want: "keyctl"},
		{name: "fallback empty is unset", env: "FLYTE_SECRETS_FALLBACK", value: "", key: "secrets.fallback", want: "", unset: true},
		{name: "fallback dir", env: "FLYTE_SECRETS_FALLBACK_DIR", value: "keyring", key: "secrets.fallback_dir", want: filepath.Join(work, "keyring")},
		{name: "passphrase env", env: "FLYTE_SECRETS_FALLBACK_PASSPHRASE_ENV", value: "MY_PASS_2", key: "secrets.fallback_passphrase_env", want: "MY_PASS_2"},
		{name: "pass dir", env: "FLYTE_SECRETS_PASS_DIR", value: "/srv/pass", key: "secrets.pass_dir", want: "/srv/pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := loadConfig(t, LoadOptions{WorkDir: work, Getenv: envMap(map[string]string{tc.env: tc.value})})
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:%s", summaries(diags))
			}
			s := settingNamed(t, cfg, tc.key)
			if diff := cmp.Diff(tc.want, s.Value); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			wantSource := Source{Kind: SourceEnv, Name: tc.env}
			if tc.unset {
				wantSource = Source{}
			}
			if diff := cmp.Diff(wantSource, s.Source); diff != "" {
				t.Errorf("source (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		value  string
		detail []string // substrings the detail must contain
	}{
		{name: "int not a number", env: "FLYTE_AWS_RETRIES", value: "lots", detail: []string{"FLYTE_AWS_RETRIES", "aws.retries", "a whole number, at least 0", `not "lots"`}},
		{name: "int negative", env: "FLYTE_AWS_BACKOFF_SECONDS", value: "-2", detail: []string{"FLYTE_AWS_BACKOFF_SECONDS", "a whole number, at least 0"}},
		{name: "int fraction", env: "FLYTE_AWS_RETRIES", value: "1.5", detail: []string{"FLYTE_AWS_RETRIES", "a whole number"}},
		{name: "log level number", env: "FLYTE_SDK_LOGGING_LEVEL", value: "15", detail: []string{"FLYTE_SDK_LOGGING_LEVEL", `"debug", "info", "warn" or "error"`}},
		{name: "log level typo", env: "FLYTE_SDK_LOGGING_LEVEL", value: "degub", detail: []string{"FLYTE_SDK_LOGGING_LEVEL", `Did you mean "debug"?`}},
		{name: "auth mode typo", env: "FLYTE_CREDENTIALS_AUTH_MODE", value: "pkse", detail: []string{"FLYTE_CREDENTIALS_AUTH_MODE", `"DeviceFlow"`, `Did you mean "Pkce"?`}},
		{name: "addressing style", env: "FLYTE_AWS_ADDRESSING_STYLE", value: "domain", detail: []string{"FLYTE_AWS_ADDRESSING_STYLE", `"path", "virtual" or "auto"`}},
		{name: "project with colon", env: "FLYTE_LOCAL_PROJECT", value: "a:b", detail: []string{"FLYTE_LOCAL_PROJECT", `without ":" or "/"`}},
		{name: "namespace with space", env: "FLYTE_PLATFORM_NAMESPACE", value: "my ns", detail: []string{"FLYTE_PLATFORM_NAMESPACE", "a namespace"}},
		{name: "task queue with slash", env: "FLYTE_PLATFORM_TASK_QUEUE", value: "a/b", detail: []string{"FLYTE_PLATFORM_TASK_QUEUE", "a task queue name"}},
		{name: "fallback typo", env: "FLYTE_SECRETS_FALLBACK", value: "fiel", detail: []string{"FLYTE_SECRETS_FALLBACK", `"", "auto", "file", "pass" or "keyctl"`, `Did you mean "file"?`}},
		{name: "fallback kwallet", env: "FLYTE_SECRETS_FALLBACK", value: "kwallet", detail: []string{"FLYTE_SECRETS_FALLBACK", `not "kwallet"`}},
		{name: "keychain service with slash", env: "FLYTE_SECRETS_KEYCHAIN_SERVICE", value: "a/b", detail: []string{"FLYTE_SECRETS_KEYCHAIN_SERVICE", `without ":" or "/"`}},
		{name: "keychain timeout negative", env: "FLYTE_SECRETS_KEYCHAIN_TIMEOUT_SECONDS", value: "-1", detail: []string{"FLYTE_SECRETS_KEYCHAIN_TIMEOUT_SECONDS", "a whole number, at least 0"}},
		{name: "passphrase env with dash", env: "FLYTE_SECRETS_FALLBACK_PASSPHRASE_ENV", value: "MY-PASS", detail: []string{"FLYTE_SECRETS_FALLBACK_PASSPHRASE_ENV", "an environment variable name", `not "MY-PASS"`}},
		{name: "passphrase env starting with a digit", env: "FLYTE_SECRETS_FALLBACK_PASSPHRASE_ENV", value: "1PASS", detail: []string{"an environment variable name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := loadConfig(t, LoadOptions{Getenv: envMap(map[string]string{tc.env: tc.value})})
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:%s", len(diags), summaries(diags))
			}
			d := diags[0]
			if d.Severity != hcl.DiagError || d.Summary != "Invalid environment variable" || d.Subject != nil {
				t.Errorf("got %v %q subject %v, want an error %q without subject", d.Severity, d.Summary, d.Subject, "Invalid environment variable")
			}
			for _, want := range tc.detail {
				if !strings.Contains(d.Detail, want) {
					t.Errorf("detail %q does not contain %q", d.Detail, want)
				}
			}
			for _, s := range cfg.Settings() {
				if s.Source.Kind != SourceDefault {
					t.Errorf("%s was set from %v despite the error", s.Name(), s.Source)
				}
			}
		})
	}
}

func TestEnvIgnoresOtherVariables(t *testing.T) {
	env := map[string]string{
		"FLYTE_SECRETS_GITHUB_TOKEN": "ghp_xyz",
		"FLYTE_AWS_RETRYS":           "lots",
		"FLYTE_INTERNAL_THING":       "1",
		"FLYTE_CONFIG":               "",
	}
	cfg, diags := loadConfig(t, LoadOptions{Getenv: envMap(env)})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	if cfg.File != "" {
		t.Errorf("File = %q, want none", cfg.File)
	}
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("FLYTE_AWS_RETRIES", "9")
	t.Setenv("FLYTE_CONFIG", "")
	opts := hermetic(t, LoadOptions{})
	opts.Getenv = nil // os.LookupEnv
	cfg, diags := NewParser().LoadConfig(opts)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	if cfg.AWS.Retries != 9 {
		t.Errorf("Retries = %d, want 9 from the process environment", cfg.AWS.Retries)
	}
}

func TestPrecedence(t *testing.T) {
	work := t.TempDir()
	writeConfigFile(t, filepath.Join(work, "flyte.hcl"), `sdk {
  logging_level = "info"
}
local {
  project = "from-file"
  cache_enabled = false
}
aws {
  retries = 4
}
`)
	env := map[string]string{
		"FLYTE_LOCAL_PROJECT": "from-env",
		"FLYTE_AWS_RETRIES":   "5",
	}
	cfg, diags := loadConfig(t, LoadOptions{WorkDir: work, Getenv: envMap(env)})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	if err := cfg.Override("local.project", "from-flag", "--project"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Override("local.cache_enabled", "true", "no-cache-skip"); err != nil {
		t.Fatal(err)
	}

	type vs struct {
		Value  any
		Source string
	}
	got := map[string]vs{}
	for _, name := range []string{"local.domain", "sdk.logging_level", "aws.retries", "local.project", "local.cache_enabled"} {
		s := settingNamed(t, cfg, name)
		got[name] = vs{s.Value, s.Source.String()}
	}
	want := map[string]vs{
		"local.domain":        {"local", "default"},            // default only
		"sdk.logging_level":   {"info", "flyte.hcl:2"},         // file over default
		"aws.retries":         {5, "env FLYTE_AWS_RETRIES"},    // env over file
		"local.project":       {"from-flag", "flag --project"}, // flag over env over file
		"local.cache_enabled": {true, "flag --no-cache-skip"},  // flag over file
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	src, ok := cfg.Source("aws.retries")
	if !ok || src.Kind != SourceEnv {
		t.Errorf("Source(aws.retries) = %v, %v; want env", src, ok)
	}
	if _, ok := cfg.Source("aws.nope"); ok {
		t.Errorf("Source(aws.nope) reported a setting")
	}
}

func TestOverride(t *testing.T) {
	work := t.TempDir()
	cfg, diags := loadConfig(t, LoadOptions{WorkDir: work})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}

	tests := []struct {
		name, key, value, flag string
		wantErr                []string // substrings; nil means success
	}{
		{name: "unknown key", key: "sdk.loging_level", value: "debug", flag: "--log-level", wantErr: []string{"--log-level", `unknown setting "sdk.loging_level"`, `did you mean "sdk.logging_level"?`}},
		{name: "bad int", key: "aws.retries", value: "lots", flag: "--retries", wantErr: []string{"--retries", "aws.retries", "a whole number, at least 0", `not "lots"`}},
		{name: "bad level", key: "sdk.logging_level", value: "loud", flag: "-v", wantErr: []string{"flag -v", `"debug", "info", "warn" or "error"`}},
		{name: "bad auth mode", key: "credentials.auth_mode", value: "pkse", flag: "--auth-mode", wantErr: []string{`did you mean "Pkce"?`}},
		{name: "bad compression", key: "platform.compression", value: "zstd", flag: "FLYTE_PLATFORM_COMPRESSION", wantErr: []string{"platform.compression", `"none" or "gzip"`, `not "zstd"`}},
		{name: "good", key: "sdk.logging_level", value: "error", flag: "--log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cfg.Override(tc.key, tc.value, tc.flag)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Override: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Override succeeded, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}

	// An empty value leaves a non-boolean setting as it was, as an empty
	// environment variable does.
	if err := cfg.Override("local.project", "", "--project"); err != nil {
		t.Fatal(err)
	}
	if s := settingNamed(t, cfg, "local.project"); s.Value != "local" || s.Source.Kind != SourceDefault {
		t.Errorf("empty override changed local.project to %v from %v", s.Value, s.Source)
	}
	// Relative paths resolve against the working directory of the load.
	if err := cfg.Override("sdk.plugin_dirs", "p1, /abs/p2", "--plugin-dir"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{filepath.Join(work, "p1"), "/abs/p2"}, cfg.SDK.PluginDirs); diff != "" {
		t.Errorf("plugin dirs (-want +got):\n%s", diff)
	}
}

func TestLookupOrder(t *testing.T) {
	tests := []struct {
		name     string
		explicit bool // --config names explicit.hcl
		env      bool // FLYTE_CONFIG names env.hcl
		work     bool // <WorkDir>/flyte.hcl exists
		user     bool // <UserConfigDir>/goflyte/flyte.hcl exists
		want     string
	}{
		{name: "explicit first", explicit: true, env: true, work: true, user: true, want: "explicit"},
		{name: "then FLYTE_CONFIG", env: true, work: true, user: true, want: "env"},
		{name: "then working directory", work: true, user: true, want: "work"},
		{name: "then user config dir", user: true, want: "user"},
		{name: "none", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := hermetic(t, LoadOptions{})
			files := map[string]string{
				"explicit": filepath.Join(opts.WorkDir, "conf", "explicit.hcl"),
				"env":      filepath.Join(t.TempDir(), "env.hcl"),
				"work":     filepath.Join(opts.WorkDir, "flyte.hcl"),
				"user":     filepath.Join(opts.UserConfigDir, "goflyte", "flyte.hcl"),
			}
			for origin, exists := range map[string]bool{"explicit": tc.explicit, "env": tc.env, "work": tc.work, "user": tc.user} {
				if exists {
					writeConfigFile(t, files[origin], fmt.Sprintf("local {\n  project = %q\n}\n", origin))
				}
			}
			env := map[string]string{}
			if tc.explicit {
				opts.ExplicitPath = filepath.Join("conf", "explicit.hcl") // relative to WorkDir
			}
			if tc.env {
				env["FLYTE_CONFIG"] = files["env"]
			}
			opts.Getenv = envMap(env)

			cfg, diags := NewParser().LoadConfig(opts)
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:%s", summaries(diags))
			}
			wantFile, wantProject := files[tc.want], tc.want
			if tc.want == "" {
				wantProject = "local"
			}
			if cfg.File != wantFile || cfg.Local.Project != wantProject {
				t.Errorf("loaded %q (project %q), want %q (project %q)", cfg.File, cfg.Local.Project, wantFile, wantProject)
			}
		})
	}
}

func TestExplicitFileProblems(t *testing.T) {
	work := t.TempDir()
	writeConfigFile(t, filepath.Join(work, "flyte.hcl"), "local {\n  project = \"work\"\n}\n")
	tests := []struct {
		name     string
		explicit string
		env      string
		summary  string
		detail   []string
	}{
		{name: "missing --config", explicit: "nope.hcl", summary: "Configuration file not found", detail: []string{filepath.Join(work, "nope.hcl"), "--config"}},
		{name: "missing FLYTE_CONFIG", env: "/does/not/exist.hcl", summary: "Configuration file not found", detail: []string{"/does/not/exist.hcl", "FLYTE_CONFIG"}},
		{name: "--config is a directory", explicit: ".", summary: "Configuration file is a directory", detail: []string{"--config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.env != "" {
				env["FLYTE_CONFIG"] = tc.env
			}
			cfg, diags := loadConfig(t, LoadOptions{WorkDir: work, ExplicitPath: tc.explicit, Getenv: envMap(env)})
			if len(diags) != 1 || diags[0].Summary != tc.summary || diags[0].Severity != hcl.DiagError {
				t.Fatalf("want one error %q, got:%s", tc.summary, summaries(diags))
			}
			for _, want := range tc.detail {
				if !strings.Contains(diags[0].Detail, want) {
					t.Errorf("detail %q does not contain %q", diags[0].Detail, want)
				}
			}
			// An explicit file that is missing is not replaced by another one.
			if cfg == nil || cfg.File != "" || cfg.Local.Project != "local" {
				t.Errorf("got config %+v, want defaults", cfg)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	root := t.TempDir()
	work, home, conf := filepath.Join(root, "work"), filepath.Join(root, "home"), filepath.Join(root, "conf")
	abs := filepath.Join(root, "abs")
	writeConfigFile(t, filepath.Join(conf, "flyte.hcl"), fmt.Sprintf(`sdk {
  workflow_packages = ["../wf", %q]
  plugin_dirs       = ["plugins", "~/plugins", "~"]
}
secrets {
  default_dir = "./secrets/"
}
credentials {
  client_secret_location = "~/cs.txt"
}
platform {
  ca_cert_file_path = ""
}
`, abs))
	env := map[string]string{"FLYTE_SDK_LOCAL_SANDBOX": "box"}
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: "../conf/flyte.hcl", WorkDir: work, HomeDir: home, Getenv: envMap(env)})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	if err := cfg.Override("platform.ca_cert_file_path", "certs/ca.pem", "--ca-cert"); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, name := range []string{"sdk.workflow_packages", "sdk.plugin_dirs", "sdk.local_sandbox", "secrets.default_dir", "credentials.client_secret_location", "platform.ca_cert_file_path"} {
		got[name] = settingNamed(t, cfg, name).Value
	}
	want := map[string]any{
		"sdk.workflow_packages":              []string{filepath.Join(root, "wf"), abs},                                       // file: against the file's directory
		"sdk.plugin_dirs":                    []string{filepath.Join(conf, "plugins"), filepath.Join(home, "plugins"), home}, // ~ is home
		"sdk.local_sandbox":                  filepath.Join(work, "box"),                                                     // env: against WorkDir
		"secrets.default_dir":                filepath.Join(conf, "secrets"),                                                 // cleaned
		"credentials.client_secret_location": filepath.Join(home, "cs.txt"),
		"platform.ca_cert_file_path":         filepath.Join(work, "certs", "ca.pem"), // flag: against WorkDir
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if want := filepath.Join(conf, "flyte.hcl"); cfg.File != want {
		t.Errorf("File = %q, want %q", cfg.File, want)
	}
}

func TestHomeUnknown(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("USERPROFILE", "")
	t.Setenv("home", "")
	work := t.TempDir()
	writeConfigFile(t, filepath.Join(work, "flyte.hcl"), "sdk {\n  local_sandbox = \"~/sandbox\"\n}\n")
	opts := hermetic(t, LoadOptions{WorkDir: work})
	opts.HomeDir = ""
	_, diags := NewParser().LoadConfig(opts)
	if len(diags) != 1 || diags[0].Summary != "Invalid value for setting" || !strings.Contains(diags[0].Detail, "home directory is unknown") {
		t.Fatalf("want one error about the unknown home directory, got:%s", summaries(diags))
	}
}

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*(.+?)\s*$`)

// TestConfigErrorFixtures loads every testdata/config/errors/*.hcl file and
// checks that it produces exactly the diagnostics marked in it: each line
// ending in "# ERROR: <Summary>" must get one error with that summary whose
// Subject starts on that line, and no other diagnostics may appear.
func TestConfigErrorFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "errors", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found %d error fixtures, want at least 8", len(files))
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := markedErrors(t, path)
			if len(want) == 0 {
				t.Fatalf("%s marks no errors", path)
			}
			_, diags := loadConfig(t, LoadOptions{ExplicitPath: path, WorkDir: wd})
			var got []string
			for _, d := range diags {
				checkStyle(t, d)
				if d.Subject == nil {
					got = append(got, fmt.Sprintf("?: %s", d.Summary))
					continue
				}
				if d.Subject.Filename != path {
					t.Errorf("diagnostic %q names file %q, want %q", d.Summary, d.Subject.Filename, path)
				}
				got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
			}
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall:%s", diff, summaries(diags))
			}
		})
	}
}

func markedErrors(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := errorMarker.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, fmt.Sprintf("%d: %s", line, m[1]))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStyle enforces the house style for diagnostics (STYLE.md §4).
func checkStyle(t *testing.T, d *hcl.Diagnostic) {
	t.Helper()
	if d.Severity != hcl.DiagError {
		t.Errorf("%q: severity %v, want error", d.Summary, d.Severity)
	}
	if d.Subject == nil {
		t.Errorf("%q: no subject", d.Summary)
	}
	if d.Summary == "" || strings.HasSuffix(d.Summary, ".") || strings.ToUpper(d.Summary[:1]) != d.Summary[:1] {
		t.Errorf("summary %q: want a sentence-case phrase without a full stop", d.Summary)
	}
	if !strings.HasSuffix(d.Detail, ".") && !strings.HasSuffix(d.Detail, "?") {
		t.Errorf("%q: detail %q does not end a sentence", d.Summary, d.Detail)
	}
}

// TestConfigErrorDetails pins the wording of a few diagnostics users will see
// often; the fixture loop checks only summaries.
func TestConfigErrorDetails(t *testing.T) {
	tests := []struct {
		name, src string
		detail    []string
	}{
		{name: "section typo", src: "sdkk {}\n", detail: []string{`There is no "sdkk" section. Did you mean "sdk"?`}},
		{name: "unknown section", src: "plugins {}\n", detail: []string{"The sections are sdk, local, secrets, platform, credentials, aws, azure, gcp and statsd."}},
		{name: "key typo", src: "aws {\n  retrys = 3\n}\n", detail: []string{`The "aws" block has no setting named "retrys". Did you mean "retries"?`}},
		{name: "key of another section", src: "aws {\n  project = \"x\"\n}\n", detail: []string{`the "local" block does`}},
		{name: "unknown key", src: "gcp {\n  colour = 1\n}\n", detail: []string{"Its settings are gsutil_parallelism."}},
		{name: "duplicate", src: "local {}\nlocal {}\n", detail: []string{`The "local" block was already given on line 1.`}},
		{name: "labels", src: "sdk \"x\" {}\n", detail: []string{`The "sdk" block takes no labels.`}},
		{name: "outside", src: "retries = 3\n", detail: []string{`Move "retries" into the "aws" block`}},
		{name: "string for int", src: "aws {\n  retries = \"lots\"\n}\n", detail: []string{`The "retries" setting in the "aws" block must be a whole number, at least 0, not "lots".`}},
		{name: "fraction", src: "aws {\n  retries = 2.5\n}\n", detail: []string{"must be a whole number, at least 0, not 2.5."}},
		{name: "negative", src: "aws {\n  backoff_seconds = -1\n}\n", detail: []string{"must be a whole number, at least 0, not -1."}},
		{name: "string for bool", src: "local {\n  cache_enabled = \"maybe\"\n}\n", detail: []string{`must be true or false, not "maybe".`}},
		{name: "string for list", src: "sdk {\n  plugin_dirs = \"x\"\n}\n", detail: []string{`must be a list of strings, such as ["a", "b"], not "x".`}},
		{name: "log level", src: "sdk {\n  logging_level = \"degub\"\n}\n", detail: []string{`Did you mean "debug"?`}},
		{name: "auth mode", src: "credentials {\n  auth_mode = \"pkse\"\n}\n", detail: []string{`"standard", "basic", "client_credentials", "external_process", "ClientSecret", "Pkce", "ExternalCommand" or "DeviceFlow"`, `Did you mean "Pkce"?`}},
		{name: "issuer without scheme", src: "credentials {\n  issuer = \"login.example.com\"\n}\n", detail: []string{`must be the OIDC issuer's URL, such as "https://login.example.com/"`}},
		{name: "empty project", src: "local {\n  project = \"\"\n}\n", detail: []string{`must be a non-empty name without ":" or "/", not "".`}},
		{name: "fallback", src: "secrets {\n  fallback = \"pas\"\n}\n", detail: []string{`The "fallback" setting in the "secrets" block must be one of "", "auto", "file", "pass" or "keyctl", not "pas". Did you mean "pass"?`}},
		{name: "empty keychain service", src: "secrets {\n  keychain_service = \"\"\n}\n", detail: []string{`must be a non-empty name without ":" or "/", not "".`}},
		{name: "empty passphrase env", src: "secrets {\n  fallback_passphrase_env = \"\"\n}\n", detail: []string{`must be an environment variable name: letters, digits and "_", not starting with a digit, not "".`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			writeConfigFile(t, filepath.Join(work, "flyte.hcl"), tc.src)
			_, diags := loadConfig(t, LoadOptions{WorkDir: work})
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got:%s", summaries(diags))
			}
			for _, want := range tc.detail {
				if !strings.Contains(diags[0].Detail, want) {
					t.Errorf("detail %q does not contain %q", diags[0].Detail, want)
				}
			}
		})
	}
}

func TestConfigValidFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "valid", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no valid fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, diags := loadConfig(t, LoadOptions{ExplicitPath: path, WorkDir: "."})
			if len(diags) > 0 {
				t.Errorf("unexpected diagnostics:%s", summaries(diags))
			}
		})
	}
}

// TestConfigValidFullSetsEveryKey keeps valid/full.hcl in step with the table,
// so that every setting is decoded from a file at least once.
func TestConfigValidFullSetsEveryKey(t *testing.T) {
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: filepath.Join("testdata", "config", "valid", "full.hcl"), WorkDir: "."})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	for _, s := range cfg.Settings() {
		if s.Source.Kind != SourceFile {
			t.Errorf("full.hcl does not set %s", s.Name())
		}
	}
	if cfg.Platform.URL != "flyte.example.com:443" {
		t.Errorf("URL = %q, want dns:/// stripped", cfg.Platform.URL)
	}
}

// TestSecretsSection checks the secrets block of valid/full.hcl as the
// secretsbackends options are built from it: paths resolved, values
// normalised.
func TestSecretsSection(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: filepath.Join("testdata", "config", "valid", "full.hcl"), WorkDir: ".", HomeDir: home})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	dir := filepath.Join(wd, "testdata", "config", "valid")
	want := Secrets{
		EnvPrefix:              "_FSEC_",
		DefaultDir:             filepath.Join(dir, "secrets"),
		FilePrefix:             "secret-",
		KeychainService:        "goflyte-test",
		KeychainTimeoutSeconds: 10,
		Fallback:               "file",
		FallbackDir:            filepath.Join(dir, "keyring"),
		FallbackPassphraseEnv:  "MY_KEYRING_PASSPHRASE",
		PassDir:                filepath.Join(home, ".password-store-goflyte"),
	}
	if diff := cmp.Diff(want, cfg.Secrets); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}
	if got := cfg.Secrets.KeychainTimeout().String(); got != "10s" {
		t.Errorf("KeychainTimeout() = %s, want 10s", got)
	}
}

func TestConfigValidFlexible(t *testing.T) {
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: filepath.Join("testdata", "config", "valid", "flexible.hcl"), WorkDir: "."})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	got := map[string]any{}
	for _, name := range []string{"sdk.logging_level", "sdk.plugin_dirs", "credentials.auth_mode", "credentials.scopes", "aws.addressing_style", "aws.retries", "aws.backoff_seconds", "local.project"} {
		s := settingNamed(t, cfg, name)
		got[name] = s.Value
	}
	want := map[string]any{
		"sdk.logging_level":     "info",
		"sdk.plugin_dirs":       []string{},
		"credentials.auth_mode": "Pkce",
		"credentials.scopes":    []string{},
		"aws.addressing_style":  "virtual",
		"aws.retries":           4,
		"aws.backoff_seconds":   7,
		"local.project":         "42",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if src, _ := cfg.Source("credentials.scopes"); src.Kind != SourceDefault {
		t.Errorf("scopes = null: source %v, want default", src)
	}
}

// TestRootSample loads the sample flyte.hcl at the root of the repository
// so that it can never rot, and checks that it mentions every setting.
func TestRootSample(t *testing.T) {
	path := filepath.Join("..", "..", "flyte.hcl")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := loadConfig(t, LoadOptions{ExplicitPath: path, WorkDir: wd})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}
	root := filepath.Dir(filepath.Dir(wd))
	if diff := cmp.Diff([]string{filepath.Join(root, "bin", "plugins")}, cfg.SDK.PluginDirs); diff != "" {
		t.Errorf("plugin_dirs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{filepath.Join(root, "examples", "workflows")}, cfg.SDK.WorkflowPackages); diff != "" {
		t.Errorf("workflow_packages (-want +got):\n%s", diff)
	}
	if cfg.SDK.LoggingLevel != "warn" || cfg.Local.Project != "local" || cfg.Local.Domain != "local" || !cfg.Local.CacheEnabled {
		t.Errorf("unexpected values: %+v %+v", cfg.SDK, cfg.Local)
	}

	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Keys() {
		section, key, _ := strings.Cut(name, ".")
		if !strings.Contains(string(src), section+" {") || !regexp.MustCompile(`(?m)^\s*#?\s*`+key+`\s*=`).Match(src) {
			t.Errorf("the sample flyte.hcl does not document %s", name)
		}
	}
}

func TestSecretMasking(t *testing.T) {
	work := t.TempDir()
	secrets := []string{"file-secret-1", "file-secret-2", "env-secret-3", "env-secret-4", "proxy-secret-5"}
	writeConfigFile(t, filepath.Join(work, "flyte.hcl"), `credentials {
  client_secret = "file-secret-1"
}
aws {
  secret_access_key = "file-secret-2"
}
platform {
  http_proxy_url = "http://me:proxy-secret-5@127.0.0.1:3128"
}
`)
	env := map[string]string{
		"FLYTE_AZURE_CLIENT_SECRET":   "env-secret-3",
		"FLYTE_AWS_SECRET_ACCESS_KEY": "env-secret-4", // wins over the file
	}
	cfg, diags := loadConfig(t, LoadOptions{WorkDir: work, Getenv: envMap(env)})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:%s", summaries(diags))
	}

	// The fields hold the real values ...
	fields := []string{cfg.Credentials.ClientSecret, cfg.AWS.SecretAccessKey, cfg.Azure.ClientSecret, cfg.Azure.StorageAccountKey}
	if diff := cmp.Diff([]string{"file-secret-1", "env-secret-4", "env-secret-3", ""}, fields); diff != "" {
		t.Errorf("secret fields (-want +got):\n%s", diff)
	}

	// ... Settings never does.
	type shown struct {
		Value   any
		Display string
		Secret  bool
		Source  string
	}
	got := map[string]shown{}
	for _, s := range cfg.Settings() {
		for _, secret := range secrets {
			if strings.Contains(fmt.Sprint(s.Value), secret) || strings.Contains(s.Display, secret) || strings.Contains(s.Source.String(), secret) {
				t.Errorf("%s shows the secret %q", s.Name(), secret)
			}
		}
		if s.Secret {
			got[s.Name()] = shown{s.Value, s.Display, s.Secret, s.Source.String()}
		}
	}
	want := map[string]shown{
		"credentials.client_secret": {Mask, Mask, true, "flyte.hcl:2"},
		"aws.secret_access_key":     {Mask, Mask, true, "env FLYTE_AWS_SECRET_ACCESS_KEY"},
		"azure.client_secret":       {Mask, Mask, true, "env FLYTE_AZURE_CLIENT_SECRET"},
		"azure.storage_account_key": {"", "", true, "default"}, // unset: nothing to hide
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secret settings (-want +got):\n%s", diff)
	}
	// A password in a URL is cut out, the rest shown; the field keeps it.
	for _, s := range cfg.Settings() {
		if s.Name() == "platform.http_proxy_url" && s.Display != "http://me:xxxxx@127.0.0.1:3128" {
			t.Errorf("platform.http_proxy_url shows %q", s.Display)
		}
	}
	if cfg.Platform.HTTPProxyURL != "http://me:proxy-secret-5@127.0.0.1:3128" {
		t.Errorf("the field lost the password: %q", cfg.Platform.HTTPProxyURL)
	}
}

func TestSecretNotEchoedInDiagnostics(t *testing.T) {
	work := t.TempDir()
	writeConfigFile(t, filepath.Join(work, "flyte.hcl"), "credentials {\n  client_secret = [\"hunter2\"]\n}\nazure {\n  client_secret = { key = \"hunter3\" }\n}\n")
	_, diags := loadConfig(t, LoadOptions{WorkDir: work})
	if len(diags) != 2 {
		t.Fatalf("want two diagnostics, got:%s", summaries(diags))
	}
	for _, d := range diags {
		if strings.Contains(d.Error(), "hunter") {
			t.Errorf("diagnostic echoes the secret: %s", d.Error())
		}
	}
	if got := describe(cty.StringVal("hunter2"), true); strings.Contains(got, "hunter2") {
		t.Errorf("describe echoes a secret: %s", got)
	}
	if got := describeText("hunter2", true); strings.Contains(got, "hunter2") {
		t.Errorf("describeText echoes a secret: %s", got)
	}
}

func TestSourceString(t *testing.T) {
	tests := []struct {
		src  Source
		want string
	}{
		{Source{}, "default"},
		{Source{Kind: SourceFile, Range: hcl.Range{Filename: "flyte.hcl", Start: hcl.Pos{Line: 12, Column: 3}}}, "flyte.hcl:12"},
		{Source{Kind: SourceEnv, Name: "FLYTE_AWS_RETRIES"}, "env FLYTE_AWS_RETRIES"},
		{Source{Kind: SourceFlag, Name: "--log-level"}, "flag --log-level"},
	}
	for _, tc := range tests {
		if got := tc.src.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.src, got, tc.want)
		}
	}

	// `goflyte config show --json` marshals Settings directly.
	b, err := json.Marshal(Setting{Section: "aws", Key: "retries", Value: 7, Display: "7", Source: Source{Kind: SourceEnv, Name: "FLYTE_AWS_RETRIES"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"section":"aws","key":"retries","value":7,"display":"7","secret":false,"source":"env FLYTE_AWS_RETRIES"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}
