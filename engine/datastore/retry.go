package datastore

import (
	"context"
	"fmt"
	"time"
)

// retry runs op until it succeeds, fails for good, or has been tried
// 1+opts.Retries times. Only failures that [classify] calls transient are
// tried again, after opts.Backoff, doubling each time. The last error is
// returned, noting the number of attempts when there was more than one.
func retry(ctx context.Context, opts *Options, what string, op func() error) error {
	wait := opts.Backoff
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			return nil
		}
		_, transient := classify(err)
		if !transient || ctx.Err() != nil {
			return err
		}
		if attempt > opts.Retries {
			if attempt == 1 {
				return err
			}
			return &attemptsError{n: attempt, err: err}
		}
		opts.logger().Debug("datastore: transient failure, retrying", "op", what, "attempt", attempt, "wait", wait, "error", redact(err.Error(), opts.secrets()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// attemptsError notes how often an operation was tried.
type attemptsError struct {
	n   int
	err error
}

func (e *attemptsError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.n, e.err)
}
func (e *attemptsError) Unwrap() error { return e.err }
