package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/secretsbackends"
)

// secretsOptions builds the secrets chain's options from the secrets block
// of flyte.hcl. goflyte only runs locally, so the unprefixed env lookup
// (Flytekit's local-mode rule) is always on.
func secretsOptions(cfg *config.Config, logger hclog.Logger) secretsbackends.Options {
	s := cfg.Secrets
	return secretsbackends.Options{
		EnvPrefix:       s.EnvPrefix,
		Local:           true,
		DefaultDir:      s.DefaultDir,
		FilePrefix:      s.FilePrefix,
		KeychainService: s.KeychainService,
		KeychainTimeout: s.KeychainTimeout(),
		Fallback:        s.Fallback,
		FallbackDir:     s.FallbackDir,
		PassphraseEnv:   s.FallbackPassphraseEnv,
		PassDir:         s.PassDir,
		Logger:          logger,
	}
}

func secretsCommand() *command {
	return &command{
		name:    "secrets",
		args:    "set|get|delete|where [GROUP] KEY | list | doctor  [flags]",
		summary: "Store, find and check the secrets tasks use",
		help: `
A task gets a secret it declares from the first place that has it:
  1. the env var <env_prefix><GROUP>_<KEY> (FLYTE_SECRETS_GITHUB_TOKEN),
  2. the env var <GROUP>_<KEY> (local runs only, as in Flytekit),
  3. the file <default_dir>/<group>/<file_prefix><key>,
  4. the OS keychain (service "goflyte", account "group/key"), or the
     fallback configured in the secrets block of flyte.hcl.
A secret without a group is named by its KEY alone.

  goflyte secrets set GROUP KEY      store a secret in the keychain; the value
                                     comes from stdin, or a hidden prompt on a
                                     terminal, never from the command line
  goflyte secrets get GROUP KEY      say where the secret is found; --reveal
                                     prints its value
  goflyte secrets delete GROUP KEY   remove it from the keychain
  goflyte secrets list               names in the keychain (never values)
  goflyte secrets where GROUP KEY    every place looked, in order, and what
                                     each one said
  goflyte secrets doctor             which keychain backends work here, and
                                     why not (goflyte doctor also checks
                                     the credentials)

Flags:
  --version V   the secret's version (FLYTE_SECRETS_GROUP_V_KEY, group/V/key)
  --reveal      with get: print the value
  --json        print JSON`,
		run: runSecrets,
	}
}

func doctorCommand() *command {
	return &command{
		name:    "doctor",
		args:    "[--json]",
		summary: "Check the secret stores, the platform and the remote engine's credentials",
		help: `
Says which secret stores (keychains) work on this machine, and why not (as
goflyte secrets doctor); when platform.url is set, whether the platform
(the Temporal frontend) is reachable within 5 s, TLS works as configured
and the namespace exists, with the time the check took (a failure names
the setting to look at); and for the credentials block: the auth mode,
whether a token is cached, where, and until when (an RFC 3339 time and the
time left), and whether the platform accepts it: the namespace check is
an authorized call made with the token. It never prints a token and never
logs in interactively (Pkce and DeviceFlow use the cached token or its
refresh token; client credentials and credentials.command get a token as
any remote command would).

Exit status: 0 when platform.url is not set or the platform answered; 2
when it refused the credentials (or wanted a token and none is
configured) or a credentials setting is wrong; 1 when it could not be
reached. The report is printed in full either way.

Flags:
  --json   print {"auth_mode", "token_cached", "expires_at", "cached_in",
           "token_accepted" (true, false, or null when not checked),
           "error", "secret_backends": [{"backend", "usable", "detail"}],
           "platform": {"url", "namespace", "tls", "reachable", "took_ms",
           "setting", "refused", "error", ...} (only when platform.url is
           set)}`,
		run: runDoctor,
	}
}

func runDoctor(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("doctor")
	asJSON := fs.Bool("json", false, "")
	if err := c.parseFlags(fs, args, 0); err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	logger := c.logger(cfg)
	statuses := secretsbackends.Doctor(ctx, secretsOptions(cfg, logger))
	var platform *platformRow
	if platformSet(cfg) {
		row := checkPlatform(ctx, cfg, logger)
		platform = &row
	}
	// After the platform check, which may have cached a new token.
	creds := c.credentialsStatus(ctx, cfg, logger)
	accepted := platform.tokenAccepted()
	// The report is printed in full; then a platform that failed its
	// check makes the exit status (2 for credentials, see cli.report).
	var failed error
	if platform != nil && !platform.Usable {
		failed = platform.Platform.Err
	}
	if *asJSON {
		type backendJSON struct {
			Backend string `json:"backend"`
			Usable  bool   `json:"usable"`
			Detail  string `json:"detail"`
		}
		out := struct {
			tokenStatus
			TokenAccepted  *bool          `json:"token_accepted"`
			SecretBackends []backendJSON  `json:"secret_backends"`
			Platform       *remote.Status `json:"platform,omitempty"`
		}{tokenStatus: creds, TokenAccepted: accepted, SecretBackends: []backendJSON{}}
		for _, s := range statuses {
			out.SecretBackends = append(out.SecretBackends, backendJSON{s.Backend, s.Usable, s.Detail})
		}
		if platform != nil {
			out.Platform = platform.Platform
		}
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
		return failed
	}
	if err := printBackends(c, statuses); err != nil {
		return err
	}
	if platform != nil {
		usable := "no"
		if platform.Usable {
			usable = "yes"
		}
		fmt.Fprintf(c.stdout, "\nThe platform (platform.url, Temporal):\n  reachable  %s\n  %s\n", usable, platform.Detail)
	}
	fmt.Fprintln(c.stdout, "\nCredentials for the remote engine:")
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	mode := creds.AuthMode
	if mode == "" {
		mode = "-"
	}
	fmt.Fprintf(tw, "  auth mode\t%s\n", mode)
	switch {
	case creds.AuthMode == string(auth.ModeCommand):
		fmt.Fprintf(tw, "  token cached\tnever (credentials.command runs when a token is needed)\n")
	case creds.TokenCached:
		fmt.Fprintf(tw, "  token cached\tyes, in %s\n", creds.CachedIn)
		fmt.Fprintf(tw, "  expires\t%s\n", expiryText(creds.ExpiresAt))
	case creds.CachedIn != "":
		fmt.Fprintf(tw, "  token cached\tno (goflyte login caches one in %s)\n", creds.CachedIn)
	}
	switch {
	case accepted != nil && *accepted:
		fmt.Fprintf(tw, "  accepted\tyes: the platform authorized a call on namespace %s with the token\n", platform.Platform.Namespace)
	case accepted != nil:
		fmt.Fprintf(tw, "  accepted\tno (see the platform's error above)\n")
	case platform == nil:
		fmt.Fprintf(tw, "  accepted\tnot checked (platform.url is not set)\n")
	case !platform.TokenSent && platform.Usable:
		fmt.Fprintf(tw, "  accepted\tno token sent: none is configured, and the platform wants none\n")
	default:
		fmt.Fprintf(tw, "  accepted\tnot checked (the platform could not be reached)\n")
	}
	if creds.Error != "" {
		fmt.Fprintf(tw, "  problem\t%s\n", creds.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return failed
}

func printBackends(c *cli, statuses []secretsbackends.Status) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tUSABLE\tDETAIL")
	for _, s := range statuses {
		usable := "no"
		if s.Usable {
			usable = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Backend, usable, s.Detail)
	}
	return tw.Flush()
}

func runSecrets(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet("secrets")
	version := fs.String("version", "", "")
	reveal := fs.Bool("reveal", false, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := c.parseArgs(fs, args, 1, 3)
	if err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	opts := secretsOptions(cfg, c.logger(cfg))
	chain := secretsbackends.New(opts)
	store := chain[len(chain)-1].(*secretsbackends.Store)

	sub, rest := pos[0], pos[1:]
	switch sub {
	case "list", "doctor":
		if len(rest) > 0 {
			return usagef("secrets %s takes no arguments", sub)
		}
	case "set", "get", "delete", "where":
		if len(rest) == 0 {
			return usagef("secrets %s: name the secret: [GROUP] KEY", sub)
		}
	default:
		return usagef("secrets: unknown subcommand %q; try goflyte help secrets", sub)
	}
	var name secretsbackends.Name
	switch len(rest) {
	case 1:
		name = secretsbackends.Name{Key: rest[0], Version: *version}
	case 2:
		name = secretsbackends.Name{Group: rest[0], Key: rest[1], Version: *version}
	}
	if len(rest) > 0 {
		if err := name.Validate(); err != nil {
			return usagef("secrets %s: %v", sub, err)
		}
	}

	switch sub {
	case "set":
		value, err := c.readSecretValue(name)
		if err != nil {
			return err
		}
		if err := store.Set(ctx, name, value); err != nil {
			return fmt.Errorf("store secret %s: %w", name, err)
		}
		fmt.Fprintf(c.stderr, "Stored %s in %s.\n", name, store.Where(name))
		return nil

	case "delete":
		if err := store.Delete(ctx, name); err != nil {
			return fmt.Errorf("delete secret %s: %w", name, err)
		}
		fmt.Fprintf(c.stderr, "Deleted %s from %s.\n", name, store.Where(name))
		return nil

	case "list":
		names, err := store.List(ctx)
		if err != nil {
			return fmt.Errorf("list secrets: %w", err)
		}
		if *asJSON {
			out := []string{}
			for _, n := range names {
				out = append(out, n.String())
			}
			return writeJSON(c.stdout, out)
		}
		if len(names) == 0 {
			fmt.Fprintln(c.stderr, "No secrets stored.")
		}
		for _, n := range names {
			fmt.Fprintln(c.stdout, n)
		}
		return nil

	case "where", "get":
		steps := chain.Trace(ctx, name)
		found := -1
		for i, s := range steps {
			if s.Found && found < 0 {
				found = i
			}
		}
		if sub == "where" {
			return c.printTrace(name, steps, found, *asJSON)
		}
		if found < 0 {
			var tried []string
			for _, s := range steps {
				if s.Err != nil {
					return fmt.Errorf("secret %s: %s: %w", name, s.Where, s.Err)
				}
				tried = append(tried, s.Where)
			}
			return &secretsbackends.NotFoundError{Name: name, Tried: tried}
		}
		if !*reveal {
			if *asJSON {
				return writeJSON(c.stdout, map[string]any{"name": name.String(), "found": true, "where": steps[found].Where})
			}
			fmt.Fprintf(c.stdout, "%s: found in %s (use --reveal to print the value)\n", name, steps[found].Where)
			return nil
		}
		value, err := chain.Lookup(ctx, name)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, map[string]any{"name": name.String(), "found": true, "where": steps[found].Where, "value": string(value)})
		}
		_, err = c.stdout.Write(value)
		return err

	case "doctor":
		statuses := secretsbackends.Doctor(ctx, opts)
		if *asJSON {
			return writeJSON(c.stdout, statuses)
		}
		return printBackends(c, statuses)
	}
	return nil
}

func (c *cli) printTrace(name secretsbackends.Name, steps []secretsbackends.Step, found int, asJSON bool) error {
	type stepJSON struct {
		Backend string `json:"backend"`
		Where   string `json:"where"`
		Result  string `json:"result"`
		Error   string `json:"error,omitempty"`
		Used    bool   `json:"used"`
	}
	out := []stepJSON{}
	for i, s := range steps {
		sj := stepJSON{Backend: s.Backend, Where: s.Where, Result: "not found", Used: i == found}
		switch {
		case s.Err != nil:
			sj.Result, sj.Error = "error", s.Err.Error()
		case s.Found:
			sj.Result = "found"
		}
		out = append(out, sj)
	}
	if asJSON {
		return writeJSON(c.stdout, map[string]any{"name": name.String(), "steps": out})
	}
	fmt.Fprintf(c.stdout, "Secret %s, looked up in order:\n", name)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, s := range out {
		mark := " "
		if s.Used {
			mark = "→"
		}
		result := s.Result
		if s.Error != "" {
			result = "error: " + s.Error
		}
		fmt.Fprintf(tw, "%s %s\t%s\n", mark, s.Where, result)
	}
	return tw.Flush()
}

// readSecretValue reads a secret's value: from a hidden prompt when stdin
// is a terminal, else all of stdin (exactly, trailing newline included, as
// a file would hold it). It never comes from the command line, where
// other users could see it in the process list.
func (c *cli) readSecretValue(name secretsbackends.Name) ([]byte, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(c.stderr, "Value for %s (input hidden): ", name)
		value, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return nil, fmt.Errorf("read secret value: %w", err)
		}
		if len(value) == 0 {
			return nil, usagef("secrets set: empty value; nothing stored")
		}
		return value, nil
	}
	value, err := io.ReadAll(c.stdin)
	if err != nil {
		return nil, fmt.Errorf("read secret value from stdin: %w", err)
	}
	if len(bytes.TrimSpace(value)) == 0 {
		return nil, usagef("secrets set: no value on stdin; pipe it in, e.g. printf %%s \"$TOKEN\" | goflyte secrets set %s", name)
	}
	return value, nil
}
