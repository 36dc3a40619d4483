package sdk

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goflyte/goflyte/plugin"
)

// SecretRequest names a secret a task needs: a key, usually in a group,
// optionally at a version. It is [plugin.SecretRequest].
type SecretRequest = plugin.SecretRequest

// WithSecrets returns a copy of t that declares secrets the task always
// needs. The engine resolves them (with those a workflow declares for the
// task in secret blocks) before the task starts; read them with
// Params(ctx).Secrets().
func (t *FuncTask[In, Out]) WithSecrets(secrets ...SecretRequest) *FuncTask[In, Out] {
	c := *t
	c.secrets = append(append([]SecretRequest(nil), t.secrets...), secrets...)
	return &c
}

// Secrets are the secrets the engine resolved for the running task: those
// it declared, and only those. Get them with [ExecutionParams.Secrets].
//
// Secret values are yours to protect: do not log them, return them as
// outputs or write them to files others can read. The engine replaces any
// declared secret value in the plugin's log and stderr lines with "***",
// but it cannot see what the task does with a value otherwise.
type Secrets struct {
	task    string
	secrets []plugin.Secret
}

// Secrets returns the task's resolved secrets.
func (p *ExecutionParams) Secrets() *Secrets {
	return &Secrets{task: p.TaskID, secrets: p.secrets}
}

// Get returns the secret group/key as text: its bytes with trailing white
// space (such as the newline at the end of a file) removed. Use "" as the
// group of a group-less secret. Asking for a secret the task did not
// declare is an error that names it; if the task declared the key at more
// than one version, use [Secrets.Lookup].
func (s *Secrets) Get(group, key string) (string, error) {
	b, err := s.GetBytes(group, key)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(b, " \t\r\n")), nil
}

// GetBytes returns the exact bytes of the secret group/key.
func (s *Secrets) GetBytes(group, key string) ([]byte, error) {
	var found []plugin.Secret
	for _, sec := range s.secrets {
		if sec.Group == group && sec.Key == key {
			found = append(found, sec)
		}
	}
	switch len(found) {
	case 0:
		return nil, s.undeclared(SecretRequest{Group: group, Key: key})
	case 1:
		return found[0].Value, nil
	}
	var versions []string
	for _, f := range found {
		versions = append(versions, f.Version)
	}
	return nil, fmt.Errorf("secret %s/%s is declared at versions %s: use Secrets().Lookup with a version", group, key, strings.Join(versions, ", "))
}

// Lookup returns the exact bytes of the secret r, version included.
func (s *Secrets) Lookup(r SecretRequest) ([]byte, error) {
	for _, sec := range s.secrets {
		if sec.SecretRequest == r {
			return sec.Value, nil
		}
	}
	return nil, s.undeclared(r)
}

// Names lists the secrets the task may read, never their values.
func (s *Secrets) Names() []SecretRequest {
	out := make([]SecretRequest, len(s.secrets))
	for i, sec := range s.secrets {
		out[i] = sec.SecretRequest
	}
	return out
}

func (s *Secrets) undeclared(r SecretRequest) error {
	var names []string
	for _, sec := range s.secrets {
		names = append(names, sec.SecretRequest.String())
	}
	declared := "none"
	if len(names) > 0 {
		declared = strings.Join(names, ", ")
	}
	return fmt.Errorf("secret %q was not declared for task %s (declared: %s): declare it with a secret block in the workflow's task, or with WithSecrets in the plugin", r.String(), s.task, declared)
}
