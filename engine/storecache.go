package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goflyte/goflyte/engine/cache"
)

// Managing a store cache (`goflyte cache --remote`): the same listing,
// look-up and clean-up as the local cache (engine/cache), on the objects
// of the data store. Entries in a bucket record no hits (a hit would cost
// a write), so an entry's Info.LastHit is always zero and Prune goes by
// when the entry was written.

// ObjectStore is a [Store] whose objects can be listed, read and deleted
// (engine/datastore's Store is one): what managing a store cache needs.
type ObjectStore interface {
	Store
	// List calls fn for each object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error
	// Read returns an object's content.
	Read(ctx context.Context, key string) ([]byte, error)
	// Delete removes an object.
	Delete(ctx context.Context, key string) error
}

// URI is where the cache's entries live.
func (s *StoreCache) URI() string { return s.prefix }

// objects opens the store as an ObjectStore.
func (s *StoreCache) objects(ctx context.Context) (ObjectStore, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	os, ok := st.(ObjectStore)
	if !ok {
		return nil, fmt.Errorf("the data store at %s cannot list or delete its objects", s.prefix)
	}
	return os, nil
}

// storeObject is an entry's object.
type storeObject struct {
	key  cache.Key
	name string // the object's key in the store
	size int64
	mod  time.Time
}

// entryObjects lists the objects that are named like entries
// ("<2 hex>/<64 hex>") under the key prefix p.
func entryObjects(ctx context.Context, st ObjectStore, p string) ([]storeObject, error) {
	var objs []storeObject
	err := st.List(ctx, p, func(name string, size int64, mod time.Time) error {
		dir, base := path.Split(name)
		k, err := cache.ParseKey(base)
		if err != nil || dir != base[:2]+"/" {
			return nil // not an entry: leave it alone
		}
		objs = append(objs, storeObject{key: k, name: name, size: size, mod: mod})
		return nil
	})
	return objs, err
}

// storeWorkers is how many objects a store cache reads or deletes at once.
const storeWorkers = 8

// each calls fn for every index of objs, storeWorkers at a time, and
// joins their errors.
func each(objs []storeObject, fn func(i int) error) error {
	errs := make([]error, len(objs))
	sem := make(chan struct{}, storeWorkers)
	var wg sync.WaitGroup
	for i := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readEntries reads and checks objs; a corrupt or vanished entry has a
// nil *cache.Entry.
func (s *StoreCache) readEntries(ctx context.Context, st ObjectStore, objs []storeObject) ([]*cache.Entry, error) {
	entries := make([]*cache.Entry, len(objs))
	err := each(objs, func(i int) error {
		data, err := st.Read(ctx, objs[i].name)
		if err != nil {
			if s.missing(err) {
				return nil
			}
			return fmt.Errorf("cache: read %s: %w", objs[i].name, err)
		}
		if e, reason := decodeStoreEntry(objs[i].key, data); reason == "" {
			entries[i] = e
		}
		return nil
	})
	return entries, err
}

// missing reports whether err is a missing object, for a Storage that
// can tell ([NotFounder]); for one that cannot, nothing is missing.
func (s *StoreCache) missing(err error) bool {
	nf, ok := s.e.Storage.(NotFounder)
	return ok && nf.IsNotFound(err)
}

// List returns the entries of task ("" for all), newest first, as the
// local cache's List does. Corrupt entries are left out.
func (s *StoreCache) List(ctx context.Context, task string) ([]cache.Info, error) {
	st, err := s.objects(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := entryObjects(ctx, st, "")
	if err != nil {
		return nil, err
	}
	entries, err := s.readEntries(ctx, st, objs)
	if err != nil {
		return nil, err
	}
	infos := make([]cache.Info, 0, len(objs))
	for i, e := range entries {
		if e == nil || (task != "" && e.Task != task) {
			continue
		}
		infos = append(infos, cache.Info{Key: objs[i].key, Task: e.Task, Version: e.Version, Size: objs[i].size, Created: e.Created, Run: e.Run})
	}
	slices.SortFunc(infos, func(a, b cache.Info) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.Key[:], b.Key[:])
	})
	return infos, nil
}

// Resolve returns the key of the one entry whose hex key starts with
// prefix (at least 8 hex digits), with the local cache's errors: too
// short or not hex, no entry (wraps cache.ErrMiss), ambiguous.
func (s *StoreCache) Resolve(ctx context.Context, prefix string) (cache.Key, error) {
	p := strings.ToLower(prefix)
	if len(p) < 8 {
		return cache.Key{}, fmt.Errorf("cache: key prefix %q is too short: give at least 8 hex digits", prefix)
	}
	if len(p) > 64 || strings.Trim(p, "0123456789abcdef") != "" {
		return cache.Key{}, fmt.Errorf("cache: %q is not a key or key prefix: want 8 to 64 hex digits", prefix)
	}
	st, err := s.objects(ctx)
	if err != nil {
		return cache.Key{}, err
	}
	objs, err := entryObjects(ctx, st, p[:2]+"/"+p)
	if err != nil {
		return cache.Key{}, fmt.Errorf("cache: resolve %s: %w", p, err)
	}
	switch len(objs) {
	case 0:
		return cache.Key{}, fmt.Errorf("cache: no entry with key prefix %s: %w", p, cache.ErrMiss)
	case 1:
		return objs[0].key, nil
	}
	return cache.Key{}, fmt.Errorf("cache: key prefix %s is ambiguous: %d entries match; give more digits", p, len(objs))
}

// Entry returns the entry stored for key: an error wrapping
// cache.ErrMiss if there is none, a *cache.CorruptError if it does not
// check out.
func (s *StoreCache) Entry(ctx context.Context, key cache.Key) (*cache.Entry, error) {
	st, err := s.objects(ctx)
	if err != nil {
		return nil, err
	}
	name := storeCacheKey(key)
	data, err := st.Read(ctx, name)
	if err != nil {
		if s.missing(err) {
			return nil, cache.ErrMiss
		}
		return nil, err
	}
	e, reason := decodeStoreEntry(key, data)
	if reason != "" {
		return nil, &cache.CorruptError{Key: key, Path: objectURI(s.prefix, name), Reason: reason}
	}
	return e, nil
}

// Clear removes the entries of task, or every entry if task is "", and
// returns how many it removed. With a task, corrupt entries stay (their
// task cannot be told); without, they go too.
func (s *StoreCache) Clear(ctx context.Context, task string) (int, error) {
	st, err := s.objects(ctx)
	if err != nil {
		return 0, err
	}
	objs, err := entryObjects(ctx, st, "")
	if err != nil {
		return 0, err
	}
	if task != "" {
		entries, err := s.readEntries(ctx, st, objs)
		if err != nil {
			return 0, err
		}
		kept := objs[:0]
		for i, e := range entries {
			if e != nil && e.Task == task {
				kept = append(kept, objs[i])
			}
		}
		objs = kept
	}
	return s.deleteObjects(ctx, st, objs)
}

// Prune removes the entries written before now minus olderThan (a bucket
// records no hits), and returns how many it removed.
func (s *StoreCache) Prune(ctx context.Context, olderThan time.Duration, now time.Time) (int, error) {
	st, err := s.objects(ctx)
	if err != nil {
		return 0, err
	}
	objs, err := entryObjects(ctx, st, "")
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-olderThan)
	old := objs[:0]
	for _, o := range objs {
		if o.mod.Before(cutoff) {
			old = append(old, o)
		}
	}
	return s.deleteObjects(ctx, st, old)
}

func (s *StoreCache) deleteObjects(ctx context.Context, st ObjectStore, objs []storeObject) (int, error) {
	var n atomic.Int64
	err := each(objs, func(i int) error {
		if err := st.Delete(ctx, objs[i].name); err != nil {
			if s.missing(err) {
				return nil // removed meanwhile
			}
			return fmt.Errorf("cache: remove %s: %w", objs[i].name, err)
		}
		n.Add(1)
		return nil
	})
	return int(n.Load()), err
}
