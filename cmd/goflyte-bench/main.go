// Command goflyte-bench prints goflyte's overhead next to baselines measured
// side by side in the same run (`make bench`):
//
//   - plugin cold start to first call vs. exec of the plugin binary;
//   - one warm task call through the engine vs. a raw gRPC round trip on a
//     unix socket;
//   - 1000-task workflows (chain and fan-out) run by the CLI vs. 1000
//     sequential process spawns from a shell loop;
//   - a fully cached re-run of a 10,000-task workflow by the CLI vs. the
//     same workflow's first run, with an empty cache;
//   - the result cache's read of one entry vs. os.ReadFile of its file;
//   - the goflyte process's peak RSS for a for_each over 100,000 elements,
//     and per 1,000 tasks; a 1000-task chain with -v (task logs) vs
//     without; a chain step vs a bare plugin call;
//   - runs on Temporal (issue 13, the remote-* rows; skipped without
//     .tools/temporal-testserver and versitygw): 100- and 1000-task
//     chains and fan-outs through a `goflyte worker` vs a plain SDK
//     workflow of no-op activities, `run --remote` vs local, worker
//     failover after SIGKILL, a 10,000-element for_each and its largest
//     history;
//   - with -peers (make bench-peers), chains of 100 and 1,000 steps next
//     to go-task, Dagu and a shell loop.
//
// It builds the CLI and the text plugin first, so that no timing includes
// compilation. Targets are reported, not asserted: the exit status is
// non-zero only when something failed to run. -short (make bench-short,
// the end of .ci/run) measures the cheap rows only, with a tenth of
// their samples. The table's header says the load average: numbers taken
// under load are indicative only.
//
// BENCH.md in this directory says where the time goes (profiles of the
// cached re-runs and the chain, before and after issue 17) and how to
// profile.
//
// Usage:
//
//	go run ./cmd/goflyte-bench [-quick|-short] [-peers] [-json] [-run REGEXP] [-list] [-cpuprofile FILE]
//
// Each row is a Comparison (rows.go): a measure function for goflyte, one
// for the baseline, a target ratio and its direction, and optionally an
// absolute limit for goflyte's median.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(roleEnv) == roleEcho {
		if err := serveEcho(); err != nil {
			fmt.Fprintln(os.Stderr, "goflyte-bench echo server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs the benchmark program and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("goflyte-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "fewer repetitions (about 4x faster, noisier)")
	short := fs.Bool("short", false, "only the cheap rows, a few samples each (under a minute; .ci/run's table)")
	peers := fs.Bool("peers", false, "also the rows that run go-task and Dagu (make bench-peers installs them into .tools)")
	asJSON := fs.Bool("json", false, "print the results as JSON on stdout instead of the table")
	runExpr := fs.String("run", "", "measure only the rows whose id or name matches `REGEXP`")
	list := fs.Bool("list", false, "list the rows (id and name) and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements (this process only) to `FILE`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: goflyte-bench [flags]\n\nPrints goflyte's overhead next to baselines measured in the same run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "goflyte-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	benchShort = *short
	comps := comparisons()
	if *list {
		for _, c := range comps {
			var tags []string
			if c.Short {
				tags = append(tags, "short")
			}
			if c.Peer {
				tags = append(tags, "peers")
			}
			fmt.Fprintf(stdout, "%-24s %-12s %s\n", c.ID, strings.Join(tags, ","), c.Name)
		}
		return 0
	}
	opts := RunOptions{Quick: *quick, Short: *short, Peers: *peers, Progress: stderr}
	if *runExpr != "" {
		re, err := regexp.Compile(*runExpr)
		if err != nil {
			fmt.Fprintf(stderr, "goflyte-bench: -run: %v\n", err)
			return 2
		}
		opts.Filter = re
	}
	selected := 0
	for i := range comps {
		if opts.Selected(&comps[i]) {
			selected++
		}
	}
	if selected == 0 {
		fmt.Fprintf(stderr, "goflyte-bench: -run %q selects no row (see -list; peer rows need -peers)\n", *runExpr)
		return 2
	}

	start := time.Now()
	fmt.Fprintln(stderr, "building goflyte and goflyte-plugin-text...")
	env, err := NewEnv(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "goflyte-bench:", err)
		return 1
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "goflyte-bench: -cpuprofile:", err)
			env.Close()
			return 1
		}
		defer f.Close()
	}
	results := Run(ctx, env, comps, opts)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	env.Close()

	rep := &Report{Machine: thisMachine(), Quick: *quick, Short: *short, Load: loadAverage(), Results: results, Elapsed: time.Since(start)}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		fmt.Fprintln(stderr)
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "goflyte-bench:", err)
		return 1
	}
	for _, r := range results {
		if r.Error != "" {
			return 1
		}
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintln(stderr, "goflyte-bench: interrupted")
		return 130
	}
	return 0
}

func thisMachine() Machine {
	return Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// loadAverage reads the load average from /proc/loadavg (Linux); nil
// where there is none.
func loadAverage() []float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return nil
	}
	var load []float64
	for _, f := range fields[:3] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil
		}
		load = append(load, v)
	}
	return load
}
