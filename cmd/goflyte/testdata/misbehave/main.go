// Command goflyte-plugin-misbehave is a test plugin whose tasks fail the
// ways real plugins do: it hangs ignoring cancellation, it crashes on a
// task's first attempt, and it does either at random. The end-to-end tests
// use it for retries and timeouts, the soak test (make soak) for chaos.
// Its wait_for task runs until a file exists: a gate that lets a test
// act while a task is running, however slow the machine is.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/goflyte/goflyte/sdk"
)

type out struct {
	Attempt int `json:"attempt"`
}

// hang never returns, whatever its context says.
func hang(ctx context.Context, _ struct{}) (out, error) {
	for {
		time.Sleep(time.Hour)
	}
}

// crashOnce kills its plugin process on the first attempt of a task and
// succeeds on the next: a marker beside the working directories (each
// attempt gets its own) remembers the crash.
func crashOnce(ctx context.Context, _ struct{}) (out, error) {
	p := sdk.Params(ctx)
	marker := filepath.Join(filepath.Dir(p.WorkingDirectory), "crashed-"+p.Node)
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return out{}, err
		}
		fmt.Fprintln(p.Stderr, "crash_once: dying on attempt", p.Attempt)
		os.Exit(3)
	}
	return out{Attempt: p.Attempt}, nil
}

type chaosIn struct {
	I     int     `json:"i"`
	Crash float64 `json:"crash"` // probability of killing the plugin process
	Hang  float64 `json:"hang"`  // probability of hanging, ignoring cancellation
}

type chaosOut struct {
	I       int `json:"i"`
	Attempt int `json:"attempt"`
}

// chaos crashes its plugin, hangs, or returns its input, at random.
func chaos(ctx context.Context, in chaosIn) (chaosOut, error) {
	p := sdk.Params(ctx)
	switch r := rand.Float64(); {
	case r < in.Crash:
		fmt.Fprintln(p.Stderr, "chaos: crashing on element", in.I, "attempt", p.Attempt)
		os.Exit(3)
	case r < in.Crash+in.Hang:
		for {
			time.Sleep(time.Hour)
		}
	}
	return chaosOut{I: in.I, Attempt: p.Attempt}, nil
}

func main() {
	sdk.Serve(map[string]sdk.Task{
		"hang":       sdk.Func(hang),
		"crash_once": sdk.Func(crashOnce),
		"chaos":      sdk.Func(chaos),
		"bad_file":   sdk.Func(badFile),
		"garbage":    sdk.Func(garbage),
		"report":     sdk.Func(report),
		"environ":    sdk.Func(environ),
		"wait_for":   sdk.Func(waitFor),
	})
}

type waitForIn struct {
	Path string `json:"path"`
}

// waitFor runs until the file at Path exists (it checks every 10 ms) or
// its context ends.
func waitFor(ctx context.Context, in waitForIn) (out, error) {
	p := sdk.Params(ctx)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(in.Path); err == nil {
			return out{Attempt: p.Attempt}, nil
		}
		select {
		case <-ctx.Done():
			return out{}, ctx.Err()
		case <-tick.C:
		}
	}
}

type reportIn struct {
	Panic bool `json:"panic"`
}

// report records a metric and writes a deck, then fails: with an error,
// or with a panic when Panic is set. Both must reach the run record and
// the deck page (a failed task keeps its metrics and decks).
func report(ctx context.Context, in reportIn) (out, error) {
	p := sdk.Params(ctx)
	p.Stats().Incr("report.tries", sdk.Tags{"how": map[bool]string{false: "error", true: "panic"}[in.Panic]})
	p.Deck("Failure report").Markdown("## What went wrong\n\nthe report task failed on purpose")
	if in.Panic {
		panic("report: panicking on purpose")
	}
	return out{}, errors.New("report: failing on purpose")
}

type environOut struct {
	Environ []string `json:"environ"`
}

// environ returns its process's environment, for the tests that check
// what a plugin inherits.
func environ(context.Context, struct{}) (environOut, error) {
	return environOut{Environ: os.Environ()}, nil
}

type badFileIn struct {
	How string `json:"how"`
}

type badFileOut struct {
	File sdk.File `json:"file"`
}

// badFile returns a file output that is not the task's to hand over, as
// How says: "dotdot" a relative path out of the working directory,
// "absolute" a file elsewhere, "symlink" a link in the working directory
// to a file elsewhere, "missing" a file that does not exist, "dir" a
// directory where a file is due.
func badFile(ctx context.Context, in badFileIn) (badFileOut, error) {
	work := sdk.Params(ctx).WorkingDirectory
	outside := filepath.Join(filepath.Dir(filepath.Dir(work)), "outside.txt")
	if err := os.WriteFile(outside, []byte("not yours"), 0o600); err != nil {
		return badFileOut{}, err
	}
	switch in.How {
	case "dotdot":
		return badFileOut{sdk.File{Path: "../../outside.txt"}}, nil
	case "absolute":
		return badFileOut{sdk.File{Path: outside}}, nil
	case "symlink":
		link := filepath.Join(work, "link.txt")
		if err := os.Symlink(outside, link); err != nil {
			return badFileOut{}, err
		}
		return badFileOut{sdk.File{Path: "link.txt"}}, nil
	case "missing":
		return badFileOut{sdk.File{Path: "nothing.txt"}}, nil
	case "dir":
		return badFileOut{sdk.File{Path: "."}}, nil
	}
	return badFileOut{}, fmt.Errorf("unknown how %q", in.How)
}

type garbageOut struct {
	Wrote int `json:"wrote"`
}

// garbage writes junk to standard output after the handshake, both
// through os.Stdout (which go-plugin has replaced with a pipe) and
// straight to file descriptor 1 (the pipe the handshake came through),
// then succeeds.
func garbage(context.Context, struct{}) (garbageOut, error) {
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*31) | 1
	}
	n1, _ := os.Stdout.Write(junk)
	n2, _ := os.NewFile(1, "fd1").Write(junk)
	return garbageOut{Wrote: n1 + n2}, nil
}
