package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FileName is the name of the configuration file looked up in the working
// directory and in <user config dir>/goflyte.
const FileName = "flyte.hcl"

// ConfigEnv is the environment variable that names a configuration file
// when no explicit path is given.
const ConfigEnv = "FLYTE_CONFIG"

// LoadOptions tells [Parser.LoadConfig] where to look. The zero value
// means: the real environment, working directory and user directories.
// Tests set every field so that nothing outside the test leaks in.
type LoadOptions struct {
	// ExplicitPath is the file given with --config, or "". A relative path
	// is relative to WorkDir.
	ExplicitPath string
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// WorkDir is the working directory: it is searched for flyte.hcl, and
	// relative paths from the environment and from flags resolve against
	// it. "" means os.Getwd().
	WorkDir string
	// HomeDir replaces a leading "~/" in path settings. "" means
	// os.UserHomeDir(); if that fails, such paths are an error.
	HomeDir string
	// UserConfigDir holds goflyte/flyte.hcl and the default plugin
	// directory goflyte/plugins. "" means os.UserConfigDir(); if that
	// fails, both are skipped.
	UserConfigDir string
	// UserCacheDir holds the default sandbox goflyte/sandbox. "" means
	// os.UserCacheDir(); if that fails, os.TempDir() is used instead.
	UserCacheDir string
}

// host is LoadOptions with the blanks filled in from the operating system.
type host struct {
	getenv                                        func(string) (string, bool)
	workDir, homeDir, userConfigDir, userCacheDir string
}

func (o LoadOptions) resolve() (host, hcl.Diagnostics) {
	h := host{getenv: o.Getenv, workDir: o.WorkDir, homeDir: o.HomeDir, userConfigDir: o.UserConfigDir, userCacheDir: o.UserCacheDir}
	var diags hcl.Diagnostics
	if h.getenv == nil {
		h.getenv = os.LookupEnv
	}
	if h.workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot determine the working directory",
				Detail:   fmt.Sprintf("goflyte needs the working directory to find %s and to resolve relative paths, but it is unavailable (%s). Run goflyte from an existing directory.", FileName, err),
			})
		}
		h.workDir = wd
	} else if abs, err := filepath.Abs(h.workDir); err == nil {
		h.workDir = abs
	}
	if h.homeDir == "" {
		h.homeDir, _ = os.UserHomeDir()
	}
	if h.userConfigDir == "" {
		h.userConfigDir, _ = os.UserConfigDir()
	}
	if h.userCacheDir == "" {
		h.userCacheDir, _ = os.UserCacheDir()
	}
	return h, diags
}

// Defaults returns a Config with every setting at its default and
// SourceDefault as its source. Computed defaults (the sandbox and plugin
// directories) come from the operating system as described on [SDK].
func Defaults() *Config {
	h, _ := LoadOptions{Getenv: func(string) (string, bool) { return "", false }}.resolve()
	return newDefaults(h)
}

func newDefaults(h host) *Config {
	c := &Config{workDir: h.workDir, homeDir: h.homeDir}
	for i := range table {
		k := &table[i]
		if p, ok := k.field(c).(*[]string); ok {
			*p = []string{} // lists are never nil
		}
		if k.def != nil {
			k.set(c, k.def)
		}
	}

	cache := h.userCacheDir
	if cache == "" {
		cache = os.TempDir()
	}
	c.SDK.LocalSandbox = filepath.Join(cache, "goflyte", "sandbox")

	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		c.SDK.PluginDirs = append(c.SDK.PluginDirs, filepath.Join(filepath.Dir(exe), "plugins"))
	}
	if h.userConfigDir != "" {
		c.SDK.PluginDirs = append(c.SDK.PluginDirs, filepath.Join(h.userConfigDir, "goflyte", "plugins"))
	}
	return c
}

// LoadConfig finds, parses and validates the configuration, then applies
// FLYTE_<SECTION>_<KEY> environment overrides.
//
// The file is the first of: opts.ExplicitPath (--config); the file named by
// FLYTE_CONFIG; <WorkDir>/flyte.hcl; <UserConfigDir>/goflyte/flyte.hcl.
// When none exists only defaults and the environment apply. Relative paths
// in --config and FLYTE_CONFIG are relative to opts.WorkDir; an empty
// FLYTE_CONFIG counts as unset. An explicit file (flag or FLYTE_CONFIG)
// that does not exist is an error, and the search does not go on.
//
// Every problem, in the file and in the environment, is in the returned
// diagnostics; loading never stops at the first one. The returned Config is
// never nil: settings with problems keep their previous value, so callers
// may still inspect it, but must not run with it when diags.HasErrors().
// Diagnostics about a file have a Subject in it; those about an environment
// variable or a missing file have none, because there is no source to point
// at, and name the variable in their Detail instead.
func (p *Parser) LoadConfig(opts LoadOptions) (*Config, hcl.Diagnostics) {
	h, diags := opts.resolve()
	cfg := newDefaults(h)

	path, display, moreDiags := findFile(opts.ExplicitPath, h)
	diags = append(diags, moreDiags...)
	if path != "" {
		diags = append(diags, p.loadFile(cfg, path, display, h)...)
	}
	diags = append(diags, cfg.applyEnv(h)...)
	diags = append(diags, cfg.applyDeprecatedEnv(h)...)
	return cfg, diags
}

// findFile returns the absolute path of the configuration file, and the
// name to show for it, or "" when there is none.
func findFile(explicit string, h host) (path, display string, diags hcl.Diagnostics) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(h.workDir, p)
	}
	show := func(p string) string {
		if rel, err := filepath.Rel(h.workDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
		return p
	}

	for _, c := range []struct{ path, origin, fix string }{
		{explicit, "--config", "Check the path given with --config."},
		{getenvValue(h.getenv, ConfigEnv), ConfigEnv, fmt.Sprintf("Check the path in %s, or unset it to use %s from the working directory.", ConfigEnv, FileName)},
	} {
		if c.path == "" {
			continue
		}
		p := abs(c.path)
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Configuration file not found",
				Detail:   fmt.Sprintf("The configuration file %q named by %s does not exist. %s", p, c.origin, c.fix),
			}}
		case err != nil:
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("The configuration file %q named by %s cannot be read: %s. %s", p, c.origin, err, c.fix),
			}}
		case info.IsDir():
			return "", "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Configuration file is a directory",
				Detail:   fmt.Sprintf("%s names %q, which is a directory. Name the %s file inside it instead.", c.origin, p, FileName),
			}}
		}
		return p, show(p), nil
	}

	candidates := []string{filepath.Join(h.workDir, FileName)}
	if h.userConfigDir != "" {
		candidates = append(candidates, filepath.Join(h.userConfigDir, "goflyte", FileName))
	}
	for _, p := range candidates {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, show(p), nil
		}
	}
	return "", "", nil
}

// getenvValue returns the variable's value; unset and empty are the same.
func getenvValue(getenv func(string) (string, bool), name string) string {
	v, _ := getenv(name)
	return v
}

func (p *Parser) loadFile(cfg *Config, path, display string, h host) hcl.Diagnostics {
	src, err := os.ReadFile(path)
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   fmt.Sprintf("The configuration file %q cannot be read: %s. Check that it exists and is readable.", path, err),
		}}
	}
	f, diags := p.ParseHCL(src, display)
	cfg.File = path
	if diags.HasErrors() {
		// A body that does not parse would only produce follow-on noise.
		return diags
	}
	return append(diags, cfg.decodeFile(f, filepath.Dir(path), h.homeDir)...)
}

// decodeFile applies the settings of a parsed configuration file. Relative
// paths in it resolve against dir.
func (c *Config) decodeFile(f *hcl.File, dir, home string) hcl.Diagnostics {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		panic("config: configuration files must be in HCL native syntax")
	}
	var diags hcl.Diagnostics
	sections := sectionNames()

	for _, attr := range sortedAttributes(body.Attributes) {
		detail := fmt.Sprintf("Settings go inside a section block, one of %s.", joinWords(sections, "or"))
		if owners := sectionsWithKey(attr.Name); len(owners) > 0 {
			detail = fmt.Sprintf("Settings go inside a section block. Move %q into the %q block: %s { %s = … }.", attr.Name, owners[0], owners[0], attr.Name)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Setting outside a configuration block",
			Detail:   detail,
			Subject:  attr.NameRange.Ptr(),
		})
	}

	seen := map[string]*hclsyntax.Block{}
	var deprecated []deprecatedAttr
	for _, block := range body.Blocks {
		if !slices.Contains(sections, block.Type) {
			detail := fmt.Sprintf("There is no %q section. The sections are %s.", block.Type, joinWords(sections, "and"))
			if s := suggest(block.Type, sections); s != "" {
				detail = fmt.Sprintf("There is no %q section. Did you mean %q?", block.Type, s)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported configuration block",
				Detail:   detail,
				Subject:  block.TypeRange.Ptr(),
			})
			continue
		}
		if prev := seen[block.Type]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate configuration block",
				Detail: fmt.Sprintf("The %q block was already given on line %d. Put all %s settings into that one block.",
					block.Type, prev.TypeRange.Start.Line, block.Type),
				Subject: block.TypeRange.Ptr(),
			})
		} else {
			seen[block.Type] = block
		}
		if len(block.Labels) > 0 {
			labels := hcl.RangeBetween(block.LabelRanges[0], block.LabelRanges[len(block.LabelRanges)-1])
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unexpected block label",
				Detail:   fmt.Sprintf("The %q block takes no labels. Write it as %s { … }.", block.Type, block.Type),
				Subject:  &labels,
			})
		}
		diags = append(diags, c.decodeSection(block, dir, home, &deprecated)...)
	}
	// After every block, so that the statsd block wins wherever it is.
	return append(diags, c.applyDeprecatedFile(deprecated)...)
}

func (c *Config) decodeSection(block *hclsyntax.Block, dir, home string, deprecated *[]deprecatedAttr) hcl.Diagnostics {
	var diags hcl.Diagnostics
	section := block.Type

	for _, nested := range block.Body.Blocks {
		detail := fmt.Sprintf("The %q block contains only settings written as name = value, not nested blocks.", section)
		if lookupKey(section, nested.Type) != nil {
			detail += fmt.Sprintf(" Write %s = … instead.", nested.Type)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported nested block",
			Detail:   detail,
			Subject:  nested.TypeRange.Ptr(),
		})
	}

	for _, attr := range sortedAttributes(block.Body.Attributes) {
		k := lookupKey(section, attr.Name)
		if k == nil && isStatsdInSecrets(section, attr.Name) {
			*deprecated = append(*deprecated, deprecatedAttr{attr, dir, home})
			continue
		}
		if k == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown setting",
				Detail:   unknownKeyDetail(section, attr.Name),
				Subject:  attr.NameRange.Ptr(),
			})
			continue
		}
		val, valDiags := attr.Expr.Value(nil)
		diags = append(diags, valDiags...)
		if valDiags.HasErrors() || val.IsNull() {
			continue // null means "use the default"
		}
		v, prob := k.parseValue(val)
		if prob == nil {
			v, prob = k.resolve(v, dir, home)
		}
		if prob != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for setting",
				Detail:   prob.explain(fmt.Sprintf("The %q setting in the %q block", k.name, k.section), describe(val, k.secret)),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		k.set(c, v)
		c.setSource(k, Source{Kind: SourceFile, Range: attr.SrcRange})
	}
	return diags
}

func unknownKeyDetail(section, name string) string {
	var names []string
	for i := range table {
		if table[i].section == section {
			names = append(names, table[i].name)
		}
	}
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf("The %q block has no setting named %q. Did you mean %q?", section, name, s)
	}
	if owners := sectionsWithKey(name); len(owners) > 0 {
		return fmt.Sprintf("The %q block has no setting named %q, but the %q block does. Move it there.", section, name, owners[0])
	}
	return fmt.Sprintf("The %q block has no setting named %q. Its settings are %s.", section, name, joinWords(names, "and"))
}

func sectionsWithKey(name string) []string {
	var out []string
	for i := range table {
		if table[i].name == name {
			out = append(out, table[i].section)
		}
	}
	return out
}

// sortedAttributes returns attributes in source order, so that
// diagnostics come out in a stable order.
func sortedAttributes(attrs hclsyntax.Attributes) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *hclsyntax.Attribute) int { return a.SrcRange.Start.Byte - b.SrcRange.Start.Byte })
	return out
}
