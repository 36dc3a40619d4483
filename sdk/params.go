package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/plugin"
	"github.com/goflyte/goflyte/stats"
)

// Mode is the execution mode a task runs in (Flytekit's
// ExecutionState.Mode). It is [plugin.Mode]; the constants are repeated
// here so that a plugin author needs only this package.
type Mode = plugin.Mode

// Execution modes. goflyte itself runs the local ones.
const (
	ModeUnspecified               = plugin.ModeUnspecified
	ModeTaskExecution             = plugin.ModeTaskExecution
	ModeLocalWorkflowExecution    = plugin.ModeLocalWorkflowExecution
	ModeLocalTaskExecution        = plugin.ModeLocalTaskExecution
	ModeDynamicTaskExecution      = plugin.ModeDynamicTaskExecution
	ModeEagerExecution            = plugin.ModeEagerExecution
	ModeEagerLocalExecution       = plugin.ModeEagerLocalExecution
	ModeLocalDynamicTaskExecution = plugin.ModeLocalDynamicTaskExecution
)

// ExecutionParams are the execution parameters of the running task,
// Flytekit's current_context(). Get them with [Params].
//
// The engine sets them for each execution; treat them as read-only.
type ExecutionParams struct {
	// ExecutionID is "<project>:<domain>:<name>", the same for every task
	// of one run.
	ExecutionID string
	// ExecutionDate is when the run started, the same for every task of
	// one run.
	ExecutionDate time.Time
	// WorkingDirectory is a fresh, private directory for this task
	// execution. Write scratch and output files here. It exists once the
	// task has its params from [Params]: an engine that leaves making it
	// to the plugin (so that a task that never touches it costs no
	// directory) has it made by that first call, not before; [Logger]
	// gives the task's logger without making it.
	WorkingDirectory string
	// Mode is the execution mode, e.g. ModeLocalWorkflowExecution.
	Mode Mode
	// TaskID is "<plugin>.<task>".
	TaskID string
	// Node is the task's name in the workflow ("" for a single-task run).
	Node string
	// Attempt counts the attempts of this node from 1.
	Attempt int
	// Logger is the plugin's logger, tagged with the task, node and attempt.
	// The engine forwards its lines into its own log at the level it asked
	// for; use it rather than printing.
	Logger hclog.Logger
	// Stderr is the plugin process's standard error. The engine keeps its
	// last lines and shows them when the plugin dies. While the plugin is
	// serving, os.Stderr is not the process's stderr (go-plugin replaces
	// it with a pipe whose contents the engine does not show), so write
	// last words here, not to os.Stderr.
	Stderr io.Writer
	// EnableDeck says whether the engine renders this task's decks
	// (enable_deck = true on its task block); see [Deck].
	EnableDeck bool

	// TmpDir is a directory of the run's sandbox for scratch space that
	// outlives nothing but the run; RandomLocalDir makes directories in
	// it.
	TmpDir string
	// RawOutputPrefix is the URI of the run's data store, where the
	// engine keeps the files and directories tasks return.
	RawOutputPrefix string

	workdir    *lazyDir // nil: nothing to make
	secrets    []plugin.Secret
	host       plugin.Host
	callID     string
	checkpoint *Checkpoint
	stats      *Stats
	decks      *deckSet
}

// Checkpoint returns the task's checkpoint: see [Checkpoint].
func (p *ExecutionParams) Checkpoint() *Checkpoint { return p.checkpoint }

// RandomLocalDir makes a fresh, empty directory in the run's sandbox and
// returns its path, Flytekit's get_random_local_directory. Outside a task
// it makes one in the system's temporary directory.
func (p *ExecutionParams) RandomLocalDir() (string, error) {
	dir, err := mkdirTemp(p.TmpDir, "")
	if err != nil {
		return "", fmt.Errorf("sdk: RandomLocalDir: %w", err)
	}
	return dir, nil
}

// Stats records metrics: counters, gauges and timers with tags, Flytekit's
// current_context().stats. It is [stats.Recorder].
type Stats = stats.Recorder

// Tags are the tags of a metric sample, key to value. It is [stats.Tags].
type Tags = stats.Tags

// Stats returns the task's metrics. In a task, every sample is kept and
// returned to the engine with the task's result (also when the task fails
// or panics), which puts it in the run record; when the engine has a
// StatsD server configured, each sample is also sent there at once, over
// UDP, never blocking and never failing the task:
//
//	s := sdk.Params(ctx).Stats()
//	s.Incr("rows", sdk.Tags{"source": "s3"})
//	s.Gauge("queue", float64(len(queue)))
//	defer s.Time("load")()
//
// Outside a task (a task function called directly in a unit test), Stats
// returns one in-memory recorder shared by the whole process, like
// Flytekit's MockStats; read values back with its Value method. For
// metrics of one run in isolation, use sdktest, whose Result has them.
func (p *ExecutionParams) Stats() *Stats {
	if p.stats == nil {
		return defaultStats
	}
	return p.stats
}

// defaultStats is the recorder outside a task.
var defaultStats = stats.NewRecorder(stats.RecorderOptions{})

// TaskResult is the outputs of a task run with [ExecutionParams.Run].
type TaskResult struct {
	// Outputs are the outputs as encoding/json decodes them into any.
	Outputs map[string]any
	// Raw is the outputs object as the task sent it.
	Raw json.RawMessage
}

// Decode decodes the outputs into v, typically a pointer to a struct.
func (r *TaskResult) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Run runs the task ("<plugin>.<task>") with inputs (any value that
// encodes as a JSON object) through the engine, and returns its outputs:
// the way an eager task (see [Eager]) calls other tasks. It blocks until
// the task is done and is safe to call from many goroutines. A task that
// failed is a *plugin.TaskError. Outside an eager task it is an error.
func (p *ExecutionParams) Run(ctx context.Context, task string, inputs any) (*TaskResult, error) {
	if p.host == nil {
		return nil, fmt.Errorf("sdk: Run(%q): only an eager task (sdk.Eager) can run other tasks", task)
	}
	data, err := json.Marshal(inputs)
	if err != nil {
		return nil, fmt.Errorf("sdk: Run(%q): encode inputs: %w", task, err)
	}
	if inputs == nil {
		data = []byte("{}")
	}
	raw, err := p.host.RunTask(ctx, p.callID, task, data)
	if err != nil {
		return nil, err
	}
	r := &TaskResult{Raw: raw}
	if err := json.Unmarshal(raw, &r.Outputs); err != nil {
		return nil, fmt.Errorf("sdk: Run(%q): outputs: %w", task, err)
	}
	return r, nil
}

type paramsKey struct{}

// Params returns the execution parameters of the task running in ctx. ctx
// must be the context passed to the task function (or derived from it).
//
// Outside a task, for instance when a task function is called directly in
// a unit test, Params returns Flytekit-like defaults: ExecutionID
// "local:local:local", ExecutionDate the time of the first call, the
// system temporary directory as WorkingDirectory and TmpDir,
// ModeUnspecified, Attempt 1, a text logger on stderr (at the level in
// plugin.LogLevelEnv, else info), and a checkpoint with nothing to
// restore that saves into a new directory of the system's temporary
// directory. Each such call returns a new copy.
//
// In a task, the first call makes the task's working directory if the
// engine left that to the plugin (see ExecutionParams.WorkingDirectory).
func Params(ctx context.Context) *ExecutionParams {
	if p, ok := ctx.Value(paramsKey{}).(*ExecutionParams); ok {
		p.workdir.make()
		return p
	}
	p := *defaultParams()
	p.checkpoint = newCheckpoint(filepath.Join(os.TempDir(), "goflyte-checkpoint-"+randomHex()), "", p.TmpDir)
	p.decks = &deckSet{}
	return &p
}

// Logger returns the logger of the task running in ctx, as
// Params(ctx).Logger does, but without making the task's working directory:
// a task that only logs costs the engine no directory. Outside a task it
// is the default logger of [Params].
func Logger(ctx context.Context) hclog.Logger {
	if p, ok := ctx.Value(paramsKey{}).(*ExecutionParams); ok {
		return p.Logger
	}
	return defaultParams().Logger
}

// lazyDir is a working directory the plugin makes when its task first
// needs it (plugin.Params.MakeWorkingDirectory). Safe for concurrent use.
type lazyDir struct {
	path string
	once sync.Once
	err  error
	// state is what make did: lazyUntried, lazyMade or lazyFailed.
	state atomic.Int32
}

const (
	lazyUntried = iota
	lazyMade
	lazyFailed
)

// make makes the directory, once: one mkdir, failing if it exists, so
// that no execution sees another's files. A nil lazyDir has nothing to
// make.
func (d *lazyDir) make() error {
	if d == nil {
		return nil
	}
	d.once.Do(func() {
		if err := os.Mkdir(d.path, 0o700); err != nil {
			d.err = fmt.Errorf("sdk: make the task's working directory: %w", err)
			d.state.Store(lazyFailed)
			return
		}
		d.state.Store(lazyMade)
	})
	return d.err
}

// report is what the call's answer says of the directory
// (plugin.ExecuteResult.Workdir), so that the engine need not look: made,
// or not made because the task never asked for it; nothing after a
// failed mkdir (the path may exist, made by someone else) or when there
// was nothing to make.
func (d *lazyDir) report() plugin.WorkdirReport {
	if d == nil {
		return plugin.WorkdirUnreported
	}
	switch d.state.Load() {
	case lazyMade:
		return plugin.WorkdirMade
	case lazyUntried:
		return plugin.WorkdirNotMade
	}
	return plugin.WorkdirUnreported
}

// randomHex returns 16 random hex digits.
func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func withParams(ctx context.Context, p *ExecutionParams) context.Context {
	return context.WithValue(ctx, paramsKey{}, p)
}

var defaultParams = sync.OnceValue(func() *ExecutionParams {
	level := hclog.LevelFromString(os.Getenv(plugin.LogLevelEnv))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return &ExecutionParams{
		ExecutionID:      "local:local:local",
		ExecutionDate:    time.Now().UTC(),
		WorkingDirectory: os.TempDir(),
		TmpDir:           os.TempDir(),
		Mode:             ModeUnspecified,
		Attempt:          1,
		Logger:           hclog.New(&hclog.LoggerOptions{Level: level, Output: processStderr}),
		Stderr:           processStderr,
	}
})

// processStderr is the process's real standard error, captured before
// go-plugin's Serve swaps os.Stderr for a pipe. The engine reads the real
// one: the plugin's JSON log lines and the tail it shows when a plugin
// dies. Through plugin.ProcessStderr, so that a call's lines are in the
// host's log when the call returns (plugin/logmark.go).
var processStderr = plugin.ProcessStderr()
