package secretsbackends

import "golang.org/x/sys/unix"

// keyctlCheck reports whether this process may use the kernel's per-user
// keyring: containers often forbid the keyctl system calls.
func keyctlCheck() error {
	_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, false)
	return err
}
