package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

func TestRetriesRetryableErrors(t *testing.T) {
	e, f := newTestEngine(t)
	res := mustRun(t, e, `workflow "r" {
  task "r" {
    uses          = "fake.retryable"
    inputs        = { fails = 2 }
    retries       = 2
    retry_backoff = "1ms"
  }
  output "calls" { value = task.r.calls }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded || FormatValue(res.Outputs["calls"]) != "3" {
		t.Fatalf("status %s, outputs %v, err %v", res.Status, res.Outputs, res.Err)
	}
	tr := res.Tasks[0]
	if tr.Attempts != 3 || len(tr.AttemptErrors) != 2 || f.retries.Load() != 3 {
		t.Errorf("attempts %d, attempt errors %v, calls %d", tr.Attempts, tr.AttemptErrors, f.retries.Load())
	}
	// Each attempt had its own working directory.
	for _, dir := range []string{"r", "r.2", "r.3"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, "tasks", dir)); err != nil {
			t.Errorf("attempt directory %s: %v", dir, err)
		}
	}
	rec := loadRecord(t, e, res.ExecutionID)
	if got := rec.Tasks[0]; got.Attempts != 3 || len(got.AttemptErrors) != 2 {
		t.Errorf("recorded attempts %d, errors %v", got.Attempts, got.AttemptErrors)
	}
}

// TestAttemptTimesRecorded: a task retried twice records its three
// attempts' times, in order and apart by at least the backoff, and the
// record reads them as two failed attempts and a succeeded one.
func TestAttemptTimesRecorded(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "r" {
  task "r" {
    uses          = "fake.retryable"
    inputs        = { fails = 2 }
    retries       = 2
    retry_backoff = "20ms"
  }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s, err %v", res.Status, res.Err)
	}
	tr := res.Tasks[0]
	if len(tr.AttemptTimes) != 3 {
		t.Fatalf("attempt times %v, want 3", tr.AttemptTimes)
	}
	prevEnd := tr.Start
	for i, at := range tr.AttemptTimes {
		if at.Start.Before(prevEnd) || at.End.Before(at.Start) {
			t.Errorf("attempt %d: %v to %v, after the previous end %v", i+1, at.Start, at.End, prevEnd)
		}
		// The engine waits 20ms, then 40ms, between attempts.
		if i > 0 {
			if backoff := 20 * time.Millisecond << (i - 1); at.Start.Sub(prevEnd) < backoff {
				t.Errorf("attempt %d started %v after attempt %d ended, want at least the backoff %v", i+1, at.Start.Sub(prevEnd), i, backoff)
			}
		}
		prevEnd = at.End
	}
	if tr.End.Before(prevEnd) {
		t.Errorf("task ended %v, before its last attempt %v", tr.End, prevEnd)
	}
	rec := loadRecord(t, e, res.ExecutionID)
	got := rec.Tasks[0]
	if len(got.AttemptTimes) != 3 {
		t.Fatalf("recorded attempt times %v, want 3", got.AttemptTimes)
	}
	for i, at := range got.AttemptTimes {
		if !at.Start.Equal(tr.AttemptTimes[i].Start) || !at.End.Equal(tr.AttemptTimes[i].End) {
			t.Errorf("recorded attempt %d: %v, ran %v", i+1, at, tr.AttemptTimes[i])
		}
	}
	var statuses []string
	for _, sp := range got.AttemptSpans() {
		statuses = append(statuses, fmt.Sprintf("%d %s %t", sp.Attempt, sp.Status, sp.Error != ""))
	}
	want := []string{"1 failed true", "2 failed true", "3 succeeded false"}
	if !slices.Equal(statuses, want) {
		t.Errorf("spans %q, want %q", statuses, want)
	}
}

func TestRetriesRunOut(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "r" {
  task "r" {
    uses          = "fake.retryable"
    inputs        = { fails = 5 }
    retries       = 1
    retry_backoff = "1ms"
  }
}`, nil, RunOptions{})
	if res.Status != StatusFailed || res.Tasks[0].Attempts != 2 {
		t.Fatalf("status %s, attempts %d", res.Status, res.Tasks[0].Attempts)
	}
	rec := loadRecord(t, e, res.ExecutionID)
	if spans := rec.Tasks[0].AttemptSpans(); len(spans) != 2 || spans[1].Status != string(StatusFailed) || spans[1].Error == "" {
		t.Errorf("recorded attempts %+v, want 2, the last failed with the task's error", spans)
	}
}

func TestNoRetryForUserErrors(t *testing.T) {
	e, f := newTestEngine(t)
	res := mustRun(t, e, `workflow "r" {
  task "boom" {
    uses    = "fake.fail"
    inputs  = { message = "bad input" }
    retries = 3
  }
}`, nil, RunOptions{})
	if res.Status != StatusFailed || res.Tasks[0].Attempts != 1 || len(f.callsOf("fail")) != 1 {
		t.Errorf("a non-retryable error was retried: status %s, attempts %d, calls %d", res.Status, res.Tasks[0].Attempts, len(f.callsOf("fail")))
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name       string
		task       string
		wantKilled bool
	}{
		{name: "plugin returns on cancellation", task: "slowctx"},
		{name: "plugin ignores cancellation", task: "hang", wantKilled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTestEngine(t)
			res := mustRun(t, e, `workflow "t" {
  task "t" {
    uses    = "fake.`+tc.task+`"
    timeout = "50ms"
  }
}`, nil, RunOptions{Grace: 50 * time.Millisecond})
			var te *TimeoutError
			if res.Status != StatusFailed || !errors.As(res.Err, &te) {
				t.Fatalf("status %s, err %v: want a TimeoutError", res.Status, res.Err)
			}
			if te.Timeout != 50*time.Millisecond || te.Killed != tc.wantKilled {
				t.Errorf("timeout error = %+v, want killed %v", te, tc.wantKilled)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&plugin.TaskError{Message: "x"}, false},
		{&plugin.TaskError{Message: "x", Retryable: true}, true},
		{&plugin.ProcessError{Plugin: "p", Err: errors.New("eof")}, true},
		{&TimeoutError{Timeout: time.Second}, true},
		{errors.New("secret not found"), false},
	}
	for _, tc := range tests {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
