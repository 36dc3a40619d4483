package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/99designs/keyring"
	"golang.org/x/term"
)

// DefaultPassphraseEnv is the environment variable that holds the
// passphrase of the encrypted file keyring unless the secrets block's
// fallback_passphrase_env names another.
const DefaultPassphraseEnv = "GOFLYTE_KEYRING_PASSPHRASE"

// ErrNoPassphrase is wrapped by the error of an encrypted file [Keyring]
// that needs its passphrase and cannot get one: the environment variable
// is unset or empty and there is no terminal to ask on.
var ErrNoPassphrase = errors.New("no passphrase")

// ErrWrongPassphrase is wrapped by the error of an encrypted file
// [Keyring] that cannot decrypt an entry: the passphrase is wrong, or the
// file is damaged.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// Keyring stores secrets in a store that works without a desktop session,
// through 99designs/keyring. [New] uses one as the fallback where the OS
// keychain is unreachable (headless Linux, SSH, containers). Backend is
// one of:
//
//   - "file": one file per secret in Dir, encrypted (JWE, PBES2 with
//     AES-GCM) with a passphrase. The passphrase comes from the
//     environment variable PassphraseEnv; when that is unset or empty,
//     from Prompt; when Prompt is nil, from a no-echo prompt on the
//     controlling terminal. Without a terminal the error wraps
//     [ErrNoPassphrase] and names the variable to set. A miss needs no
//     passphrase. The passphrase is asked for at most once per Keyring
//     (again after a wrong one). Set checks the passphrase against an
//     existing entry first, so one store never mixes passphrases; a
//     passphrase that does not decrypt is [ErrWrongPassphrase].
//   - "pass": the password store in Dir ("" means $PASSWORD_STORE_DIR, or
//     ~/.password-store), entries <Service>/<group>/<key>. It needs the
//     pass command and an initialised store (pass init); gpg may ask for
//     its own passphrase through its pinentry.
//   - "keyctl": the Linux kernel's per-user keyring, in a keyring named
//     Service. It needs no daemon and no passphrase, and never touches the
//     disk, but it is not persistent: its contents last until reboot or
//     until the user's last session ends. Containers often forbid the
//     keyctl system calls; then the error wraps [ErrUnavailable].
//
// Entries are named [Name.String], as in [Keychain]. Values are any bytes,
// returned exactly. Keyring implements [Setter], [Deleter] and [Lister].
//
// A Keyring is safe for concurrent use; its calls are serialised. Use it
// by pointer, and do not copy it after first use.
type Keyring struct {
	// Backend is "file", "pass" or "keyctl".
	Backend string
	// Service names the pass directory and the keyctl keyring; "" means
	// DefaultKeychainService. The file backend does not use it.
	Service string
	// Dir is the directory of the encrypted files ("" means
	// [DefaultKeyringDir]) or of the password store.
	Dir string
	// PassphraseEnv names the environment variable with the file
	// passphrase; "" means DefaultPassphraseEnv.
	PassphraseEnv string
	// Prompt asks for the file passphrase when the variable is unset; nil
	// means a no-echo prompt on the terminal, if there is one.
	Prompt func(prompt string) (string, error)
	// Getenv looks variables up; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Warn, when set, is told on opening the file backend if its directory
	// or files are accessible by group or others.
	Warn func(msg string)

	mu sync.Mutex
	kr keyring.Keyring // opened on first use
	// terminal opens the terminal to prompt on; nil means openTerminal.
	// Tests replace it.
	terminal func() (in *os.File, out io.Writer, done func(), err error)
}

var (
	_ Setter  = (*Keyring)(nil)
	_ Deleter = (*Keyring)(nil)
	_ Lister  = (*Keyring)(nil)
)

// DefaultKeyringDir returns the default directory of the encrypted file
// keyring, <os.UserConfigDir()>/goflyte/keyring (~/.config/goflyte/keyring
// on Linux), or "" when there is no user config directory.
func DefaultKeyringDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "goflyte", "keyring")
}

func (k *Keyring) service() string {
	if k.Service == "" {
		return DefaultKeychainService
	}
	return k.Service
}

func (k *Keyring) getenv(name string) (string, bool) {
	if k.Getenv == nil {
		return os.LookupEnv(name)
	}
	return k.Getenv(name)
}

func (k *Keyring) passphraseEnv() string {
	if k.PassphraseEnv == "" {
		return DefaultPassphraseEnv
	}
	return k.PassphraseEnv
}

// dir returns the directory of the store.
func (k *Keyring) dir() string {
	switch {
	case k.Dir != "":
		return k.Dir
	case k.Backend == "file":
		return DefaultKeyringDir()
	case k.Backend == "pass":
		if d, ok := k.getenv("PASSWORD_STORE_DIR"); ok && d != "" {
			return d
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".password-store")
		}
	}
	return ""
}

// Where describes the entry for n in the store.
func (k *Keyring) Where(n Name) string {
	switch k.Backend {
	case "file":
		return fmt.Sprintf("encrypted file keyring %s account %q", k.dir(), n.String())
	case "pass":
		return fmt.Sprintf("pass store %s entry %q", k.dir(), k.service()+"/"+n.String())
	case "keyctl":
		return fmt.Sprintf("kernel keyring %q key %q", k.service(), n.String())
	}
	return fmt.Sprintf("keyring %q account %q", k.Backend, n.String())
}

// where describes the whole store.
func (k *Keyring) where() string {
	switch k.Backend {
	case "file":
		return "encrypted file keyring " + k.dir()
	case "pass":
		return "pass store " + k.dir()
	case "keyctl":
		return fmt.Sprintf("kernel keyring %q", k.service())
	}
	return fmt.Sprintf("keyring %q", k.Backend)
}

// String returns "encrypted file", "pass" or "keyctl".
func (k *Keyring) String() string {
	if k.Backend == "file" {
		return "encrypted file"
	}
	return k.Backend
}

// Lookup returns the secret's exact bytes.
func (k *Keyring) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kr, err := k.open()
	if err != nil {
		return nil, err
	}
	item, err := kr.Get(n.String())
	if err != nil {
		return nil, k.fail(k.Where(n), err)
	}
	if item.Data == nil {
		return []byte{}, nil
	}
	return item.Data, nil
}

// Set stores value under n, replacing any value stored there.
func (k *Keyring) Set(ctx context.Context, n Name, value []byte) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kr, err := k.open()
	if err != nil {
		return err
	}
	if k.Backend == "file" {
		if err := k.checkPassphrase(kr, n); err != nil {
			return err
		}
	}
	item := keyring.Item{Key: n.String(), Data: value, Label: "goflyte secret " + n.String()}
	if err := kr.Set(item); err != nil {
		return k.fail(k.Where(n), err)
	}
	return nil
}

// checkPassphrase decrypts one other entry, if there is one, so that Set
// never adds an entry with a different passphrase.
func (k *Keyring) checkPassphrase(kr keyring.Keyring, n Name) error {
	keys, err := kr.Keys()
	if err != nil {
		return fmt.Errorf("%s: %w", k.where(), err)
	}
	for _, key := range keys {
		if _, err := ParseName(key); err != nil || key == n.String() {
			continue
		}
		if _, err := kr.Get(key); err != nil {
			return k.fail(k.where(), err)
		}
		return nil
	}
	return nil
}

// Delete removes the secret; deleting a missing one is an error wrapping
// [ErrNotFound].
func (k *Keyring) Delete(ctx context.Context, n Name) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kr, err := k.open()
	if err != nil {
		return err
	}
	if err := kr.Remove(n.String()); err != nil {
		return k.fail(k.Where(n), err)
	}
	return nil
}

// List returns the names in the store, sorted; entries that are not
// valid names are left out. It needs no passphrase.
func (k *Keyring) List(ctx context.Context) ([]Name, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kr, err := k.open()
	if err != nil {
		return nil, err
	}
	keys, err := kr.Keys()
	if err != nil {
		return nil, k.fail(k.where(), err)
	}
	names := make([]Name, 0, len(keys))
	for _, key := range keys {
		if n, err := ParseName(key); err == nil {
			names = append(names, n)
		}
	}
	sortNames(names)
	return names, nil
}

// fail turns an error of 99designs/keyring into a miss or a described
// failure.
func (k *Keyring) fail(where string, err error) error {
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, keyring.ErrKeyNotFound), errors.Is(err, fs.ErrNotExist):
		return notFound(where)
	case errors.Is(err, ErrNoPassphrase):
		return fmt.Errorf("%s: %w", where, err)
	case k.Backend == "file" && !errors.As(err, &pathErr):
		// Not a file system error, so the decryption failed. Forget the
		// passphrase so that the next call can ask again.
		k.kr = nil
		return fmt.Errorf("%s: %w, or the file is damaged (%w)", where, ErrWrongPassphrase, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// open opens the store on first use. k.mu is held.
func (k *Keyring) open() (keyring.Keyring, error) {
	if k.kr != nil {
		return k.kr, nil
	}
	cfg := keyring.Config{ServiceName: k.service()}
	switch k.Backend {
	case "file":
		if k.dir() == "" {
			return nil, fmt.Errorf("encrypted file keyring: no directory set, and no user config directory to default to")
		}
		if fi, err := os.Stat(k.dir()); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", k.where())
		}
		if k.Warn != nil {
			for _, w := range keyringPermWarnings(k.dir()) {
				k.Warn(w)
			}
		}
		cfg.AllowedBackends = []keyring.BackendType{keyring.FileBackend}
		cfg.FileDir = k.dir()
		cfg.FilePasswordFunc = k.passphrase
	case "pass":
		if err := k.checkPass(); err != nil {
			return nil, err
		}
		cfg.AllowedBackends = []keyring.BackendType{keyring.PassBackend}
		cfg.PassDir = k.dir()
		cfg.PassPrefix = k.service()
	case "keyctl":
		if err := keyctlCheck(); err != nil {
			return nil, fmt.Errorf("%s: %w: the kernel does not allow keyctl here (%w)", k.where(), ErrUnavailable, err)
		}
		cfg.AllowedBackends = []keyring.BackendType{keyring.KeyCtlBackend}
		cfg.KeyCtlScope = "user"
	default:
		return nil, fmt.Errorf("keyring: unknown backend %q (want \"file\", \"pass\" or \"keyctl\")", k.Backend)
	}
	kr, err := keyring.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", k.where(), ErrUnavailable, err)
	}
	k.kr = kr
	return kr, nil
}

// checkPass reports why the pass backend cannot work, or nil.
func (k *Keyring) checkPass() error {
	if _, err := exec.LookPath("pass"); err != nil {
		return fmt.Errorf("%s: %w: the pass command is not installed", k.where(), ErrUnavailable)
	}
	if k.dir() == "" {
		return fmt.Errorf("pass store: %w: no store directory (set PASSWORD_STORE_DIR)", ErrUnavailable)
	}
	if _, err := os.Stat(filepath.Join(k.dir(), ".gpg-id")); err != nil {
		return fmt.Errorf("%s: %w: not an initialised password store: run pass init <gpg-key-id> with PASSWORD_STORE_DIR=%s", k.where(), ErrUnavailable, k.dir())
	}
	return nil
}

// passphrase is the file backend's password function.
func (k *Keyring) passphrase(string) (string, error) {
	env := k.passphraseEnv()
	if v, ok := k.getenv(env); ok && v != "" {
		return v, nil
	}
	prompt := fmt.Sprintf("goflyte: passphrase for the encrypted file keyring %s (or set %s): ", k.dir(), env)
	if k.Prompt != nil {
		v, err := k.Prompt(prompt)
		if err != nil {
			return "", fmt.Errorf("%w: set %s: %w", ErrNoPassphrase, env, err)
		}
		if v == "" {
			return "", fmt.Errorf("%w: the passphrase is empty: set %s", ErrNoPassphrase, env)
		}
		return v, nil
	}
	in, out, done, err := k.openTerminal()
	if err != nil {
		return "", fmt.Errorf("%w: set %s (there is no terminal to ask on)", ErrNoPassphrase, env)
	}
	defer done()
	fmt.Fprint(out, prompt)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("%w: set %s (reading it from the terminal failed: %w)", ErrNoPassphrase, env, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%w: the passphrase is empty: set %s", ErrNoPassphrase, env)
	}
	return string(b), nil
}

// openTerminal opens the terminal to prompt on.
func (k *Keyring) openTerminal() (in *os.File, out io.Writer, done func(), err error) {
	if k.terminal != nil {
		return k.terminal()
	}
	return openTerminal()
}

// openTerminal returns the terminal to read a passphrase from, where to
// write the prompt, and how to let go of them: the controlling terminal
// (so that a prompt works while stdin carries a value), or else stdin and
// stderr when stdin is a terminal.
func openTerminal() (in *os.File, out io.Writer, done func(), err error) {
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		if term.IsTerminal(int(f.Fd())) {
			return f, f, func() { f.Close() }, nil
		}
		f.Close()
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return os.Stdin, os.Stderr, func() {}, nil
	}
	return nil, nil, nil, errors.New("no terminal")
}

// hasTerminal reports whether a passphrase prompt could be shown.
func (k *Keyring) hasTerminal() bool {
	_, _, done, err := k.openTerminal()
	if err != nil {
		return false
	}
	done()
	return true
}
