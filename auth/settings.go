package auth

import (
	"fmt"
	"os"
	"strings"

	"github.com/goflyte/goflyte/engine/config"
)

// Mode is how tokens are obtained. The values are Flytekit's canonical
// AuthType spellings.
type Mode string

const (
	// ModeClientCredentials is the OAuth2 client credentials grant with
	// client_id and a client secret (auth_mode client_credentials, basic
	// or ClientSecret; forced by a secret from client_secret_location or
	// client_secret_env_var).
	ModeClientCredentials Mode = "ClientSecret"
	// ModePKCE is the authorization code grant with PKCE (S256) in a
	// browser, redirected to a loopback server (auth_mode standard, the
	// default, or Pkce).
	ModePKCE Mode = "Pkce"
	// ModeDeviceFlow is the device authorization grant of RFC 8628
	// (auth_mode DeviceFlow).
	ModeDeviceFlow Mode = "DeviceFlow"
	// ModeCommand runs credentials.command, whose trimmed stdout is the
	// token (auth_mode ExternalCommand or external_process, or a command
	// with no auth_mode).
	ModeCommand Mode = "ExternalCommand"
)

// Settings are the credentials block resolved: the mode chosen and the
// client secret read, with Flytekit's precedence. Build them with
// [FromConfig]. ClientSecret is a secret: never print Settings with %v.
type Settings struct {
	Mode     Mode
	Issuer   string
	ClientID string
	// ClientSecret is the secret itself; SecretFrom says where it came
	// from, for messages ("credentials.client_secret", "file /x",
	// "env VAR"), "" when there is none.
	ClientSecret, SecretFrom string
	Scopes                   []string
	Audience                 string
	Command                  []string
	ProxyCommand             []string
	// SecretEnvVar is client_secret_env_var: the variable children must
	// not inherit.
	SecretEnvVar string
	// HTTPProxyURL (platform.http_proxy_url) and CACertFile
	// (platform.ca_cert_file_path) apply to the identity provider too.
	HTTPProxyURL, CACertFile string
}

// ConfigError is a problem with the credentials settings: exit code 2 in
// the CLI, nothing is sent anywhere. It names the settings to look at and
// never holds a secret.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// FromConfig resolves the credentials block as Flytekit's
// PlatformConfig.auto does (FLYTEKIT.md §1.4), later steps winning:
//
//  1. the secret is credentials.client_secret;
//  2. a non-empty client_secret_location file replaces it (a trailing
//     newline means the content is trimmed), and forces ClientSecret mode;
//  3. a non-empty variable named by client_secret_env_var replaces it, and
//     forces ClientSecret mode;
//  4. the mode is auth_mode; a command with auth_mode left at its default
//     selects the command mode; a secret from 2 or 3 forces ClientSecret.
//
// getenv nil means os.LookupEnv. A missing secret file is a *ConfigError.
func FromConfig(cfg *config.Config, getenv func(string) (string, bool)) (Settings, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	c := cfg.Credentials
	s := Settings{
		Issuer: c.Issuer, ClientID: c.ClientID, Audience: c.Audience,
		Scopes: c.Scopes, Command: c.Command, ProxyCommand: c.ProxyCommand,
		SecretEnvVar: c.ClientSecretEnvVar,
		HTTPProxyURL: cfg.Platform.HTTPProxyURL, CACertFile: cfg.Platform.CACertFilePath,
	}
	if c.ClientSecret != "" {
		s.ClientSecret, s.SecretFrom = c.ClientSecret, "credentials.client_secret"
	}
	forced := false
	if path := c.ClientSecretLocation; path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Settings{}, &ConfigError{Msg: fmt.Sprintf("credentials.client_secret_location: cannot read the client secret: %v", err)}
		}
		v := string(b)
		if strings.HasSuffix(v, "\n") {
			v = strings.TrimSpace(v)
		}
		if v != "" {
			s.ClientSecret, s.SecretFrom, forced = v, "file "+path, true
		}
	}
	if name := c.ClientSecretEnvVar; name != "" {
		if v, ok := getenv(name); ok && v != "" {
			s.ClientSecret, s.SecretFrom, forced = v, "env "+name, true
		}
	}
	s.Mode = modeOf(c.AuthMode)
	if src, _ := cfg.Source("credentials.auth_mode"); src.Kind == config.SourceDefault && len(c.Command) > 0 {
		s.Mode = ModeCommand
	}
	if forced {
		s.Mode = ModeClientCredentials
	}
	return s, nil
}

// modeOf maps an auth_mode spelling (as engine/config canonicalises it)
// to a Mode.
func modeOf(authMode string) Mode {
	switch authMode {
	case "basic", "client_credentials", "ClientSecret":
		return ModeClientCredentials
	case "DeviceFlow":
		return ModeDeviceFlow
	case "ExternalCommand", "external_process":
		return ModeCommand
	}
	return ModePKCE // "standard", "Pkce" and the default
}

// Configured reports whether the credentials block asks for a token at
// all: an issuer, a client id, a client secret or a command is set. A
// service reached without one gets no authorization header (the remote
// wiring decides; see also [NewProxy] for a proxy_command alone).
func (s Settings) Configured() bool {
	return s.Issuer != "" || s.ClientID != "" || s.ClientSecret != "" || len(s.Command) > 0
}

// Check reports what the mode needs and is not set, as a *ConfigError
// naming the settings.
func (s Settings) Check() error {
	var missing []string
	switch s.Mode {
	case ModeCommand:
		if len(s.Command) == 0 {
			return &ConfigError{Msg: "credentials: auth_mode ExternalCommand needs credentials.command (FLYTE_CREDENTIALS_COMMAND), the command that prints a token"}
		}
		return nil
	case ModeClientCredentials:
		if s.ClientSecret == "" {
			missing = append(missing, "a client secret: credentials.client_secret_location (a file), credentials.client_secret_env_var (a variable's name) or FLYTE_CREDENTIALS_CLIENT_SECRET")
		}
	}
	if s.Issuer == "" {
		missing = append(missing, "credentials.issuer (FLYTE_CREDENTIALS_ISSUER), the OIDC issuer URL")
	}
	if s.ClientID == "" {
		missing = append(missing, "credentials.client_id (FLYTE_CREDENTIALS_CLIENT_ID)")
	}
	if len(missing) == 0 {
		return nil
	}
	return &ConfigError{Msg: fmt.Sprintf("credentials: auth_mode %s needs %s", s.Mode, strings.Join(missing, "; and "))}
}

// ChildEnv returns environ without what a child process must not see: the
// FLYTE_CREDENTIALS_* variables and the variable client_secret_env_var
// names. The command and proxy_command run with it.
func (s Settings) ChildEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FLYTE_CREDENTIALS_") || s.SecretEnvVar != "" && name == s.SecretEnvVar {
			continue
		}
		out = append(out, kv)
	}
	return out
}
