package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"time"

	zkeyring "github.com/zalando/go-keyring"
)

// DefaultKeychainService is the keychain service goflyte stores secrets
// under unless the secrets block's keychain_service says otherwise.
const DefaultKeychainService = "goflyte"

// DefaultTimeout bounds each call to the OS keychain when
// [Keychain.Timeout] is zero.
const DefaultTimeout = 3 * time.Second

// Keychain stores secrets in the OS keychain through zalando/go-keyring:
// the macOS Keychain, the Windows Credential Manager, or on Linux and the
// BSDs the Secret Service (gnome-keyring, KeePassXC) on the D-Bus session
// bus. A secret is the item with service Service and account
// [Name.String] ("github/token"), as written, without case changes. On
// Linux these are the item attributes "service" and "username", so
//
//	secret-tool lookup service goflyte username github/token
//
// finds it too.
//
// Every call is bounded by Timeout, so a missing or hung D-Bus fails fast
// instead of hanging: the error wraps [ErrUnavailable] and says what to do
// (start a session bus with dbus-run-session, or configure a fallback in
// the secrets block of flyte.hcl). A call that times out keeps running in
// the background until the bus answers; a Set that timed out may still
// take effect.
//
// Errors: a secret the keychain does not have is a miss ([ErrNotFound]).
// No session bus, no Secret Service provider, or no answer in time wraps
// [ErrUnavailable]. A locked keyring and anything else the keychain
// reports are plain failures, with a hint where one is known. None of them
// stop the chain silently, and none contain a value.
//
// Keychain implements [Setter], [Deleter] and [Lister]; List needs the
// Secret Service and, for now, Linux: elsewhere it returns an error
// wrapping [errors.ErrUnsupported]. Values may be any bytes (tested on the
// Secret Service, NUL bytes included); the Windows Credential Manager
// limits their size. Diagnosing failures (no bus, no provider, locked) is
// Linux only too; on other systems the keychain's own error is returned.
type Keychain struct {
	// Service names goflyte's items; "" means DefaultKeychainService.
	Service string
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
}

var (
	_ Setter  = Keychain{}
	_ Deleter = Keychain{}
	_ Lister  = Keychain{}
)

func (k Keychain) service() string {
	if k.Service == "" {
		return DefaultKeychainService
	}
	return k.Service
}

func (k Keychain) timeout() time.Duration {
	if k.Timeout <= 0 {
		return DefaultTimeout
	}
	return k.Timeout
}

// Lookup returns the secret stored under service and account n.String().
func (k Keychain) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	v, err := bounded(ctx, k.timeout(), func() (string, error) {
		return zkeyring.Get(k.service(), n.String())
	})
	if err != nil {
		return nil, k.fail(ctx, k.Where(n), err)
	}
	return []byte(v), nil
}

// Set stores value under service and account n.String(), replacing any
// value stored there.
func (k Keychain) Set(ctx context.Context, n Name, value []byte) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	_, err := bounded(ctx, k.timeout(), func() (struct{}, error) {
		return struct{}{}, zkeyring.Set(k.service(), n.String(), string(value))
	})
	if errors.Is(err, zkeyring.ErrSetDataTooBig) {
		return fmt.Errorf("%s: the value is too big for this keychain", k.Where(n))
	}
	if err != nil {
		return k.fail(ctx, k.Where(n), err)
	}
	return nil
}

// Delete removes the secret; deleting a missing one is an error wrapping
// [ErrNotFound].
func (k Keychain) Delete(ctx context.Context, n Name) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	_, err := bounded(ctx, k.timeout(), func() (struct{}, error) {
		return struct{}{}, zkeyring.Delete(k.service(), n.String())
	})
	if err != nil {
		return k.fail(ctx, k.Where(n), err)
	}
	return nil
}

// List returns the names of the secrets stored under Service, sorted.
// Accounts that are not valid names are left out.
func (k Keychain) List(ctx context.Context) ([]Name, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	where := fmt.Sprintf("keychain service %q", k.service())
	names, err := bounded(ctx, k.timeout(), func() ([]Name, error) {
		return listKeychain(k.service())
	})
	if err != nil {
		return nil, k.fail(ctx, where, err)
	}
	sortNames(names)
	return names, nil
}

// Where returns `keychain service "<Service>" account "<group>/<key>"`.
func (k Keychain) Where(n Name) string {
	return fmt.Sprintf("keychain service %q account %q", k.service(), n.String())
}

// String returns "keychain".
func (k Keychain) String() string { return "keychain" }

// fail turns an error of the keychain into the error a caller sees: a
// miss, the caller's cancellation, or a failure explained as well as the
// keychain can be diagnosed.
func (k Keychain) fail(ctx context.Context, where string, err error) error {
	switch {
	case errors.Is(err, zkeyring.ErrNotFound):
		return notFound(where)
	case errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("%s: %w", where, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", where, ctx.Err())
	case errors.Is(err, errTimeout):
		return fmt.Errorf("%s: %w: no answer within %s: the keychain may be waiting for an unlock prompt or its daemon may be hung; "+
			"unlock it and retry, raise keychain_timeout_seconds, or configure a fallback in the secrets block of flyte.hcl", where, ErrUnavailable, k.timeout())
	}
	if p := diagnoseKeychain(ctx, k.timeout()); p != nil {
		return p.wrap(where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// keychainProblem is what diagnoseKeychain found wrong with the keychain.
type keychainProblem struct {
	unavailable bool   // wrap ErrUnavailable: the keychain cannot be reached at all
	reason      string // "no D-Bus session bus"
	hint        string // what to do about it
	err         error  // the underlying error, if any
}

func (p *keychainProblem) wrap(where string, err error) error {
	if p.err != nil {
		err = p.err
	}
	msg := p.reason
	if p.hint != "" {
		msg += ": " + p.hint
	}
	if p.unavailable {
		return fmt.Errorf("%s: %w: %s (%w)", where, ErrUnavailable, msg, err)
	}
	return fmt.Errorf("%s: %s (%w)", where, msg, err)
}

const (
	hintFallback   = "configure a fallback in the secrets block of flyte.hcl"
	hintNoBus      = "start one with dbus-run-session, or " + hintFallback
	hintNoProvider = "install and start a Secret Service such as gnome-keyring, or " + hintFallback
	hintLocked     = "unlock it (log in to the desktop, or run gnome-keyring-daemon --unlock) and retry"
)

// errTimeout is what bounded returns when f did not finish in time.
var errTimeout = errors.New("timed out")

// bounded runs f and waits for it at most d, or until ctx is done. When it
// gives up it returns errTimeout or ctx.Err() and leaves f running: the
// libraries underneath take no context, so a hung call cannot be
// interrupted, only abandoned.
func bounded[T any](ctx context.Context, d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	var zero T
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-t.C:
		return zero, errTimeout
	}
}
