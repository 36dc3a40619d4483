package engine

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// keptTask is a task whose outputs a resumed run keeps.
type keptTask struct {
	outputs map[string]cty.Value
	raw     []byte
}

// ResumeError says why a run cannot be resumed: the workflow is another
// one, or tasks whose outputs would be kept have changed since.
type ResumeError struct {
	RunID   string
	Problem string
	Changed []string // tasks whose definitions changed
}

func (e *ResumeError) Error() string {
	if len(e.Changed) == 0 {
		return fmt.Sprintf("cannot resume %s: %s", e.RunID, e.Problem)
	}
	return fmt.Sprintf("cannot resume %s: the workflow changed since: task %s %s, so %s recorded outputs cannot be reused. "+
		"Re-run from the first changed task with --from %s, or run the workflow afresh",
		e.RunID, strings.Join(quoteAll(e.Changed), ", "), plural(len(e.Changed), "has a new definition", "have new definitions"),
		plural(len(e.Changed), "its", "their"), e.Changed[0])
}

// planResume decides which tasks of g keep the outputs they had in the
// resumed run: those that succeeded there, are not r.From or downstream of
// it, and whose definition is unchanged. A changed task that would be kept
// is an error that names it: its recorded outputs may no longer be right.
func planResume(g *Graph, r *Resume) (map[string]keptTask, error) {
	rec := r.Record
	if rec.Workflow != g.Name {
		return nil, &ResumeError{RunID: rec.ID, Problem: fmt.Sprintf("it ran %s, not %s", rec.Workflow, g.Name)}
	}
	rerun := map[string]bool{}
	if r.From != "" {
		if g.Node(r.From) == nil {
			var names []string
			for _, n := range g.Nodes {
				names = append(names, n.Name)
			}
			msg := fmt.Sprintf("--from %q: the workflow has no such task", r.From)
			if s := config.Suggest(r.From, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, &ResumeError{RunID: rec.ID, Problem: msg}
		}
		rerun = downstream(g, r.From)
	}
	old := make(map[string]sandbox.TaskRecord, len(rec.Tasks))
	for _, t := range rec.Tasks {
		old[t.Name] = t
	}
	kept := map[string]keptTask{}
	var changed []string
	for _, n := range runOrder(g) {
		t, ok := old[n.Name]
		if !ok || t.Status != sandbox.StatusSucceeded || rerun[n.Name] || t.Task != n.TaskID() || n.Kind != KindTask || n.Sub != nil || t.OutputsRedacted {
			// A branch's nodes are cheap and run again (the decision
			// with it); so do the tasks in its arms. A sub-workflow call
			// runs again too (its workflow may have changed), with its
			// tasks' cache. Outputs recorded with secrets redacted
			// are not the real ones.
			continue
		}
		if t.Digest != n.Digest {
			changed = append(changed, n.Name)
			continue
		}
		upstreamKept := true
		for _, d := range n.Deps {
			if _, ok := kept[d]; !ok {
				upstreamKept = false
			}
		}
		if !upstreamKept {
			continue
		}
		raw, err := rec.TaskOutputs(r.RunDir, n.Name)
		if err != nil {
			continue // unreadable outputs: run the task again
		}
		outs, err := decodeOutputs(n, raw)
		if err != nil {
			continue
		}
		kept[n.Name] = keptTask{outputs: outs, raw: raw}
	}
	if len(changed) > 0 {
		return nil, &ResumeError{RunID: rec.ID, Changed: changed}
	}
	return kept, nil
}

// downstream returns name and every task that depends on it, directly or
// not.
func downstream(g *Graph, name string) map[string]bool {
	out := map[string]bool{name: true}
	for _, n := range runOrder(g) {
		for _, d := range n.Deps {
			if out[d] {
				out[n.Name] = true
			}
		}
	}
	return out
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// KeptOutputs applies the resume rules of [RunOptions.Resume] to g
// without running it: the outputs (as recorded JSON) of each task of g
// whose outputs a resumed run keeps, by node name. A remote run resumes
// with them (remote.RunInput.Resume). The error is a [*ResumeError] as
// [Engine.Run] would return.
func KeptOutputs(g *Graph, r *Resume) (map[string][]byte, error) {
	kept, err := planResume(g, r)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(kept))
	for name, k := range kept {
		out[name] = k.raw
	}
	return out, nil
}
