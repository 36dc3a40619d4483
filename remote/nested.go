package remote

import (
	"slices"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// The record of nested work. A local run shows a progress line for each
// task inside a sub-workflow call, a dynamic task's workflow or an eager
// task, and keeps a task log for each of them and for each for_each
// instance. The interpreter workflow keeps a light record of each such
// call (sandbox.TaskRecord.Nested of the run's task it is below), so
// that `run --remote` prints the same lines and `runs logs --remote`
// finds the same logs.
//
// The record is bounded: it keeps every running nested call and the
// latest MaxNestedRecords ended ones, and counts those it dropped
// (TaskRecord.NestedOmitted), so that QueryRecord's answer, the
// workflow's result and its failure's details stay far below Temporal's
// payload limit (about 2 MB) for a for_each of any size. It is plain
// data (the top-level tasks' Nested, see restore) and never changes the
// commands the workflow issues.

// MaxNestedRecords is how many ended nested calls a run's record keeps:
// the latest ones. A nested record is about 300 bytes of JSON, so the
// record's nested part stays under about 400 KB with the running ones.
const MaxNestedRecords = 1000

// nestedLog is the driver's record of nested calls.
type nestedLog struct {
	// owners are the nested calls below each of the run's tasks, by the
	// task's name, in the order they started.
	owners map[string]*nestedSet
	// byName are the kept records, by name.
	byName map[string]*nestedRec
	// ended are the kept records that ended, oldest first.
	ended []*nestedRec
}

type nestedSet struct {
	recs    []*nestedRec
	omitted int
}

type nestedRec struct {
	owner   string
	ended   bool
	dropped bool
	sandbox.TaskRecord
}

// start records a nested call that starts (or starts again: a dynamic
// task's workflow run by a later attempt).
func (l *nestedLog) start(owner, name, task string, rec sandbox.TaskRecord) *sandbox.TaskRecord {
	rec.Name, rec.Task = name, task
	return &l.put(owner, rec).TaskRecord
}

// put adds rec below owner, or replaces the kept record of the same
// name.
func (l *nestedLog) put(owner string, rec sandbox.TaskRecord) *nestedRec {
	if l.byName == nil {
		l.set(owner)
	}
	r := l.byName[rec.Name]
	if r == nil {
		r = &nestedRec{owner: owner}
		l.byName[rec.Name] = r
		set := l.set(owner)
		set.recs = append(set.recs, r)
	}
	r.TaskRecord = rec
	r.ended = false // until end says so (again)
	return r
}

func (l *nestedLog) set(owner string) *nestedSet {
	if l.owners == nil {
		l.byName, l.owners = map[string]*nestedRec{}, map[string]*nestedSet{}
	}
	set := l.owners[owner]
	if set == nil {
		set = &nestedSet{}
		l.owners[owner] = set
	}
	return set
}

// merge takes the records of nested calls made elsewhere (a worker's
// eager task, a batch of instances) below owner.
func (l *nestedLog) merge(owner string, recs []sandbox.TaskRecord) {
	for _, rec := range recs {
		r := l.put(owner, light(rec))
		if ended(rec.Status) {
			l.end(&r.TaskRecord)
		}
	}
}

// omit counts n nested calls below owner that a record made elsewhere
// (a batch's) left out.
func (l *nestedLog) omit(owner string, n int) {
	if n > 0 {
		l.set(owner).omitted += n
	}
}

// end notes that the nested record t ended, drops what a nested record
// does not keep, and drops the oldest ended records beyond
// MaxNestedRecords (a quarter at a time, so that dropping stays cheap).
func (l *nestedLog) end(t *sandbox.TaskRecord) {
	r := l.byName[t.Name]
	if r == nil || &r.TaskRecord != t {
		return // dropped already
	}
	r.TaskRecord = light(r.TaskRecord)
	if !r.ended {
		r.ended = true
		l.ended = append(l.ended, r)
	}
	if len(l.ended) <= MaxNestedRecords+MaxNestedRecords/4 {
		return
	}
	drop := l.ended[:len(l.ended)-MaxNestedRecords]
	owners := map[string]bool{}
	for _, r := range drop {
		if r.dropped || !r.ended {
			continue // dropped already, or running again: kept
		}
		r.dropped = true
		delete(l.byName, r.Name)
		owners[r.owner] = true
		l.owners[r.owner].omitted++
	}
	l.ended = slices.Clone(l.ended[len(drop):])
	for owner := range owners {
		set := l.owners[owner]
		set.recs = slices.DeleteFunc(set.recs, func(r *nestedRec) bool { return r.dropped })
	}
}

// of returns the kept nested records below owner, as light copies, and
// how many were dropped.
func (l *nestedLog) of(owner string) ([]sandbox.TaskRecord, int) {
	set := l.owners[owner]
	if set == nil {
		return nil, 0
	}
	out := make([]sandbox.TaskRecord, 0, len(set.recs))
	for _, r := range set.recs {
		out = append(out, light(r.TaskRecord))
	}
	return out, set.omitted
}

// restore rebuilds the log from records' Nested (a record carried
// across continue-as-new).
func (l *nestedLog) restore(tasks []sandbox.TaskRecord) {
	for _, t := range tasks {
		l.merge(t.Name, t.Nested)
		l.omit(t.Name, t.NestedOmitted)
	}
}

// light is what a nested record keeps: no outputs, working directory,
// digests, attempt times or metrics.
func light(t sandbox.TaskRecord) sandbox.TaskRecord {
	return sandbox.TaskRecord{
		Name: t.Name, Task: t.Task, Status: t.Status, Attempts: t.Attempts, Start: t.Start, End: t.End,
		Cache: t.Cache, Error: t.Error, Instances: t.Instances,
		FailedInstances: slices.Clone(t.FailedInstances), Children: slices.Clone(t.Children),
		LogURIs: slices.Clone(t.LogURIs),
	}
}

// ended reports whether a task status is final.
func ended(status string) bool {
	switch status {
	case sandbox.StatusSucceeded, sandbox.StatusFailed, sandbox.StatusCancelled, sandbox.StatusSkipped, sandbox.StatusInterrupted:
		return true
	}
	return false
}
