package engine

import (
	"encoding/json"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/plugin"
)

// This file exports what a second driver of a Plan (the Temporal
// workflow in package remote) needs of the local driver's machinery, so
// that both give the same errors, backoff and records.

// RetryWait is how long a driver waits after a task's attempt (counted
// from 1) failed with a retryable error before the next attempt: the
// task's retry_backoff doubled for each retry, at most 30 s.
func RetryWait(backoff time.Duration, attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	return min(backoff<<(attempt-1), maxBackoff)
}

// DecodeOutputs checks a task's outputs, as JSON from its plugin, against
// the types node n declares, with the local driver's error messages.
func DecodeOutputs(n *Node, data json.RawMessage) (map[string]cty.Value, error) {
	return decodeOutputs(n, data)
}

// InputsDigest combines the digests of a call's inputs (Call.Digests)
// into the one a task record keeps (TaskRecord.InputsDigest).
func InputsDigest(digests map[string]string) string {
	if len(digests) == 0 {
		return ""
	}
	return inputsDigest(digests)
}

// RemoteError is a task attempt's failure as data: what a worker
// reported (a serializable error) for a driver to feed to a Plan as
// CallResult.Err. Its text is the worker's message, the text the local
// engine's error would have, so that a TaskError around it reads
// "task %q (%s) failed: <message>" remotely as locally.
//
// For the engine's machinery it is a *plugin.TaskError (errors.As
// finds one): Retryable and Diagnostics reach retry decisions and the
// diagnostics pointed at the task's inputs.
type RemoteError struct {
	Message string
	// Kind is the failure's kind as the worker reported it ("task",
	// "process", "timeout", "secret", "outputs", "digest", ...).
	Kind        string
	Retryable   bool
	Diagnostics []plugin.Diagnostic
	// Stderr is the tail of the plugin's stderr when it crashed.
	Stderr string
}

func (e *RemoteError) Error() string { return e.Message }

// As makes errors.As find a *plugin.TaskError with the failure's
// message, retryability and diagnostics.
func (e *RemoteError) As(target any) bool {
	te, ok := target.(**plugin.TaskError)
	if !ok {
		return false
	}
	*te = &plugin.TaskError{Message: e.Message, Retryable: e.Retryable, Diagnostics: e.Diagnostics}
	return true
}
