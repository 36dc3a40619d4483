package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Sweep cleans up after runs that were interrupted: killed, crashed or
// shut down without finishing their record. For each such run it writes
// the record as final, with StatusInterrupted for the run and for the
// tasks that were running (the events replayed into it), and removes the
// run's events file and any half-written record file. Runs that are still
// going are not touched: their process holds the run's lock.
//
// It returns the records it finished, so that the caller can report them;
// errors name the run and do not stop the sweep of the others. Only run
// directories that still have an events file are looked at, so a sweep of
// a sandbox full of finished runs costs one directory listing and a stat
// per run.
func (s Sandbox) Sweep() (swept []*Record, errs []error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "runs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("sweep sandbox: %w", err)}
	}
	for _, e := range entries {
		if !e.IsDir() || checkName(e.Name()) != nil || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := s.RunDir(e.Name())
		if _, err := os.Lstat(filepath.Join(dir, eventsFile)); err != nil {
			continue // finished (or never started): nothing to clean
		}
		rec, err := sweepRun(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("clean up run %q: %w", e.Name(), err))
		} else if rec != nil {
			swept = append(swept, rec)
		}
	}
	return swept, errs
}

// sweepRun finishes the record in dir if its run is dead, and returns it;
// it returns nil for a live or already finished run.
func sweepRun(dir string) (*Record, error) {
	held, release, err := probeRun(filepath.Join(dir, lockFile))
	if err != nil || held {
		return nil, err
	}
	defer release()
	// While we hold the lock, nobody can start recording this run.
	rec, err := readRecord(dir, true)
	if err != nil {
		return nil, err
	}
	if rec.Status != StatusRunning {
		// Finished between our stat and the lock: only stale files left.
		return nil, removeLeftovers(dir)
	}
	if err := replayEvents(dir, rec, true); err != nil {
		return nil, err
	}
	interrupt(rec)
	if err := writeRecordAtomic(dir, rec, true); err != nil {
		return nil, err
	}
	return rec, removeLeftovers(dir)
}

// removeLeftovers removes a dead run's events file and half-written
// record files.
func removeLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if name == eventsFile || strings.HasPrefix(name, "."+recordFile+".tmp-") {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
