//go:build !linux

package secretsbackends

import (
	"errors"
	"fmt"
	"runtime"
)

// keyctlCheck: the kernel keyring is Linux only.
func keyctlCheck() error {
	return fmt.Errorf("keyctl on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
