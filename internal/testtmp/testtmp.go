// Package testtmp gives a test binary temporary directories that outlive
// one test, such as a plugin built once for all the tests of a package,
// and removes them when the tests are done.
//
// t.TempDir cannot hold them (it goes with its test), and a deferred
// os.RemoveAll in TestMain never runs: os.Exit skips deferred calls. A
// package whose tests use Dir calls Main from its TestMain.
package testtmp

import (
	"os"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	dirs []string
)

// Dir makes a new directory in the system's temporary directory, named
// from prefix as os.MkdirTemp names it, that Run removes after the tests.
func Dir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	mu.Lock()
	dirs = append(dirs, dir)
	mu.Unlock()
	return dir, nil
}

// Run runs the tests, removes the directories Dir made, and returns the
// tests' exit code.
func Run(m *testing.M) int {
	code := m.Run()
	RemoveAll()
	return code
}

// RemoveAll removes the directories Dir made so far.
func RemoveAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, dir := range dirs {
		_ = os.RemoveAll(dir)
	}
	dirs = nil
}

// Main is a TestMain: it exits with the code of Run.
func Main(m *testing.M) { os.Exit(Run(m)) }
