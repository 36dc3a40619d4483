package sandbox

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestTaskRecordShapeKnown fails when a field is added to TaskRecord,
// AttemptTime or Metric without teaching appendTaskRecord: the records
// would still be right (the flag sends every task through encoding/json),
// but slow.
func TestTaskRecordShapeKnown(t *testing.T) {
	if !fastTaskRecords {
		t.Fatal("TaskRecord, AttemptTime or Metric has fields appendTaskRecord does not know: extend it (recordenc.go) and its shape lists")
	}
}

// TestTaskRecordEncoding checks that the hand-written encoding of a task
// record gives encoding/json's bytes (json.Encoder, SetEscapeHTML(false))
// for every shape of record, and an error where encoding/json fails.
func TestTaskRecordEncoding(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 16, 19, 53, 464572133, time.UTC)
	zone := time.FixedZone("X", -(5*3600 + 30*60))
	full := TaskRecord{
		Name: "t1", Task: "text.upper", Status: StatusSucceeded, Attempts: 3,
		Start: t0, End: t0.Add(1500 * time.Millisecond),
		Cache: CacheMiss, CacheKey: "0f3461bf", Outputs: json.RawMessage(`{"text":"W1"}`),
		OutputsFile: "outputs/t1.json", OutputsRef: "s3://b/o", OutputsRedacted: true,
		Error: "boom <html> & \"quotes\"\n\ttabs", Stderr: "panic: \x00\x1f\x7f", WorkDir: "/tmp/w d",
		InputsDigest: "098d", Deps: []string{"a", "b"}, Digest: "e175", CacheReason: "inputs changed: text",
		Resumed: true, AttemptErrors: []string{"first", "second"},
		AttemptTimes:    []AttemptTime{{Start: t0, End: t0.Add(time.Second)}, {Start: t0.Add(2 * time.Second)}},
		Instances:       4,
		FailedInstances: []string{`"k": failed`}, Children: []string{"1 text.upper succeeded"},
		LogFile: "logs/t1.log", LogURIs: []string{"s3://b/l1", "s3://b/l2"}, Deck: "decks/t1.html",
		Nested: []TaskRecord{
			{Name: "t1@0", Task: "text.upper", Status: StatusRunning, Start: t0},
			{Name: "t1@1", Task: "text.upper", Status: StatusFailed, Error: "x", Metrics: []Metric{{Name: "n", Kind: "counter", Value: 1, Count: 1}}},
		},
		NestedOmitted: 7,
		Metrics: []Metric{
			{Name: "engine.task.cache_hits", Kind: "counter", Tags: map[string]string{"task": "upper", "node": "t1", "plugin": "text"}, Value: 1, Count: 1},
			{Name: "t", Kind: "timer", Value: 12.5, Count: 3, Min: 0.000001, Max: 1e21},
			{Name: "g", Kind: "gauge", Value: -0.0, Count: 0, Min: -1e-7, Max: 123456789.125},
			{Name: "big", Kind: "gauge", Value: 1e300, Count: math.MaxInt64, Min: 5e-324},
		},
	}
	cases := []struct {
		name string
		t    TaskRecord
	}{
		{"zero", TaskRecord{}},
		{"pending", TaskRecord{Name: "t", Task: "text.upper", Status: StatusPending, Deps: []string{"a"}, Digest: "d"}},
		{"cache hit", TaskRecord{Name: "t2", Task: "text.upper", Status: StatusSucceeded, Attempts: 1, Start: t0, End: t0, Cache: CacheHit, CacheKey: "k", Outputs: json.RawMessage(`{"text":"W2"}`), Metrics: full.Metrics[:1]}},
		{"full", full},
		{"other zone", TaskRecord{Name: "z", Start: t0.In(zone), End: t0.In(time.FixedZone("Y", 14*3600)), AttemptTimes: []AttemptTime{{}}}},
		{"zone with seconds", TaskRecord{Name: "z", Start: t0.In(time.FixedZone("LMT", -(17*60 + 30)))}},
		{"year 10000", TaskRecord{Name: "y", End: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year -1", TaskRecord{Name: "y", Start: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"no nanoseconds", TaskRecord{Name: "n", Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), End: time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC)}},
		{"empty slices and maps", TaskRecord{Name: "e", Deps: []string{}, AttemptErrors: []string{}, Metrics: []Metric{{Tags: map[string]string{}}}, Nested: []TaskRecord{}}},
		{"empty strings in slices", TaskRecord{Name: "e", Deps: []string{"", ""}, Children: []string{""}}},
		{"outputs not compact", TaskRecord{Name: "o", Outputs: json.RawMessage(" {\n  \"text\" : \"a b\",\n \"n\": [1, 2.50, {\"x\": null}] }\n")}},
		{"outputs with escapes", TaskRecord{Name: "o", Outputs: json.RawMessage(`{"t":"a\"b\\c\u2028<&>"}`)}},
		{"outputs with html", TaskRecord{Name: "o", Outputs: json.RawMessage(`{"t":"<b>&amp;</b>"}`)}},
		{"outputs not an object", TaskRecord{Name: "o", Outputs: json.RawMessage(`"just a string"`)}},
		{"outputs empty object", TaskRecord{Name: "o", Outputs: json.RawMessage(`{}`)}},
		{"outputs invalid", TaskRecord{Name: "o", Outputs: json.RawMessage(`{"text":`)}},
		{"outputs truncated simple", TaskRecord{Name: "o", Outputs: json.RawMessage(`{"a":"b","c"}`)}},
		{"outputs non-ASCII", TaskRecord{Name: "o", Outputs: json.RawMessage(`{"t":"é"}`)}},
		{"unicode strings", TaskRecord{Name: "ü", Error: "line\u2028sep\u2029para é 日本 \xff\xfe bad", Stderr: "\b\f\r\x01"}},
		{"NaN metric", TaskRecord{Name: "m", Metrics: []Metric{{Name: "m", Value: math.NaN()}}}},
		{"infinite metric", TaskRecord{Name: "m", Metrics: []Metric{{Name: "m", Max: math.Inf(1)}}}},
		{"nested invalid", TaskRecord{Name: "n", Nested: []TaskRecord{{Name: "a", Outputs: json.RawMessage(`nope`)}}}},
		{"tags needing escapes", TaskRecord{Name: "m", Metrics: []Metric{{Name: "m", Tags: map[string]string{"b\"": "<x>", "a\n": "", "": "e"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkTaskEncoding(t, &c.t)
		})
	}
}

// TestTaskRecordEncodingRandom compares the two encodings over random
// records built from awkward parts.
func TestTaskRecordEncodingRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		rec := randomTaskRecord(r, 2)
		if !checkTaskEncoding(t, &rec) {
			t.Fatalf("record %d differs: %#v", i, rec)
		}
	}
}

// checkTaskEncoding compares encodeTaskLine with encodeLine for rec; for
// a record encoding/json rejects, both must fail.
func checkTaskEncoding(t *testing.T, rec *TaskRecord) bool {
	t.Helper()
	var want, got bytes.Buffer
	werr := encodeLine(&want, rec)
	gerr := encodeTaskLine(&got, rec)
	if (werr != nil) != (gerr != nil) {
		t.Errorf("encoding/json error %v, hand-written %v", werr, gerr)
		return false
	}
	if werr == nil && !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Errorf("encodings differ:\nencoding/json: %s\nhand-written:  %s", want.Bytes(), got.Bytes())
		return false
	}
	// And the fast path itself, where it applies, gives the same bytes
	// (encodeTaskLine falls back silently).
	if b, ok := appendTaskRecord(nil, rec); ok && (werr != nil || !bytes.Equal(append(b, '\n'), want.Bytes())) {
		t.Errorf("appendTaskRecord accepted a record it encodes wrongly:\nencoding/json: %s (%v)\nhand-written:  %s", want.Bytes(), werr, b)
		return false
	}
	return true
}

var awkward = []string{"", "a", "text.upper", "<&>", "\"q\"", "back\\slash", "\n\t\r\b\f", "\x00\x1f\x7f", "é日本", "\u2028\u2029", "\xff", "a\xc3", strings.Repeat("x", 100)}

func randomTaskRecord(r *rand.Rand, depth int) TaskRecord {
	s := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		return awkward[r.IntN(len(awkward))] + awkward[r.IntN(len(awkward))]
	}
	ss := func() []string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(3))
		for i := range out {
			out[i] = s()
		}
		return out
	}
	tm := func() time.Time {
		switch r.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("Z", (r.IntN(48)-24)*1800))
		case 2:
			return time.Unix(r.Int64N(4e9), 0).UTC()
		}
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
	}
	fl := func() float64 {
		switch r.IntN(6) {
		case 0:
			return 0
		case 1:
			return r.Float64() * 1e-8
		case 2:
			return r.Float64() * 1e25
		case 3:
			return -float64(r.IntN(1000))
		}
		return r.Float64() * 1000
	}
	outs := []string{"", `{"text":"W1"}`, `{}`, `{"a":"b","c":"d"}`, `{"n":1}`, ` {"x" : [1, 2] } `, `{"t":"a\nb"}`, `[1,2]`, `null`}
	rec := TaskRecord{
		Name: s(), Task: s(), Status: s(), Attempts: r.IntN(3) - 1, Start: tm(), End: tm(),
		Cache: s(), CacheKey: s(), OutputsFile: s(), OutputsRef: s(), OutputsRedacted: r.IntN(2) == 0,
		Error: s(), Stderr: s(), WorkDir: s(), InputsDigest: s(), Deps: ss(), Digest: s(), CacheReason: s(),
		Resumed: r.IntN(2) == 0, AttemptErrors: ss(), Instances: r.IntN(3), FailedInstances: ss(),
		Children: ss(), LogFile: s(), LogURIs: ss(), Deck: s(), NestedOmitted: r.IntN(2),
	}
	if o := outs[r.IntN(len(outs))]; o != "" {
		rec.Outputs = json.RawMessage(o)
	}
	for range r.IntN(3) {
		rec.AttemptTimes = append(rec.AttemptTimes, AttemptTime{Start: tm(), End: tm()})
	}
	for range r.IntN(3) {
		m := Metric{Name: s(), Kind: s(), Value: fl(), Count: r.Int64N(100), Min: fl(), Max: fl()}
		for range r.IntN(4) {
			if m.Tags == nil {
				m.Tags = map[string]string{}
			}
			m.Tags[s()] = s()
		}
		rec.Metrics = append(rec.Metrics, m)
	}
	if depth > 0 {
		for range r.IntN(3) {
			rec.Nested = append(rec.Nested, randomTaskRecord(r, depth-1))
		}
	}
	return rec
}

// TestTaskRecordShapeDetectsNewFields checks the shape check itself: a
// struct with a field more than the list is not known.
func TestTaskRecordShapeDetectsNewFields(t *testing.T) {
	type withMore struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end,omitzero"`
		More  string    `json:"more,omitempty"`
	}
	if knownShape(reflect.TypeFor[withMore](), attemptTimeShape) {
		t.Fatal("a struct with an extra field passes the shape check")
	}
	if !knownShape(reflect.TypeFor[AttemptTime](), attemptTimeShape) {
		t.Fatal("AttemptTime fails its own shape check")
	}
}

func BenchmarkTaskRecordEncoding(b *testing.B) {
	t0 := time.Date(2026, 12, 2, 16, 19, 53, 464572133, time.UTC)
	rec := TaskRecord{Name: "t2", Task: "text.upper", Status: StatusSucceeded, Attempts: 1, Start: t0, End: t0, Cache: CacheHit,
		CacheKey: "d02cc57260beaca8499ee70bec45dd7624c1396a59abb9f6049d73e38a32ed89", Outputs: json.RawMessage(`{"text":"W2"}`),
		InputsDigest: "8a3e472abef5ea09f77af94ff60d5c8dee2e500bfac778a385b5a4887b6b6361", Digest: "97d36fc04e16663d215ed9c1bd3675531cf2bfa628a9d84c64e509a546e46b2c",
		Metrics: []Metric{{Name: "engine.task.cache_hits", Kind: "counter", Tags: map[string]string{"node": "t2", "plugin": "text", "task": "upper"}, Value: 1, Count: 1}}}
	var buf bytes.Buffer
	b.Run("reflect", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			_ = encodeLine(&buf, &rec)
		}
	})
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			_ = encodeTaskLine(&buf, &rec)
		}
	})
}

// TestRecordStreamed checks that record.json written a chunk at a time
// holds encodeRecord's bytes, for a record of many chunks, and that a
// record that cannot be encoded leaves the old file as it was and no
// temporary file.
func TestRecordStreamed(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	rec := &Record{ID: "p:d:r", Name: "r", Workflow: "w", Mode: "LOCAL_WORKFLOW_EXECUTION", Status: StatusSucceeded, Start: t0, End: t0}
	for i := range 2000 {
		rec.Tasks = append(rec.Tasks, TaskRecord{Name: "t" + strings.Repeat("x", i%7), Task: "text.upper", Status: StatusSucceeded, Start: t0, End: t0,
			Outputs: json.RawMessage(`{"text":"W` + strings.Repeat("y", i%50) + `"}`)})
	}
	want, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 3*recordChunk {
		t.Fatalf("record of %d bytes: too small to span chunks", len(want))
	}
	if err := writeRecordAtomic(dir, rec, true); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("record.json (%d bytes) differs from encodeRecord's %d bytes", len(got), len(want))
	}
	var back Record
	if err := json.Unmarshal(got, &back); err != nil || len(back.Tasks) != len(rec.Tasks) {
		t.Fatalf("record.json does not decode: %v (%d tasks)", err, len(back.Tasks))
	}

	bad := *rec
	bad.Tasks = append(append([]TaskRecord(nil), rec.Tasks...), TaskRecord{Name: "bad", Outputs: json.RawMessage(`{"x":`)})
	if err := writeRecordAtomic(dir, &bad, false); err == nil {
		t.Fatal("a record with invalid outputs was written")
	}
	after, _ := os.ReadFile(filepath.Join(dir, recordFile))
	if !bytes.Equal(after, want) {
		t.Error("a failed write changed record.json")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left after a failed write: %v", entries)
	}
}
