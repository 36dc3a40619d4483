//go:build !linux

package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// diagnoseKeychain knows nothing to diagnose outside Linux: the macOS
// Keychain and the Windows Credential Manager are always there.
func diagnoseKeychain(context.Context, time.Duration) *keychainProblem { return nil }

// probeKeychain reports the keychain as reachable outside Linux.
func probeKeychain(context.Context, time.Duration) *keychainProblem { return nil }

// listKeychain needs the Secret Service.
func listKeychain(string) ([]Name, error) {
	return nil, fmt.Errorf("listing the keychain on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
