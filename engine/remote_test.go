package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

func TestRetryWait(t *testing.T) {
	cases := []struct {
		backoff time.Duration
		attempt int
		want    time.Duration
	}{
		{200 * time.Millisecond, 1, 200 * time.Millisecond},
		{200 * time.Millisecond, 2, 400 * time.Millisecond},
		{200 * time.Millisecond, 3, 800 * time.Millisecond},
		{10 * time.Second, 3, 30 * time.Second}, // capped
		{0, 5, 0},
		{time.Second, 0, time.Second}, // attempts count from 1
	}
	for _, c := range cases {
		if got := RetryWait(c.backoff, c.attempt); got != c.want {
			t.Errorf("RetryWait(%s, %d) = %s, want %s", c.backoff, c.attempt, got, c.want)
		}
	}
}

// TestRemoteErrorIsATaskError: the engine's machinery reads a
// RemoteError as the plugin's TaskError: retryability, diagnostics and
// the text of the TaskError around it.
func TestRemoteErrorIsATaskError(t *testing.T) {
	diags := []plugin.Diagnostic{{Summary: "bad", Attribute: "text"}}
	for _, retry := range []bool{false, true} {
		re := &RemoteError{Message: "upper: no", Kind: "task", Retryable: retry, Diagnostics: diags}
		if got := (CallResult{Err: re}).Retryable(); got != retry {
			t.Errorf("Retryable() = %v, want %v", got, retry)
		}
		te := &TaskError{Node: "shout", TaskID: "text.upper", Err: re}
		if got, want := te.Error(), `task "shout" (text.upper) failed: upper: no`; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
		var pte *plugin.TaskError
		if !errors.As(te, &pte) || pte.Retryable != retry || len(pte.Diagnostics) != 1 || pte.Message != "upper: no" {
			t.Errorf("errors.As: %+v", pte)
		}
	}
	var pe *plugin.ProcessError
	if errors.As(&RemoteError{Message: "x"}, &pe) {
		t.Error("a RemoteError is not a ProcessError")
	}
}
