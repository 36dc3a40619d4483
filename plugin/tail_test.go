package plugin

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

func TestTailBufferKeepsLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{name: "under max", max: 10, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "exactly max", max: 6, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "crossing max", max: 5, writes: []string{"abc", "def"}, want: "bcdef"},
		{name: "many small writes", max: 4, writes: []string{"a", "b", "c", "d", "e", "f", "g"}, want: "defg"},
		{name: "one write larger than max", max: 4, writes: []string{"0123456789"}, want: "6789"},
		{name: "large write after small ones", max: 4, writes: []string{"ab", "0123456789", "x"}, want: "789x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTailBuffer(tc.max)
			for _, w := range tc.writes {
				n, err := b.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			b.mu.Lock()
			got := string(b.last())
			held := len(b.buf)
			b.mu.Unlock()
			if got != tc.want {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
			if held > 2*tc.max {
				t.Errorf("holds %d bytes, more than twice the max %d", held, tc.max)
			}
		})
	}
}

func TestTailBufferTail(t *testing.T) {
	tests := []struct {
		name string
		max  int
		data string
		n    int
		want string
	}{
		{name: "empty", max: 100, data: "", n: 3, want: ""},
		{name: "only newlines", max: 100, data: "\n\n\n", n: 3, want: ""},
		{name: "fewer lines than n", max: 100, data: "a\nb\n", n: 3, want: "a\nb"},
		{name: "exactly n lines", max: 100, data: "a\nb\nc\n", n: 3, want: "a\nb\nc"},
		{name: "more lines than n", max: 100, data: "a\nb\nc\nd\ne\n", n: 2, want: "d\ne"},
		{name: "no trailing newline", max: 100, data: "a\nb\nc", n: 2, want: "b\nc"},
		{name: "blank lines inside are kept", max: 100, data: "a\n\nb\n", n: 3, want: "a\n\nb"},
		// The buffer was cut in the middle of "second": the first line
		// kept is a fragment.
		{name: "after truncation", max: 12, data: "first\nsecond\nthird\n", n: 5, want: "econd\nthird"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTailBuffer(tc.max)
			if _, err := b.Write([]byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.Tail(tc.n)); diff != "" {
				t.Errorf("Tail(%d) mismatch (-want +got):\n%s", tc.n, diff)
			}
		})
	}
}

func TestReadableLogLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{
			name: "hclog line",
			line: `{"@level":"info","@message":"hello from task","@module":"x","@timestamp":"2026-01-02T03:04:05.000000Z","k":"v"}`,
			want: `[INFO] hello from task k="v"`,
		},
		{
			name: "keys sorted, values as JSON",
			line: `{"@level":"error","@message":"failed","zeta":1.5,"alpha":true,"mid":["a",2],"obj":{"b":1,"a":null}}`,
			want: `[ERROR] failed alpha=true mid=["a",2] obj={"a":null,"b":1} zeta=1.5`,
		},
		{
			name: "no fields",
			line: `{"@level":"debug","@message":"tick","@timestamp":"2026-01-02T03:04:05Z"}`,
			want: `[DEBUG] tick`,
		},
		{name: "plain text", line: "panic: boom", want: "panic: boom"},
		{name: "text log line", line: "[WARN] careful k=v", want: "[WARN] careful k=v"},
		{name: "broken JSON", line: `{"@level":"info","@message":`, want: `{"@level":"info","@message":`},
		{name: "JSON array", line: `["a","b"]`, want: `["a","b"]`},
		{name: "brace text", line: "{ not json }", want: "{ not json }"},
		{name: "empty", line: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := readableLogLine(tc.line, nil); got != tc.want {
				t.Errorf("readableLogLine(%q)\n got %q\nwant %q", tc.line, got, tc.want)
			}
		})
	}
}

// TestTailBufferHclog feeds the buffer from a real hclog JSON logger, as a
// plugin's stderr would, mixed with plain text such as a panic.
func TestTailBufferHclog(t *testing.T) {
	b := newTailBuffer(64 << 10)
	logger := hclog.New(&hclog.LoggerOptions{Name: "x", Level: hclog.Debug, Output: b, JSONFormat: true})
	logger.Info("hello from task", "k", "v", "b", 2)
	logger.Debug("second")
	fmt.Fprintln(b, "panic: boom")

	want := strings.Join([]string{
		`[INFO] hello from task b=2 k="v"`,
		`[DEBUG] second`,
		`panic: boom`,
	}, "\n")
	if diff := cmp.Diff(want, b.Tail(10)); diff != "" {
		t.Errorf("Tail mismatch (-want +got):\n%s", diff)
	}
}

// TestTailBufferConcurrent writes whole lines from many goroutines while
// others read the tail; run with -race. Every write is kept intact.
func TestTailBufferConcurrent(t *testing.T) {
	const writers, lines = 8, 200
	b := newTailBuffer(1 << 20)

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(b, "writer %d line %d\n", w, i)
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range lines {
				_ = b.Tail(5)
			}
		}()
	}
	wg.Wait()

	got := strings.Split(b.Tail(writers*lines+1), "\n")
	if len(got) != writers*lines {
		t.Fatalf("Tail has %d lines, want %d", len(got), writers*lines)
	}
	next := make([]int, writers) // per writer, the next line number expected
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("garbled line %q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d came after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
}

func TestTailBufferRedact(t *testing.T) {
	redact := func(secret string) func(string) string {
		return func(s string) string { return strings.ReplaceAll(s, secret, "***") }
	}
	tests := []struct {
		name   string
		secret string
		writes []string
		want   string
	}{
		{name: "plain line", secret: "s3cr3t", writes: []string{"token is s3cr3t\n"}, want: "token is ***"},
		{name: "written in pieces", secret: "s3cr3t", writes: []string{"token is s3", "cr", "3t!\n"}, want: "token is ***!"},
		{name: "every occurrence", secret: "s3cr3t", writes: []string{"s3cr3t\nx s3cr3t s3cr3t\n"}, want: "***\nx *** ***"},
		{
			name:   "hclog message and field",
			secret: "s3cr3t",
			writes: []string{`{"@level":"info","@message":"using s3cr3t","tok":"s3cr3t","n":1}` + "\n"},
			want:   `[INFO] using *** n=1 tok="***"`,
		},
		{
			name:   "hclog field with HTML characters",
			secret: "a&b<c>",
			writes: []string{`{"@level":"info","@message":"login","tok":"a&b<c>"}` + "\n"},
			want:   `[INFO] login tok="***"`,
		},
		{
			name:   "hclog field with a quote",
			secret: `pa"ss`,
			writes: []string{`{"@level":"info","@message":"login","tok":"pa\"ss"}` + "\n"},
			want:   `[INFO] login tok="***"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTailBuffer(1 << 10)
			b.redact = redact(tc.secret)
			for _, w := range tc.writes {
				if _, err := b.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			got := b.Tail(10)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Tail mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkTailBufferWrite writes a task's log line and its newline, as
// go-plugin does for each stderr line, into a full 64 KB buffer.
func BenchmarkTailBufferWrite(b *testing.B) {
	line := []byte(`{"@level":"info","@message":"upper-casing text","@module":"text","@timestamp":"2026-12-02T13:50:36.123456Z","attempt":1,"bytes":5,"node":"t123","task":"upper"}`)
	t := newTailBuffer(64 << 10)
	for range 1000 {
		_, _ = t.Write(line)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = t.Write(line)
		_, _ = t.Write([]byte{'\n'})
	}
}
