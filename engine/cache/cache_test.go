package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// --- helpers ----------------------------------------------------------------

func newTestCache(t testing.TB) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testKey returns a distinct key per i.
func testKey(i int) Key { return Sum([]byte("test"), []byte(strconv.Itoa(i))) }

// testEntry returns a distinct entry per i, created i seconds after a fixed
// time so that List's order is known.
func testEntry(task string, i int) *Entry {
	return &Entry{
		Task:    task,
		Version: "v1",
		Inputs:  map[string]string{"text": Sum([]byte(strconv.Itoa(i))).String()},
		Outputs: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
		Created: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC),
	}
}

func mustPut(t testing.TB, c *Cache, k Key, e *Entry) {
	t.Helper()
	if err := c.Put(k, e); err != nil {
		t.Fatalf("Put(%s): %v", k, err)
	}
}

func mustGet(t testing.TB, c *Cache, k Key) *Entry {
	t.Helper()
	e, err := c.Get(k)
	if err != nil {
		t.Fatalf("Get(%s): %v", k, err)
	}
	return e
}

// wantMiss checks that err is a plain miss, not a corrupt entry.
func wantMiss(t testing.TB, err error) {
	t.Helper()
	var ce *CorruptError
	if !errors.Is(err, ErrMiss) || errors.As(err, &ce) {
		t.Fatalf("got error %v, want a plain miss", err)
	}
}

// tempFiles returns the temporary files anywhere under dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && isTemp(d.Name()) {
			found = append(found, path)
		}
		return nil
	})
	return found
}

func keysOf(infos []Info) []Key {
	var ks []Key
	for _, in := range infos {
		ks = append(ks, in.Key)
	}
	return ks
}

// frame wraps content in a header that is valid for k and content.
func frame(k Key, content string) []byte {
	h := fmt.Sprintf("%s%s %d %d ", magic, k, time.Now().UnixNano(), len(content))
	sum := checksum([]byte(h), []byte(content))
	return fmt.Appendf(nil, "%s%x\n%s", h, sum, content)
}

// --- keys -------------------------------------------------------------------

func TestSum(t *testing.T) {
	b := func(ss ...string) [][]byte {
		var out [][]byte
		for _, s := range ss {
			out = append(out, []byte(s))
		}
		return out
	}
	tests := []struct {
		name string
		a, b [][]byte
	}{
		{"split point", b("ab", "c"), b("a", "bc")},
		{"trailing empty part", b("ab"), b("ab", "")},
		{"no parts vs one empty part", nil, b("")},
		{"order", b("a", "b"), b("b", "a")},
		{"concatenation", b("ab"), b("a", "b")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if Sum(tc.a...) == Sum(tc.b...) {
				t.Errorf("Sum(%q) == Sum(%q), want different keys", tc.a, tc.b)
			}
			var copied [][]byte
			for _, p := range tc.a {
				copied = append(copied, bytes.Clone(p))
			}
			if Sum(tc.a...) != Sum(copied...) {
				t.Errorf("Sum(%q) depends on more than the bytes", tc.a)
			}
		})
	}
	// Pinned: the empty input is the SHA-256 of nothing, and one empty part
	// is the SHA-256 of its 8-byte zero length.
	if got, want := Sum().String(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Sum() = %s, want %s", got, want)
	}
	if got, want := Sum(nil).String(), "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"; got != want {
		t.Errorf("Sum(nil) = %s, want %s", got, want)
	}
}

func TestParseKey(t *testing.T) {
	k := testKey(1)
	tests := []struct {
		name    string
		in      string
		want    Key
		wantErr string
	}{
		{"lower case", k.String(), k, ""},
		{"upper case", strings.ToUpper(k.String()), k, ""},
		{"prefix", k.String()[:8], Key{}, "want 64 hex digits"},
		{"too long", k.String() + "0", Key{}, "want 64 hex digits"},
		{"empty", "", Key{}, "want 64 hex digits"},
		{"not hex", strings.Repeat("g", 64), Key{}, "not hex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKey(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseKey(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestKeyText(t *testing.T) {
	k := testKey(7)
	b, err := json.Marshal(Info{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"key":"`+k.String()+`"`)) {
		t.Errorf("json.Marshal(Info) = %s, want the key in hex", b)
	}
	var back Info
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Key != k {
		t.Errorf("round trip through JSON: got %s, want %s", back.Key, k)
	}
}

func TestResolve(t *testing.T) {
	c := newTestCache(t)
	mk := func(s string) Key {
		k, err := ParseKey(s + strings.Repeat("0", 64-len(s)))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1 := mk("abcdef0123")
	k2 := mk("abcdef0145")
	k3 := mk("12345678")
	for i, k := range []Key{k1, k2, k3} {
		mustPut(t, c, k, testEntry("p.t", i))
	}
	// A temporary file is not an entry.
	if err := os.WriteFile(c.Path(k1)[:len(c.Path(k1))-64]+mk("abcdef0167").String()+tmpInfix+"1", nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		prefix   string
		want     Key
		wantErr  string
		wantMiss bool
	}{
		{"full key", k3.String(), k3, "", false},
		{"unique prefix", "12345678", k3, "", false},
		{"longer unique prefix", "abcdef0123", k1, "", false},
		{"upper case", "ABCDEF0145", k2, "", false},
		{"ambiguous", "abcdef01", Key{}, "ambiguous: 2 entries match", false},
		{"none", "ffffffff", Key{}, "no entry with key prefix ffffffff", true},
		{"only a temporary file", "abcdef0167", Key{}, "no entry", true},
		{"full key not stored", testKey(99).String(), Key{}, "no entry", true},
		{"short", "abcdef0", Key{}, "too short", false},
		{"not hex", "abcdefgh", Key{}, "not a key or key prefix", false},
		{"too long", k1.String() + "0", Key{}, "not a key or key prefix", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Resolve(tc.prefix)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve(%q) error = %v, want one containing %q", tc.prefix, err, tc.wantErr)
				}
				if errors.Is(err, ErrMiss) != tc.wantMiss {
					t.Errorf("Resolve(%q): errors.Is(err, ErrMiss) = %v, want %v", tc.prefix, !tc.wantMiss, tc.wantMiss)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Resolve(%q) = %s, want %s", tc.prefix, got, tc.want)
			}
		})
	}
}

// --- get and put --------------------------------------------------------------

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", c.Dir(), dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("cache dir mode = %v, want 0700", got)
	}
	if _, err := os.Stat(filepath.Join(dir, readmeName)); err != nil {
		t.Errorf("no README: %v", err)
	}
	// Opening again is fine, and a relative dir is made absolute.
	t.Chdir(filepath.Dir(dir))
	c2, err := Open("b")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Dir() != dir {
		t.Errorf("Open(%q).Dir() = %q, want %q", "b", c2.Dir(), dir)
	}
}

func TestOpenError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file, filepath.Join(file, "cache")} {
		if _, err := Open(dir); err == nil || !strings.HasPrefix(err.Error(), "cache: open") {
			t.Errorf("Open(%q) error = %v, want a cache: open error", dir, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		put  *Entry
		want *Entry
	}{
		{
			name: "full entry",
			put:  testEntry("text.upper", 1),
			want: testEntry("text.upper", 1),
		},
		{
			name: "zero Created records now",
			put:  &Entry{Task: "text.upper", Version: "v2", Outputs: json.RawMessage(`{}`)},
			want: &Entry{Task: "text.upper", Version: "v2", Outputs: json.RawMessage(`{}`), Created: now},
		},
		{
			name: "no outputs read back as null",
			put:  &Entry{Task: "t.t", Created: now},
			want: &Entry{Task: "t.t", Outputs: json.RawMessage(`null`), Created: now},
		},
		{
			name: "empty outputs read back as null",
			put:  &Entry{Task: "t.t", Outputs: json.RawMessage{}, Created: now},
			want: &Entry{Task: "t.t", Outputs: json.RawMessage(`null`), Created: now},
		},
		{
			name: "outputs kept byte for byte, HTML characters too",
			put:  &Entry{Task: "t.t", Outputs: json.RawMessage(`{"html":"<b>&amp;</b>","u":"\u00e9"}`), Created: now},
			want: &Entry{Task: "t.t", Outputs: json.RawMessage(`{"html":"<b>&amp;</b>","u":"\u00e9"}`), Created: now},
		},
		{
			name: "outputs compacted",
			put:  &Entry{Task: "t.t", Outputs: json.RawMessage("{ \"a\" : [1, 2],\n \"b\": {} }"), Created: now},
			want: &Entry{Task: "t.t", Outputs: json.RawMessage(`{"a":[1,2],"b":{}}`), Created: now},
		},
		{
			name: "run recorded",
			put:  &Entry{Task: "t.t", Outputs: json.RawMessage(`{}`), Created: now, Run: "20250601-120000-ab12"},
			want: &Entry{Task: "t.t", Outputs: json.RawMessage(`{}`), Created: now, Run: "20250601-120000-ab12"},
		},
		{
			name: "unicode task and inputs",
			put:  &Entry{Task: "plügin.tâsk", Inputs: map[string]string{"ä": "00", "b": "11"}, Outputs: json.RawMessage(`{"x":"\n"}`), Created: now},
			want: &Entry{Task: "plügin.tâsk", Inputs: map[string]string{"ä": "00", "b": "11"}, Outputs: json.RawMessage(`{"x":"\n"}`), Created: now},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t)
			c.now = func() time.Time { return now }
			k := testKey(i)
			before := *tc.put
			mustPut(t, c, k, tc.put)
			if diff := cmp.Diff(&before, tc.put); diff != "" {
				t.Errorf("Put modified its argument (-before +after):\n%s", diff)
			}
			got := mustGet(t, c, k)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Get after Put (-want +got):\n%s", diff)
			}
			if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
				t.Errorf("temporary files left: %q", tf)
			}
		})
	}
}

// TestRun checks that the run that wrote an entry comes back from Get and
// List, and in Info's JSON, and that it does not stop GetOutputs.
func TestRun(t *testing.T) {
	c := newTestCache(t)
	k := testKey(1)
	e := testEntry("a.t", 1)
	e.Run = "20251201-101500-9f3c"
	mustPut(t, c, k, e)
	if got := mustGet(t, c, k).Run; got != e.Run {
		t.Errorf("Get: Run = %q, want %q", got, e.Run)
	}
	outs, err := c.GetOutputs(k)
	if err != nil || string(outs) != `{"n":1}` {
		t.Errorf("GetOutputs = %s, %v; want {\"n\":1}", outs, err)
	}
	infos, err := c.List("")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Run != e.Run {
		t.Fatalf("List = %+v, want one entry with Run %q", infos, e.Run)
	}
	b, err := json.Marshal(infos[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"run":"20251201-101500-9f3c"`)) {
		t.Errorf("Info JSON = %s, want the run", b)
	}
	b, err = json.Marshal(Info{Key: k, Task: "a.t"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"run"`)) {
		t.Errorf("Info JSON without a run = %s, want no run field", b)
	}
}

// TestEntryWithoutRun reads an entry file written before entries recorded
// their run (testdata/entry-v1-without-run, written by that code): it is
// still a hit for Get and GetOutputs, listed by List, with Run empty.
func TestEntryWithoutRun(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "entry-v1-without-run"))
	if err != nil {
		t.Fatal(err)
	}
	k := Sum([]byte("old-format"))
	want := &Entry{
		Task:    "greet.hello",
		Version: "1",
		Inputs:  map[string]string{"name": Sum([]byte(`"world"`)).String()},
		Outputs: json.RawMessage(`{"greeting":"hello, world"}`),
		Created: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	}
	c := newTestCache(t)
	writeFile(t, c.Path(k), string(data))
	// As Put left it: modified when written (the header's time), so no
	// hit is recorded yet.
	if err := os.Chtimes(c.Path(k), want.Created, want.Created); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(c.taskLog("greet.hello")), 0o700); err != nil {
		t.Fatal(err)
	}
	appendFile(t, c.taskLog("greet.hello"), k.String()+"\n")
	infos, err := c.List("greet.hello")
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := []Info{{Key: k, Task: "greet.hello", Version: "1", Size: int64(len(data)), Created: want.Created}}
	if diff := cmp.Diff(wantInfo, infos); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if infos, err := c.List(""); err != nil || len(infos) != 1 {
		t.Errorf("List(\"\") = %+v, %v; want the entry", infos, err)
	}
	outs, err := c.GetOutputs(k)
	if err != nil || string(outs) != string(want.Outputs) {
		t.Errorf("GetOutputs = %s, %v; want a hit with %s", outs, err, want.Outputs)
	}
	if diff := cmp.Diff(want, mustGet(t, c, k)); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if _, latest, err := c.Latest("greet.hello"); err != nil || latest.Run != "" {
		t.Errorf("Latest = %+v, %v; want the entry without a run", latest, err)
	}

	// Rewriting it with a run changes the first line only: same key, and
	// the outputs read back the same.
	w := *want
	w.Run = "20261201-063000-0a1b"
	mustPut(t, c, k, &w)
	if diff := cmp.Diff(&w, mustGet(t, c, k)); diff != "" {
		t.Errorf("Get after Put with a run (-want +got):\n%s", diff)
	}
}

func TestOverwrite(t *testing.T) {
	c := newTestCache(t)
	k := testKey(1)
	mustPut(t, c, k, testEntry("a.t", 1))
	mustPut(t, c, k, testEntry("a.t", 2))
	if diff := cmp.Diff(testEntry("a.t", 2), mustGet(t, c, k)); diff != "" {
		t.Errorf("Get after two Puts (-want +got):\n%s", diff)
	}
}

func TestMiss(t *testing.T) {
	c := newTestCache(t)
	_, err := c.Get(testKey(1))
	wantMiss(t, err)
	if err != ErrMiss {
		t.Errorf("Get of a missing key = %v, want ErrMiss itself", err)
	}
	mustPut(t, c, testKey(2), testEntry("a.t", 2))
	_, err = c.Get(testKey(1))
	wantMiss(t, err)
}

func TestGetReadError(t *testing.T) {
	c := newTestCache(t)
	k := testKey(1)
	if err := os.MkdirAll(c.Path(k), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(k)
	if err == nil || errors.Is(err, ErrMiss) || !strings.HasPrefix(err.Error(), "cache: read ") {
		t.Errorf("Get of a directory: error = %v, want a read error that is not a miss", err)
	}
}

func TestPutInvalid(t *testing.T) {
	tests := []struct {
		name    string
		e       *Entry
		wantErr string
	}{
		{"nil entry", nil, "nil entry"},
		{"no task", &Entry{Outputs: json.RawMessage(`{}`)}, "entry has no task"},
		{"invalid outputs", &Entry{Task: "a.t", Outputs: json.RawMessage(`{"a":`)}, "encode entry: outputs"},
		{"two values as outputs", &Entry{Task: "a.t", Outputs: json.RawMessage(`{} {}`)}, "encode entry: outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t)
			k := testKey(1)
			err := c.Put(k, tc.e)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "cache: put "+k.String()) {
				t.Fatalf("Put error = %v, want a cache: put error containing %q", err, tc.wantErr)
			}
			_, err = c.Get(k)
			wantMiss(t, err)
			if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
				t.Errorf("temporary files left: %q", tf)
			}
		})
	}
}

// TestPutFailure makes each step of Put fail. The tests run as root, so
// permissions cannot be used: a regular file where a directory must be
// (or a directory where a file must be) does the job.
func TestPutFailure(t *testing.T) {
	k := testKey(1)
	tests := []struct {
		name     string
		sabotage func(t *testing.T, c *Cache)
	}{
		{"fan-out directory is a file", func(t *testing.T, c *Cache) {
			writeFile(t, filepath.Dir(c.Path(k)), "")
		}},
		{"entry path is a non-empty directory (rename fails)", func(t *testing.T, c *Cache) {
			writeFile(t, filepath.Join(c.Path(k), "x"), "")
		}},
		{"tasks is a file", func(t *testing.T, c *Cache) {
			writeFile(t, filepath.Join(c.Dir(), tasksDir), "")
		}},
		{"task log is a directory", func(t *testing.T, c *Cache) {
			writeFile(t, filepath.Join(c.taskLog("a.t"), "x"), "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t)
			tc.sabotage(t, c)
			err := c.Put(k, testEntry("a.t", 1))
			if err == nil || !strings.HasPrefix(err.Error(), "cache: put "+k.String()) {
				t.Fatalf("Put error = %v, want a cache: put error", err)
			}
			if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
				t.Errorf("temporary files left after a failed Put: %q", tf)
			}
			if _, err = c.Get(k); err == nil {
				t.Errorf("Get after a failed Put found an entry")
			}
		})
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --- integrity ----------------------------------------------------------------

func TestCorrupt(t *testing.T) {
	k := testKey(1)
	valid, err := encodeEntry(k, testEntry("a.t", 1), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := encodeEntry(testKey(2), testEntry("a.t", 2), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nl := bytes.IndexByte(valid, '\n')
	flip := func(i int) []byte {
		b := bytes.Clone(valid)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name       string
		data       []byte
		wantReason string
	}{
		{"zero-length", nil, "empty file"},
		{"truncated in the magic", valid[:5], "truncated header"},
		{"truncated in the header", valid[:nl-3], "truncated header"},
		{"header only", valid[:nl+1], "truncated: header says"},
		{"truncated content", valid[:len(valid)-10], "truncated: header says"},
		{"trailing data", append(bytes.Clone(valid), "{}\n"...), "length mismatch"},
		{"flipped byte in content", flip(nl + 10), "checksum mismatch"},
		{"flipped byte in key", flip(len(magic) + 3), "holds the entry for key"},
		{"flipped byte in checksum", flip(nl - 2), "checksum mismatch"},
		{"flipped byte in magic", flip(2), "unknown header"},
		{"wrong key inside", other, "holds the entry for key " + testKey(2).String()},
		{"garbage", []byte("hello, world\n"), "unknown header"},
		{"long garbage", bytes.Repeat([]byte{0xff}, 4096), "unknown header"},
		{"other format version", append([]byte("goflyte-cache v2 "), valid[len(magic):]...), "unknown header"},
		{"valid frame, one line", frame(k, `{"task":"a.t"}`+"\n"), "not two lines"},
		{"valid frame, three lines", frame(k, `{"task":"a.t"}`+"\n{}\n{}\n"), "not two lines"},
		{"valid frame, no outputs", frame(k, `{"task":"a.t"}`+"\n\n"), "not two lines"},
		{"valid frame, content not JSON", frame(k, "not json\n{}\n"), "undecodable content"},
		{"valid frame, entry without task", frame(k, `{"version":"v1"}`+"\n{}\n"), "entry has no task"},
		{"newline missing from header", append(append(bytes.Clone(valid[:nl]), ' '), valid[nl+1:]...), "malformed header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t)
			mustPut(t, c, k, testEntry("a.t", 1))
			path := c.Path(k)
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}

			_, err := c.Get(k)
			if !errors.Is(err, ErrMiss) {
				t.Errorf("Get of a corrupt entry: errors.Is(%v, ErrMiss) is false", err)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Get of a corrupt entry: error %v is not a *CorruptError", err)
			}
			if ce.Key != k || ce.Path != path || !strings.Contains(ce.Reason, tc.wantReason) {
				t.Errorf("CorruptError = %+v, want key %s, path %s, reason containing %q", ce, k, path, tc.wantReason)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("corrupt entry file not removed: %v", err)
			}
			// Reported once: the next Get is a plain miss.
			_, err = c.Get(k)
			wantMiss(t, err)

			// GetOutputs, which skips decoding the first line, refuses
			// the same files.
			mustPut(t, c, k, testEntry("a.t", 1))
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetOutputs(k); !errors.As(err, &ce) {
				t.Errorf("GetOutputs of a corrupt entry: %v, want a *CorruptError", err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("GetOutputs left the corrupt entry file: %v", err)
			}
		})
	}
}

func TestGetOutputs(t *testing.T) {
	c := newTestCache(t)
	k := testKey(7)
	e := testEntry("a.t", 3)
	mustPut(t, c, k, e)
	got, err := c.GetOutputs(k)
	if err != nil {
		t.Fatal(err)
	}
	full, err := c.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, full.Outputs) || len(got) == 0 {
		t.Errorf("GetOutputs = %s, Get's outputs = %s", got, full.Outputs)
	}
	_, err = c.GetOutputs(testKey(8))
	wantMiss(t, err)
}

// TestHitsOwnTheirOutputs gets many entries in turn and checks that the
// outputs of each hit stay what they were: a hit's file is read into a
// pooled buffer, which the next hit reuses, so the outputs Get and
// GetOutputs return must be copies.
func TestHitsOwnTheirOutputs(t *testing.T) {
	c := newTestCache(t)
	const n = 20
	want := make([]json.RawMessage, n)
	for i := range n {
		e := &Entry{Task: "a.t", Version: "1", Outputs: json.RawMessage(fmt.Sprintf(`{"text":"%s"}`, strings.Repeat(strconv.Itoa(i%10), 10+i)))}
		mustPut(t, c, testKey(i), e)
		want[i] = e.Outputs
	}
	var outs, full []json.RawMessage
	for i := range n {
		got, err := c.GetOutputs(testKey(i))
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, got)
		full = append(full, mustGet(t, c, testKey(i)).Outputs)
	}
	for i := range n {
		if !bytes.Equal(outs[i], want[i]) {
			t.Errorf("GetOutputs(%d) = %s after later hits, want %s", i, outs[i], want[i])
		}
		if !bytes.Equal(full[i], want[i]) {
			t.Errorf("Get(%d).Outputs = %s after later hits, want %s", i, full[i], want[i])
		}
	}
}

// TestSplitFields compares splitFields with bytes.Split on headers' field
// runs, well-formed and not.
func TestSplitFields(t *testing.T) {
	for _, in := range []string{"", " ", "  ", "   ", "a", "a b", "a b c", "a b c ", " a b", "a  b", "ab cd ef", "a b c d", "abc", "a b  "} {
		want := bytes.Split([]byte(in), []byte{' '})
		got, ok := splitFields([]byte(in))
		if ok != (len(want) == 3) {
			t.Errorf("splitFields(%q) ok = %v, bytes.Split gives %d fields", in, ok, len(want))
			continue
		}
		if ok && !(bytes.Equal(got[0], want[0]) && bytes.Equal(got[1], want[1]) && bytes.Equal(got[2], want[2])) {
			t.Errorf("splitFields(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEveryBitFlip flips each bit of an entry file in turn: none of the
// results may be returned as a hit.
func TestEveryBitFlip(t *testing.T) {
	c := newTestCache(t)
	k := testKey(1)
	mustPut(t, c, k, testEntry("a.t", 1))
	valid, err := os.ReadFile(c.Path(k))
	if err != nil {
		t.Fatal(err)
	}
	for i := range valid {
		for bit := range 8 {
			data := bytes.Clone(valid)
			data[i] ^= 1 << bit
			if _, _, reason := decodeEntry(k, data); reason == "" {
				t.Fatalf("flipping bit %d of byte %d (%q) went unnoticed", bit, i, valid[i])
			}
		}
	}
	// And every truncation.
	for n := range len(valid) {
		if _, _, reason := decodeEntry(k, valid[:n]); reason == "" {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
}

// --- index: latest, list, clear, prune -------------------------------------------

func TestLatest(t *testing.T) {
	c := newTestCache(t)
	latest := func(task string) (Key, error) {
		t.Helper()
		k, e, err := c.Latest(task)
		if err == nil && e.Task != task {
			t.Errorf("Latest(%q) returned an entry of task %q", task, e.Task)
		}
		return k, err
	}
	wantLatest := func(task string, want Key) {
		t.Helper()
		got, err := latest(task)
		if err != nil {
			t.Fatalf("Latest(%q): %v", task, err)
		}
		if got != want {
			t.Errorf("Latest(%q) = %s, want %s", task, got, want)
		}
	}

	_, err := latest("a.t")
	wantMiss(t, err)

	for i := 1; i <= 3; i++ {
		mustPut(t, c, testKey(i), testEntry("a.t", i))
		wantLatest("a.t", testKey(i))
	}
	mustPut(t, c, testKey(10), testEntry("b.t", 10))
	wantLatest("a.t", testKey(3))
	wantLatest("b.t", testKey(10))

	// Latest is the latest written, not the newest Created.
	mustPut(t, c, testKey(1), testEntry("a.t", 1))
	wantLatest("a.t", testKey(1))

	// Its entry gone: the newest remaining one by Created.
	if err := c.Delete(testKey(1)); err != nil {
		t.Fatal(err)
	}
	wantLatest("a.t", testKey(3))

	// Lines that are not keys (as a crash mid-append can leave) are
	// skipped.
	appendFile(t, c.taskLog("a.t"), "garbage\n"+testKey(3).String()[:20])
	wantLatest("a.t", testKey(3))

	// Its entry corrupt: skipped (and left for Get to report).
	mustPut(t, c, testKey(2), testEntry("a.t", 2))
	writeFile(t, c.Path(testKey(2)), "torn")
	wantLatest("a.t", testKey(3))
	if _, err := os.Stat(c.Path(testKey(2))); err != nil {
		t.Errorf("Latest removed a corrupt entry: %v", err)
	}

	if _, err := c.Clear("a.t"); err != nil {
		t.Fatal(err)
	}
	_, err = latest("a.t")
	wantMiss(t, err)
	wantLatest("b.t", testKey(10))

	// The newest live entry is far from the end of a long log.
	mustPut(t, c, testKey(11), testEntry("b.t", 11))
	var gone strings.Builder
	for i := range 2 * latestTail / hexKeyLen {
		gone.WriteString(testKey(1000+i).String() + "\n")
	}
	appendFile(t, c.taskLog("b.t"), gone.String())
	wantLatest("b.t", testKey(11))
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestList(t *testing.T) {
	c := newTestCache(t)
	// Created order: b1 (1s) < a2 < a3 < b4 < a5; written in another order.
	puts := []struct {
		task string
		i    int
	}{{"a.t", 3}, {"b.t", 1}, {"a.t", 5}, {"b.t", 4}, {"a.t", 2}}
	for _, p := range puts {
		mustPut(t, c, testKey(p.i), testEntry(p.task, p.i))
	}
	// Noise that is not an entry.
	writeFile(t, c.Path(testKey(9))+tmpInfix+"x", "partial")
	writeFile(t, filepath.Join(c.Dir(), "zz", "junk"), "junk")

	ks := func(is ...int) []Key {
		var out []Key
		for _, i := range is {
			out = append(out, testKey(i))
		}
		return out
	}
	tests := []struct {
		task string
		want []Key
	}{
		{"", ks(5, 4, 3, 2, 1)},
		{"a.t", ks(5, 3, 2)},
		{"b.t", ks(4, 1)},
		{"none.t", nil},
	}
	for _, tc := range tests {
		t.Run("task="+tc.task, func(t *testing.T) {
			infos, err := c.List(tc.task)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, keysOf(infos)); diff != "" {
				t.Errorf("List(%q) keys (-want +got):\n%s", tc.task, diff)
			}
		})
	}

	infos, err := c.List("b.t")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.Path(testKey(4)))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Key: testKey(4), Task: "b.t", Version: "v1", Size: fi.Size(), Created: testEntry("b.t", 4).Created}
	if diff := cmp.Diff(want, infos[0]); diff != "" {
		t.Errorf("List(b.t)[0] (-want +got):\n%s", diff)
	}

	// A corrupt entry is skipped, not removed.
	writeFile(t, c.Path(testKey(3)), "torn")
	infos, err = c.List("a.t")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ks(5, 2), keysOf(infos)); diff != "" {
		t.Errorf("List(a.t) with a corrupt entry (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(c.Path(testKey(3))); err != nil {
		t.Errorf("List removed a corrupt entry: %v", err)
	}
}

func TestDelete(t *testing.T) {
	c := newTestCache(t)
	mustPut(t, c, testKey(1), testEntry("a.t", 1))
	mustPut(t, c, testKey(2), testEntry("a.t", 2))
	if err := c.Delete(testKey(1)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(testKey(1))
	wantMiss(t, err)
	if err := c.Delete(testKey(1)); !errors.Is(err, ErrMiss) {
		t.Errorf("second Delete: %v, want a miss", err)
	}
	infos, err := c.List("a.t")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Key{testKey(2)}, keysOf(infos)); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	// A corrupt entry can be deleted too.
	writeFile(t, c.Path(testKey(2)), "torn")
	if err := c.Delete(testKey(2)); err != nil {
		t.Errorf("Delete of a corrupt entry: %v", err)
	}
}

func TestClear(t *testing.T) {
	c := newTestCache(t)
	for i := 1; i <= 3; i++ {
		mustPut(t, c, testKey(i), testEntry("a.t", i))
	}
	for i := 4; i <= 5; i++ {
		mustPut(t, c, testKey(i), testEntry("b.t", i))
	}
	// A corrupt entry of a.t counts as one of a.t's.
	writeFile(t, c.Path(testKey(3)), "torn")
	// Temporary files: an old one (a dead writer's) goes, a fresh one (a
	// Put in progress) stays.
	oldTmp := c.Path(testKey(6)) + tmpInfix + "old"
	newTmp := c.Path(testKey(7)) + tmpInfix + "new"
	writeFile(t, oldTmp, "x")
	writeFile(t, newTmp, "x")
	old := time.Now().Add(-2 * tempGrace)
	if err := os.Chtimes(oldTmp, old, old); err != nil {
		t.Fatal(err)
	}

	clear := func(task string, want int) {
		t.Helper()
		n, err := c.Clear(task)
		if err != nil {
			t.Fatalf("Clear(%q): %v", task, err)
		}
		if n != want {
			t.Errorf("Clear(%q) = %d, want %d", task, n, want)
		}
	}
	clear("a.t", 3)
	for i := 1; i <= 3; i++ {
		_, err := c.Get(testKey(i))
		wantMiss(t, err)
	}
	mustGet(t, c, testKey(4))
	if infos, _ := c.List("b.t"); len(infos) != 2 {
		t.Errorf("List(b.t) after Clear(a.t) = %d entries, want 2", len(infos))
	}
	if _, err := os.Stat(c.taskLog("a.t")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("index log of a.t after Clear(a.t): %v, want none", err)
	}
	clear("a.t", 0)
	clear("none.t", 0)

	clear("", 2)
	if infos, _ := c.List(""); len(infos) != 0 {
		t.Errorf("List after Clear(\"\") = %d entries, want 0", len(infos))
	}
	if _, _, err := c.Latest("b.t"); !errors.Is(err, ErrMiss) {
		t.Errorf("Latest(b.t) after Clear: %v, want a miss", err)
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temporary file survived Clear: %v", err)
	}
	if _, err := os.Stat(newTmp); err != nil {
		t.Errorf("fresh temporary file removed by Clear: %v", err)
	}
	clear("", 0)

	// The cache works after a clear.
	mustPut(t, c, testKey(1), testEntry("a.t", 1))
	mustGet(t, c, testKey(1))
	if k, _, err := c.Latest("a.t"); err != nil || k != testKey(1) {
		t.Errorf("Latest(a.t) after Clear and Put = %s, %v", k, err)
	}
}

func TestPrune(t *testing.T) {
	c := newTestCache(t)
	now := time.Now()
	c.now = func() time.Time { return now }
	const day = 24 * time.Hour
	age := func(k Key, d time.Duration) {
		t.Helper()
		if err := os.Chtimes(c.Path(k), now.Add(-d), now.Add(-d)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		if i == 4 { // written ten days ago
			c.now = func() time.Time { return now.Add(-10 * day) }
		}
		mustPut(t, c, testKey(i), testEntry("a.t", i))
	}
	c.now = func() time.Time { return now }
	age(testKey(1), 10*day)
	age(testKey(2), 2*day)
	// 4 is old but was hit just now, which renews it.
	age(testKey(4), 10*day)
	mustGet(t, c, testKey(4))

	oldTmp := c.Path(testKey(9)) + tmpInfix + "old"
	writeFile(t, oldTmp, "x")
	if err := os.Chtimes(oldTmp, now.Add(-2*tempGrace), now.Add(-2*tempGrace)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		olderThan time.Duration
		now       time.Time
		want      int
		left      []Key
	}{
		{"five days", 5 * day, now, 1, []Key{testKey(4), testKey(3), testKey(2)}},
		{"again", 5 * day, now, 0, []Key{testKey(4), testKey(3), testKey(2)}},
		{"one day", day, now, 1, []Key{testKey(4), testKey(3)}},
		{"later", time.Hour, now.Add(3 * time.Hour), 2, nil},
	}
	for _, tc := range tests {
		n, err := c.Prune(tc.olderThan, tc.now)
		if err != nil {
			t.Fatalf("%s: Prune: %v", tc.name, err)
		}
		if n != tc.want {
			t.Errorf("%s: Prune(%v) = %d, want %d", tc.name, tc.olderThan, n, tc.want)
		}
		for _, l := range []string{"", "a.t"} {
			infos, err := c.List(l)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.left, keysOf(infos)); diff != "" {
				t.Errorf("%s: List(%q) after Prune (-want +got):\n%s", tc.name, l, diff)
			}
		}
		// Prune compacts the index.
		keys, err := c.taskKeys("a.t")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != len(tc.left) {
			t.Errorf("%s: %d keys in the index for %d entries", tc.name, len(keys), len(tc.left))
		}
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temporary file survived Prune: %v", err)
	}
	if _, _, err := c.Latest("a.t"); !errors.Is(err, ErrMiss) {
		t.Errorf("Latest after pruning everything: %v, want a miss", err)
	}

	// Prune compacts the logs: repeats and keys whose entries are gone are
	// dropped, the order of last writes kept.
	for _, i := range []int{5, 6, 7} {
		mustPut(t, c, testKey(i), testEntry("a.t", i))
	}
	mustPut(t, c, testKey(5), testEntry("a.t", 5))
	appendFile(t, c.taskLog("a.t"), testKey(20).String()+"\n"+"partial")
	if err := c.Delete(testKey(6)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prune(day, now); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.taskLog("a.t"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testKey(7).String()+"\n"+testKey(5).String()+"\n", string(data)); diff != "" {
		t.Errorf("log after Prune (-want +got):\n%s", diff)
	}
}

// TestLastHit checks cmd/go's rule: a hit updates the entry's modification
// time only when that is an hour old or more.
func TestLastHit(t *testing.T) {
	c := newTestCache(t)
	t0 := time.Now().Round(time.Second)
	k := testKey(1)
	clock := t0
	c.now = func() time.Time { return clock }
	e := testEntry("a.t", 1)
	e.Created = time.Time{} // Put records clock
	mustPut(t, c, k, e)
	written := mtime(t, c.Path(k))

	lastHit := func() time.Time {
		t.Helper()
		infos, err := c.List("a.t")
		if err != nil || len(infos) != 1 {
			t.Fatalf("List: %v, %d entries", err, len(infos))
		}
		return infos[0].LastHit
	}
	if !lastHit().IsZero() {
		t.Errorf("LastHit of a new entry = %v, want zero", lastHit())
	}

	steps := []struct {
		name      string
		at        time.Duration // since t0
		wantMtime time.Time
		wantHit   time.Time
	}{
		{"hit within the first hour: not recorded", 30 * time.Minute, written, time.Time{}},
		{"hit after an hour: recorded", 90 * time.Minute, t0.Add(90 * time.Minute), t0.Add(90 * time.Minute)},
		{"hit 40 minutes later: not recorded", 130 * time.Minute, t0.Add(90 * time.Minute), t0.Add(90 * time.Minute)},
		{"hit an hour later: recorded", 150 * time.Minute, t0.Add(150 * time.Minute), t0.Add(150 * time.Minute)},
	}
	for _, s := range steps {
		clock = t0.Add(s.at)
		mustGet(t, c, k)
		if got := mtime(t, c.Path(k)); !got.Equal(s.wantMtime) {
			t.Errorf("%s: mtime = %v, want %v", s.name, got, s.wantMtime)
		}
		if got := lastHit(); !got.Equal(s.wantHit) {
			t.Errorf("%s: LastHit = %v, want %v", s.name, got, s.wantHit)
		}
	}

	// Aged by hand, as an entry written five hours ago and untouched for
	// two would be.
	clock = t0.Add(5 * time.Hour)
	old := clock.Add(-2 * time.Hour)
	if err := os.Chtimes(c.Path(k), old, old); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, k)
	if got := mtime(t, c.Path(k)); !got.Equal(clock) {
		t.Errorf("hit on an entry aged two hours: mtime = %v, want %v", got, clock)
	}
	// An entry written within the hour is not stat'ed on a hit (issue 17):
	// its modification time, unless set back by hand as here, is younger
	// than an hour too, so the hit leaves it.
	young := testKey(2)
	mustPut(t, c, young, testEntry("a.t", 2)) // written at clock
	clock = clock.Add(59 * time.Minute)
	if err := os.Chtimes(c.Path(young), old, old); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, young)
	if got := mtime(t, c.Path(young)); !got.Equal(old) {
		t.Errorf("hit on an entry written 59 minutes ago: mtime = %v, want it left at %v", got, old)
	}
	clock = clock.Add(time.Minute) // written an hour ago: stat'ed and renewed
	mustGet(t, c, young)
	if got := mtime(t, c.Path(young)); !got.Equal(clock) {
		t.Errorf("hit on an entry written an hour ago: mtime = %v, want %v", got, clock)
	}
	// Not a hit: List, Latest.
	if err := os.Chtimes(c.Path(k), old, old); err != nil {
		t.Fatal(err)
	}
	c.List("")
	c.Latest("a.t")
	if got := mtime(t, c.Path(k)); !got.Equal(old) {
		t.Errorf("List and Latest changed the mtime to %v", got)
	}
}

func mtime(t testing.TB, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// --- concurrency --------------------------------------------------------------

// concEntry is the entry goroutine g writes to key i in round r.
func concEntry(i, g, r int) *Entry {
	return &Entry{
		Task:    "c.t" + strconv.Itoa(i%3),
		Version: "v1",
		Inputs:  map[string]string{"g": strconv.Itoa(g)},
		Outputs: json.RawMessage(fmt.Sprintf(`{"key":%d,"g":%d,"r":%d,"pad":%q}`, i, g, r, strings.Repeat("x", 512+g))),
	}
}

// checkConcEntry checks that e is what some goroutine wrote to key i.
func checkConcEntry(e *Entry, i int) error {
	var out struct{ Key, G, R int }
	if err := json.Unmarshal(e.Outputs, &out); err != nil {
		return fmt.Errorf("outputs %s: %v", e.Outputs, err)
	}
	if out.Key != i {
		return fmt.Errorf("entry of key %d returned for key %d", out.Key, i)
	}
	return sameEntry(concEntry(i, out.G, out.R), e)
}

// sameEntry compares want and got except for Created, without cmp: the
// concurrency tests compare thousands of large entries, and cmp.Diff
// walks byte slices element by element.
func sameEntry(want, got *Entry) error {
	if want.Task != got.Task || want.Version != got.Version ||
		!maps.Equal(want.Inputs, got.Inputs) || !bytes.Equal(want.Outputs, got.Outputs) {
		return fmt.Errorf("got entry %+.200v, want %+.200v", *got, *want)
	}
	return nil
}

func TestConcurrentPutGet(t *testing.T) {
	c := newTestCache(t)
	const goroutines, rounds, shared = 50, 20, 5
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			own := 1000 + g
			for r := range rounds {
				for _, i := range []int{r % shared, own} {
					if err := c.Put(testKey(i), concEntry(i, g, r)); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					e, err := c.Get(testKey(i))
					if err != nil {
						t.Errorf("Get of key %d right after Put: %v", i, err)
						return
					}
					if err := checkConcEntry(e, i); err != nil {
						t.Error(err)
						return
					}
					if i == own && !strings.Contains(string(e.Outputs), fmt.Sprintf(`"r":%d,`, r)) {
						t.Errorf("own key %d: got %s, want round %d", i, e.Outputs, r)
					}
				}
			}
		})
	}
	wg.Wait()
	infos, err := c.List("")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != goroutines+shared {
		t.Errorf("List after the run: %d entries, want %d", len(infos), goroutines+shared)
	}
	if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
		t.Errorf("temporary files left: %q", tf)
	}
}

// TestConcurrentClear races Clear, Prune and Delete against Put and Get:
// Put must always succeed, and Get must return a whole entry or a plain
// miss.
func TestConcurrentClear(t *testing.T) {
	c := newTestCache(t)
	const writers, rounds, keys = 8, 100, 10
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for r := range rounds {
				i := (g + r) % keys
				if err := c.Put(testKey(i), concEntry(i, g, r)); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				e, err := c.Get(testKey((i + 1) % keys))
				var ce *CorruptError
				switch {
				case errors.As(err, &ce):
					t.Errorf("Get: %v", err)
				case errors.Is(err, ErrMiss):
				case err != nil:
					t.Errorf("Get: %v", err)
				default:
					if err := checkConcEntry(e, (i+1)%keys); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	var cleaners sync.WaitGroup
	cleaners.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			var err error
			switch n % 4 {
			case 0:
				_, err = c.Clear("")
			case 1:
				_, err = c.Clear("c.t1")
			case 2:
				_, err = c.Prune(0, time.Now())
			case 3:
				if err = c.Delete(testKey(n % keys)); errors.Is(err, ErrMiss) {
					err = nil
				}
			}
			if err != nil {
				t.Errorf("cleaner: %v", err)
			}
			if _, _, err := c.Latest("c.t2"); err != nil && !errors.Is(err, ErrMiss) {
				t.Errorf("Latest: %v", err)
			}
			if _, err := c.List(""); err != nil {
				t.Errorf("List: %v", err)
			}
		}
	})
	wg.Wait()
	close(done)
	cleaners.Wait()
	if tf := tempFiles(t, c.Dir()); len(tf) > 0 {
		t.Errorf("temporary files left: %q", tf)
	}
}

// --- benchmarks -----------------------------------------------------------------

// benchEntry is about 1 KiB on disk: three input digests and ~700 bytes of
// outputs.
func benchEntry() *Entry {
	return &Entry{
		Task:    "text.upper",
		Version: "v1",
		Inputs: map[string]string{
			"text":  Sum([]byte("a")).String(),
			"lang":  Sum([]byte("b")).String(),
			"count": Sum([]byte("c")).String(),
		},
		Outputs: json.RawMessage(fmt.Sprintf(`{"text":%q,"lines":12,"ok":true}`, strings.Repeat("HELLO WORLD ", 58))),
	}
}

func benchCache(b *testing.B) (*Cache, Key) {
	c := newTestCache(b)
	k := testKey(1)
	mustPut(b, c, k, benchEntry())
	fi, err := os.Stat(c.Path(k))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	return c, k
}

// BenchmarkGet is the per-entry read cost of a hit: read, verify, decode.
func BenchmarkGet(b *testing.B) {
	c, k := benchCache(b)
	for b.Loop() {
		if _, err := c.Get(k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFile reads the same file with os.ReadFile: the floor for
// BenchmarkGet.
func BenchmarkReadFile(b *testing.B) {
	c, k := benchCache(b)
	path := c.Path(k)
	for b.Loop() {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut writes the same ~1 KiB entry under 1000 keys in turn.
func BenchmarkPut(b *testing.B) {
	c, _ := benchCache(b)
	e := benchEntry()
	keys := make([]Key, 1000)
	for i := range keys {
		keys[i] = testKey(i)
	}
	i := 0
	for b.Loop() {
		if err := c.Put(keys[i%len(keys)], e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestGetEntrySizes reads entries of sizes around Get's first read (8 KB
// on Linux: a smaller entry is read without a stat, a larger one as its
// size says), whole and corrupt.
func TestGetEntrySizes(t *testing.T) {
	const first = 8 << 10
	k := testKey(1)
	written := time.Now()
	// entryOfSize returns an entry whose file is exactly size bytes.
	entryOfSize := func(size int) (*Entry, []byte) {
		pad := size
		for range 4 {
			e := testEntry("a.t", 1)
			e.Created = written
			e.Outputs = json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", max(0, pad))))
			data, err := encodeEntry(k, e, written)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == size {
				return e, data
			}
			pad += size - len(data)
		}
		t.Fatalf("no entry of %d bytes", size)
		return nil, nil
	}
	for _, size := range []int{first - 1, first, first + 1, 3*first + 5} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			c := newTestCache(t)
			c.now = func() time.Time { return written }
			e, data := entryOfSize(size)
			mustPut(t, c, k, e)
			if fi, err := os.Stat(c.Path(k)); err != nil || fi.Size() != int64(size) {
				t.Fatalf("entry file: %v, %v bytes, want %d", err, fi, size)
			}
			got, err := c.Get(k)
			if err != nil || !bytes.Equal(got.Outputs, e.Outputs) {
				t.Fatalf("Get = %v, want the outputs put", err)
			}
			outs, err := c.GetOutputs(k)
			if err != nil || !bytes.Equal(outs, e.Outputs) {
				t.Fatalf("GetOutputs = %v, want the outputs put", err)
			}
			// Cut short by one byte, and one byte too many: corrupt.
			for _, bad := range [][]byte{data[:size-1], append(bytes.Clone(data), '\n')} {
				if err := os.WriteFile(c.Path(k), bad, 0o600); err != nil {
					t.Fatal(err)
				}
				var ce *CorruptError
				if _, err := c.GetOutputs(k); !errors.As(err, &ce) {
					t.Errorf("GetOutputs of %d bytes: %v, want a *CorruptError", len(bad), err)
				}
				if _, err := os.Lstat(c.Path(k)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("corrupt entry of %d bytes not removed: %v", len(bad), err)
				}
			}
		})
	}
	// A directory where the entry would be: an error, not a miss, and left.
	c := newTestCache(t)
	if err := os.MkdirAll(c.Path(k), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(k); err == nil || errors.Is(err, ErrMiss) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Get of a directory = %v, want a read error that is not a miss", err)
	}
	if fi, err := os.Stat(c.Path(k)); err != nil || !fi.IsDir() {
		t.Errorf("the directory was removed: %v", err)
	}
}

// TestSumParts checks that parts framed by AppendPart hash to Sum's key.
func TestSumParts(t *testing.T) {
	for _, parts := range [][]string{nil, {""}, {"a"}, {"ab", "c"}, {"a", "bc"}, {"x", ""}, {strings.Repeat("z", 1000), "y"}} {
		var b []byte
		var raw [][]byte
		for _, p := range parts {
			b = AppendPart(b, p)
			raw = append(raw, []byte(p))
		}
		if got, want := SumParts(b), Sum(raw...); got != want {
			t.Errorf("SumParts(%q) = %s, Sum = %s", parts, got, want)
		}
	}
}

// TestDirectoryRemovedUnderGet removes the cache directory between two
// lookups of one Cache and makes it again with another entry: Get finds
// the new entry. (On Linux, lookups open entries relative to the
// directory, kept open: a removed directory must be noticed, not stay the
// one looked in.)
func TestDirectoryRemovedUnderGet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, testKey(1), testEntry("a.t", 1))
	mustGet(t, c, testKey(1))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(testKey(1))
	wantMiss(t, err)
	other, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, other, testKey(2), testEntry("a.t", 2))
	if got := mustGet(t, c, testKey(2)); got.Task != "a.t" {
		t.Errorf("Get after the directory was made again = %+v", got)
	}
	if _, err := c.GetOutputs(testKey(2)); err != nil {
		t.Errorf("GetOutputs after the directory was made again: %v", err)
	}
}
