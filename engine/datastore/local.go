package datastore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// Modes of what a local store holds, and of what Fetch writes.
const (
	storedFileMode  fs.FileMode = 0o400 // owner-only: SECURITY.md
	fetchedFileMode fs.FileMode = 0o600
	dirMode         fs.FileMode = 0o700
)

// putLocal places the regular file src at dst, read-only, atomically: by
// rename when move is set, else by hard link, falling back to a copy when
// src is on another file system or links are not supported.
func putLocal(dst, src string, move bool) error {
	if err := checkRegular(src); err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", dst)
	}
	tmp := tempName(dir)
	var err error
	if move {
		err = os.Rename(src, tmp)
	} else {
		err = os.Link(src, tmp)
	}
	if err != nil {
		// Another file system, or links not allowed: copy.
		return copyAtomic(dst, src, storedFileMode)
	}
	if err := os.Chmod(tmp, storedFileMode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// checkRegular fails unless path is a regular file (not a link to one).
func checkRegular(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

var tempSeq atomic.Uint64

// tempName returns a fresh name for a temporary file in dir. Names are
// unique within the process; os.Link and os.Rename fail or replace, never
// append, so a clash with another process costs a copy, not data.
func tempName(dir string) string {
	n := tempSeq.Add(1)
	return filepath.Join(dir, ".tmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.FormatUint(n, 10))
}

// copyAtomic copies src to dst through a temporary file in dst's
// directory, so dst is either absent, the old file, or the complete copy.
func copyAtomic(dst, src string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeAtomic(dst, mode, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// writeAtomic writes dst through a temporary file in its directory.
func writeAtomic(dst string, mode fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

// walkFiles calls fn for src itself (rel "", isDir true), for every
// directory under it, and for every regular file, with rel the slash path
// relative to src. Symbolic links and special files are skipped.
func walkFiles(src string, fn func(rel, path string, isDir bool) error) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", src)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		switch {
		case d.IsDir():
			return fn(rel, path, true)
		case d.Type().IsRegular():
			return fn(rel, path, false)
		}
		return nil
	})
}

// fetchLocal copies the file or directory src to dst.
func fetchLocal(src, dst string, dir bool) error {
	if !dir {
		if err := checkRegular(src); err != nil {
			return err
		}
		return copyAtomic(dst, src, fetchedFileMode)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return walkFiles(src, func(rel, path string, isDir bool) error {
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if isDir {
			return os.MkdirAll(target, dirMode)
		}
		return copyAtomic(target, path, fetchedFileMode)
	})
}
