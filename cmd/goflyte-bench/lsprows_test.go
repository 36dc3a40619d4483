package main

import (
	"fmt"
	"strings"
	"testing"
)

// The completion row's position is right after `task.t<n>.` in its text.
func TestCompletionText(t *testing.T) {
	text, line, char := completionText()
	lines := strings.Split(text, "\n")
	if line >= len(lines) || char > len(lines[line]) {
		t.Fatalf("position %d:%d is outside the text", line, char)
	}
	if want := fmt.Sprintf("task.t%d.", lspTasks); !strings.HasSuffix(lines[line][:char], want) {
		t.Errorf("text before the position = %q, want it to end with %q", lines[line][:char], want)
	}
}
