// Command goflyte runs HCL workflows whose tasks are plugin binaries, on the
// local machine. Run `goflyte help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
)

func main() {
	// goflyte is a short-lived command whose heap is mostly the parsed
	// workflow: collecting garbage less often saves a third of the time
	// of a large, fully cached run, for a bounded cost in memory. GOGC
	// and GOMEMLIMIT still win when set.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		tuneGC()
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
	if os.Getenv("GOFLYTE_MEMPROFILE") != "" {
		runtime.MemProfileRate = 4096 // every 4 KB allocated, not every 512 KB
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	// GOFLYTE_MEMPROFILE=FILE writes a heap profile when the command
	// ends: what it allocated (go tool pprof -sample_index=alloc_space)
	// and what is live at the end (inuse_space).
	if path := os.Getenv("GOFLYTE_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			runtime.GC() // publish the allocations since the last one
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}

// GC tuning: GOGC=400 lets the heap grow to five times what is live
// before a collection. For a small heap that is the speed it buys; for a
// large one it is the memory it costs: a for_each over 100,000 elements
// keeps about 150 MB live, and the process reached 770 MB (issue 17).
// So the memory limit follows the live heap: at least gcFloor, else 1.5
// times the live heap of the last collection, which makes GOGC about 50
// once the heap is large; the limit only makes the collector run sooner,
// never fail.
const gcFloor = 192 << 20

// tuneGC sets the memory limit now and after every collection, from a
// finalizer that re-arms itself (it runs once per GC cycle).
func tuneGC() {
	debug.SetMemoryLimit(gcFloor)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var rearm func(*gcSentinel)
	rearm = func(*gcSentinel) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live := int64(sample[0].Value.Uint64())
			debug.SetMemoryLimit(max(gcFloor, live+live/2))
		}
		runtime.SetFinalizer(&gcSentinel{}, rearm)
	}
	runtime.SetFinalizer(&gcSentinel{}, rearm)
}

// gcSentinel is garbage as soon as it is made: its finalizer runs after
// the next collection.
type gcSentinel struct{ _ [16]byte }
