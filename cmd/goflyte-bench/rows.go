package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// comparisons is the report, in order. Add rows here.
func comparisons() []Comparison {
	return append([]Comparison{
		{
			ID:   "cold-start",
			Name: "plugin cold start vs exec",
			Goflyte: Side{
				What:  "plugin.Launch(goflyte-plugin-text) + first Execute(upper), until the result is back; Close not timed",
				Setup: setupColdStart,
			},
			Baseline: &Side{
				What:  "fork/exec of goflyte-plugin-text without the magic cookie (prints a notice, exits 1), until it exited",
				Setup: setupExec,
			},
			Target: 1.5, Op: AtMost,
			N: 30, QuickN: 10, Warmup: 3,
			Short: true,
		},
		{
			ID:   "tls-cold-start",
			Name: "plugin cold start with sdk.plugin_tls vs without",
			Goflyte: Side{
				What:  "as cold-start, with LaunchOptions.TLS: two fresh P-256 certificates, mutual TLS 1.3 handshake",
				Setup: setupColdStartTLS,
			},
			Baseline: &Side{
				What:  "as cold-start: plain gRPC over the unix socket",
				Setup: setupColdStart,
			},
			N: 30, QuickN: 10, Warmup: 3,
		},
		{
			ID:   "engine-cold-start",
			Name: "engine cold start, first task",
			Goflyte: Side{
				What:  "engine.New + TaskGraph(text.upper) (launches and Describes the plugin) + Run; Close not timed",
				Setup: setupEngineColdStart,
			},
			N: 20, QuickN: 6, Warmup: 2,
			Short: true,
		},
		{
			ID:   "warm-task",
			Name: "warm per-task overhead vs raw gRPC",
			Goflyte: Side{
				What: fmt.Sprintf("one Run of a %d-task text.upper chain on an engine whose plugin runs, divided by %d: ", warmChain, warmChain) +
					"evaluation, the task's working dir, the call, output checks",
				Setup: setupWarmChain,
			},
			Baseline: &Side{
				What:  "Execute round trip, same request, to a plain gRPC echo server in another process on a unix socket",
				Setup: setupRawGRPC,
			},
			Target: 2, Op: AtMost,
			N: 60, QuickN: 15, Warmup: 5,
			Short: true,
		},
		{
			ID:   "warm-call",
			Name: "warm one-task run",
			Goflyte: Side{
				What:  "TaskGraph(text.upper) + Run(text=hello) on an engine whose plugin runs (incl. the run's own sandbox dirs)",
				Setup: setupWarmEngineCall,
			},
			N: 2000, QuickN: 400, Warmup: 100,
			Short: true,
		},
		{
			ID:   "bare-execute",
			Name: "bare Client.Execute",
			Goflyte: Side{
				What:  "plugin.Client.Execute(upper) through go-plugin on the same running plugin, no engine",
				Setup: setupBareExecute,
			},
			N: 2000, QuickN: 400, Warmup: 100,
			Short: true,
		},
		{
			ID:   "warm-call-tmpfs",
			Name: "warm task call, sandbox on tmpfs",
			Goflyte: Side{
				What:  "as the warm task call, on another engine whose sandbox is in /dev/shm (tmpfs): the engine without the disk",
				Setup: setupWarmEngineCallTmpfs,
			},
			N: 2000, QuickN: 400, Warmup: 100,
		},
		{
			ID:   "sandbox-dirs",
			Name: "sandbox dirs of a one-task run",
			Goflyte: Side{
				What:  "sandbox.NewRun + Run.TaskDir (the mkdirs Engine.Run does for one task) in a fresh sandbox beside the warm engine's",
				Setup: setupSandboxDirs,
			},
			N: 2000, QuickN: 400, Warmup: 100,
		},
		{
			ID:   "chain-1000",
			Name: "1000-task chain vs shell loop",
			Goflyte: Side{
				What:  "`goflyte run chain.hcl --input text=hello -q`: 1000 text.upper tasks, each on the previous one's output (wall time)",
				Setup: setupCLIRun("chain", chainWorkflow(1000), "text = HELLO\n", 1),
			},
			Baseline: &Side{What: "sh: " + shellLoop, Setup: setupShellLoop},
			Target:   1, Op: Below,
			N: 5, QuickN: 3, Warmup: 1,
			Short: true,
		},
		{
			ID:   "fanout-1000",
			Name: "1000-task fan-out vs shell loop",
			Goflyte: Side{
				What:  "`goflyte run fanout.hcl --input text=hello -q`: 1000 independent text.upper tasks + 1 text.join (wall time)",
				Setup: setupCLIRun("fanout", fanoutWorkflow(1000), "HELLO", 1000),
			},
			Baseline: &Side{What: "sh: " + shellLoop, Setup: setupShellLoop},
			Target:   1, Op: Below,
			N: 5, QuickN: 3, Warmup: 1,
		},
		{
			ID:   "cached-rerun-10k",
			Name: "10k-task cached re-run vs first run",
			Goflyte: Side{
				What: fmt.Sprintf("`goflyte run fanout.hcl --inputs-file items.json -q` (wall time): one text.upper task with for_each over %d items, cache = true, ", cachedTasks) +
					"every instance cached: the cache was filled by one run before (not timed; it is the warm-up of both sides). Spec: at least 20x faster than the first run, and " +
					formatDuration(cachedRerunLimit) + " or less on a 2-core machine",
				Setup: setupCachedRerun(fanOutCase()),
			},
			Baseline: &Side{
				What:  "the same `goflyte run` with an empty cache: FLYTE_LOCAL_CACHE_DIR set to a new empty directory for each sample, so every instance runs and writes its entry",
				Setup: setupFirstRun(fanOutCase()),
			},
			Target: 0.05, Op: AtMost, Limit: cachedRerunLimit,
			// No warm-up sample: the run that fills the cache (a first
			// run, before any sample) warms the binaries, the plugin and
			// the file cache for both sides, and a first run costs 5-10 s.
			N: 3, QuickN: 1,
			Short: true,
		},
		{
			ID:   "cached-rerun-10k-blocks",
			Name: "  same, 10k task blocks",
			Goflyte: Side{
				What:  fmt.Sprintf("as above, but %d task blocks in the file instead of a for_each: parsing 0.8 MB of HCL is most of the time", cachedTasks),
				Setup: setupCachedRerun(blocksCase()),
			},
			Baseline: &Side{
				What:  "the same workflow's first run, as above",
				Setup: setupFirstRun(blocksCase()),
			},
			Target: 0.05, Op: AtMost, Limit: cachedRerunLimit,
			N: 3, QuickN: 1,
		},
		{
			ID:   "foreach-10k",
			Name: "for_each over 10k, per element vs warm task",
			Goflyte: Side{
				What: fmt.Sprintf("a run of a for_each over %d items of a trivial task (text.upper, not cached) through the CLI, wall time divided by %d: ", cachedTasks, cachedTasks) +
					"evaluation, the instance's working directory, the call, collecting the outputs",
				Setup: perElement(setupFirstRun(plainFanOutCase()), cachedTasks),
			},
			Baseline: &Side{
				What:  "the warm per-task overhead, as in its row above (a 100-task chain through the engine, per task)",
				Setup: setupWarmChain,
			},
			Target: 1.5, Op: AtMost,
			N: 3, QuickN: 1,
		},
		{
			ID:   "eager-10k",
			Name: "eager host calls, per call vs warm task",
			Goflyte: Side{
				What:  fmt.Sprintf("one eager task (text.shout_all) making %d host calls (text.upper, concurrently) through the CLI, wall time divided by %d", cachedTasks, cachedTasks),
				Setup: perElement(setupFirstRun(eagerCase()), cachedTasks),
			},
			Baseline: &Side{
				What:  "the warm per-task overhead, as in its row above",
				Setup: setupWarmChain,
			},
			Target: 1.5, Op: AtMost,
			N: 3, QuickN: 1,
		},
		{
			ID:   "cache-read",
			Name: "cache read of one entry vs os.ReadFile",
			Goflyte: Side{
				What: fmt.Sprintf("cache.Get of one entry with %d bytes of outputs: read, checksum, decode of its first line", cacheReadOutputs) +
					" (no target in the spec; engine/cache promises little more than os.ReadFile)",
				Setup: setupCacheGet,
			},
			Baseline: &Side{
				What:  "os.ReadFile of that entry's file (cache.Path: <dir>/<first 2 hex>/<64 hex>), same bytes",
				Setup: setupCacheReadFile,
			},
			N: 20000, QuickN: 4000, Warmup: 500,
			Short: true,
		},
	}, slices.Concat(memComparisons(), fileComparisons(), lspComparisons(), consoleComparisons(), workerComparisons(), remoteComparisons(), peerComparisons())...)
}

// wantUpper is what text.upper returns for text=hello.
const wantUpper = `{"text":"HELLO"}`

func checkUpper(outputs []byte) error {
	if string(outputs) != wantUpper {
		return fmt.Errorf("text.upper returned %s, want %s", outputs, wantUpper)
	}
	return nil
}

// --- cold start -------------------------------------------------------------

func setupColdStart(ctx context.Context, env *Env) (Sampler, error) {
	return coldStart(env, plugin.LaunchOptions{}), nil
}

func setupColdStartTLS(ctx context.Context, env *Env) (Sampler, error) {
	return coldStart(env, plugin.LaunchOptions{TLS: true}), nil
}

func coldStart(env *Env, opts plugin.LaunchOptions) Sampler {
	req := upperRequest(filepath.Join(env.Dir, "sandbox"))
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		c, err := plugin.Launch(ctx, env.TextPlugin, opts)
		if err != nil {
			return 0, err
		}
		res, err := c.Execute(ctx, req)
		d := time.Since(start)
		c.Close()
		if err != nil {
			return 0, err
		}
		return d, checkUpper(res.Outputs)
	}
}

func setupExec(ctx context.Context, env *Env) (Sampler, error) {
	return func(ctx context.Context) (time.Duration, error) {
		cmd := exec.Command(env.TextPlugin) // as plugin.Launch does
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			return 0, fmt.Errorf("%s run by hand: want exit status 1, got %v", env.TextPlugin, err)
		}
		return d, nil
	}, nil
}

// runNow hands out distinct execution dates, a second apart. The sandbox
// names a run after its start second plus 3 random bytes, so thousands of
// runs in one second into one sandbox would collide now and then ("create
// run directory: file exists"); distinct seconds rule that out.
var runNow = struct {
	base time.Time
	n    atomic.Int64
}{base: time.Now()}

func nextNow() time.Time {
	return runNow.base.Add(time.Duration(runNow.n.Add(1)) * time.Second)
}

var helloInputs = map[string]cty.Value{"text": cty.StringVal("hello")}

// runUpper runs text.upper as a one-task graph and checks its output.
func runUpper(ctx context.Context, eng *engine.Engine) error {
	g, err := eng.TaskGraph(ctx, "text.upper")
	if err != nil {
		return err
	}
	res, err := eng.Run(ctx, g, engine.RunOptions{Inputs: helloInputs, Now: nextNow()})
	if err != nil {
		return err
	}
	return checkRunResult(res)
}

func checkRunResult(res *engine.Result) error {
	if res.Status != engine.StatusSucceeded {
		return fmt.Errorf("run %s: %v", res.Status, res.Err)
	}
	if got := res.Outputs["text"]; got.Type() != cty.String || got.AsString() != "HELLO" {
		return fmt.Errorf("run output text = %s, want \"HELLO\"", engine.FormatValue(got))
	}
	return nil
}

func setupEngineColdStart(ctx context.Context, env *Env) (Sampler, error) {
	cfg, err := env.EngineConfig()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		eng := engine.New(cfg, nil)
		g, err := eng.TaskGraph(ctx, "text.upper")
		var res *engine.Result
		if err == nil {
			res, err = eng.Run(ctx, g, engine.RunOptions{Inputs: helloInputs, Now: nextNow()})
		}
		d := time.Since(start)
		eng.Close()
		if err != nil {
			return 0, err
		}
		return d, checkRunResult(res)
	}, nil
}

// --- warm calls -------------------------------------------------------------

func setupWarmEngineCall(ctx context.Context, env *Env) (Sampler, error) {
	eng, _, err := env.WarmEngine(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		err := runUpper(ctx, eng)
		return time.Since(start), err
	}, nil
}

// warmChain is the length of the chain the warm per-task row runs: long
// enough that the run's own setup (two directories) is a small share.
const warmChain = 100

func setupWarmChain(ctx context.Context, env *Env) (Sampler, error) {
	eng, _, err := env.WarmEngine(ctx)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(env.Dir, "warm-chain.hcl")
	if err := os.WriteFile(path, []byte(chainWorkflow(warmChain)), 0o644); err != nil {
		return nil, err
	}
	wf, diags := config.NewParser().LoadWorkflowFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	g, diags := eng.Compile(ctx, wf.Workflows[0])
	if diags.HasErrors() {
		return nil, diags
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		res, err := eng.Run(ctx, g, engine.RunOptions{Inputs: helloInputs, Parallelism: 1})
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if res.Status != engine.StatusSucceeded {
			return 0, fmt.Errorf("chain run %s: %v", res.Status, res.Err)
		}
		return d / warmChain, nil
	}, nil
}

func setupRawGRPC(ctx context.Context, env *Env) (Sampler, error) {
	client, err := startEcho(ctx, env)
	if err != nil {
		return nil, err
	}
	req := toProto(upperRequest(filepath.Join(env.Dir, "sandbox-00000000")))
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		resp, err := client.Execute(ctx, req, grpc.MaxCallRecvMsgSize(plugin.MaxMessageSize), grpc.MaxCallSendMsgSize(plugin.MaxMessageSize))
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(resp.GetOutputs(), req.Inputs) {
			return 0, fmt.Errorf("echo server returned %q", resp.GetOutputs())
		}
		return d, nil
	}, nil
}

func setupBareExecute(ctx context.Context, env *Env) (Sampler, error) {
	_, client, err := env.WarmEngine(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := env.TempDir("bare-")
	if err != nil {
		return nil, err
	}
	req := upperRequest(dir)
	req.Params.WorkingDirectory = dir
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		res, err := client.Execute(ctx, req)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		return d, checkUpper(res.Outputs)
	}, nil
}

func setupWarmEngineCallTmpfs(ctx context.Context, env *Env) (Sampler, error) {
	const shm = "/dev/shm"
	if info, err := os.Stat(shm); runtime.GOOS != "linux" || err != nil || !info.IsDir() {
		return nil, Skip("no tmpfs at " + shm)
	}
	dir, err := os.MkdirTemp(shm, "goflyte-bench-")
	if err != nil {
		return nil, Skip(err.Error())
	}
	env.Cleanup(func() { os.RemoveAll(dir) })
	cfg, err := env.EngineConfig()
	if err != nil {
		return nil, err
	}
	cfg.SDK.LocalSandbox = dir
	eng := engine.New(cfg, nil)
	env.Cleanup(eng.Close)
	if _, err := eng.TaskGraph(ctx, "text.upper"); err != nil { // starts the plugin
		return nil, err
	}
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		err := runUpper(ctx, eng)
		return time.Since(start), err
	}, nil
}

func setupSandboxDirs(ctx context.Context, env *Env) (Sampler, error) {
	dir, err := env.TempDir("sandbox-")
	if err != nil {
		return nil, err
	}
	sb := sandbox.Sandbox{Root: dir}
	return func(ctx context.Context) (time.Duration, error) {
		name := sandbox.NewRunName(nextNow())
		start := time.Now()
		run, err := sb.NewRun(name)
		if err == nil {
			_, err = run.TaskDir("upper", 1)
		}
		return time.Since(start), err
	}, nil
}

// --- 1000-task workflows ----------------------------------------------------

// shellLoop does the work of 1000 text.upper tasks as 1000 sequential
// process spawns.
var shellLoop = shellLoopN(1000)

var setupShellLoop = setupShellLoopN(1000)

// setupCLIRun writes the workflow and a flyte.hcl (plugin_dirs and
// local_sandbox in this run's temporary directory) and returns a sampler
// that runs the CLI as a user would and checks that stdout contains want
// wantCount times.
func setupCLIRun(name, workflow, want string, wantCount int) func(context.Context, *Env) (Sampler, error) {
	return setupCLIRunGlobal(name, nil, workflow, want, wantCount)
}

// chainWorkflow is n text.upper tasks, each on the previous one's output.
func chainWorkflow(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow \"chain\" {\n  input \"text\" { type = string }\n\n")
	prev := "input.text"
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  task \"t%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = %s }\n  }\n", i, prev)
		prev = fmt.Sprintf("task.t%d.text", i)
	}
	fmt.Fprintf(&b, "\n  output \"text\" { value = %s }\n}\n", prev)
	return b.String()
}

// fanoutWorkflow is n independent text.upper tasks joined by one text.join.
func fanoutWorkflow(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow \"fanout\" {\n  input \"text\" { type = string }\n\n")
	refs := make([]string, n)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  task \"u%d\" {\n    uses   = \"text.upper\"\n    inputs = { text = input.text }\n  }\n", i)
		refs[i-1] = fmt.Sprintf("task.u%d.text", i)
	}
	fmt.Fprintf(&b, "  task \"joined\" {\n    uses   = \"text.join\"\n    inputs = {\n      sep   = \" \"\n      words = [\n        %s,\n      ]\n    }\n  }\n", strings.Join(refs, ",\n        "))
	fmt.Fprintf(&b, "\n  output \"text\" { value = task.joined.text }\n}\n")
	return b.String()
}

// perElement divides the samples of setup by n: the cost of one of n
// elements.
func perElement(setup func(context.Context, *Env) (Sampler, error), n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		sample, err := setup(ctx, env)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (time.Duration, error) {
			d, err := sample(ctx)
			return d / time.Duration(n), err
		}, nil
	}
}
