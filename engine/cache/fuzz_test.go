package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzGet writes arbitrary bytes as an entry file and reads it back: the
// cache may report a miss or a corrupt entry, never panic, and never
// return an entry whose content does not verify.
func FuzzGet(f *testing.F) {
	c, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	k := Sum([]byte("seed"))
	if err := c.Put(k, &Entry{Task: "p.t", Version: "1", Inputs: map[string]string{"a": "b"}, Outputs: json.RawMessage(`{"x":1}`), Created: time.Unix(0, 0)}); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(c.Path(k))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	withRun := Sum([]byte("seed run"))
	if err := c.Put(withRun, &Entry{Task: "p.t", Outputs: json.RawMessage(`{}`), Created: time.Unix(0, 0), Run: "r1"}); err != nil {
		f.Fatal(err)
	}
	// Its key is not k, so as is it reads as misplaced; the seed is for
	// the mutator to work from.
	seed, err := os.ReadFile(c.Path(withRun))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte("goflyte-cache v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		c, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir+"/"+k.String()[:2], 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.Path(k), data, 0o600); err != nil {
			t.Fatal(err)
		}
		// GetOutputs first (a corrupt file is removed): whatever Get
		// takes as a hit, GetOutputs takes too, with the same outputs.
		// (It may take more: it does not decode the first line, which a
		// file with a valid checksum has from encodeEntry.)
		outs, oerr := c.GetOutputs(k)
		if err := os.WriteFile(c.Path(k), data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := c.Get(k)
		if err == nil && (oerr != nil || !bytes.Equal(outs, e.Outputs)) {
			t.Errorf("Get hit with outputs %q, GetOutputs %q, %v", e.Outputs, outs, oerr)
		}
		if err != nil {
			if !errors.Is(err, ErrMiss) {
				t.Errorf("Get of a damaged entry: %v, want a miss", err)
			}
			return
		}
		if !json.Valid(e.Outputs) {
			t.Errorf("Get returned outputs that are not JSON: %q", e.Outputs)
		}
	})
}
