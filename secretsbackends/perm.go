package secretsbackends

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// tooOpen reports whether mode lets anyone but the owner read or write, the
// check ssh makes of private keys.
func tooOpen(mode fs.FileMode) bool { return mode.Perm()&0o077 != 0 }

// permWarning returns the warning for a secrets file or directory whose
// permissions are too open, or "" when they are fine (or it cannot be
// stat'ed: the lookup itself reports that). It names the path and mode,
// never the contents.
func permWarning(kind, path string) string {
	fi, err := os.Stat(path)
	if err != nil || !tooOpen(fi.Mode()) {
		return ""
	}
	fix := "600"
	if fi.IsDir() {
		fix = "700"
	}
	return fmt.Sprintf("%s %s is accessible by group or others (mode %04o); run: chmod %s %s",
		kind, path, fi.Mode().Perm(), fix, path)
}

// keyringPermWarnings checks the encrypted keyring directory and the files
// in it.
func keyringPermWarnings(dir string) []string {
	var out []string
	if w := permWarning("keyring directory", dir); w != "" {
		out = append(out, w)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Type().IsRegular() {
			if w := permWarning("keyring file", filepath.Join(dir, e.Name())); w != "" {
				out = append(out, w)
			}
		}
	}
	return out
}

// onceWarner returns a function that logs each distinct warning once on
// logger (hclog.Default() when nil).
func onceWarner(logger hclog.Logger) func(string) {
	if logger == nil {
		logger = hclog.Default()
	}
	var seen sync.Map
	return func(msg string) {
		if _, dup := seen.LoadOrStore(msg, true); !dup {
			logger.Warn(msg)
		}
	}
}
