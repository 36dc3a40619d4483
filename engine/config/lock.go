package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// LockFileName is the plugin lock file, kept next to flyte.hcl (like
// Terraform's .terraform.lock.hcl) and meant to be committed.
const LockFileName = "goflyte.lock.hcl"

// Lock records the plugins a project trusts: for each, the binary's path,
// version, protocol version and SHA-256. When a lock file exists, the
// engine refuses a plugin binary that is not in it or whose checksum
// differs.
type Lock struct {
	Plugins map[string]LockedPlugin
}

// LockedPlugin is one plugin block of the lock file.
type LockedPlugin struct {
	Name            string `hcl:"name,label"`
	Path            string `hcl:"path"`
	Version         string `hcl:"version"`
	ProtocolVersion int    `hcl:"protocol_version"`
	SHA256          string `hcl:"sha256"`
}

type lockFile struct {
	Plugins []LockedPlugin `hcl:"plugin,block"`
}

// LockPath returns where the lock file of cfg is: next to its
// configuration file, or in dir when there is none.
func LockPath(cfg *Config, dir string) string {
	if cfg.File != "" {
		return filepath.Join(filepath.Dir(cfg.File), LockFileName)
	}
	return filepath.Join(dir, LockFileName)
}

// LoadLock reads the lock file at path; a missing file is (nil, nil).
func (p *Parser) LoadLock(path string) (*Lock, hcl.Diagnostics) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	f, diags := p.ParseHCLFile(path)
	if f == nil || diags.HasErrors() {
		return nil, diags
	}
	var lf lockFile
	if d := gohcl.DecodeBody(f.Body, nil, &lf); d.HasErrors() {
		return nil, append(diags, d...)
	}
	l := &Lock{Plugins: map[string]LockedPlugin{}}
	for _, pl := range lf.Plugins {
		l.Plugins[pl.Name] = pl
	}
	return l, diags
}

// WriteLock writes l to path atomically (a temporary file renamed into
// place), plugins sorted by name.
func WriteLock(path string, l *Lock) error {
	var b strings.Builder
	b.WriteString("# goflyte plugin lock file, written by `goflyte plugins lock`.\n")
	b.WriteString("# Commit it: goflyte refuses plugin binaries that are not listed here or whose\n")
	b.WriteString("# checksum differs. Re-run `goflyte plugins lock` after rebuilding a plugin.\n")
	names := make([]string, 0, len(l.Plugins))
	for n := range l.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pl := l.Plugins[n]
		fmt.Fprintf(&b, "\nplugin %q {\n  path             = %q\n  version          = %q\n  protocol_version = %d\n  sha256           = %q\n}\n",
			n, pl.Path, pl.Version, pl.ProtocolVersion, pl.SHA256)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".goflyte.lock-*")
	if err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
