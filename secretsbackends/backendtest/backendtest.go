// Package backendtest checks that a [secretsbackends.Backend] keeps the
// contract every backend shares, as testing/fstest.TestFS does for an
// fs.FS. A backend's own tests call [Run] with a function that makes a
// fresh, empty backend and says how to put a secret into it:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) (secretsbackends.Backend, backendtest.Seed) {
//			dir := t.TempDir()
//			seed := func(t *testing.T, n secretsbackends.Name, value []byte) { … write the file … }
//			return secretsbackends.Dir{Path: dir}, seed
//		}, backendtest.Options{})
//	}
//
// It checks: stored values come back byte for byte (trailing newlines,
// white space and, unless [Options.Text], non-UTF-8 and NUL bytes); a
// missing secret is an error wrapping [secretsbackends.ErrNotFound]; an
// invalid name is an error wrapping [secretsbackends.ErrInvalidName] and
// not ErrNotFound; a cancelled context is an error wrapping
// context.Canceled; the caller owns returned slices; many goroutines may
// look up at once (run with -race); Where and errors never contain a
// value. A backend that also implements [secretsbackends.Setter],
// [secretsbackends.Deleter] or [secretsbackends.Lister] is checked for
// those too.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/goflyte/goflyte/secretsbackends"
)

// Seed puts a secret in place so that the backend under test finds it:
// it sets a variable, writes a file, or stores it in a keychain. It may be
// nil for a backend that implements [secretsbackends.Setter]; then Run
// seeds with Set. Seed reports its own failures with t.Fatal.
type Seed func(t *testing.T, n secretsbackends.Name, value []byte)

// NewBackend returns a fresh backend that holds no secrets yet, and how to
// seed it. It registers any clean-up with t.Cleanup. Run calls it once per
// check.
type NewBackend func(t *testing.T) (secretsbackends.Backend, Seed)

// Options adapt the checks to what a backend can store.
type Options struct {
	// Text restricts the values to valid UTF-8 without NUL bytes, for
	// backends that can only store text (real environment variables).
	Text bool
	// Goroutines is the number of goroutines of the concurrency check; 0
	// means 8.
	Goroutines int
}

// A secret used by the checks. The values are distinctive so that a leak
// into a Where string or an error is easy to spot.
type secret struct {
	name  secretsbackends.Name
	value []byte
}

func secrets(opts Options) []secret {
	s := []secret{
		{secretsbackends.Name{Group: "github", Key: "token"}, []byte("ghp-SECRET-conformance-1")},
		{secretsbackends.Name{Group: "my-group", Version: "v1", Key: "api-key"}, []byte("SECRET-conformance-2 with spaces  \n")},
		{secretsbackends.Name{Key: "standalone"}, []byte("SECRET-conformance-3\nsecond line\n")},
	}
	if !opts.Text {
		s = append(s, secret{secretsbackends.Name{Group: "bin", Key: "blob"}, []byte("SECRET-conformance-4\x00\xff\xfe\x80\n")})
	}
	return s
}

var missing = secretsbackends.Name{Group: "no-such-group", Key: "no-such-key"}

var invalid = []secretsbackends.Name{
	{},
	{Group: "github"},
	{Group: "a/b", Key: "k"},
	{Group: "a", Key: `b\c`},
	{Group: "..", Key: "k"},
	{Group: "a", Key: "x..y"},
	{Group: ".", Key: "k"},
	{Group: "a", Version: "v\x00", Key: "k"},
	{Version: "v1", Key: "k"},
}

// Run runs the conformance checks as subtests of t.
func Run(t *testing.T, newBackend NewBackend, opts Options) {
	t.Helper()
	if opts.Goroutines <= 0 {
		opts.Goroutines = 8
	}
	all := secrets(opts)
	for _, s := range all {
		if opts.Text && (!utf8.Valid(s.value) || bytes.IndexByte(s.value, 0) >= 0) {
			panic("backendtest: a text value is not text")
		}
	}

	// seeded returns a fresh backend holding every secret of all.
	seeded := func(t *testing.T) secretsbackends.Backend {
		t.Helper()
		b, seed := newBackend(t)
		for _, s := range all {
			put(t, b, seed, s)
		}
		return b
	}

	t.Run("Found", func(t *testing.T) {
		b := seeded(t)
		for _, s := range all {
			got, err := b.Lookup(context.Background(), s.name)
			if err != nil {
				t.Errorf("Lookup(%s): %v", s.name, err)
				continue
			}
			if !bytes.Equal(got, s.value) {
				t.Errorf("Lookup(%s) = %q, want %q (exact bytes)", s.name, got, s.value)
			}
		}
	})

	t.Run("CallerOwnsValue", func(t *testing.T) {
		b := seeded(t)
		s := all[0]
		got, err := b.Lookup(context.Background(), s.name)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", s.name, err)
		}
		clear(got)
		again, err := b.Lookup(context.Background(), s.name)
		if err != nil {
			t.Fatalf("Lookup(%s) again: %v", s.name, err)
		}
		if !bytes.Equal(again, s.value) {
			t.Errorf("after the caller cleared a returned value, Lookup(%s) = %q, want %q", s.name, again, s.value)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		b := seeded(t)
		got, err := b.Lookup(context.Background(), missing)
		if !errors.Is(err, secretsbackends.ErrNotFound) {
			t.Fatalf("Lookup(%s) error = %v, want one wrapping ErrNotFound", missing, err)
		}
		if got != nil {
			t.Errorf("Lookup(%s) returned %q with ErrNotFound, want nil", missing, got)
		}
		if errors.Is(err, secretsbackends.ErrInvalidName) {
			t.Errorf("Lookup(%s) error %v wraps ErrInvalidName", missing, err)
		}
		noValues(t, "the not-found error", err, all)
	})

	t.Run("InvalidName", func(t *testing.T) {
		b := seeded(t)
		for _, n := range invalid {
			got, err := b.Lookup(context.Background(), n)
			checkInvalid(t, fmt.Sprintf("Lookup(%#v)", n), err)
			if got != nil {
				t.Errorf("Lookup(%#v) returned a value", n)
			}
			if s, ok := b.(secretsbackends.Setter); ok {
				checkInvalid(t, fmt.Sprintf("Set(%#v)", n), s.Set(context.Background(), n, []byte("SECRET-invalid")))
			}
			if d, ok := b.(secretsbackends.Deleter); ok {
				checkInvalid(t, fmt.Sprintf("Delete(%#v)", n), d.Delete(context.Background(), n))
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		b := seeded(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, n := range []secretsbackends.Name{all[0].name, missing} {
			got, err := b.Lookup(ctx, n)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Lookup(%s) with a cancelled context: error = %v, want one wrapping context.Canceled", n, err)
			}
			if got != nil {
				t.Errorf("Lookup(%s) with a cancelled context returned a value", n)
			}
		}
		if s, ok := b.(secretsbackends.Setter); ok {
			if err := s.Set(ctx, all[0].name, []byte("SECRET-cancelled")); !errors.Is(err, context.Canceled) {
				t.Errorf("Set with a cancelled context: error = %v, want one wrapping context.Canceled", err)
			}
		}
		if d, ok := b.(secretsbackends.Deleter); ok {
			if err := d.Delete(ctx, all[0].name); !errors.Is(err, context.Canceled) {
				t.Errorf("Delete with a cancelled context: error = %v, want one wrapping context.Canceled", err)
			}
		}
		if l, ok := b.(secretsbackends.Lister); ok {
			if _, err := l.List(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("List with a cancelled context: error = %v, want one wrapping context.Canceled", err)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		b := seeded(t)
		var wg sync.WaitGroup
		errs := make(chan error, opts.Goroutines)
		for g := range opts.Goroutines {
			wg.Go(func() {
				for i := range 2 * len(all) {
					s := all[(g+i)%len(all)]
					got, err := b.Lookup(context.Background(), s.name)
					if err != nil || !bytes.Equal(got, s.value) {
						errs <- fmt.Errorf("goroutine %d: Lookup(%s) = %q, %v; want %q", g, s.name, got, err, s.value)
						return
					}
					if _, err := b.Lookup(context.Background(), missing); !errors.Is(err, secretsbackends.ErrNotFound) {
						errs <- fmt.Errorf("goroutine %d: Lookup(%s) error = %v, want ErrNotFound", g, missing, err)
						return
					}
					_ = b.Where(s.name)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("WhereHidesValues", func(t *testing.T) {
		b := seeded(t)
		for _, s := range append(all, secret{name: missing}) {
			w := b.Where(s.name)
			if w == "" {
				t.Errorf("Where(%s) is empty", s.name)
			}
			noValues(t, fmt.Sprintf("Where(%s) = %q", s.name, w), errors.New(w), all)
		}
	})

	if probe, _ := newBackend(t); probe != nil {
		if _, ok := probe.(secretsbackends.Setter); ok {
			t.Run("SetReplaces", func(t *testing.T) { checkSetReplaces(t, newBackend, all) })
		}
		if _, ok := probe.(secretsbackends.Deleter); ok {
			t.Run("Delete", func(t *testing.T) { checkDelete(t, newBackend, all) })
		}
		if _, ok := probe.(secretsbackends.Lister); ok {
			t.Run("List", func(t *testing.T) { checkList(t, newBackend, all) })
		}
	}
}

// put stores s with seed, or with Set when seed is nil.
func put(t *testing.T, b secretsbackends.Backend, seed Seed, s secret) {
	t.Helper()
	if seed != nil {
		seed(t, s.name, s.value)
		return
	}
	setter, ok := b.(secretsbackends.Setter)
	if !ok {
		t.Fatalf("backendtest: %T is not a Setter, so newBackend must return a Seed", b)
	}
	if err := setter.Set(context.Background(), s.name, s.value); err != nil {
		t.Fatalf("Set(%s): %v", s.name, err)
	}
}

func checkInvalid(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s succeeded, want an error wrapping ErrInvalidName", what)
	case errors.Is(err, secretsbackends.ErrNotFound):
		t.Errorf("%s error = %v wraps ErrNotFound; an invalid name is not a miss", what, err)
	case !errors.Is(err, secretsbackends.ErrInvalidName):
		t.Errorf("%s error = %v, want one wrapping ErrInvalidName", what, err)
	}
}

// noValues fails t if err, formatted with %v and %+v, contains any value.
func noValues(t *testing.T, what string, err error, all []secret) {
	t.Helper()
	if err == nil {
		return
	}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		text := fmt.Sprintf(format, err)
		for _, s := range all {
			if v := strings.TrimSpace(string(s.value)); v != "" && strings.Contains(text, v) {
				t.Errorf("%s: %s shows the value of %s", what, format, s.name)
			}
			if first, _, _ := strings.Cut(string(s.value), "\n"); len(first) >= 8 && strings.Contains(text, first) {
				t.Errorf("%s: %s shows part of the value of %s", what, format, s.name)
			}
		}
	}
}

func checkSetReplaces(t *testing.T, newBackend NewBackend, all []secret) {
	b, _ := newBackend(t)
	s := b.(secretsbackends.Setter)
	n := all[0].name
	for _, v := range [][]byte{[]byte("SECRET-first"), all[1].value} {
		if err := s.Set(context.Background(), n, v); err != nil {
			t.Fatalf("Set(%s): %v", n, err)
		}
		got, err := b.Lookup(context.Background(), n)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("after Set(%s, %q): Lookup = %q, %v", n, v, got, err)
		}
	}
}

func checkDelete(t *testing.T, newBackend NewBackend, all []secret) {
	b, seed := newBackend(t)
	for _, s := range all {
		put(t, b, seed, s)
	}
	d := b.(secretsbackends.Deleter)
	gone, kept := all[0], all[1]
	if err := d.Delete(context.Background(), gone.name); err != nil {
		t.Fatalf("Delete(%s): %v", gone.name, err)
	}
	if _, err := b.Lookup(context.Background(), gone.name); !errors.Is(err, secretsbackends.ErrNotFound) {
		t.Errorf("Lookup(%s) after Delete: error = %v, want ErrNotFound", gone.name, err)
	}
	if got, err := b.Lookup(context.Background(), kept.name); err != nil || !bytes.Equal(got, kept.value) {
		t.Errorf("Lookup(%s) after deleting another secret = %q, %v; want %q", kept.name, got, err, kept.value)
	}
	err := d.Delete(context.Background(), gone.name)
	if !errors.Is(err, secretsbackends.ErrNotFound) {
		t.Errorf("Delete(%s) of a missing secret: error = %v, want ErrNotFound", gone.name, err)
	}
	noValues(t, "the error of deleting a missing secret", err, all)
}

func checkList(t *testing.T, newBackend NewBackend, all []secret) {
	b, seed := newBackend(t)
	l := b.(secretsbackends.Lister)
	names, err := l.List(context.Background())
	if err != nil {
		t.Fatalf("List of an empty backend: %v", err)
	}
	if len(names) != 0 {
		t.Errorf("List of an empty backend = %v, want none", names)
	}
	for _, s := range all {
		put(t, b, seed, s)
	}
	names, err = l.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[secretsbackends.Name]bool{}
	for i, n := range names {
		got[n] = true
		if i > 0 && names[i-1].String() >= n.String() {
			t.Errorf("List is not sorted by name: %s before %s", names[i-1], n)
		}
	}
	for _, s := range all {
		if !got[s.name] {
			t.Errorf("List = %v, missing %s", names, s.name)
		}
	}
	if len(names) != len(all) {
		t.Errorf("List = %v, want exactly the %d secrets stored", names, len(all))
	}
}
