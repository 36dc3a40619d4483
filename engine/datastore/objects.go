package datastore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// List calls fn for every object under the store whose key (relative to
// the store's prefix) starts with prefix ("" for all): its key, its size
// in bytes and when it was last written. Directories, a console's
// "directory" markers and a local store's temporary files are skipped. An
// error from fn stops the listing and is returned as it is.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	type object struct {
		key  string
		size int64
		mod  time.Time
	}
	var objs []object
	if s.bucket == nil {
		err := walkFiles(s.loc.path, func(rel, path string, isDir bool) error {
			if isDir || !strings.HasPrefix(rel, prefix) || strings.HasPrefix(filepath.Base(path), ".tmp-") {
				return nil
			}
			fi, err := os.Lstat(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed meanwhile
				}
				return err
			}
			objs = append(objs, object{rel, fi.Size(), fi.ModTime()})
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return newError("list", s.URI(), err, nil)
		}
	} else {
		base := ""
		if s.loc.key != "" {
			base = s.loc.key + "/"
		}
		list, err := listObjects(ctx, s.bucket, base+prefix, &s.opts)
		if err != nil {
			return newError("list", s.URI(), err, s.opts.secrets())
		}
		for _, obj := range list {
			objs = append(objs, object{strings.TrimPrefix(obj.Key, base), obj.Size, obj.ModTime})
		}
	}
	for _, o := range objs {
		if err := fn(o.key, o.size, o.mod); err != nil {
			return err
		}
	}
	return nil
}

// Read returns the content of the object key. A missing object fails with
// an [*Error] whose Kind is [ErrNotFound].
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if why := checkKey(key); why != "" {
		return nil, s.invalidKey(key, why)
	}
	dst := s.loc.child(key)
	var data []byte
	var err error
	if s.bucket == nil {
		data, err = os.ReadFile(dst.path)
	} else {
		err = retry(ctx, &s.opts, "read", func() error {
			data, err = s.bucket.ReadAll(ctx, dst.key)
			return err
		})
	}
	if err != nil {
		return nil, newError("read", dst.String(), err, s.opts.secrets())
	}
	return data, nil
}

// Delete removes the object key. Removing an object that is not there
// fails with an [*Error] whose Kind is [ErrNotFound].
func (s *Store) Delete(ctx context.Context, key string) error {
	if why := checkKey(key); why != "" {
		return s.invalidKey(key, why)
	}
	dst := s.loc.child(key)
	var err error
	if s.bucket == nil {
		err = os.Remove(dst.path)
	} else {
		err = retry(ctx, &s.opts, "delete", func() error { return s.bucket.Delete(ctx, dst.key) })
	}
	if err != nil {
		return newError("delete", dst.String(), err, s.opts.secrets())
	}
	return nil
}
