//go:build !linux

package secretsbackends_test

import (
	"testing"

	"github.com/goflyte/goflyte/secretsbackends"
)

func removeKeyctlKeyring(*testing.T, *secretsbackends.Keyring, string) {}
