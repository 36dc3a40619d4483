package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const branchWF = `
workflow "b" {
  input "n" { type = number }
  task "first" {
    uses   = "fake.add"
    inputs = { a = input.n, b = 0 }
  }
  branch "size" {
    case {
      if = task.first.sum > 100
      task "big" {
        uses   = "fake.echo"
        inputs = { s = "big" }
      }
      output "label" { value = task.big.s }
      output "only_big" { value = 1 }
    }
    case {
      if   = task.first.sum < 0
      fail = "negative numbers are not allowed"
    }
    case {
      if = task.first.sum > 10
      branch "inner" {
        case {
          if = task.first.sum > 50
          task "fifty" {
            uses   = "fake.echo"
            inputs = { s = "over fifty" }
          }
          output "s" { value = task.fifty.s }
        }
        default {
          task "ten" {
            uses   = "fake.echo"
            inputs = { s = "over ten" }
          }
          output "s" { value = task.ten.s }
        }
      }
      output "label" { value = branch.inner.s }
    }
    default {
      task "small" {
        uses   = "fake.echo"
        inputs = { s = "small" }
      }
      output "label" { value = task.small.s }
    }
  }
  task "after" {
    uses   = "fake.echo"
    inputs = { s = "label: ${branch.size.label}" }
  }
  output "label" { value = task.after.s }
}`

func TestBranches(t *testing.T) {
	tests := []struct {
		n         string
		label     string
		succeeded []string
	}{
		{"500", "label: big", []string{"first", "big", "after"}},
		{"60", "label: over fifty", []string{"first", "fifty", "after"}},
		{"20", "label: over ten", []string{"first", "ten", "after"}},
		{"3", "label: small", []string{"first", "small", "after"}},
	}
	for _, tc := range tests {
		t.Run(tc.n, func(t *testing.T) {
			e, f := newTestEngine(t)
			res := mustRun(t, e, branchWF, map[string]string{"n": tc.n}, RunOptions{})
			if res.Status != StatusSucceeded {
				t.Fatalf("status %s: %v", res.Status, res.Err)
			}
			if got := FormatValue(res.Outputs["label"]); got != tc.label {
				t.Errorf("label = %q, want %q", got, tc.label)
			}
			var ran []string
			for _, tr := range res.Tasks {
				if tr.Status == StatusSucceeded && !strings.Contains(tr.TaskID, "branch") {
					ran = append(ran, tr.Node)
				}
			}
			if diff := cmp.Diff(tc.succeeded, ran); diff != "" {
				t.Errorf("tasks that ran (-want +got):\n%s", diff)
			}
			// Each chosen task was called exactly once; the others never.
			if got := len(f.callsOf("echo")); got != 2 {
				t.Errorf("echo called %d times, want 2 (the chosen arm's task and after)", got)
			}
		})
	}
}

func TestBranchFailArm(t *testing.T) {
	e, f := newTestEngine(t)
	res := mustRun(t, e, branchWF, map[string]string{"n": "-5"}, RunOptions{})
	var bf *BranchFailure
	if res.Status != StatusFailed || !errors.As(res.Err, &bf) || bf.Message != "negative numbers are not allowed" {
		t.Fatalf("status %s, err %v: want the fail arm's message", res.Status, res.Err)
	}
	if n := len(f.callsOf("echo")); n != 0 {
		t.Errorf("echo was called %d times after the branch failed", n)
	}
}
