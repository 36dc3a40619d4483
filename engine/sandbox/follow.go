package sandbox

// Following a run while another process records it: what the console's
// live views read. It reads the same files as LoadRecord and
// ReadTaskLogs, with the same decoders, only incrementally.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A Follower reads a run's record, events and task logs as the run's
// process writes them, and reports what changed since its last call. It
// never writes. It is not safe for concurrent use.
type Follower struct {
	name, dir string
	done      bool
	started   bool

	evOff  int64 // bytes of events.jsonl used
	evLine int   // lines of events.jsonl used
	status string
	tasks  map[string]taskState
	order  []string

	logs     map[string]*logCursor // by file, relative to the run's directory
	logsFrom bool                  // logs before the first Next are skipped
}

type taskState struct {
	status                     string
	attempts, instances, fails int
	start, end                 time.Time
	cache, err                 string
}

func stateOf(t *TaskRecord) taskState {
	return taskState{t.Status, t.Attempts, t.Instances, len(t.FailedInstances), t.Start, t.End, t.Cache, t.Error}
}

type logCursor struct {
	off  int64
	line int
}

// FollowUpdate is what changed in a followed run.
type FollowUpdate struct {
	// Run is the record's head (Tasks nil) when the run's status changed
	// since the last update, and in the first update; else nil.
	Run *Record
	// Tasks are the tasks whose state changed, each as a whole, in the
	// order the run listed them (all of them in the first update).
	Tasks []TaskRecord
	// Logs are the task log lines written since the last update, file by
	// file.
	Logs []LogLine
	// Ended says the run is over (finished, or interrupted): Run is then
	// set, and further updates are empty.
	Ended bool
}

// Follow returns a Follower of the run with the given name. With
// skipLogs, task log lines already written when the first update is read
// are not reported (only those written after). A run without a record
// gives an error wrapping fs.ErrNotExist.
func (s Sandbox) Follow(name string, skipLogs bool) (*Follower, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("follow run: %w", err)
	}
	dir := s.RunDir(name)
	if _, err := os.Lstat(filepath.Join(dir, recordFile)); err != nil {
		return nil, fmt.Errorf("follow run %q: %w", name, err)
	}
	return &Follower{name: name, dir: dir, tasks: map[string]taskState{}, logs: map[string]*logCursor{}, logsFrom: skipLogs}, nil
}

// Next reads what changed since the last call. Lines being written
// (without their newline yet) wait for the next call.
func (f *Follower) Next() (FollowUpdate, error) {
	var u FollowUpdate
	if f.done {
		u.Ended = true
		return u, nil
	}
	if err := f.next(&u); err != nil {
		return u, fmt.Errorf("follow run %q: %w", f.name, err)
	}
	return u, nil
}

func (f *Follower) next(u *FollowUpdate) error {
	// Decided before running() marks the follower started: with logsFrom,
	// the lines written before the first update are skipped, also for a
	// run still going.
	skip := f.logsFrom && !f.started
	for range 3 {
		head, err := readRecord(f.dir, false)
		if err != nil {
			return err
		}
		if head.Status == StatusRunning {
			held, release, err := probeRun(filepath.Join(f.dir, lockFile))
			if err != nil {
				return err
			}
			if held {
				err := f.running(u, head)
				if errors.Is(err, fs.ErrNotExist) {
					continue // the events are gone: the run has just finished
				}
				if err != nil {
					return err
				}
				return f.readLogs(u, skip)
			}
			release()
		}
		// Finished, or dead: the final state, as LoadRecord gives it.
		rec, err := loadRecord(f.dir, true)
		if err != nil {
			return err
		}
		if err := f.readLogs(u, skip); err != nil {
			return err
		}
		for i := range rec.Tasks {
			f.apply(u, &rec.Tasks[i])
		}
		f.started = true
		f.done = true
		u.Ended = true
		rec.Tasks = nil
		u.Run = rec
		f.status = rec.Status
		return nil
	}
	return errors.New("the run's files keep changing under the reader")
}

// running reads the updates of a running run: its whole record the first
// time, then the events appended since.
func (f *Follower) running(u *FollowUpdate, head *Record) error {
	if !f.started {
		rec, err := readRecord(f.dir, true)
		if err != nil {
			return err
		}
		if rec.Status != StatusRunning {
			return fs.ErrNotExist // finished meanwhile: read it as such
		}
		for i := range rec.Tasks {
			f.apply(u, &rec.Tasks[i])
		}
	}
	path := filepath.Join(f.dir, eventsFile)
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := file.Seek(f.evOff, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return err
	}
	used, lines, err := decodeEvents(data, path, f.evLine+1, func(t TaskRecord) { f.apply(u, &t) })
	if err != nil {
		return err
	}
	f.evOff += int64(used)
	f.evLine += lines
	if !f.started || head.Status != f.status {
		u.Run = head
		f.status = head.Status
	}
	f.started = true
	return nil
}

// apply records t's state and adds it to u if it changed.
func (f *Follower) apply(u *FollowUpdate, t *TaskRecord) {
	st := stateOf(t)
	old, ok := f.tasks[t.Name]
	if ok && old == st {
		return
	}
	if !ok {
		f.order = append(f.order, t.Name)
	}
	f.tasks[t.Name] = st
	for i := range u.Tasks {
		if u.Tasks[i].Name == t.Name {
			u.Tasks[i] = *t
			return
		}
	}
	u.Tasks = append(u.Tasks, *t)
}

// readLogs reads the lines appended to the run's task logs: its log file,
// and the per-execution files of a run recorded before it.
func (f *Follower) readLogs(u *FollowUpdate, skip bool) error {
	names := []string{TaskLogFile}
	entries, err := os.ReadDir(filepath.Join(f.dir, logsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if _, _, ok := parseLogFileName(e.Name()); !ok {
			continue
		}
		names = append(names, logsDir+"/"+e.Name())
	}
	for _, name := range names {
		if err := f.readLog(u, name, skip); err != nil {
			return err
		}
	}
	slices.SortStableFunc(u.Logs, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	return nil
}

// readLog reads the lines appended to the task log name (relative to the
// run's directory, slash-separated); with skip, only moves past the
// whole lines there are.
func (f *Follower) readLog(u *FollowUpdate, name string, skip bool) error {
	c := f.logs[name]
	if c == nil {
		c = &logCursor{}
		f.logs[name] = c
	}
	path := filepath.Join(f.dir, filepath.FromSlash(name))
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= c.off {
		return nil
	}
	if skip {
		// Start after the last whole line written so far.
		data, err := readFrom(path, 0)
		if err != nil {
			return err
		}
		lines, used, err := decodeLogLines(data, path, 1)
		if err != nil {
			return err
		}
		c.off, c.line = int64(used), len(lines)
		return nil
	}
	data, err := readFrom(path, c.off)
	if err != nil {
		return err
	}
	lines, used, err := decodeLogLines(data, path, c.line+1)
	if err != nil {
		return err
	}
	c.off += int64(used)
	c.line += len(lines)
	u.Logs = append(u.Logs, lines...)
	return nil
}

func readFrom(path string, off int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
