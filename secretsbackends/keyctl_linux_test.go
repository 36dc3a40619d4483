package secretsbackends_test

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/goflyte/goflyte/secretsbackends"
)

// removeKeyctlKeyring deletes what a test stored in the kernel keyring and
// unlinks the test's named keyring from the user keyring.
func removeKeyctlKeyring(t *testing.T, k *secretsbackends.Keyring, service string) {
	t.Helper()
	ctx := context.Background()
	if names, err := k.List(ctx); err == nil {
		for _, n := range names {
			_ = k.Delete(ctx, n)
		}
	}
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0)
	if err != nil {
		return
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0); err != nil {
		t.Logf("unlink keyring %q: %v", service, err)
	}
}
