package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The peer rows: a chain of N trivial steps in goflyte next to the same
// chain in go-task, in Dagu and in a shell loop, per step (issue 17). They
// run only with -peers: `make bench-peers` installs go-task and Dagu into
// .tools first (versions below). The verbose-logs row and the chain step
// against a bare plugin call are ordinary rows.

// Pinned peer versions (make bench-peers installs these).
const (
	goTaskVersion = "v3.54.0" // github.com/go-task/task/v3/cmd/task
	daguVersion   = "1.30.2"  // npm @dagu-org/dagu-linux-x64
)

// peerStep is what one step of a peer's chain runs: the trivial command
// each tool runs its own way (go-task in its shell interpreter, Dagu as a
// process).
const peerStep = "echo HELLO"

// peerChains are the chain lengths the peer rows compare.
var peerChains = []int{100, 1000}

// peerTarget is the target for goflyte's chain step against
// go-task's (at 1,000 steps).
const peerTarget = 0.5

func peerComparisons() []Comparison {
	var rows []Comparison
	for _, n := range peerChains {
		gf := Side{
			What:  fmt.Sprintf("`goflyte run chain.hcl -q` of %d text.upper tasks, each on the previous one's output, wall time divided by %d", n, n),
			Setup: perElement(setupCLIRun(fmt.Sprintf("peer-chain%d", n), chainWorkflow(n), "text = HELLO\n", 1), n),
		}
		task := Comparison{
			ID: fmt.Sprintf("peer-task-%d", n), Name: fmt.Sprintf("chain of %d, per step, vs go-task", n),
			Goflyte: gf,
			Baseline: &Side{
				What:  fmt.Sprintf("`task -s t%d` (go-task %s) on a Taskfile of %d tasks, each depending on the previous one (deps), each running %q, wall time divided by %d", n, goTaskVersion, n, peerStep, n),
				Setup: setupGoTask(n),
			},
			N: 3, QuickN: 1, Warmup: 1, Peer: true,
		}
		if n == 1000 {
			task.Target, task.Op = peerTarget, AtMost
		}
		rows = append(rows, task,
			Comparison{
				ID: fmt.Sprintf("peer-dagu-%d", n), Name: fmt.Sprintf("chain of %d, per step, vs Dagu", n),
				Goflyte: gf,
				Baseline: &Side{
					What:  fmt.Sprintf("`dagu start chain.yaml` (Dagu %s, a DAGU_HOME of its own) of %d steps, each depending on the previous one, each running %q, wall time divided by %d", daguVersion, n, peerStep, n),
					Setup: setupDagu(n),
				},
				N: 3, QuickN: 1, Warmup: 1, Peer: true,
			},
			Comparison{
				ID: fmt.Sprintf("peer-shell-%d", n), Name: fmt.Sprintf("chain of %d, per step, vs shell loop", n),
				Goflyte: gf,
				Baseline: &Side{
					What:  fmt.Sprintf("sh: %d iterations of printf hello | tr a-z A-Z, wall time divided by %d", n, n),
					Setup: perElement(setupShellLoopN(n), n),
				},
				N: 3, QuickN: 1, Warmup: 1, Peer: true,
			})
	}
	return rows
}

// toolsDir is the module's .tools directory, where make bench-peers
// installs the peers.
func toolsDir(ctx context.Context) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".tools"), nil
}

// findPeer returns the path of a peer binary in .tools, or a skip.
func findPeer(ctx context.Context, rel, install string) (string, error) {
	dir, err := toolsDir(ctx)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err != nil {
		return "", Skip(fmt.Sprintf("%s is not installed (%s)", path, install))
	}
	return path, nil
}

// goTaskfile is a Taskfile of n tasks t1..tn, each depending on the
// previous one.
func goTaskfile(n int) string {
	var b strings.Builder
	b.WriteString("version: '3'\n\ntasks:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  t%d:\n", i)
		if i > 1 {
			fmt.Fprintf(&b, "    deps: [t%d]\n", i-1)
		}
		fmt.Fprintf(&b, "    cmds:\n      - %s\n", peerStep)
	}
	return b.String()
}

// daguChain is a Dagu DAG of n steps s1..sn, each depending on the
// previous one.
func daguChain(n int) string {
	var b strings.Builder
	b.WriteString("steps:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: s%d\n    command: %s\n", i, peerStep)
		if i > 1 {
			fmt.Fprintf(&b, "    depends: [s%d]\n", i-1)
		}
	}
	return b.String()
}

func setupGoTask(n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		bin, err := findPeer(ctx, "task", "make bench-peers installs it")
		if err != nil {
			return nil, err
		}
		dir, err := env.TempDir("gotask-")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "Taskfile.yml"), []byte(goTaskfile(n)), 0o644); err != nil {
			return nil, err
		}
		return perElement(func(ctx context.Context, env *Env) (Sampler, error) {
			return func(ctx context.Context) (time.Duration, error) {
				return runPeer(ctx, dir, nil, bin, "-s", fmt.Sprintf("t%d", n))
			}, nil
		}, n)(ctx, env)
	}
}

func setupDagu(n int) func(context.Context, *Env) (Sampler, error) {
	return func(ctx context.Context, env *Env) (Sampler, error) {
		bin, err := findPeer(ctx, filepath.Join("dagu", "node_modules", "@dagu-org", "dagu-linux-x64", "bin", "dagu"), "make bench-peers installs it")
		if err != nil {
			return nil, err
		}
		dir, err := env.TempDir("dagu-")
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "chain.yaml")
		if err := os.WriteFile(file, []byte(daguChain(n)), 0o644); err != nil {
			return nil, err
		}
		return perElement(func(ctx context.Context, env *Env) (Sampler, error) {
			return func(ctx context.Context) (time.Duration, error) {
				home, err := os.MkdirTemp(dir, "home-")
				if err != nil {
					return 0, err
				}
				defer os.RemoveAll(home)
				return runPeer(ctx, dir, []string{"DAGU_HOME=" + home}, bin, "start", file)
			}, nil
		}, n)(ctx, env)
	}
}

// runPeer runs a peer's command in dir and returns its wall time.
func runPeer(ctx context.Context, dir string, env []string, bin string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(hostEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, tail(out.String(), 2000))
	}
	return d, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// shellLoopN does the work of n text.upper tasks as n sequential process
// spawns.
func shellLoopN(n int) string {
	return fmt.Sprintf("for i in $(seq %d); do printf hello | tr a-z A-Z >/dev/null; done", n)
}

// setupShellLoopN is the shell loop of the chain rows with n iterations.
func setupShellLoopN(n int) func(context.Context, *Env) (Sampler, error) {
	script := shellLoopN(n)
	return func(ctx context.Context, env *Env) (Sampler, error) {
		return func(ctx context.Context) (time.Duration, error) {
			cmd := exec.CommandContext(ctx, "sh", "-c", script)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("sh -c %q: %v\n%s", script, err, stderr.Bytes())
			}
			return d, nil
		}, nil
	}
}
