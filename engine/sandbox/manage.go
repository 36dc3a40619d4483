package sandbox

// Managing runs: one shape for listing them (RunSummary, what `runs list
// --json` and the console's /api/runs print), deleting them, choosing
// which to prune, and cancelling a running one.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// RunSummary is one run in a list of runs: the head of its record, its
// duration and its tasks counted by status. It is the object of `goflyte
// runs list --json` and of the console's /api/runs.
type RunSummary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Workflow    string    `json:"workflow"`
	Status      string    `json:"status"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	DurationMS  int64     `json:"duration_ms"`
	ResumedFrom string    `json:"resumed_from"`
	Error       string    `json:"error"`
	// TaskCounts counts the run's tasks by status; nil for a record
	// written before records kept counts.
	TaskCounts map[string]int `json:"task_counts,omitempty"`
}

// Summarize returns the summary of rec. Its task counts are rec's
// TaskCounts, or counted from rec.Tasks when those are loaded.
func Summarize(rec *Record) RunSummary {
	s := RunSummary{
		ID: rec.ID, Name: rec.Name, Workflow: rec.Workflow, Status: rec.Status,
		Start: rec.Start, End: rec.End, ResumedFrom: rec.ResumedFrom, Error: rec.Error,
		TaskCounts: rec.TaskCounts,
	}
	if !rec.End.IsZero() {
		s.DurationMS = rec.End.Sub(rec.Start).Milliseconds()
	}
	if rec.Tasks != nil {
		s.TaskCounts = countTasks(rec.Tasks)
	}
	return s
}

// countTasks counts tasks by status.
func countTasks(tasks []TaskRecord) map[string]int {
	counts := map[string]int{}
	for _, t := range tasks {
		counts[t.Status]++
	}
	return counts
}

// ListSummaries returns the summaries of all runs, newest first, as
// [Sandbox.ListRecords] finds them. Finished runs cost a read of their
// record's head; running ones a read of their record and events, for
// current task counts.
func (s Sandbox) ListSummaries() (sums []RunSummary, skipped []error, err error) {
	recs, skipped, err := s.ListRecords()
	if err != nil {
		return nil, skipped, err
	}
	sums = make([]RunSummary, 0, len(recs))
	for _, r := range recs {
		if r.TaskCounts == nil && (r.Status == StatusRunning || r.Status == StatusInterrupted) {
			if full, err := s.LoadRecord(r.Name); err == nil {
				r = full
			}
		}
		sums = append(sums, Summarize(r))
	}
	return sums, skipped, nil
}

// RunningError is the error of an operation refused because the run is
// still going.
type RunningError struct {
	Name string
	PID  int
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("run %s is running (pid %d): cancel it first (goflyte runs cancel %s)", e.Name, e.PID, e.Name)
}

// DeleteRun removes the run's directory, with everything in it: record,
// working directories, logs, decks and the data store kept there. With
// dataPrefix, a local directory used as local.raw_output_data_prefix,
// the run's data store there (<dataPrefix>/<name>) goes too. A running
// run is never touched: the error is then a [*RunningError]. A run that
// does not exist gives an error wrapping fs.ErrNotExist.
//
// While it deletes, it holds the run's lock, so no Recorder can start on
// the run meanwhile.
func (s Sandbox) DeleteRun(name, dataPrefix string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("delete run: %w", err)
	}
	dir := s.RunDir(name)
	if _, err := os.Lstat(dir); err != nil {
		return fmt.Errorf("delete run %q: %w", name, err)
	}
	held, release, err := probeRun(filepath.Join(dir, lockFile))
	if err != nil {
		return fmt.Errorf("delete run %q: %w", name, err)
	}
	if held {
		pid := 0
		if rec, err := readRecord(dir, false); err == nil {
			pid = rec.PID
		}
		return &RunningError{Name: name, PID: pid}
	}
	defer release()
	// Make the directory unlistable as a run first: a reader that lists
	// runs meanwhile skips it instead of reading half of it.
	trash := filepath.Join(s.Root, "runs", ".deleting-"+name)
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("delete run %q: %w", name, err)
	}
	var errs []error
	if err := removeAll(trash); err != nil {
		errs = append(errs, err)
	}
	if dataPrefix != "" {
		if err := removeAll(filepath.Join(dataPrefix, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete run %q: %w", name, err)
	}
	return nil
}

// removeAll is os.RemoveAll that also removes read-only directories (the
// data store keeps files read-only; a task may leave directories so).
func removeAll(path string) error {
	if err := os.RemoveAll(path); err == nil {
		return nil
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// PruneOptions chooses runs to prune; see [SelectPrune].
type PruneOptions struct {
	// OlderThan selects runs that ended at least this long before Now
	// (an interrupted run, which has no end, counts from its start). 0
	// selects by age no run out.
	OlderThan time.Duration
	// Keep keeps the Keep newest finished runs (of those Statuses
	// allows), whatever their age.
	Keep int
	// Statuses, if not empty, limits pruning to runs with these statuses.
	Statuses []string
	Now      time.Time
}

// SelectPrune returns the runs of recs (newest first, as ListRecords
// gives them) that opts prunes, newest first. Running runs are never
// selected.
func SelectPrune(recs []*Record, opts PruneOptions) []*Record {
	var out []*Record
	kept := 0
	for _, r := range recs {
		if r.Status == StatusRunning {
			continue
		}
		if len(opts.Statuses) > 0 && !slices.Contains(opts.Statuses, r.Status) {
			continue
		}
		if kept < opts.Keep {
			kept++
			continue
		}
		end := r.End
		if end.IsZero() {
			end = r.Start
		}
		if opts.OlderThan > 0 && opts.Now.Sub(end) < opts.OlderThan {
			continue
		}
		out = append(out, r)
	}
	return out
}

// A Lister lists the runs of a sandbox again and again, as a console
// does, reading each finished run's record once: it keeps their summaries
// and reads a record again only when the file changed (a finished record
// does not, but for a resume's rewrite or a sweep). Runs that are going
// are read afresh each time. It is safe for concurrent use.
type Lister struct {
	Sandbox Sandbox

	mu    sync.Mutex
	known map[string]listed
}

type listed struct {
	mod  time.Time
	size int64
	sum  RunSummary
}

// List returns the summaries of all runs, newest first, as
// [Sandbox.ListSummaries] does, and the run directories it left out.
func (l *Lister) List() ([]RunSummary, []error, error) {
	entries, err := os.ReadDir(filepath.Join(l.Sandbox.Root, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list records: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known == nil {
		l.known = map[string]listed{}
	}
	seen := make(map[string]bool, len(entries))
	sums := make([]RunSummary, 0, len(entries))
	var skipped []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || checkName(name) != nil || strings.HasPrefix(name, ".") {
			continue
		}
		seen[name] = true
		fi, err := os.Stat(filepath.Join(l.Sandbox.RunDir(name), recordFile))
		if err != nil {
			skipped = append(skipped, fmt.Errorf("run %q: %w", name, err))
			continue
		}
		if k, ok := l.known[name]; ok && k.mod.Equal(fi.ModTime()) && k.size == fi.Size() {
			sums = append(sums, k.sum)
			continue
		}
		rec, err := loadRecord(l.Sandbox.RunDir(name), false)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("run %q: %w", name, err))
			continue
		}
		if rec.Status == StatusRunning || rec.TaskCounts == nil && rec.Status == StatusInterrupted {
			if full, err := l.Sandbox.LoadRecord(name); err == nil {
				rec = full
			}
		}
		sum := Summarize(rec)
		if rec.Status != StatusRunning && rec.Status != StatusInterrupted {
			l.known[name] = listed{mod: fi.ModTime(), size: fi.Size(), sum: sum}
		}
		sums = append(sums, sum)
	}
	for name := range l.known {
		if !seen[name] {
			delete(l.known, name)
		}
	}
	slices.SortFunc(sums, func(a, b RunSummary) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	return sums, skipped, nil
}
