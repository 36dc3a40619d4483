package console

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goflyte/goflyte/engine/sandbox"
)

// TestHubBounded: a hub keeps at most maxHubEvents events; a stream that
// resumes from an event it no longer keeps gets a reset (the page
// reloads), and one that resumes from a kept event continues exactly
// after it.
func TestHubBounded(t *testing.T) {
	s, err := New(Options{Sandbox: sandbox.Sandbox{Root: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := newHub()
	for i := 1; i <= maxHubEvents+10; i++ {
		h.add([]event{{"task", []byte(fmt.Sprintf(`{"n":%d}`, i))}}, false)
	}
	h.add(nil, true) // ended: stream returns when it has sent everything
	if len(h.events) > maxHubEvents {
		t.Fatalf("the hub keeps %d events, more than %d", len(h.events), maxHubEvents)
	}
	stream := func(last string) string {
		t.Helper()
		req := httptest.NewRequest("GET", "/api/runs/r/events", nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		w := httptest.NewRecorder()
		s.stream(w, req, h)
		return w.Body.String()
	}
	out := stream(h.epoch + "-1")
	if !strings.HasPrefix(strings.TrimPrefix(out, "retry: 1000\n\n"), fmt.Sprintf("id: %s-%d\nevent: reset\n", h.epoch, h.base)) {
		t.Errorf("resuming from a dropped event: want a reset first, got %.200q", out)
	}
	if strings.Count(out, "event: task") != len(h.events) {
		t.Errorf("after the reset: %d task events, want the %d kept", strings.Count(out, "event: task"), len(h.events))
	}
	last := maxHubEvents + 5
	out = stream(fmt.Sprintf("%s-%d", h.epoch, last))
	if strings.Contains(out, "reset") || strings.Count(out, "event: task") != 5 ||
		!strings.Contains(out, fmt.Sprintf("id: %s-%d\nevent: task\ndata: {\"n\":%d}", h.epoch, last+1, last+1)) {
		t.Errorf("resuming from a kept event: want exactly the 5 after it, got %.300q", out)
	}
}
