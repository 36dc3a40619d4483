package sdk

import (
	"context"
	"reflect"

	"github.com/goflyte/goflyte/plugin"
)

// FuncTask is a [Task] made from a function by [Func].
type FuncTask[In, Out any] struct {
	f            func(context.Context, In) (Out, error)
	doc          string
	secrets      []SecretRequest
	cacheVersion string // "" means not cacheable
	kind         plugin.Kind
	in           *structSchema
	out          *structSchema
}

var _ Task = (*FuncTask[struct{}, struct{}])(nil)

// Func adapts f into a [Task]. In and Out must be struct types; their
// fields are the task's inputs and outputs (see "Inputs and outputs" in
// the package documentation). Func panics, with a message that says what
// to fix, if f is nil or In or Out cannot be described as HCL types.
//
// Each execution decodes the inputs into a new In, calls In's
// Validate() error method if it has one, calls f, and encodes its Out.
func Func[In, Out any](f func(ctx context.Context, in In) (Out, error)) *FuncTask[In, Out] {
	if f == nil {
		panic("sdk.Func: nil function")
	}
	in, err := newStructSchema(reflect.TypeFor[In](), "input")
	if err != nil {
		panic("sdk.Func: " + err.Error())
	}
	out, err := newStructSchema(reflect.TypeFor[Out](), "output")
	if err != nil {
		panic("sdk.Func: " + err.Error())
	}
	return &FuncTask[In, Out]{f: f, in: in, out: out}
}

// Eager adapts f into an eager [Task]: like [Func], but f may run other
// tasks through the engine with Params(ctx).Run, as many as it likes and
// from many goroutines at once. The engine runs them in mode
// EAGER_LOCAL_EXECUTION, with its cache and retries, and records them as
// the task's children.
func Eager[In, Out any](f func(ctx context.Context, in In) (Out, error)) *FuncTask[In, Out] {
	t := Func(f)
	t.kind = plugin.KindEager
	return t
}

// WithDoc returns a copy of t with the given documentation, which the
// plugin reports to the engine for workflow authors to read. The first
// sentence should say what the task does ("Splits text into words.").
func (t *FuncTask[In, Out]) WithDoc(doc string) *FuncTask[In, Out] {
	c := *t
	c.doc = doc
	return &c
}

// WithCache returns a copy of t that the engine may cache: a run whose
// inputs equal an earlier run's reuses its outputs instead of calling the
// task (when the user's cache is enabled). Change version whenever a
// change to the task's code changes its results. A workflow may turn
// caching off for the task, or set another version. Cache only tasks
// whose outputs depend on nothing but their inputs.
func (t *FuncTask[In, Out]) WithCache(version string) *FuncTask[In, Out] {
	if version == "" {
		panic("sdk: WithCache needs a non-empty version")
	}
	c := *t
	c.cacheVersion = version
	return &c
}

func (t *FuncTask[In, Out]) paramsOnly() {}

// Schema implements [Task]. The name is left empty for the provider to fill.
func (t *FuncTask[In, Out]) Schema() plugin.TaskSchema {
	return plugin.TaskSchema{
		Doc:          t.doc,
		Kind:         t.kind,
		Inputs:       t.in.pluginFields(),
		Outputs:      t.out.pluginFields(),
		Secrets:      append([]SecretRequest(nil), t.secrets...),
		Cacheable:    t.cacheVersion != "",
		CacheVersion: t.cacheVersion,
	}
}

// validator is the optional method of a task's input type.
type validator interface {
	Validate() error
}

// Execute implements [Task]. Every error it returns is a
// *plugin.TaskError: problems with the inputs carry one Diagnostic per
// input.
func (t *FuncTask[In, Out]) Execute(ctx context.Context, req *plugin.ExecuteRequest) (*plugin.ExecuteResult, error) {
	var in In
	if err := t.in.decode(req.Inputs, reflect.ValueOf(&in).Elem()); err != nil {
		return nil, err
	}
	if v, ok := any(&in).(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, taskError(err)
		}
	}
	out, err := t.f(ctx, in)
	if err != nil {
		return nil, taskError(err)
	}
	outputs, err := t.out.encode(reflect.ValueOf(&out).Elem())
	if err != nil {
		return nil, &plugin.TaskError{Message: "encode outputs: " + err.Error()}
	}
	return &plugin.ExecuteResult{Outputs: outputs}, nil
}
