package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// checkpointFile is the file Write and SaveFrom fill, Flytekit's name.
const checkpointFile = "_dst_cp"

// Checkpoint lets a long task save its progress and pick it up again when
// it is retried, Flytekit's SyncCheckpoint. Get it with
// [ExecutionParams.Checkpoint].
//
// Each attempt saves into a directory of its own. A retried attempt sees
// the checkpoint of the latest earlier attempt that saved one as its
// previous checkpoint, and so does the first attempt of a task run again
// by `goflyte run --resume`. A task with no previous checkpoint reads
// nothing: Read returns nil and Restore "".
//
// A Checkpoint is safe for use by many goroutines, but a checkpoint is one
// piece of state: save it from one place.
type Checkpoint struct {
	dest, src string
	tmpRoot   string // where Restore("") makes its directory
	destMade  atomic.Bool

	mu       sync.Mutex
	restored string // the directory of the first Restore
}

// NewCheckpoint returns a checkpoint that saves into the directory dest
// (made when first needed) and restores from the directory src ("" for
// none), Flytekit's SyncCheckpoint(checkpoint_dest, checkpoint_src). A
// task gets its own from [ExecutionParams.Checkpoint]; NewCheckpoint is
// for tests and tools.
func NewCheckpoint(dest, src string) *Checkpoint { return newCheckpoint(dest, src, os.TempDir()) }

// newCheckpoint returns the checkpoint that saves into dest (made when
// first needed) and restores from src ("" for none), into a directory
// under tmpRoot unless told where.
func newCheckpoint(dest, src, tmpRoot string) *Checkpoint {
	return &Checkpoint{dest: dest, src: src, tmpRoot: tmpRoot}
}

// PrevExists reports whether there is a previous checkpoint to restore.
func (c *Checkpoint) PrevExists() bool { return c.src != "" }

// Restore copies the previous checkpoint's contents into dir, which must
// be an existing directory, and returns dir. With dir "" it restores into
// a fresh directory of its own. Only the first call copies: later calls
// return the first call's directory, whatever dir they are given. With no
// previous checkpoint it returns "" and no error.
func (c *Checkpoint) Restore(dir string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restoreLocked(dir)
}

func (c *Checkpoint) restoreLocked(dir string) (string, error) {
	if c.src == "" {
		return "", nil
	}
	if c.restored != "" {
		return c.restored, nil
	}
	if dir == "" {
		tmp, err := mkdirTemp(c.tmpRoot, "checkpoint-")
		if err != nil {
			return "", fmt.Errorf("checkpoint: restore: %w", err)
		}
		dir = tmp
	} else if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("checkpoint: restore into %s: checkpoints can be restored to a directory only", dir)
	}
	if err := copyTree(c.src, dir); err != nil {
		return "", fmt.Errorf("checkpoint: restore from the previous attempt: %w", err)
	}
	c.restored = dir
	return dir, nil
}

// Read returns the bytes of the previous checkpoint, which must be a
// single file (as Write saves it). It returns nil and no error when there
// is no previous checkpoint, or an empty one.
//
// Read restores, as Flytekit's read does: it copies the previous
// checkpoint into a directory of its own, as Restore("") would, unless a
// Restore came first. A Restore after Read therefore copies nothing and
// returns Read's directory, whatever directory it is given.
func (c *Checkpoint) Read() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir, err := c.restoreLocked("")
	if err != nil || dir == "" {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read: %w", err)
	}
	switch len(files) {
	case 0:
		return nil, nil
	case 1:
		data, err := os.ReadFile(files[0])
		if err != nil {
			return nil, fmt.Errorf("checkpoint: read: %w", err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("checkpoint: read: expected exactly one checkpoint file, found %d", len(files))
}

// Write saves b as the checkpoint, replacing what Write saved before.
func (c *Checkpoint) Write(b []byte) error {
	return c.SaveFrom(bytes.NewReader(b))
}

// SaveFrom saves what r reads as the checkpoint file, as Write does.
func (c *Checkpoint) SaveFrom(r io.Reader) error {
	if err := c.makeDest(); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(c.dest, checkpointFile), r, 0o600); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	return nil
}

// Save saves a file or the contents of a directory into the checkpoint: a
// file keeps its name, a directory's files keep their paths below it.
func (c *Checkpoint) Save(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	if err := c.makeDest(); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	if fi.IsDir() {
		err = copyTree(path, c.dest)
	} else {
		err = copyFile(path, filepath.Join(c.dest, filepath.Base(path)), fi.Mode().Perm())
	}
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", path, err)
	}
	return nil
}

// makeDest makes the checkpoint's directory, once.
func (c *Checkpoint) makeDest() error {
	if c.destMade.Load() {
		return nil
	}
	if err := os.MkdirAll(c.dest, 0o700); err != nil {
		return err
	}
	c.destMade.Store(true)
	return nil
}

// copyTree copies the regular files and directories below src into dst,
// which exists. Symbolic links are not followed: a checkpoint holds data,
// not pointers out of it.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: only regular files and directories can be checkpointed", path)
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFileAtomic(dst, f, perm&0o700|0o600)
}

// writeFileAtomic writes r to path through a temporary file in the same
// directory, so a crash leaves the old file or the new one, never half of
// one.
func writeFileAtomic(path string, r io.Reader, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return err
	}
	if perm != 0o600 { // CreateTemp's mode
		if err = tmp.Chmod(perm); err != nil {
			return err
		}
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// mkdirTemp makes a fresh owner-only directory under root, making root
// first if need be.
func mkdirTemp(root, pattern string) (string, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(root, pattern)
}
