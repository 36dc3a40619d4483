package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine/cache"
)

// ResultCache is where task results are cached: the local cache
// directory ([LocalResultCache], engine/cache) or a data store shared by
// many machines ([Engine.StoreCache]). Both hold the same entries under
// the same keys (cacheKey), so the semantics of a hit do not depend on
// where the entry lives.
type ResultCache interface {
	// Get returns the outputs stored for key. No entry is an error
	// wrapping cache.ErrMiss; a corrupt one (truncated, bit-flipped,
	// another key's) is a *cache.CorruptError, which wraps it too. Any
	// other error means the cache could not be read.
	Get(ctx context.Context, key cache.Key) (json.RawMessage, error)
	// Put stores e under key, atomically: a concurrent Get sees the old
	// entry, none, or the whole new one. The last writer wins.
	Put(ctx context.Context, key cache.Key, e *cache.Entry) error
}

// LocalResultCache is c, the local cache directory, as a ResultCache.
func LocalResultCache(c *cache.Cache) ResultCache { return localCache{c} }

type localCache struct{ c *cache.Cache }

func (l localCache) Get(_ context.Context, key cache.Key) (json.RawMessage, error) {
	return l.c.GetOutputs(key)
}

func (l localCache) Put(_ context.Context, key cache.Key, e *cache.Entry) error {
	return l.c.Put(key, e)
}

// storeCacheMagic starts every entry of a store cache: the format and
// its version.
const storeCacheMagic = "goflyte-store-cache/1"

// StoreCache returns the cache whose entries live in the data store at
// prefix (a bucket URI such as s3://bucket/cache, or a local directory),
// through e.Storage: one object per key, "<prefix>/<2 hex>/<key hex>",
// holding a header line (format, key, SHA-256 of the rest) and the entry
// as JSON. Objects are written whole (a local store renames a temporary
// file into place; a bucket's objects appear whole when their upload
// completes), and the checksum makes a truncated or altered object a
// *cache.CorruptError, a miss. A result computed on one machine is
// therefore a hit on every other that shares the prefix. Its List,
// Entry, Resolve, Clear and Prune (storecache.go) are `goflyte cache
// --remote`.
func (e *Engine) StoreCache(prefix string) *StoreCache {
	return &StoreCache{e: e, prefix: strings.TrimRight(prefix, "/")}
}

// StoreCache is a [ResultCache] in the data store; see [Engine.StoreCache].
type StoreCache struct {
	e      *Engine
	prefix string

	once  sync.Once
	store Store
	err   error
}

func (s *StoreCache) open(ctx context.Context) (Store, error) {
	s.once.Do(func() {
		if s.e.Storage == nil {
			s.err = errNoStorage
			return
		}
		st, err := s.e.Storage.Open(context.WithoutCancel(ctx), s.prefix)
		if err != nil {
			s.err = fmt.Errorf("open the cache at %s: %w", s.prefix, err)
			return
		}
		s.store = st
	})
	return s.store, s.err
}

// Close closes the cache's connection to the store, if it made one.
func (s *StoreCache) Close() error {
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

func storeCacheKey(key cache.Key) string {
	h := key.String()
	return h[:2] + "/" + h
}

// objectURI is the URI of key under prefix; query parameters of a
// bucket URI (?endpoint=...) stay at the end.
func objectURI(prefix, key string) string {
	base, query, hasQuery := strings.Cut(prefix, "?")
	uri := strings.TrimRight(base, "/") + "/" + key
	if !strings.Contains(prefix, "://") {
		uri = filepath.Join(base, filepath.FromSlash(key))
	}
	if hasQuery {
		uri += "?" + query
	}
	return uri
}

func (s *StoreCache) Get(ctx context.Context, key cache.Key) (json.RawMessage, error) {
	if s.e.Storage == nil {
		return nil, errNoStorage
	}
	uri := objectURI(s.prefix, storeCacheKey(key))
	dir, err := os.MkdirTemp("", "goflyte-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "entry")
	if err := s.e.Storage.Fetch(ctx, uri, dst, false); err != nil {
		if isNotFound(s.e.Storage, err) {
			return nil, cache.ErrMiss
		}
		return nil, fmt.Errorf("read cache entry %s: %w", uri, err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		return nil, err
	}
	entry, reason := decodeStoreEntry(key, data)
	if reason != "" {
		return nil, &cache.CorruptError{Key: key, Path: uri, Reason: reason}
	}
	return entry.Outputs, nil
}

func (s *StoreCache) Put(ctx context.Context, key cache.Key, e *cache.Entry) error {
	if e == nil || e.Task == "" {
		return fmt.Errorf("cache: put %s: entry has no task", key)
	}
	rec := *e
	if rec.Created.IsZero() {
		rec.Created = time.Now().UTC()
	}
	data, err := encodeStoreEntry(key, &rec)
	if err != nil {
		return err
	}
	st, err := s.open(ctx)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "goflyte-cache-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := st.PutFile(ctx, storeCacheKey(key), f.Name()); err != nil {
		return fmt.Errorf("cache: put %s: %w", key, err)
	}
	return nil
}

// encodeStoreEntry is the object of an entry: "<magic> <key> <sha256 of
// the body>\n<body>", the body being the entry as JSON.
func encodeStoreEntry(key cache.Key, e *cache.Entry) ([]byte, error) {
	if len(e.Outputs) > 0 && !json.Valid(e.Outputs) {
		return nil, fmt.Errorf("cache: put %s: outputs are not valid JSON", key)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("cache: put %s: %w", key, err)
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\n", storeCacheMagic, key, hex.EncodeToString(sum[:]))
	b.Write(body)
	return b.Bytes(), nil
}

// decodeStoreEntry checks and decodes an object; a non-empty reason says
// why it is corrupt.
func decodeStoreEntry(key cache.Key, data []byte) (*cache.Entry, string) {
	header, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return nil, "no header line"
	}
	fields := strings.Fields(string(header))
	if len(fields) != 3 || fields[0] != storeCacheMagic {
		return nil, "not a goflyte cache entry"
	}
	if fields[1] != key.String() {
		return nil, "holds the entry of another key"
	}
	sum := sha256.Sum256(body)
	if fields[2] != hex.EncodeToString(sum[:]) {
		return nil, "checksum mismatch (truncated or altered)"
	}
	var e cache.Entry
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, "entry is not JSON: " + err.Error()
	}
	if e.Task == "" {
		return nil, "entry has no task"
	}
	return &e, ""
}

// NotFounder is implemented by a [Storage] that can tell a missing object
// from other failures of Fetch (engine/datastore's ErrNotFound). A
// Storage without it makes every failed fetch of a cache entry a miss.
type NotFounder interface {
	IsNotFound(err error) bool
}

func isNotFound(s Storage, err error) bool {
	if nf, ok := s.(NotFounder); ok {
		return nf.IsNotFound(err)
	}
	// Without a way to tell, a failed fetch is a miss: the task runs.
	return true
}
