// Package testserver finds the binaries of the real servers that tests
// start (versitygw, the Temporal and OpenID Connect test servers that
// make test builds into .tools) and collects their output. It serves the
// test helpers engine/datastore/s3test, remote/remotetest and
// auth/oidctest; nothing else should need it.
package testserver

import (
	"bytes"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Find returns the path of the executable name: from PATH, else from
// GOBIN, each GOPATH's bin and the goflyte module's .tools directory. When
// there is none it returns "" and the directories it tried besides PATH,
// for the message that says how to get it.
func Find(name string) (bin string, tried []string) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	if root, err := ModuleRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, ".tools"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", dirs
}

// ModuleRoot walks up from the working directory (a test's package
// directory) to the directory holding the goflyte module's go.mod; the
// modules nested under testservers/ are passed over.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/goflyte/goflyte\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no goflyte go.mod above the working directory")
		}
		dir = parent
	}
}

// Buffer collects a process's output; it is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns at most the last n bytes written, marked with "…" when
// cut.
func (b *Buffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
