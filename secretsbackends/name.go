package secretsbackends

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalidName is wrapped by the error of [Name.Validate], and so by the
// error every backend returns for a name that fails it. It is never
// mistaken for [ErrNotFound]: an invalid name is a mistake to report, not a
// reason to ask the next backend.
var ErrInvalidName = errors.New("invalid secret name")

// Name identifies a secret, as a task declares it:
//
//	secret { group = "github"  key = "token" }
//
// Group may be empty (a group-less secret) and Version is optional. Each
// backend maps a Name to its own kind of name: [Env] upper-cases the
// parts, [Dir] lower-cases them, and the keychains use [Name.String] as
// written.
type Name struct {
	Group, Version, Key string
}

// Validate reports whether n can be looked up safely. Every part must be
// free of path separators ("/" and "\"), of "..", and of NUL bytes, and
// must not be "."; the key must not be empty, and a version needs a group
// (otherwise "v1/token" would mean both a group-less versioned secret and
// the key "token" of group "v1"). Anything else is allowed, including
// dashes, dots, spaces and upper-case letters.
//
// The error wraps [ErrInvalidName] and names the offending part, never
// anything but the name itself.
func (n Name) Validate() error {
	if n.Key == "" {
		return n.invalid("the key is empty")
	}
	if n.Version != "" && n.Group == "" {
		return n.invalid("a version needs a group")
	}
	for _, p := range []struct{ what, s string }{{"group", n.Group}, {"version", n.Version}, {"key", n.Key}} {
		switch {
		case strings.ContainsAny(p.s, `/\`):
			return n.invalid(p.what + ` contains a path separator ("/" or "\")`)
		case strings.Contains(p.s, ".."):
			return n.invalid(p.what + ` contains ".."`)
		case p.s == ".":
			return n.invalid(p.what + ` is "."`)
		case strings.IndexByte(p.s, 0) >= 0:
			return n.invalid(p.what + " contains a NUL byte")
		}
	}
	return nil
}

func (n Name) invalid(why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidName, n.String(), why)
}

// String returns "group/key", "group/version/key" or, for a group-less
// secret, "key". It is also the account name under which [Keychain] and
// [Keyring] store the secret. [ParseName] reverses it for valid names.
func (n Name) String() string {
	return strings.Join(n.parts(), "/")
}

// parts returns the non-empty parts of n in order: group, version, key.
func (n Name) parts() []string {
	out := make([]string, 0, 3)
	for _, p := range []string{n.Group, n.Version, n.Key} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseName parses the form [Name.String] returns: "key", "group/key" or
// "group/version/key". The result is validated; the error wraps
// [ErrInvalidName].
func ParseName(s string) (Name, error) {
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" && len(parts) > 1 {
			return Name{}, fmt.Errorf("%w %q: empty part", ErrInvalidName, s)
		}
	}
	var n Name
	switch len(parts) {
	case 1:
		n = Name{Key: parts[0]}
	case 2:
		n = Name{Group: parts[0], Key: parts[1]}
	case 3:
		n = Name{Group: parts[0], Version: parts[1], Key: parts[2]}
	default:
		return Name{}, fmt.Errorf("%w %q: more than three parts", ErrInvalidName, s)
	}
	if err := n.Validate(); err != nil {
		return Name{}, err
	}
	return n, nil
}

// sortNames sorts names by their String form.
func sortNames(names []Name) {
	slices.SortFunc(names, func(a, b Name) int { return strings.Compare(a.String(), b.String()) })
}
