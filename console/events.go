package console

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// An event is one Server-Sent Event of a stream.
type event struct {
	name string
	data []byte
}

// A hub reads one source (a run, or the sandbox's list of runs) on behalf
// of every stream that shows it, and keeps the events it made (the newest
// maxHubEvents at most), so that a stream resuming from Last-Event-ID gets
// exactly the events after it, or a "reset" event when they are gone.
// Ids are "<epoch>-<n>": the epoch tells a hub's ids from another's (a
// console restarted, a hub made again).
type hub struct {
	epoch string

	mu      sync.Mutex
	events  []event
	base    int           // the number of events dropped from the front of events
	changed chan struct{} // closed when events grow or the hub ends
	ended   bool          // no more events
	subs    int
	idle    time.Time // when subs last fell to 0
}

// maxHubEvents bounds the events a hub keeps for resuming streams.
const maxHubEvents = 20000

func newHub() *hub {
	var b [4]byte
	rand.Read(b[:])
	return &hub{epoch: hex.EncodeToString(b[:]), changed: make(chan struct{}), idle: time.Now()}
}

func (h *hub) add(evs []event, end bool) {
	if len(evs) == 0 && !end {
		return
	}
	h.mu.Lock()
	h.events = append(h.events, evs...)
	if len(h.events) > maxHubEvents {
		// A console may be left running for weeks: keep the newest half.
		// A stream that resumes from before them is told to reset.
		drop := len(h.events) - maxHubEvents/2
		h.events = append(h.events[:0:0], h.events[drop:]...)
		h.base += drop
	}
	if end {
		h.ended = true
	}
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// taskEvent is the data of a task event: a task's state without its
// outputs and metrics.
type taskEvent struct {
	Name            string    `json:"name"`
	Task            string    `json:"task"`
	Status          string    `json:"status"`
	Attempts        int       `json:"attempts,omitempty"`
	Start           time.Time `json:"start,omitzero"`
	End             time.Time `json:"end,omitzero"`
	Cache           string    `json:"cache,omitempty"`
	Error           string    `json:"error,omitempty"`
	Instances       int       `json:"instances,omitempty"`
	FailedInstances int       `json:"failed_instances,omitempty"`
	Note            string    `json:"note"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

// runHub returns the hub of a run, starting its reader if need be.
func (s *Server) runHub(name string) (*hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubs[name]; h != nil {
		return h, nil
	}
	f, err := s.opts.Sandbox.Follow(name, true)
	if err != nil {
		return nil, err
	}
	h := newHub()
	s.hubs[name] = h
	go s.follow(name, h, f)
	return h, nil
}

// follow reads a run until it ends, nobody has watched it for a minute,
// or the server closes.
func (s *Server) follow(name string, h *hub, f *sandbox.Follower) {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	drop := func() {
		s.mu.Lock()
		if s.hubs[name] == h {
			delete(s.hubs, name)
		}
		s.mu.Unlock()
	}
	for {
		u, err := f.Next()
		if err != nil {
			// A damaged or deleted run: end the streams, forget the hub.
			h.add([]event{{name: "end", data: mustJSON(map[string]string{"error": err.Error()})}}, true)
			drop()
			return
		}
		var evs []event
		for i := range u.Tasks {
			t := &u.Tasks[i]
			evs = append(evs, event{"task", mustJSON(taskEvent{Name: t.Name, Task: t.Task, Status: t.Status, Attempts: t.Attempts,
				Start: t.Start, End: t.End, Cache: t.Cache, Error: t.Error, Instances: t.Instances, FailedInstances: len(t.FailedInstances),
				Note: nodeNote(t, 0)})})
		}
		for i := range u.Logs {
			evs = append(evs, event{"log", mustJSON(&u.Logs[i])})
		}
		if u.Run != nil {
			evs = append(evs, event{"run", mustJSON(sandbox.Summarize(u.Run))})
		}
		if u.Ended {
			evs = append(evs, event{"end", mustJSON(map[string]string{"status": u.Run.Status})})
			h.add(evs, true)
			// Keep the ended hub a while for reconnects, then forget it.
			select {
			case <-time.After(10 * time.Minute):
			case <-s.ctx.Done():
			}
			drop()
			return
		}
		h.add(evs, false)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			drop()
			return
		}
		h.mu.Lock()
		gone := h.subs == 0 && time.Since(h.idle) > time.Minute
		h.mu.Unlock()
		if gone {
			drop()
			return
		}
	}
}

// stream writes a hub's events to w from after Last-Event-ID until the
// hub ends or the client goes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, h *hub) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	next := 0
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if epoch, n, ok := strings.Cut(last, "-"); ok && epoch == h.epoch {
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			next = i
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	h.mu.Lock()
	h.subs++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.subs--
		if h.subs == 0 {
			h.idle = time.Now()
		}
		h.mu.Unlock()
	}()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		h.mu.Lock()
		if next < h.base {
			// The events after Last-Event-ID are no longer kept: the page
			// reloads for the current state and streams on from there.
			next = h.base
			h.mu.Unlock()
			fmt.Fprintf(w, "id: %s-%d\nevent: reset\ndata: {}\n\n", h.epoch, next)
			fl.Flush()
			continue
		}
		evs := h.events[min(next-h.base, len(h.events)):]
		ended, changed := h.ended, h.changed
		h.mu.Unlock()
		for _, ev := range evs {
			next++
			fmt.Fprintf(w, "id: %s-%d\nevent: %s\ndata: %s\n\n", h.epoch, next, ev.name, ev.data)
		}
		if len(evs) > 0 {
			fl.Flush()
		}
		if ended {
			return
		}
		select {
		case <-changed:
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("run")
	if strings.Contains(name, ":") {
		rec, err := s.opts.Sandbox.LoadRecord(name)
		if err != nil {
			httpError(w, r, err)
			return
		}
		name = rec.Name
	}
	h, err := s.runHub(name)
	if err != nil {
		httpError(w, r, err)
		return
	}
	s.stream(w, r, h)
}

// runsEvents streams run events (summaries) of runs that start, change
// or go, for the runs page.
func (s *Server) runsEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.runs
	if h == nil {
		h = newHub()
		s.runs = h
		go s.watchRuns(h)
	}
	s.mu.Unlock()
	s.stream(w, r, h)
}

// watchRuns reads the sandbox's runs every poll (ten times slower than a
// run's): new run directories, and the runs that are going. Finished runs
// cost nothing after the first read.
func (s *Server) watchRuns(h *hub) {
	known := map[string]string{} // name -> status
	sent := map[string]string{}  // name -> the last run event's data
	first := true
	t := time.NewTicker(10 * s.opts.Poll)
	defer t.Stop()
	for {
		entries, _ := os.ReadDir(filepath.Join(s.opts.Sandbox.Root, "runs"))
		seen := map[string]bool{}
		var evs []event
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() || strings.HasPrefix(name, ".") {
				continue
			}
			seen[name] = true
			st, ok := known[name]
			if ok && st != sandbox.StatusRunning {
				continue
			}
			if first {
				// Only the status of runs already there: the page has them.
				if rec, err := s.opts.Sandbox.LoadRecord(name); err == nil {
					known[name] = rec.Status
				}
				continue
			}
			rec, err := s.opts.Sandbox.LoadRecord(name)
			if err != nil {
				continue // no record yet
			}
			data := mustJSON(sandbox.Summarize(rec))
			if !ok || string(data) != sent[name] {
				evs = append(evs, event{"run", data})
				sent[name] = string(data)
			}
			known[name] = rec.Status
		}
		for name := range known {
			if !seen[name] {
				delete(known, name)
				delete(sent, name)
				evs = append(evs, event{"run", mustJSON(sandbox.RunSummary{Name: name, Status: "deleted"})})
			}
		}
		first = false
		h.add(evs, false)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			h.add(nil, true)
			return
		}
	}
}
