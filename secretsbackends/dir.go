package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Dir looks secrets up as one file per secret under Path, the way
// Flytekit's default_dir works:
//
//	<Path>/<group>/<FilePrefix><key>
//	<Path>/<group>/<version>/<FilePrefix><key>
//	<Path>/<FilePrefix><key>                       (group-less)
//
// Group, version and key are lower-cased, as Flytekit does (so the secret
// group "GitHub" key "Token" is the file github/token); FilePrefix is used
// as it is. [Name.Validate] keeps every path inside Path.
//
// Lookup returns the file's exact bytes, including a trailing newline. A
// file that does not exist (or a path through a regular file, such as
// <Path>/github when github is a file) is a miss. A file that exists but
// cannot be read (permission denied, a directory) is an error, not a miss.
// An empty Path is an error: relative lookups from the working directory
// would be a surprise.
//
// When Warn is set, a secret file that group or others may read or write
// (mode&0o077 != 0) is reported to it, with the path, the mode and the
// chmod that fixes it; the lookup still succeeds, as Flytekit's does.
type Dir struct {
	Path       string
	FilePrefix string
	Warn       func(msg string)
}

var _ Backend = Dir{}

// File returns the path of the file for n.
func (d Dir) File(n Name) string {
	parts := n.parts()
	if len(parts) == 0 { // an invalid name; Where may still describe it
		return filepath.Join(d.Path, d.FilePrefix)
	}
	for i, p := range parts {
		parts[i] = strings.ToLower(p)
	}
	parts[len(parts)-1] = d.FilePrefix + parts[len(parts)-1]
	return filepath.Join(append([]string{d.Path}, parts...)...)
}

// Lookup reads the file [Dir.File] names.
func (d Dir) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	if d.Path == "" {
		return nil, fmt.Errorf("secret %q: secrets directory not set", n.String())
	}
	file := d.File(n)
	v, err := os.ReadFile(file)
	switch {
	case err == nil:
		if d.Warn != nil {
			if w := permWarning("secret file", file); w != "" {
				d.Warn(w)
			}
		}
		return v, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, notFound(d.Where(n))
	}
	return nil, fmt.Errorf("secret %q: %w", n.String(), err)
}

// Where returns "file " followed by the path.
func (d Dir) Where(n Name) string { return "file " + d.File(n) }

// String returns "file".
func (d Dir) String() string { return "file" }
