package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/plugin"
)

// goroutineID returns the id of the calling goroutine, from its stack.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	return string(id)
}

// textPluginEngine is an engine whose plugin directory holds the example
// text plugin, as goflyte-plugin-text.
func textPluginEngine(t *testing.T) *Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(textPluginPath(t), filepath.Join(dir, plugin.BinaryPrefix+"text")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.SDK.LocalSandbox = t.TempDir()
	cfg.SDK.PluginDirs = []string{dir}
	e := New(cfg, nil)
	t.Cleanup(e.Close)
	return e
}

// TestOnlyCallRunsOnTheScheduler checks where a plugin process's calls
// run: the only call in flight (a chain's step) on the scheduler's own
// goroutine, without a goroutine to hand it to and the result back from
// (two wake-ups per step); calls in flight together on goroutines of
// their own. Its timeouts and cancellation behave as before: a call past
// its timeout is a TimeoutError (its plugin returns on cancellation, so
// it is not killed), a cancelled run is cancelled.
func TestOnlyCallRunsOnTheScheduler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	e := textPluginEngine(t)
	var mu sync.Mutex
	var scheduler string
	callers := map[string]string{} // node -> goroutine of its call
	callStarted = func(n *Node) {
		mu.Lock()
		callers[n.Name] = goroutineID()
		mu.Unlock()
	}
	t.Cleanup(func() { callStarted = nil })
	observe := func(ev Event) {
		if ev.Kind == EventStarted {
			mu.Lock()
			scheduler = goroutineID() // the observer is called by the scheduler
			mu.Unlock()
		}
	}
	tests := []struct {
		name        string
		src         string
		parallelism int
		onScheduler map[string]bool
		want        string
	}{
		{
			name: "chain",
			src: `workflow "w" {
  input "text" { type = string }
  task "a" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "b" {
    uses   = "text.join"
    inputs = { words = [task.a.text, "there"], sep = " " }
  }
  task "c" {
    uses   = "text.upper"
    inputs = { text = task.b.text }
  }
  output "text" { value = task.c.text }
}`,
			parallelism: 2,
			onScheduler: map[string]bool{"a": true, "b": true, "c": true},
			want:        "HI THERE",
		},
		{
			name: "two at a time",
			src: `workflow "w" {
  input "text" { type = string }
  task "a" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "b" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "c" {
    uses   = "text.join"
    inputs = { words = [task.a.text, task.b.text], sep = "+" }
  }
  output "text" { value = task.c.text }
}`,
			parallelism: 2,
			onScheduler: map[string]bool{"a": false, "b": false, "c": true},
			want:        "HI+HI",
		},
		{
			name: "parallelism 1",
			src: `workflow "w" {
  input "text" { type = string }
  task "a" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  task "b" {
    uses   = "text.upper"
    inputs = { text = input.text }
  }
  output "text" { value = task.b.text }
}`,
			parallelism: 1,
			onScheduler: map[string]bool{"a": true, "b": true},
			want:        "HI",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			clear(callers)
			mu.Unlock()
			res := mustRun(t, e, tt.src, map[string]string{"text": "hi"}, RunOptions{Parallelism: tt.parallelism, Observer: observe})
			if res.Status != StatusSucceeded {
				t.Fatalf("status %s: %v", res.Status, res.Err)
			}
			if got := res.Outputs["text"].AsString(); got != tt.want {
				t.Errorf("output %q, want %q", got, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			for node, want := range tt.onScheduler {
				g, ok := callers[node]
				if !ok {
					t.Errorf("task %s: no call", node)
					continue
				}
				if got := g == scheduler; got != want {
					t.Errorf("task %s: call on the scheduler's goroutine: %v, want %v", node, got, want)
				}
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		res := mustRun(t, e, `workflow "w" {
  task "s" {
    uses    = "text.sleep"
    inputs  = { ms = 60000 }
    timeout = "200ms"
  }
}`, nil, RunOptions{Grace: 5 * time.Second, Observer: observe})
		var te *TimeoutError
		if res.Status != StatusFailed || !errors.As(res.Err, &te) {
			t.Fatalf("status %s, err %v: want a TimeoutError", res.Status, res.Err)
		}
		if te.Killed {
			t.Errorf("the plugin was killed, but it returns on cancellation: %v", te)
		}
		mu.Lock()
		defer mu.Unlock()
		if callers["s"] != scheduler {
			t.Errorf("the call was not made on the scheduler's goroutine")
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		g, err := compileSource(t, e, `workflow "w" {
  task "s" {
    uses   = "text.sleep"
    inputs = { ms = 60000 }
  }
}`)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		callStarted = func(n *Node) {
			// The run is cancelled while the call is in its plugin.
			time.AfterFunc(100*time.Millisecond, cancel)
		}
		res, err := e.Run(ctx, g, RunOptions{Grace: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusCancelled || res.Tasks[0].Status != StatusCancelled {
			t.Errorf("run %s, task %s: want both cancelled (%v)", res.Status, res.Tasks[0].Status, res.Err)
		}
	})
}
