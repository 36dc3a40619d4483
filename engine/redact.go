package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/goflyte/goflyte/plugin"
)

// Redacted replaces a secret value wherever goflyte prints or stores text.
const Redacted = "***"

// redactor remembers the secret values resolved during a run and replaces
// them with Redacted in text: plugin log and stderr lines, task error
// messages, and what the CLI prints. It is safe for concurrent use.
type redactor struct {
	mu       sync.RWMutex
	values   map[string]bool
	replacer *strings.Replacer
}

// add remembers a secret value: its exact text, its text form without
// trailing white space, its JSON-escaped form, and each line of a
// multi-line value (a plugin may log a certificate line by line).
func (r *redactor) add(value []byte) {
	text := string(bytes.TrimRight(value, " \t\r\n"))
	if text == "" {
		return
	}
	forms := []string{text}
	// The forms JSON output gives the value, with and without HTML escapes.
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(text) == nil {
			quoted := strings.TrimSuffix(b.String(), "\n")
			forms = append(forms, quoted[1:len(quoted)-1])
		}
	}
	if strings.Contains(text, "\n") {
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 8 {
				forms = append(forms, line)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]bool{}
	}
	changed := false
	for _, f := range forms {
		if !r.values[f] {
			r.values[f], changed = true, true
		}
	}
	if !changed {
		return
	}
	// Longest first, so that a value that contains another is replaced whole.
	all := make([]string, 0, len(r.values))
	for v := range r.values {
		all = append(all, v)
	}
	sort.Slice(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) > len(all[j])
		}
		return all[i] < all[j]
	})
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, Redacted)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// generation identifies the secret values known now: it changes when
// one is added.
func (r *redactor) generation() *strings.Replacer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.replacer
}

// redact returns s with every known secret value replaced.
func (r *redactor) redact(s string) string {
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// holds reports whether s contains a known secret value.
func (r *redactor) holds(s string) bool { return r.redact(s) != s }

// redactError returns err with secret values removed from its message,
// keeping the types callers look for with errors.As. An error with
// nothing to redact is returned as it is, wrappers and all.
func (r *redactor) redactError(err error) error {
	if err == nil || !r.touches(err) {
		return err
	}
	var te *plugin.TaskError
	if errors.As(err, &te) && te == err {
		c := &plugin.TaskError{Message: r.redact(te.Message), Retryable: te.Retryable}
		for _, d := range te.Diagnostics {
			d.Summary, d.Detail = r.redact(d.Summary), r.redact(d.Detail)
			c.Diagnostics = append(c.Diagnostics, d)
		}
		return c
	}
	var pe *plugin.ProcessError
	if errors.As(err, &pe) && pe == err {
		c := *pe
		c.Stderr = r.redact(c.Stderr)
		c.Err = errors.New(r.redact(pe.Err.Error()))
		return &c
	}
	// Deliberately not wrapping err: its message holds a value.
	return errors.New(r.redact(err.Error()))
}

// touches reports whether err's message, or the diagnostics or stderr of
// a plugin error in it, holds a secret value.
func (r *redactor) touches(err error) bool {
	texts := []string{err.Error()}
	var te *plugin.TaskError
	if errors.As(err, &te) {
		for _, d := range te.Diagnostics {
			texts = append(texts, d.Summary, d.Detail)
		}
	}
	var pe *plugin.ProcessError
	if errors.As(err, &pe) {
		texts = append(texts, pe.Stderr)
	}
	for _, t := range texts {
		if r.holds(t) {
			return true
		}
	}
	return false
}
