package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/goflyte/goflyte/engine/config"
)

// These tests cover the comparison machinery with fake rows: no binary is
// built and nothing expensive runs.

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Nanosecond, "850ns"},
		{12340 * time.Nanosecond, "12.3µs"},
		{99960 * time.Nanosecond, "100µs"},
		{240 * time.Microsecond, "240µs"},
		{999700 * time.Nanosecond, "1.00ms"},
		{9040 * time.Microsecond, "9.04ms"},
		{11400 * time.Microsecond, "11.4ms"},
		{240 * time.Millisecond, "240ms"},
		{999600 * time.Microsecond, "1.00s"},
		{1800 * time.Millisecond, "1.80s"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		ratio, target float64
		op            Op
		want          string
	}{
		{1.27, 1.5, AtMost, VerdictOK},
		{1.5, 1.5, AtMost, VerdictOK}, // the bound itself meets "<="
		{1.51, 1.5, AtMost, VerdictMiss},
		{0.51, 1, Below, VerdictOK},
		{1, 1, Below, VerdictMiss}, // but not "<"
		{3, 0, AtMost, ""},         // no target: no verdict
	} {
		if got := verdict(tc.ratio, tc.target, tc.op); got != tc.want {
			t.Errorf("verdict(%v, %v, %q) = %q, want %q", tc.ratio, tc.target, tc.op, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	s := summarize([]time.Duration{5 * ms, 1 * ms, 3 * ms, 100 * ms})
	if s.N != 4 || s.Median != 4*ms || s.Min != ms || s.Max != 100*ms || s.Mean != 27250*time.Microsecond {
		t.Errorf("summarize = %+v", s)
	}
	if s := summarize([]time.Duration{3 * ms, 1 * ms, 2 * ms}); s.Median != 2*ms {
		t.Errorf("median of 1,2,3ms = %v", s.Median)
	}
}

// fakeSide returns a side whose samples are the given durations, in turn,
// and that appends its name to calls on every sample.
func fakeSide(name string, calls *[]string, samples ...time.Duration) Side {
	return Side{
		What: "fake " + name,
		Setup: func(context.Context, *Env) (Sampler, error) {
			i := 0
			return func(context.Context) (time.Duration, error) {
				*calls = append(*calls, name)
				d := samples[i%len(samples)]
				i++
				return d, nil
			}, nil
		},
	}
}

func TestRun(t *testing.T) {
	ms := time.Millisecond
	var calls []string
	comps := []Comparison{
		{
			ID: "fast", Name: "fast thing vs baseline",
			Goflyte:  fakeSide("g", &calls, 10*ms, 12*ms, 11*ms),
			Baseline: ptr(fakeSide("b", &calls, 10*ms)),
			Target:   1.5, Op: AtMost, N: 3, Warmup: 1,
		},
		{
			ID: "slow", Name: "slow thing vs baseline",
			Goflyte:  fakeSide("g2", &calls, 30*ms),
			Baseline: ptr(fakeSide("b2", &calls, 10*ms)),
			Target:   2, Op: AtMost, N: 3,
		},
		{ID: "info", Name: "an info row", Goflyte: fakeSide("i", &calls, 7*ms), N: 100, QuickN: 2},
		{
			ID: "broken", Name: "broken row",
			Goflyte: Side{Setup: func(context.Context, *Env) (Sampler, error) {
				return func(context.Context) (time.Duration, error) { return 0, errors.New("boom") }, nil
			}},
			N: 1,
		},
		{
			ID: "skipped", Name: "skipped row",
			Goflyte: Side{Setup: func(context.Context, *Env) (Sampler, error) { return nil, Skip("no tmpfs") }},
			N:       1,
		},
	}
	results := Run(context.Background(), &Env{}, comps, RunOptions{Quick: true})
	if len(results) != 5 {
		t.Fatalf("got %d results, want 5", len(results))
	}

	// Warm-up samples are discarded; the sides alternate, and so does
	// which one goes first.
	wantCalls := "g b b g g b b g " + "g2 b2 b2 g2 g2 b2 " + "i i "
	if got := strings.Join(calls, " ") + " "; !strings.HasPrefix(got, wantCalls) {
		t.Errorf("sample order = %q, want prefix %q", got, wantCalls)
	}

	fast, slow, info, broken, skipped := results[0], results[1], results[2], results[3], results[4]
	// Samples after warm-up: 12, 11, 10 ms (the fake cycles from its start).
	if fast.Goflyte.Median != 11*ms || fast.Baseline.Median != 10*ms || fast.Goflyte.N != 3 {
		t.Errorf("fast: goflyte %+v, baseline %+v", fast.Goflyte, fast.Baseline)
	}
	if fast.Ratio != 1.1 || fast.Verdict != VerdictOK {
		t.Errorf("fast: ratio %v verdict %q, want 1.1 ok", fast.Ratio, fast.Verdict)
	}
	if slow.Ratio != 3 || slow.Verdict != VerdictMiss {
		t.Errorf("slow: ratio %v verdict %q, want 3 miss", slow.Ratio, slow.Verdict)
	}
	if !info.Info || info.Baseline != nil || info.Verdict != "" || info.Goflyte.N != 2 {
		t.Errorf("info row: %+v (want QuickN=2 samples, no baseline, no verdict)", info)
	}
	if !strings.Contains(broken.Error, "boom") || broken.Goflyte != nil {
		t.Errorf("broken row: %+v", broken)
	}
	if skipped.Skipped != "no tmpfs" || skipped.Error != "" {
		t.Errorf("skipped row: %+v", skipped)
	}

	// -run selects rows by id or name.
	calls = nil
	results = Run(context.Background(), &Env{}, comps, RunOptions{Filter: regexp.MustCompile(`^slow$|info row`), Quick: true})
	if len(results) != 2 || results[0].ID != "slow" || results[1].ID != "info" {
		t.Errorf("filtered run measured %v", results)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWriteTable(t *testing.T) {
	ms := time.Millisecond
	rep := &Report{
		Machine: Machine{GOOS: "linux", GOARCH: "amd64", NumCPU: 2, GoVersion: "go1.26.8"},
		Elapsed: 61 * time.Second,
		Results: []Result{
			{Name: "plugin cold start vs exec", GoflyteWhat: "launch", BaselineWhat: "exec",
				Goflyte: &Stats{N: 30, Median: 11400 * time.Microsecond}, Baseline: &Stats{N: 30, Median: 9 * ms},
				Ratio: 1.2667, Target: 1.5, Op: AtMost, Verdict: VerdictOK},
			{Name: "bare Client.Execute", Info: true, GoflyteWhat: "execute",
				Goflyte: &Stats{N: 2000, Median: 195 * time.Microsecond}},
			{Name: "1000-task chain vs shell loop", GoflyteWhat: "chain", BaselineWhat: "sh",
				Goflyte: &Stats{N: 5, Median: 2100 * ms}, Baseline: &Stats{N: 5, Median: 1800 * ms},
				Ratio: 2100.0 / 1800, Target: 1, Op: Below, Verdict: VerdictMiss},
			{Name: "broken", GoflyteWhat: "x", Target: 2, Op: AtMost, Error: "goflyte: boom"},
		},
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	want := `goflyte-bench on linux/amd64, 2 CPUs, go1.26.8 (full mode)

comparison                     goflyte  baseline  ratio  target            n
plugin cold start vs exec       11.4ms    9.00ms  1.27x  <=1.5x  ok       30
  (info) bare Client.Execute     195µs                                  2000
1000-task chain vs shell loop    2.10s     1.80s  1.17x  <1x     MISS      5
broken                               -                   <=2x    ERROR
`
	if got := buf.String(); !strings.HasPrefix(got, want) {
		t.Errorf("table:\n%s\nwant it to start with:\n%s", got, want)
	}
	for _, s := range []string{"goflyte:  launch", "baseline: exec", `error in "broken": goflyte: boom`, "1m1s in total"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}

	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Machine Machine
		Results []struct {
			Name    string
			Verdict string
			Ratio   float64
			Goflyte *struct {
				MedianNS int64 `json:"median_ns"`
			}
			Baseline *struct {
				MedianNS int64 `json:"median_ns"`
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, buf.Bytes())
	}
	if back.Machine.NumCPU != 2 || len(back.Results) != 4 || back.Results[2].Verdict != VerdictMiss ||
		back.Results[0].Goflyte.MedianNS != int64(11400*time.Microsecond) || back.Results[1].Baseline != nil {
		t.Errorf("JSON round trip: %+v", back)
	}
}

// The real rows are well formed: unique ids, a setup for every side, and a
// baseline and direction wherever there is a target.
func TestComparisons(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range comparisons() {
		if c.ID == "" || c.Name == "" || seen[c.ID] {
			t.Errorf("row %q (%s): empty or duplicate id or name", c.ID, c.Name)
		}
		seen[c.ID] = true
		if c.Goflyte.Setup == nil || c.Goflyte.What == "" || (c.Baseline != nil && (c.Baseline.Setup == nil || c.Baseline.What == "")) {
			t.Errorf("row %q: a side lacks Setup or What", c.ID)
		}
		if c.Target != 0 && (c.Baseline == nil || (c.Op != AtMost && c.Op != Below)) {
			t.Errorf("row %q: a target needs a baseline and an Op", c.ID)
		}
		if c.N < 1 || c.QuickN < 1 || c.QuickN > c.N {
			t.Errorf("row %q: N=%d QuickN=%d", c.ID, c.N, c.QuickN)
		}
	}
}

// The generated workflows pass the checks that need no plugin: syntax,
// names, references and cycles.
func TestGeneratedWorkflows(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{"chain": chainWorkflow(50), "fanout": fanoutWorkflow(50)} {
		path := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		wf, diags := config.NewParser().LoadWorkflowFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		w := wf.Workflows[0]
		switch name {
		case "chain":
			if len(w.Tasks) != 50 || len(w.Tasks[49].Deps) != 1 || w.Tasks[49].Deps[0] != "t49" {
				t.Errorf("chain: %d tasks, last depends on %v", len(w.Tasks), w.Tasks[len(w.Tasks)-1].Deps)
			}
		case "fanout":
			join := w.Tasks[len(w.Tasks)-1]
			if len(w.Tasks) != 51 || len(w.Tasks[0].Deps) != 0 || len(join.Deps) != 50 || join.Uses != "text.join" {
				t.Errorf("fanout: %d tasks, join %s depends on %d", len(w.Tasks), join.Uses, len(join.Deps))
			}
		}
	}
}

func TestMainFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"-list"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "warm-call") {
		t.Errorf("-list: exit %d, stdout %q", code, stdout.String())
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"-run", "no-such-row"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "selects no row") {
		t.Errorf("-run no-such-row: exit %d, stderr %q", code, stderr.String())
	}
}

// The cached re-run's workflow: 10,000 independent, cached text.upper
// tasks with distinct inputs, in a form the workflow parser accepts.
func TestCachedWorkflow(t *testing.T) {
	src := cachedWorkflow(cachedTasks)
	path := filepath.Join(t.TempDir(), "cached.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(wf.Workflows) != 1 {
		t.Fatalf("%d workflows, want 1", len(wf.Workflows))
	}
	w := wf.Workflows[0]
	if len(w.Tasks) != cachedTasks || len(w.Inputs) != 0 || len(w.Outputs) != 0 {
		t.Fatalf("%d tasks, %d inputs, %d outputs; want %d, 0, 0", len(w.Tasks), len(w.Inputs), len(w.Outputs), cachedTasks)
	}
	texts := map[string]bool{}
	for i, task := range w.Tasks {
		if task.Name != fmt.Sprintf("t%d", i+1) || task.Uses != "text.upper" || task.Cache == nil || !*task.Cache ||
			task.CacheVersion != "1" || len(task.Deps) != 0 || len(task.Inputs) != 1 || task.Inputs[0].Name != "text" {
			t.Fatalf("task %d: %s uses %s, cache %v version %q, deps %v, %d inputs", i, task.Name, task.Uses, task.Cache, task.CacheVersion, task.Deps, len(task.Inputs))
		}
		v, d := task.Inputs[0].Expr.Value(nil)
		if d.HasErrors() || v.Type() != cty.String {
			t.Fatalf("task %s: text is not a constant string: %v", task.Name, d)
		}
		texts[v.AsString()] = true
	}
	if len(texts) != cachedTasks || !texts["w1"] || !texts[fmt.Sprintf("w%d", cachedTasks)] {
		t.Errorf("%d distinct inputs, want %d (w1 to w%d)", len(texts), cachedTasks, cachedTasks)
	}
	// Compact: 83 bytes a task (the names and texts of t10000 take 10).
	if per := len(src) / cachedTasks; per > 85 {
		t.Errorf("%d bytes per task", per)
	}
}

// The summary line the cache rows check is the one `goflyte run` prints.
func TestRunSummary(t *testing.T) {
	stderr := "\ncached succeeded in 364.3ms (10000 succeeded, 10000 from the cache)\n  execution local:local:r1\n"
	if err := checkSummary(stderr, 10000, 10000); err != nil {
		t.Error(err)
	}
	if err := checkSummary(stderr, 10000, 0); err == nil {
		t.Error("a fully cached run passes as a first run")
	}
	if err := checkSummary("\ncached succeeded in 4.1s (10000 succeeded)\n", 10000, 0); err != nil {
		t.Error(err)
	}
	if err := checkSummary("\ncached succeeded in 1s (9999 succeeded, 9999 from the cache)\n", 10000, 10000); err == nil {
		t.Error("a run of 9999 tasks passes")
	}
}

// Both sides of the cache-read row read the same entry file, where the
// cache's layout puts it.
func TestCacheReadSides(t *testing.T) {
	env := &Env{Dir: t.TempDir()}
	ctx := context.Background()
	get, err := setupCacheGet(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	read, err := setupCacheReadFile(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Sampler{get, read, get} {
		if d, err := s(ctx); err != nil || d <= 0 {
			t.Fatalf("sample: %v, %v", d, err)
		}
	}
	ce, err := env.CacheEntry()
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.outputs) != cacheReadOutputs || ce.size < cacheReadOutputs || ce.size > cacheReadOutputs+512 {
		t.Errorf("outputs %d bytes, file %d bytes; want outputs of %d", len(ce.outputs), ce.size, cacheReadOutputs)
	}
	hexKey := ce.key.String()
	if want := filepath.Join(ce.cache.Dir(), hexKey[:2], hexKey); ce.cache.Path(ce.key) != want {
		t.Errorf("entry at %s, want %s", ce.cache.Path(ce.key), want)
	}
}

// A row with an absolute limit: its verdict is reported beside the
// ratio's, and the row misses if either target does.
func TestLimit(t *testing.T) {
	ms := time.Millisecond
	var calls []string
	comps := []Comparison{
		{
			ID: "both-miss", Name: "limited",
			Goflyte:  fakeSide("g", &calls, 800*ms),
			Baseline: ptr(fakeSide("b", &calls, 4000*ms)),
			Target:   0.05, Op: AtMost, Limit: 500 * ms, N: 1,
		},
		{
			ID: "limit-miss", Name: "ratio ok, limit missed",
			Goflyte:  fakeSide("g", &calls, 800*ms),
			Baseline: ptr(fakeSide("b", &calls, 40000*ms)),
			Target:   0.05, Op: AtMost, Limit: 500 * ms, N: 1,
		},
		{
			ID: "limit-only", Name: "limit only",
			Goflyte: fakeSide("g", &calls, 400*ms),
			Limit:   500 * ms, N: 1,
		},
	}
	results := Run(context.Background(), &Env{}, comps, RunOptions{})
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	both, limitMiss, only := results[0], results[1], results[2]
	if both.Info || both.Verdict != VerdictMiss || both.LimitVerdict != VerdictMiss || both.verdictCell() != "MISS" {
		t.Errorf("both-miss: %+v", both)
	}
	if limitMiss.Verdict != VerdictOK || limitMiss.LimitVerdict != VerdictMiss || limitMiss.verdictCell() != "MISS" {
		t.Errorf("limit-miss: %+v", limitMiss)
	}
	if only.Info || only.Verdict != "" || only.LimitVerdict != VerdictOK || only.verdictCell() != VerdictOK || only.targetCell() != "<=500ms" {
		t.Errorf("limit-only: %+v", only)
	}
	if got := both.targetCell(); got != "<=0.05x, <=500ms" {
		t.Errorf("target cell %q", got)
	}
	rep := &Report{Results: results}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"targets:  ratio 0.20x <=0.05x: MISS; goflyte median 800ms <=500ms: MISS",
		"targets:  ratio 0.02x <=0.05x: ok; goflyte median 800ms <=500ms: MISS",
		"targets:  goflyte median 400ms <=500ms: ok",
	} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, `"limit_ns": 500000000`) || !strings.Contains(s, `"limit_verdict": "miss"`) {
		t.Errorf("JSON lacks the limit:\n%s", s)
	}
}

func TestPlainFanOutCaseHasNoCache(t *testing.T) {
	c := plainFanOutCase()
	if strings.Contains(c.workflow, "cache") || !strings.Contains(c.workflow, "for_each") {
		t.Errorf("workflow:\n%s", c.workflow)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{950, "950 B"},
		{12340, "12.3 KB"},
		{4_100_000, "4.10 MB"},
		{770_000_000, "770 MB"},
		{1_200_000_000, "1.20 GB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	r := Result{Unit: UnitBytes, Goflyte: &Stats{Median: 344_000_000}, Limit: rssLimit}
	if got := r.goflyteCell(); got != "344 MB" {
		t.Errorf("goflyte cell of a bytes row = %q", got)
	}
	if got := r.targetCell(); got != "<=400 MB" {
		t.Errorf("target cell of a bytes row = %q", got)
	}
}

func TestShortAndPeerSelection(t *testing.T) {
	short := &Comparison{ID: "a", Short: true, N: 30, Warmup: 3}
	long := &Comparison{ID: "b", N: 5}
	peer := &Comparison{ID: "c", Peer: true}
	for _, tc := range []struct {
		opts             RunOptions
		short, long, per bool
	}{
		{RunOptions{}, true, true, false},
		{RunOptions{Short: true}, true, false, false},
		{RunOptions{Peers: true}, true, true, true},
		{RunOptions{Peers: true, Filter: regexp.MustCompile("^c$")}, false, false, true},
	} {
		if got := [3]bool{tc.opts.Selected(short), tc.opts.Selected(long), tc.opts.Selected(peer)}; got != [3]bool{tc.short, tc.long, tc.per} {
			t.Errorf("%+v selects %v, want %v", tc.opts, got, [3]bool{tc.short, tc.long, tc.per})
		}
	}
	if n, w := short.samplesIn(RunOptions{Short: true}); n != 3 || w != 1 {
		t.Errorf("short mode samples = %d, %d warm-up; want 3, 1", n, w)
	}
	if n, w := long.samplesIn(RunOptions{Short: true}); n != 1 || w != 0 {
		t.Errorf("short mode samples = %d, %d warm-up; want 1, 0", n, w)
	}
	noisy := &Comparison{ID: "d", Short: true, N: 5, Warmup: 1, ShortN: 3}
	if n, w := noisy.samplesIn(RunOptions{Short: true}); n != 3 || w != 1 {
		t.Errorf("short mode samples with ShortN 3 = %d, %d warm-up; want 3, 1", n, w)
	}
	if n, _ := noisy.samplesIn(RunOptions{}); n != 5 {
		t.Errorf("samples with ShortN 3 outside -short = %d, want 5", n)
	}
}

func TestPeerWorkflows(t *testing.T) {
	tf := goTaskfile(3)
	if !strings.Contains(tf, "  t3:\n    deps: [t2]\n    cmds:\n      - echo HELLO\n") || strings.Contains(tf, "deps: [t0]") {
		t.Errorf("Taskfile:\n%s", tf)
	}
	dag := daguChain(3)
	if !strings.Contains(dag, "  - name: s3\n    command: echo HELLO\n    depends: [s2]\n") || strings.Count(dag, "depends") != 2 {
		t.Errorf("Dagu DAG:\n%s", dag)
	}
	if got := thousands(100000); got != "100,000" {
		t.Errorf("thousands(100000) = %q", got)
	}
}
