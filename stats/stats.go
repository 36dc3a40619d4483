package stats

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

// Tags are a sample's tags, key to value. Several Tags given to one call
// are merged; a later value wins.
type Tags map[string]string

// Recorder records counters, gauges and timers, aggregated per series, and
// sends each sample to its [Client], if it has one. The zero Recorder is
// not usable; make one with [NewRecorder]. A Recorder is safe for
// concurrent use.
type Recorder struct {
	client *Client
	base   []tag // sanitized, sorted by key

	mu      sync.Mutex
	series  map[string]*plugin.Metric
	version uint64 // changes with every change of series
}

// RecorderOptions configure [NewRecorder].
type RecorderOptions struct {
	// Client, if set, receives every sample as it is recorded.
	Client *Client
	// Tags are added to every sample; a sample's own tags win.
	Tags Tags
}

// NewRecorder returns an empty Recorder.
func NewRecorder(opts RecorderOptions) *Recorder {
	return &Recorder{client: opts.Client, base: sanitizeTags(nil, opts.Tags), series: map[string]*plugin.Metric{}}
}

// Incr adds 1 to the counter name.
func (r *Recorder) Incr(name string, tags ...Tags) { r.Count(name, 1, tags...) }

// Decr subtracts 1 from the counter name.
func (r *Recorder) Decr(name string, tags ...Tags) { r.Count(name, -1, tags...) }

// Count adds n to the counter name.
func (r *Recorder) Count(name string, n int64, tags ...Tags) {
	r.record(plugin.Counter, name, float64(n), tags)
}

// Gauge sets the gauge name to v.
func (r *Recorder) Gauge(name string, v float64, tags ...Tags) {
	r.record(plugin.Gauge, name, v, tags)
}

// Timing records d as one sample of the timer name.
func (r *Recorder) Timing(name string, d time.Duration, tags ...Tags) {
	r.record(plugin.Timer, name, durationMS(d), tags)
}

// Time starts timing name and returns the function that stops the clock
// and records the sample, to be deferred:
//
//	defer stats.Time("load")()
func (r *Recorder) Time(name string, tags ...Tags) (stop func()) {
	start := time.Now()
	return func() { r.Timing(name, time.Since(start), tags...) }
}

// Value returns the value of the series name with exactly the given tags
// (after the Recorder's own, and sanitizing): a counter's sum, a gauge's
// last value or a timer's total in milliseconds; 0 when there is none.
// It is Flytekit's MockStats.current_value, for tests.
func (r *Recorder) Value(name string, tags ...Tags) float64 {
	m, _ := r.Metric(name, tags...)
	return m.Value
}

// Metric returns the series name with exactly the given tags, and whether
// it has any samples.
func (r *Recorder) Metric(name string, tags ...Tags) (plugin.Metric, bool) {
	name = sanitizeName(name)
	ts := r.tags(tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.series[seriesKey(name, ts)]
	if !ok {
		return plugin.Metric{}, false
	}
	return copyMetric(m), true
}

// Metrics returns every series, sorted by name and then tags. The caller
// owns the result.
func (r *Recorder) Metrics() []plugin.Metric {
	r.mu.Lock()
	keys := slices.Sorted(maps.Keys(r.series))
	out := make([]plugin.Metric, len(keys))
	for i, k := range keys {
		out[i] = copyMetric(r.series[k])
	}
	r.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	return out
}

// Version changes whenever the series change: a caller that keeps what
// Metrics returned can tell whether it is still current.
func (r *Recorder) Version() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// Merge folds metrics aggregated elsewhere (a plugin's, another attempt's)
// into r as if their samples had been recorded here, without sending them
// and without adding r's tags. Names and tags are sanitized.
func (r *Recorder) Merge(ms []plugin.Metric) {
	for _, m := range ms {
		name := sanitizeName(m.Name)
		ts := sanitizeTags(nil, m.Tags)
		key := seriesKey(name, ts)
		r.mu.Lock()
		r.version++
		s, ok := r.series[key]
		if !ok {
			s = &plugin.Metric{Name: name, Kind: m.Kind, Tags: tagMap(ts)}
			r.series[key] = s
		}
		switch {
		case !ok:
			s.Value, s.Count, s.Min, s.Max = m.Value, m.Count, m.Min, m.Max
		case s.Kind == plugin.Gauge:
			s.Value = m.Value
			s.Count += m.Count
		default:
			if s.Kind == plugin.Timer && m.Count > 0 {
				s.Min, s.Max = min(s.Min, m.Min), max(s.Max, m.Max)
			}
			s.Value += m.Value
			s.Count += m.Count
		}
		r.mu.Unlock()
	}
}

func (r *Recorder) record(kind plugin.MetricKind, name string, v float64, tags []Tags) {
	name = sanitizeName(name)
	ts := r.tags(tags)
	key := seriesKey(name, ts)
	r.mu.Lock()
	r.version++
	s, ok := r.series[key]
	if !ok {
		s = &plugin.Metric{Name: name, Kind: kind, Tags: tagMap(ts)}
		r.series[key] = s
	}
	if s.Kind != kind {
		// The same series used as two kinds: keep the first kind's
		// aggregate and still send the sample as what it says it is.
		r.mu.Unlock()
		r.client.send(kind, name, v, ts)
		return
	}
	switch kind {
	case plugin.Counter:
		s.Value += v
	case plugin.Gauge:
		s.Value = v
	case plugin.Timer:
		if s.Count == 0 {
			s.Min, s.Max = v, v
		}
		s.Value += v
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.Count++
	r.mu.Unlock()
	r.client.send(kind, name, v, ts)
}

// tags merges the Recorder's tags and a call's, sanitized and sorted.
func (r *Recorder) tags(extra []Tags) []tag {
	if len(extra) == 0 {
		return r.base
	}
	ts := append([]tag(nil), r.base...)
	for _, t := range extra {
		ts = sanitizeTags(ts, t)
	}
	return ts
}

// tag is one sanitized tag.
type tag struct{ k, v string }

// sanitizeTags adds t's tags to ts, sanitized, a new value replacing an
// old one, and returns ts sorted by key.
func sanitizeTags(ts []tag, t Tags) []tag {
	ts = slices.Grow(ts, len(t)) // one allocation for a recorder's base tags
	for k, v := range t {
		k, v = sanitizeTag(k), sanitizeTag(v)
		if k == "" || v == "" {
			continue
		}
		if i := slices.IndexFunc(ts, func(x tag) bool { return x.k == k }); i >= 0 {
			ts[i].v = v
			continue
		}
		ts = append(ts, tag{k, v})
	}
	slices.SortFunc(ts, func(a, b tag) int { return strings.Compare(a.k, b.k) })
	return ts
}

func seriesKey(name string, ts []tag) string {
	if len(ts) == 0 {
		return name
	}
	var b strings.Builder
	n := len(name)
	for _, t := range ts {
		n += 2 + len(t.k) + len(t.v)
	}
	b.Grow(n)
	b.WriteString(name)
	for _, t := range ts {
		b.WriteByte(0)
		b.WriteString(t.k)
		b.WriteByte('=')
		b.WriteString(t.v)
	}
	return b.String()
}

func tagMap(ts []tag) map[string]string {
	if len(ts) == 0 {
		return nil
	}
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[t.k] = t.v
	}
	return m
}

func copyMetric(m *plugin.Metric) plugin.Metric {
	c := *m
	c.Tags = maps.Clone(m.Tags)
	return c
}

func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sanitizeName replaces the bytes a metric name may not hold with '_'; an
// empty name becomes "_".
func sanitizeName(s string) string {
	if s == "" {
		return "_"
	}
	return sanitize(s, false)
}

// sanitizeTag is sanitizeName for a tag key or value, which also may not
// hold '.' or '='; "" stays "".
func sanitizeTag(s string) string { return sanitize(s, true) }

func sanitize(s string, isTag bool) string {
	bad := func(c byte) bool {
		switch {
		case c <= ' ' || c >= 0x7f:
			return true
		case c == ':' || c == '|' || c == '@' || c == '#' || c == ',':
			return true
		case isTag && (c == '.' || c == '='):
			return true
		}
		return false
	}
	i := 0
	for i < len(s) && !bad(s[i]) {
		i++
	}
	if i == len(s) {
		return s // the usual case: nothing to replace, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if r >= 0x80 || bad(byte(r)) {
			r = '_' // one '_' per character, not per byte
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Sanitize returns name as a [Recorder] records it: with every byte that
// StatsD gives a meaning to, whitespace, control characters and non-ASCII
// characters replaced by '_'.
func Sanitize(name string) string { return sanitizeName(name) }
