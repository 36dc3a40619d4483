package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/cache"
	"github.com/goflyte/goflyte/engine/sandbox"
)

var funcs = template.FuncMap{
	"since": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.DateTime)
	},
	"dur": func(a, b time.Time) string {
		if a.IsZero() || b.IsZero() {
			return "-"
		}
		return roundDuration(b.Sub(a))
	},
	"ms":       func(ms int64) string { return roundDuration(time.Duration(ms) * time.Millisecond) },
	"statuses": func() []string { return statusOrder },
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"rawjson": func(m json.RawMessage) string {
		var buf bytes.Buffer
		if json.Indent(&buf, m, "", "  ") != nil {
			return string(m)
		}
		return buf.String()
	},
	"taskURL": func(run, task string) string { return "/runs/" + pathEscape(run) + "/tasks/" + pathEscape(task) },
}

// statusOrder is the order counts are shown in.
var statusOrder = []string{sandbox.StatusRunning, sandbox.StatusSucceeded, sandbox.StatusFailed, sandbox.StatusCancelled,
	sandbox.StatusInterrupted, sandbox.StatusSkipped, sandbox.StatusPending}

func pathEscape(s string) string { return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%20") }

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		httpError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// runsFilter is the runs page's filter.
type runsFilter struct{ Workflow, Status string }

func (f runsFilter) match(r *sandbox.RunSummary) bool {
	return (f.Workflow == "" || r.Workflow == f.Workflow) && (f.Status == "" || r.Status == f.Status)
}

func (s *Server) summaries(r *http.Request) ([]sandbox.RunSummary, []string, runsFilter, error) {
	f := runsFilter{Workflow: r.URL.Query().Get("workflow"), Status: r.URL.Query().Get("status")}
	sums, _, err := s.lister.List()
	if err != nil {
		return nil, nil, f, err
	}
	seen := map[string]bool{}
	var workflows []string
	out := sums[:0:0]
	for i := range sums {
		if !seen[sums[i].Workflow] {
			seen[sums[i].Workflow] = true
			workflows = append(workflows, sums[i].Workflow)
		}
		if f.match(&sums[i]) {
			out = append(out, sums[i])
		}
	}
	slices.Sort(workflows)
	return out, workflows, f, nil
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	sums, workflows, f, err := s.summaries(r)
	if err != nil {
		httpError(w, r, err)
		return
	}
	s.render(w, r, "runs.html", map[string]any{"Runs": sums, "Workflows": workflows, "Filter": f, "Statuses": statusOrder[:5], "Title": "Runs"})
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	sums, _, _, err := s.summaries(r)
	if err != nil {
		httpError(w, r, err)
		return
	}
	if sums == nil {
		sums = []sandbox.RunSummary{}
	}
	writeJSON(w, http.StatusOK, sums)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	rec, err := s.opts.Sandbox.LoadRecord(r.PathValue("run"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	rec, err := s.opts.Sandbox.LoadRecord(r.PathValue("run"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	expand := r.URL.Query()["expand"]
	g := layout(rec.Tasks, expand)
	var failed *sandbox.TaskRecord
	for i := range rec.Tasks {
		if rec.Tasks[i].Status == sandbox.StatusFailed && failed == nil {
			failed = &rec.Tasks[i]
		}
	}
	canResume := rec.Status == sandbox.StatusFailed || rec.Status == sandbox.StatusInterrupted || rec.Status == sandbox.StatusCancelled
	s.render(w, r, "run.html", map[string]any{
		"Title": rec.Name, "Run": rec, "Sum": sandbox.Summarize(rec), "Graph": template.HTML(g.svg(rec.Name)), "Timeline": template.HTML(timeline(rec)),
		"Failed": failed, "CanResume": canResume, "Running": rec.Status == sandbox.StatusRunning,
		"CanStart": s.opts.Starter != nil, "Groups": g.groups,
	})
}

// ofTask says whether a log's node belongs to task: the task itself, its
// for_each instances (task@i) and what it ran (task+...).
func ofTask(node, task string) bool {
	return node == task || strings.HasPrefix(node, task+"@") || strings.HasPrefix(node, task+"+")
}

func (s *Server) taskPage(w http.ResponseWriter, r *http.Request) {
	rec, err := s.opts.Sandbox.LoadRecord(r.PathValue("run"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	name := r.PathValue("task")
	var task *sandbox.TaskRecord
	for i := range rec.Tasks {
		if rec.Tasks[i].Name == name {
			task = &rec.Tasks[i]
		}
	}
	if task == nil {
		httpError(w, r, fmt.Errorf("run %s has no task %q: %w", rec.Name, name, fs.ErrNotExist))
		return
	}
	dir := s.opts.Sandbox.RunDir(rec.Name)
	all, err := sandbox.ListTaskLogs(dir)
	if err != nil {
		httpError(w, r, err)
		return
	}
	var logs []sandbox.TaskLog
	for _, tl := range all {
		if ofTask(tl.Node, name) {
			logs = append(logs, tl)
		}
	}
	lines, err := sandbox.ReadTaskLogs(dir, logs)
	if err != nil {
		httpError(w, r, err)
		return
	}
	outputs, err := rec.TaskOutputs(dir, name)
	if err != nil {
		httpError(w, r, err)
		return
	}
	attempts := max(task.Attempts, 1)
	checkpoints, err := sandbox.Checkpoints(dir, name, attempts)
	if err != nil {
		httpError(w, r, err)
		return
	}
	s.render(w, r, "task.html", map[string]any{
		"Title": name + " · " + rec.Name, "Run": rec, "Task": task, "Logs": lines, "Outputs": string(outputs),
		"Files": s.files(rec.Name, outputs), "Running": rec.Status == sandbox.StatusRunning,
		"Checkpoints": checkpoints,
	})
}

// fileLink is a file in a task's outputs that can be downloaded.
type fileLink struct{ Name, URL string }

// files finds the local files (file:// URIs) in outputs that are in the
// run's directory or its data store.
func (s *Server) files(run string, outputs json.RawMessage) []fileLink {
	var v any
	if json.Unmarshal(outputs, &v) != nil {
		return nil
	}
	var out []fileLink
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if p, ok := strings.CutPrefix(v, "file://"); ok && s.servable(run, p) {
				out = append(out, fileLink{Name: filepath.Base(p), URL: "/runs/" + pathEscape(run) + "/files?path=" + template.URLQueryEscaper(p)})
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// servable says whether path is a regular file in the run's directory or
// its data store under the local data prefix.
func (s *Server) servable(run, path string) bool {
	path = filepath.Clean(path)
	roots := []string{s.opts.Sandbox.RunDir(run)}
	if s.opts.DataPrefix != "" {
		roots = append(roots, filepath.Join(s.opts.DataPrefix, run))
	}
	for _, root := range roots {
		abs, err := filepath.Abs(root)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(abs, path)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// file serves a file of a run's data store, as a download.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	run, path := r.PathValue("run"), r.URL.Query().Get("path")
	if _, err := s.opts.Sandbox.LoadRecord(run); err != nil {
		httpError(w, r, err)
		return
	}
	if !s.servable(run, path) {
		httpError(w, r, fmt.Errorf("%q is not a file of run %s: %w", path, run, fs.ErrNotExist))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(path)))
	http.ServeFile(w, r, filepath.Clean(path))
}

// deckCSP lets a deck's own inline scripts and styles run, in an opaque
// origin (sandbox) that cannot read the console's cookie or pages.
const deckCSP = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-src data:; frame-ancestors 'self'"

// deck serves a deck page of a run: the run's index or a task's, only
// paths the record names.
func (s *Server) deck(w http.ResponseWriter, r *http.Request) {
	rec, err := s.opts.Sandbox.LoadRecord(r.PathValue("run"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	rel := r.PathValue("path")
	ok := rel != "" && rel == rec.Deck
	for _, t := range rec.Tasks {
		ok = ok || rel != "" && rel == t.Deck
	}
	if !ok || !filepath.IsLocal(filepath.FromSlash(rel)) {
		httpError(w, r, fmt.Errorf("run %s has no deck %q: %w", rec.Name, rel, fs.ErrNotExist))
		return
	}
	data, err := os.ReadFile(filepath.Join(s.opts.Sandbox.RunDir(rec.Name), filepath.FromSlash(rel)))
	if err != nil {
		httpError(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", deckCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(data)
}

func (s *Server) cacheInfos() ([]cache.Info, error) {
	if s.opts.Cache == nil {
		return []cache.Info{}, nil
	}
	infos, err := s.opts.Cache.List("")
	if infos == nil {
		infos = []cache.Info{}
	}
	return infos, err
}

func (s *Server) apiCache(w http.ResponseWriter, r *http.Request) {
	infos, err := s.cacheInfos()
	if err != nil {
		httpError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, infos)
}

// cacheRow is one entry on the cache page: its Info, and whether the run
// that wrote it is still in the sandbox, in which case the page links to
// the run (a pruned or deleted run, or one the entry does not record, is
// shown as plain text).
type cacheRow struct {
	cache.Info
	RunExists bool
}

func (s *Server) cachePage(w http.ResponseWriter, r *http.Request) {
	infos, err := s.cacheInfos()
	if err != nil {
		httpError(w, r, err)
		return
	}
	rows := make([]cacheRow, len(infos))
	exists := map[string]bool{} // many entries share a run: one stat each
	for i, in := range infos {
		rows[i].Info = in
		if in.Run == "" {
			continue
		}
		ok, seen := exists[in.Run]
		if !seen {
			ok = s.opts.Sandbox.HasRun(in.Run)
			exists[in.Run] = ok
		}
		rows[i].RunExists = ok
	}
	s.render(w, r, "cache.html", map[string]any{"Title": "Cache", "Entries": rows})
}

func (s *Server) workflows() ([]Workflow, error) {
	if s.opts.Workflows == nil {
		return nil, nil
	}
	return s.opts.Workflows()
}

func (s *Server) apiWorkflows(w http.ResponseWriter, r *http.Request) {
	wfs, err := s.workflows()
	if err != nil {
		httpError(w, r, err)
		return
	}
	if wfs == nil {
		wfs = []Workflow{}
	}
	writeJSON(w, http.StatusOK, wfs)
}

func (s *Server) workflowsPage(w http.ResponseWriter, r *http.Request) {
	wfs, err := s.workflows()
	if err != nil {
		httpError(w, r, err)
		return
	}
	s.render(w, r, "workflows.html", map[string]any{"Title": "Workflows", "Workflows": wfs, "CanStart": s.opts.Starter != nil})
}

func (s *Server) findWorkflow(name string) (*Workflow, error) {
	wfs, err := s.workflows()
	if err != nil {
		return nil, err
	}
	for i := range wfs {
		if wfs[i].Name == name {
			return &wfs[i], nil
		}
	}
	return nil, fmt.Errorf("no workflow %q in sdk.workflow_packages: %w", name, fs.ErrNotExist)
}

func (s *Server) workflowPage(w http.ResponseWriter, r *http.Request) {
	wf, err := s.findWorkflow(r.PathValue("name"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	s.render(w, r, "workflow.html", map[string]any{"Title": wf.Name, "Workflow": wf, "CanStart": s.opts.Starter != nil})
}
