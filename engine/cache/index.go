package cache

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The index: for each task, tasks/<sha256(task)> is a log with one line
// per Put, the key in hex, appended before the entry is written. The log
// may name keys more than once, keys whose entries are gone, and (after a
// crash) a partial last line; readers skip what does not lead to a valid
// entry of the task. Prune compacts the logs.

// Info describes one entry, for listings.
type Info struct {
	Key     Key    `json:"key"`
	Task    string `json:"task"`
	Version string `json:"version"`
	// Size is the size of the entry file in bytes.
	Size int64 `json:"size"`
	// Created is the entry's Created time.
	Created time.Time `json:"created"`
	// LastHit is the last recorded hit, or zero if none has been recorded.
	// Hits are recorded in the entry file's modification time, at most
	// once an hour (see [Cache.Get]), so LastHit may be up to an hour
	// older than the true last hit, and hits within the first hour after
	// the entry was written are not recorded at all.
	LastHit time.Time `json:"last_hit"`
	// Run is the entry's Run: the run that wrote it, "" if not recorded.
	Run string `json:"run,omitempty"`
}

// lastHit derives Info.LastHit from an entry file's modification time and
// the time Put wrote it (recorded in the header): Put leaves the
// modification time at about the time written, and Get moves it only
// once it is an hour old, so a recorded hit is at least an hour after the
// write.
func lastHit(mtime time.Time, written []byte) time.Time {
	ns, _ := parseDecimal(written) // verified already
	if mtime.Sub(time.Unix(0, ns)) >= mtimeInterval {
		return mtime
	}
	return time.Time{}
}

// peek reads k's entry without recording a hit or removing a corrupt
// file. It returns ok == false if the entry is missing or corrupt, and an
// error only for other failures to read it.
func (c *Cache) peek(k Key) (_ *Entry, _ Info, ok bool, _ error) {
	path := c.Path(k)
	data, fi, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Info{}, false, nil
		}
		return nil, Info{}, false, fmt.Errorf("cache: read %s: %w", path, err)
	}
	e, written, reason := decodeEntry(k, data)
	if reason != "" {
		return nil, Info{}, false, nil
	}
	return e, Info{
		Key:     k,
		Task:    e.Task,
		Version: e.Version,
		Size:    fi.Size(),
		Created: e.Created,
		LastHit: lastHit(fi.ModTime(), written),
		Run:     e.Run,
	}, true, nil
}

// latestTail is how much of the end of a task's log Latest reads first.
const latestTail = 16 << 10

// Latest returns the entry last written for task, to tell what changed
// since then when task misses. It returns an error wrapping [ErrMiss] if
// the cache holds no entry for task.
//
// It reads the end of the task's index log and then the newest key's
// entry; if that entry is gone (deleted, pruned) or corrupt, the one
// before, and so on. It records no hit and removes nothing. When several
// processes Put entries for task at once, "last written" means the last
// to be indexed.
func (c *Cache) Latest(task string) (Key, *Entry, error) {
	path := c.taskLog(task)
	tail, whole, err := readTail(path, latestTail)
	if err != nil {
		return Key{}, nil, fmt.Errorf("cache: latest %q: %w", task, err)
	}
	seen := make(map[Key]bool)
	try := func(data []byte) (Key, *Entry, error) {
		keys := parseLog(data)
		for i := len(keys) - 1; i >= 0; i-- {
			k := keys[i]
			if seen[k] {
				continue
			}
			seen[k] = true
			e, _, ok, err := c.peek(k)
			if err != nil {
				return Key{}, nil, err
			}
			if ok && e.Task == task {
				return k, e, nil
			}
		}
		return Key{}, nil, nil
	}
	k, e, err := try(tail)
	if e == nil && err == nil && !whole {
		var all []byte
		if all, err = os.ReadFile(path); err == nil {
			k, e, err = try(all)
		} else if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return Key{}, nil, err
	}
	if e == nil {
		return Key{}, nil, fmt.Errorf("cache: no entry for task %q: %w", task, ErrMiss)
	}
	return k, e, nil
}

// readTail returns about the last n bytes of the file at path, starting
// at a line boundary, and whether that is the whole file. A missing file
// is empty.
func readTail(path string, n int64) ([]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, true, nil
		}
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	off := max(fi.Size()-n, 0)
	buf := make([]byte, fi.Size()-off)
	m, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	buf = buf[:m]
	if off > 0 {
		// Drop the partial first line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = nil
		}
	}
	return buf, off == 0, nil
}

// parseLog returns the keys in a task log, in order, skipping lines that
// are not exactly a key (a partial line left by a crash).
func parseLog(data []byte) []Key {
	var keys []Key
	for {
		line, rest, ok := bytes.Cut(data, []byte{'\n'})
		if !ok {
			return keys // no newline: the append did not finish
		}
		if k, ok := parseName(string(line)); ok {
			keys = append(keys, k)
		}
		data = rest
	}
}

// List describes the entries for task, or every entry if task is "",
// newest Created first (ties by key). It skips corrupt entries (Get
// reports and removes them) and records no hits.
//
// List(task) reads the task's index log and each entry it names; List("")
// reads every entry in the cache.
func (c *Cache) List(task string) ([]Info, error) {
	var keys []Key
	var err error
	if task == "" {
		keys, err = c.allKeys()
	} else {
		keys, err = c.taskKeys(task)
	}
	if err != nil {
		return nil, err
	}
	infos := make([]Info, 0, len(keys))
	for _, k := range keys {
		_, in, ok, err := c.peek(k)
		if err != nil {
			return nil, err
		}
		if ok && (task == "" || in.Task == task) {
			infos = append(infos, in)
		}
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.Key[:], b.Key[:])
	})
	return infos, nil
}

// Resolve returns the key of the one entry whose hex key starts with
// prefix (at least 8 hex digits, either case), for commands that take a
// key typed by a user. A full key resolves only if its entry exists.
// Errors: the prefix is too short or not hex; no entry matches (wraps
// [ErrMiss]); several entries match.
func (c *Cache) Resolve(prefix string) (Key, error) {
	p := strings.ToLower(prefix)
	if len(p) < 8 {
		return Key{}, fmt.Errorf("cache: key prefix %q is too short: give at least 8 hex digits", prefix)
	}
	if len(p) > hexKeyLen || !isLowerHex(p) {
		return Key{}, fmt.Errorf("cache: %q is not a key or key prefix: want 8 to %d hex digits", prefix, hexKeyLen)
	}
	dir := filepath.Join(c.dir, p[:2])
	names, err := readDirNames(dir)
	if err != nil {
		return Key{}, fmt.Errorf("cache: resolve %s: %w", p, err)
	}
	var matches []Key
	for _, name := range names {
		if k, ok := parseName(name); ok && strings.HasPrefix(name, p) {
			matches = append(matches, k)
		}
	}
	switch len(matches) {
	case 0:
		return Key{}, fmt.Errorf("cache: no entry with key prefix %s: %w", p, ErrMiss)
	case 1:
		return matches[0], nil
	default:
		return Key{}, fmt.Errorf("cache: key prefix %s is ambiguous: %d entries match; give more digits", p, len(matches))
	}
}

// Clear removes the entries for task, or every entry if task is "", and
// returns how many entry files it removed. A Put or Get running at the
// same time is not disturbed: at worst the Get misses, or the Put's entry
// is removed right after it was written, or survives unindexed (see
// [Cache.Put]).
func (c *Cache) Clear(task string) (int, error) {
	if task == "" {
		return c.clearAll()
	}
	keys, err := c.taskKeys(task)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		path := c.Path(k)
		data, fi, err := readFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return n, fmt.Errorf("cache: clear %q: read %s: %w", task, path, err)
		default:
			// The log names only task's keys; a corrupt entry among
			// them was task's too.
			if e, _, reason := decodeEntry(k, data); reason != "" || e.Task == task {
				removed, err := removeSame(path, fi)
				if err != nil {
					return n, fmt.Errorf("cache: clear %q: %w", task, err)
				}
				if removed {
					n++
				}
			}
		}
	}
	if err := removeIfExists(c.taskLog(task)); err != nil {
		return n, fmt.Errorf("cache: clear %q: %w", task, err)
	}
	return n, nil
}

func (c *Cache) clearAll() (int, error) {
	n := 0
	err := c.walkEntries(func(path string, k Key) error {
		err := os.Remove(path)
		if err == nil {
			n++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err == nil {
		err = c.walkLogs(func(path string, _ []Key) error { return removeIfExists(path) })
	}
	if err != nil {
		return n, fmt.Errorf("cache: clear: %w", err)
	}
	return n, nil
}

// Prune removes the entries not used since now minus olderThan, and
// returns how many it removed. An entry's last use is its last recorded
// hit ([Info.LastHit]) or, if none, when it was written; precisely, the
// entry file's modification time, which Get keeps to within an hour. So
// prune with olderThan well above an hour.
//
// Prune reads every entry file's metadata and every task's index log,
// which it compacts (dropping keys whose entries are gone, and repeats).
// It also removes temporary files left by processes that died more than
// an hour ago. A Put racing a Prune may end up unindexed (see
// [Cache.Put]); a Get racing it may miss.
func (c *Cache) Prune(olderThan time.Duration, now time.Time) (int, error) {
	cutoff := now.Add(-olderThan)
	n := 0
	err := c.walkEntries(func(path string, k Key) error {
		fi, err := os.Lstat(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		removed, err := removeSame(path, fi)
		if removed {
			n++
		}
		return err
	})
	if err == nil {
		err = c.walkLogs(c.compactLog)
	}
	if err != nil {
		return n, fmt.Errorf("cache: prune: %w", err)
	}
	return n, nil
}

// compactLog rewrites the log at path, holding keys, to name each key
// whose entry exists once, in the order of their last lines; it removes
// the log if no such key is left, and leaves it alone if nothing would
// change.
func (c *Cache) compactLog(path string, keys []Key) error {
	var keep []Key
	seen := make(map[Key]bool, len(keys))
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, err := os.Lstat(c.Path(k)); err == nil {
			keep = append(keep, k)
		}
	}
	if len(keep) == 0 {
		return removeIfExists(path)
	}
	slices.Reverse(keep)
	var buf []byte
	for _, k := range keep {
		buf = hex.AppendEncode(buf, k[:])
		buf = append(buf, '\n')
	}
	if data, err := os.ReadFile(path); err == nil && bytes.Equal(data, buf) {
		return nil
	}
	return writeAtomic(path, buf)
}

// walkEntries calls f for every entry file in the fan-out directories.
// Temporary files left behind by dead writers are removed on the way.
func (c *Cache) walkEntries(f func(path string, k Key) error) error {
	top, err := readDirNames(c.dir)
	if err != nil {
		return err
	}
	for _, d := range top {
		if len(d) != 2 || !isLowerHex(d) {
			continue
		}
		dir := filepath.Join(c.dir, d)
		names, err := readDirNames(dir)
		if err != nil {
			if !isDir(dir) {
				continue // not a fan-out directory: not ours to judge
			}
			return err
		}
		for _, name := range names {
			// A key in the wrong directory is never read by Get: skip.
			if k, ok := parseName(name); ok && strings.HasPrefix(name, d) {
				if err := f(filepath.Join(dir, name), k); err != nil {
					return err
				}
			}
		}
		if err := c.removeOldTemps(dir, names); err != nil {
			return err
		}
	}
	return nil
}

// walkLogs calls f for every task's index log, with the keys in it.
// Temporary files left by dead compactions are removed on the way.
func (c *Cache) walkLogs(f func(path string, keys []Key) error) error {
	dir := filepath.Join(c.dir, tasksDir)
	names, err := readDirNames(dir)
	if err != nil {
		if !isDir(dir) {
			return nil
		}
		return err
	}
	for _, name := range names {
		if _, ok := parseName(name); !ok {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if err := f(path, parseLog(data)); err != nil {
			return err
		}
	}
	return c.removeOldTemps(dir, names)
}

// removeOldTemps removes the temporary files among names in dir that are
// older than tempGrace.
func (c *Cache) removeOldTemps(dir string, names []string) error {
	old := c.now().Add(-tempGrace)
	for _, name := range names {
		if !isTemp(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Lstat(path); err == nil && fi.ModTime().Before(old) {
			if err := removeIfExists(path); err != nil {
				return err
			}
		}
	}
	return nil
}

// taskKeys returns the keys in task's index log, each once.
func (c *Cache) taskKeys(task string) ([]Key, error) {
	path := c.taskLog(task)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("cache: read index %s: %w", path, err)
	}
	keys := parseLog(data)
	slices.SortFunc(keys, func(a, b Key) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(keys), nil
}

// allKeys returns the keys of every entry file.
func (c *Cache) allKeys() ([]Key, error) {
	var keys []Key
	err := c.walkEntries(func(_ string, k Key) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: list: %w", err)
	}
	return keys, nil
}

// readDirNames returns the names in dir, sorted, or none if dir does not
// exist.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

// removeSame removes path if it is still the file fi describes, and
// reports whether it did.
func removeSame(path string, fi fs.FileInfo) (bool, error) {
	cur, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if !os.SameFile(cur, fi) {
		return false, nil // replaced by a Put since: keep the new entry
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// parseName returns the key a file (or log line) is named after: 64
// lower-case hex digits, as Put writes them.
func parseName(name string) (Key, bool) {
	var k Key
	if len(name) != hexKeyLen || !isLowerHex(name) {
		return k, false
	}
	hex.Decode(k[:], []byte(name))
	return k, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
