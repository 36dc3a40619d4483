package sdk

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the files below dir by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCheckpointWithoutPrevious(t *testing.T) {
	root := t.TempDir()
	c := newCheckpoint(filepath.Join(root, "cp"), "", root)
	if c.PrevExists() {
		t.Error("PrevExists() = true with no source")
	}
	if b, err := c.Read(); b != nil || err != nil {
		t.Errorf("Read() = %q, %v; want nil, nil", b, err)
	}
	if dir, err := c.Restore(t.TempDir()); dir != "" || err != nil {
		t.Errorf("Restore() = %q, %v; want \"\", nil", dir, err)
	}
	if _, err := os.Stat(filepath.Join(root, "cp")); !os.IsNotExist(err) {
		t.Errorf("reading made the destination: %v", err)
	}
}

func TestCheckpointReadWhatThePreviousAttemptWrote(t *testing.T) {
	root := t.TempDir()
	first := newCheckpoint(filepath.Join(root, "a.1"), "", root)
	if err := first.Write([]byte("step 1")); err != nil {
		t.Fatal(err)
	}
	if err := first.Write([]byte("step 2")); err != nil { // replaces
		t.Fatal(err)
	}
	if got := readTree(t, filepath.Join(root, "a.1")); len(got) != 1 || got[checkpointFile] != "step 2" {
		t.Fatalf("checkpoint files = %v, want only %s = step 2", got, checkpointFile)
	}
	second := newCheckpoint(filepath.Join(root, "a.2"), filepath.Join(root, "a.1"), root)
	if !second.PrevExists() {
		t.Error("PrevExists() = false with a source")
	}
	b, err := second.Read()
	if err != nil || string(b) != "step 2" {
		t.Fatalf("Read() = %q, %v; want step 2", b, err)
	}
	// Reading again gives the same bytes from the first restore.
	if b, err := second.Read(); err != nil || string(b) != "step 2" {
		t.Fatalf("second Read() = %q, %v", b, err)
	}
}

// TestCheckpointReadThenRestore: Read restores (into a directory of its
// own), as Flytekit's read does, so a later Restore copies nothing and
// returns Read's directory, whatever directory it is given.
func TestCheckpointReadThenRestore(t *testing.T) {
	root := t.TempDir()
	prev := filepath.Join(root, "a.1")
	writeFiles(t, prev, map[string]string{checkpointFile: "state"})
	c := newCheckpoint(filepath.Join(root, "a.2"), prev, root)
	if b, err := c.Read(); err != nil || string(b) != "state" {
		t.Fatalf("Read() = %q, %v", b, err)
	}
	into := t.TempDir()
	dir, err := c.Restore(into)
	if err != nil || dir == into || dir == "" {
		t.Fatalf("Restore(%s) after Read = %q, %v; want Read's own directory", into, dir, err)
	}
	if got := readTree(t, dir); got[checkpointFile] != "state" {
		t.Errorf("Read's directory holds %v", got)
	}
	if got := readTree(t, into); len(got) != 0 {
		t.Errorf("Restore after Read copied into its argument: %v", got)
	}
}

func TestCheckpointSaveAndRestore(t *testing.T) {
	root := t.TempDir()
	work := t.TempDir()
	writeFiles(t, work, map[string]string{"state/model.bin": "weights", "state/sub/epoch": "7", "log.txt": "line"})

	c := newCheckpoint(filepath.Join(root, "t.1"), "", root)
	if err := c.Save(filepath.Join(work, "state")); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(filepath.Join(work, "log.txt")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"model.bin": "weights", "sub/epoch": "7", "log.txt": "line"}
	next := newCheckpoint(filepath.Join(root, "t.2"), filepath.Join(root, "t.1"), root)
	into := t.TempDir()
	dir, err := next.Restore(into)
	if err != nil || dir != into {
		t.Fatalf("Restore(%s) = %q, %v", into, dir, err)
	}
	if got := readTree(t, into); !maps.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
	// Later restores return the first directory and copy nothing.
	other := t.TempDir()
	if dir, err := next.Restore(other); err != nil || dir != into {
		t.Errorf("second Restore = %q, %v; want %q", dir, err, into)
	}
	if got := readTree(t, other); len(got) != 0 {
		t.Errorf("second Restore copied %v", got)
	}
	// More than one file cannot be read as bytes.
	_, err = next.Read()
	if err == nil || !strings.Contains(err.Error(), "found 3") {
		t.Errorf("Read of a 3-file checkpoint: %v; want an error naming the count", err)
	}
}

func TestCheckpointRestoreErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"prev/_dst_cp": "x", "afile": "y"})
	for name, dir := range map[string]string{
		"missing directory": filepath.Join(root, "nope"),
		"a file":            filepath.Join(root, "afile"),
	} {
		t.Run(name, func(t *testing.T) {
			c := newCheckpoint(filepath.Join(root, "next"), filepath.Join(root, "prev"), root)
			_, err := c.Restore(dir)
			if err == nil || !strings.Contains(err.Error(), "directory only") {
				t.Errorf("Restore(%s) = %v, want a directory-only error", dir, err)
			}
		})
	}
	t.Run("missing source", func(t *testing.T) {
		c := newCheckpoint(filepath.Join(root, "next"), filepath.Join(root, "gone"), root)
		if _, err := c.Read(); err == nil {
			t.Error("Read from a missing source succeeded")
		}
	})
	t.Run("restore into a fresh directory", func(t *testing.T) {
		tmp := t.TempDir()
		c := newCheckpoint(filepath.Join(root, "next"), filepath.Join(root, "prev"), tmp)
		dir, err := c.Restore("")
		if err != nil || filepath.Dir(dir) != tmp {
			t.Fatalf("Restore(\"\") = %q, %v; want a directory under %s", dir, err, tmp)
		}
		if got := readTree(t, dir); got["_dst_cp"] != "x" {
			t.Errorf("restored %v", got)
		}
	})
}

func TestCheckpointRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	work := t.TempDir()
	writeFiles(t, work, map[string]string{"state/a": "1"})
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "state", "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	c := newCheckpoint(filepath.Join(root, "cp"), "", root)
	if err := c.Save(filepath.Join(work, "state")); err == nil || !strings.Contains(err.Error(), "regular files") {
		t.Errorf("Save of a tree with a symlink = %v, want an error", err)
	}
}
