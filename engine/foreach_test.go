package engine

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

func TestForEachList(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "f" {
  input "items" { type = list(string) }
  task "each" {
    uses     = "fake.echo"
    for_each = input.items
    inputs   = { s = "${each.key}:${each.value}" }
  }
  task "count" {
    uses   = "fake.count"
    inputs = { words = task.each.s }
  }
  output "all" { value = task.each.s }
  output "n" { value = task.count.n }
}`, map[string]string{"items": `["a","b","c"]`}, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := map[string]string{"all": FormatValue(res.Outputs["all"]), "n": FormatValue(res.Outputs["n"])}
	if diff := cmp.Diff(map[string]string{"all": `["0:a","1:b","2:c"]`, "n": "3"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if res.Tasks[0].Instances != 3 {
		t.Errorf("instances = %d", res.Tasks[0].Instances)
	}
}

func TestForEachMap(t *testing.T) {
	e, _ := newTestEngine(t)
	res := mustRun(t, e, `workflow "f" {
  task "add" {
    uses     = "fake.add"
    for_each = { x = 1, y = 2 }
    inputs   = { a = each.value, b = 10 }
  }
  output "sums" { value = task.add.sum }
  output "y" { value = task.add.sum["y"] }
}`, nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if got := FormatValue(res.Outputs["sums"]); got != `{"x":11,"y":12}` {
		t.Errorf("sums = %s", got)
	}
	if got := FormatValue(res.Outputs["y"]); got != "12" {
		t.Errorf("y = %s", got)
	}
}

func TestForEachMaxParallelAndThousands(t *testing.T) {
	e, f := newTestEngine(t)
	res := mustRun(t, e, `workflow "f" {
  task "many" {
    uses         = "fake.echo"
    for_each     = flatten([range(1000), range(1000, 2000)]) # range stops at 1024 values
    inputs       = { s = "item ${each.value}" }
    max_parallel = 1
  }
  output "last" { value = task.many.s[1999] }
  output "n" { value = length(task.many.s) }
}`, nil, RunOptions{Parallelism: 4})
	if res.Status != StatusSucceeded || FormatValue(res.Outputs["last"]) != "item 1999" || FormatValue(res.Outputs["n"]) != "2000" {
		t.Fatalf("status %s, outputs %v, err %v", res.Status, res.Outputs, res.Err)
	}
	if got := f.maxIn.Load(); got != 1 {
		t.Errorf("max instances in flight = %d with max_parallel = 1", got)
	}
}

func TestForEachMinSuccessRatio(t *testing.T) {
	src := `workflow "f" {
  task "some" {
    uses              = "fake.failif"
    for_each          = ["ok", "bad", "ok", "ok"]
    inputs            = { s = each.value }
    min_success_ratio = RATIO
  }
  output "s" { value = task.some.s }
}`
	e, _ := newTestEngine(t)
	res := mustRun(t, e, strings.Replace(src, "RATIO", "0.75", 1), nil, RunOptions{})
	if res.Status != StatusSucceeded {
		t.Fatalf("3 of 4 with ratio 0.75: status %s, err %v", res.Status, res.Err)
	}
	if got := FormatValue(res.Outputs["s"]); got != `["ok",null,"ok","ok"]` {
		t.Errorf("outputs = %s, want the failed element null", got)
	}
	if got := res.Tasks[0].FailedInstances; len(got) != 1 || !strings.HasPrefix(got[0], "1: ") {
		t.Errorf("failed instances = %v", got)
	}
	res = mustRun(t, e, strings.Replace(src, "RATIO", "1", 1), nil, RunOptions{})
	if res.Status != StatusFailed || !strings.Contains(res.Err.Error(), "1 of 4 instances failed") {
		t.Errorf("ratio 1: status %s, err %v", res.Status, res.Err)
	}
}

func TestForEachInstancesAreCached(t *testing.T) {
	e, f := newTestEngine(t)
	src := `workflow "f" {
  task "c" {
    uses          = "fake.echo"
    for_each      = ["a", "b"]
    inputs        = { s = each.value }
    cache         = true
    cache_version = "1"
  }
}`
	mustRun(t, e, src, nil, RunOptions{})
	calls := len(f.callsOf("echo"))
	res := mustRun(t, e, src, nil, RunOptions{})
	if res.Status != StatusSucceeded || len(f.callsOf("echo")) != calls {
		t.Errorf("a second run called echo %d more times, want 0", len(f.callsOf("echo"))-calls)
	}
}

// TestForEachPartlyCached runs a cached for_each whose instances are
// partly in the cache, in several patterns (hits first, misses first,
// interleaved, more than the look-ahead's run of misses): the hits come
// from the cache (found ahead of the plan), the misses run, and the
// outputs are in element order.
func TestForEachPartlyCached(t *testing.T) {
	e, f := newTestEngine(t)
	src := `workflow "f" {
  input "items" { type = list(string) }
  task "c" {
    uses          = "fake.echo"
    for_each      = input.items
    inputs        = { s = each.value }
    cache         = true
    cache_version = "1"
  }
  output "all" { value = task.c.s }
}`
	items := func(names ...string) map[string]string {
		return map[string]string{"items": `["` + strings.Join(names, `","`) + `"]`}
	}
	seq := func(prefix string, n int) []string {
		var s []string
		for i := range n {
			s = append(s, prefix+strconv.Itoa(i))
		}
		return s
	}
	old := seq("old", 100)
	mustRun(t, e, src, items(old...), RunOptions{})
	interleaved := []string{}
	for i, s := range seq("new", 50) {
		interleaved = append(interleaved, old[i], s)
	}
	cases := []struct {
		name  string
		items []string
		hits  int
	}{
		{"all cached", old, 100},
		{"hits first", append(append([]string{}, old...), seq("later", 100)...), 100},
		{"misses first", append(seq("first", 40), old[:60]...), 60},
		{"interleaved", interleaved, 50},
	}
	for _, tc := range cases {
		calls := len(f.callsOf("echo"))
		res := mustRun(t, e, src, items(tc.items...), RunOptions{Parallelism: 2})
		if res.Status != StatusSucceeded {
			t.Fatalf("%s: status %s: %v", tc.name, res.Status, res.Err)
		}
		want := `["` + strings.Join(tc.items, `","`) + `"]`
		if got := FormatValue(res.Outputs["all"]); got != want {
			t.Errorf("%s: outputs = %s, want %s", tc.name, got, want)
		}
		if got := res.Tasks[0].InstanceCacheHits; got != tc.hits {
			t.Errorf("%s: %d instances from the cache, want %d", tc.name, got, tc.hits)
		}
		if got := len(f.callsOf("echo")) - calls; got != len(tc.items)-tc.hits {
			t.Errorf("%s: echo called %d times, want %d", tc.name, got, len(tc.items)-tc.hits)
		}
	}
}

// TestExpandInParallel: the local driver's plan evaluates a large
// for_each's elements on several goroutines; the calls, and the error of
// the first element that fails, are those of one loop.
func TestExpandInParallel(t *testing.T) {
	g := planGraph(t, `workflow "w" {
  input "xs" { type = list(string) }
  task "e" {
    uses     = "fake.echo"
    for_each = input.xs
    inputs   = { s = each.value == "bad" ? jsondecode("{") : upper(each.value) }
  }
}`)
	expand := func(xs []cty.Value, workers int) ([]*Call, error) {
		p := NewPlan(g, map[string]cty.Value{"xs": cty.ListVal(xs)}, 2, nil)
		p.expandWorkers = workers
		return p.expand(p.nodes["e"])
	}
	for _, bad := range [][]int{nil, {2999}, {1500}, {700, 1800, 2900}, {0, 2000}} {
		xs := make([]cty.Value, 3000)
		for i := range xs {
			xs[i] = cty.StringVal(fmt.Sprintf("x%d", i))
		}
		for _, i := range bad {
			xs[i] = cty.StringVal("bad")
		}
		want, wantErr := expand(xs, 1)
		if (wantErr != nil) != (len(bad) > 0) {
			t.Fatalf("bad %v: serial expand: %v", bad, wantErr)
		}
		if len(bad) > 0 && !strings.Contains(wantErr.Error(), fmt.Sprintf("element %d:", bad[0])) {
			t.Errorf("bad %v: serial expand: %v, want element %d's error", bad, wantErr, bad[0])
		}
		for _, workers := range []int{2, 3, 8} {
			got, err := expand(xs, workers)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("bad %v, %d workers: error %v, want %v", bad, workers, err, wantErr)
			}
			if len(got) != len(want) {
				t.Fatalf("bad %v, %d workers: %d calls, want %d", bad, workers, len(got), len(want))
			}
			for i, c := range got {
				w := want[i]
				if c.Name != w.Name || c.Node.Name != w.Node.Name || c.Index != w.Index || !c.Key.RawEquals(w.Key) ||
					string(c.Inputs) != string(w.Inputs) || !maps.Equal(c.Digests, w.Digests) || c.Parent != w.Parent || c.Node.ForEach != nil {
					t.Fatalf("bad %v, %d workers: call %d = %s %s %v, want %s %s %v", bad, workers, i, c.Name, c.Inputs, c.Key, w.Name, w.Inputs, w.Key)
				}
			}
		}
	}
}
