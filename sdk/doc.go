// Package sdk is what a goflyte plugin author imports. A plugin is a small
// program that serves tasks: plain Go functions from typed inputs to typed
// outputs. The goflyte engine launches the program as a subprocess, asks it
// which tasks it has, and runs them with values it has already evaluated
// from the workflow's HCL.
//
// This package owns the author's side: [Serve], the [Func] adapter, input
// decoding with diagnostics, [AttrError] and [Retryable], and the execution
// parameters ([Params]). The wire contract (the request and result types,
// the gRPC adapters, the handshake) belongs to package plugin; the engine
// never sees this package, only a [plugin.Provider]. To test tasks, use
// package sdk/sdktest.
//
// # A first plugin
//
// A task is a function that takes a context and an input struct and
// returns an output struct and an error:
//
//	package main
//
//	import (
//		"context"
//		"strings"
//
//		"github.com/goflyte/goflyte/sdk"
//	)
//
//	type splitIn struct {
//		Text string `json:"text" desc:"The text to split."`
//		Sep  string `json:"sep,omitempty" desc:"The separator; whitespace if unset."`
//	}
//
//	type splitOut struct {
//		Words []string `json:"words" desc:"The words, in order."`
//	}
//
//	func split(ctx context.Context, in splitIn) (splitOut, error) {
//		sdk.Params(ctx).Logger.Info("splitting", "bytes", len(in.Text))
//		if in.Sep == "" {
//			return splitOut{Words: strings.Fields(in.Text)}, nil
//		}
//		return splitOut{Words: strings.Split(in.Text, in.Sep)}, nil
//	}
//
//	func main() {
//		sdk.Serve(map[string]sdk.Task{
//			"split": sdk.Func(split).WithDoc("Splits text into words."),
//		})
//	}
//
// Build it as goflyte-plugin-<name> (here, say, goflyte-plugin-text) into a
// directory the engine searches for plugins, and a workflow can use the
// task as "text.split". The map key is the task's name: it must match
// [A-Za-z_][A-Za-z0-9_-]*. One binary can serve any number of tasks.
//
// # Inputs and outputs
//
// The fields of the input struct are the task's inputs; the fields of the
// output struct are its outputs. Both must be struct types (struct{} means
// none). Values cross the wire as JSON, and the field rules are those of
// encoding/json:
//
//   - The name is the json tag's name, else the Go field name. It must be
//     an HCL identifier ([A-Za-z_][A-Za-z0-9_-]*).
//   - Fields tagged json:"-" and unexported fields are not inputs or
//     outputs.
//   - The fields of an embedded struct without a json name are promoted,
//     as encoding/json does; the shallower field wins a name clash, and an
//     unresolvable clash is a start-up panic.
//   - A desc:"..." tag is the field's documentation.
//
// Each field's Go type gives its HCL type, which the engine uses to check
// the workflow before anything runs:
//
//	Go type                                   HCL type
//	string                                    string
//	bool                                      bool
//	int*, uint*, float*, json.Number          number
//	[]byte                                    string (base64, as encoding/json)
//	time.Time                                 string (RFC 3339)
//	[]T, [N]T                                 list(T)
//	map[string]T                              map(T)
//	struct{A T; B U}                          object({a=T,b=U}) (names sorted)
//	any, json.RawMessage                      any
//	*T                                        T (and the input is optional)
//	a json.Marshaler or json.Unmarshaler      any
//	an encoding.TextMarshaler or ...Unmarshaler  string
//
// A field with the ",string" tag option carries its number or bool as a
// string, so its HCL type is string. Anything else (channels, functions,
// complex numbers, interfaces with methods, maps with non-string keys,
// recursive types) makes [Func] panic at start-up with a message that
// names the field and says what to use instead.
//
// # Optional inputs
//
// An input is required unless its json tag has omitempty (or omitzero) or
// its Go type is a pointer. A required input that the workflow leaves out,
// or sets to null, fails the task with a "Missing required input"
// diagnostic. An optional input that is left out keeps its zero value: nil
// for a pointer, so a pointer tells "not set" apart from "set to the zero
// value":
//
//	type joinIn struct {
//		Words []string `json:"words"`
//		Sep   *string  `json:"sep"` // optional; nil means the default, "" is allowed
//	}
//
// Outputs follow the same rule for their Optional flag: an output tagged
// omitempty may be missing from the result. A nil slice or map in a
// top-level output is sent as an empty list or map, not null.
//
// # Checking inputs
//
// Before calling the task function, [Func] checks the inputs it was sent:
// every input name must be known, every required input present, and every
// value must fit its field (2.5 does not fit an int, "x" does not fit a
// bool). All problems are reported at once, one diagnostic per input, and
// the engine shows each at the input's place in the workflow file.
//
// For checks of your own, give the input type a Validate method. It runs
// after decoding and before the task function:
//
//	func (in topIn) Validate() error {
//		if in.K < 1 {
//			return sdk.AttrError("k", "Invalid count", "k must be at least 1.")
//		}
//		return nil
//	}
//
// # Errors
//
// A task fails by returning an error. What the engine sees is a
// *plugin.TaskError:
//
//   - An error made with [AttrError] becomes a diagnostic on the named
//     input, with a summary and a detail. Join several with errors.Join
//     to report several problems at once.
//   - An error marked with [Retryable] tells the engine that running the
//     task again may succeed; its retry policy decides. Only the
//     TaskError's Retryable flag crosses the wire, not the Go error value.
//   - Any other error becomes a TaskError whose Message is err.Error().
//   - A *plugin.TaskError returned by the task is passed on as it is.
//
// Programmer mistakes (a nil task, a bad task name, a type that has no HCL
// form) are not errors: [Serve], [NewProvider] and [Func] panic at start-up,
// before the plugin answers the engine, so they show up at once.
//
// # Panics
//
// A panic in a task does not kill the plugin: the provider recovers it,
// writes "panic: <value>", a blank line and the stack trace of the task's
// goroutine (cut to the frames between the panic and the sdk) to the
// plugin's stderr, and fails the task with a *plugin.TaskError whose
// Message is that same text, starting with "panic: <value>". The plugin
// goes on serving other tasks. A panic in a goroutine the task started
// cannot be recovered and still ends the process.
//
// # Execution parameters
//
// [Params] returns the running task's [ExecutionParams], Flytekit's
// current_context(): the execution id and date, a fresh working directory,
// the execution mode, the task id, node and attempt, and a logger; and
// through its methods the task's checkpoint, metrics (Stats), decks and
// scratch directories (RandomLocalDir), described below. Pass it
// the ctx the task function received (or one derived from it): the
// parameters travel in that context. Outside a task Params returns
// defaults, so task functions can also be called directly in tests.
//
// The working directory is made when the task first calls Params, not
// before: the engine leaves it to the plugin (the sdk announces that it
// can), so that a task that never calls Params costs no directory (a new
// inode costs hundreds of microseconds on a busy disk, more than a
// short task itself). Everything that writes into the directory goes
// through Params (WorkingDirectory, Checkpoint, Deck), so a task always
// finds it fresh, private (mode 0700) and existing when it gets there. A
// task that only logs should use [Logger], which does not make it. A
// [Task] implemented directly (not with Func or Dynamic) gets it made
// before its Execute, since it can read the request's path.
//
//	func report(ctx context.Context, in reportIn) (reportOut, error) {
//		p := sdk.Params(ctx)
//		path := filepath.Join(p.WorkingDirectory, "report.html")
//		...
//	}
//
// # Files and directories
//
// A field of type [File] or [Dir] is the workflow type file or dir. As an
// input its Path is a local file or directory to read (the engine fetched
// it if it lives in a bucket). As an output, write into the working
// directory or a RandomLocalDir and return the path, relative to the
// working directory or absolute; the engine stores it in the run's data
// store and gives tasks downstream a path to the stored copy. A path
// outside those directories (or a symbolic link leading out) fails the
// task.
//
//	type out struct {
//		Report sdk.File `json:"report"`
//	}
//
//	func render(ctx context.Context, in renderIn) (out, error) {
//		path := filepath.Join(sdk.Params(ctx).WorkingDirectory, "report.csv")
//		if err := os.WriteFile(path, data, 0o600); err != nil {
//			return out{}, err
//		}
//		return out{Report: sdk.File{Path: "report.csv"}}, nil
//	}
//
// # Checkpoints and scratch directories
//
// Params(ctx).Checkpoint() is Flytekit's SyncCheckpoint: a long task saves
// its progress with Write (bytes) or Save (a file or a directory's
// contents), and reads it back with Read or Restore. Each attempt saves
// into a directory of its own; a retried attempt sees the checkpoint of
// the latest earlier attempt that saved one, and so does a task that
// `goflyte run --resume` runs again. With nothing saved before, Read
// returns nil and Restore "". Read restores, as Flytekit's does: after a
// Read, Restore copies nothing and returns the directory Read restored
// into, whatever directory it is given; so use one or the other.
//
//	state, err := sdk.Params(ctx).Checkpoint().Read() // nil the first time
//	...
//	err = sdk.Params(ctx).Checkpoint().Write(progress)
//
// Params(ctx).RandomLocalDir() makes a fresh directory in the run's
// sandbox (Flytekit's get_random_local_directory), for scratch space that
// must not mix with the working directory.
//
// # Metrics
//
// Params(ctx).Stats() records counters, gauges and timers, Flytekit's
// current_context().stats. Tags are an [sdk.Tags] map; several merge, a
// later value winning:
//
//	s := sdk.Params(ctx).Stats()
//	s.Incr("rows", sdk.Tags{"source": "s3"})  // also Decr, Count(name, n)
//	s.Gauge("queue", float64(len(queue)))
//	s.Timing("fetch", elapsed)
//	defer s.Time("load")()                    // times until the function returns
//
// Every sample is aggregated per name and tags and returned to the engine
// with the task's result, even when the task fails or panics: the run
// record keeps them (goflyte runs show RUN). When flyte.hcl has a statsd
// block with a host, the engine also passes the endpoint to the task and
// each sample is sent at once as a plain StatsD line over UDP, from one
// socket per plugin process; sending never blocks and never fails the
// task. Names and tags are sanitized, and tags are folded into the name as
// Flytekit does (rows.__source=s3); see package stats for the format.
// The methods are safe to call from many goroutines.
//
// Outside a task Stats returns one in-memory recorder for the process, as
// Flytekit's MockStats is: call a task function directly and read what it
// recorded with Value(name, tags). sdktest's Result has a run's metrics
// in Metrics.
//
// # Decks
//
// A task can add report pages, Flytekit's decks, with
// Params(ctx).Deck(name): Markdown, HTML, tables and PNG or SVG images.
//
//	d := sdk.Params(ctx).Deck("Summary")
//	d.Markdown("**42** words")
//	d.Table([]string{"word", "count"}, [][]any{{"a", 3}, {"b", 1}})
//
// The engine renders them, with default decks (source code, dependencies,
// timeline, inputs, outputs), into deck.html in the task's working
// directory, but only for a task block with enable_deck = true; otherwise
// their content is dropped with a warning. Decks are sent when the task
// fails or panics too. [Deck] is safe for concurrent use.
//
// # Logging and stderr
//
// Log through [Logger](ctx) (or Params(ctx).Logger, which is the same
// logger but makes the task's working directory). It writes JSON lines to the plugin's
// stderr, tagged with the plugin's name and the task, node and attempt; the
// engine forwards them into its own log at the level it asked for. Do not
// write to stdout: go-plugin uses it for the handshake. Note that while
// serving, os.Stderr is a pipe that go-plugin owns, not the process's
// stderr; use Params(ctx).Stderr for raw last words that the engine should
// show if the plugin dies.
//
// # Serving and versions
//
// [Serve] never returns while the engine uses the plugin. The plugin's
// name comes from its file name (goflyte-plugin-<name>), and its version
// from the main module's version in the binary's build information, or
// "devel". Set either with [ServeWithOptions]:
//
//	sdk.ServeWithOptions(sdk.Options{Version: "1.2.0"}, tasks)
//
// The version is part of what identifies a task's result (the engine's
// cache keys include it), so bump it when a task's behaviour changes.
//
// # Testing
//
// Test a task in-process over a real gRPC connection with package
// sdk/sdktest:
//
//	res, err := sdktest.Run(t, sdk.Func(split), map[string]any{"text": "a b"})
//
// res.Decks holds the decks the task made. Or call the provider directly: NewProvider(name, version, tasks) returns
// the same [plugin.Provider] that Serve serves.
//
// # Concurrency
//
// The engine may run many executions of a task at once in one plugin
// process, each on its own goroutine. Task functions must be safe for
// concurrent use; each execution gets its own decoded input value and its
// own parameters.
package sdk
