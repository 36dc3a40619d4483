package sdk_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/sdk"
	"github.com/goflyte/goflyte/sdk/sdktest"
)

type statsIn struct {
	Fail  string `json:"fail,omitempty"` // "", "error" or "panic"
	Words int    `json:"words"`
}

// statsTask records a counter, a gauge and a timer, then fails as asked.
var statsTask = sdk.Func(func(ctx context.Context, in statsIn) (struct{}, error) {
	s := sdk.Params(ctx).Stats()
	s.Count("words", int64(in.Words), sdk.Tags{"lang": "en"})
	s.Gauge("queue", 2)
	s.Timing("load", 3*time.Millisecond)
	switch in.Fail {
	case "error":
		return struct{}{}, errors.New("boom")
	case "panic":
		panic("boom")
	}
	return struct{}{}, nil
})

func wantStatsMetrics(words float64) []plugin.Metric {
	return []plugin.Metric{
		{Name: "load", Kind: plugin.Timer, Value: 3, Count: 1, Min: 3, Max: 3},
		{Name: "queue", Kind: plugin.Gauge, Value: 2, Count: 1},
		{Name: "words", Kind: plugin.Counter, Tags: map[string]string{"lang": "en"}, Value: words, Count: 1},
	}
}

func TestStatsReturned(t *testing.T) {
	for _, fail := range []string{"", "error", "panic"} {
		t.Run("fail="+fail, func(t *testing.T) {
			res, err := sdktest.Run(t, statsTask, statsIn{Fail: fail, Words: 7})
			var te *plugin.TaskError
			if fail != "" && !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *plugin.TaskError", err)
			}
			if fail == "" && err != nil {
				t.Fatal(err)
			}
			if res == nil {
				t.Fatal("no result: metrics lost")
			}
			if diff := cmp.Diff(wantStatsMetrics(7), res.Metrics); diff != "" {
				t.Errorf("Metrics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsPerExecution(t *testing.T) {
	// Each execution has its own recorder: nothing carries over.
	p := sdk.NewProvider("test", "1", map[string]sdk.Task{"s": statsTask})
	for i, words := range []int{2, 5} {
		res, err := p.Execute(t.Context(), &plugin.ExecuteRequest{Task: "s", Inputs: []byte(`{"words":` + string(rune('0'+words)) + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantStatsMetrics(float64(words)), res.Metrics); diff != "" {
			t.Errorf("execution %d: Metrics (-want +got):\n%s", i, diff)
		}
	}
}

func TestStatsOutsideTask(t *testing.T) {
	ctx := context.Background()
	before := sdk.Params(ctx).Stats().Value("words", sdk.Tags{"lang": "en"})
	if _, err := statsTask.Execute(ctx, &plugin.ExecuteRequest{Inputs: []byte(`{"words":4}`)}); err != nil {
		t.Fatal(err)
	}
	// A fresh Params outside a task shares the process's recorder.
	if got := sdk.Params(ctx).Stats().Value("words", sdk.Tags{"lang": "en"}); got != before+4 {
		t.Errorf("Value(words) = %g, want %g", got, before+4)
	}
	var zero sdk.ExecutionParams
	if zero.Stats() == nil {
		t.Error("Stats() of a zero ExecutionParams is nil")
	}
}

func TestStatsSentToStatsD(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	res, err := sdktest.RunWithOptions(t, sdktest.Options{
		Params: plugin.Params{StatsD: &plugin.StatsD{Host: "127.0.0.1", Port: port, Prefix: "goflyte"}},
	}, statsTask, statsIn{Words: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Metrics) != 3 {
		t.Errorf("Metrics = %v, want 3 (sending does not replace the record)", res.Metrics)
	}
	var got []string
	buf := make([]byte, 2048)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 3 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, strings.Split(string(buf[:n]), "\n")...)
	}
	want := []string{"goflyte.load:3|ms", "goflyte.queue:2|g", "goflyte.words.__lang=en:3|c"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
}

func TestStatsUnreachableStatsD(t *testing.T) {
	// A host that does not resolve: the task still runs, metrics stay local.
	res, err := sdktest.RunWithOptions(t, sdktest.Options{
		Params: plugin.Params{StatsD: &plugin.StatsD{Host: "no-such-host.invalid", Port: 8125}},
	}, statsTask, statsIn{Words: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantStatsMetrics(1), res.Metrics); diff != "" {
		t.Errorf("Metrics (-want +got):\n%s", diff)
	}
}
