package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// applyEnv applies FLYTE_<SECTION>_<KEY> overrides. Only the variables of
// known settings are read, so other FLYTE_* variables (FLYTE_CONFIG,
// secrets such as FLYTE_SECRETS_GITHUB_TOKEN) are never an error.
func (c *Config) applyEnv(h host) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i := range table {
		k := &table[i]
		name := k.envName()
		s, ok := h.getenv(name)
		if !ok {
			continue
		}
		v, set, prob := k.parseText(s)
		if prob == nil && set {
			v, prob = k.resolve(v, h.workDir, h.homeDir)
		}
		if prob != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid environment variable",
				Detail: prob.explain(fmt.Sprintf("The environment variable %s, which sets %s,", name, k.id()), describeText(s, k.secret)) +
					fmt.Sprintf(" Correct or unset %s.", name),
			})
			continue
		}
		if !set {
			continue
		}
		k.set(c, v)
		c.setSource(k, Source{Kind: SourceEnv, Name: name})
	}
	return diags
}

// Override sets the setting key ("section.key") from a command-line flag,
// which takes precedence over the file and the environment. value is parsed
// exactly as the setting's environment variable would be: booleans are
// false only for "", false, 0, off and no; lists are comma-separated; an
// empty value for anything but a boolean leaves the setting unchanged.
// Relative paths resolve against the working directory of the load.
// flagName is recorded as the source; "log-level" and "--log-level" both
// show as "flag --log-level".
//
// The error for an unknown key or an invalid value is plain text for the
// user; it names the flag and never contains the value of a secret-bearing
// setting.
func (c *Config) Override(key, value, flagName string) error {
	if !strings.HasPrefix(flagName, "-") {
		flagName = "--" + flagName
	}
	k := lookupID(key)
	if k == nil {
		msg := fmt.Sprintf("flag %s: unknown setting %q", flagName, key)
		if s := suggest(key, Keys()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return errors.New(msg)
	}
	v, set, prob := k.parseText(value)
	if prob == nil && set {
		if c.workDir == "" {
			c.workDir, _ = os.Getwd()
		}
		if c.homeDir == "" {
			c.homeDir, _ = os.UserHomeDir()
		}
		v, prob = k.resolve(v, c.workDir, c.homeDir)
	}
	if prob != nil {
		msg := fmt.Sprintf("invalid value for flag %s (%s): must be %s, not %s", flagName, k.id(), prob.expected, describeText(value, k.secret))
		if prob.suggest != "" {
			msg += fmt.Sprintf("; did you mean %q?", prob.suggest)
		}
		return errors.New(msg)
	}
	if !set {
		return nil
	}
	k.set(c, v)
	c.setSource(k, Source{Kind: SourceFlag, Name: flagName})
	return nil
}
