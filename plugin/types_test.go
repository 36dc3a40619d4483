package plugin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNameFromPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "bare file name", path: "goflyte-plugin-text", want: "text"},
		{name: "absolute path", path: "/usr/local/lib/goflyte/goflyte-plugin-text", want: "text"},
		{name: "relative nested dirs", path: "bin/plugins/goflyte-plugin-to-upper", want: "to-upper"},
		{name: "exe suffix", path: "plugins/goflyte-plugin-text.exe", want: "text"},
		{name: "only one exe suffix is removed", path: "goflyte-plugin-text.exe.exe", want: "text.exe"},
		{name: "other extension is kept", path: "goflyte-plugin-text.sh", want: "text.sh"},
		{name: "not a plugin", path: "/usr/bin/goflyte", want: ""},
		{name: "prefix not at start", path: "my-goflyte-plugin-text", want: ""},
		{name: "prefix only in a directory", path: "/opt/goflyte-plugin-text/bin/tool", want: ""},
		{name: "prefix is case sensitive", path: "Goflyte-Plugin-text", want: ""},
		{name: "prefix without a name", path: "goflyte-plugin-", want: ""},
		{name: "empty path", path: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NameFromPath(tc.path)
			if got != tc.want {
				t.Errorf("NameFromPath(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		wantStr   string
		wantLocal bool
	}{
		{name: "unspecified", mode: ModeUnspecified, wantStr: "UNSPECIFIED"},
		{name: "task", mode: ModeTaskExecution, wantStr: "TASK_EXECUTION"},
		{name: "local workflow", mode: ModeLocalWorkflowExecution, wantStr: "LOCAL_WORKFLOW_EXECUTION", wantLocal: true},
		{name: "local task", mode: ModeLocalTaskExecution, wantStr: "LOCAL_TASK_EXECUTION", wantLocal: true},
		{name: "dynamic", mode: ModeDynamicTaskExecution, wantStr: "DYNAMIC_TASK_EXECUTION"},
		{name: "eager", mode: ModeEagerExecution, wantStr: "EAGER_EXECUTION"},
		{name: "eager local", mode: ModeEagerLocalExecution, wantStr: "EAGER_LOCAL_EXECUTION", wantLocal: true},
		{name: "local dynamic", mode: ModeLocalDynamicTaskExecution, wantStr: "LOCAL_DYNAMIC_TASK_EXECUTION", wantLocal: true},
		{name: "unknown", mode: Mode(42), wantStr: "Mode(42)"},
		{name: "negative", mode: Mode(-1), wantStr: "Mode(-1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.mode.String(); got != tc.wantStr {
				t.Errorf("Mode(%d).String() = %q, want %q", int32(tc.mode), got, tc.wantStr)
			}
			if got := tc.mode.IsLocal(); got != tc.wantLocal {
				t.Errorf("Mode(%d).IsLocal() = %v, want %v", int32(tc.mode), got, tc.wantLocal)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		want string
	}{
		{name: "plain", kind: KindPlain, want: "plain"},
		{name: "dynamic", kind: KindDynamic, want: "dynamic"},
		{name: "eager", kind: KindEager, want: "eager"},
		{name: "unknown", kind: Kind(7), want: "Kind(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.want {
				t.Errorf("Kind(%d).String() = %q, want %q", int32(tc.kind), got, tc.want)
			}
		})
	}
}

func testSchema() *Schema {
	return &Schema{
		Name:    "text",
		Version: "1.2.0",
		Tasks: []TaskSchema{
			{
				Name: "split",
				Doc:  "Split a string.",
				Inputs: []Field{
					{Name: "s", Type: "string", Doc: "The string."},
					{Name: "sep", Type: "string", Optional: true},
				},
				Outputs: []Field{{Name: "parts", Type: "list(string)"}},
			},
			{Name: "fanout", Kind: KindDynamic},
			{Name: "agent", Kind: KindEager},
		},
	}
}

func TestSchemaTask(t *testing.T) {
	s := testSchema()
	tests := []struct {
		name   string
		task   string
		wantOK bool
		want   *TaskSchema
	}{
		{name: "first", task: "split", wantOK: true, want: &s.Tasks[0]},
		{name: "last", task: "agent", wantOK: true, want: &s.Tasks[2]},
		{name: "missing", task: "join"},
		{name: "case sensitive", task: "Split"},
		{name: "empty name", task: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := s.Task(tc.task)
			if ok != tc.wantOK {
				t.Fatalf("Task(%q) ok = %v, want %v", tc.task, ok, tc.wantOK)
			}
			// Task returns a pointer into s.Tasks, not a copy.
			if got != tc.want {
				t.Errorf("Task(%q) = %p, want %p", tc.task, got, tc.want)
			}
		})
	}
}

func TestSchemaTaskNames(t *testing.T) {
	tests := []struct {
		name   string
		schema *Schema
		want   []string
	}{
		{name: "declaration order", schema: testSchema(), want: []string{"split", "fanout", "agent"}},
		{name: "no tasks", schema: &Schema{Name: "empty"}, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.schema.TaskNames()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TaskNames() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskSchemaFields(t *testing.T) {
	ts := &testSchema().Tasks[0]
	tests := []struct {
		name   string
		lookup func(string) (*Field, bool)
		field  string
		want   *Field
	}{
		{name: "input", lookup: ts.Input, field: "s", want: &ts.Inputs[0]},
		{name: "optional input", lookup: ts.Input, field: "sep", want: &ts.Inputs[1]},
		{name: "output", lookup: ts.Output, field: "parts", want: &ts.Outputs[0]},
		{name: "output is not an input", lookup: ts.Input, field: "parts"},
		{name: "input is not an output", lookup: ts.Output, field: "s"},
		{name: "missing input", lookup: ts.Input, field: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.lookup(tc.field)
			if ok != (tc.want != nil) {
				t.Fatalf("lookup(%q) ok = %v, want %v", tc.field, ok, tc.want != nil)
			}
			if got != tc.want {
				t.Errorf("lookup(%q) = %p, want %p", tc.field, got, tc.want)
			}
		})
	}

	// A task without fields finds nothing.
	empty := &TaskSchema{Name: "noop"}
	if f, ok := empty.Input("x"); ok || f != nil {
		t.Errorf("Input on a task without inputs = %v, %v; want nil, false", f, ok)
	}
	if f, ok := empty.Output("x"); ok || f != nil {
		t.Errorf("Output on a task without outputs = %v, %v; want nil, false", f, ok)
	}
}

func TestTaskErrorError(t *testing.T) {
	tests := []struct {
		name string
		err  *TaskError
		want string
	}{
		{name: "empty", err: &TaskError{}, want: ""},
		{name: "message", err: &TaskError{Message: "disk full", Retryable: true}, want: "disk full"},
		{
			name: "message wins over diagnostics",
			err: &TaskError{Message: "bad inputs", Diagnostics: []Diagnostic{
				{Summary: "too long", Attribute: "s"},
			}},
			want: "bad inputs",
		},
		{
			name: "diagnostic with attribute and detail",
			err: &TaskError{Diagnostics: []Diagnostic{
				{Summary: "too long", Detail: "at most 10 characters", Attribute: "s"},
			}},
			want: `input "s": too long: at most 10 characters`,
		},
		{
			name: "diagnostic without attribute or detail",
			err:  &TaskError{Diagnostics: []Diagnostic{{Summary: "nothing to do"}}},
			want: "nothing to do",
		},
		{
			name: "several diagnostics",
			err: &TaskError{Diagnostics: []Diagnostic{
				{Summary: "too long", Attribute: "s"},
				{Severity: SeverityWarning, Summary: "ignored", Detail: "sep is unused"},
				{Summary: "negative", Attribute: "n", Detail: "must be >= 0"},
			}},
			want: `input "s": too long; ignored: sep is unused; input "n": negative: must be >= 0`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretRequestString(t *testing.T) {
	tests := []struct {
		name string
		req  SecretRequest
		want string
	}{
		{name: "key only", req: SecretRequest{Key: "token"}, want: "token"},
		{name: "group and key", req: SecretRequest{Group: "github", Key: "token"}, want: "github/token"},
		{name: "group, version and key", req: SecretRequest{Group: "github", Version: "v2", Key: "token"}, want: "github/v2/token"},
		{name: "empty", req: SecretRequest{}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSecretHidesValue formats a Secret, alone and inside other values,
// with every common verb: the value must never show, in any encoding.
func TestSecretHidesValue(t *testing.T) {
	value := []byte("hunter2-s3cr3t")
	s := Secret{SecretRequest: SecretRequest{Group: "github", Key: "token"}, Value: value}
	leaks := []string{
		string(value),
		fmt.Sprintf("%x", value),
		fmt.Sprintf("%X", value),
		strings.Trim(fmt.Sprint(value), "[]"), // the bytes in decimal
		fmt.Sprintf("%q", value),
	}
	values := []struct {
		name string
		v    any
	}{
		{name: "value", v: s},
		{name: "pointer", v: &s},
		{name: "slice", v: []Secret{s, s}},
		{name: "request", v: ExecuteRequest{Task: "t", Secrets: []Secret{s}}},
		{name: "request pointer", v: &ExecuteRequest{Task: "t", Secrets: []Secret{s}}},
	}
	data, err := json.Marshal(ExecuteRequest{Task: "t", Secrets: []Secret{s}})
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range append(leaks, base64.StdEncoding.EncodeToString(value)) {
		if strings.Contains(string(data), leak) {
			t.Errorf("JSON %s shows the value as %q", data, leak)
		}
	}

	for _, val := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			t.Run(val.name+" "+verb, func(t *testing.T) {
				got := fmt.Sprintf(verb, val.v)
				for _, leak := range leaks {
					if strings.Contains(got, leak) {
						t.Errorf("Sprintf(%q) = %q shows the value as %q", verb, got, leak)
					}
				}
				if !strings.Contains(got, "github/token") {
					t.Errorf("Sprintf(%q) = %q does not name the secret", verb, got)
				}
			})
		}
	}
}
