package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/secretsbackends"
)

// Token is what the cache keeps for one configuration. AccessToken and
// RefreshToken are secrets.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"` // zero: unknown, used until refused
	Obtained     time.Time `json:"obtained"`
	Mode         Mode      `json:"mode"`
	Issuer       string    `json:"issuer,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
}

// RefreshMargin is how long before its expiry a token is replaced: the
// lesser of 60 s and a tenth of its lifetime, so that a 30 s token is
// renewed 3 s ahead and not on every call.
func (t *Token) RefreshMargin() time.Duration {
	if t.Expiry.IsZero() {
		return 0
	}
	return min(time.Minute, t.Expiry.Sub(t.Obtained)/10)
}

// fresh reports whether t can be sent at now without refreshing.
func (t *Token) fresh(now time.Time) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || now.Before(t.Expiry.Add(-t.RefreshMargin()))
}

// Cache keeps tokens between processes. Load returns nil, nil when it has
// none for key. Delete reports whether there was one. Errors never hold a
// token.
type Cache interface {
	Load(ctx context.Context, key string) (*Token, error)
	Store(ctx context.Context, key string, t *Token) error
	Delete(ctx context.Context, key string) (bool, error)
	// Where says where the token for key is kept, for people.
	Where(key string) string
}

// TokenService returns the keychain service tokens are kept under for
// the secrets service svc: "<svc>-tokens". It is never svc itself, so the
// secrets chain, which reads svc, cannot hand a token to a plugin.
func TokenService(svc string) string {
	if svc == "" {
		svc = secretsbackends.DefaultKeychainService
	}
	return svc + "-tokens"
}

// KeychainCache keeps tokens in the OS keychain through secretsbackends,
// with the same backends and headless fallback as secrets, but under a
// service of its own ([TokenService]) and, for the encrypted file
// fallback, a directory of its own (<fallback_dir>-tokens).
type KeychainCache struct {
	store *secretsbackends.Store
}

// NewKeychainCache returns the token cache for the secrets options opts
// (cmd/goflyte builds them from the secrets block).
func NewKeychainCache(opts secretsbackends.Options) *KeychainCache {
	opts.KeychainService = TokenService(opts.KeychainService)
	dir := opts.FallbackDir
	if dir == "" {
		dir = secretsbackends.DefaultKeyringDir()
	}
	if dir != "" {
		opts.FallbackDir = filepath.Clean(dir) + "-tokens"
	}
	return &KeychainCache{store: secretsbackends.NewStore(opts)}
}

func cacheName(key string) secretsbackends.Name {
	return secretsbackends.Name{Group: "oidc", Key: key}
}

// Load reads the token stored under key.
func (c *KeychainCache) Load(ctx context.Context, key string) (*Token, error) {
	b, err := c.store.Lookup(ctx, cacheName(key))
	if errors.Is(err, secretsbackends.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: not a token entry (it will be replaced)", c.store.Where(cacheName(key)))
	}
	return &t, nil
}

// Store replaces the token stored under key.
func (c *KeychainCache) Store(ctx context.Context, key string, t *Token) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return c.store.Set(ctx, cacheName(key), b)
}

// Delete removes the token stored under key.
func (c *KeychainCache) Delete(ctx context.Context, key string) (bool, error) {
	err := c.store.Delete(ctx, cacheName(key))
	if errors.Is(err, secretsbackends.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Where names the keychain item (or fallback entry) for key.
func (c *KeychainCache) Where(key string) string { return c.store.Where(cacheName(key)) }

// MemoryCache is a Cache in memory, for tests and for processes that
// must not touch the keychain. Safe for concurrent use.
type MemoryCache struct {
	mu sync.Mutex
	m  map[string]Token
}

func (c *MemoryCache) Load(_ context.Context, key string) (*Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[key]; ok {
		return &t, nil
	}
	return nil, nil
}

func (c *MemoryCache) Store(_ context.Context, key string, t *Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Token{}
	}
	c.m[key] = *t
	return nil
}

func (c *MemoryCache) Delete(_ context.Context, key string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[key]
	delete(c.m, key)
	return ok, nil
}

func (c *MemoryCache) Where(key string) string { return "memory " + key }

// cacheKey identifies the token of a configuration: the same issuer,
// client, mode, scopes and audience share it.
func cacheKey(s Settings) string {
	h := sha256.Sum256([]byte(strings.Join([]string{
		string(s.Mode), s.Issuer, s.ClientID, strings.Join(s.Scopes, " "), s.Audience,
	}, "\x00")))
	return hex.EncodeToString(h[:12])
}
