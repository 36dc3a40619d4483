package main

import (
	"slices"
	"testing"
)

func TestHoistGlobalFlags(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"run", "wf.hcl", "-v"}, []string{"run", "wf.hcl", "-v"}},
		{[]string{"-v", "run", "wf.hcl"}, []string{"run", "-v", "wf.hcl"}},
		{[]string{"--log-format", "json", "-vv", "runs", "list"}, []string{"runs", "--log-format", "json", "-vv", "list"}},
		{[]string{"--config=x.hcl", "--lock=false", "validate", "a.hcl"}, []string{"validate", "--config=x.hcl", "--lock=false", "a.hcl"}},
		{[]string{"-h"}, []string{"-h"}},
		{[]string{"--nope", "run"}, []string{"--nope", "run"}},
		{[]string{"-v"}, []string{"-v"}}, // no command: Main says so
		{nil, nil},
	} {
		if got := hoistGlobalFlags(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("hoistGlobalFlags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
