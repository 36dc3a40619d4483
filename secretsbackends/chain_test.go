package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fake is a hand-written Backend: it holds values by name, or fails every
// lookup with err. It counts its lookups.
type fake struct {
	kind   string
	values map[Name]string
	err    error
	calls  *int
}

func (f fake) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if f.calls != nil {
		*f.calls++
	}
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, fmt.Errorf("%s: %w", f.Where(n), f.err)
	}
	v, ok := f.values[n]
	if !ok {
		return nil, notFound(f.Where(n))
	}
	return []byte(v), nil
}

func (f fake) Where(n Name) string { return f.kind + " " + n.String() }
func (f fake) String() string      { return f.kind }

var (
	token   = Name{Group: "github", Key: "token"}
	errDisk = errors.New("disk on fire")
)

func TestChainLookup(t *testing.T) {
	tests := []struct {
		name    string
		chain   Chain
		want    string
		wantErr error    // wrapped by the error
		tried   []string // for a miss: NotFoundError.Tried
	}{
		{
			name:  "first hit wins",
			chain: Chain{fake{kind: "a", values: map[Name]string{token: "from-a"}}, fake{kind: "b", values: map[Name]string{token: "from-b"}}},
			want:  "from-a",
		},
		{
			name:  "a miss falls through",
			chain: Chain{fake{kind: "a"}, fake{kind: "b", values: map[Name]string{token: "from-b"}}},
			want:  "from-b",
		},
		{
			name:    "a broken backend stops the chain",
			chain:   Chain{fake{kind: "a"}, fake{kind: "broken", err: errDisk}, fake{kind: "c", values: map[Name]string{token: "from-c"}}},
			wantErr: errDisk,
		},
		{
			name:    "a miss everywhere lists every place tried",
			chain:   Chain{fake{kind: "a"}, fake{kind: "b"}, fake{kind: "c"}},
			wantErr: ErrNotFound,
			tried:   []string{"a github/token", "b github/token", "c github/token"},
		},
		{
			name:    "a nested chain contributes its places",
			chain:   Chain{fake{kind: "a"}, Chain{fake{kind: "b"}, fake{kind: "c"}}, fake{kind: "d"}},
			wantErr: ErrNotFound,
			tried:   []string{"a github/token", "b github/token", "c github/token", "d github/token"},
		},
		{
			name:  "a nested chain can hit",
			chain: Chain{fake{kind: "a"}, Chain{fake{kind: "b", values: map[Name]string{token: "from-b"}}}},
			want:  "from-b",
		},
		{
			name:    "empty chain",
			chain:   Chain{},
			wantErr: ErrNotFound,
			tried:   nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.chain.Lookup(context.Background(), token)
			if tc.wantErr == nil {
				if err != nil || string(got) != tc.want {
					t.Fatalf("Lookup = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Lookup error = %v, want one wrapping %v", err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Lookup returned %q with an error", got)
			}
			if tc.wantErr != ErrNotFound {
				if errors.Is(err, ErrNotFound) {
					t.Errorf("a broken backend's error %v wraps ErrNotFound", err)
				}
				return
			}
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Lookup error %T, want *NotFoundError", err)
			}
			if diff := cmp.Diff(tc.tried, nf.Tried); diff != "" {
				t.Errorf("Tried (-want +got):\n%s", diff)
			}
			if nf.Name != token {
				t.Errorf("Name = %v, want %v", nf.Name, token)
			}
		})
	}
}

func TestChainStopsAtBrokenBackend(t *testing.T) {
	var after int
	c := Chain{fake{kind: "broken", err: errDisk}, fake{kind: "next", values: map[Name]string{token: "v"}, calls: &after}}
	if _, err := c.Lookup(context.Background(), token); !errors.Is(err, errDisk) {
		t.Fatalf("Lookup = %v, want the broken backend's error", err)
	}
	if after != 0 {
		t.Errorf("the backend after a broken one was asked %d times, want 0", after)
	}
}

func TestChainStopsAfterMisses(t *testing.T) {
	c := Chain{fake{kind: "env"}, fake{kind: "file"}, fake{kind: "keychain", err: ErrUnavailable}}
	_, err := c.Lookup(context.Background(), token)
	var se *StoppedError
	if !errors.As(err, &se) || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup = %v, want a StoppedError wrapping ErrUnavailable and not ErrNotFound", err)
	}
	if diff := cmp.Diff([]string{"env github/token", "file github/token"}, se.NotFound.Tried); diff != "" {
		t.Errorf("places tried (-want +got):\n%s", diff)
	}
}

func TestChainInvalidName(t *testing.T) {
	var calls int
	c := Chain{fake{kind: "a", calls: &calls}}
	for _, ch := range []Chain{c, {}} {
		_, err := ch.Lookup(context.Background(), Name{Group: "../etc", Key: "passwd"})
		if !errors.Is(err, ErrInvalidName) || errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup of an invalid name = %v, want ErrInvalidName and not ErrNotFound", err)
		}
	}
	if calls != 0 {
		t.Errorf("backends were asked %d times about an invalid name, want 0", calls)
	}
}

func TestNotFoundError(t *testing.T) {
	err := &NotFoundError{Name: token, Tried: []string{"env FLYTE_SECRETS_GITHUB_TOKEN", "file /etc/secrets/github/token"}}
	want := `secret "github/token" not found (tried env FLYTE_SECRETS_GITHUB_TOKEN; file /etc/secrets/github/token)`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrNotFound) || !errors.Is(fmt.Errorf("resolve: %w", err), ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) = false")
	}
	if errors.Is(err, ErrUnavailable) {
		t.Error("errors.Is(err, ErrUnavailable) = true")
	}
}

func TestChainWhere(t *testing.T) {
	c := Chain{Env{Prefix: "FLYTE_SECRETS_"}, Env{}, Dir{Path: "/etc/secrets"}, Keychain{}}
	want := `env FLYTE_SECRETS_GITHUB_TOKEN; env GITHUB_TOKEN; file /etc/secrets/github/token; keychain service "goflyte" account "github/token"`
	if got := c.Where(token); got != want {
		t.Errorf("Where = %q, want %q", got, want)
	}
}

func TestChainTrace(t *testing.T) {
	c := Chain{
		fake{kind: "a"},
		Chain{fake{kind: "b", values: map[Name]string{token: "from-b"}}},
		fake{kind: "broken", err: errDisk},
		fake{kind: "d", values: map[Name]string{token: "from-d"}},
	}
	steps := c.Trace(context.Background(), token)
	want := []Step{
		{Backend: "a", Where: "a github/token"},
		{Backend: "b", Where: "b github/token", Found: true},
		{Backend: "broken", Where: "broken github/token", Err: errDisk},
		{Backend: "d", Where: "d github/token", Found: true},
	}
	if diff := cmp.Diff(want, steps, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
		t.Errorf("Trace (-want +got):\n%s", diff)
	}
}
