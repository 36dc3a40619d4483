package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is the effective engine configuration: every setting of flyte.hcl
// after defaults, the configuration file, FLYTE_* environment variables and
// command-line flags have been applied, in that order of increasing
// precedence. Each field carries the value only; [Config.Settings] reports
// where each value came from.
//
// A Config may be read from several goroutines at once. [Config.Override]
// changes it and must not run concurrently with anything else.
type Config struct {
	SDK         SDK
	Local       Local
	Secrets     Secrets
	Platform    Platform
	Credentials Credentials
	AWS         AWS
	Azure       Azure
	GCP         GCP
	StatsD      StatsD

	// File is the absolute path of the configuration file that was loaded,
	// or "" when none was found and only defaults and the environment apply.
	// Diagnostics and Source ranges name the same file relative to the
	// working directory when it lies below it.
	File string

	sources map[string]Source // by "section.key"; a missing entry means SourceDefault
	workDir string            // base for relative paths given by Override; "" means os.Getwd
	homeDir string            // expansion of "~/"; "" means os.UserHomeDir

	// fromSecrets marks statsd settings taken from their deprecated names
	// in the secrets block, which the statsd block and FLYTE_STATSD_* win
	// over.
	fromSecrets map[string]bool
}

// SDK holds the "sdk" block: where workflows and plugins are found and how
// much the engine logs.
type SDK struct {
	// WorkflowPackages are directories of workflow files (workflow_packages,
	// default empty). Never nil.
	WorkflowPackages []string
	// LocalSandbox is the directory for run records, task working
	// directories and local data (local_sandbox, default
	// <os.UserCacheDir()>/goflyte/sandbox, or <os.TempDir()>/goflyte/sandbox
	// when there is no user cache directory).
	LocalSandbox string
	// LoggingLevel is one of "debug", "info", "warn" or "error"
	// (logging_level, default "warn"). The file and environment may also
	// spell it "warning", in any case, or as Flytekit's numbers 10, 20, 30
	// and 40; the value here is always normalised.
	LoggingLevel string
	// LogFormat is how goflyte writes its log on stderr: "text" (hclog's
	// human format) or "json" (one JSON object per line) (log_format,
	// default "text"). Task logs kept in the sandbox are JSON lines either
	// way.
	LogFormat string
	// PluginDirs are searched in order for plugin binaries (plugin_dirs,
	// default: the "plugins" directory next to the running executable, then
	// <os.UserConfigDir()>/goflyte/plugins; a directory that cannot be
	// determined is left out). Never nil.
	PluginDirs []string
	// PluginTLS runs each plugin connection over mutual TLS 1.3 with
	// certificates made for that launch (plugin_tls, default false). The
	// connection is a Unix socket only the user can open either way; TLS
	// also keeps other processes of the same user from talking to it.
	PluginTLS bool
}

// Local holds the "local" block: settings of local execution.
type Local struct {
	// CacheEnabled turns the local result cache on (cache_enabled, default true).
	CacheEnabled bool
	// CacheOverwrite re-runs cacheable tasks and replaces their cached
	// results (cache_overwrite, default false).
	CacheOverwrite bool
	// CacheDir holds the cache's entries (cache_dir, default "": the
	// "cache" directory in sdk.local_sandbox). A path setting.
	CacheDir string
	// Project is the project name of local executions (project, default
	// "local"). It is never empty and contains no ":" or "/".
	Project string
	// Domain is the domain name of local executions (domain, default
	// "local"). It is never empty and contains no ":" or "/".
	Domain string
	// RawOutputDataPrefix is where runs keep the files and directories
	// their tasks return (raw_output_data_prefix, default "": each run's
	// "data" directory in the sandbox). Each run gets <prefix>/<run name>.
	// A bucket URI (s3://, gs://, azblob://) uses the aws, gcp and azure
	// settings.
	RawOutputDataPrefix string
}

// Secrets holds the "secrets" block: where the engine looks for secrets
// (see package secretsbackends, which cmd/goflyte builds the chain with).
// Note that the environment variables that override these settings
// (FLYTE_SECRETS_ENV_PREFIX, FLYTE_SECRETS_FALLBACK and so on) share the
// default secret prefix, so with that prefix no secret can be named after
// a setting of this block: env_prefix, default_dir, file_prefix,
// keychain_service, keychain_timeout_seconds, fallback, fallback_dir,
// fallback_passphrase_env or pass_dir (group "keychain" key "service" is
// FLYTE_SECRETS_KEYCHAIN_SERVICE, for example). Nor, without a warning,
// after host, port, disabled or disable_tags, Flytekit's names for the
// statsd settings (see [StatsD]).
type Secrets struct {
	// EnvPrefix is prepended to a secret's upper-cased name to find it in
	// the environment (env_prefix, default "FLYTE_SECRETS_").
	EnvPrefix string
	// DefaultDir holds one file per secret (default_dir, default "/etc/secrets").
	DefaultDir string
	// FilePrefix is prepended to a secret's name to find its file in
	// DefaultDir (file_prefix, default "").
	FilePrefix string
	// KeychainService is the service under which secrets are stored in
	// the OS keychain; it also names the pass directory and the keyctl
	// keyring of a fallback (keychain_service, default "goflyte"). It is
	// never empty and contains no ":" or "/".
	KeychainService string
	// KeychainTimeoutSeconds bounds each call to the OS keychain, so that
	// a missing or hung D-Bus fails fast (keychain_timeout_seconds,
	// default 3). 0 means the default. See [Secrets.KeychainTimeout].
	KeychainTimeoutSeconds int
	// Fallback replaces the OS keychain when it is unreachable (no D-Bus
	// session bus, no Secret Service): "" for none, "file" for an
	// encrypted file keyring in FallbackDir, "pass" for the pass store in
	// PassDir, "keyctl" for the Linux kernel keyring (not persistent), or
	// "auto" for pass when it is set up and the encrypted file otherwise
	// (fallback, default ""). Any case is accepted as input; the value
	// here is always lower case.
	Fallback string
	// FallbackDir is the directory of the encrypted file keyring
	// (fallback_dir, default "", which means
	// <os.UserConfigDir()>/goflyte/keyring). A path setting.
	FallbackDir string
	// FallbackPassphraseEnv names the environment variable that holds the
	// encrypted file keyring's passphrase; without it goflyte asks on the
	// terminal (fallback_passphrase_env, default
	// "GOFLYTE_KEYRING_PASSPHRASE"). It is a valid variable name.
	FallbackPassphraseEnv string
	// PassDir is the pass password store (pass_dir, default "", which
	// means $PASSWORD_STORE_DIR or ~/.password-store). A path setting.
	PassDir string
}

// KeychainTimeout returns KeychainTimeoutSeconds as a duration (0 when
// unset, which secretsbackends takes as its default).
func (s Secrets) KeychainTimeout() time.Duration {
	return time.Duration(s.KeychainTimeoutSeconds) * time.Second
}

// Platform holds the "platform" block: how to reach the Temporal service
// that runs workflows remotely (package remote dials it).
type Platform struct {
	// URL is the Temporal frontend, host:port (url, default
	// "localhost:30080"). A leading "dns:///" (Flytekit's form) is removed,
	// whether the value comes from the file, the environment or a flag.
	URL string
	// Insecure disables TLS (insecure, default false).
	Insecure bool
	// InsecureSkipVerify accepts any server certificate
	// (insecure_skip_verify, default false).
	InsecureSkipVerify bool
	// ConsoleEndpoint is the URL of the web console (console_endpoint, default "").
	ConsoleEndpoint string
	// CACertFilePath is a PEM file of extra trusted CAs
	// (ca_cert_file_path, default ""). A path setting.
	CACertFilePath string
	// HTTPProxyURL is an HTTP proxy that connections to URL tunnel through
	// with CONNECT (http_proxy_url, default ""): "http://[user:pass@]host:port".
	HTTPProxyURL string
	// Namespace is the Temporal namespace (namespace, default "default").
	Namespace string
	// TaskQueue is the task queue prefix (task_queue, default "goflyte");
	// each plugin's tasks go to "<task_queue>.<plugin>".
	TaskQueue string
	// Compression is the gRPC compression of the connections to URL
	// (compression, default "none"): "none", or "gzip" for a slow link
	// (the Temporal SDK's own default), which costs CPU in the client and
	// the server for every call.
	Compression string
}

// Credentials holds the "credentials" block: how to authenticate to the
// platform.
type Credentials struct {
	// Command prints an access token (command, default empty). Never nil.
	Command []string
	// ProxyCommand prints a token for an authenticating proxy
	// (proxy_command, default empty). Never nil.
	ProxyCommand []string
	// ClientID is the OAuth client id (client_id, default "").
	ClientID string
	// ClientSecret is the OAuth client secret (client_secret, default "").
	// Secret-bearing: [Config.Settings] masks it.
	ClientSecret string
	// ClientSecretLocation is a file holding the client secret
	// (client_secret_location, default ""). A path setting.
	ClientSecretLocation string
	// ClientSecretEnvVar names an environment variable holding the client
	// secret (client_secret_env_var, default "").
	ClientSecretEnvVar string
	// Scopes are the OAuth scopes to request (scopes, default empty). Never nil.
	Scopes []string
	// AuthMode is one of "standard", "basic", "client_credentials",
	// "external_process", "ClientSecret", "Pkce", "ExternalCommand" or
	// "DeviceFlow" (auth_mode, default "standard"). Any case is accepted as
	// input; the value here is always spelled as in this list.
	AuthMode string
	// Audience is the OAuth audience (audience, default "").
	Audience string
	// Issuer is the OIDC issuer whose discovery document gives the
	// authorization, token and device endpoints (issuer, default "").
	// goflyte's own setting: Flytekit asks the platform, which Temporal
	// cannot answer.
	Issuer string
}

// AWS holds the "aws" block: S3-compatible storage access.
type AWS struct {
	// Endpoint is the S3 endpoint URL (endpoint, default "").
	Endpoint string
	// AccessKeyID is the access key id (access_key_id, default "").
	AccessKeyID string
	// SecretAccessKey is the secret access key (secret_access_key, default "").
	// Secret-bearing: [Config.Settings] masks it.
	SecretAccessKey string
	// AddressingStyle is "", "path", "virtual" or "auto"
	// (addressing_style, default "").
	AddressingStyle string
	// EnableDebug logs S3 requests (enable_debug, default false).
	EnableDebug bool
	// Retries is how often a failed request is retried (retries, default 3).
	// It is a whole number, at least 0.
	Retries int
	// BackoffSeconds is the pause between retries in whole seconds
	// (backoff_seconds, default 5), at least 0. See [AWS.Backoff].
	BackoffSeconds int
}

// Azure holds the "azure" block: Azure storage access.
type Azure struct {
	// StorageAccountName is the storage account (storage_account_name, default "").
	StorageAccountName string
	// StorageAccountKey is the storage account key (storage_account_key,
	// default ""). Secret-bearing: [Config.Settings] masks it.
	StorageAccountKey string
	// TenantID is the Entra tenant (tenant_id, default "").
	TenantID string
	// ClientID is the service principal's client id (client_id, default "").
	ClientID string
	// ClientSecret is the service principal's secret (client_secret,
	// default ""). Secret-bearing: [Config.Settings] masks it.
	ClientSecret string
}

// GCP holds the "gcp" block: Google Cloud Storage access.
type GCP struct {
	// GsutilParallelism runs gsutil with -m (gsutil_parallelism, default false).
	GsutilParallelism bool
}

// StatsD holds the "statsd" block: where tasks and the engine send
// metrics as they happen. Metrics are always kept in the run record; they
// are sent only when [StatsD.Enabled].
//
// Flytekit reads these settings from its secrets section by mistake
// (host, port, disabled, disable_tags, and FLYTE_SECRETS_HOST and so on).
// goflyte accepts those names too, with a deprecation warning, for the
// settings that the statsd block and FLYTE_STATSD_* leave unset. A value
// taken from a FLYTE_SECRETS_* variable may be a secret: [Config.Settings]
// masks it.
type StatsD struct {
	// Host is the StatsD server's host name or IP address (host, default
	// ""). Empty means metrics are not sent.
	Host string
	// Port is the server's UDP port (port, default 8125).
	Port int
	// Disabled turns sending off even with a host (disabled, default false).
	Disabled bool
	// DisableTags sends metrics without their tags (disable_tags, default
	// false). The run record keeps the tags.
	DisableTags bool
	// Prefix starts every metric name sent, followed by "." (prefix,
	// default "goflyte").
	Prefix string
}

// Enabled reports whether metrics are sent: a host is set and sending is
// not disabled.
func (s StatsD) Enabled() bool { return s.Host != "" && !s.Disabled }

// SourceKind says which layer of the configuration a value came from.
type SourceKind int

// The layers, from lowest to highest precedence.
const (
	SourceDefault SourceKind = iota // the built-in default
	SourceFile                      // the configuration file
	SourceEnv                       // a FLYTE_<SECTION>_<KEY> environment variable
	SourceFlag                      // a command-line flag, via [Config.Override]
)

// String returns "default", "file", "env" or "flag".
func (k SourceKind) String() string {
	switch k {
	case SourceDefault:
		return "default"
	case SourceFile:
		return "file"
	case SourceEnv:
		return "env"
	case SourceFlag:
		return "flag"
	}
	return "SourceKind(" + strconv.Itoa(int(k)) + ")"
}

// Source says where a setting's value came from. The zero Source is
// SourceDefault.
type Source struct {
	Kind SourceKind
	// Range is the attribute in the configuration file (SourceFile only).
	Range hcl.Range
	// Name is the environment variable (SourceEnv) or the flag, with its
	// leading dashes (SourceFlag).
	Name string
}

// String describes the source for people: "default", "flyte.hcl:12",
// "env FLYTE_AWS_RETRIES" or "flag --log-level". It never contains a value.
func (s Source) String() string {
	switch s.Kind {
	case SourceFile:
		return fmt.Sprintf("%s:%d", s.Range.Filename, s.Range.Start.Line)
	case SourceEnv:
		return "env " + s.Name
	case SourceFlag:
		return "flag " + s.Name
	}
	return s.Kind.String()
}

// MarshalText encodes the source as [Source.String], so that a [Setting]
// marshals to readable JSON.
func (s Source) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// Mask replaces the value of a secret-bearing setting that is set, in both
// [Setting.Value] and [Setting.Display].
const Mask = "********"

// Setting is one effective setting, as listed by [Config.Settings] for
// `goflyte config show`.
type Setting struct {
	Section string `json:"section"` // "aws"
	Key     string `json:"key"`     // "retries"
	// Value is the typed value: string, bool, int or []string (a copy). For
	// a secret-bearing setting that is set it is the string [Mask] instead,
	// so that a Setting never carries a secret; read the Config field when
	// the secret itself is needed.
	Value any `json:"value"`
	// Display is the value in the form a FLYTE_* environment variable takes:
	// strings as they are, booleans as true or false, numbers in decimal,
	// lists joined with ", ". Secret-bearing settings that are set show [Mask];
	// a URL with a password in it shows it as "xxxxx" (url.URL.Redacted),
	// in Value too.
	Display string `json:"display"`
	// Secret reports whether the setting is secret-bearing.
	Secret bool   `json:"secret"`
	Source Source `json:"source"`
}

// Name returns "section.key", the form [Config.Override] and [Keys] use.
func (s Setting) Name() string { return s.Section + "." + s.Key }

// EnvVar returns the environment variable that overrides the setting, such
// as FLYTE_AWS_RETRIES.
func (s Setting) EnvVar() string { return envName(s.Section, s.Key) }

// Settings returns every setting with its effective value and source. The
// order is stable: sections in the order sdk, local, secrets, platform,
// credentials, aws, azure, gcp, statsd, and keys within a section in the order
// they are documented in the sample flyte.hcl (the order of [Keys]).
func (c *Config) Settings() []Setting {
	out := make([]Setting, 0, len(table))
	for i := range table {
		k := &table[i]
		v := k.get(c)
		s := Setting{
			Section: k.section,
			Key:     k.name,
			Value:   v,
			Display: display(v),
			Secret:  k.secret,
			Source:  c.sources[k.id()],
		}
		if (k.secret || c.fromSecretEnv(k)) && s.Display != "" {
			s.Value, s.Display = Mask, Mask
		} else if str, ok := v.(string); ok {
			// A URL may carry a password (platform.http_proxy_url =
			// "http://user:password@proxy:3128"): show it without.
			if u, err := url.Parse(str); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					s.Value, s.Display = u.Redacted(), u.Redacted()
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// Source returns where the setting "section.key" got its value, and false
// if there is no such setting.
func (c *Config) Source(key string) (Source, bool) {
	if lookupID(key) == nil {
		return Source{}, false
	}
	return c.sources[key], true
}

// Keys returns the names of all settings as "section.key", in the order of
// [Config.Settings].
func Keys() []string {
	out := make([]string, len(table))
	for i := range table {
		out[i] = table[i].id()
	}
	return out
}

// Backoff returns BackoffSeconds as a duration.
func (a AWS) Backoff() time.Duration {
	return time.Duration(a.BackoffSeconds) * time.Second
}

func display(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case []string:
		return strings.Join(v, ", ")
	}
	panic(fmt.Sprintf("config: unexpected setting type %T", v))
}

func (c *Config) setSource(k *key, s Source) {
	if c.sources == nil {
		c.sources = make(map[string]Source)
	}
	c.sources[k.id()] = s
}

// sectionNames returns the sections in table order.
func sectionNames() []string {
	var out []string
	for i := range table {
		if !slices.Contains(out, table[i].section) {
			out = append(out, table[i].section)
		}
	}
	return out
}

// CachePath returns the directory of the local result cache: CacheDir, or
// "cache" in the sandbox.
func (c *Config) CachePath() string {
	if c.Local.CacheDir != "" {
		return c.Local.CacheDir
	}
	return filepath.Join(c.SDK.LocalSandbox, "cache")
}
