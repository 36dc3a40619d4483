// Command goflyte runs HCL workflows whose tasks are plugin binaries, on the
// local machine. Run `goflyte help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	// goflyte is a short-lived command whose heap is mostly the parsed
	// workflow: collecting garbage less often saves a third of the time
	// of a large, fully cached run, for a bounded cost in memory. GOGC
	// still wins when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(2 << 30) // collect harder past 2 GiB
	}
	// GOFLYTE_CPUPROFILE=FILE writes a CPU profile of the command, for
	// performance work (like Terraform's TF_CPU_PROFILE).
	if path := os.Getenv("GOFLYTE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}
