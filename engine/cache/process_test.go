package cache

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests that need other processes re-run this test binary as a helper
// (the TestHelperProcess pattern of os/exec and go-plugin), told what to
// do by these environment variables.
const (
	envHelper = "GOFLYTE_CACHE_TEST_HELPER" // "put" or "crash"
	envDir    = "GOFLYTE_CACHE_TEST_DIR"
	envWriter = "GOFLYTE_CACHE_TEST_WRITER"
)

// procEntry is the entry writer w writes to key i in round r; pad makes it
// large.
func procEntry(i, w, r, pad int) *Entry {
	return &Entry{
		Task:    "proc.t" + strconv.Itoa(i%2),
		Version: "v1",
		Inputs:  map[string]string{"i": strconv.Itoa(i)},
		Outputs: json.RawMessage(fmt.Sprintf(`{"key":%d,"writer":%d,"round":%d,"pad":%q}`, i, w, r, strings.Repeat(strconv.Itoa(w), pad))),
	}
}

// checkProcEntry checks that e is what a writer wrote to key i, whole.
func checkProcEntry(e *Entry, i, pad int) error {
	var out struct{ Key, Writer, Round int }
	if err := json.Unmarshal(e.Outputs, &out); err != nil {
		return fmt.Errorf("key %d: outputs: %v", i, err)
	}
	if out.Key != i {
		return fmt.Errorf("key %d: got the entry of key %d", i, out.Key)
	}
	return sameEntry(procEntry(i, out.Writer, out.Round, pad), e)
}

const (
	putKeys, putRounds, putPad = 40, 6, 2000
	crashKeys, crashPad        = 12, 128 << 10
)

// TestHelperProcess is not a test: it is the body of the helper
// processes.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process for other tests")
	}
	c, err := Open(os.Getenv(envDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, _ := strconv.Atoi(os.Getenv(envWriter))
	switch mode {
	case "put":
		// Four goroutines, all writing and reading every key.
		var wg sync.WaitGroup
		failed := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				for r := range putRounds {
					for j := range putKeys {
						i := (j + g*putKeys/4) % putKeys
						if err := c.Put(testKey(i), procEntry(i, w, r, putPad)); err != nil {
							failed <- err
							return
						}
						e, err := c.Get(testKey(i))
						if err == nil {
							err = checkProcEntry(e, i, putPad)
						}
						if err != nil {
							failed <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(failed)
		if err := <-failed; err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "crash":
		// Write large entries round after round until killed.
		for r := 0; ; r++ {
			for i := range crashKeys {
				if err := c.Put(testKey(i), procEntry(i, w, r, crashPad)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
			if r == 0 {
				fmt.Println("ready")
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		os.Exit(2)
	}
	os.Exit(0)
}

func helperCommand(t *testing.T, mode, dir string, writer int) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envDir+"="+dir, envWriter+"="+strconv.Itoa(writer))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestTwoProcesses has two processes (of four goroutines each) write and
// read the same keys at once. Every entry must be whole, one writer's.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := newTestCache(t)
	var cmds []*exec.Cmd
	for w := range 2 {
		cmd := helperCommand(t, "put", c.Dir(), w)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for w, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	for i := range putKeys {
		e, err := c.Get(testKey(i))
		if err != nil {
			t.Errorf("Get(key %d): %v", i, err)
			continue
		}
		if err := checkProcEntry(e, i, putPad); err != nil {
			t.Error(err)
		}
	}
	infos, err := c.List("")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != putKeys {
		t.Errorf("List: %d entries, want %d", len(infos), putKeys)
	}
	for _, task := range []string{"proc.t0", "proc.t1"} {
		if infos, err := c.List(task); err != nil || len(infos) != putKeys/2 {
			t.Errorf("List(%q): %d entries, %v; want %d", task, len(infos), err, putKeys/2)
		}
		if _, _, err := c.Latest(task); err != nil {
			t.Errorf("Latest(%q): %v", task, err)
		}
	}
	if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
		t.Errorf("temporary files left: %q", tf)
	}
}

// TestCrash kills (SIGKILL) two processes while they write large entries,
// several times at different moments, damages some entries as a power
// loss could, and then reads everything: each entry must be whole and for
// its key, or reported corrupt; never a wrong hit. Temporary files of the
// dead writers are ignored by reads and swept by Prune once they are an
// hour old.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := newTestCache(t)
	for round, delay := range []time.Duration{0, 3 * time.Millisecond, 17 * time.Millisecond} {
		var cmds []*exec.Cmd
		for w := range 2 {
			cmd := helperCommand(t, "crash", c.Dir(), w)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if line != "ready\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: writer %d did not get ready: %q, %v", round, w, line, err)
			}
		}
		time.Sleep(delay)
		for _, cmd := range cmds {
			cmd.Process.Kill() // SIGKILL: no chance to clean up
		}
		for _, cmd := range cmds {
			cmd.Wait()
		}

		// SIGKILL cannot tear a renamed entry; losing power before the
		// data reached the disk can (Put does not fsync). Simulate that
		// on two entries: one cut in half, one whose blocks read back as
		// zeros.
		damaged := 0
		if round > 0 {
			if err := os.Truncate(c.Path(testKey(round)), crashPad/2); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.Path(testKey(round+3)), make([]byte, crashPad), 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = 2
		}

		valid, corrupt := 0, 0
		keys, err := c.allKeys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			i := -1
			for j := range crashKeys {
				if testKey(j) == k {
					i = j
				}
			}
			if i < 0 {
				t.Errorf("round %d: unexpected entry %s", round, k)
				continue
			}
			e, err := c.Get(k)
			var ce *CorruptError
			switch {
			case errors.As(err, &ce):
				corrupt++
			case err != nil:
				t.Errorf("round %d: Get(key %d): %v", round, i, err)
			default:
				valid++
				if err := checkProcEntry(e, i, crashPad); err != nil {
					t.Errorf("round %d: wrong hit: %v", round, err)
				}
			}
		}
		t.Logf("round %d: %d valid entries, %d corrupt, %d temporary files", round, valid, corrupt, len(tempFiles(t, c.Dir())))
		if corrupt != damaged || valid != crashKeys-damaged {
			t.Errorf("round %d: %d valid and %d corrupt entries, want %d and %d", round, valid, corrupt, crashKeys-damaged, damaged)
		}
		for _, task := range []string{"proc.t0", "proc.t1"} {
			if _, e, err := c.Latest(task); err != nil || e.Task != task {
				t.Errorf("round %d: Latest(%q): %v", round, task, err)
			}
		}
	}

	// An hour later, Prune sweeps the dead writers' temporary files and
	// keeps the entries.
	c.now = func() time.Time { return time.Now().Add(tempGrace + time.Minute) }
	before, _ := c.List("")
	if _, err := c.Prune(24*time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
		t.Errorf("temporary files survived Prune: %q", tf)
	}
	after, _ := c.List("")
	if len(after) != len(before) {
		t.Errorf("Prune removed entries: %d before, %d after", len(before), len(after))
	}
}
