//go:build !linux

package cache

import (
	"io/fs"
	"os"
	"time"
)

// stamp is what Get keeps of an entry file's metadata: its modification
// time, and its identity, so that a corrupt entry is removed only if it
// is still the same file.
type stamp struct {
	mtime time.Time
	info  fs.FileInfo
}

// same reports whether path is still the file s describes.
func (s stamp) same(path string) bool {
	cur, err := os.Lstat(path)
	return err == nil && os.SameFile(cur, s.info)
}

// entryFile is an entry file for Get: here readFile, which stats it.
type entryFile struct {
	path string
	info fs.FileInfo
}

// rootDir is nothing here: entries are opened by their path.
type rootDir struct{}

func openEntry(_ *Cache, path string, f *entryFile) error {
	*f = entryFile{path: path}
	return nil
}

func (f *entryFile) close() {}

func (f *entryFile) read() ([]byte, error) {
	data, info, err := readFile(f.path)
	f.info = info
	return data, err
}

// whole is nil: read read the file as its size said.
func (f *entryFile) whole([]byte) ([]byte, error) { return nil, nil }

func (f *entryFile) stamp() (stamp, error) {
	return stamp{mtime: f.info.ModTime(), info: f.info}, nil
}
