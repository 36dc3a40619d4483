package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

// failing returns a task that fails with err.
func failing(err error) sdk.Task {
	return sdk.Func(func(context.Context, struct{}) (struct{}, error) { return struct{}{}, err })
}

func TestTaskErrors(t *testing.T) {
	divByZero := sdk.AttrError("b", "Division by zero", "The divisor b must not be zero.")
	tests := []struct {
		name string
		err  error
		want plugin.TaskError
	}{
		{
			name: "plain error",
			err:  errors.New("disk full"),
			want: plugin.TaskError{Message: "disk full"},
		},
		{
			name: "attribute error",
			err:  divByZero,
			want: plugin.TaskError{Diagnostics: []plugin.Diagnostic{
				{Severity: plugin.SeverityError, Summary: "Division by zero", Detail: "The divisor b must not be zero.", Attribute: "b"},
			}},
		},
		{
			name: "joined attribute errors",
			err:  errors.Join(divByZero, sdk.AttrError("a", "Too big", "a must be less than 10.")),
			want: plugin.TaskError{Diagnostics: []plugin.Diagnostic{
				{Severity: plugin.SeverityError, Summary: "Division by zero", Detail: "The divisor b must not be zero.", Attribute: "b"},
				{Severity: plugin.SeverityError, Summary: "Too big", Detail: "a must be less than 10.", Attribute: "a"},
			}},
		},
		{
			name: "wrapped attribute error keeps its context",
			err:  fmt.Errorf("dividing: %w", divByZero),
			want: plugin.TaskError{
				Message: `dividing: input "b": Division by zero: The divisor b must not be zero.`,
				Diagnostics: []plugin.Diagnostic{
					{Severity: plugin.SeverityError, Summary: "Division by zero", Detail: "The divisor b must not be zero.", Attribute: "b"},
				},
			},
		},
		{
			name: "retryable",
			err:  sdk.Retryable(errors.New("rate limited")),
			want: plugin.TaskError{Message: "rate limited", Retryable: true},
		},
		{
			name: "wrapped retryable",
			err:  fmt.Errorf("fetch: %w", sdk.Retryable(errors.New("timeout"))),
			want: plugin.TaskError{Message: "fetch: timeout", Retryable: true},
		},
		{
			name: "retryable attribute error",
			err:  sdk.Retryable(divByZero),
			want: plugin.TaskError{Retryable: true, Diagnostics: []plugin.Diagnostic{
				{Severity: plugin.SeverityError, Summary: "Division by zero", Detail: "The divisor b must not be zero.", Attribute: "b"},
			}},
		},
		{
			name: "task error passes through",
			err:  &plugin.TaskError{Message: "custom", Diagnostics: []plugin.Diagnostic{{Summary: "S", Attribute: "x"}}},
			want: plugin.TaskError{Message: "custom", Diagnostics: []plugin.Diagnostic{{Summary: "S", Attribute: "x"}}},
		},
		{
			name: "retryable task error",
			err:  sdk.Retryable(&plugin.TaskError{Message: "custom"}),
			want: plugin.TaskError{Message: "custom", Retryable: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdktest.Run(t, failing(tc.err), nil)
			var te *plugin.TaskError
			if !errors.As(err, &te) {
				t.Fatalf("got %v (%T), want a *plugin.TaskError", err, err)
			}
			if diff := cmp.Diff(tc.want, *te); diff != "" {
				t.Errorf("task error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryableUnwraps(t *testing.T) {
	err := sdk.Retryable(fmt.Errorf("open: %w", fs.ErrNotExist))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is does not see the original error through Retryable")
	}
	var pe *fs.PathError
	err = sdk.Retryable(&fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission})
	if !errors.As(err, &pe) || pe.Path != "x" {
		t.Error("errors.As does not see the original error through Retryable")
	}
	if err.Error() != (&fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}).Error() {
		t.Errorf("Retryable changed the message to %q", err)
	}
	if sdk.Retryable(nil) != nil {
		t.Error("Retryable(nil) != nil")
	}
}
