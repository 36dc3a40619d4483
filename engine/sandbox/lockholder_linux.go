package sandbox

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// lockHolders returns the pids holding an flock on path, from the
// kernel's table of locks; ok is false when the table cannot be read.
func lockHolders(path string) (pids []int, ok bool) {
	ino, err := fileInode(path)
	if err != nil {
		return nil, false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	// "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"; waiters
	// have "->" after the number and hold nothing.
	want := ":" + strconv.FormatUint(ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		if !strings.HasSuffix(fields[5], want) {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, sc.Err() == nil
}
