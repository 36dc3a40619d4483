package auth_test

import (
	"context"
	"fmt"

	"github.com/goflyte/goflyte/auth"
)

// A command-mode source runs credentials.command (no shell) and uses its
// trimmed stdout as the token until the service refuses it.
func ExampleNew_command() {
	src, err := auth.New(auth.Options{Settings: auth.Settings{
		Mode:    auth.ModeCommand,
		Command: []string{"echo", "  tok-123  "},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := src.Token(context.Background())
	fmt.Println(tok, err, src.Where() == "")
	// Output: tok-123 <nil> true
}

// Settings name what a mode is missing, and never hold a secret in the
// message.
func ExampleSettings_Check() {
	s := auth.Settings{Mode: auth.ModeClientCredentials, ClientID: "worker", ClientSecret: "s3cret"}
	fmt.Println(s.Check())
	// Output: credentials: auth_mode ClientSecret needs credentials.issuer (FLYTE_CREDENTIALS_ISSUER), the OIDC issuer URL
}
