package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// wantsJSON says whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// done answers an action: JSON, or a redirect for a form.
func done(w http.ResponseWriter, r *http.Request, v map[string]string, to string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// runName resolves the {run} of an action to a run's name.
func (s *Server) runName(r *http.Request) (string, error) {
	rec, err := s.opts.Sandbox.LoadRecord(r.PathValue("run"))
	if err != nil {
		return "", err
	}
	return rec.Name, nil
}

// actDelete deletes a run, as `goflyte runs delete` does.
func (s *Server) actDelete(w http.ResponseWriter, r *http.Request) {
	name, err := s.runName(r)
	if err == nil {
		err = s.opts.Sandbox.DeleteRun(name, s.opts.DataPrefix)
	}
	if err != nil {
		httpError(w, r, err)
		return
	}
	done(w, r, map[string]string{"deleted": name}, "/")
}

// actCancel stops a running run, as `goflyte runs cancel` (and Ctrl-C)
// does.
func (s *Server) actCancel(w http.ResponseWriter, r *http.Request) {
	name, err := s.runName(r)
	if err == nil {
		_, err = s.opts.Sandbox.CancelRun(name)
	}
	if err != nil {
		httpError(w, r, err)
		return
	}
	done(w, r, map[string]string{"cancelled": name}, "/runs/"+pathEscape(name))
}

// actResume runs `goflyte run --resume RUN`.
func (s *Server) actResume(w http.ResponseWriter, r *http.Request) {
	name, err := s.runName(r)
	if err != nil {
		httpError(w, r, err)
		return
	}
	if s.opts.Starter == nil {
		httpError(w, r, fmt.Errorf("this console cannot start runs: %w", errBadRequest))
		return
	}
	run, err := s.opts.Starter.Start(r.Context(), "--resume", name)
	if err != nil {
		httpError(w, r, err)
		return
	}
	done(w, r, map[string]string{"run": run}, "/runs/"+pathEscape(run))
}

// actStart runs a workflow of sdk.workflow_packages with the inputs of
// the form (input.NAME fields, as --input NAME=VALUE; empty fields are
// left out so that defaults apply) or of a JSON object body.
func (s *Server) actStart(w http.ResponseWriter, r *http.Request) {
	wf, err := s.findWorkflow(r.PathValue("name"))
	if err != nil {
		httpError(w, r, err)
		return
	}
	if s.opts.Starter == nil {
		httpError(w, r, fmt.Errorf("this console cannot start runs: %w", errBadRequest))
		return
	}
	args := []string{wf.File, wf.Name}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var in map[string]json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			httpError(w, r, fmt.Errorf("inputs: %v: %w", err, errBadRequest))
			return
		}
		for k, v := range in {
			var str string
			if json.Unmarshal(v, &str) == nil {
				args = append(args, "--input", k+"="+str)
			} else {
				args = append(args, "--input", k+"="+string(v))
			}
		}
	} else {
		if err := r.ParseForm(); err != nil {
			httpError(w, r, fmt.Errorf("%v: %w", err, errBadRequest))
			return
		}
		for _, in := range wf.Inputs {
			if v := r.PostForm.Get("input." + in.Name); v != "" {
				args = append(args, "--input", in.Name+"="+v)
			}
		}
	}
	run, err := s.opts.Starter.Start(r.Context(), args...)
	if err != nil {
		httpError(w, r, err)
		return
	}
	done(w, r, map[string]string{"run": run}, "/runs/"+pathEscape(run))
}

// Spawner starts runs by running the goflyte binary itself (`goflyte run
// ...`), detached in a process group of its own: the run is an ordinary
// run, which survives the console and a Ctrl-C in its terminal.
type Spawner struct {
	// Exe is the goflyte binary (os.Executable).
	Exe string
	// Args go after `run`'s own (global flags such as --config).
	Args []string
	// Dir is the working directory of the run.
	Dir     string
	Sandbox sandbox.Sandbox
	// Wait is how long Start waits for the run's record (default 30s).
	Wait time.Duration
}

// Start runs `goflyte run args... s.Args...` and returns the run's name
// once its record exists. If the process exits first, its output is the
// error.
func (sp Spawner) Start(ctx context.Context, args ...string) (string, error) {
	out, err := os.CreateTemp("", "goflyte-console-run-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(sp.Exe, append(append([]string{"run", "-q"}, args...), sp.Args...)...)
	cmd.Dir = sp.Dir
	cmd.Stdout, cmd.Stderr = out, out
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start goflyte run: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	wait := sp.Wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.After(wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	runs := filepath.Join(sp.Sandbox.Root, "runs")
	before := map[string]bool{}
	if entries, err := os.ReadDir(runs); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	find := func() string {
		entries, _ := os.ReadDir(runs)
		for _, e := range entries {
			if before[e.Name()] || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if rec, err := sp.Sandbox.LoadRecord(e.Name()); err == nil && rec.PID == pid {
				return rec.Name
			}
		}
		return ""
	}
	for {
		if name := find(); name != "" {
			return name, nil
		}
		select {
		case err := <-exited:
			if name := find(); name != "" {
				return name, nil // a quick run, already over
			}
			data, _ := os.ReadFile(out.Name())
			msg := strings.TrimSpace(string(data))
			if msg == "" && err != nil {
				msg = err.Error()
			}
			return "", fmt.Errorf("goflyte run %s: %s: %w", strings.Join(args, " "), msg, errBadRequest)
		case <-deadline:
			return "", errors.New("goflyte run started but wrote no record in time; see goflyte runs list")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
	}
}
