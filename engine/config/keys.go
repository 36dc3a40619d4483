package config

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// key describes one setting. The table below is the single list of
// settings: decoding, environment overrides, flags, Settings and Keys all
// walk it. Adding a setting takes a field in its section struct and one
// line here.
type key struct {
	section, name string
	// field returns a pointer to the setting's field in c: *string, *bool,
	// *int or *[]string. The pointer type decides how values are parsed.
	// An int is always a whole number, at least 0.
	field func(c *Config) any
	// def is the default; nil means the zero value (an empty list for
	// lists), or a default computed in newDefaults.
	def any
	// secret marks a secret-bearing setting: its value is masked in
	// Settings and never echoed in diagnostics or errors.
	secret bool
	// path marks a path setting (or list of paths), resolved as described in
	// the package documentation.
	path bool
	// norm canonicalises and validates a string setting.
	norm func(string) (string, *problem)
}

var table = []key{
	{section: "sdk", name: "workflow_packages", path: true, field: func(c *Config) any { return &c.SDK.WorkflowPackages }},
	{section: "sdk", name: "local_sandbox", path: true, field: func(c *Config) any { return &c.SDK.LocalSandbox }},
	{section: "sdk", name: "logging_level", def: "warn", norm: normLogLevel, field: func(c *Config) any { return &c.SDK.LoggingLevel }},
	{section: "sdk", name: "log_format", def: "text", norm: oneOf("text", "json"), field: func(c *Config) any { return &c.SDK.LogFormat }},
	{section: "sdk", name: "plugin_dirs", path: true, field: func(c *Config) any { return &c.SDK.PluginDirs }},
	{section: "sdk", name: "plugin_tls", def: false, field: func(c *Config) any { return &c.SDK.PluginTLS }},

	{section: "local", name: "cache_enabled", def: true, field: func(c *Config) any { return &c.Local.CacheEnabled }},
	{section: "local", name: "cache_overwrite", field: func(c *Config) any { return &c.Local.CacheOverwrite }},
	{section: "local", name: "cache_dir", path: true, field: func(c *Config) any { return &c.Local.CacheDir }},
	{section: "local", name: "raw_output_data_prefix", norm: normDataPrefix, field: func(c *Config) any { return &c.Local.RawOutputDataPrefix }},
	{section: "local", name: "project", def: "local", norm: normName, field: func(c *Config) any { return &c.Local.Project }},
	{section: "local", name: "domain", def: "local", norm: normName, field: func(c *Config) any { return &c.Local.Domain }},

	{section: "secrets", name: "env_prefix", def: "FLYTE_SECRETS_", field: func(c *Config) any { return &c.Secrets.EnvPrefix }},
	{section: "secrets", name: "default_dir", def: "/etc/secrets", path: true, field: func(c *Config) any { return &c.Secrets.DefaultDir }},
	{section: "secrets", name: "file_prefix", field: func(c *Config) any { return &c.Secrets.FilePrefix }},
	{section: "secrets", name: "keychain_service", def: "goflyte", norm: normName, field: func(c *Config) any { return &c.Secrets.KeychainService }},
	{section: "secrets", name: "keychain_timeout_seconds", def: 3, field: func(c *Config) any { return &c.Secrets.KeychainTimeoutSeconds }},
	{section: "secrets", name: "fallback", norm: oneOf("", "auto", "file", "pass", "keyctl"), field: func(c *Config) any { return &c.Secrets.Fallback }},
	{section: "secrets", name: "fallback_dir", path: true, field: func(c *Config) any { return &c.Secrets.FallbackDir }},
	{section: "secrets", name: "fallback_passphrase_env", def: "GOFLYTE_KEYRING_PASSPHRASE", norm: normEnvVarName, field: func(c *Config) any { return &c.Secrets.FallbackPassphraseEnv }},
	{section: "secrets", name: "pass_dir", path: true, field: func(c *Config) any { return &c.Secrets.PassDir }},

	{section: "platform", name: "url", def: "localhost:30080", norm: normURL, field: func(c *Config) any { return &c.Platform.URL }},
	{section: "platform", name: "insecure", field: func(c *Config) any { return &c.Platform.Insecure }},
	{section: "platform", name: "insecure_skip_verify", field: func(c *Config) any { return &c.Platform.InsecureSkipVerify }},
	{section: "platform", name: "console_endpoint", field: func(c *Config) any { return &c.Platform.ConsoleEndpoint }},
	{section: "platform", name: "ca_cert_file_path", path: true, field: func(c *Config) any { return &c.Platform.CACertFilePath }},
	{section: "platform", name: "http_proxy_url", field: func(c *Config) any { return &c.Platform.HTTPProxyURL }},
	{section: "platform", name: "namespace", def: "default", norm: normNamespace, field: func(c *Config) any { return &c.Platform.Namespace }},
	{section: "platform", name: "task_queue", def: "goflyte", norm: normTaskQueue, field: func(c *Config) any { return &c.Platform.TaskQueue }},
	{section: "platform", name: "compression", def: "none", norm: oneOf("none", "gzip"), field: func(c *Config) any { return &c.Platform.Compression }},

	{section: "credentials", name: "command", field: func(c *Config) any { return &c.Credentials.Command }},
	{section: "credentials", name: "proxy_command", field: func(c *Config) any { return &c.Credentials.ProxyCommand }},
	{section: "credentials", name: "client_id", field: func(c *Config) any { return &c.Credentials.ClientID }},
	{section: "credentials", name: "client_secret", secret: true, field: func(c *Config) any { return &c.Credentials.ClientSecret }},
	{section: "credentials", name: "client_secret_location", path: true, field: func(c *Config) any { return &c.Credentials.ClientSecretLocation }},
	{section: "credentials", name: "client_secret_env_var", field: func(c *Config) any { return &c.Credentials.ClientSecretEnvVar }},
	{section: "credentials", name: "scopes", field: func(c *Config) any { return &c.Credentials.Scopes }},
	{section: "credentials", name: "auth_mode", def: "standard", norm: oneOf(authModes...), field: func(c *Config) any { return &c.Credentials.AuthMode }},
	{section: "credentials", name: "audience", field: func(c *Config) any { return &c.Credentials.Audience }},
	{section: "credentials", name: "issuer", norm: normIssuer, field: func(c *Config) any { return &c.Credentials.Issuer }},

	{section: "aws", name: "endpoint", field: func(c *Config) any { return &c.AWS.Endpoint }},
	{section: "aws", name: "access_key_id", field: func(c *Config) any { return &c.AWS.AccessKeyID }},
	{section: "aws", name: "secret_access_key", secret: true, field: func(c *Config) any { return &c.AWS.SecretAccessKey }},
	{section: "aws", name: "addressing_style", norm: oneOf("", "path", "virtual", "auto"), field: func(c *Config) any { return &c.AWS.AddressingStyle }},
	{section: "aws", name: "enable_debug", field: func(c *Config) any { return &c.AWS.EnableDebug }},
	{section: "aws", name: "retries", def: 3, field: func(c *Config) any { return &c.AWS.Retries }},
	{section: "aws", name: "backoff_seconds", def: 5, field: func(c *Config) any { return &c.AWS.BackoffSeconds }},

	{section: "azure", name: "storage_account_name", field: func(c *Config) any { return &c.Azure.StorageAccountName }},
	{section: "azure", name: "storage_account_key", secret: true, field: func(c *Config) any { return &c.Azure.StorageAccountKey }},
	{section: "azure", name: "tenant_id", field: func(c *Config) any { return &c.Azure.TenantID }},
	{section: "azure", name: "client_id", field: func(c *Config) any { return &c.Azure.ClientID }},
	{section: "azure", name: "client_secret", secret: true, field: func(c *Config) any { return &c.Azure.ClientSecret }},

	{section: "gcp", name: "gsutil_parallelism", field: func(c *Config) any { return &c.GCP.GsutilParallelism }},

	{section: "statsd", name: "host", field: func(c *Config) any { return &c.StatsD.Host }},
	{section: "statsd", name: "port", def: 8125, field: func(c *Config) any { return &c.StatsD.Port }},
	{section: "statsd", name: "disabled", field: func(c *Config) any { return &c.StatsD.Disabled }},
	{section: "statsd", name: "disable_tags", field: func(c *Config) any { return &c.StatsD.DisableTags }},
	{section: "statsd", name: "prefix", def: "goflyte", norm: normStatsPrefix, field: func(c *Config) any { return &c.StatsD.Prefix }},
}

// authModes are Flytekit's AuthType values, in canonical spelling.
var authModes = []string{"standard", "basic", "client_credentials", "external_process", "ClientSecret", "Pkce", "ExternalCommand", "DeviceFlow"}

func (k *key) id() string      { return k.section + "." + k.name }
func (k *key) envName() string { return envName(k.section, k.name) }

func envName(section, name string) string {
	return "FLYTE_" + strings.ToUpper(section) + "_" + strings.ToUpper(name)
}

func lookupKey(section, name string) *key {
	for i := range table {
		if table[i].section == section && table[i].name == name {
			return &table[i]
		}
	}
	return nil
}

func lookupID(id string) *key {
	section, name, ok := strings.Cut(id, ".")
	if !ok {
		return nil
	}
	return lookupKey(section, name)
}

func (k *key) get(c *Config) any {
	switch p := k.field(c).(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	case *[]string:
		return append([]string{}, *p...)
	}
	panic("config: bad field type for " + k.id())
}

// set stores v, which has the field's type.
func (k *key) set(c *Config, v any) {
	switch p := k.field(c).(type) {
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *[]string:
		*p = append([]string{}, v.([]string)...)
	default:
		panic("config: bad field type for " + k.id())
	}
}

// problem says what is wrong with a value: it is completed to "<setting>
// must be <expected>, not <value>." with an optional did-you-mean.
type problem struct {
	expected string // "a whole number, at least 0"
	suggest  string // a close valid value, or ""
}

const (
	expectString = "a string"
	expectBool   = "true or false"
	expectInt    = "a whole number, at least 0"
	expectList   = `a list of strings, such as ["a", "b"]`
)

// parseText parses a value given as text, by an environment variable or a
// flag. set is false when the value means "not set": an empty value for
// anything but a boolean.
func (k *key) parseText(s string) (v any, set bool, p *problem) {
	switch k.field(&Config{}).(type) {
	case *bool:
		return parseBool(s), true, nil
	case *string:
		if s == "" {
			return nil, false, nil
		}
		if k.norm != nil {
			n, p := k.norm(s)
			return n, p == nil, p
		}
		return s, true, nil
	case *int:
		if s == "" {
			return nil, false, nil
		}
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || i < 0 {
			return nil, false, &problem{expected: expectInt}
		}
		return i, true, nil
	case *[]string:
		if s == "" {
			return nil, false, nil
		}
		return splitList(s), true, nil
	}
	panic("config: bad field type for " + k.id())
}

// parseBool is Flytekit's bool_transformer: false for "", false, 0, off
// and no in any case, true for anything else.
func parseBool(s string) bool {
	switch strings.ToLower(s) {
	case "", "false", "0", "off", "no":
		return false
	}
	return true
}

// splitList splits a comma-separated list, trimming spaces around items and
// dropping empty items.
func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseValue converts a non-null HCL value to the setting's type, using
// HCL's usual conversions (so "3" is a number and 3 is a string).
func (k *key) parseValue(val cty.Value) (any, *problem) {
	switch k.field(&Config{}).(type) {
	case *bool:
		b, err := convert.Convert(val, cty.Bool)
		if err != nil {
			return nil, &problem{expected: expectBool}
		}
		return b.True(), nil
	case *string:
		s, err := convert.Convert(val, cty.String)
		if err != nil {
			return nil, &problem{expected: expectString}
		}
		if k.norm != nil {
			return k.norm(s.AsString())
		}
		return s.AsString(), nil
	case *int:
		n, err := convert.Convert(val, cty.Number)
		if err != nil {
			return nil, &problem{expected: expectInt}
		}
		f := n.AsBigFloat()
		if !f.IsInt() || f.Sign() < 0 {
			return nil, &problem{expected: expectInt}
		}
		i, acc := f.Int64()
		if acc != big.Exact || i > math.MaxInt32 {
			return nil, &problem{expected: "a whole number, at most " + strconv.Itoa(math.MaxInt32)}
		}
		return int(i), nil
	case *[]string:
		l, err := convert.Convert(val, cty.List(cty.String))
		if err != nil {
			return nil, &problem{expected: expectList}
		}
		out := []string{}
		for _, e := range l.AsValueSlice() {
			if e.IsNull() {
				return nil, &problem{expected: expectList + " with no null items"}
			}
			out = append(out, e.AsString())
		}
		return out, nil
	}
	panic("config: bad field type for " + k.id())
}

// resolve makes the path settings absolute: "~" and a leading "~/" expand
// to home, and other relative paths are joined to base. Empty paths stay
// empty. Values of other settings are returned unchanged.
func (k *key) resolve(v any, base, home string) (any, *problem) {
	if !k.path {
		return v, nil
	}
	one := func(p string) (string, *problem) {
		if p == "" {
			return "", nil
		}
		if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
			if home == "" {
				return "", &problem{expected: "a path that does not start with ~, because the home directory is unknown"}
			}
			return filepath.Join(home, p[1:]), nil
		}
		if filepath.IsAbs(p) {
			return filepath.Clean(p), nil
		}
		return filepath.Join(base, p), nil
	}
	switch v := v.(type) {
	case string:
		return one(v)
	case []string:
		out := make([]string, len(v))
		for i, p := range v {
			r, prob := one(p)
			if prob != nil {
				return nil, prob
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

var logLevels = map[string]string{
	"debug": "debug", "10": "debug",
	"info": "info", "20": "info",
	"warn": "warn", "warning": "warn", "30": "warn",
	"error": "error", "40": "error",
}

func normLogLevel(s string) (string, *problem) {
	l := strings.ToLower(strings.TrimSpace(s))
	if n, ok := logLevels[l]; ok {
		return n, nil
	}
	return "", &problem{
		expected: `one of "debug", "info", "warn" or "error" (Flytekit's numeric levels 10, 20, 30 and 40 work too)`,
		suggest:  suggest(l, []string{"debug", "info", "warn", "warning", "error"}),
	}
}

// oneOf matches s case-insensitively against allowed and returns the
// canonical spelling.
func oneOf(allowed ...string) func(string) (string, *problem) {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	expected := "one of " + joinWords(quoted, "or")
	return func(s string) (string, *problem) {
		for _, a := range allowed {
			if strings.EqualFold(s, a) {
				return a, nil
			}
		}
		return "", &problem{expected: expected, suggest: suggestFold(s, allowed)}
	}
}

// normDataPrefix accepts "" (the run's sandbox), a local directory or a
// URI that the data store can open.
func normDataPrefix(s string) (string, *problem) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s, nil
	}
	switch scheme {
	case "file", "s3", "gs", "azblob":
		if rest != "" && !strings.HasPrefix(rest, "/") {
			return s, nil
		}
	}
	return "", &problem{expected: `a local directory, or a URI: s3://bucket/prefix, gs://bucket/prefix, azblob://container/prefix or file:///dir`}
}

func normName(s string) (string, *problem) {
	if s == "" || strings.ContainsAny(s, ":/") {
		return "", &problem{expected: `a non-empty name without ":" or "/"`}
	}
	return s, nil
}

// normEnvVarName accepts the name of an environment variable, as
// Flytekit's Secret.env_var does: letters, digits and "_", not starting
// with a digit.
func normEnvVarName(s string) (string, *problem) {
	ok := s != ""
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			ok = false
		}
	}
	if !ok {
		return "", &problem{expected: `an environment variable name: letters, digits and "_", not starting with a digit`}
	}
	return s, nil
}

// normStatsPrefix accepts a StatsD metric name prefix: characters that
// StatsD gives a meaning to would break every line sent.
func normStatsPrefix(s string) (string, *problem) {
	if strings.ContainsAny(s, ":|@#, \t\n\r") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return "", &problem{expected: `a dotted metric name prefix such as "goflyte", without spaces or any of : | @ # , and not starting or ending with "."`}
	}
	return s, nil
}

// normIssuer accepts an OIDC issuer: an http:// or https:// URL.
func normIssuer(s string) (string, *problem) {
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") || len(s) < len("http://x") {
		return "", &problem{expected: `the OIDC issuer's URL, such as "https://login.example.com/" (its discovery document is at <issuer>/.well-known/openid-configuration)`}
	}
	return s, nil
}

func normURL(s string) (string, *problem) {
	return strings.TrimPrefix(s, "dns:///"), nil
}

// normNamespace accepts a Temporal namespace name: letters, digits, "-",
// "_" and ".", at most 255 characters, as the Temporal server requires.
func normNamespace(s string) (string, *problem) {
	if !temporalName(s, 255) {
		return "", &problem{expected: `a namespace: letters, digits, "-", "_" and ".", at most 255 characters`}
	}
	return s, nil
}

// normTaskQueue accepts a task queue prefix: the same characters as a
// namespace, since plugin queues are "<task_queue>.<plugin>".
func normTaskQueue(s string) (string, *problem) {
	if !temporalName(s, 200) {
		return "", &problem{expected: `a task queue name: letters, digits, "-", "_" and ".", at most 200 characters`}
	}
	return s, nil
}

func temporalName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// suggest returns the name closest to given (the first of equals) within
// a small edit distance, or "". The threshold is hcl's.
func suggest(given string, names []string) string {
	if given == "" {
		return ""
	}
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// suggestFold is suggest ignoring case; it returns the name as spelled in names.
func suggestFold(given string, names []string) string {
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	s := suggest(strings.ToLower(given), lower)
	for i := range lower {
		if s != "" && lower[i] == s {
			return names[i]
		}
	}
	return ""
}

// joinWords joins items as "a, b and c" (conj "and") or "a, b or c".
func joinWords(items []string, conj string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

// describe shows a value in a diagnostic: the value itself when it is
// short and not secret, otherwise its type.
func describe(val cty.Value, secret bool) string {
	t := val.Type()
	switch {
	case t == cty.String:
		if secret {
			return "a string"
		}
		return quoteShort(val.AsString())
	case t == cty.Number:
		if secret {
			return "a number"
		}
		return val.AsBigFloat().Text('g', -1)
	case t == cty.Bool:
		if secret {
			return "a bool"
		}
		return strconv.FormatBool(val.True())
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		return "a list"
	case t.IsMapType() || t.IsObjectType():
		return "an object"
	}
	return fmt.Sprintf("a value of type %s", t.FriendlyName())
}

// describeText shows a text value (from the environment or a flag).
func describeText(s string, secret bool) string {
	if secret {
		return "the given value"
	}
	return quoteShort(s)
}

func quoteShort(s string) string {
	const max = 60
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// explain completes a problem into sentences: "<subject> must be
// <expected>, not <got>. Did you mean "x"?"
func (p *problem) explain(subject, got string) string {
	msg := fmt.Sprintf("%s must be %s, not %s.", subject, p.expected, got)
	if p.suggest != "" {
		msg += fmt.Sprintf(" Did you mean %q?", p.suggest)
	}
	return msg
}
