package secretsbackends_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goflyte/goflyte/secretsbackends"
)

// A chain of an env backend and a directory of secret files: the first
// backend that has a secret wins, and a miss lists every place tried.
func ExampleChain() {
	dir, err := os.MkdirTemp("", "secrets")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "github"), 0o700); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "github", "token"), []byte("ghp-from-file\n"), 0o600); err != nil {
		panic(err)
	}
	env := map[string]string{"FLYTE_SECRETS_AWS_ACCESS_KEY": "from-env"}

	chain := secretsbackends.Chain{
		secretsbackends.Env{Prefix: "FLYTE_SECRETS_", Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		secretsbackends.Dir{Path: dir},
	}
	ctx := context.Background()
	for _, n := range []secretsbackends.Name{
		{Group: "aws", Key: "access_key"},
		{Group: "github", Key: "token"}, // exact bytes: trimming is the SDK's job
	} {
		v, err := chain.Lookup(ctx, n)
		fmt.Printf("%s = %q (err %v)\n", n, v, err)
	}

	_, err = chain.Lookup(ctx, secretsbackends.Name{Group: "slack", Key: "webhook"})
	fmt.Println("not found:", errors.Is(err, secretsbackends.ErrNotFound))
	var nf *secretsbackends.NotFoundError
	if errors.As(err, &nf) {
		for _, where := range nf.Tried {
			fmt.Println("tried", strings.Replace(filepath.ToSlash(where), filepath.ToSlash(dir), "$DIR", 1))
		}
	}
	// Output:
	// aws/access_key = "from-env" (err <nil>)
	// github/token = "ghp-from-file\n" (err <nil>)
	// not found: true
	// tried env FLYTE_SECRETS_SLACK_WEBHOOK
	// tried file $DIR/slack/webhook
}
