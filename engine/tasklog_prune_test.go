package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// TestLogRouterPrunesOncePerInterval: start forgets the claims of runs
// that ended more than lateLines ago, but goes over the claims at most
// once every pruneEvery, not on every start (a worker starts a run for
// every task attempt).
func TestLogRouterPrunesOncePerInterval(t *testing.T) {
	e := New(config.Defaults(), nil)
	defer e.Close()
	sb := sandbox.Sandbox{Root: t.TempDir()}
	newRun := func(name string) *sandbox.Run {
		run, err := sb.NewRun(name)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	r := newLogRouter()
	old := r.start(e, newRun("r1"), "info")
	r.claim(old, "t", "t", 1)
	r.end(old)
	r.mu.Lock()
	old.ended = time.Now().Add(-lateLines - time.Second) // ended long ago
	r.mu.Unlock()
	claimed := func() bool {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return len(r.claims[logClaim{"t", 1}]) > 0
	}

	for i, tc := range []struct {
		name    string
		pruned  time.Time
		claimed bool
	}{
		{"pruned just now: kept", time.Now(), true},
		{"pruned a while ago: forgotten", time.Now().Add(-pruneEvery), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.mu.Lock()
			r.pruned = tc.pruned
			r.mu.Unlock()
			r.end(r.start(e, newRun(fmt.Sprintf("r%d", i+2)), "info"))
			if got := claimed(); got != tc.claimed {
				t.Errorf("the old run's claim kept = %v, want %v", got, tc.claimed)
			}
		})
	}
}
