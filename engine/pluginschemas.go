package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/sandbox"
	"github.com/goflyte/goflyte/plugin"
)

// The plugin schema cache: what each plugin binary answered to Describe,
// kept in <sandbox>/plugin-schemas/ so that compiling a workflow does not
// start its plugins. A run whose tasks all come from the result cache then
// starts no plugin process at all (issue 17: starting the plugin and its
// Describe were a fixed cost of every cached re-run). A plugin is started
// when a task first calls it, and asked to Describe itself then, as
// before.
//
// An answer is kept under a key that covers everything it can depend on:
// the SHA-256 of the plugin binary, the plugin's name, its whole
// environment and log level, whether the connection uses TLS, and the
// protocol (handshake and messages, [plugin.ProtocolDigest]). A changed
// binary or environment is a miss, and the plugin is started and asked
// again. The answer is kept in the protocol's wire form and decoded as a
// live answer is.
//
// Hashing a plugin binary costs about as much as starting it (20-70 ms
// for 19 MB), so the binary's digest is remembered too, by the file's
// identity (device, inode, size, modification and change times; Linux
// only, elsewhere it is hashed each time). A digest is remembered only
// once the file has been unchanged for [settleTime] when it was hashed:
// a file rewritten within the same tick of the file system's clock would
// otherwise keep its old times (the "racy git" problem).
//
// Entries are written atomically and carry a checksum of their content;
// an entry that does not verify, or does not decode, is a miss. The
// plugin lock (sdk.plugin_lock) is checked as before, also on a hit.

const (
	schemaDirName    = "plugin-schemas"
	schemaFileHeader = "goflyte plugin schema 1\n"
	digestFileHeader = "goflyte plugin digest 1\n"
	// settleTime is how long a binary must have been unchanged when it
	// was hashed for its digest to be remembered by its identity.
	settleTime = 2 * time.Second
)

// schemaDir is the plugin schema cache's directory in cfg's sandbox, ""
// (no cache) without a sandbox.
func schemaDir(cfg *config.Config) string {
	if cfg.SDK.LocalSandbox == "" {
		return ""
	}
	return filepath.Join(cfg.SDK.LocalSandbox, schemaDirName)
}

// schemaStore is the plugin schema cache in dir.
type schemaStore struct {
	dir string
	// now is the clock (tests move it).
	now func() time.Time
}

// schemaKey is the key of a plugin's Describe answer: the hex SHA-256 of
// everything it can depend on.
func schemaKey(name, binarySum string, opts plugin.LaunchOptions) string {
	h := sha256.New()
	proto := plugin.ProtocolDigest()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	field("goflyte plugin schema key 1")
	field(hex.EncodeToString(proto[:]))
	field(name)
	field(binarySum)
	field(opts.LogLevel)
	field(strconv.FormatBool(opts.TLS))
	field(strconv.Itoa(len(opts.Env)))
	for _, kv := range opts.Env {
		field(kv)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// get returns the schema kept under key; ok is false if there is none, or
// the entry is damaged.
func (s *schemaStore) get(key string) (_ *plugin.Schema, ok bool) {
	data, ok := readChecked(filepath.Join(s.dir, key), schemaFileHeader)
	if !ok {
		return nil, false
	}
	schema, err := plugin.UnmarshalSchema(data)
	if err != nil {
		return nil, false
	}
	return schema, true
}

// put keeps schema under key, then trims the store to maxSchemaFiles.
func (s *schemaStore) put(key string, schema *plugin.Schema) error {
	data, err := plugin.MarshalSchema(schema)
	if err != nil {
		return err
	}
	if err := s.write(key, schemaFileHeader, data); err != nil {
		return err
	}
	s.trimTo(maxSchemaFiles)
	return nil
}

// maxSchemaFiles bounds the files of the store: every new environment
// (another working directory in PWD, say) makes a new entry of a few KB,
// and nothing else ever removes them.
const maxSchemaFiles = 256

// trimTo removes the files modified longest ago while the store holds
// more than limit. A put happens only on a miss, so this is rare. A file
// removed under a concurrent reader is a miss for it.
func (s *schemaStore) trimTo(limit int) {
	entries, err := os.ReadDir(s.dir)
	if err != nil || len(entries) <= limit {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	files := make([]aged, 0, len(entries))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, aged{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(files, func(a, b aged) int { return a.mod.Compare(b.mod) })
	for _, f := range files[:max(0, len(files)-limit)] {
		os.Remove(filepath.Join(s.dir, f.name))
	}
}

// binaryDigestName is the file name of the remembered digest of the
// binary at path.
func binaryDigestName(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "bin-" + hex.EncodeToString(sum[:])
}

// digestMemo is what is remembered of a binary's digest.
type digestMemo struct {
	ID  fileID `json:"id"`
	Sum string `json:"sha256"`
}

// binarySum returns the hex SHA-256 of the plugin binary at path,
// remembered by the file's identity where that is safe, and that identity
// (idOK is false where the system does not give one).
func (s *schemaStore) binarySum(path string) (sum string, id fileID, idOK bool, err error) {
	memoName := binaryDigestName(path)
	before, idOK := statID(path)
	if idOK {
		if data, ok := readChecked(filepath.Join(s.dir, memoName), digestFileHeader); ok {
			var m digestMemo
			if json.Unmarshal(data, &m) == nil && m.ID == before && m.Sum != "" {
				return m.Sum, before, true, nil
			}
		}
	}
	hashedAt := s.now()
	sum, err = FileSHA256(path)
	if err != nil {
		return "", fileID{}, false, err
	}
	after, ok := statID(path)
	if idOK && ok && after == before && hashedAt.Sub(before.latest()) >= settleTime {
		data, err := json.Marshal(digestMemo{ID: before, Sum: sum})
		if err == nil {
			_ = s.write(memoName, digestFileHeader, data) // a memo is only a shortcut
		}
	}
	return sum, before, idOK && ok && after == before, nil
}

// unchanged reports whether the binary at path still is the one whose
// digest binarySum returned.
func (s *schemaStore) unchanged(path, sum string, id fileID, idOK bool) bool {
	if idOK {
		now, ok := statID(path)
		return ok && now == id
	}
	again, err := FileSHA256(path)
	return err == nil && again == sum
}

// write keeps data under name: the header, the hex SHA-256 of data and a
// newline, then data; atomically.
func (s *schemaStore) write(name, header string, data []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("plugin schema cache: %w", err)
	}
	sum := sha256.Sum256(data)
	buf := make([]byte, 0, len(header)+2*sha256.Size+1+len(data))
	buf = append(buf, header...)
	buf = hex.AppendEncode(buf, sum[:])
	buf = append(buf, '\n')
	buf = append(buf, data...)
	if err := sandbox.WriteFileAtomic(s.dir, name, buf); err != nil {
		return fmt.Errorf("plugin schema cache: %w", err)
	}
	return nil
}

// readChecked reads what write wrote; ok is false if the file is missing,
// has another header or does not match its checksum.
func readChecked(path, header string) (_ []byte, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	rest, found := bytes.CutPrefix(data, []byte(header))
	if !found || len(rest) < 2*sha256.Size+1 || rest[2*sha256.Size] != '\n' {
		return nil, false
	}
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], rest[:2*sha256.Size]); err != nil {
		return nil, false
	}
	payload := rest[2*sha256.Size+1:]
	if sha256.Sum256(payload) != want {
		return nil, false
	}
	return payload, true
}

// fileID is a file's identity as far as its content goes: any write to
// the file, or another file renamed into its place, changes it.
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// latest is the later of the modification and change times.
func (id fileID) latest() time.Time {
	return time.Unix(0, max(id.Mtime, id.Ctime))
}

// Schema returns the named plugin's schema without starting it when the
// schema cache has the answer of this very binary in this environment;
// otherwise it starts the plugin (see [Plugins.Get]) and keeps its
// answer. The plugin lock, if any, is checked either way.
func (p *Plugins) Schema(ctx context.Context, name string) (*plugin.Schema, error) {
	if p.schemas == nil {
		_, s, err := p.Get(ctx, name)
		return s, err
	}
	p.mu.Lock()
	_, running := p.running[name]
	p.mu.Unlock()
	if running { // started, or registered in-process
		_, s, err := p.Get(ctx, name)
		return s, err
	}
	path, found := p.Path(name)
	if !found {
		_, s, err := p.Get(ctx, name) // says which directories were searched
		return s, err
	}
	if err := p.verifyLock(name, path); err != nil {
		return nil, err
	}
	sum, id, idOK, err := p.schemas.binarySum(path)
	if err != nil {
		_, s, err := p.Get(ctx, name)
		return s, err
	}
	key := schemaKey(name, sum, p.launchOptions(name))
	if s, ok := p.schemas.get(key); ok {
		return s, nil
	}
	_, s, err := p.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	// Keep the answer only if the process that gave it ran the binary
	// that was hashed: one replaced in between is asked again next time.
	if p.schemas.unchanged(path, sum, id, idOK) {
		if err := p.schemas.put(key, s); err != nil {
			p.logger.Debug("cannot keep the plugin's schema", "plugin", name, "error", err)
		}
	}
	return s, nil
}
