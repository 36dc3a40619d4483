// Package sandbox owns goflyte's sandbox directory (sdk.local_sandbox): one
// directory per run, holding a fresh working directory for every task
// execution. Nothing in it is cleaned automatically, as in Flytekit, so a
// run can be inspected after it ends.
//
// Layout:
//
//	<root>/runs/<run name>/record.json          the run record (see Recorder)
//	<root>/runs/<run name>/events.jsonl         task updates while the run goes on
//	<root>/runs/<run name>/lock                 held by the recording process
//	<root>/runs/<run name>/outputs/<task>.json  task outputs too large to inline
//	<root>/runs/<run name>/tasks/<task>/        first attempt of a task
//	<root>/runs/<run name>/tasks/<task>.<n>/    attempt n > 1
//	                                            (made by the plugin, and only when its
//	                                            task uses it, for a plugin that says it can)
//	<root>/runs/<run name>/deck.html            the run's deck index (enable_deck)
//	<root>/runs/<run name>/tasks/<dir>/deck.html a task's decks, in its last attempt's directory
//	<root>/runs/<run name>/logs.jsonl           the log lines of every task attempt (see TaskLogs;
//	                                            runs recorded before: logs/<task>[.<n>].log each)
//	<root>/tasks/<run name>.<task>[.<n>]/       an attempt's working directory in a lazy run
//	                                            (LazyRun: a worker's task attempts)
//	<root>/plugin-schemas/                      the engine's cache of plugins' Describe answers
//
// The package does not know about workflows or plugins: the engine decides
// what a record says.
package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sandbox is a sandbox directory.
type Sandbox struct {
	Root string
}

// Run is one run's directory in the sandbox.
type Run struct {
	Name string
	Dir  string

	// shared, when set (LazyRun), is the directory that holds the
	// working directories of the run's task attempts, shared with other
	// runs: "<shared>/<run name>.<task>[.<attempt>]" instead of
	// "<Dir>/tasks/<task>[.<attempt>]".
	shared string
}

// NewRunName returns a fresh run name: the start time, to sort runs, and
// random hex, to keep concurrent runs apart, e.g. "r20261125-125135-3fa9c27d".
func NewRunName(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "r" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// NewRun creates the directory of a new run. It fails with an error
// wrapping fs.ErrExist if the name is taken.
func (s Sandbox) NewRun(name string) (*Run, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	runs := filepath.Join(s.Root, "runs")
	if err := os.MkdirAll(runs, 0o700); err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	dir := filepath.Join(runs, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tasks"), 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	return &Run{Name: name, Dir: dir}, nil
}

// SharedTasksDir is the directory below a sandbox's root that holds the
// working directories of the tasks of its lazy runs (LazyRun).
const SharedTasksDir = "tasks"

// LazyRun returns a new run without making anything of it: its
// directory is made when something is first written in it (a
// task's log, a checkpoint, fetched inputs make theirs with their
// parents), and the working directories of its task attempts are made
// in the sandbox's shared directory of them,
// <root>/tasks/<run name>.<task>[.<attempt>], which LazyRun makes if
// it is missing, so that a plugin that makes its task's working
// directory itself (one os.Mkdir) finds the parent there.
//
// It is for the one-task runs of a worker (engine.ExecuteTask), one a
// task attempt: most of them write no file, and making a run's two
// directories was most of such an attempt's own CPU (BENCH.md, the
// fourth fan-out round). The name is not checked against existing runs:
// it must be unique (NewRunName and more random digits).
func (s Sandbox) LazyRun(name string) (*Run, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	shared := filepath.Join(s.Root, SharedTasksDir)
	if err := os.MkdirAll(shared, 0o700); err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	return &Run{Name: name, Dir: filepath.Join(s.Root, "runs", name), shared: shared}, nil
}

// TaskDir creates and returns a fresh working directory for one attempt
// (counted from 1) of a task. It fails if that directory already exists, so
// no task execution ever sees another one's files.
func (r *Run) TaskDir(task string, attempt int) (string, error) {
	dir, err := r.TaskDirPath(task, attempt)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create working directory for task %q: %w", task, err)
	}
	return dir, nil
}

// TaskDirPath returns the path TaskDir would create for the attempt,
// without creating it: for a plugin that makes its working directory
// itself when its task first uses it (plugin.Params.MakeWorkingDirectory).
// Its parent exists (a run's tasks directory, or a LazyRun's shared one).
func (r *Run) TaskDirPath(task string, attempt int) (string, error) {
	if err := checkName(task); err != nil {
		return "", err
	}
	if r.shared != "" {
		return filepath.Join(r.shared, r.Name+"."+attemptName(task, attempt)), nil
	}
	return filepath.Join(r.Dir, "tasks", attemptName(task, attempt)), nil
}

// CheckpointDir returns the directory where an attempt of a task saves its
// checkpoint: <run>/checkpoints/<task>[.<attempt>]. It is not made: the
// task makes it when it saves one.
func (r *Run) CheckpointDir(task string, attempt int) (string, error) {
	if err := checkName(task); err != nil {
		return "", err
	}
	return filepath.Join(r.Dir, "checkpoints", attemptName(task, attempt)), nil
}

// PrevCheckpoint returns the checkpoint directory of the latest attempt of
// task before attempt before that saved one, or "".
func (r *Run) PrevCheckpoint(task string, before int) string {
	if checkName(task) != nil {
		return ""
	}
	for a := before - 1; a >= 1; a-- {
		dir := filepath.Join(r.Dir, "checkpoints", attemptName(task, a))
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return ""
}

// TmpDir is the run's directory for tasks' scratch directories. It is made
// when first used.
func (r *Run) TmpDir() string { return filepath.Join(r.Dir, "tmp") }

// attemptName names an attempt's directory: the task's name for the first
// attempt, "<task>.<attempt>" for later ones.
func attemptName(task string, attempt int) string {
	if attempt > 1 {
		return task + "." + strconv.Itoa(attempt)
	}
	return task
}

// checkName keeps names from escaping their directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
		return errors.New("invalid sandbox name " + strconv.Quote(name))
	}
	return nil
}

// Checkpoint describes the checkpoint an attempt of a task saved.
type Checkpoint struct {
	Attempt int    `json:"attempt"`
	Dir     string `json:"dir"` // relative to the run's directory, slash-separated
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
}

// Checkpoints lists the checkpoints that attempts 1 to attempts of task
// saved in the run's directory runDir, oldest first. An attempt that
// saved none is left out; a checkpoint that cannot be read is an error.
func Checkpoints(runDir, task string, attempts int) ([]Checkpoint, error) {
	if err := checkName(task); err != nil {
		return nil, err
	}
	var out []Checkpoint
	for a := 1; a <= attempts; a++ {
		rel := "checkpoints/" + attemptName(task, a)
		dir := filepath.Join(runDir, filepath.FromSlash(rel))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		cp := Checkpoint{Attempt: a, Dir: rel}
		err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			cp.Files++
			cp.Bytes += info.Size()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read checkpoint of %s: %w", attemptName(task, a), err)
		}
		out = append(out, cp)
	}
	return out, nil
}
