package engine

import (
	"context"
	"os"
	"testing"

	"github.com/goflyte/goflyte/plugin"
)

// reportingProvider makes its tasks' working directories itself
// (LazyWorkingDirectory) and says what it did in each answer
// (plugin.ExecuteResult.Workdir) as its task's name tells it to, true or
// not, so that a test can tell the engine's reading of the answer from a
// look at the disk.
type reportingProvider struct{}

func (reportingProvider) Describe(context.Context) (*plugin.Schema, error) {
	s := &plugin.Schema{Name: "rep", Version: "1", LazyWorkingDirectory: true}
	for _, name := range []string{"claims", "denies", "silent_made", "silent_idle"} {
		s.Tasks = append(s.Tasks, plugin.TaskSchema{Name: name, Outputs: []plugin.Field{field("ok", "bool")}})
	}
	return s, nil
}

func (reportingProvider) Execute(_ context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	res := &plugin.ExecuteResult{Outputs: []byte(`{"ok":true}`)}
	if !req.Params.MakeWorkingDirectory {
		return nil, &plugin.TaskError{Message: "the engine made the working directory of a lazy plugin"}
	}
	mkdir := func() error { return os.Mkdir(req.Params.WorkingDirectory, 0o700) }
	switch req.Task {
	case "claims": // says it made it, and did not
		res.Workdir = plugin.WorkdirMade
	case "denies": // made it, and says it did not
		if err := mkdir(); err != nil {
			return nil, err
		}
		res.Workdir = plugin.WorkdirNotMade
	case "silent_made": // a plugin that does not say (an older sdk)
		if err := mkdir(); err != nil {
			return nil, err
		}
	case "silent_idle":
	}
	return res, nil
}

// TestWorkdirFromTheAnswer checks that the record names a lazy working
// directory as the plugin's answer says, without looking at the disk (a
// stat per task was a tenth of a chain step's CPU), and looks only when
// the plugin does not say.
func TestWorkdirFromTheAnswer(t *testing.T) {
	e, _ := newTestEngine(t)
	e.Plugins.Register("rep", reportingProvider{})
	res := mustRun(t, e, `workflow "w" {
  task "claims" { uses = "rep.claims" }
  task "denies" { uses = "rep.denies" }
  task "silent_made" { uses = "rep.silent_made" }
  task "silent_idle" { uses = "rep.silent_idle" }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %v: %v", res.Status, res.Err)
	}
	want := map[string]bool{"claims": true, "denies": false, "silent_made": true, "silent_idle": false}
	for _, tr := range res.Tasks {
		if got := tr.WorkDir != ""; got != want[tr.Node] {
			t.Errorf("task %s: work dir %q in the record, want one: %v", tr.Node, tr.WorkDir, want[tr.Node])
		}
	}
}
