package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/engine"
)

// progress shows task events on stderr. On a terminal it keeps one live
// status line (tasks done, running, elapsed) under a line per finished
// task; elsewhere it prints one plain line per event, for logs and CI.
type progress struct {
	w     io.Writer
	live  bool
	quiet bool

	mu      sync.Mutex
	start   time.Time
	running map[string]*engine.TaskRun
	done    int
	total   int
	ticker  *time.Ticker
	stopped chan struct{}
}

func newProgress(w io.Writer, tty, quiet bool) *progress {
	p := &progress{w: w, live: tty && !quiet, quiet: quiet, start: time.Now(), running: map[string]*engine.TaskRun{}, stopped: make(chan struct{})}
	if p.live {
		p.ticker = time.NewTicker(100 * time.Millisecond)
		go func() {
			for {
				select {
				case <-p.ticker.C:
					p.mu.Lock()
					p.drawStatus()
					p.mu.Unlock()
				case <-p.stopped:
					return
				}
			}
		}()
	}
	return p
}

func (p *progress) observe(ev engine.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = ev.Done, ev.Total
	t := ev.Task
	switch ev.Kind {
	case engine.EventStarted:
		p.running[t.Node] = t
		if !p.live {
			fmt.Fprintf(p.w, "%s started   %s (%s)\n", p.stamp(), t.Node, t.TaskID)
		}
		return
	case engine.EventSucceeded, engine.EventFailed:
		delete(p.running, t.Node)
	}
	mark, word := "✓", "succeeded"
	switch {
	case ev.Kind == engine.EventFailed:
		mark, word = "✗", string(t.Status)
	case t.Cache == engine.CacheHit:
		mark, word = "≡", "cached"
	case t.Cache != "":
		word = "ran" // a cached task that missed (or was overwritten)
	case t.Resumed:
		mark, word = "↺", "kept"
	}
	why := ""
	if t.CacheReason != "" {
		why = " (cache miss: " + t.CacheReason + ")"
	}
	if p.live {
		p.clearStatus()
		fmt.Fprintf(p.w, " %s %-20s %-20s %8s%s\n", mark, t.Node, t.TaskID, roundDuration(t.Duration()), why)
		p.drawStatus()
		return
	}
	fmt.Fprintf(p.w, "%s %-9s %s (%s) in %s%s\n", p.stamp(), word, t.Node, t.TaskID, roundDuration(t.Duration()), why)
}

func (p *progress) stamp() string {
	return fmt.Sprintf("[%6s]", roundDuration(time.Since(p.start)))
}

func (p *progress) clearStatus() { fmt.Fprint(p.w, "\r\033[K") }

func (p *progress) drawStatus() {
	if len(p.running) == 0 {
		p.clearStatus()
		return
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 4 {
		names = append(names[:4], fmt.Sprintf("+%d", len(p.running)-4))
	}
	spin := `|/-\`[int(time.Since(p.start)/(100*time.Millisecond))%4]
	fmt.Fprintf(p.w, "\r\033[K %c %d/%d done · running %s · %s", spin, p.done, p.total, strings.Join(names, ", "), roundDuration(time.Since(p.start)))
}

func (p *progress) stop() {
	if p.live {
		p.ticker.Stop()
		close(p.stopped)
		p.mu.Lock()
		p.clearStatus()
		p.mu.Unlock()
	}
}
