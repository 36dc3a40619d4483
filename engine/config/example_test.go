package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goflyte/goflyte/engine/config"
)

func ExampleParser_LoadConfig() {
	dir, err := os.MkdirTemp("", "goflyte-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	err = os.WriteFile(filepath.Join(dir, "flyte.hcl"), []byte(`
local {
  project = "demo"
}

aws {
  retries = 5
}
`), 0o644)
	if err != nil {
		panic(err)
	}

	// The environment overrides the file. Tests pass their own lookup
	// function; nil means the process environment.
	env := map[string]string{"FLYTE_AWS_RETRIES": "7"}
	parser := config.NewParser()
	cfg, diags := parser.LoadConfig(config.LoadOptions{
		WorkDir: dir, // flyte.hcl is found here
		Getenv: func(name string) (string, bool) {
			v, ok := env[name]
			return v, ok
		},
	})
	if diags.HasErrors() {
		// cmd/goflyte renders these with hcl.NewDiagnosticTextWriter and parser.Files().
		fmt.Println(diags)
		return
	}

	for _, s := range cfg.Settings() {
		switch s.Name() {
		case "local.project", "local.domain", "aws.retries":
			fmt.Printf("%s = %s (%s)\n", s.Name(), s.Display, s.Source)
		}
	}
	// Output:
	// local.project = demo (flyte.hcl:3)
	// local.domain = local (default)
	// aws.retries = 7 (env FLYTE_AWS_RETRIES)
}
