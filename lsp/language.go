package lsp

// The words of goflyte's workflow language, by the block they appear in
// ("" is the file itself), with the documentation completion and hover
// show. It mirrors the body schemas of engine/config/workflow.go; the
// test TestKeywordsMatchLoader checks each keyword against the loader.

type keyword struct {
	name  string
	block bool // a block (name "label" { }), else an attribute (name = ...)
	label string
	doc   string
}

var keywords = map[string][]keyword{
	"": {
		{name: "workflow", block: true, label: "name", doc: "A workflow: typed inputs, tasks, branches and outputs. Run it with `goflyte run FILE` or by name."},
	},
	"workflow": {
		{name: "description", doc: "What the workflow does (shown by `goflyte workflows list`)."},
		{name: "on_failure", doc: "A failure handler run after a task fails: `\"plugin.task\"` or `workflow.<name>`; it gets the workflow's inputs and `err`."},
		{name: "input", block: true, label: "name", doc: "A typed input, given with `--input name=value`; `default` makes it optional. Referred to as `input.<name>`."},
		{name: "task", block: true, label: "name", doc: "A task: `uses` a plugin task (`\"plugin.task\"`) or a workflow (`workflow.<name>`) with `inputs`. Its outputs are `task.<name>.<output>`."},
		{name: "output", block: true, label: "name", doc: "A workflow output: `value` is an expression over inputs, tasks and branches."},
		{name: "branch", block: true, label: "name", doc: "Chooses what runs: the first `case` whose `if` is true, else `default`. Outputs every arm gives are `branch.<name>.<output>`."},
	},
	"input": {
		{name: "type", doc: "The input's type: string, number, bool, list(T), map(T), set(T), object({a = T, ...}), any, file, dir."},
		{name: "default", doc: "The value when the input is not given; an input with a default is optional."},
		{name: "description", doc: "What the input is for."},
	},
	"task": {
		{name: "uses", doc: "The plugin task to run, `\"<plugin>.<task>\"` (for example `\"text.split\"`), or `workflow.<name>` to call a workflow."},
		{name: "inputs", doc: "The task's inputs: `{ name = expression, ... }`. Optional plugin inputs may be left out."},
		{name: "depends_on", doc: "Tasks that must succeed first although no input refers to them: `[task.a, task.b]`."},
		{name: "cache", doc: "Cache the task's results (true or false; default: what the plugin declares)."},
		{name: "cache_version", doc: "The cache version: change it whenever the task's results would change."},
		{name: "cache_ignore_inputs", doc: "Inputs left out of the cache key: `[\"name\", ...]`."},
		{name: "retries", doc: "Attempts after the first, for retryable errors, crashes and timeouts."},
		{name: "retry_backoff", doc: "Wait before the first retry, doubled each time (default \"1s\", at most 30s)."},
		{name: "timeout", doc: "Bound on each attempt, such as \"30s\"."},
		{name: "for_each", doc: "Run one instance per element of a list, set or map, with `each.key` and `each.value`."},
		{name: "max_parallel", doc: "How many instances of a for_each task run at once (default: --parallelism)."},
		{name: "min_success_ratio", doc: "The share of for_each instances that must succeed (default 1)."},
		{name: "enable_deck", doc: "Keep the task's decks (HTML reports): true or false."},
		{name: "deck_fields", doc: "Which decks to render: [\"source\", \"input\", \"output\", ...]."},
		{name: "secret", block: true, doc: "A secret the task gets: `group`, `key`, optional `version`."},
	},
	"output": {
		{name: "value", doc: "The output's value: an expression over inputs, tasks and branches."},
		{name: "description", doc: "What the output is."},
	},
	"branch": {
		{name: "case", block: true, doc: "An arm that runs when `if` is true (the first true case wins)."},
		{name: "default", block: true, doc: "The arm that runs when no case is true."},
	},
	"case": {
		{name: "if", doc: "The condition (a bool expression) that chooses this arm."},
		{name: "fail", doc: "Fail the run with this message instead of running tasks."},
		{name: "task", block: true, label: "name", doc: "A task that runs only when this arm is chosen."},
		{name: "branch", block: true, label: "name", doc: "A nested branch, decided only when this arm is chosen."},
		{name: "output", block: true, label: "name", doc: "An output of the branch, given by this arm."},
	},
	"default": {
		{name: "fail", doc: "Fail the run with this message instead of running tasks."},
		{name: "task", block: true, label: "name", doc: "A task that runs only when no case is true."},
		{name: "branch", block: true, label: "name", doc: "A nested branch, decided only when this arm is chosen."},
		{name: "output", block: true, label: "name", doc: "An output of the branch, given by this arm."},
	},
	"secret": {
		{name: "group", doc: "The secret's group."},
		{name: "key", doc: "The secret's key (required)."},
		{name: "version", doc: "The secret's version."},
	},
}

func findKeyword(blockType, name string) (keyword, bool) {
	for _, k := range keywords[blockType] {
		if k.name == name {
			return k, true
		}
	}
	return keyword{}, false
}

// typeNames are the words of input types.
var typeNames = []string{"string", "number", "bool", "any", "file", "dir", "list", "map", "set", "object", "tuple"}
