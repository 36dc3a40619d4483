package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
)

// Shell completion follows cobra's convention without cobra: the scripts
// that `goflyte completion SHELL` prints call the hidden command
//
//	goflyte __complete ARG... CURRENT
//
// with the words before the cursor and the word being completed (maybe
// ""). It prints one candidate a line, "value" or "value<TAB>description",
// then a last line ":N" where N is a bit set of directives (below). Every
// command, subcommand and flag comes from the command table, each
// command's flag set and its usage line, so completions cannot drift from
// the commands; dynamic values (workflows, plugin tasks, runs, a run's
// tasks, a workflow's inputs) are computed from the configuration and the
// sandbox, as the commands themselves see them.

// Completion directives, cobra's values.
const (
	compError        = 1  // something went wrong: offer nothing
	compNoSpace      = 2  // no space after the completion (NAME=)
	compNoFileComp   = 4  // no file completion when there are no candidates
	compFilterDirs   = 16 // complete directory names only
	compKeepOrder    = 32 // keep the candidates' order (newest run first)
	compDefault      = 0  // the shell's file completion when there are no candidates
	completeCmdName  = "__complete"
	completionShells = "bash|zsh|fish"
)

// errFlagsOnly stops a command right after it declared its flags; see
// commandFlags.
var errFlagsOnly = errors.New("flags only")

// commandFlags returns the flags cmd parses, the global ones included. It
// runs cmd in a mode where cli.parseArgs, which every command calls
// before doing anything, hands over the flag set and stops the command.
// It returns nil for a command that does not reach parseArgs.
func commandFlags(cmd *command) *flag.FlagSet {
	var fs *flag.FlagSet
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, parser: config.NewParser(), flagsOnly: &fs}
	if err := cmd.run(context.Background(), c, nil); !errors.Is(err, errFlagsOnly) {
		return nil
	}
	return fs
}

// isBoolFlag reports whether f takes no value.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagName returns how a flag is written: -q for a one-letter name,
// --name otherwise.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

var (
	// usage lines: flags with their argument ([--task T], (--task T |
	// --all), --older-than D) and [flags] are not positional arguments.
	usageFlagGroup = regexp.MustCompile(`[\[(]-[^\])]*[\])]?|--?[a-z][a-z0-9-]*( [A-Z][A-Z0-9._=]*)?|\[flags\]`)
)

// usageForms returns the positional forms of cmd's usage line, each as
// its words: "list | show RUN | logs RUN [TASK]" gives [list], [show
// RUN] and [logs RUN TASK]. Lower-case words are literal (subcommands),
// upper-case ones placeholders; a word ending in "..." repeats.
func usageForms(cmd *command) [][]string {
	line := usageFlagGroup.ReplaceAllString(cmd.args, " ")
	var forms [][]string
	for _, alt := range strings.Split(line, "|") {
		var words []string
		for _, w := range strings.Fields(alt) {
			w = strings.Trim(w, "[]()")
			if w != "" {
				words = append(words, w)
			}
		}
		if len(words) > 0 {
			forms = append(forms, words)
		}
	}
	return forms
}

func isPlaceholder(word string) bool {
	w := strings.TrimSuffix(word, "...")
	return w != "" && w == strings.ToUpper(w)
}

// flagDocs returns the first line of each flag's description in the
// "Flags:" section of cmd's help ("  --json   print JSON").
func flagDocs(help string) map[string]string {
	docs := map[string]string{}
	for _, line := range strings.Split(help, "\n") {
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		spec, doc, _ := strings.Cut(strings.TrimSpace(line), "   ")
		doc = strings.TrimSpace(doc)
		if i := strings.Index(doc, ". "); i > 0 {
			doc = doc[:i] // the first sentence
		}
		for _, part := range strings.Split(spec, ",") {
			name := strings.TrimLeft(strings.Fields(strings.TrimSpace(part))[0], "-")
			name, _, _ = strings.Cut(name, "=")
			docs[name] = strings.TrimSpace(doc)
		}
	}
	return docs
}

// globalFlagDocs documents the flags every command takes.
var globalFlagDocs = map[string]string{
	"config":     "configuration file",
	"log-level":  "debug, info, warn or error",
	"log-format": "text or json",
	"v":          "more logging (info)",
	"vv":         "debug logging",
	"lock":       "check plugins against goflyte.lock.hcl (--lock=false: don't)",
}

func completeCommand() *command {
	return &command{
		name:    completeCmdName,
		hidden:  true,
		args:    "ARG... CURRENT",
		summary: "Print completions for the shell scripts of goflyte completion",
		run: func(ctx context.Context, c *cli, args []string) error {
			// No flag parsing: every argument is a word of the line.
			if len(args) == 0 {
				args = []string{""}
			}
			words, cur := args[:len(args)-1], args[len(args)-1]
			cands, dir := c.complete(ctx, words, cur)
			for _, cand := range cands {
				fmt.Fprintln(c.stdout, cand)
			}
			fmt.Fprintf(c.stdout, ":%d\n", dir)
			return nil
		},
	}
}

// candidate is "value" or "value\tdescription".
func candidate(value, desc string) string {
	desc, _, _ = strings.Cut(strings.TrimSpace(desc), "\n")
	if desc == "" {
		return value
	}
	return value + "\t" + desc
}

// complete returns the candidates for cur after words (the arguments
// before it) and the directive. Candidates start with cur.
func (c *cli) complete(ctx context.Context, words []string, cur string) ([]string, int) {
	words = hoistGlobalFlags(words)
	var cmd *command
	if len(words) > 0 {
		cmd = findCommand(words[0])
	}
	if cmd == nil || cmd.hidden {
		if len(words) == 1 && words[0] == "help" {
			words, cmd = nil, nil // goflyte help COMMAND
		}
		if len(words) > 0 && !strings.HasPrefix(words[0], "-") {
			return nil, compNoFileComp // an unknown command
		}
		if n := len(words); n > 0 {
			// goflyte --config <TAB>: the value of a global flag.
			switch name := strings.TrimLeft(words[n-1], "-"); name {
			case "config", "log-level", "log-format":
				return c.completeFlagValue(ctx, &command{}, name, nil, nil, cur, "")
			}
		}
		if strings.HasPrefix(cur, "-") {
			var out []string
			for _, name := range sortedStrings(globalFlagDocs) {
				if strings.HasPrefix(flagName(name), cur) {
					out = append(out, candidate(flagName(name), globalFlagDocs[name]))
				}
			}
			return out, compNoFileComp
		}
		var out []string
		for _, cmd := range commands() {
			if !cmd.hidden && strings.HasPrefix(cmd.name, cur) {
				out = append(out, candidate(cmd.name, cmd.summary))
			}
		}
		if strings.HasPrefix("help", cur) {
			out = append(out, candidate("help", "Show the help of goflyte or of a command"))
		}
		return out, compNoFileComp
	}
	fs := commandFlags(cmd)
	if fs == nil {
		return nil, compDefault
	}
	// Walk the words after the command: flags (with their values) and
	// positional arguments.
	var pos []string
	given := map[string][]string{}
	pending := "" // a flag whose value is the next word
	for _, w := range words[1:] {
		if pending != "" {
			given[pending] = append(given[pending], w)
			pending = ""
			continue
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			pos = append(pos, w)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		f := fs.Lookup(name)
		switch {
		case f == nil:
		case hasValue:
			given[name] = append(given[name], value)
		case isBoolFlag(f):
			given[name] = append(given[name], "true")
		default:
			pending = name
		}
	}
	if cfg := given["config"]; len(cfg) > 0 {
		c.configPath = cfg[len(cfg)-1] // values come from that configuration
	}
	if pending != "" {
		return c.completeFlagValue(ctx, cmd, pending, pos, given, cur, "")
	}
	if strings.HasPrefix(cur, "-") {
		if name, value, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			if f := fs.Lookup(name); f != nil && !isBoolFlag(f) {
				prefix := cur[:len(cur)-len(value)]
				return c.completeFlagValue(ctx, cmd, name, pos, given, value, prefix)
			}
			return nil, compNoFileComp
		}
		docs := flagDocs(cmd.help)
		var out []string
		fs.VisitAll(func(f *flag.Flag) {
			n := flagName(f.Name)
			if !strings.HasPrefix(n, cur) || (len(given[f.Name]) > 0 && f.Name != "input") {
				return
			}
			doc, ok := docs[f.Name]
			if !ok {
				doc = globalFlagDocs[f.Name]
			}
			out = append(out, candidate(n, doc))
		})
		return out, compNoFileComp
	}
	return c.completePositional(ctx, cmd, pos, given, cur)
}

// completePositional completes the positional argument after pos from
// cmd's usage forms.
func (c *cli) completePositional(ctx context.Context, cmd *command, pos []string, given map[string][]string, cur string) ([]string, int) {
	if cmd.name == "run" && (len(given["task"]) > 0 || len(given["resume"]) > 0) {
		return nil, compNoFileComp
	}
	var out []string
	dir := compNoFileComp
	seen := map[string]bool{}
	add := func(cands []string, d int) {
		for _, c := range cands {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		dir |= d
	}
	for _, form := range usageForms(cmd) {
		word, bound, ok := formWord(form, pos)
		if !ok {
			continue
		}
		if !isPlaceholder(word) {
			if strings.HasPrefix(word, cur) {
				add([]string{word}, 0)
			}
			continue
		}
		cands, d := c.completePlaceholder(ctx, cmd, strings.TrimSuffix(word, "..."), bound, cur)
		if d&compKeepOrder == 0 || len(out) > 0 {
			d &^= compKeepOrder
		}
		if d&compNoFileComp == 0 {
			dir &^= compNoFileComp
		}
		add(cands, d&^compNoFileComp)
	}
	return out, dir
}

// formWord matches the positional arguments pos against form and returns
// the word of form for the next argument, with the values the
// placeholders before it got. ok is false when pos does not fit form.
func formWord(form, pos []string) (word string, bound map[string]string, ok bool) {
	bound = map[string]string{}
	at := func(i int) (string, bool) {
		if i < len(form) {
			return form[i], true
		}
		if last := form[len(form)-1]; strings.HasSuffix(last, "...") {
			return last, true
		}
		return "", false
	}
	for i, p := range pos {
		w, ok := at(i)
		if !ok {
			return "", nil, false
		}
		if isPlaceholder(w) {
			bound[strings.TrimSuffix(w, "...")] = p
		} else if w != p {
			return "", nil, false
		}
	}
	word, ok = at(len(pos))
	return word, bound, ok
}

// completePlaceholder completes a placeholder of a usage line. bound holds
// the values of the placeholders before it.
func (c *cli) completePlaceholder(ctx context.Context, cmd *command, ph string, bound map[string]string, cur string) ([]string, int) {
	switch ph {
	case "RUN":
		return c.completeRuns(cur)
	case "TASK":
		if run := bound["RUN"]; run != "" {
			return c.completeRunTasks(run, cur)
		}
	case "FILE", "PATH":
		return completeFiles(cur, ".hcl"), compNoFileComp
	case "WORKFLOW":
		return c.completeFileWorkflows(bound["FILE"], cur), compNoFileComp
	case "NAME":
		switch cmd.name {
		case "run":
			return c.completeWorkflows(cur), compNoFileComp
		case "plugins":
			return c.completePlugins(ctx, cur), compNoFileComp
		}
	}
	return nil, compNoFileComp
}

// completeFlagValue completes the value of flag name; prefix ("--flag=")
// goes before each candidate.
func (c *cli) completeFlagValue(ctx context.Context, cmd *command, name string, pos []string, given map[string][]string, cur, prefix string) ([]string, int) {
	var cands []string
	dir := compNoFileComp
	switch name {
	case "config":
		cands = completeFiles(cur, ".hcl")
	case "log-level":
		cands = matching(cur, "debug", "info", "warn", "error")
	case "log-format":
		cands = matching(cur, "text", "json")
	case "task":
		cands = c.completeTasks(ctx, cur)
	case "resume":
		cands, dir = c.completeRuns(cur)
	case "from":
		if runs := given["resume"]; len(runs) > 0 {
			cands, dir = c.completeRunTasks(runs[len(runs)-1], cur)
		}
	case "input":
		cands, dir = c.completeInputs(ctx, cmd, pos, given, cur)
	case "inputs-file":
		dir = compDefault
	case "raw-output-data-prefix", "dir", "goflyte":
		dir = compFilterDirs
	}
	if prefix != "" {
		for i := range cands {
			cands[i] = prefix + cands[i]
		}
	}
	return cands, dir
}

func matching(cur string, values ...string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, cur) {
			out = append(out, v)
		}
	}
	return out
}

// completeFiles lists the directories (with a trailing slash) and the
// files with extension ext that start with cur; hidden ones only when cur
// names a hidden entry.
func completeFiles(cur, ext string) []string {
	dir, base := filepath.Split(cur)
	read := dir
	if read == "" {
		read = "."
	}
	entries, err := os.ReadDir(read)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
				isDir = info.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, dir+name+"/")
		case strings.HasSuffix(name, ext):
			out = append(out, dir+name)
		}
	}
	return out
}

// completeRuns lists the runs in the sandbox whose name starts with cur,
// newest first.
func (c *cli) completeRuns(cur string) ([]string, int) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, compError
	}
	recs, _, err := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}.ListRecords()
	if err != nil {
		return nil, compError
	}
	var out []string
	for _, r := range recs {
		if strings.HasPrefix(r.Name, cur) {
			out = append(out, candidate(r.Name, r.Workflow+" "+r.Status+" "+r.Start.Local().Format("2006-01-02 15:04:05")))
		}
	}
	return out, compNoFileComp | compKeepOrder
}

// completeRunTasks lists the tasks of a run (its name or id).
func (c *cli) completeRunTasks(run, cur string) ([]string, int) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, compError
	}
	rec, err := sandbox.Sandbox{Root: cfg.SDK.LocalSandbox}.LoadRecord(run)
	if err != nil {
		return nil, compNoFileComp
	}
	var out []string
	for _, t := range rec.Tasks {
		if strings.HasPrefix(t.Name, cur) {
			out = append(out, candidate(t.Name, t.Task+" "+t.Status))
		}
	}
	return out, compNoFileComp | compKeepOrder
}

// completeWorkflows lists the workflows of sdk.workflow_packages.
func (c *cli) completeWorkflows(cur string) []string {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil
	}
	found, _, err := c.findWorkflows(cfg)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range found {
		if strings.HasPrefix(f.wf.Name, cur) {
			desc := f.wf.Description
			if desc == "" {
				desc = f.file
			}
			out = append(out, candidate(f.wf.Name, desc))
		}
	}
	return out
}

// completeFileWorkflows lists the workflows of a workflow file.
func (c *cli) completeFileWorkflows(file, cur string) []string {
	if file == "" {
		return nil
	}
	wf, _ := c.parser.LoadWorkflowFile(file)
	if wf == nil {
		return nil
	}
	var out []string
	for _, w := range wf.Workflows {
		if strings.HasPrefix(w.Name, cur) {
			out = append(out, candidate(w.Name, w.Description))
		}
	}
	return out
}

// completePlugins lists the installed plugins.
func (c *cli) completePlugins(ctx context.Context, cur string) []string {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil
	}
	eng := c.newEngine(cfg)
	defer eng.Close()
	names, _ := eng.Plugins.Names()
	return matching(cur, names...)
}

// completeTasks lists every task of every installed plugin as
// plugin.task, with its doc. It starts the plugins to describe them.
func (c *cli) completeTasks(ctx context.Context, cur string) []string {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil
	}
	eng := c.newEngine(cfg)
	defer eng.Close()
	names, _ := eng.Plugins.Names()
	var out []string
	for _, name := range names {
		if p, _, _ := strings.Cut(cur, "."); !strings.HasPrefix(name, p) {
			continue // no need to start this plugin
		}
		_, schema, err := eng.Plugins.Get(ctx, name)
		if err != nil {
			continue
		}
		for _, t := range schema.Tasks {
			if id := name + "." + t.Name; strings.HasPrefix(id, cur) {
				out = append(out, candidate(id, t.Doc))
			}
		}
	}
	return out
}

// completeInputs lists NAME= for the inputs of the workflow (or task) the
// command line names, leaving out those already given.
func (c *cli) completeInputs(ctx context.Context, cmd *command, pos []string, given map[string][]string, cur string) ([]string, int) {
	if cmd.name != "run" || strings.Contains(cur, "=") {
		return nil, compNoFileComp
	}
	done := map[string]bool{}
	for _, kv := range given["input"] {
		k, _, _ := strings.Cut(kv, "=")
		done[k] = true
	}
	type input struct{ name, desc string }
	var inputs []input
	if tasks := given["task"]; len(tasks) > 0 {
		cfg, err := c.loadConfig()
		if err != nil {
			return nil, compError
		}
		eng := c.newEngine(cfg)
		defer eng.Close()
		p, t, _ := strings.Cut(tasks[len(tasks)-1], ".")
		_, schema, err := eng.Plugins.Get(ctx, p)
		if err != nil {
			return nil, compNoFileComp
		}
		for _, ts := range schema.Tasks {
			if ts.Name != t {
				continue
			}
			for _, f := range ts.Inputs {
				req := "required"
				if f.Optional {
					req = "optional"
				}
				inputs = append(inputs, input{f.Name, f.Type + ", " + req + ": " + f.Doc})
			}
		}
	} else if len(pos) > 0 {
		cfg, err := c.loadConfig()
		if err != nil {
			return nil, compError
		}
		wf, _, err := c.loadWorkflowArg(cfg, pos)
		if err != nil || wf == nil {
			return nil, compNoFileComp
		}
		for _, in := range wf.Inputs {
			req := "required"
			if !in.Required() {
				req = "has a default"
			}
			desc := in.TypeExpr + ", " + req
			if in.Description != "" {
				desc += ": " + in.Description
			}
			inputs = append(inputs, input{in.Name, desc})
		}
	}
	var out []string
	for _, in := range inputs {
		if !done[in.name] && strings.HasPrefix(in.name+"=", cur) {
			out = append(out, candidate(in.name+"=", in.desc))
		}
	}
	sort.Strings(out)
	return out, compNoFileComp | compNoSpace
}

// commandTable lists the visible commands with their flags, for the
// completion command's checks and tests.
func visibleCommands() []*command {
	return slices.DeleteFunc(commands(), func(c *command) bool { return c.hidden })
}

func completionCommand() *command {
	return &command{
		name:    "completion",
		args:    completionShells,
		summary: "Print a shell completion script (bash, zsh or fish)",
		help: `
Prints a script that completes goflyte's commands, flags and values in your
shell: workflow names (goflyte workflows list), plugin tasks for --task,
run names for runs show/logs/deck and --resume, a run's tasks for --from
and runs logs/deck, and the chosen workflow's inputs for --input NAME=.
The values are computed by goflyte itself, with your flyte.hcl and sandbox.

bash (needs the bash-completion package: apt install bash-completion,
brew install bash-completion@2):
  source <(goflyte completion bash)                  # this shell
  goflyte completion bash > ~/.local/share/bash-completion/completions/goflyte

zsh:
  source <(goflyte completion zsh)                   # this shell
  goflyte completion zsh > "${fpath[1]}/_goflyte"    # every shell (then compinit)

fish:
  goflyte completion fish | source                   # this shell
  goflyte completion fish > ~/.config/fish/completions/goflyte.fish`,
		run: func(_ context.Context, c *cli, args []string) error {
			fs := newFlagSet("completion")
			pos, err := c.parseArgs(fs, args, 1, 1)
			if err != nil {
				return err
			}
			script, ok := completionScripts[pos[0]]
			if !ok {
				return usagef("completion: no script for %q: choose bash, zsh or fish", pos[0])
			}
			_, err = io.WriteString(c.stdout, script)
			return err
		},
	}
}

// completionScripts are the scripts of `goflyte completion SHELL`. Each asks
// `goflyte __complete` (the binary the user typed, words[0]) for the
// candidates and applies the directives.
var completionScripts = map[string]string{
	"bash": `# bash completion for goflyte; generated by 'goflyte completion bash'.
# Needs bash-completion (_init_completion). Load it with:
#   source <(goflyte completion bash)

_goflyte() {
    local cur prev words cword
    # = and : are not word breaks here: --input=x and local:local:r... stay
    # one word, as goflyte sees them.
    _init_completion -n =: || return

    local out
    out=$("${words[0]}" __complete "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return
    local directive=${out##*:}
    out=${out%:*}
    [[ $directive =~ ^[0-9]+$ ]] || directive=0
    ((directive & 1)) && return

    local -a cands=()
    local line
    while IFS= read -r line; do
        [[ -n $line ]] && cands+=("${line%%$'\t'*}")
    done <<<"$out"

    if ((directive & 16)); then
        _filedir -d
        return
    fi
    if ((${#cands[@]} == 0)); then
        ((directive & 4)) || _filedir
        return
    fi
    COMPREPLY=("${cands[@]}")
    # bash replaces only the part of the word after the last = or :
    # (COMP_WORDBREAKS); drop what comes before it from each candidate.
    if [[ $cur == *[=:]* ]]; then
        local pre=${cur%"${cur##*[=:]}"}
        COMPREPLY=("${COMPREPLY[@]#"$pre"}")
    fi
    if ((directive & 2)) || [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace
    fi
    ((directive & 32)) && compopt -o nosort 2>/dev/null
    return 0
}

complete -F _goflyte goflyte
`,
	"zsh": `#compdef goflyte
# zsh completion for goflyte; generated by 'goflyte completion zsh'. Load it
# with: source <(goflyte completion zsh)

_goflyte() {
    local -a out vals descs nospace
    local line directive
    out=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
    directive=${out[-1]#:}
    out=("${(@)out[1,-2]}")
    [[ $directive == <-> ]] || directive=0
    (( directive & 1 )) && return 1
    if (( directive & 16 )); then
        _files -/
        return
    fi
    for line in "${out[@]}"; do
        [[ -z $line ]] && continue
        local v=${line%%$'\t'*} d=
        [[ $line == *$'\t'* ]] && d=${line#*$'\t'}
        if (( directive & 2 )) || [[ $v == */ ]]; then
            nospace+=("$v")
        else
            vals+=("$v")
            descs+=("$v${d:+  -- $d}")
        fi
    done
    if (( ${#vals} + ${#nospace} == 0 )); then
        (( directive & 4 )) || _files
        return
    fi
    local -a opts=()
    (( directive & 32 )) && opts=(-V unsorted) || opts=(-J values)
    (( ${#vals} )) && compadd "${opts[@]}" -l -d descs -a vals
    (( ${#nospace} )) && compadd "${opts[@]}" -S '' -a nospace
    return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _goflyte "$@"
else
    compdef _goflyte goflyte
fi
`,
	"fish": `# fish completion for goflyte; generated by 'goflyte completion fish'.
# Load it with: goflyte completion fish | source

function __goflyte_complete
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] __complete $args[2..-1] "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    string match -qr '^[0-9]+$' -- $directive; or set directive 0
    if test (math "bitand($directive, 1)") -ne 0
        return
    end
    if test (math "bitand($directive, 16)") -ne 0
        __fish_complete_directories "$cur"
        return
    end
    if test (count $out) -eq 0
        if test (math "bitand($directive, 4)") -eq 0
            __fish_complete_path "$cur"
        end
        return
    end
    printf '%s\n' $out
end

complete -c goflyte -f -a '(__goflyte_complete)'
`,
}
