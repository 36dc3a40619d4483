package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/remote"
)

// The workflow's unit tests run the real workflow files against the real
// plugins' schemas (testdata/schemas), with the tasks faked by Go
// functions: the same functions serve as Temporal activities registered
// by name (the worker's part, which the worker engineer builds) and as
// an in-process plugin of the local engine, so that a run's outputs can
// be compared between the two drivers.

// call is one task call as a fake task sees it.
type call struct {
	Node    string
	Attempt int
	In      map[string]any
	// Run runs another task as an eager task's child.
	Run func(task string, inputs map[string]any) (map[string]any, error)
}

// taskFunc is a fake task. A returned *plugin.TaskError is the task's
// failure; errLost makes the worker vanish (a heartbeat timeout). Outputs
// with the key "__workflow" are a dynamic task's workflow source.
type taskFunc func(ctx context.Context, c call) (map[string]any, error)

// errLost is a fake task's way of losing its worker.
var errLost = errors.New("worker lost")

// fakeTasks are the example plugins' tasks, faked as the plugins do
// them, with test hooks: text.upper fails retryably for "flaky" on its
// first two attempts and always for "always"; text.sleep waits for its
// context or ms of wall time.
type fakeTasks struct {
	plugins map[string]remote.PluginRef
	funcs   map[string]taskFunc
	// hits are the task ids whose remote calls report a cache hit.
	hits map[string]bool
	// digestMismatch are task ids the worker refuses.
	digestMismatch map[string]bool

	mu       sync.Mutex
	inputs   []remote.TaskInput // every remote call, in order
	wfTypes  map[string]int     // the workflow types the calls came from
	inFlight map[string]*atomic.Int32
	maxIn    map[string]int32
	// objects are the data store of the fake remote.ActivitySaveState,
	// saved what it was asked to save.
	objects map[string][]byte
	saved   []remote.SaveState
	// parts are the fake remote.ActivityLoadPart's reads, stored the
	// URIs of the fake remote.ActivityStoreValue's values.
	parts  []remote.LoadPart
	stored []string
	// results, in Temporal's test environment, bounds the task results
	// waiting for its loop (boundResults); nil on a real server.
	results chan struct{}
}

func newFakeTasks(plugins map[string]remote.PluginRef) *fakeTasks {
	f := &fakeTasks{plugins: plugins, hits: map[string]bool{}, digestMismatch: map[string]bool{},
		inFlight: map[string]*atomic.Int32{}, maxIn: map[string]int32{}}
	f.funcs = map[string]taskFunc{
		"text.split": func(_ context.Context, c call) (map[string]any, error) {
			text, _ := c.In["text"].(string)
			sep, _ := c.In["sep"].(string)
			words := []string{}
			switch {
			case sep == "":
				words = append(words, strings.Fields(text)...)
			case text != "":
				words = strings.Split(text, sep)
			}
			return map[string]any{"words": words}, nil
		},
		"text.count": func(_ context.Context, c call) (map[string]any, error) {
			words := strs(c.In["words"])
			seen := map[string]bool{}
			for _, w := range words {
				seen[w] = true
			}
			return map[string]any{"n": len(words), "unique": len(seen)}, nil
		},
		"text.upper": func(_ context.Context, c call) (map[string]any, error) {
			text, _ := c.In["text"].(string)
			switch {
			case text == "flaky" && c.Attempt < 3, text == "always":
				return nil, &plugin.TaskError{Message: fmt.Sprintf("upper: %s failure on attempt %d", text, c.Attempt), Retryable: true}
			case text == "lost":
				return nil, errLost
			}
			return map[string]any{"text": strings.ToUpper(text)}, nil
		},
		"text.join": func(_ context.Context, c call) (map[string]any, error) {
			sep := " "
			if s, ok := c.In["sep"].(string); ok {
				sep = s
			}
			return map[string]any{"text": strings.Join(strs(c.In["words"]), sep)}, nil
		},
		"text.top": func(_ context.Context, c call) (map[string]any, error) {
			counts := map[string]int{}
			for _, w := range strs(c.In["words"]) {
				counts[w]++
			}
			type wc struct {
				Word  string `json:"word"`
				Count int    `json:"count"`
			}
			var list []wc
			for w, n := range counts {
				list = append(list, wc{w, n})
			}
			sort.Slice(list, func(i, j int) bool {
				if list[i].Count != list[j].Count {
					return list[i].Count > list[j].Count
				}
				return list[i].Word < list[j].Word
			})
			k := int(c.In["k"].(float64))
			if k < len(list) {
				list = list[:k]
			}
			return map[string]any{"top": list}, nil
		},
		"text.fail": func(_ context.Context, c call) (map[string]any, error) {
			return nil, &plugin.TaskError{Message: c.In["message"].(string)}
		},
		"text.sleep": func(ctx context.Context, c call) (map[string]any, error) {
			ms := c.In["ms"].(float64)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(ms) * time.Millisecond):
			}
			return map[string]any{"slept_ms": ms}, nil
		},
		"text.count_each": func(_ context.Context, c call) (map[string]any, error) {
			if texts := strs(c.In["texts"]); len(texts) > 0 && texts[0] == "__for_each" {
				// A test hook: one for_each over the other texts.
				quoted := make([]string, len(texts)-1)
				for i, text := range texts[1:] {
					quoted[i] = fmt.Sprintf("%q", text)
				}
				src := fmt.Sprintf("workflow \"count_each\" {\n  task \"split\" {\n    uses     = \"text.split\"\n    for_each = [%s]\n    inputs   = { text = each.value }\n  }\n"+
					"  output \"counts\" { value = [for w in task.split.words : length(w)] }\n}\n", strings.Join(quoted, ", "))
				return map[string]any{"__workflow": src}, nil
			}
			var b strings.Builder
			b.WriteString("workflow \"count_each\" {\n")
			var outs []string
			for i, text := range strs(c.In["texts"]) {
				fmt.Fprintf(&b, "  task \"split%d\" {\n    uses = \"text.split\"\n    inputs = { text = %q }\n  }\n", i, text)
				fmt.Fprintf(&b, "  task \"count%d\" {\n    uses = \"text.count\"\n    inputs = { words = task.split%d.words }\n  }\n", i, i)
				outs = append(outs, fmt.Sprintf("task.count%d.n", i))
			}
			fmt.Fprintf(&b, "  output \"counts\" { value = [%s] }\n}\n", strings.Join(outs, ", "))
			return map[string]any{"__workflow": b.String()}, nil
		},
		"text.shout_all": func(_ context.Context, c call) (map[string]any, error) {
			var shouts []string
			for _, text := range strs(c.In["texts"]) {
				out, err := c.Run("text.upper", map[string]any{"text": text})
				if err != nil {
					return nil, err
				}
				shouts = append(shouts, out["text"].(string))
			}
			return map[string]any{"shouts": shouts}, nil
		},
		// The worker resolves the secret; the fake only signs.
		"sign.hmac": func(_ context.Context, c call) (map[string]any, error) {
			return map[string]any{"signature": "sig:" + c.In["message"].(string), "key_id": "k1"}, nil
		},
		"sign.verify": func(_ context.Context, c call) (map[string]any, error) {
			return map[string]any{"valid": c.In["signature"] == "sig:"+c.In["message"].(string)}, nil
		},
		"math.sum": func(_ context.Context, c call) (map[string]any, error) {
			total := 0.0
			for _, v := range c.In["values"].([]any) {
				total += v.(float64)
			}
			return map[string]any{"total": total}, nil
		},
		"math.div": func(_ context.Context, c call) (map[string]any, error) {
			a, b := c.In["a"].(float64), c.In["b"].(float64)
			if b == 0 {
				return nil, &plugin.TaskError{Message: "division by zero"}
			}
			return map[string]any{"quotient": a / b}, nil
		},
	}
	return f
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, s := range l {
		out[i], _ = s.(string)
	}
	return out
}

// pendingResults is how many task results may wait for the loop of
// Temporal's test environment (boundResults): half of what its channel
// holds.
const pendingResults = 500

// boundResults bounds the task results waiting for env's loop. The SDK's
// test environment hands every activity's result to its loop through a
// channel of 1,000, on which the loop itself also sends (a child
// workflow's end, for one): with 1,000 results waiting, it blocks on
// itself for good. A run of more than MaxInFlight instances
// (TestManyInstances) got there within 40-83 runs, and once in CI. So a task's
// first attempt takes a slot before it runs (waitResult) and the loop
// gives it back when it has handled the task's result.
func (f *fakeTasks) boundResults(env *testsuite.TestWorkflowEnvironment) {
	results := make(chan struct{}, pendingResults)
	f.mu.Lock()
	f.results = results
	f.mu.Unlock()
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		if _, ok := f.funcs[info.ActivityType.Name]; !ok {
			return
		}
		select {
		case <-results:
		default: // it held none (cancelled while it waited); never block the loop
		}
	})
}

// waitResult takes a slot of results for the task's first attempt,
// heartbeating while it waits, as the worker does for a task slot.
func waitResult(ctx context.Context, results chan struct{}) error {
	if results == nil || activity.GetInfo(ctx).Attempt > 1 {
		return nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case results <- struct{}{}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			activity.RecordHeartbeat(ctx)
		}
	}
}

// enter counts a call of task id in flight and returns its leave.
func (f *fakeTasks) enter(id string) func() {
	f.mu.Lock()
	c := f.inFlight[id]
	if c == nil {
		c = &atomic.Int32{}
		f.inFlight[id] = c
	}
	n := c.Add(1)
	if n > f.maxIn[id] {
		f.maxIn[id] = n
	}
	f.mu.Unlock()
	return func() { c.Add(-1) }
}

// calls returns the remote calls made so far.
func (f *fakeTasks) calls() []remote.TaskInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]remote.TaskInput(nil), f.inputs...)
}

// activityRegistry is what the test environment and a worker share.
type activityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// register registers every fake task as the activity
// remote.ActivityName(plugin, task), as a worker would, and
// remote.ActivityLoadOutputs.
// gate makes f's calls of nodes other than free wait until release is
// called (or their context ends), so that a test can order its calls
// however the machine schedules them.
func (f *fakeTasks) gate(free ...string) (release func()) {
	open := make(chan struct{})
	for id, fn := range f.funcs {
		f.funcs[id] = func(ctx context.Context, c call) (map[string]any, error) {
			if !slices.Contains(free, c.Node) {
				select {
				case <-open:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return fn(ctx, c)
		}
	}
	return sync.OnceFunc(func() { close(open) })
}

func (f *fakeTasks) register(r activityRegistry) {
	f.registerTasks(r, "")
	f.registerLoad(r)
}

// registerTasks registers the fake tasks of plugin ("" for every
// plugin) as activities.
func (f *fakeTasks) registerTasks(r activityRegistry, plugin string) {
	for _, id := range sortedIDs(f.funcs) {
		if plugin != "" && !strings.HasPrefix(id, plugin+".") {
			continue
		}
		r.RegisterActivityWithOptions(func(ctx context.Context, in remote.TaskInput) (*remote.TaskOutput, error) {
			return f.activity(ctx, id, in)
		}, activity.RegisterOptions{Name: id})
	}
}

// registerLoad registers remote.ActivityLoadOutputs, reading the fake
// references "inline:<json>" that activity makes and the "mem://" objects
// of the fake remote.ActivitySaveState, which it registers too.
func (f *fakeTasks) registerLoad(r activityRegistry) {
	r.RegisterActivityWithOptions(func(_ context.Context, uri string) (json.RawMessage, error) {
		if data, ok := strings.CutPrefix(uri, "inline:"); ok {
			return json.RawMessage(data), nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if data, ok := f.objects[uri]; ok {
			return json.RawMessage(data), nil
		}
		return nil, fmt.Errorf("no such object %s", uri)
	}, activity.RegisterOptions{Name: remote.ActivityLoadOutputs})
	r.RegisterActivityWithOptions(func(_ context.Context, in remote.SaveState) ([]string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.objects == nil {
			f.objects = map[string][]byte{}
		}
		f.saved = append(f.saved, in)
		if in.Whole {
			uri := fmt.Sprintf("mem://%s/%s.json", in.DataPrefix, in.Key)
			f.objects[uri] = in.Data
			return []string{uri}, nil
		}
		var uris []string
		for i, part := range remote.SplitState(in.Data) {
			uri := fmt.Sprintf("mem://%s/%s/part-%d.json", in.DataPrefix, in.Key, i)
			f.objects[uri] = part
			uris = append(uris, uri)
		}
		return uris, nil
	}, activity.RegisterOptions{Name: remote.ActivitySaveState})
	r.RegisterActivityWithOptions(func(_ context.Context, in remote.LoadPart) (remote.ValuePart, error) {
		data, err := f.object(in.URI)
		if err != nil {
			return remote.ValuePart{}, err
		}
		f.mu.Lock()
		f.parts = append(f.parts, in)
		f.mu.Unlock()
		// Small parts, so that every value takes several.
		end := min(in.Offset+fakePartBytes, int64(len(data)))
		return remote.ValuePart{Data: data[in.Offset:end], Total: int64(len(data))}, nil
	}, activity.RegisterOptions{Name: remote.ActivityLoadPart})
	r.RegisterActivityWithOptions(func(_ context.Context, in remote.StoreValue) (string, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.objects == nil {
			f.objects = map[string][]byte{}
		}
		uri := fmt.Sprintf("mem://%s/%s", in.DataPrefix, in.Key)
		f.objects[uri] = in.Data
		f.stored = append(f.stored, uri)
		return uri, nil
	}, activity.RegisterOptions{Name: remote.ActivityStoreValue})
}

// fakePartBytes is the size of the fake remote.ActivityLoadPart's parts.
const fakePartBytes = 64 << 10

// object is the value at uri: a fake reference "inline:<json>" or a
// "mem://" object.
func (f *fakeTasks) object(uri string) ([]byte, error) {
	if data, ok := strings.CutPrefix(uri, "inline:"); ok {
		return []byte(data), nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if data, ok := f.objects[uri]; ok {
		return data, nil
	}
	return nil, fmt.Errorf("no such object %s", uri)
}

// resolveInputs reads an attempt's inputs that came by reference, as the
// worker does.
func (f *fakeTasks) resolveInputs(in *remote.TaskInput) error {
	if in.InputsRef != "" {
		data, err := f.object(in.InputsRef)
		if err != nil {
			return err
		}
		in.Inputs = data
	}
	if len(in.InputRefs) == 0 {
		return nil
	}
	obj := map[string]json.RawMessage{}
	if err := json.Unmarshal(in.Inputs, &obj); err != nil {
		return err
	}
	for name, ref := range in.InputRefs {
		data, err := f.object(ref.URI)
		if err != nil {
			return err
		}
		if ref.Field != "" {
			var o map[string]json.RawMessage
			if err := json.Unmarshal(data, &o); err != nil {
				return err
			}
			data = o[ref.Field]
		}
		obj[name] = data
	}
	data, err := json.Marshal(obj)
	in.Inputs = data
	return err
}

func sortedIDs(m map[string]taskFunc) []string {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// activity is the worker's part of a task attempt, faked.
func (f *fakeTasks) activity(ctx context.Context, id string, in remote.TaskInput) (*remote.TaskOutput, error) {
	// As the worker does: the activity's name says the plugin and task.
	in.Plugin, in.Task, _ = strings.Cut(id, ".")
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	if f.wfTypes == nil {
		f.wfTypes = map[string]int{}
	}
	f.wfTypes[activity.GetInfo(ctx).WorkflowType.Name]++
	results := f.results
	f.mu.Unlock()
	if err := waitResult(ctx, results); err != nil {
		return nil, err
	}
	defer f.enter(id)()
	start := time.Now()
	if f.digestMismatch[id] {
		msg := fmt.Sprintf("plugin %q on this worker is not the one the run was validated against (sha256 %s, the run's %s)", in.Plugin, "other", in.PluginSHA256)
		return nil, temporal.NewNonRetryableApplicationError(msg, remote.ErrDigestMismatch, nil,
			remote.TaskFailure{Message: msg, Kind: "digest", Worker: "fake"})
	}
	if f.hits[id] && in.Cache != nil {
		return &remote.TaskOutput{Outputs: json.RawMessage(`{"text":"FROM CACHE"}`), Cache: "hit", CacheKey: "key-" + in.Node, Worker: "fake", Start: start, End: start}, nil
	}
	if err := f.resolveInputs(&in); err != nil {
		return nil, err
	}
	var inputs map[string]any
	if err := json.Unmarshal(in.Inputs, &inputs); err != nil {
		return nil, err
	}
	out := &remote.TaskOutput{Worker: "fake", WorkDir: fmt.Sprintf("/work/%s/%d", in.Node, in.Attempt), Start: start,
		Checkpoint: fmt.Sprintf("mem://cp/%s/%d", in.Node, in.Attempt), Logs: fmt.Sprintf("mem://logs/%s.%d.log", in.Node, in.Attempt)}
	n := 0
	c := call{Node: in.Node, Attempt: in.Attempt, In: inputs, Run: func(task string, inputs map[string]any) (map[string]any, error) {
		n++
		outs, err := f.funcs[task](ctx, call{Node: fmt.Sprintf("%s+%d+%s", in.Node, n, task), Attempt: 1, In: roundTrip(inputs)})
		status := "succeeded"
		if err != nil {
			status = "failed: " + err.Error()
		}
		out.Children = append(out.Children, fmt.Sprintf("%d %s %s", n, task, status))
		// As the worker's engine reports a child: a one-task graph whose
		// node is named after the task.
		child := sandbox.TaskRecord{Name: fmt.Sprintf("%s+%d+%s", in.Node, n, task[strings.IndexByte(task, '.')+1:]), Task: task,
			Status: "succeeded", Attempts: 1, Start: time.Now(), End: time.Now(), LogURIs: []string{fmt.Sprintf("mem://logs/%s+%d.log", in.Node, n)}}
		if err != nil {
			child.Status, child.Error = "failed", err.Error()
		}
		out.Nested = append(out.Nested, child)
		return outs, err
	}}
	outs, err := f.funcs[id](ctx, c)
	out.End = time.Now()
	var te *plugin.TaskError
	switch {
	case errors.Is(err, errLost):
		return nil, temporal.NewHeartbeatTimeoutError()
	case errors.As(err, &te):
		return nil, temporal.NewNonRetryableApplicationError(te.Error(), remote.ErrTaskFailed, nil, remote.TaskFailure{
			Message: te.Error(), Retryable: te.Retryable, Kind: "task", Worker: "fake", WorkDir: out.WorkDir,
			Checkpoint: out.Checkpoint, Logs: out.Logs, Start: out.Start, End: out.End})
	case err != nil:
		return nil, err
	}
	if src, ok := outs["__workflow"].(string); ok {
		out.Dynamic = &remote.DynamicWorkflow{Source: src, Plugins: f.plugins}
		return out, nil
	}
	data, err := json.Marshal(outs)
	if err != nil {
		return nil, err
	}
	if len(data) > 64 {
		// Exercise the reference path with anything but tiny outputs.
		out.OutputsRef = "inline:" + string(data)
	} else {
		out.Outputs = data
	}
	return out, nil
}

func roundTrip(v map[string]any) map[string]any {
	data, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

// provider is the fake tasks of one plugin as an in-process plugin of
// the local engine.
type provider struct {
	f    *fakeTasks
	name string
}

func (p provider) Describe(context.Context) (*plugin.Schema, error) {
	return p.f.plugins[p.name].Schema, nil
}

func (p provider) Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	id := p.name + "." + req.Task
	fn := p.f.funcs[id]
	if fn == nil {
		return nil, &plugin.TaskError{Message: "no such task " + id}
	}
	var in map[string]any
	if err := json.Unmarshal(req.Inputs, &in); err != nil {
		return nil, err
	}
	c := call{Node: req.Params.Node, Attempt: req.Params.Attempt, In: in, Run: func(task string, inputs map[string]any) (map[string]any, error) {
		data, _ := json.Marshal(inputs)
		raw, err := req.Host.RunTask(ctx, req.CallID, task, data)
		if err != nil {
			return nil, err
		}
		var out map[string]any
		return out, json.Unmarshal(raw, &out)
	}}
	outs, err := fn(ctx, c)
	if errors.Is(err, errLost) {
		return nil, &plugin.TaskError{Message: "worker lost"}
	}
	if err != nil {
		return nil, err
	}
	if src, ok := outs["__workflow"].(string); ok {
		return &plugin.ExecuteResult{Workflow: src}, nil
	}
	data, err := json.Marshal(outs)
	return &plugin.ExecuteResult{Outputs: data}, err
}
