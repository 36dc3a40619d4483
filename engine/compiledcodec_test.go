package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/goflyte/goflyte/plugin"
)

// fullEntry has every field of every type in the entry set, so that a
// codec that drops or swaps one fails TestCompiledCodecRoundTrip.
func fullEntry() *compiledEntry {
	r := func(i int) compiledRange { return compiledRange{i, i + 1, i + 2, i + 3, i + 4, i + 5} }
	return &compiledEntry{
		Name: "wf", File: "dir/wf.hcl", FileDigest: "abc123",
		Plugins: map[string]string{"text": "d1", "math": "d2"},
		Inputs: []compiledInput{
			{Name: "a", TypeExpr: "string", Description: "an input", Type: []byte(`"string"`), Default: []byte(`"x"`), DeclRange: r(1)},
			{Name: "b", TypeExpr: "number", Type: []byte(`"number"`), DeclRange: r(7)},
		},
		Nodes: []compiledNode{
			{
				Name: "t1", Plugin: "text", Task: "upper",
				Inputs:    []compiledTaskInput{{Name: "text", NameRange: r(10), Expr: r(20)}, {Name: "sep", NameRange: r(30), Expr: r(40)}},
				Deps:      []string{"t0", "t-1"},
				DeclRange: r(50), Digest: "ffff", Retries: 3, Backoff: 2 * time.Second, Timeout: -time.Minute,
				ForEach: &compiledForEach{Expr: r(60), MaxParallel: 4, MinSuccessRatio: 0.75, Map: false, Known: true,
					KeyType: []byte(`"string"`), ValueType: []byte(`["list","number"]`)},
				Cache:      &CachePolicy{Version: "v2", Ignore: map[string]bool{"sep": true, "a": true}},
				Secrets:    []plugin.SecretRequest{{Group: "g", Version: "1", Key: "k"}, {Key: "only"}},
				EnableDeck: true, DeckFields: []string{"inputs", "outputs"}, Source: "dir/other.hcl",
			},
			{Name: "t2", Plugin: "text", Task: "upper", Cache: &CachePolicy{Version: "1"}},
			{Name: "t3", Plugin: "math", Task: "add"},
		},
		Outputs: []compiledOutput{{Name: "out", Description: "the result", Expr: r(70), Type: []byte(`"string"`)}},
	}
}

func TestCompiledCodecRoundTrip(t *testing.T) {
	for _, ent := range []*compiledEntry{fullEntry(), {Name: "empty"}} {
		got, err := decodeCompiledEntry(encodeCompiledEntry(ent))
		if err != nil {
			t.Fatalf("%s: %v", ent.Name, err)
		}
		if !reflect.DeepEqual(got, ent) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", ent.Name, got, ent)
		}
	}
	// Empty slices and maps come back nil, as they did from gob.
	ent := &compiledEntry{Plugins: map[string]string{}, Nodes: []compiledNode{{Deps: []string{}, Cache: &CachePolicy{Ignore: map[string]bool{}}}}}
	got, err := decodeCompiledEntry(encodeCompiledEntry(ent))
	if err != nil {
		t.Fatal(err)
	}
	if got.Plugins != nil || got.Nodes[0].Deps != nil || got.Nodes[0].Cache.Ignore != nil {
		t.Errorf("empty ones decoded as %#v, %#v, %#v; want nil", got.Plugins, got.Nodes[0].Deps, got.Nodes[0].Cache.Ignore)
	}
}

// TestCompiledCodecFields: the codec writes each field by name, so a
// field added to one of these types must be added to it.
func TestCompiledCodecFields(t *testing.T) {
	for _, tt := range []struct {
		v      any
		fields int
	}{
		{compiledEntry{}, 7}, {compiledInput{}, 6}, {compiledNode{}, 16}, {compiledTaskInput{}, 3},
		{compiledForEach{}, 7}, {compiledOutput{}, 4}, {compiledRange{}, 6}, {CachePolicy{}, 2}, {plugin.SecretRequest{}, 3},
	} {
		if n := reflect.TypeOf(tt.v).NumField(); n != tt.fields {
			t.Errorf("%T has %d fields, compiledcodec.go writes %d: add the new ones to it (and a new compiledFileHeader)", tt.v, n, tt.fields)
		}
	}
}

// A damaged entry is an error, never a panic or a partial entry: every
// truncation, extra bytes, and each byte changed.
func TestCompiledCodecDamaged(t *testing.T) {
	data := encodeCompiledEntry(fullEntry())
	for n := range len(data) {
		if ent, err := decodeCompiledEntry(data[:n]); err == nil {
			t.Fatalf("%d of %d bytes decoded as %+v", n, len(data), ent)
		}
	}
	if _, err := decodeCompiledEntry(append(data[:len(data):len(data)], 0)); err == nil {
		t.Error("an extra byte decoded")
	}
	for i := range data {
		for _, b := range []byte{0x00, 0x7f, 0x80, 0xff} {
			damaged := append([]byte(nil), data...)
			damaged[i] = b
			_, _ = decodeCompiledEntry(damaged) // must not panic
		}
	}
}

func FuzzDecodeCompiledEntry(f *testing.F) {
	f.Add(encodeCompiledEntry(fullEntry()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ent, err := decodeCompiledEntry(data)
		if err != nil {
			return
		}
		// What decodes is an entry that survives another round trip.
		again, err := decodeCompiledEntry(encodeCompiledEntry(ent))
		if err != nil {
			t.Fatalf("re-encoded entry: %v", err)
		}
		if !reflect.DeepEqual(again, ent) {
			t.Errorf("round trip of a decoded entry:\n%+v\nwant\n%+v", again, ent)
		}
	})
}

func BenchmarkDecodeCompiledEntry(b *testing.B) {
	ent := fullEntry()
	node := ent.Nodes[1]
	ent.Nodes = ent.Nodes[:0]
	for range 10000 {
		ent.Nodes = append(ent.Nodes, node)
	}
	data := encodeCompiledEntry(ent)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeCompiledEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
