package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrMiss means the cache holds no usable entry for a key or task. Get,
// Latest, Delete and Resolve return errors that wrap it (errors.Is); a
// corrupt entry's [*CorruptError] wraps it too.
var ErrMiss = errors.New("cache miss")

// Entry is what the cache stores for a key. The cache stores and returns it
// as is; what the fields mean is the engine's business.
type Entry struct {
	// Task names the task, "plugin.task". It is required: Latest and
	// List(task) find entries by it.
	Task string `json:"task"`
	// Version is the task's cache version.
	Version string `json:"version"`
	// Inputs maps each input name to a hex digest of its canonical value,
	// so --explain can say which input changed. Never values: an entry is
	// a plain file anyone with access to the cache dir can read.
	Inputs map[string]string `json:"inputs"`
	// Outputs are the task's outputs, a JSON object. Put fails unless
	// they are one valid JSON value, and stores them compacted (HTML
	// characters are not escaped); nil or empty is stored as null.
	Outputs json.RawMessage `json:"outputs"`
	// Created is when the entry was made. If it is zero, Put records the
	// current time. (Info.LastHit does not depend on it: the time of the
	// write is recorded separately.)
	Created time.Time `json:"created"`
	// Run names the run that wrote the entry (the name of its sandbox
	// directory), or is "" if unknown: entries written before it was
	// recorded have none. It is metadata only, never part of the key.
	Run string `json:"run,omitempty"`
}

// Cache is a cache directory. Open it with [Open]. Its methods are safe
// for concurrent use by many goroutines, and by several processes (on one
// machine, on a local file system) using the same directory.
type Cache struct {
	dir string
	// now is time.Now except in tests.
	now func() time.Time
	// root is dir open, for Get's lookups (Linux only).
	root rootDir
}

// Names inside the cache directory. Entry files live in the 256 fan-out
// directories "00" to "ff"; the per-task index logs live in "tasks".
const (
	tasksDir   = "tasks"
	tmpInfix   = ".tmp-"
	readmeName = "README"
)

// mtimeInterval is how stale an entry's modification time must be before
// Get updates it (cmd/go's rule). Modification times therefore record the
// last use only to within an hour, and a fully cached re-run does no
// metadata writes for entries used within the last hour.
const mtimeInterval = time.Hour

// tempGrace is how old a temporary file must be before Clear and Prune
// remove it: younger ones may belong to a Put in progress (in this or
// another process), which would fail if its file vanished before the
// rename. No Put takes an hour between creating and renaming its file, so
// an older one was left by a process that died mid-write.
const tempGrace = time.Hour

const readme = `This directory holds goflyte's local task-result cache.
Each file under 00/ to ff/ is one entry, named by its key; tasks/ indexes
them by task. It is safe to delete the whole directory; "goflyte cache
clear" and "goflyte cache prune" do so selectively.
`

// Open opens the cache in dir, creating dir (mode 0700) if needed. The
// fan-out directories are created as entries need them.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache: open: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("cache: open %s: %w", dir, err)
	}
	// The README tells whoever finds the directory what it is. Failing to
	// write it is not worth failing Open for (a read-only cache still
	// serves hits).
	rm := filepath.Join(abs, readmeName)
	if _, err := os.Lstat(rm); errors.Is(err, fs.ErrNotExist) {
		_ = writeAtomic(rm, []byte(readme))
	}
	return &Cache{dir: abs, now: time.Now}, nil
}

// Dir returns the cache directory, made absolute by Open.
func (c *Cache) Dir() string { return c.dir }

// Path returns the file that holds k's entry, whether or not it exists.
// The file's format is private to this package; Path is for tools and
// benchmarks (reading the same bytes with os.ReadFile as a baseline for
// Get) and for messages.
func (c *Cache) Path(k Key) string {
	var b [hexKeyLen]byte
	hex.Encode(b[:], k[:])
	s := string(b[:])
	return c.dir + string(os.PathSeparator) + s[:2] + string(os.PathSeparator) + s
}

// taskLog returns the index log of task: tasks/<sha256(task)>. Hashing
// keeps any task name a valid, fixed-length file name.
func (c *Cache) taskLog(task string) string {
	h := sha256.Sum256([]byte(task))
	return filepath.Join(c.dir, tasksDir, hex.EncodeToString(h[:]))
}

// CorruptError reports an entry file that is not a valid entry for its
// key: empty, truncated, bit-flipped, holding another key's entry, or not
// an entry at all. It wraps [ErrMiss], so callers that only branch on
// errors.Is(err, ErrMiss) treat it as the miss it is; callers that want
// to tell the user use errors.As. Get removes the file before returning
// it, so the same corruption is normally reported once.
type CorruptError struct {
	Key    Key
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("cache: corrupt entry %s (%s): %s", e.Key, e.Path, e.Reason)
}

// Unwrap returns ErrMiss.
func (e *CorruptError) Unwrap() error { return ErrMiss }

// Get returns the entry stored for k.
//
// It returns an error wrapping [ErrMiss] when there is none, and a
// [*CorruptError] (which also wraps ErrMiss) when the file is not a valid
// entry for k; Get removes such a file. Any other error (an unreadable
// directory, say) is returned with context, and the caller decides
// whether to run the task anyway.
//
// A hit marks the entry used by setting the file's modification time to
// now, but only when the recorded time is an hour old or more (cmd/go's
// rule): re-running a fully cached workflow costs no metadata writes
// for entries used within the last hour. See [Info.LastHit].
//
// Get costs one open, read and close (and an fstat for an entry written
// an hour ago or more, or larger than 8 KB), a SHA-256 of the file and
// the JSON decode of its first line; it never scans a directory. The
// caller owns the returned Entry.
func (c *Cache) Get(k Key) (*Entry, error) {
	var e *Entry
	err := c.get(k, func(data []byte) (written []byte, reason string) {
		e, written, reason = decodeEntry(k, data)
		if e != nil {
			e.Outputs = bytes.Clone(e.Outputs) // data is get's buffer
		}
		return written, reason
	})
	return e, err
}

// GetOutputs is Get for a caller that needs only the outputs, as a hit
// does: the entry is checked as Get checks it (key, length, checksum),
// but its first line, which the key already accounts for, is not decoded.
func (c *Cache) GetOutputs(k Key) (json.RawMessage, error) {
	var outputs json.RawMessage
	err := c.get(k, func(data []byte) (written []byte, reason string) {
		var line []byte
		line, outputs, written, reason = split(k, data)
		if reason == "" && !hasTask(line) {
			reason = "entry has no task"
		}
		// Only the outputs are kept, at their size: data is get's
		// buffer.
		outputs = bytes.Clone(outputs)
		return written, reason
	})
	return outputs, err
}

// get reads the entry of k and decodes it with decode, which returns its
// written field and why it is corrupt, or "". A corrupt entry is removed;
// a good one counts as hit (its modification time, at most every
// mtimeInterval).
//
// The modification time is read only for an entry written an hour ago or
// more: Put sets it when it writes the entry and Get only moves it
// forward, so a younger entry's is younger than an hour too (unless set
// back by hand), and a hit on it costs no stat (issue 17).
//
// data is valid only during decode (it may be a pooled buffer): decode
// copies what it keeps.
func (c *Cache) get(k Key, decode func(data []byte) (written []byte, reason string)) error {
	path := c.Path(k)
	var f entryFile
	err := openEntry(c, path, &f)
	var data []byte
	if err == nil {
		defer f.close()
		data, err = f.read()
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrMiss
		}
		return fmt.Errorf("cache: read %s: %w", path, err)
	}
	written, reason := decode(data)
	if reason != "" {
		// Decide on the whole file, as it was read before reads were
		// cut short.
		again, err := f.whole(data)
		if err != nil {
			return fmt.Errorf("cache: read %s: %w", path, err)
		}
		if again != nil {
			written, reason = decode(again)
		}
	}
	if reason != "" {
		if st, err := f.stamp(); err == nil && st.same(path) {
			_ = os.Remove(path)
		}
		return &CorruptError{Key: k, Path: path, Reason: reason}
	}
	now := c.now()
	if ns, _ := parseDecimal(written); now.Sub(time.Unix(0, ns)) < mtimeInterval {
		return nil
	}
	if st, err := f.stamp(); err == nil && now.Sub(st.mtime) >= mtimeInterval {
		// Best effort: failing to record a hit loses nothing but an
		// approximate date, and the entry may be gone already.
		_ = os.Chtimes(path, now, now)
	}
	return nil
}

// readFile reads the file at path and returns its stat. On Linux it makes
// 5 system calls (open, fcntl, fstat, read, close) where os.ReadFile makes
// 10 (see openRead): entries are never modified in place (only replaced
// by rename), so the size fstat reports is the size to read, and no read
// to EOF is needed.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (%s)", info.Mode().Type())
	}
	data := make([]byte, info.Size())
	n, err := io.ReadFull(f, data)
	if err == io.ErrUnexpectedEOF {
		// Shrunk under us: only possible if something other than this
		// package writes to the file. Verification reports it.
		err = nil
	}
	return data[:n], info, err
}

// Put stores e under k, replacing any entry there (the last writer wins).
//
// The entry file is written to a temporary file in the same directory and
// renamed into place, so a concurrent Get sees either the old entry, no
// entry, or the whole new one. Put never leaves its temporary file behind
// when it fails. It does not fsync: the engine may write thousands of
// entries in a run, and the checksum in every entry already makes a crash
// safe: if the machine goes down before the data reaches the disk, the
// renamed file may come back empty or partly written, and Get reports it
// as a [*CorruptError] (a miss) instead of returning it.
//
// Put also appends k to the task's index log (for [Cache.List] and
// [Cache.Latest]), before writing the entry. If Put fails, the cache holds
// the entry it held before, if any.
//
// e.Task is required, and e.Outputs must be valid JSON. If e.Created is
// zero, the stored entry records the current time; e itself is not
// modified.
//
// Cost: one new file (the temporary one) per Put. Creating files is
// the expensive part on some disks, so the index is one append-only
// file per task rather than a file per entry.
func (c *Cache) Put(k Key, e *Entry) error {
	if e == nil {
		return fmt.Errorf("cache: put %s: nil entry", k)
	}
	if e.Task == "" {
		return fmt.Errorf("cache: put %s: entry has no task", k)
	}
	now := c.now()
	rec := *e
	if rec.Created.IsZero() {
		rec.Created = now
	}
	data, err := encodeEntry(k, &rec, now)
	if err != nil {
		return fmt.Errorf("cache: put %s: %w", k, err)
	}
	// The index line goes first, so that an entry always has one (except
	// when a concurrent Clear or Prune rewrites the log while this Put
	// runs, which leaves an entry that List(task), Latest and Clear(task)
	// miss but Get, List(""), Clear("") and Prune still find). A line
	// whose entry never arrived is skipped by readers.
	if err := appendLine(c.taskLog(rec.Task), k); err != nil {
		return fmt.Errorf("cache: put %s: index: %w", k, err)
	}
	if err := writeAtomic(c.Path(k), data); err != nil {
		return fmt.Errorf("cache: put %s: %w", k, err)
	}
	return nil
}

// appendLine appends k's hex and a newline to the log at path with one
// O_APPEND write, which local file systems do not interleave with other
// appends. A crash can leave a partial last line; readers skip it.
func appendLine(path string, k Key) error {
	var line [hexKeyLen + 1]byte
	hex.Encode(line[:], k[:])
	line[hexKeyLen] = '\n'
	const flag = os.O_WRONLY | os.O_APPEND | os.O_CREATE
	f, err := os.OpenFile(path, flag, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			f, err = os.OpenFile(path, flag, 0o600)
		}
	}
	if err != nil {
		return err
	}
	_, err = f.Write(line[:])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeAtomic writes data to a new temporary file next to path and renames
// it to path, creating the directory if needed. On failure it removes the
// temporary file.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, base+tmpInfix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, base+tmpInfix+"*")
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Delete removes k's entry. It returns an error wrapping [ErrMiss] if
// there was none. The key's line in the task's index log stays until
// [Cache.Prune] compacts the log; readers skip it.
func (c *Cache) Delete(k Key) error {
	if err := os.Remove(c.Path(k)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cache: delete %s: %w", k, ErrMiss)
		}
		return fmt.Errorf("cache: delete %s: %w", k, err)
	}
	return nil
}

// isTemp reports whether a file name in the cache is a temporary file.
func isTemp(name string) bool { return strings.Contains(name, tmpInfix) }
