package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Chain asks each backend in order and returns the first value found. It
// is itself a [Backend], so chains nest (as io.MultiReader is an
// io.Reader).
//
// Only a miss ([ErrNotFound]) falls through to the next backend. Any
// other error stops the chain and is returned as the backend gave it, so
// that a broken backend (a locked keychain, an unreadable file) is never
// mistaken for a missing secret.
type Chain []Backend

var _ Backend = Chain(nil)

// Lookup returns the value of the first backend that has n. When none has
// it, the error is a [*NotFoundError] listing every place tried. An
// invalid name is an error wrapping [ErrInvalidName], even for an empty
// chain.
func (c Chain) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	nf := &NotFoundError{Name: n}
	for _, b := range c {
		v, err := b.Lookup(ctx, n)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, ErrNotFound) {
			if len(nf.Tried) == 0 {
				return nil, err
			}
			return nil, &StoppedError{NotFound: nf, Err: err}
		}
		nf.Tried = append(nf.Tried, tried(b, n, err)...)
	}
	return nil, nf
}

// StoppedError is the error of a [Chain] in which a backend failed after
// the ones before it did not have the secret: it says where the secret
// was not found, then the failure. It wraps the failure (errors.Is finds
// [ErrUnavailable], say), not [ErrNotFound]: the secret may well be in
// the broken backend.
type StoppedError struct {
	NotFound *NotFoundError // the places tried before the failure
	Err      error
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("secret %q: not found in %s; then %v", e.NotFound.Name.String(), strings.Join(e.NotFound.Tried, ", "), e.Err)
}

func (e *StoppedError) Unwrap() error { return e.Err }

// tried says where b looked: a nested chain's own list, or b.Where.
func tried(b Backend, n Name, err error) []string {
	var inner *NotFoundError
	if errors.As(err, &inner) {
		return inner.Tried
	}
	return []string{b.Where(n)}
}

// Where joins the Where of every backend with "; ".
func (c Chain) Where(n Name) string {
	w := make([]string, len(c))
	for i, b := range c {
		w[i] = b.Where(n)
	}
	return strings.Join(w, "; ")
}

// String returns "chain".
func (c Chain) String() string { return "chain" }

// Step is what one backend of a [Chain] said about a name, as reported by
// [Chain.Trace]. Found and Err are never both set; neither set means the
// backend does not have the secret. A Step never carries a value.
type Step struct {
	Backend string // the backend's kind: "env", "file", "keychain", "encrypted file", "pass", "keyctl"
	Where   string // the backend's Where
	Found   bool
	Err     error // the backend failed (not a miss)
}

// Trace asks every backend in order, without stopping at the first hit,
// and reports what each said: for `goflyte secrets where`. The values it
// reads are discarded. A nested Chain contributes its own steps.
func (c Chain) Trace(ctx context.Context, n Name) []Step {
	var out []Step
	for _, b := range c {
		if inner, ok := b.(interface {
			Trace(context.Context, Name) []Step
		}); ok {
			out = append(out, inner.Trace(ctx, n)...)
			continue
		}
		v, err := b.Lookup(ctx, n)
		clear(v)
		s := Step{Backend: kind(b), Where: b.Where(n)}
		switch {
		case err == nil:
			s.Found = true
		case !errors.Is(err, ErrNotFound):
			s.Err = err
		}
		out = append(out, s)
	}
	return out
}
