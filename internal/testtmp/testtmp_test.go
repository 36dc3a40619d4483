package testtmp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// helperEnv makes TestHelperDir, run in a child test binary, make a
// directory and print its path.
const helperEnv = "TESTTMP_HELPER"

func TestHelperDir(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestMainRemovesDirs")
	}
	dir, err := Dir("testtmp-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("DIR=" + dir + "\n")
}

// TestMainRemovesDirs runs this test binary again to make a directory
// with Dir, and checks that it is gone when the binary has exited: Main
// removed it past the tests.
func TestMainRemovesDirs(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDir$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "DIR=")
	if !ok {
		t.Fatalf("child printed no DIR=:\n%s", out)
	}
	dir, _, _ := strings.Cut(after, "\n")
	if !strings.HasPrefix(filepath.Base(dir), "testtmp-test-") {
		t.Errorf("Dir made %s, want a name that starts with the prefix", dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after the child exited, Stat(%s) = %v, want it gone", dir, err)
	}
}

func TestRemoveAll(t *testing.T) {
	dir, err := Dir("testtmp-test-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Dir made no directory: %v", err)
	}
	RemoveAll()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after RemoveAll, Stat(%s) = %v, want it gone", dir, err)
	}
}

func TestShort(t *testing.T) {
	var dir string
	t.Run("sub test with a long name, as the browser tests have", func(t *testing.T) {
		dir = Short(t)
		if len(dir) >= len(t.TempDir()) {
			t.Errorf("Short = %s, no shorter than t.TempDir", dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("Short made no directory: %v", err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after the test, Stat(%s) = %v, want it gone", dir, err)
	}
}
