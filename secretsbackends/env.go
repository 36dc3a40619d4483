package secretsbackends

import (
	"context"
	"os"
	"strings"
)

// DefaultEnvPrefix is the default of the secrets block's env_prefix, as in
// Flytekit.
const DefaultEnvPrefix = "FLYTE_SECRETS_"

// Env looks secrets up in environment variables, the way Flytekit does.
//
// The variable for a name is Prefix followed by the non-empty parts of
// the name (group, version, key), upper-cased and joined with "_". Nothing
// else is changed, so dashes and dots stay:
//
//	Name{Group: "github", Key: "token"}                   FLYTE_SECRETS_GITHUB_TOKEN
//	Name{Group: "my-group", Version: "v1", Key: "abc"}    FLYTE_SECRETS_MY-GROUP_V1_ABC
//	Name{Key: "token"}                                    FLYTE_SECRETS_TOKEN
//
// Different names can map to the same variable (group "a_b" key "c" and
// group "a" key "b_c"), as in Flytekit.
//
// An Env with an empty Prefix is the unprefixed lookup (GITHUB_TOKEN) that
// Flytekit does in local execution modes only; whoever builds the chain
// decides whether to include it ([Options.Local]).
//
// A variable that is set, even to the empty string, is a hit, and its
// value is returned as it is. A name whose variable cannot exist (it
// contains "=") is a miss. Env never fails for a valid name.
type Env struct {
	Prefix string
	// Getenv looks a variable up; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
}

var _ Backend = Env{}

// Var returns the name of the environment variable for n.
func (e Env) Var(n Name) string {
	parts := n.parts()
	for i, p := range parts {
		parts[i] = strings.ToUpper(p)
	}
	return e.Prefix + strings.Join(parts, "_")
}

// Lookup returns the value of the variable [Env.Var] names.
func (e Env) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	name := e.Var(n)
	if strings.ContainsRune(name, '=') {
		return nil, notFound(e.Where(n))
	}
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	v, ok := getenv(name)
	if !ok {
		return nil, notFound(e.Where(n))
	}
	return []byte(v), nil
}

// Where returns "env " followed by the variable name.
func (e Env) Where(n Name) string { return "env " + e.Var(n) }

// String returns "env".
func (e Env) String() string { return "env" }
