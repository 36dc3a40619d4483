package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/goflyte/goflyte/engine/config"
)

// LockError is a plugin binary that the lock file does not trust: it is
// not listed, or its SHA-256 differs from the one recorded.
type LockError struct {
	Plugin, Path, LockPath string
	Want, Got              string // SHA-256s; Want is "" for an unlisted plugin
}

func (e *LockError) Error() string {
	fix := "If you built, upgraded or installed it on purpose, run `goflyte plugins lock`; to skip the check for one command, pass --lock=false"
	if e.Want == "" {
		return fmt.Sprintf("plugin %q (%s) is not in %s. %s", e.Plugin, e.Path, e.LockPath, fix)
	}
	return fmt.Sprintf("plugin %q (%s) has changed since it was locked: its SHA-256 is %s, %s has %s. %s", e.Plugin, e.Path, e.Got, e.LockPath, e.Want, fix)
}

// FileSHA256 returns the hex SHA-256 of a file, read once.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyLock checks a plugin binary against the lock, once per path per
// registry (restarts after a crash do not hash again).
func (p *Plugins) verifyLock(name, path string) error {
	if p.lock == nil {
		return nil
	}
	if v, ok := p.verified.Load(path); ok {
		if err, _ := v.(error); err != nil {
			return err
		}
		return nil
	}
	err := checkLock(p.lock, p.lockPath, name, path)
	if err != nil {
		p.verified.Store(path, err)
	} else {
		p.verified.Store(path, true)
	}
	return err
}

func checkLock(lock *config.Lock, lockPath, name, path string) error {
	locked, ok := lock.Plugins[name]
	if !ok {
		return &LockError{Plugin: name, Path: path, LockPath: lockPath}
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return fmt.Errorf("checksum of plugin %q: %w", name, err)
	}
	if sum != locked.SHA256 {
		return &LockError{Plugin: name, Path: path, LockPath: lockPath, Want: locked.SHA256, Got: sum}
	}
	return nil
}
