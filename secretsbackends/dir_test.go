package secretsbackends

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirFile(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		n      Name
		want   string
	}{
		{name: "group and key", n: Name{Group: "github", Key: "token"}, want: "/etc/secrets/github/token"},
		{name: "version", n: Name{Group: "github", Version: "v1", Key: "token"}, want: "/etc/secrets/github/v1/token"},
		{name: "group-less", n: Name{Key: "token"}, want: "/etc/secrets/token"},
		{name: "prefix on the key only", prefix: "secret-", n: Name{Group: "github", Version: "v1", Key: "token"}, want: "/etc/secrets/github/v1/secret-token"},
		{name: "prefix group-less", prefix: "secret-", n: Name{Key: "token"}, want: "/etc/secrets/secret-token"},
		{name: "lower-cased, prefix as given", prefix: "Secret-", n: Name{Group: "GitHub", Version: "V1", Key: "API-Token"}, want: "/etc/secrets/github/v1/Secret-api-token"},
		{name: "dashes kept", n: Name{Group: "my-group", Key: "api-key"}, want: "/etc/secrets/my-group/api-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Dir{Path: "/etc/secrets", FilePrefix: tc.prefix}
			want := filepath.FromSlash(tc.want)
			if got := d.File(tc.n); got != want {
				t.Errorf("File(%#v) = %q, want %q", tc.n, got, want)
			}
			if got := d.Where(tc.n); got != "file "+want {
				t.Errorf("Where = %q, want %q", got, "file "+want)
			}
		})
	}
}

func TestDirLookup(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "github", "token"), "ghp-1\n")
	write(t, filepath.Join(root, "empty"), "")
	write(t, filepath.Join(root, "plain"), "x") // a file where a group directory would be
	if err := os.MkdirAll(filepath.Join(root, "dirs", "token"), 0o700); err != nil {
		t.Fatal(err)
	}
	d := Dir{Path: root}
	ctx := context.Background()

	if got, err := d.Lookup(ctx, Name{Group: "GitHub", Key: "TOKEN"}); err != nil || string(got) != "ghp-1\n" {
		t.Errorf("Lookup(GitHub/TOKEN) = %q, %v; want the file github/token, exactly", got, err)
	}
	if got, err := d.Lookup(ctx, Name{Key: "empty"}); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Lookup(empty) = %#v, %v; want an empty value", got, err)
	}
	for _, n := range []Name{{Group: "github", Key: "other"}, {Group: "nope", Key: "token"}, {Group: "plain", Key: "token"}} {
		if _, err := d.Lookup(ctx, n); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%s) = %v, want ErrNotFound", n, err)
		}
	}

	// A directory where the file should be is broken, not missing.
	_, err := d.Lookup(ctx, Name{Group: "dirs", Key: "token"})
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of a directory = %v, want a real error", err)
	}

	if _, err := (Dir{}).Lookup(ctx, Name{Key: "token"}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup with no Path = %v, want a real error", err)
	}
}

func TestDirUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file, so permission denied cannot happen here")
	}
	root := t.TempDir()
	path := filepath.Join(root, "github", "token")
	write(t, path, "ghp-1")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Dir{Path: root}.Lookup(context.Background(), Name{Group: "github", Key: "token"})
	if !errors.Is(err, os.ErrPermission) || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of an unreadable file = %v, want a permission error, not ErrNotFound", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
