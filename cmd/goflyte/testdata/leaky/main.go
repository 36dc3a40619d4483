// Command goflyte-plugin-leaky is a test plugin that does everything a
// plugin should never do with a secret: it logs it, prints it, returns it
// and puts it in errors and crash output. The end-to-end tests check that
// the engine keeps the value out of everything it prints and stores.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/goflyte/goflyte/sdk"
)

var token = sdk.SecretRequest{Group: "leak", Key: "token"}

type out struct {
	Echo string `json:"echo"`
}

func secret(ctx context.Context) string {
	v, err := sdk.Params(ctx).Secrets().Get(token.Group, token.Key)
	if err != nil {
		panic(err)
	}
	return v
}

func logIt(ctx context.Context, _ struct{}) (out, error) {
	v := secret(ctx)
	p := sdk.Params(ctx)
	p.Logger.Info("the token is "+v, "token", v)
	p.Logger.Warn("again", "err", errors.New("token="+v))
	fmt.Fprintln(p.Stderr, "stderr: token="+v)
	fmt.Fprintln(os.Stderr, "os.Stderr: token="+v)
	return out{Echo: "token=" + v}, nil
}

func failIt(ctx context.Context, _ struct{}) (out, error) {
	return out{}, fmt.Errorf("cannot log in with token %s", secret(ctx))
}

func crashIt(ctx context.Context, _ struct{}) (out, error) {
	fmt.Fprintln(sdk.Params(ctx).Stderr, "about to die holding "+secret(ctx))
	os.Exit(2)
	return out{}, nil
}

func main() {
	sdk.Serve(map[string]sdk.Task{
		"log":   sdk.Func(logIt).WithSecrets(token),
		"fail":  sdk.Func(failIt).WithSecrets(token),
		"crash": sdk.Func(crashIt).WithSecrets(token),
	})
}
