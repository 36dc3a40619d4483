package stats

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/goflyte/goflyte/plugin"
)

func TestRecorderAggregates(t *testing.T) {
	r := NewRecorder(RecorderOptions{})
	r.Incr("rows")
	r.Count("rows", 4)
	r.Decr("rows")
	r.Incr("rows", Tags{"lang": "en"})
	r.Gauge("queue", 3)
	r.Gauge("queue", -2.5)
	r.Timing("load", 10*time.Millisecond)
	r.Timing("load", 2500*time.Microsecond)
	r.Timing("load", 30*time.Millisecond)

	want := []plugin.Metric{
		{Name: "load", Kind: plugin.Timer, Value: 42.5, Count: 3, Min: 2.5, Max: 30},
		{Name: "queue", Kind: plugin.Gauge, Value: -2.5, Count: 2},
		{Name: "rows", Kind: plugin.Counter, Value: 4, Count: 3},
		{Name: "rows", Kind: plugin.Counter, Tags: map[string]string{"lang": "en"}, Value: 1, Count: 1},
	}
	if diff := cmp.Diff(want, r.Metrics()); diff != "" {
		t.Errorf("Metrics() (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		tags []Tags
		want float64
	}{
		{"rows", nil, 4},
		{"rows", []Tags{{"lang": "en"}}, 1},
		{"rows", []Tags{{"lang": "de"}}, 0},
		{"queue", nil, -2.5},
		{"load", nil, 42.5},
		{"missing", nil, 0},
	} {
		if got := r.Value(tc.name, tc.tags...); got != tc.want {
			t.Errorf("Value(%q, %v) = %g, want %g", tc.name, tc.tags, got, tc.want)
		}
	}
}

func TestRecorderEmpty(t *testing.T) {
	if ms := NewRecorder(RecorderOptions{}).Metrics(); ms != nil {
		t.Errorf("Metrics() = %v, want nil", ms)
	}
}

func TestRecorderTags(t *testing.T) {
	r := NewRecorder(RecorderOptions{Tags: Tags{"task": "count", "env": "dev"}})
	r.Incr("a", Tags{"env": "prod", "x": "1"}, Tags{"x": "2"})
	r.Incr("a", Tags{"x": "2", "env": "prod"})
	r.Incr("a", Tags{"empty": "", "": "novalue"})
	want := []plugin.Metric{
		{Name: "a", Kind: plugin.Counter, Tags: map[string]string{"env": "dev", "task": "count"}, Value: 1, Count: 1},
		{Name: "a", Kind: plugin.Counter, Tags: map[string]string{"env": "prod", "task": "count", "x": "2"}, Value: 2, Count: 2},
	}
	if diff := cmp.Diff(want, r.Metrics()); diff != "" {
		t.Errorf("Metrics() (-want +got):\n%s", diff)
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, name, tag string }{
		{"rows.read", "rows.read", "rows_read"},
		{"a:b|c@d#e,f", "a_b_c_d_e_f", "a_b_c_d_e_f"},
		{"new\nline tab\t", "new_line_tab_", "new_line_tab_"},
		{"k=v", "k=v", "k_v"},
		{"größe", "gr__e", "gr__e"},
		{"", "_", ""},
	}
	for _, tc := range tests {
		if got := sanitizeName(tc.in); got != tc.name {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.in, got, tc.name)
		}
		if got := sanitizeTag(tc.in); got != tc.tag {
			t.Errorf("sanitizeTag(%q) = %q, want %q", tc.in, got, tc.tag)
		}
	}
	r := NewRecorder(RecorderOptions{})
	r.Incr("bad:name|c", Tags{"k.1": "v|2"})
	want := []plugin.Metric{{Name: "bad_name_c", Kind: plugin.Counter, Tags: map[string]string{"k_1": "v_2"}, Value: 1, Count: 1}}
	if diff := cmp.Diff(want, r.Metrics()); diff != "" {
		t.Errorf("Metrics() (-want +got):\n%s", diff)
	}
	if got := r.Value("bad:name|c", Tags{"k.1": "v|2"}); got != 1 {
		t.Errorf("Value with the unsanitized name = %g, want 1", got)
	}
}

func TestKindClash(t *testing.T) {
	r := NewRecorder(RecorderOptions{})
	r.Incr("x")
	r.Gauge("x", 7)
	want := []plugin.Metric{{Name: "x", Kind: plugin.Counter, Value: 1, Count: 1}}
	if diff := cmp.Diff(want, r.Metrics()); diff != "" {
		t.Errorf("Metrics() (-want +got):\n%s", diff)
	}
}

func TestMerge(t *testing.T) {
	r := NewRecorder(RecorderOptions{Tags: Tags{"ignored": "yes"}})
	r.Timing("t", 5*time.Millisecond)
	r.Merge([]plugin.Metric{
		{Name: "t", Kind: plugin.Timer, Value: 10, Count: 2, Min: 1, Max: 9},
		{Name: "t", Kind: plugin.Timer, Tags: map[string]string{"ignored": "yes"}, Value: 3, Count: 1, Min: 3, Max: 3},
		{Name: "c", Kind: plugin.Counter, Value: 2, Count: 2},
		{Name: "c", Kind: plugin.Counter, Value: 3, Count: 1},
		{Name: "g", Kind: plugin.Gauge, Value: 2, Count: 1},
		{Name: "g", Kind: plugin.Gauge, Value: 8, Count: 4},
	})
	want := []plugin.Metric{
		{Name: "c", Kind: plugin.Counter, Value: 5, Count: 3},
		{Name: "g", Kind: plugin.Gauge, Value: 8, Count: 5},
		{Name: "t", Kind: plugin.Timer, Value: 10, Count: 2, Min: 1, Max: 9},
		{Name: "t", Kind: plugin.Timer, Tags: map[string]string{"ignored": "yes"}, Value: 8, Count: 2, Min: 3, Max: 5},
	}
	if diff := cmp.Diff(want, r.Metrics()); diff != "" {
		t.Errorf("Metrics() (-want +got):\n%s", diff)
	}
}

func TestTime(t *testing.T) {
	r := NewRecorder(RecorderOptions{})
	stop := r.Time("op", Tags{"k": "v"})
	time.Sleep(2 * time.Millisecond)
	stop()
	m, ok := r.Metric("op", Tags{"k": "v"})
	if !ok || m.Kind != plugin.Timer || m.Count != 1 || m.Value < 2 {
		t.Errorf("Metric(op) = %+v, %v; want one timer sample of at least 2ms", m, ok)
	}
}

// TestConcurrent records from many goroutines at once; run it with -race.
func TestConcurrent(t *testing.T) {
	l := listen(t)
	c := dial(t, l, plugin.StatsD{})
	r := NewRecorder(RecorderOptions{Client: c})
	const goroutines, each = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r.Incr("n")
				r.Gauge("g", float64(i), Tags{"g": string(rune('a' + g))})
				r.Timing("t", time.Millisecond)
				_ = r.Value("n")
				_ = r.Metrics()
			}
		}()
	}
	wg.Wait()
	if got := r.Value("n"); got != goroutines*each {
		t.Errorf("n = %g, want %d", got, goroutines*each)
	}
	if m, _ := r.Metric("t"); m.Count != goroutines*each || m.Value != goroutines*each {
		t.Errorf("t = %+v, want %d samples of 1ms", m, goroutines*each)
	}
	if got := c.Sent() + c.Dropped(); got != 3*goroutines*each {
		t.Errorf("sent+dropped = %d, want %d", got, 3*goroutines*each)
	}
}

func TestLineFormat(t *testing.T) {
	tests := []struct {
		name   string
		statsd plugin.StatsD
		record func(r *Recorder)
		want   []string
	}{
		{
			name:   "counter",
			statsd: plugin.StatsD{Prefix: "goflyte"},
			record: func(r *Recorder) { r.Incr("rows"); r.Count("rows", 5); r.Decr("rows") },
			want:   []string{"goflyte.rows:1|c", "goflyte.rows:5|c", "goflyte.rows:-1|c"},
		},
		{
			name:   "gauge",
			statsd: plugin.StatsD{Prefix: "goflyte"},
			record: func(r *Recorder) { r.Gauge("queue", 2.5); r.Gauge("queue", -3) },
			want:   []string{"goflyte.queue:2.5|g", "goflyte.queue:0|g\ngoflyte.queue:-3|g"},
		},
		{
			name:   "timer",
			statsd: plugin.StatsD{},
			record: func(r *Recorder) { r.Timing("load", 1500*time.Microsecond) },
			want:   []string{"load:1.5|ms"},
		},
		{
			name:   "tags folded into the name, in key order",
			statsd: plugin.StatsD{Prefix: "p"},
			record: func(r *Recorder) { r.Incr("rows", Tags{"source": "s3", "lang": "en.gb"}) },
			want:   []string{"p.rows.__lang=en_gb.__source=s3:1|c"},
		},
		{
			name:   "disable tags",
			statsd: plugin.StatsD{Prefix: "p", DisableTags: true},
			record: func(r *Recorder) { r.Incr("rows", Tags{"lang": "en"}) },
			want:   []string{"p.rows:1|c"},
		},
		{
			name:   "sanitized",
			statsd: plugin.StatsD{Prefix: "my app"},
			record: func(r *Recorder) { r.Incr("a:b|c\n", Tags{"k#": "v,w"}) },
			want:   []string{"my_app.a_b_c_.__k_=v_w:1|c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t)
			r := NewRecorder(RecorderOptions{Client: dial(t, l, tc.statsd)})
			tc.record(r)
			if diff := cmp.Diff(tc.want, l.receive(t, len(tc.want))); diff != "" {
				t.Errorf("datagrams (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecorderTagsOnTheWire(t *testing.T) {
	l := listen(t)
	r := NewRecorder(RecorderOptions{Client: dial(t, l, plugin.StatsD{Prefix: "goflyte"}), Tags: Tags{"task": "math.sum"}})
	r.Timing("engine.task.duration", 12*time.Millisecond)
	want := []string{"goflyte.engine.task.duration.__task=math_sum:12|ms"}
	if diff := cmp.Diff(want, l.receive(t, 1)); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
	// The record keeps the tag as given (sanitized for tags).
	if got := r.Value("engine.task.duration"); got != 12 {
		t.Errorf("Value = %g, want 12", got)
	}
}

func TestNoListener(t *testing.T) {
	// Nothing listens: sending must neither block nor panic.
	l := listen(t)
	addr := l.conn.LocalAddr().(*net.UDPAddr)
	l.conn.Close()
	c, err := Dial(plugin.StatsD{Host: "127.0.0.1", Port: addr.Port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := NewRecorder(RecorderOptions{Client: c})
	for range 100 {
		r.Incr("x")
	}
	if r.Value("x") != 100 {
		t.Errorf("Value = %g, want 100", r.Value("x"))
	}
	c.Close()
	r.Incr("after close") // dropped, no panic
	if c.Dropped() == 0 {
		t.Error("Dropped() = 0 after Close, want the sample counted")
	}
}

func TestDialErrors(t *testing.T) {
	for _, ep := range []plugin.StatsD{
		{Port: 8125},
		{Host: "127.0.0.1", Port: 0},
		{Host: "127.0.0.1", Port: 70000},
		{Host: "no such host.invalid", Port: 8125},
	} {
		if c, err := Dial(ep); err == nil {
			c.Close()
			t.Errorf("Dial(%+v) succeeded, want an error", ep)
		}
	}
}

// listener is a StatsD server: a UDP socket on 127.0.0.1.
type listener struct{ conn *net.UDPConn }

func listen(t testing.TB) *listener {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &listener{conn}
}

func dial(t testing.TB, l *listener, ep plugin.StatsD) *Client {
	t.Helper()
	ep.Host, ep.Port = "127.0.0.1", l.conn.LocalAddr().(*net.UDPAddr).Port
	c, err := Dial(ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive returns the next n datagrams, each as one string.
func (l *listener) receive(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 65536)
	l.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(out) < n {
		k, err := l.conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

// parse reads a datagram's lines as name -> "value|type", for checks
// that do not care about order.
func parse(datagrams []string) map[string][]string {
	m := map[string][]string{}
	for _, d := range datagrams {
		for line := range strings.SplitSeq(d, "\n") {
			name, rest, _ := strings.Cut(line, ":")
			m[name] = append(m[name], rest)
		}
	}
	for _, v := range m {
		slices.Sort(v)
	}
	return m
}

func TestParseHelper(t *testing.T) {
	got := parse([]string{"a:1|c\nb:2|g", "a:3|c"})
	want := map[string][]string{"a": {"1|c", "3|c"}, "b": {"2|g"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func BenchmarkRecorder(b *testing.B) {
	tags := Tags{"lang": "en", "source": "s3"}
	b.Run("local", func(b *testing.B) {
		r := NewRecorder(RecorderOptions{})
		b.ReportAllocs()
		for b.Loop() {
			r.Incr("rows.read", tags)
		}
	})
	b.Run("local-untagged", func(b *testing.B) {
		r := NewRecorder(RecorderOptions{})
		b.ReportAllocs()
		for b.Loop() {
			r.Incr("rows.read")
		}
	})
	b.Run("statsd", func(b *testing.B) {
		l := listen(b)
		go func() { // drain, as a server would
			buf := make([]byte, 65536)
			for {
				if _, err := l.conn.Read(buf); err != nil {
					return
				}
			}
		}()
		c := dial(b, l, plugin.StatsD{Prefix: "goflyte"})
		r := NewRecorder(RecorderOptions{Client: c})
		b.ReportAllocs()
		for b.Loop() {
			r.Incr("rows.read", tags)
		}
		b.ReportMetric(float64(c.Dropped())/float64(b.N), "dropped/op")
	})
	b.Run("statsd-parallel", func(b *testing.B) {
		l := listen(b)
		go func() {
			buf := make([]byte, 65536)
			for {
				if _, err := l.conn.Read(buf); err != nil {
					return
				}
			}
		}()
		c := dial(b, l, plugin.StatsD{Prefix: "goflyte"})
		r := NewRecorder(RecorderOptions{Client: c})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Timing("op", time.Millisecond, tags)
			}
		})
	})
}

// TestRecorderVersion checks that Version changes with every change of
// the series and not with reads.
func TestRecorderVersion(t *testing.T) {
	r := NewRecorder(RecorderOptions{Tags: Tags{"node": "n"}})
	v := r.Version()
	changes := []struct {
		name string
		do   func()
	}{
		{"Incr", func() { r.Incr("a") }},
		{"Incr again", func() { r.Incr("a") }},
		{"Gauge", func() { r.Gauge("g", 1) }},
		{"Timing", func() { r.Timing("t", time.Millisecond) }},
		{"Merge", func() { r.Merge([]plugin.Metric{{Name: "m", Kind: plugin.Counter, Value: 1, Count: 1}}) }},
	}
	for _, c := range changes {
		c.do()
		if nv := r.Version(); nv == v {
			t.Errorf("%s: version stayed %d", c.name, v)
		} else {
			v = nv
		}
	}
	r.Metrics()
	r.Value("a")
	r.Metric("g")
	if nv := r.Version(); nv != v {
		t.Errorf("reads changed the version from %d to %d", v, nv)
	}
}
