package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/goflyte/goflyte/auth"
	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/remote"
	"github.com/goflyte/goflyte/secretsbackends"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the run (or a check) failed
	exitUsage   = 2 // bad arguments, configuration or workflow
	exitCancel  = 130
	programName = "goflyte"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "devel"

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// diagError carries diagnostics to render with source snippets: exit code 2.
type diagError struct {
	diags hcl.Diagnostics
}

func (e *diagError) Error() string { return e.diags.Error() }

// exitError is an error with its own exit code, already reported.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// cli is one invocation: its streams, the parser that keeps source files
// for diagnostics, and the global options.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	parser         *config.Parser

	configPath string
	logLevel   string
	logFormat  string
	verbose    int
	lock       bool // check plugins against the lock file (--lock=false: don't)

	// flagsOnly, when set, makes parseArgs store the command's flag set
	// there and stop the command with errFlagsOnly (see commandFlags).
	flagsOnly **flag.FlagSet
}

// A command of the table below. args is its usage line: alternatives
// separated by "|", lower-case words literal (subcommands), upper-case
// ones placeholders (RUN, TASK, FILE...), flags in brackets; completion
// reads it (see usageForms). help ends with a "Flags:" section that lists
// every flag the command parses (a test checks it). Every run function
// parses its flags with parseArgs before doing anything else.
type command struct {
	name    string
	args    string
	summary string
	help    string
	hidden  bool // not listed (goflyte __complete)
	run     func(ctx context.Context, c *cli, args []string) error
}

func commands() []*command {
	return []*command{
		runCommand(),
		validateCommand(),
		fmtCommand(),
		workflowsCommand(),
		pluginsCommand(),
		configCommand(),
		runsCommand(),
		consoleCommand(),
		cacheCommand(),
		secretsCommand(),
		doctorCommand(),
		lspCommand(),
		pluginCommand(),
		completionCommand(),
		completeCommand(),
		loginCommand(),
		logoutCommand(),
		workerCommand(),
		{name: "version", summary: "Print the goflyte version", run: func(_ context.Context, c *cli, args []string) error {
			if err := c.parseFlags(newFlagSet("version"), args, 0); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "goflyte %s (plugin protocol %d)\n", version, pluginProtocol())
			return nil
		}},
	}
}

// Main runs the goflyte command line and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, parser: config.NewParser()}
	args = hoistGlobalFlags(args)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if cmd := findCommand(args[1]); cmd != nil {
				c.printCommandHelp(cmd)
				return exitOK
			}
		}
		c.printHelp()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := config.Suggest(args[0], commandNames()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return c.report(usagef("%s\nRun 'goflyte help' for the list of commands.", msg))
	}
	for _, a := range args[1:] {
		if cmd.hidden {
			break // goflyte __complete: every word is the user's
		}
		if a == "-h" || a == "--help" || a == "-help" {
			c.printCommandHelp(cmd)
			return exitOK
		}
	}
	code := c.report(cmd.run(ctx, c, args[1:]))
	if code != exitOK && ctx.Err() != nil {
		// Interrupted: whatever failed on the way out (a plugin's
		// Describe cut short during validation, say) failed because of
		// the interrupt, and scripts expect 130 for Ctrl-C.
		return exitCancel
	}
	return code
}

// hoistGlobalFlags moves global flags given before the command (goflyte
// -v run ...) after it, where every command parses them.
func hoistGlobalFlags(args []string) []string {
	var global []string
	i := 0
	for i < len(args) {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			break
		}
		switch name {
		case "config", "log-level", "log-format":
			n := 1
			if !hasValue && i+1 < len(args) {
				n = 2
			}
			global = append(global, args[i:i+n]...)
			i += n
			continue
		case "v", "vv", "lock":
			global = append(global, args[i])
			i++
			continue
		}
		break // -h, --help or an unknown flag: leave it to Main
	}
	if len(global) == 0 || i == len(args) {
		return args
	}
	out := append([]string{args[i]}, global...)
	return append(out, args[i+1:]...)
}

func findCommand(name string) *command {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func commandNames() []string {
	var names []string
	for _, cmd := range commands() {
		names = append(names, cmd.name)
	}
	return names
}

func (c *cli) printHelp() {
	fmt.Fprint(c.stderr, `goflyte runs workflows written in HCL whose tasks are plugin binaries,
on this machine: the Go counterpart of Flytekit's "pyflyte run".

Usage: goflyte <command> [arguments] [flags]

Commands:
`)
	for _, cmd := range visibleCommands() {
		fmt.Fprintf(c.stderr, "  %-11s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(c.stderr, `
Global flags (every command; before or after it):
  --config FILE      configuration file (default: $FLYTE_CONFIG, ./flyte.hcl,
                     then <user config dir>/goflyte/flyte.hcl)
  --log-level LEVEL  debug, info, warn or error (overrides sdk.logging_level)
  --log-format F     text or json: goflyte's log on stderr as hclog text or
                     one JSON object per line (overrides sdk.log_format)
  -v                 more logging: -v info, -vv debug
  --lock=false       do not check plugins against goflyte.lock.hcl

Exit codes: 0 success, 1 the run failed, 2 usage, configuration or
workflow error, 130 interrupted.

Run 'goflyte help <command>' for a command's flags.
`)
}

func (c *cli) printCommandHelp(cmd *command) {
	fmt.Fprintf(c.stderr, "Usage: goflyte %s %s\n\n%s\n", cmd.name, cmd.args, cmd.summary)
	if cmd.help != "" {
		fmt.Fprintf(c.stderr, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	fmt.Fprint(c.stderr, "\nGlobal flags: --config FILE, --log-level LEVEL, --log-format text|json, -v, -vv,\n--lock=false (see goflyte help).\n")
}

// newFlagSet returns a flag set with the global flags.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses flags and positional arguments in any order (as
// `goflyte run wf.hcl --input x=1` needs), adds the global flags, and
// checks the number of positional arguments: at most max (-1: any).
func (c *cli) parseFlags(fs *flag.FlagSet, args []string, max int) error {
	_, err := c.parseArgs(fs, args, 0, max)
	return err
}

func (c *cli) parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.StringVar(&c.configPath, "config", "", "")
	fs.StringVar(&c.logLevel, "log-level", "", "")
	fs.StringVar(&c.logFormat, "log-format", "", "")
	fs.BoolVar(&c.lock, "lock", true, "")
	fs.Var(&countFlag{n: &c.verbose, step: 1}, "v", "")
	fs.Var(&countFlag{n: &c.verbose, step: 2}, "vv", "")
	if c.flagsOnly != nil {
		*c.flagsOnly = fs
		return nil, errFlagsOnly
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v\nRun 'goflyte help %s' for its flags.", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) < min {
		return nil, usagef("%s: missing arguments\nRun 'goflyte help %s' for its usage.", fs.Name(), fs.Name())
	}
	if max >= 0 && len(positional) > max {
		return nil, usagef("%s: unexpected argument %q\nRun 'goflyte help %s' for its usage.", fs.Name(), positional[max], fs.Name())
	}
	return positional, nil
}

// countFlag counts repetitions of a boolean flag (-v -v, or -vv).
type countFlag struct {
	n    *int
	step int
}

func (f *countFlag) String() string {
	if f.n == nil {
		return "0"
	}
	return fmt.Sprint(*f.n)
}
func (f *countFlag) IsBoolFlag() bool { return true }
func (f *countFlag) Set(s string) error {
	switch s {
	case "true":
		*f.n += f.step
	case "false":
	default:
		return errors.New("takes no value")
	}
	return nil
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(s string) error { *f = append(*f, s); return nil }

// loadConfig loads flyte.hcl and the FLYTE_* environment, then applies the
// global flags.
func (c *cli) loadConfig() (*config.Config, error) {
	cfg, diags := c.parser.LoadConfig(config.LoadOptions{ExplicitPath: c.configPath})
	if diags.HasErrors() {
		return nil, &diagError{diags: diags}
	}
	c.warn(diags)
	level := c.logLevel
	switch {
	case c.verbose >= 2:
		level = "debug"
	case c.verbose == 1 && level == "":
		level = "info"
	}
	if level != "" {
		flagName := "--log-level"
		if c.logLevel == "" {
			flagName = "-v"
		}
		if err := cfg.Override("sdk.logging_level", level, flagName); err != nil {
			return nil, usagef("%v", err)
		}
	}
	if c.logFormat != "" {
		if err := cfg.Override("sdk.log_format", c.logFormat, "--log-format"); err != nil {
			return nil, usagef("%v", err)
		}
	}
	return cfg, nil
}

// logger returns goflyte's logger: stderr, at the configured level, in
// the configured format (sdk.log_format: hclog text or JSON lines).
func (c *cli) logger(cfg *config.Config) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       programName,
		Level:      hclog.LevelFromString(cfg.SDK.LoggingLevel),
		Output:     c.stderr,
		Color:      hclog.ColorOff,
		JSONFormat: cfg.SDK.LogFormat == "json",
	})
}

// newEngine returns an engine whose logs (its own and the plugins') go to
// stderr at the configured level, with the secrets chain of flyte.hcl.
func (c *cli) newEngine(cfg *config.Config) *engine.Engine {
	logger := c.logger(cfg)
	e := engine.New(cfg, logger)
	subscribeEngine(e)
	e.Secrets = secretsbackends.New(secretsOptions(cfg, logger))
	e.Storage = storageFor(cfg, logger)
	if c.lock {
		wd, _ := os.Getwd()
		path := config.LockPath(cfg, wd)
		lock, diags := c.parser.LoadLock(path)
		if diags.HasErrors() {
			c.writeDiags(diags)
			fmt.Fprintf(c.stderr, "warning: the plugin lock file %s has errors; fix it or run goflyte plugins lock\n", path)
			lock = &config.Lock{} // trust nothing rather than everything
		}
		if lock != nil {
			e.Plugins.UseLock(lock, path)
		}
	}
	return e
}

func (c *cli) warn(diags hcl.Diagnostics) {
	if len(diags) > 0 {
		c.writeDiags(diags)
	}
}

func (c *cli) writeDiags(diags hcl.Diagnostics) {
	c.writeDiagsFiles(diags, c.parser.Files())
}

// writeDiagsFiles writes diags with source snippets from files.
func (c *cli) writeDiagsFiles(diags hcl.Diagnostics, files map[string]*hcl.File) {
	width, color := 78, false
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			width = w
		}
		color = os.Getenv("NO_COLOR") == ""
	}
	shown := diags
	if len(shown) > maxShownDiags {
		shown = shown[:maxShownDiags]
	}
	for _, d := range shown {
		// One writer per diagnostic: each may need its own cut of a long
		// line (see shortSnippet).
		fs, d := shortSnippet(files, d)
		_ = hcl.NewDiagnosticTextWriter(c.stderr, fs, uint(width), color).WriteDiagnostic(d)
	}
	if rest := diags[len(shown):]; len(rest) > 0 {
		errs := len(rest.Errs())
		fmt.Fprintf(c.stderr, "... and %d more (%d errors, %d warnings) not shown; goflyte validate --json lists them all\n",
			len(rest), errs, len(rest)-errs)
	}
}

// maxShownDiags bounds the diagnostics written as text, as compilers do:
// past a few dozen they are one mistake repeated (a plugin that is not
// installed, used by 10,000 tasks), and hcl's writer scans the file from
// its start for each snippet, so writing them all took minutes.
const maxShownDiags = 50

// report prints err, if any, and maps it to the exit code.
func (c *cli) report(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var de *diagError
	if errors.As(err, &de) {
		c.writeDiags(de.diags)
		return exitUsage
	}
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		c.writeDiags(diags)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "Error: %v\n", err)
	var ue *usageError
	var ce *auth.ConfigError
	var ie *engine.InputError
	var nf *engine.NotFoundError
	var re *engine.ResumeError
	var dial *remote.DialError
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ie), errors.As(err, &nf), errors.As(err, &re):
		return exitUsage
	case errors.As(err, &dial) && dial.Refused, errors.Is(err, auth.ErrLoginRequired):
		// The service refused the credentials (or wanted some), or a
		// login is needed first: the user must act, as for any other
		// bad setting.
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitCancel
	}
	return exitFailed
}

func (c *cli) isTTY() bool {
	f, ok := c.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
