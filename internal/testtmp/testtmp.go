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

// Short returns a new directory with a short path, removed when tb ends,
// for a program that makes unix sockets in it: a socket's path holds at
// most 107 bytes (103 on macOS), and t.TempDir's path carries the test's
// name. Headless Chromium, given it as TMPDIR, makes its singleton
// socket there.
func Short(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "gf")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
