package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is wrapped by the error of a [Backend] that does not hold the
// named secret. It is the only error on which a [Chain] asks the next
// backend.
var ErrNotFound = errors.New("secret not found")

// ErrUnavailable is wrapped by the error of a backend that cannot be
// reached at all: no D-Bus session bus, no Secret Service provider on it,
// a keychain that did not answer within its timeout, a kernel that does
// not allow keyctl. It is a failure, not a miss: a [Chain] stops on it.
// [New] uses it to decide when a configured fallback replaces the OS
// keychain.
var ErrUnavailable = errors.New("secret store unavailable")

// A Backend looks up secrets by [Name].
//
// Backends are safe for concurrent use by multiple goroutines. They
// validate every name with [Name.Validate] before touching the
// environment, files or a keychain, and never put a secret value in an
// error, a log line or a Where string.
type Backend interface {
	// Lookup returns the secret's exact bytes, including any trailing
	// newline; trimming white space for the text form is the caller's job
	// (the SDK's). The caller owns the returned slice.
	//
	// An error wrapping ErrNotFound means this backend does not have the
	// secret, and a Chain goes on to the next backend. Any other error
	// means the backend failed (an invalid name, an unreadable file, a
	// locked or unreachable keychain, a cancelled ctx), and a Chain stops
	// with it.
	Lookup(ctx context.Context, n Name) ([]byte, error)

	// Where says where this backend looks for n, for people and never
	// with a value: "env FLYTE_SECRETS_GITHUB_TOKEN",
	// "file /etc/secrets/github/token",
	// `keychain service "goflyte" account "github/token"`.
	Where(n Name) string
}

// Setter is a [Backend] that can store secrets, such as [Keychain] and
// [Keyring]. Set replaces any value stored under the same name. Backends
// are asked for optional capabilities by type assertion, as io/fs does.
type Setter interface {
	Set(ctx context.Context, n Name, value []byte) error
}

// Deleter is a [Backend] that can remove secrets. Deleting a secret the
// backend does not have returns an error wrapping [ErrNotFound].
type Deleter interface {
	Delete(ctx context.Context, n Name) error
}

// Lister is a [Backend] that can list the names of the secrets it holds
// (never their values), in [Name.String] order. Entries that are not valid
// names are left out. A backend that can list on some platforms only
// returns an error wrapping [errors.ErrUnsupported] on the others.
type Lister interface {
	List(ctx context.Context) ([]Name, error)
}

// NotFoundError is the error of a [Chain] in which no backend has the
// secret. It wraps [ErrNotFound] and lists every place tried, in order,
// as each backend's Where describes it; it never holds a value.
type NotFoundError struct {
	Name  Name
	Tried []string
}

// Error returns, for example,
//
//	secret "github/token" not found (tried env FLYTE_SECRETS_GITHUB_TOKEN; file /etc/secrets/github/token)
func (e *NotFoundError) Error() string {
	if len(e.Tried) == 0 {
		return fmt.Sprintf("secret %q not found (no secret backends are configured)", e.Name.String())
	}
	return fmt.Sprintf("secret %q not found (tried %s)", e.Name.String(), strings.Join(e.Tried, "; "))
}

// Is reports whether target is [ErrNotFound], so that
// errors.Is(err, ErrNotFound) holds for a *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// notFound returns the error a single backend returns for a miss.
func notFound(where string) error {
	return fmt.Errorf("%s: %w", where, ErrNotFound)
}

// begin does what every Lookup, Set, Delete starts with: it validates n
// and checks that ctx is still live.
func begin(ctx context.Context, n Name) error {
	if err := n.Validate(); err != nil {
		return err
	}
	return ctx.Err()
}

// kind returns a backend's short name for [Step.Backend].
func kind(b Backend) string {
	if s, ok := b.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b)
}
