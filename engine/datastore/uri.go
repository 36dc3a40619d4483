package datastore

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// location is a parsed store or object URI.
type location struct {
	scheme string     // "file", "s3", "gs" or "azblob"
	bucket string     // bucket or container; "" for file
	key    string     // slash path inside the bucket, no leading or trailing slash; "" for the bucket root
	query  url.Values // query parameters, passed to the driver; nil when none
	path   string     // absolute local path when scheme is "file"
}

// parseLocation parses a store prefix or an object URI. A string with no
// "scheme://" is a local path, relative to the working directory.
func parseLocation(s string) (location, error) {
	if s == "" {
		return location{}, fmt.Errorf("empty location")
	}
	if !strings.Contains(s, "://") {
		abs, err := filepath.Abs(s)
		if err != nil {
			return location{}, fmt.Errorf("location %q: %w", s, err)
		}
		return location{scheme: "file", path: abs}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return location{}, fmt.Errorf("location %q: %w", s, err)
	}
	if u.User != nil {
		return location{}, fmt.Errorf("location %s: credentials in the URI are not supported; use flyte.hcl or the environment", u.Redacted())
	}
	if u.Fragment != "" {
		return location{}, fmt.Errorf("location %q: unexpected fragment", s)
	}
	switch u.Scheme {
	case "file":
		// file:///abs/dir, file://localhost/abs/dir, or file://./rel/dir as
		// fileblob accepts it.
		p := u.Path
		switch u.Host {
		case "", "localhost":
		case ".":
			p = strings.TrimPrefix(p, "/")
		default:
			return location{}, fmt.Errorf("location %q: file URIs name a local path (file:///abs/path), not host %q", s, u.Host)
		}
		if u.RawQuery != "" {
			return location{}, fmt.Errorf("location %q: file URIs take no query parameters", s)
		}
		if p == "" {
			return location{}, fmt.Errorf("location %q: no path", s)
		}
		abs, err := filepath.Abs(filepath.FromSlash(p))
		if err != nil {
			return location{}, fmt.Errorf("location %q: %w", s, err)
		}
		return location{scheme: "file", path: abs}, nil
	case "s3", "gs", "azblob":
	default:
		return location{}, fmt.Errorf("location %q: unsupported scheme %q (want s3, gs, azblob, file or a local path)", s, u.Scheme)
	}
	if u.Host == "" {
		return location{}, fmt.Errorf("location %q: no bucket name", s)
	}
	loc := location{scheme: u.Scheme, bucket: u.Host, key: strings.Trim(u.Path, "/")}
	if loc.key != "" {
		if why := checkKey(loc.key); why != "" {
			return location{}, fmt.Errorf("location %q: %s", s, why)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return location{}, fmt.Errorf("location %q: %w", s, err)
		}
		for k, v := range q {
			if len(v) > 1 {
				return location{}, fmt.Errorf("location %q: query parameter %q given %d times", s, k, len(v))
			}
		}
		loc.query = q
	}
	return loc, nil
}

// String returns the canonical URI: scheme://bucket/key?query with the
// query parameters sorted, or file:///abs/path.
func (l location) String() string {
	if l.scheme == "file" {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(l.path)}
		if !strings.HasPrefix(u.Path, "/") { // Windows: C:/x
			u.Path = "/" + u.Path
		}
		return u.String()
	}
	u := url.URL{Scheme: l.scheme, Host: l.bucket}
	if l.key != "" {
		u.Path = "/" + l.key
	}
	if len(l.query) > 0 {
		u.RawQuery = l.query.Encode()
	}
	return u.String()
}

// child returns the location of key under l.
func (l location) child(key string) location {
	c := l
	if l.scheme == "file" {
		c.path = filepath.Join(l.path, filepath.FromSlash(key))
		return c
	}
	c.key = joinKey(l.key, key)
	return c
}
