package remote

import (
	"fmt"
	"slices"
	"testing"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// TestNestedLogBound: a nested log keeps every running call and the
// latest MaxNestedRecords ended ones, in the order they started, counts
// those it dropped, and comes back the same from its records (what
// continue-as-new carries).
func TestNestedLogBound(t *testing.T) {
	var l nestedLog
	running := l.start("fan", "fan@0", "text.count", sandbox.TaskRecord{Status: sandbox.StatusRunning})
	total := 3 * MaxNestedRecords
	for i := 1; i <= total; i++ {
		r := l.start("fan", fmt.Sprintf("fan@%d", i), "text.count", sandbox.TaskRecord{Status: sandbox.StatusRunning,
			Outputs: []byte(`{"n":1}`), WorkDir: "/w"})
		r.Status, r.LogURIs = sandbox.StatusSucceeded, []string{fmt.Sprintf("s3://b/run/_logs/fan@%d.log", i)}
		l.end(r)
	}
	l.merge("eager", []sandbox.TaskRecord{{Name: "eager+1+upper", Task: "text.upper", Status: sandbox.StatusSucceeded}})
	recs, omitted := l.of("fan")
	if recs[0].Name != "fan@0" || recs[0].Status != sandbox.StatusRunning {
		t.Errorf("the running call was dropped or moved: %+v", recs[0])
	}
	ended := len(recs) - 1
	if ended < MaxNestedRecords-1 || ended > MaxNestedRecords*5/4 || omitted+ended != total {
		t.Errorf("kept %d ended and omitted %d of %d", ended, omitted, total)
	}
	if last := recs[len(recs)-1]; last.Name != fmt.Sprintf("fan@%d", total) || len(last.LogURIs) != 1 || last.Outputs != nil || last.WorkDir != "" {
		t.Errorf("latest record %+v: want fan@%d, light, with its log", last, total)
	}
	if !slices.IsSortedFunc(recs[1:], func(a, b sandbox.TaskRecord) int { return len(a.Name) - len(b.Name) }) {
		t.Errorf("records out of start order")
	}
	// A dropped record's later updates go nowhere; a kept one's end once.
	l.end(running)
	l.end(running)
	if recs, _ := l.of("fan"); recs[0].Status != sandbox.StatusRunning {
		// end does not set the status: the caller does before.
		t.Errorf("end changed the status: %+v", recs[0])
	}

	var back nestedLog
	back.restore([]sandbox.TaskRecord{
		{Name: "fan", Nested: recs, NestedOmitted: omitted},
		{Name: "eager", Nested: []sandbox.TaskRecord{{Name: "eager+1+upper", Task: "text.upper", Status: sandbox.StatusSucceeded}}},
	})
	got, gotOmitted := back.of("fan")
	if gotOmitted != omitted || len(got) != len(recs) || got[len(got)-1].Name != recs[len(recs)-1].Name {
		t.Errorf("restored: %d records, %d omitted; want %d, %d", len(got), gotOmitted, len(recs), omitted)
	}
	if e, _ := back.of("eager"); len(e) != 1 || e[0].Name != "eager+1+upper" {
		t.Errorf("restored eager children: %+v", e)
	}
}

// TestNestedLogRestarted: a call that ended and starts again (a dynamic
// task's workflow run by a later attempt) is running again: kept however
// many others end, and counted once when it is dropped at last.
func TestNestedLogRestarted(t *testing.T) {
	var l nestedLog
	r := l.start("dyn", "dyn+a", "text.split", sandbox.TaskRecord{Status: sandbox.StatusRunning})
	r.Status = sandbox.StatusFailed
	l.end(r)
	r = l.start("dyn", "dyn+a", "text.split", sandbox.TaskRecord{Status: sandbox.StatusRunning})
	for i := range 2 * MaxNestedRecords {
		o := l.start("dyn", fmt.Sprintf("dyn+b%d", i), "text.count", sandbox.TaskRecord{Status: sandbox.StatusSucceeded})
		l.end(o)
	}
	recs, _ := l.of("dyn")
	if recs[0].Name != "dyn+a" || recs[0].Status != sandbox.StatusRunning {
		t.Fatalf("the restarted call was dropped while it runs: first record %+v", recs[0])
	}
	r.Status = sandbox.StatusSucceeded
	l.end(r)
	for i := range 2 * MaxNestedRecords {
		o := l.start("dyn", fmt.Sprintf("dyn+c%d", i), "text.count", sandbox.TaskRecord{Status: sandbox.StatusSucceeded})
		l.end(o)
	}
	recs, omitted := l.of("dyn")
	if omitted+len(recs) != 1+4*MaxNestedRecords || slices.ContainsFunc(recs, func(r sandbox.TaskRecord) bool { return r.Name == "dyn+a" }) {
		t.Errorf("kept %d, omitted %d of %d; dyn+a kept: %v", len(recs), omitted, 1+4*MaxNestedRecords,
			slices.ContainsFunc(recs, func(r sandbox.TaskRecord) bool { return r.Name == "dyn+a" }))
	}
}
