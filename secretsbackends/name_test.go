package secretsbackends

import (
	"errors"
	"testing"
)

func TestNameValidate(t *testing.T) {
	tests := []struct {
		name string
		n    Name
		ok   bool
	}{
		{name: "group and key", n: Name{Group: "github", Key: "token"}, ok: true},
		{name: "version", n: Name{Group: "github", Version: "v1", Key: "token"}, ok: true},
		{name: "group-less", n: Name{Key: "token"}, ok: true},
		{name: "dashes", n: Name{Group: "my-group", Version: "v-1", Key: "api-key"}, ok: true},
		{name: "dots and spaces", n: Name{Group: "a.b", Key: "c d"}, ok: true},
		{name: "upper case", n: Name{Group: "GitHub", Key: "Token"}, ok: true},
		{name: "empty", n: Name{}},
		{name: "empty key", n: Name{Group: "github"}},
		{name: "version without group", n: Name{Version: "v1", Key: "token"}},
		{name: "slash in group", n: Name{Group: "a/b", Key: "k"}},
		{name: "slash in version", n: Name{Group: "a", Version: "v/1", Key: "k"}},
		{name: "slash in key", n: Name{Group: "a", Key: "/etc/passwd"}},
		{name: "backslash", n: Name{Group: "a", Key: `b\c`}},
		{name: "dot dot", n: Name{Group: "..", Key: "k"}},
		{name: "dot dot inside", n: Name{Group: "a", Key: "x..y"}},
		{name: "dot", n: Name{Group: ".", Key: "k"}},
		{name: "dot key", n: Name{Key: "."}},
		{name: "NUL", n: Name{Group: "a", Key: "k\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.n.Validate()
			if tc.ok {
				if err != nil {
					t.Errorf("Validate(%#v) = %v, want nil", tc.n, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("Validate(%#v) = %v, want an error wrapping ErrInvalidName", tc.n, err)
			}
			if errors.Is(err, ErrNotFound) {
				t.Errorf("Validate(%#v) = %v wraps ErrNotFound", tc.n, err)
			}
		})
	}
}

func TestNameString(t *testing.T) {
	tests := []struct {
		n    Name
		want string
	}{
		{Name{Group: "github", Key: "token"}, "github/token"},
		{Name{Group: "github", Version: "v2", Key: "token"}, "github/v2/token"},
		{Name{Key: "token"}, "token"},
		{Name{Group: "GitHub", Key: "Token"}, "GitHub/Token"},
	}
	for _, tc := range tests {
		if got := tc.n.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.n, got, tc.want)
		}
		back, err := ParseName(tc.want)
		if err != nil || back != tc.n {
			t.Errorf("ParseName(%q) = %#v, %v; want %#v", tc.want, back, err, tc.n)
		}
	}
}

func TestParseNameRejects(t *testing.T) {
	for _, s := range []string{"", "a/", "/a", "a//b", "a/b/c/d", "../x", "a/..", "a/b\x00"} {
		if n, err := ParseName(s); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ParseName(%q) = %#v, %v; want an error wrapping ErrInvalidName", s, n, err)
		}
	}
}
