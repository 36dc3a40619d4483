package secretsbackends

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestDirWarnsAboutOpenPermissions(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		warn bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o644, true},
		{0o606, true},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "github", "token")
			write(t, path, "ghp-SECRET\n")
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			var got []string
			d := Dir{Path: root, Warn: func(m string) { got = append(got, m) }}
			v, err := d.Lookup(context.Background(), Name{Group: "github", Key: "token"})
			if err != nil || string(v) != "ghp-SECRET\n" {
				t.Fatalf("Lookup = %q, %v; a too-open file is still read", v, err)
			}
			if !tc.warn {
				if len(got) != 0 {
					t.Errorf("warnings for mode %v: %q, want none", tc.mode, got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("warnings for mode %v: %q, want one", tc.mode, got)
			}
			want := []string{path, "chmod 600 " + path}
			for _, w := range want {
				if !strings.Contains(got[0], w) {
					t.Errorf("warning %q does not say %q", got[0], w)
				}
			}
			if strings.Contains(got[0], "ghp-SECRET") {
				t.Errorf("warning %q shows the secret", got[0])
			}
		})
	}
}

func TestKeyringFileWarnsAboutOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring") // made by 99designs/keyring: 0700
	ctx := context.Background()
	if err := fileKeyring(t, dir, "right horse").Set(ctx, token, []byte("ghp-SECRET\n")); err != nil {
		t.Fatal(err)
	}
	check := func(wantN int, wantSub string) {
		t.Helper()
		k := fileKeyring(t, dir, "right horse")
		var got []string
		k.Warn = func(m string) { got = append(got, m) }
		if v, err := k.Lookup(ctx, token); err != nil || string(v) != "ghp-SECRET\n" {
			t.Fatalf("Lookup = %q, %v", v, err)
		}
		if len(got) != wantN {
			t.Fatalf("warnings = %q, want %d", got, wantN)
		}
		for _, m := range got {
			if !strings.Contains(m, wantSub) || strings.Contains(m, "ghp-SECRET") {
				t.Errorf("warning %q: want it to mention %q and not the secret", m, wantSub)
			}
		}
	}
	check(0, "") // as 99designs/keyring makes it: 0700 directory, 0600 files
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check(1, "chmod 700 "+dir)
}

func TestOnceWarnerLogsEachMessageOnce(t *testing.T) {
	var buf bytes.Buffer
	warn := onceWarner(hclog.New(&hclog.LoggerOptions{Output: &buf}))
	warn("a")
	warn("a")
	warn("b")
	if n := strings.Count(buf.String(), "[WARN]"); n != 2 {
		t.Errorf("logged %d warnings, want 2:\n%s", n, buf.String())
	}
}
