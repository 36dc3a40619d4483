package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Flytekit's StatsConfig reads host, port, disabled and disable_tags from
// its "secrets" section (StatsD.SECTION = "secrets", a copy-and-paste slip
// that became behaviour), so a Flytekit config or environment sets them as
// secrets.host or FLYTE_SECRETS_HOST. goflyte reads those four names as
// the statsd settings, below the statsd block and FLYTE_STATSD_*, and
// warns. No other name in the secrets section or FLYTE_SECRETS_* is ever
// read as configuration, and the values of these four never appear in a
// diagnostic: FLYTE_SECRETS_HOST may well be a secret named "host".

// statsdInSecrets are the statsd settings Flytekit reads from "secrets".
var statsdInSecrets = []string{"host", "port", "disabled", "disable_tags"}

// deprecatedAttr is a statsd setting written in the secrets block.
type deprecatedAttr struct {
	attr      *hclsyntax.Attribute
	dir, home string
}

// isStatsdInSecrets reports whether name in section is a deprecated
// spelling of a statsd setting.
func isStatsdInSecrets(section, name string) bool {
	return section == "secrets" && slices.Contains(statsdInSecrets, name)
}

// applyDeprecatedFile applies statsd settings written in the secrets block
// that the statsd block does not set, and warns about each.
func (c *Config) applyDeprecatedFile(attrs []deprecatedAttr) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, d := range attrs {
		k := lookupKey("statsd", d.attr.Name)
		detail := fmt.Sprintf("Flytekit reads the StatsD setting %q from its secrets section, so goflyte reads it as statsd.%s, but it belongs in the \"statsd\" block. Move it there: statsd { %s = … }.",
			k.name, k.name, k.name)
		if c.sources[k.id()].Kind == SourceFile {
			detail = fmt.Sprintf("Flytekit reads the StatsD setting %q from its secrets section. The \"statsd\" block sets %s too, so this one is ignored. Delete it.", k.name, k.name)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Deprecated setting in the secrets block",
			Detail:   detail,
			Subject:  d.attr.SrcRange.Ptr(),
		})
		if c.sources[k.id()].Kind == SourceFile {
			continue
		}
		val, valDiags := d.attr.Expr.Value(nil)
		diags = append(diags, valDiags...)
		if valDiags.HasErrors() || val.IsNull() {
			continue
		}
		v, prob := k.parseValue(val)
		if prob == nil {
			v, prob = k.resolve(v, d.dir, d.home)
		}
		if prob != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for setting",
				Detail:   prob.explain(fmt.Sprintf("The %q setting in the \"secrets\" block, read as statsd.%s,", k.name, k.name), describe(val, k.secret)),
				Subject:  d.attr.Expr.Range().Ptr(),
			})
			continue
		}
		k.set(c, v)
		c.setSource(k, Source{Kind: SourceFile, Range: d.attr.SrcRange})
		c.markFromSecrets(k.name)
	}
	return diags
}

// applyDeprecatedEnv applies FLYTE_SECRETS_HOST, _PORT, _DISABLED and
// _DISABLE_TAGS to the statsd settings that neither FLYTE_STATSD_* nor
// the statsd block sets, and warns about each it finds. A value that does
// not parse is ignored with a warning, not an error: the variable may be a
// secret that happens to have that name.
func (c *Config) applyDeprecatedEnv(h host) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range statsdInSecrets {
		old := envName("secrets", name)
		s, ok := h.getenv(old)
		if !ok {
			continue
		}
		k := lookupKey("statsd", name)
		src := c.sources[k.id()]
		takenBy := ""
		switch {
		case src.Kind == SourceEnv:
			takenBy = src.Name
		case src.Kind == SourceFile && !c.fromSecrets[name]:
			takenBy = fmt.Sprintf("the statsd block (%s)", src)
		}
		if takenBy != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Deprecated environment variable ignored",
				Detail: fmt.Sprintf("%s is Flytekit's name for statsd.%s, which %s already sets, so goflyte does not read it. Unset it if it is not a secret.",
					old, name, takenBy),
			})
			continue
		}
		v, set, prob := k.parseText(s)
		if prob != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Deprecated environment variable ignored",
				Detail: fmt.Sprintf("%s is Flytekit's name for statsd.%s, but its value is not %s, so goflyte does not use it (it may be a secret of that name). Set %s instead.",
					old, name, prob.expected, k.envName()),
			})
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Deprecated environment variable",
			Detail: fmt.Sprintf("%s sets statsd.%s, as in Flytekit, but the name is deprecated: it is also how a secret named %q would be given. Use %s instead.",
				old, name, name, k.envName()),
		})
		if !set {
			continue
		}
		k.set(c, v)
		c.setSource(k, Source{Kind: SourceEnv, Name: old})
		c.markFromSecrets(name)
	}
	return diags
}

func (c *Config) markFromSecrets(name string) {
	if c.fromSecrets == nil {
		c.fromSecrets = map[string]bool{}
	}
	c.fromSecrets[name] = true
}

// fromSecretEnv reports whether k's value came from a FLYTE_SECRETS_*
// variable, which may hold a secret: [Config.Settings] masks it.
func (c *Config) fromSecretEnv(k *key) bool {
	src := c.sources[k.id()]
	return src.Kind == SourceEnv && k.section == "statsd" && src.Name == envName("secrets", k.name)
}
