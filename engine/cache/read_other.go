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

// readEntry is readFile for Get.
func readEntry(path string) ([]byte, stamp, error) {
	data, info, err := readFile(path)
	if err != nil {
		return nil, stamp{}, err
	}
	return data, stamp{mtime: info.ModTime(), info: info}, nil
}
