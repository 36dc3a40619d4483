package secretsbackends

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure the chain [New] builds. cmd/goflyte fills them from
// the secrets block of flyte.hcl (engine/config's Secrets), whose defaults
// are noted here; the zero value of a field means what its comment says.
type Options struct {
	// EnvPrefix is the prefix of the first env lookup (env_prefix,
	// default DefaultEnvPrefix). It is used as given: "" means the
	// unprefixed lookup.
	EnvPrefix string
	// Local adds the unprefixed env lookup after the prefixed one, as
	// Flytekit does in local execution modes only. It changes nothing
	// when EnvPrefix is "".
	Local bool
	// DefaultDir is the directory of one file per secret (default_dir,
	// default /etc/secrets); "" leaves the [Dir] backend out.
	DefaultDir string
	// FilePrefix is prepended to file names in DefaultDir (file_prefix,
	// default "").
	FilePrefix string

	// KeychainService is the OS keychain service (keychain_service); ""
	// means DefaultKeychainService. It also names the pass directory and
	// the keyctl keyring of a fallback.
	KeychainService string
	// KeychainTimeout bounds each keychain call and the reachability
	// probe (keychain_timeout_seconds); 0 means DefaultTimeout.
	KeychainTimeout time.Duration

	// Fallback says what replaces the OS keychain when it is unreachable
	// (fallback):
	//
	//   - "" (the default): nothing. The keychain stays the last backend,
	//     and a lookup that gets that far fails with an error wrapping
	//     ErrUnavailable that says what to do.
	//   - "file": the encrypted file [Keyring] in FallbackDir.
	//   - "pass": the pass [Keyring] in PassDir.
	//   - "keyctl": the kernel keyring [Keyring] (Linux; not persistent).
	//   - "auto": "pass" if the pass command is installed and the store in
	//     PassDir is initialised, otherwise "file". Never "keyctl", which
	//     would lose secrets at reboot.
	//
	// "Unreachable" means, on Linux, that there is no D-Bus session bus,
	// that nothing on it provides org.freedesktop.secrets (neither running
	// nor activatable), or that the bus did not answer within
	// KeychainTimeout. A locked keychain is reachable: it is not replaced,
	// and lookups report that it is locked. The macOS Keychain and the
	// Windows Credential Manager are always reachable.
	Fallback string
	// FallbackDir is the directory of the encrypted file keyring
	// (fallback_dir); "" means DefaultKeyringDir().
	FallbackDir string
	// PassphraseEnv names the variable with the encrypted file keyring's
	// passphrase (fallback_passphrase_env); "" means DefaultPassphraseEnv.
	PassphraseEnv string
	// PassDir is the pass password store (pass_dir); "" means
	// $PASSWORD_STORE_DIR, or ~/.password-store.
	PassDir string

	// Logger announces the fallback, once per [Store], as a warning; nil
	// means hclog.Default().
	Logger hclog.Logger
	// Getenv looks variables up (secrets, the passphrase,
	// PASSWORD_STORE_DIR); nil means os.LookupEnv.
	Getenv func(string) (string, bool)
}

// fallbacks lists the values [Options.Fallback] accepts.
var fallbacks = []string{"", "auto", "file", "pass", "keyctl"}

// New builds the chain Flytekit's SecretsManager walks, ending in the OS
// keychain:
//
//  1. Env{Prefix: EnvPrefix}: FLYTE_SECRETS_GITHUB_TOKEN;
//  2. if Local: Env{}: GITHUB_TOKEN;
//  3. if DefaultDir is set: Dir{Path: DefaultDir, FilePrefix: FilePrefix}:
//     /etc/secrets/github/token;
//  4. NewStore(opts): the OS keychain, or the configured fallback when the
//     keychain is unreachable.
//
// The last element is always the *Store, which `goflyte secrets set`
// and friends may use directly (chain[len(chain)-1].(*Store)).
//
// New does no I/O: the store decides between keychain and fallback on
// first use, so a run whose secrets all come from the environment never
// touches D-Bus.
func New(opts Options) Chain {
	c := Chain{Env{Prefix: opts.EnvPrefix, Getenv: opts.Getenv}}
	if opts.Local && opts.EnvPrefix != "" {
		c = append(c, Env{Getenv: opts.Getenv})
	}
	if opts.DefaultDir != "" {
		c = append(c, Dir{Path: opts.DefaultDir, FilePrefix: opts.FilePrefix, Warn: onceWarner(opts.Logger)})
	}
	return append(c, NewStore(opts))
}

// Store is the writable end of the chain: the OS [Keychain] or, when that
// is unreachable and [Options.Fallback] names one, a fallback [Keyring].
// `goflyte secrets set/delete/list` use it directly.
//
// The choice is made once, on first use: with a fallback configured, a
// probe (bounded by KeychainTimeout) checks whether the keychain is
// reachable. Choosing the fallback is logged once as a warning that says
// which backend and why, for example
//
//	OS keychain unreachable: no D-Bus session bus; using encrypted file keyring /home/me/.config/goflyte/keyring
//
// A Store is safe for concurrent use; it implements [Setter], [Deleter]
// and [Lister] by delegating to the chosen backend.
type Store struct {
	opts     Options
	keychain Keychain

	mu       sync.Mutex
	fallback *Keyring // made on first need; nil without a fallback
	chosen   Backend  // nil until decided
}

var (
	_ Setter  = (*Store)(nil)
	_ Deleter = (*Store)(nil)
	_ Lister  = (*Store)(nil)
)

// NewStore returns the store for opts. Like New, it does no I/O.
func NewStore(opts Options) *Store {
	return &Store{
		opts:     opts,
		keychain: Keychain{Service: opts.KeychainService, Timeout: opts.KeychainTimeout},
	}
}

// fallbackKeyring returns s's fallback, made on first need (for "auto",
// that looks for pass). s.mu is held.
func (s *Store) fallbackKeyring() *Keyring {
	if s.fallback == nil {
		s.fallback = fallbackKeyring(s.opts)
	}
	return s.fallback
}

// fallbackKeyring returns the Keyring opts.Fallback names, nil for none,
// or one that fails with a clear error for a value it does not know.
func fallbackKeyring(opts Options) *Keyring {
	k := &Keyring{
		Service:       opts.KeychainService,
		PassphraseEnv: opts.PassphraseEnv,
		Getenv:        opts.Getenv,
		Warn:          onceWarner(opts.Logger),
	}
	switch opts.Fallback {
	case "":
		return nil
	case "auto":
		k.Backend, k.Dir = "pass", opts.PassDir
		if k.checkPass() != nil {
			k.Backend, k.Dir = "file", opts.FallbackDir
		}
	case "file":
		k.Backend, k.Dir = "file", opts.FallbackDir
	case "pass":
		k.Backend, k.Dir = "pass", opts.PassDir
	case "keyctl":
		k.Backend = "keyctl"
	default:
		k.Backend = opts.Fallback // open reports it as unknown
	}
	return k
}

// Backend returns the backend the store uses, deciding on first use.
func (s *Store) Backend(ctx context.Context) (Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chosen != nil {
		return s.chosen, nil
	}
	if !slices.Contains(fallbacks, s.opts.Fallback) {
		return nil, fmt.Errorf("secrets: unknown fallback %q (want one of \"auto\", \"file\", \"pass\" or \"keyctl\")", s.opts.Fallback)
	}
	if s.opts.Fallback == "" {
		s.chosen = s.keychain
		return s.chosen, nil
	}
	p := probeKeychain(ctx, s.keychain.timeout())
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.keychain.String(), err) // undecided: ask again next time
	}
	if p == nil {
		s.chosen = s.keychain
		return s.chosen, nil
	}
	logger := s.opts.Logger
	if logger == nil {
		logger = hclog.Default()
	}
	fb := s.fallbackKeyring()
	logger.Warn(fmt.Sprintf("OS keychain unreachable: %s; using %s", p.reason, fb.where()),
		"fallback", s.opts.Fallback, "backend", fb.Backend)
	s.chosen = fb
	return s.chosen, nil
}

// Lookup looks n up in the chosen backend.
func (s *Store) Lookup(ctx context.Context, n Name) ([]byte, error) {
	if err := begin(ctx, n); err != nil {
		return nil, err
	}
	b, err := s.Backend(ctx)
	if err != nil {
		return nil, err
	}
	return b.Lookup(ctx, n)
}

// Set stores value under n in the chosen backend.
func (s *Store) Set(ctx context.Context, n Name, value []byte) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	b, err := s.Backend(ctx)
	if err != nil {
		return err
	}
	return b.(Setter).Set(ctx, n, value)
}

// Delete removes n from the chosen backend.
func (s *Store) Delete(ctx context.Context, n Name) error {
	if err := begin(ctx, n); err != nil {
		return err
	}
	b, err := s.Backend(ctx)
	if err != nil {
		return err
	}
	return b.(Deleter).Delete(ctx, n)
}

// List lists the names in the chosen backend.
func (s *Store) List(ctx context.Context) ([]Name, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := s.Backend(ctx)
	if err != nil {
		return nil, err
	}
	return b.(Lister).List(ctx)
}

// Where describes the chosen backend's place for n. Before the choice is
// made (Where does no I/O) it names both candidates.
func (s *Store) Where(n Name) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.chosen != nil:
		return s.chosen.Where(n)
	case s.opts.Fallback == "":
		return s.keychain.Where(n)
	}
	return fmt.Sprintf("%s, or %s if the keychain is unreachable", s.keychain.Where(n), s.fallbackKeyring().Where(n))
}

// String returns the chosen backend's kind, "keychain" before the choice.
func (s *Store) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chosen != nil {
		return kind(s.chosen)
	}
	return s.keychain.String()
}

// Status says whether one keychain backend is usable on this machine, and
// why not, for `goflyte doctor`. Detail never contains a secret.
type Status struct {
	Backend string // "keychain", "encrypted file", "pass", "keyctl"
	Usable  bool
	Detail  string
}

// Doctor checks each keychain backend, in the order the fallback "auto"
// would consider them after the OS keychain: keychain, pass, encrypted
// file, keyctl. It reads no secret and asks for no passphrase; the checks
// it makes are cheap (the keychain's is bounded by KeychainTimeout) and
// leave nothing behind.
func Doctor(ctx context.Context, opts Options) []Status {
	kc := Keychain{Service: opts.KeychainService, Timeout: opts.KeychainTimeout}
	out := []Status{keychainStatus(ctx, kc)}

	pass := &Keyring{Backend: "pass", Service: opts.KeychainService, Dir: opts.PassDir, Getenv: opts.Getenv}
	if err := pass.checkPass(); err != nil {
		out = append(out, Status{Backend: "pass", Detail: err.Error()})
	} else {
		out = append(out, Status{Backend: "pass", Usable: true, Detail: fmt.Sprintf("%s, entries under %s/", pass.where(), pass.service())})
	}

	file := &Keyring{Backend: "file", Dir: opts.FallbackDir, PassphraseEnv: opts.PassphraseEnv, Getenv: opts.Getenv}
	env := file.passphraseEnv()
	switch v, _ := file.getenv(env); {
	case file.dir() == "":
		out = append(out, Status{Backend: "encrypted file", Detail: "no directory: set fallback_dir in the secrets block"})
	case v != "":
		out = append(out, Status{Backend: "encrypted file", Usable: true, Detail: fmt.Sprintf("%s, passphrase from %s", file.where(), env)})
	case file.hasTerminal():
		out = append(out, Status{Backend: "encrypted file", Usable: true, Detail: fmt.Sprintf("%s, passphrase asked on the terminal (or set %s)", file.where(), env)})
	default:
		out = append(out, Status{Backend: "encrypted file", Detail: fmt.Sprintf("%s: no passphrase: set %s (there is no terminal to ask on)", file.where(), env)})
	}

	keyctl := &Keyring{Backend: "keyctl", Service: opts.KeychainService}
	if err := keyctlCheck(); err != nil {
		out = append(out, Status{Backend: "keyctl", Detail: fmt.Sprintf("the kernel keyring is not usable here: %v", err)})
	} else {
		out = append(out, Status{Backend: "keyctl", Usable: true, Detail: keyctl.where() + " in the per-user kernel keyring: kept until reboot, never on disk"})
	}

	if fb := fallbackKeyring(opts); fb != nil {
		for i := range out {
			if out[i].Backend == fb.String() {
				out[i].Detail += fmt.Sprintf("; the configured fallback (%q)", opts.Fallback)
			}
		}
	}
	return out
}

func keychainStatus(ctx context.Context, kc Keychain) Status {
	st := Status{Backend: kc.String()}
	if runtime.GOOS != "linux" {
		st.Usable = true
		st.Detail = fmt.Sprintf("the %s keychain, service %q", runtime.GOOS, kc.service())
		return st
	}
	p := diagnoseKeychain(ctx, kc.timeout())
	if p == nil {
		st.Usable = true
		st.Detail = fmt.Sprintf("Secret Service on the D-Bus session bus, service %q", kc.service())
		return st
	}
	st.Detail = p.reason
	if p.hint != "" {
		st.Detail += ": " + p.hint
	}
	if p.err != nil && !errors.Is(p.err, errTimeout) {
		st.Detail += fmt.Sprintf(" (%v)", p.err)
	}
	return st
}
