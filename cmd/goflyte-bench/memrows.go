package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The memory rows (the goflyte process's peak RSS for a large for_each),
// the verbose-logs row and the chain step against a bare plugin call
// (issue 17).

// rssTasks is the for_each of the memory rows: 100,000 elements, or
// shortRSSTasks in -short mode.
const (
	rssTasks      = 100000
	shortRSSTasks = 10000
	// rssLimit is the spec's bound for rssTasks elements.
	rssLimit = 400_000_000
)

// benchShort is set by Main in -short mode, before the rows are made.
var benchShort bool

func rssSize() int {
	if benchShort {
		return shortRSSTasks
	}
	return rssTasks
}

func memComparisons() []Comparison {
	n := rssSize()
	rows := []Comparison{
		{
			ID:   "rss-per-1k",
			Name: fmt.Sprintf("engine RSS per 1,000 tasks (for_each over %s)", thousands(n)),
			Goflyte: Side{
				What: fmt.Sprintf("peak RSS of the goflyte process (rusage of the child) for `goflyte run` of a for_each over %s items of text.upper (not cached), ", thousands(n)) +
					"less its peak RSS for the same for_each over 1 item, per 1,000 elements: what each task costs in memory",
				Setup: setupRSS(n, true),
			},
			Unit: UnitBytes,
			N:    1, QuickN: 1, Short: true,
		},
		{
			ID:   "chain-1000-v",
			Name: "1000-task chain with -v vs without",
			Goflyte: Side{
				What:  "`goflyte -v run chain.hcl -q`: the chain-1000 row's workflow with info logging, so that every task keeps its log file (wall time)",
				Setup: setupCLIRunGlobal("chain-v", []string{"-v"}, chainWorkflow(1000), "text = HELLO\n", 1),
			},
			Baseline: &Side{
				What:  "the same run without -v (warning level: no task writes a log line)",
				Setup: setupCLIRun("chain-nov", chainWorkflow(1000), "text = HELLO\n", 1),
			},
			Target: 1.1, Op: AtMost,
			// A sample spreads by +-15% on an idle 2-core VM (330-500 ms,
			// session 12), more than the 10% the row is about: with 5
			// samples a side the ratio of the medians swung by about
			// +-0.09 from run to run. 15 cost about 8 s more.
			N: 15, QuickN: 5, Warmup: 1, Short: true, ShortN: 5,
		},
		{
			ID:   "chain-step-vs-execute",
			Name: "chain step vs bare Client.Execute",
			Goflyte: Side{
				What:  "`goflyte run chain.hcl -q` of 1000 text.upper tasks (the chain-1000 row), wall time divided by 1000: a step with the process's start, parse and compile spread over it",
				Setup: perElement(setupCLIRun("chain-step", chainWorkflow(1000), "text = HELLO\n", 1), 1000),
			},
			Baseline: &Side{
				What: fmt.Sprintf("plugin.Client.Execute(upper) on a running plugin, no engine (the bare-execute row): %d calls in a row, wall time divided by %d, ", bareBatch, bareBatch) +
					"so that each sample is a warm call's cost like the bare-execute row's median, not one call just after a whole CLI run",
				Setup: perElement(batched(setupBareExecute, bareBatch), bareBatch),
			},
			Target: 2, Op: AtMost,
			N: 5, QuickN: 3, Warmup: 1, Short: true, ShortN: 3,
		},
		{
			// No target: the row is the one above. This one shows
			// how much of that row's step is the run's fixed cost.
			ID:   "chain-step-marginal",
			Name: "chain step without the run's fixed cost vs bare Client.Execute",
			Goflyte: Side{
				What: "(wall time of `goflyte run chain.hcl -q` of 1000 text.upper tasks - that of the same run of 1 task) / 999, the two runs one after the other: " +
					"a step without the process's start and exit, parse, compile, plugin launch and the record's final write, which the chain-step-vs-execute row spreads over its steps",
				Setup: setupMarginalStep(1000),
			},
			Baseline: &Side{
				What:  "as the chain-step-vs-execute row's baseline",
				Setup: perElement(batched(setupBareExecute, bareBatch), bareBatch),
			},
			N: 5, QuickN: 3, Warmup: 1,
		},
	}
	if !benchShort {
		rows = append(rows, Comparison{
			ID:   "rss-100k",
			Name: "engine RSS, for_each over 100k",
			Goflyte: Side{
				What:  fmt.Sprintf("peak RSS of the goflyte process for the for_each over %s items of the row above (the same run). Spec: %s or less", thousands(rssTasks), formatBytes(rssLimit)),
				Setup: setupRSS(rssTasks, false),
			},
			Unit: UnitBytes, Limit: rssLimit,
			N: 1, QuickN: 1,
		})
	}
	return rows
}

// bareBatch is how many bare calls one baseline sample of the chain
// step row makes: one call timed right after a CLI run of 1,000 tasks
// (cold caches, a busy machine) cost 5x the bare-execute row's median,
// which made the row's ratio look far better than it is.
const bareBatch = 200

// batched returns a setup whose sampler takes n samples of setup's in a
// row and returns their sum.
func batched(setup func(context.Context, *Env) (Sampler, error), n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		sample, err := setup(ctx, env)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (time.Duration, error) {
			var sum time.Duration
			for range n {
				d, err := sample(ctx)
				if err != nil {
					return 0, err
				}
				sum += d
			}
			return sum, nil
		}, nil
	}
}

// setupMarginalStep samples the cost of one step of an n-step chain
// beyond a 1-step run of the same shape: (run(n) - run(1)) / (n-1). A
// sample whose difference is not positive (the machine stalled during the
// short run) is an error, not a number.
func setupMarginalStep(n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		long, err := setupCLIRun("chain-marginal", chainWorkflow(n), "text = HELLO\n", 1)(ctx, env)
		if err != nil {
			return nil, err
		}
		short, err := setupCLIRun("chain-marginal1", chainWorkflow(1), "text = HELLO\n", 1)(ctx, env)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (time.Duration, error) {
			dl, err := long(ctx)
			if err != nil {
				return 0, err
			}
			ds, err := short(ctx)
			if err != nil {
				return 0, err
			}
			if dl <= ds {
				return 0, fmt.Errorf("a %d-step chain took %v, no longer than a 1-step one (%v)", n, dl, ds)
			}
			return (dl - ds) / time.Duration(n-1), nil
		}, nil
	}
}

// setupCLIRunGlobal is setupCLIRun with global flags before "run".
func setupCLIRunGlobal(name string, global []string, workflow, want string, wantCount int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		w, err := newCLIWorkflow(env, name, workflow)
		if err != nil {
			return nil, err
		}
		w.global = global
		return func(ctx context.Context) (time.Duration, error) {
			d, stdout, _, err := w.run(ctx, nil, "--input", "text=hello")
			if err != nil {
				return 0, err
			}
			if n := strings.Count(stdout, want); n != wantCount {
				return 0, fmt.Errorf("goflyte run %s: stdout has %q %d times, want %d:\n%s", w.file, want, n, wantCount, stdout)
			}
			return d, nil
		}, nil
	}
}

// rssRuns measures peak RSS once per size and bench run: the rows share
// the measurement (a run over 100,000 elements takes a minute or more).
type rssRuns struct {
	mu   sync.Mutex
	byN  map[int]int64
	errs map[int]error
}

var rssMemo = &rssRuns{byN: map[int]int64{}, errs: map[int]error{}}

// peakRSS runs a plain for_each over n items through the CLI once and
// returns the goflyte process's peak RSS.
func (r *rssRuns) peakRSS(ctx context.Context, env *Env, n int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rss, ok := r.byN[n]; ok {
		return rss, r.errs[n]
	}
	rss, err := measureRSS(ctx, env, n)
	r.byN[n], r.errs[n] = rss, err
	return rss, err
}

func measureRSS(ctx context.Context, env *Env, n int) (int64, error) {
	c := plainFanOutCase()
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("w%d", i+1)
	}
	c.inputs, _ = json.Marshal(map[string][]string{"items": items})
	w, err := newCLIWorkflow(env, fmt.Sprintf("rss%d-", n), c.workflow)
	if err != nil {
		return 0, err
	}
	args, err := c.args(w)
	if err != nil {
		return 0, err
	}
	_, _, stderr, err := w.run(ctx, nil, args...)
	if err != nil {
		return 0, err
	}
	if err := checkSummary(stderr, 1, 0); err != nil {
		return 0, err
	}
	if w.lastRSS == 0 {
		return 0, Skip("this system does not report a child's peak RSS")
	}
	return w.lastRSS, nil
}

// setupRSS samples the peak RSS of a for_each over n items: per 1,000
// elements above a 1-element run's when perK, else in all.
func setupRSS(n int, perK bool) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		return func(ctx context.Context) (time.Duration, error) {
			rss, err := rssMemo.peakRSS(ctx, env, n)
			if err != nil || !perK {
				return time.Duration(rss), err
			}
			base, err := rssMemo.peakRSS(ctx, env, 1)
			if err != nil {
				return 0, err
			}
			return time.Duration((rss - base) * 1000 / int64(n)), nil
		}, nil
	}
}

// thousands prints n with thousands separators: 100,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
