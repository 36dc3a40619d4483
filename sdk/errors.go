package sdk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goflyte/goflyte/plugin"
)

// AttrError returns an error about the task input named attr. Returned
// from a task function (or from the input type's Validate method), it
// fails the task with a [plugin.Diagnostic] on that input, which the engine
// shows at the input's place in the workflow file.
//
// Write summary as a short phrase without a full stop ("Division by
// zero") and detail as whole sentences that say what to do ("The divisor
// b must not be zero."). Several AttrErrors joined with [errors.Join]
// become several diagnostics.
func AttrError(attr, summary, detail string) error {
	return &attrError{diag: plugin.Diagnostic{
		Severity:  plugin.SeverityError,
		Summary:   summary,
		Detail:    detail,
		Attribute: attr,
	}}
}

type attrError struct {
	diag plugin.Diagnostic
}

func (e *attrError) Error() string {
	msg := fmt.Sprintf("input %q: %s", e.diag.Attribute, e.diag.Summary)
	if e.diag.Detail != "" {
		msg += ": " + e.diag.Detail
	}
	return msg
}

// Retryable marks err as transient: the task failed, but running it again
// may succeed (a timeout, a rate limit). The engine retries such failures
// if the task's retry policy allows. errors.Is and errors.As still see err
// through the returned error. Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err: err}
}

type retryableError struct {
	err error
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// taskError turns an error returned by a task into the *plugin.TaskError
// that crosses the wire:
//   - a *plugin.TaskError (possibly wrapped) is kept as it is;
//   - every AttrError in err's tree becomes a Diagnostic; if err consists
//     of nothing but AttrErrors, Message stays empty (the diagnostics say
//     it all), else Message is err.Error();
//   - any other error becomes a TaskError with Message err.Error();
//   - Retryable anywhere in the tree sets Retryable.
func taskError(err error) *plugin.TaskError {
	var retry *retryableError
	retryable := errors.As(err, &retry)
	var te *plugin.TaskError
	if errors.As(err, &te) {
		out := *te
		out.Retryable = out.Retryable || retryable
		return &out
	}
	out := &plugin.TaskError{Retryable: retryable}
	walkErrors(err, func(e error) {
		if ae, ok := e.(*attrError); ok {
			out.Diagnostics = append(out.Diagnostics, ae.diag)
		}
	})
	if len(out.Diagnostics) == 0 || !onlyAttrErrors(err) {
		out.Message = err.Error()
	}
	return out
}

// walkErrors calls fn for err and every error in its tree, depth first.
func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	}
}

// onlyAttrErrors reports whether err is made of AttrErrors alone, joined
// with errors.Join or marked Retryable, without added context.
func onlyAttrErrors(err error) bool {
	switch e := err.(type) {
	case *attrError:
		return true
	case *retryableError:
		return onlyAttrErrors(e.err)
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		texts := make([]string, len(errs))
		for i, c := range errs {
			if !onlyAttrErrors(c) {
				return false
			}
			texts[i] = c.Error()
		}
		// errors.Join's text is its parts' texts on lines; anything else
		// (fmt.Errorf with several %w) added context worth keeping.
		return err.Error() == strings.Join(texts, "\n")
	}
	return false
}
