package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// WorkflowFile is one parsed workflow file. A file holds one or more
// workflow blocks.
type WorkflowFile struct {
	Path string
	// Digest is the SHA-256 of the file's bytes, hex.
	Digest    string
	Workflows []*Workflow
}

// Workflow is a workflow block as written, before evaluation: its typed
// inputs, its tasks with their unevaluated input expressions, and its
// outputs. The engine compiles it against the plugins' schemas.
type Workflow struct {
	Name string
	// File is the path of the file the workflow is in, and FileDigest
	// the SHA-256 of its bytes, hex.
	File, FileDigest string
	Description      string
	Inputs           []*WorkflowInput
	Tasks            []*Task
	Outputs          []*WorkflowOutput
	// Branches are all the workflow's branch blocks, nested ones included.
	Branches []*Branch
	// OnFailure names a plugin task ("<plugin>.<task>") that runs after
	// a task fails, with the workflow's inputs and err.
	OnFailure      string
	OnFailureRange hcl.Range
	// OnFailureWorkflow names a workflow run as the failure handler
	// instead (on_failure = workflow.<name>).
	OnFailureWorkflow string
	DeclRange         hcl.Range
}

// Input returns the named input.
func (w *Workflow) Input(name string) *WorkflowInput {
	for _, in := range w.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Task returns the named task.
func (w *Workflow) Task(name string) *Task {
	for _, t := range w.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// WorkflowInput is an input block: a typed value given when the workflow
// runs, with an optional default.
type WorkflowInput struct {
	Name        string
	Type        cty.Type
	TypeExpr    string    // the type as written, e.g. "list(string)"
	Default     cty.Value // cty.NilVal when the input is required
	Description string
	DeclRange   hcl.Range
}

// Required reports whether the input has no default.
func (in *WorkflowInput) Required() bool { return in.Default == cty.NilVal }

// Task is a task block as written. Uses names the plugin task
// ("<plugin>.<task>"); Inputs holds one unevaluated expression per input.
type Task struct {
	Name      string
	Uses      string
	UsesRange hcl.Range
	// Inputs are the entries of the inputs attribute, in source order.
	Inputs      []*TaskInput
	InputsRange hcl.Range // the inputs attribute, or the block when absent
	DependsOn   []Dependency
	// Secrets are the secrets declared in the task's secret blocks.
	Secrets []*SecretDecl
	// Cache is the cache attribute: nil when absent (the plugin decides),
	// else whether the task's results are cached.
	Cache        *bool
	CacheRange   hcl.Range
	CacheVersion string
	// CacheIgnoreInputs are inputs left out of the cache key.
	CacheIgnoreInputs []CacheIgnore
	// Retries is how many times a failed attempt is tried again (retries),
	// for retryable errors and plugin crashes; RetryBackoff is the wait
	// before the first retry (retry_backoff, default 1s), doubled for each
	// next one.
	Retries      int
	RetryBackoff time.Duration
	// Timeout bounds each attempt (timeout = "30s"); 0 means none.
	Timeout time.Duration
	// ForEach, when set, runs one instance of the task per element of a
	// list, set or map, with each.key and each.value; MaxParallel bounds
	// how many run at once (0: the run's parallelism) and MinSuccessRatio
	// is the share of instances that must succeed (default 1).
	ForEach         hcl.Expression
	MaxParallel     int
	MinSuccessRatio float64
	// Deps lists the tasks this one waits for, from references in its inputs
	// and from depends_on, sorted and without duplicates.
	Deps []string
	// Arm is the branch arm the task is in; nil at the top level.
	Arm *Arm
	// UsesWorkflow names the workflow a sub-workflow call runs
	// (uses = workflow.<name>); Uses is then "".
	UsesWorkflow string
	// Digest is the SHA-256 of the task block's source text, hex: resume
	// uses it to tell whether a task changed since a run.
	Digest string
	// EnableDeck turns on the task's decks (enable_deck = true), and
	// DeckFields are the default decks shown beside the task's own
	// (deck_fields; all of DeckFieldNames when absent, none when decks are
	// off).
	EnableDeck bool
	DeckFields []string
	// Source is the task block's source text, kept when decks are on for
	// the Source Code deck.
	Source     string
	blockRange hcl.Range
	// Broken is set when the block itself has errors (already reported);
	// the engine then skips its checks of the task to avoid cascades.
	Broken    bool
	DeclRange hcl.Range
}

// PluginName returns the plugin part of Uses.
func (t *Task) PluginName() string { p, _, _ := strings.Cut(t.Uses, "."); return p }

// TaskName returns the task part of Uses.
func (t *Task) TaskName() string { _, n, _ := strings.Cut(t.Uses, "."); return n }

// TaskInput is one entry of a task's inputs attribute.
type TaskInput struct {
	Name      string
	Expr      hcl.Expression
	NameRange hcl.Range
}

// SecretDecl is a secret block in a task:
//
//	secret {
//	  group   = "github"
//	  key     = "token"
//	  version = "v1"   # optional
//	}
//
// Group may be omitted for a group-less secret.
type SecretDecl struct {
	Group, Version, Key string
	DeclRange           hcl.Range
}

// CacheIgnore is one element of cache_ignore_inputs.
type CacheIgnore struct {
	Input string
	Range hcl.Range
}

// Dependency is one element of depends_on.
type Dependency struct {
	Task  string
	Range hcl.Range
}

// WorkflowOutput is an output block.
type WorkflowOutput struct {
	Name        string
	Expr        hcl.Expression
	Description string
	DeclRange   hcl.Range
}

var workflowFileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "workflow", LabelNames: []string{"name"}}},
}

var workflowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "on_failure"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "input", LabelNames: []string{"name"}},
		{Type: "task", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "branch", LabelNames: []string{"name"}},
	},
}

var branchSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "case"}, {Type: "default"}},
}

var caseSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "if", Required: true}, {Name: "fail"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "task", LabelNames: []string{"name"}},
		{Type: "branch", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
	},
}

var defaultSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "fail"}},
	Blocks:     caseSchema.Blocks,
}

var inputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
}

var taskSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "uses", Required: true}, {Name: "inputs"}, {Name: "depends_on"},
		{Name: "cache"}, {Name: "cache_version"}, {Name: "cache_ignore_inputs"},
		{Name: "retries"}, {Name: "retry_backoff"}, {Name: "timeout"},
		{Name: "for_each"}, {Name: "max_parallel"}, {Name: "min_success_ratio"},
		{Name: "enable_deck"}, {Name: "deck_fields"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "secret"}},
}

var secretSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "group"}, {Name: "key", Required: true}, {Name: "version"}},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}, {Name: "description"}},
}

// LoadWorkflowFile parses one workflow file and checks everything that can be
// checked without the plugins: syntax, block structure, names, references
// to inputs and tasks, depends_on and cycles. All problems are returned at
// once; the file is non-nil whenever it could be parsed.
func (p *Parser) LoadWorkflowFile(path string) (*WorkflowFile, hcl.Diagnostics) {
	f, diags := p.ParseHCLFile(path)
	if f == nil {
		return nil, diags
	}
	return loadWorkflows(f, path, diags)
}

// LoadWorkflowSource is LoadWorkflowFile for source in memory, such as the
// graph a dynamic task returns; name stands for the file in diagnostics.
func (p *Parser) LoadWorkflowSource(src []byte, name string) (*WorkflowFile, hcl.Diagnostics) {
	f, diags := p.ParseHCL(src, name)
	if f == nil {
		return nil, diags
	}
	return loadWorkflows(f, name, diags)
}

func loadWorkflows(f *hcl.File, path string, diags hcl.Diagnostics) (*WorkflowFile, hcl.Diagnostics) {
	sum := sha256.Sum256(f.Bytes)
	wf := &WorkflowFile{Path: path, Digest: hex.EncodeToString(sum[:])}
	content, moreDiags := f.Body.Content(workflowFileSchema)
	diags = append(diags, moreDiags...)
	seen := map[string]*Workflow{}
	for _, block := range content.Blocks {
		w, wDiags := decodeWorkflow(block)
		diags = append(diags, wDiags...)
		w.File, w.FileDigest = path, wf.Digest
		for _, t := range w.Tasks {
			t.Digest = sourceDigest(f.Bytes, t.blockRange)
			if t.EnableDeck {
				t.Source = sourceText(f.Bytes, t.blockRange)
			}
		}
		if prev, dup := seen[w.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate workflow",
				Detail:   fmt.Sprintf("A workflow named %q was already declared at %s. Workflow names must be unique.", w.Name, prev.DeclRange),
				Subject:  block.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[w.Name] = w
		wf.Workflows = append(wf.Workflows, w)
	}
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No workflow in file",
			Detail:   `A workflow file must contain at least one workflow "name" { ... } block.`,
			Subject:  f.Body.MissingItemRange().Ptr(),
		})
	}
	return wf, diags
}

// FindWorkflowFiles returns the workflow files (*.hcl, except flyte.hcl) in
// the given directories, sorted; directories that do not exist are skipped.
func FindWorkflowFiles(dirs []string) ([]string, error) {
	var files []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read workflow package %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() || filepath.Ext(e.Name()) != ".hcl" || e.Name() == "flyte.hcl" {
				continue
			}
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

func decodeWorkflow(block *hcl.Block) (*Workflow, hcl.Diagnostics) {
	w := &Workflow{Name: block.Labels[0], DeclRange: block.DefRange}
	diags := checkName("workflow", block.Labels[0], block.LabelRanges[0])
	content, moreDiags := block.Body.Content(workflowSchema)
	diags = append(diags, moreDiags...)
	if attr, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeString(attr, &w.Description)...)
	}
	if attr, ok := content.Attributes["on_failure"]; ok {
		w.OnFailureRange = attr.Expr.Range()
		if tr, td := hcl.AbsTraversalForExpr(attr.Expr); !td.HasErrors() && tr.RootName() == "workflow" && len(tr) == 2 {
			w.OnFailureWorkflow, _ = TraversalStep(tr, 1)
		} else {
			diags = append(diags, decodeString(attr, &w.OnFailure)...)
		}
		if p, t, ok := strings.Cut(w.OnFailure, "."); w.OnFailure != "" && (!ok || p == "" || t == "") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid on_failure",
				Detail:   fmt.Sprintf("on_failure must name a plugin task as \"<plugin>.<task>\", which runs after a failure with the workflow's inputs and err; got %q.", w.OnFailure),
				Subject:  w.OnFailureRange.Ptr(),
			})
		}
	}

	names := map[string]map[string]hcl.Range{"input": {}, "task": {}, "output": {}}
	for _, b := range content.Blocks {
		if b.Type == "branch" || b.Type == "task" {
			diags = append(diags, w.decodeNode(b, nil, names)...)
			continue
		}
		name := b.Labels[0]
		diags = append(diags, checkName(b.Type, name, b.LabelRanges[0])...)
		if d := claimName(names, b.Type, b); d != nil {
			diags = append(diags, d)
			continue
		}
		switch b.Type {
		case "input":
			in, d := decodeInput(b)
			diags = append(diags, d...)
			w.Inputs = append(w.Inputs, in)
		case "output":
			o, d := decodeOutput(b)
			diags = append(diags, d...)
			w.Outputs = append(w.Outputs, o)
		}
	}
	diags = append(diags, checkReferences(w)...)
	if !diags.HasErrors() {
		diags = append(diags, checkCycles(w)...)
	}
	return w, diags
}

func decodeInput(b *hcl.Block) (*WorkflowInput, hcl.Diagnostics) {
	in := &WorkflowInput{Name: b.Labels[0], Type: cty.DynamicPseudoType, TypeExpr: "any", DeclRange: b.DefRange}
	content, diags := b.Body.Content(inputSchema)
	if attr, ok := content.Attributes["type"]; ok {
		ty, d := TypeConstraint(attr.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			in.Type = ty
			in.TypeExpr = TypeString(ty)
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeString(attr, &in.Description)...)
	}
	if attr, ok := content.Attributes["default"]; ok {
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			cv, err := convert.Convert(v, in.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value",
					Detail:   fmt.Sprintf("The default for input %q does not fit its type %s: %s.", in.Name, in.TypeExpr, err),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				in.Default = cv
			}
		}
	}
	return in, diags
}

func decodeTask(b *hcl.Block) (*Task, hcl.Diagnostics) {
	t := &Task{Name: b.Labels[0], DeclRange: b.DefRange, InputsRange: b.DefRange, blockRange: b.DefRange}
	if body, ok := b.Body.(*hclsyntax.Body); ok {
		t.blockRange = hcl.RangeBetween(b.DefRange, body.SrcRange)
	}
	content, diags := b.Body.Content(taskSchema)
	if attr, ok := content.Attributes["uses"]; ok {
		t.UsesRange = attr.Expr.Range()
		if tr, td := hcl.AbsTraversalForExpr(attr.Expr); !td.HasErrors() && tr.RootName() == "workflow" {
			// uses = workflow.<name>: a sub-workflow call.
			if name, ok := TraversalStep(tr, 1); ok && len(tr) == 2 {
				t.UsesWorkflow = name
			} else {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid uses",
					Detail:   "A sub-workflow call looks like uses = workflow.<name>.",
					Subject:  t.UsesRange.Ptr(),
				})
			}
		} else {
			diags = append(diags, decodeString(attr, &t.Uses)...)
		}
		if t.Uses != "" {
			if p, n, ok := strings.Cut(t.Uses, "."); !ok || p == "" || n == "" || strings.Contains(n, ".") {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid uses",
					Detail:   fmt.Sprintf("uses must name a plugin task as \"<plugin>.<task>\", for example \"text.split\"; got %q.", t.Uses),
					Subject:  t.UsesRange.Ptr(),
				})
			}
		}
	}
	if attr, ok := content.Attributes["inputs"]; ok {
		t.InputsRange = attr.Range
		pairs, d := hcl.ExprMap(attr.Expr)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid inputs",
				Detail:   "inputs must be an object of input names to values, for example inputs = { text = input.text }.",
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		seen := map[string]hcl.Range{}
		for _, pair := range pairs {
			name := hcl.ExprAsKeyword(pair.Key)
			if name == "" {
				kv, kd := pair.Key.Value(nil)
				if kd.HasErrors() || kv.Type() != cty.String || kv.IsNull() || !kv.IsKnown() {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid input name",
						Detail:   "Each key of inputs must be an input name, written as an identifier or a string.",
						Subject:  pair.Key.Range().Ptr(),
					})
					continue
				}
				name = kv.AsString()
			}
			if prev, dup := seen[name]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate input",
					Detail:   fmt.Sprintf("Input %q was already given at %s.", name, prev),
					Subject:  pair.Key.Range().Ptr(),
				})
				continue
			}
			seen[name] = pair.Key.Range()
			t.Inputs = append(t.Inputs, &TaskInput{Name: name, Expr: pair.Value, NameRange: pair.Key.Range()})
		}
	}
	if attr, ok := content.Attributes["depends_on"]; ok {
		exprs, d := hcl.ExprList(attr.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			tr, td := hcl.AbsTraversalForExpr(e)
			if td.HasErrors() || len(tr) != 2 || tr.RootName() != "task" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid depends_on",
					Detail:   "Each element of depends_on must be a task reference such as task.fetch.",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			name, _ := TraverserName(tr[1])
			t.DependsOn = append(t.DependsOn, Dependency{Task: name, Range: e.Range()})
		}
	}
	diags = append(diags, decodeTaskCache(t, content)...)
	diags = append(diags, decodeTaskRetries(t, content)...)
	diags = append(diags, decodeTaskForEach(t, content)...)
	diags = append(diags, decodeTaskDeck(t, content)...)
	for _, sb := range content.Blocks {
		sd := &SecretDecl{DeclRange: sb.DefRange}
		sc, d := sb.Body.Content(secretSchema)
		diags = append(diags, d...)
		for _, part := range []struct {
			name string
			dst  *string
		}{{"group", &sd.Group}, {"version", &sd.Version}, {"key", &sd.Key}} {
			name, dst := part.name, part.dst
			if attr, ok := sc.Attributes[name]; ok {
				diags = append(diags, decodeString(attr, dst)...)
				if *dst != "" && !validSecretPart(*dst) {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid secret name",
						Detail:   fmt.Sprintf("The secret %s %q must not contain path separators, \"..\" or NUL.", name, *dst),
						Subject:  attr.Expr.Range().Ptr(),
					})
				}
			}
		}
		if attr, ok := sc.Attributes["key"]; ok && sd.Key == "" && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid secret name",
				Detail:   "The secret key must not be empty.",
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		t.Secrets = append(t.Secrets, sd)
	}
	t.Broken = diags.HasErrors()
	return t, diags
}

// validSecretPart reports whether s can be part of a secret's name: it
// becomes part of an env var name, a file path and a keychain account, so
// it must not be able to escape a directory.
func validSecretPart(s string) bool {
	return !strings.ContainsAny(s, "/\\\x00") && s != "." && !strings.Contains(s, "..")
}

func decodeOutput(b *hcl.Block) (*WorkflowOutput, hcl.Diagnostics) {
	o := &WorkflowOutput{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(outputSchema)
	if attr, ok := content.Attributes["value"]; ok {
		o.Expr = attr.Expr
	}
	if attr, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeString(attr, &o.Description)...)
	}
	return o, diags
}

// checkReferences checks that every reference in task inputs and outputs
// names a declared input or task, and records each task's dependencies.
func checkReferences(w *Workflow) hcl.Diagnostics {
	var diags hcl.Diagnostics
	inputNames := make([]string, len(w.Inputs))
	for i, in := range w.Inputs {
		inputNames[i] = in.Name
	}
	taskNames := make([]string, len(w.Tasks))
	// tasks finds a task by name as w.Task does (the first of that
	// name), without a scan per reference: a workflow of 10,000 task
	// blocks has as many references.
	tasks := make(map[string]*Task, len(w.Tasks))
	for i, t := range w.Tasks {
		taskNames[i] = t.Name
		if _, dup := tasks[t.Name]; !dup {
			tasks[t.Name] = t
		}
	}
	// check checks the references of an expression evaluated in arm (nil
	// at the top level) and returns the tasks and branches it needs.
	check := func(expr hcl.Expression, self string, each bool, arm *Arm) []string {
		var deps []string
		if expr == nil {
			return nil
		}
		for _, tr := range expr.Variables() {
			switch tr.RootName() {
			case "each":
				diags = append(diags, checkEach(tr, each)...)
				continue
			case "branch":
				dep, d := checkBranchRef(tr, w, arm)
				diags = append(diags, d...)
				if dep != "" {
					deps = append(deps, dep)
				}
				continue
			}
			dep, d := checkTraversal(tr, w, tasks, inputNames, taskNames, self)
			diags = append(diags, d...)
			if dep == "" {
				continue
			}
			if u := tasks[dep]; u != nil && !arm.Within(u.Arm) {
				rng := tr.SourceRange()
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference into a branch",
					Detail: fmt.Sprintf("Task %q runs only when its arm of branch %q is chosen, so it cannot be used here. Give that arm an output and refer to branch.%s.<output>.",
						dep, u.Arm.Branch.Name, u.Arm.Branch.Name),
					Subject: &rng,
				})
				continue
			}
			deps = append(deps, dep)
		}
		return deps
	}
	for _, b := range w.Branches {
		deps, outDeps := map[string]bool{}, map[string]bool{}
		for _, a := range b.Arms {
			for _, d := range check(a.If, "", false, b.Parent) {
				deps[d] = true
			}
			for _, o := range a.Outputs {
				for _, d := range check(o.Expr, "", false, a) {
					outDeps[d] = true
				}
			}
		}
		b.Deps, b.OutputDeps = sortedSet(deps), sortedSet(outDeps)
	}
	for _, t := range w.Tasks {
		deps := map[string]bool{}
		for _, in := range t.Inputs {
			for _, d := range check(in.Expr, t.Name, t.ForEach != nil, t.Arm) {
				deps[d] = true
			}
		}
		for _, d := range check(t.ForEach, t.Name, false, t.Arm) {
			deps[d] = true
		}
		for _, d := range t.DependsOn {
			if tasks[d.Task] == nil {
				diags = append(diags, unknownTaskDiag(d.Task, taskNames, d.Range))
				continue
			}
			if d.Task == t.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Self-referential task",
					Detail:   fmt.Sprintf("Task %q cannot depend on itself.", t.Name),
					Subject:  d.Range.Ptr(),
				})
				continue
			}
			deps[d.Task] = true
		}
		for d := range deps {
			t.Deps = append(t.Deps, d)
		}
		sort.Strings(t.Deps)
	}
	for _, o := range w.Outputs {
		check(o.Expr, "", false, nil)
	}
	return diags
}

// checkBranchRef checks a reference to branch.<name>[.<output>] made in
// arm and returns the branch's name. The outputs are checked by the
// engine, which knows their types.
func checkBranchRef(tr hcl.Traversal, w *Workflow, arm *Arm) (string, hcl.Diagnostics) {
	rng := tr.SourceRange()
	name, ok := TraversalStep(tr, 1)
	b := w.Branch(name)
	switch {
	case !ok:
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid branch reference", Detail: "A reference to a branch output looks like branch.<name>.<output>.", Subject: &rng}}
	case b == nil:
		var names []string
		for _, b := range w.Branches {
			names = append(names, b.Name)
		}
		detail := fmt.Sprintf("This workflow has no branch named %q.", name)
		if s := Suggest(name, names); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Reference to undeclared branch", Detail: detail, Subject: &rng}}
	case !arm.Within(b.Parent):
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Reference into a branch",
			Detail:  fmt.Sprintf("Branch %q is inside an arm of branch %q and runs only when that arm is chosen; use it from within that arm.", name, b.Parent.Branch.Name),
			Subject: &rng}}
	}
	return name, nil
}

func checkTraversal(tr hcl.Traversal, w *Workflow, tasks map[string]*Task, inputNames, taskNames []string, self string) (string, hcl.Diagnostics) {
	rng := tr.SourceRange()
	switch tr.RootName() {
	case "input":
		name, ok := TraversalStep(tr, 1)
		if !ok {
			return "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid input reference",
				Detail:   "A reference to a workflow input looks like input.<name>.",
				Subject:  &rng,
			}}
		}
		if w.Input(name) == nil {
			detail := fmt.Sprintf("This workflow has no input named %q.", name)
			if s := Suggest(name, inputNames); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			} else {
				detail += fmt.Sprintf(" Declare it with an input %q { type = ... } block.", name)
			}
			return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Reference to undeclared input", Detail: detail, Subject: &rng}}
		}
		return "", nil
	case "task":
		name, ok := TraversalStep(tr, 1)
		if !ok {
			return "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid task reference",
				Detail:   "A reference to a task output looks like task.<name>.<output>.",
				Subject:  &rng,
			}}
		}
		if tasks[name] == nil {
			return "", hcl.Diagnostics{unknownTaskDiag(name, taskNames, rng)}
		}
		if name == self {
			return "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Self-referential task",
				Detail:   fmt.Sprintf("Task %q cannot use its own outputs as inputs.", name),
				Subject:  &rng,
			}}
		}
		// task.<name> alone is the object of all the task's outputs.
		return name, nil
	default:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown reference",
			Detail:   fmt.Sprintf("There is no variable named %q. A workflow can refer to input.<name> and task.<name>.<output>.", tr.RootName()),
			Subject:  &rng,
		}}
	}
}

func unknownTaskDiag(name string, taskNames []string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("This workflow has no task named %q.", name)
	if s := Suggest(name, taskNames); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared task", Detail: detail, Subject: rng.Ptr()}
}

// checkCycles reports a dependency cycle among the tasks, naming it.
func checkCycles(w *Workflow) hcl.Diagnostics {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	tasks := make(map[string]*Task, len(w.Tasks)) // w.Task without a scan per dependency
	for _, t := range w.Tasks {
		if _, dup := tasks[t.Name]; !dup {
			tasks[t.Name] = t
		}
	}
	var stack []string
	var diags hcl.Diagnostics
	var visit func(t *Task) bool
	visit = func(t *Task) bool {
		switch state[t.Name] {
		case visiting:
			i := len(stack) - 1
			for stack[i] != t.Name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), t.Name)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dependency cycle",
				Detail:   fmt.Sprintf("These tasks depend on each other in a cycle: %s. Remove one of the references or depends_on entries.", strings.Join(cycle, " → ")),
				Subject:  t.DeclRange.Ptr(),
			})
			return true
		case done:
			return false
		}
		state[t.Name] = visiting
		stack = append(stack, t.Name)
		for _, d := range t.Deps {
			// Cycles through branches are found by the engine, which
			// knows a branch's tasks.
			if u := tasks[d]; u != nil && visit(u) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[t.Name] = done
		return false
	}
	for _, t := range w.Tasks {
		if state[t.Name] == unvisited && visit(t) {
			break
		}
	}
	return diags
}

// TraversalStep returns the name of step i of a reference (an attribute,
// or a string index): TraversalStep(task.split.words, 1) is "split".
func TraversalStep(tr hcl.Traversal, i int) (string, bool) {
	if len(tr) <= i {
		return "", false
	}
	return TraverserName(tr[i])
}

// TraverserName is the name a traversal step gives: an attribute's, or a
// known string index's (`x["name"]`).
func TraverserName(step hcl.Traverser) (string, bool) {
	switch s := step.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

func checkName(kind, name string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + kind + " name",
		Detail:   fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name),
		Subject:  rng.Ptr(),
	}}
}

func decodeString(attr *hcl.Attribute, dst *string) hcl.Diagnostics {
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if v.IsNull() || !v.IsKnown() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + attr.Name, Detail: attr.Name + " must be a string.", Subject: attr.Expr.Range().Ptr()}}
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + attr.Name, Detail: fmt.Sprintf("%s must be a string, not %s.", attr.Name, v.Type().FriendlyName()), Subject: attr.Expr.Range().Ptr()}}
	}
	*dst = sv.AsString()
	return nil
}

// decodeBool decodes a constant true or false.
func decodeBool(attr *hcl.Attribute, dst *bool) hcl.Diagnostics {
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() || !b.IsKnown() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + attr.Name, Detail: attr.Name + " must be true or false.", Subject: attr.Expr.Range().Ptr()}}
	}
	*dst = b.True()
	return nil
}

// Suggest returns the name in names closest to given, or "" when none is
// close enough to be a likely typo. Diagnostics use it for "Did you mean".
func Suggest(given string, names []string) string { return suggest(given, names) }

// decodeTaskCache decodes cache, cache_version and cache_ignore_inputs.
// Whether a version is needed depends on the plugin, so the engine checks
// that; ignoring inputs without caching is an error here.
func decodeTaskCache(t *Task, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if attr, ok := content.Attributes["cache"]; ok {
		t.CacheRange = attr.Range
		var on bool
		d := decodeBool(attr, &on)
		diags = append(diags, d...)
		if !d.HasErrors() {
			t.Cache = &on
		}
	}
	if attr, ok := content.Attributes["cache_version"]; ok {
		diags = append(diags, decodeString(attr, &t.CacheVersion)...)
	}
	if attr, ok := content.Attributes["cache_ignore_inputs"]; ok {
		exprs, d := hcl.ExprList(attr.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			name := hcl.ExprAsKeyword(e)
			if name == "" {
				v, vd := e.Value(nil)
				if vd.HasErrors() || v.Type() != cty.String || v.IsNull() || !v.IsKnown() {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid cache_ignore_inputs",
						Detail:   "Each element of cache_ignore_inputs must name one of the task's inputs, as a string.",
						Subject:  e.Range().Ptr(),
					})
					continue
				}
				name = v.AsString()
			}
			t.CacheIgnoreInputs = append(t.CacheIgnoreInputs, CacheIgnore{Input: name, Range: e.Range()})
		}
		if len(t.CacheIgnoreInputs) > 0 && (t.Cache == nil || !*t.Cache) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cache is not enabled",
				Detail:   "cache_ignore_inputs leaves inputs out of the cache key, but this task's results are not cached. Add cache = true (with a cache_version), or remove cache_ignore_inputs.",
				Subject:  attr.Range.Ptr(),
			})
		}
	}
	return diags
}

// sourceDigest returns the SHA-256 (hex) of the source text in rng.
func sourceDigest(src []byte, rng hcl.Range) string {
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || end > len(src) || start > end {
		return ""
	}
	sum := sha256.Sum256(src[start:end])
	return hex.EncodeToString(sum[:])
}

// decodeTaskRetries decodes retries, retry_backoff and timeout.
func decodeTaskRetries(t *Task, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	t.RetryBackoff = time.Second
	if attr, ok := content.Attributes["retries"]; ok {
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			n, err := convert.Convert(v, cty.Number)
			var i int64
			whole := err == nil && !n.IsNull() && n.IsKnown()
			if whole {
				bf := n.AsBigFloat()
				var acc big.Accuracy
				i, acc = bf.Int64()
				whole = acc == big.Exact && i >= 0 && i <= 100
			}
			if !whole {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid retries",
					Detail:   "retries must be a whole number from 0 to 100: how many times a failed attempt is tried again.",
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				t.Retries = int(i)
			}
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"retry_backoff", &t.RetryBackoff}, {"timeout", &t.Timeout}} {
		attr, ok := content.Attributes[d.name]
		if !ok {
			continue
		}
		var text string
		if ds := decodeString(attr, &text); ds.HasErrors() {
			diags = append(diags, ds...)
			continue
		}
		dur, err := time.ParseDuration(text)
		if err != nil || dur <= 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + d.name,
				Detail:   fmt.Sprintf("%s must be a positive duration such as \"30s\", \"500ms\" or \"2m\"; got %q.", d.name, text),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		*d.dst = dur
	}
	return diags
}

// decodeTaskForEach decodes for_each, max_parallel and min_success_ratio.
// The for_each expression is evaluated when the task runs.
func decodeTaskForEach(t *Task, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	t.MinSuccessRatio = 1
	if attr, ok := content.Attributes["for_each"]; ok {
		t.ForEach = attr.Expr
	}
	number := func(name string) (float64, *hcl.Attribute, bool) {
		attr, ok := content.Attributes[name]
		if !ok {
			return 0, nil, false
		}
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			return 0, attr, false
		}
		n, err := convert.Convert(v, cty.Number)
		if err != nil || n.IsNull() || !n.IsKnown() {
			return -1, attr, true
		}
		f, _ := n.AsBigFloat().Float64()
		return f, attr, true
	}
	for _, name := range []string{"max_parallel", "min_success_ratio"} {
		if _, ok := content.Attributes[name]; ok && t.ForEach == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No for_each",
				Detail:   name + " applies to the instances of a task with for_each, and this task has none.",
				Subject:  content.Attributes[name].Range.Ptr(),
			})
		}
	}
	if f, attr, ok := number("max_parallel"); ok {
		if f < 1 || f != float64(int(f)) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid max_parallel",
				Detail:   "max_parallel must be a whole number of at least 1: how many instances of the task run at once.",
				Subject:  attr.Expr.Range().Ptr(),
			})
		} else {
			t.MaxParallel = int(f)
		}
	}
	if f, attr, ok := number("min_success_ratio"); ok {
		if f < 0 || f > 1 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid min_success_ratio",
				Detail:   "min_success_ratio must be a number from 0 to 1: the share of the task's instances that must succeed.",
				Subject:  attr.Expr.Range().Ptr(),
			})
		} else {
			t.MinSuccessRatio = f
		}
	}
	return diags
}

// checkEach checks a reference to each.key or each.value, which exist only
// in the inputs of a task with for_each.
func checkEach(tr hcl.Traversal, allowed bool) hcl.Diagnostics {
	rng := tr.SourceRange()
	if !allowed {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "each without for_each",
			Detail:   "each.key and each.value can be used only in the inputs of a task that has for_each.",
			Subject:  &rng,
		}}
	}
	if name, ok := TraversalStep(tr, 1); !ok || name != "key" && name != "value" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid each reference",
			Detail:   "The element of a for_each is each.key (its index or map key) or each.value.",
			Subject:  &rng,
		}}
	}
	return nil
}

// claimName records a block's name in its namespace, or returns the
// diagnostic for a duplicate. Tasks and branches share one namespace: a
// branch's outputs and a task's are both looked up by name.
func claimName(names map[string]map[string]hcl.Range, space string, b *hcl.Block) *hcl.Diagnostic {
	name := b.Labels[0]
	if prev, dup := names[space][name]; dup {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + b.Type,
			Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a workflow (tasks and branches included).", b.Type, name, prev),
			Subject:  b.LabelRanges[0].Ptr(),
		}
	}
	names[space][name] = b.DefRange
	return nil
}

// decodeNode decodes a task or branch block, inside the arm arm (nil at
// the top level), adding it and everything in it to the workflow.
func (w *Workflow) decodeNode(b *hcl.Block, arm *Arm, names map[string]map[string]hcl.Range) hcl.Diagnostics {
	diags := checkName(b.Type, b.Labels[0], b.LabelRanges[0])
	if d := claimName(names, "task", b); d != nil {
		return append(diags, d)
	}
	if b.Type == "task" {
		t, d := decodeTask(b)
		t.Arm = arm
		if arm != nil {
			arm.Tasks = append(arm.Tasks, t.Name)
		}
		w.Tasks = append(w.Tasks, t)
		return append(diags, d...)
	}
	br := &Branch{Name: b.Labels[0], Parent: arm, DeclRange: b.DefRange}
	w.Branches = append(w.Branches, br)
	if arm != nil {
		arm.Branches = append(arm.Branches, br.Name)
	}
	content, d := b.Body.Content(branchSchema)
	diags = append(diags, d...)
	for i, ab := range content.Blocks {
		a := &Arm{Branch: br, Index: len(br.Arms), DeclRange: ab.DefRange}
		schema := caseSchema
		if ab.Type == "default" {
			schema = defaultSchema
			if i != len(content.Blocks)-1 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Misplaced default",
					Detail:   "The default arm of a branch comes last: it runs when no case before it is true.",
					Subject:  ab.DefRange.Ptr(),
				})
			}
		}
		ac, d := ab.Body.Content(schema)
		diags = append(diags, d...)
		if attr, ok := ac.Attributes["if"]; ok {
			a.If = attr.Expr
		}
		if attr, ok := ac.Attributes["fail"]; ok {
			a.FailRange = attr.Expr.Range()
			diags = append(diags, decodeString(attr, &a.Fail)...)
			if a.Fail == "" {
				a.Fail = "branch " + br.Name + " failed"
			}
		}
		outputs := map[string]bool{}
		for _, cb := range ac.Blocks {
			switch cb.Type {
			case "task", "branch":
				diags = append(diags, w.decodeNode(cb, a, names)...)
			case "output":
				o, d := decodeOutput(cb)
				diags = append(diags, d...)
				if outputs[o.Name] {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate output", Detail: fmt.Sprintf("This arm already has an output %q.", o.Name), Subject: cb.LabelRanges[0].Ptr()})
					continue
				}
				outputs[o.Name] = true
				a.Outputs = append(a.Outputs, o)
			}
		}
		if a.Fail != "" && (len(a.Tasks) > 0 || len(a.Branches) > 0 || len(a.Outputs) > 0) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failing arm with work",
				Detail:   "An arm with fail ends the run when it is chosen, so it cannot also have tasks, branches or outputs.",
				Subject:  a.FailRange.Ptr(),
			})
		}
		br.Arms = append(br.Arms, a)
	}
	if len(br.Arms) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty branch",
			Detail:   `A branch needs at least one case { if = ... } block.`,
			Subject:  b.DefRange.Ptr(),
		})
	}
	return diags
}

// Branch is a branch block: ordered arms, of which the first whose
// condition is true (or the default) runs, and only it.
type Branch struct {
	Name string
	Arms []*Arm
	// Parent is the arm the branch is in; nil at the top level.
	Parent    *Arm
	DeclRange hcl.Range
	// Deps are the tasks and branches the conditions refer to, and
	// OutputDeps those the arms' outputs refer to.
	Deps, OutputDeps []string
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Arm is a case (or the default) of a branch.
type Arm struct {
	Branch *Branch
	Index  int
	// If is the condition; nil for the default arm.
	If hcl.Expression
	// Fail, when set, fails the run with this message if the arm is chosen.
	Fail      string
	FailRange hcl.Range
	// Tasks and Branches name what runs when the arm is chosen (the blocks
	// themselves are in Workflow.Tasks and Workflow.Branches).
	Tasks    []string
	Branches []string
	// Outputs are the arm's outputs, the branch's outputs when it is
	// chosen.
	Outputs   []*WorkflowOutput
	DeclRange hcl.Range
}

// Within reports whether arm a is b or inside it.
func (a *Arm) Within(b *Arm) bool {
	for ; a != nil; a = a.Branch.Parent {
		if a == b {
			return true
		}
	}
	return b == nil
}

// Branch returns the named branch.
func (w *Workflow) Branch(name string) *Branch {
	for _, b := range w.Branches {
		if b.Name == name {
			return b
		}
	}
	return nil
}
