// Package cache stores task results on the local disk, content-addressed
// by a [Key] the engine computes, so that a task whose key is unchanged
// need not run again. It is the Go counterpart of Flytekit's local cache
// (~/.flyte/local-cache), laid out like cmd/go's build cache.
//
// # What it owns
//
//   - Storage: one file per entry at <dir>/<first 2 hex digits>/<64 hex
//     digits> (the fan-out keeps directories small), plus an index: for
//     each task, <dir>/tasks/<sha256 of the task name> is an append-only
//     log of the keys written for it, one line per Put, which makes
//     [Cache.List], [Cache.Clear] and [Cache.Latest] for one task cheap.
//     The index is a convenience: an entry is a hit or not by its own file
//     alone, and readers skip index lines whose entries are gone.
//   - Atomicity: [Cache.Put] writes a temporary file next to the entry and
//     renames it into place. A reader sees the old entry, no entry, or the
//     whole new one, never a mix; concurrent writers of one key leave one
//     of their entries (the last rename wins).
//   - Integrity: every entry file starts with a header line holding its
//     key, the time it was written, the length of its content, and a
//     SHA-256 of the header and content; Get checks all of them before it
//     decodes anything. Put does not fsync (a run may write thousands of
//     entries, and an fsync costs milliseconds). Instead, if the machine
//     crashes before the data reaches the disk and an entry comes back
//     empty or torn, the check fails and [Cache.Get] returns a
//     [*CorruptError] (a miss) and removes the file. A process killed
//     mid-Put leaves at most a temporary file, which no read looks at and
//     which [Cache.Prune] or [Cache.Clear] removes once it is an hour old.
//   - Concurrency: a [*Cache] holds no mutable state, so its methods are
//     safe for concurrent use, and several processes may share a
//     directory on a local file system (not a network one). A Clear,
//     Prune or Delete racing a Put or Get never corrupts an entry or
//     fails them; at worst the Get misses, the Put's entry is removed
//     right after it was written, or it is left out of the task's index
//     (then [Cache.List] with "" still lists it, Get still hits, and
//     Clear("") and Prune still remove it).
//   - Last use: a hit sets the entry file's modification time, at most once
//     an hour per entry (cmd/go's rule), so a fully cached re-run does not
//     turn into thousands of metadata writes. [Info.LastHit] and
//     [Cache.Prune] are therefore accurate to within an hour. A hit on an
//     entry written within the last hour (its header says when) does not
//     even look at the time: it cannot be due, unless set back by hand.
//
// # What it leaves to the engine
//
//   - What goes into a key (plugin, task, cache version, canonical inputs
//     minus the ignored ones, file contents) and therefore whether two
//     runs share an entry. [Sum] is a helper for hashing the parts
//     unambiguously. Secret values must never reach the cache, in a key
//     or an entry: entries are plain files.
//   - Cache semantics: whether caching is enabled, overwrite (call Put
//     without Get), explaining a miss (compare [Entry.Inputs] with those of
//     [Cache.Latest]).
//   - Reporting: the cache logs nothing. A corrupt entry surfaces once, as
//     the *CorruptError from the Get that found (and removed) it; the
//     engine should tell the user and run the task. If the file cannot be
//     removed, later Gets report it again, so the engine may want to
//     report each key once per run.
//
// # Errors
//
// A missing entry is an error wrapping [ErrMiss] (test with errors.Is); a
// corrupt one is also a [*CorruptError] (errors.As). Other errors are
// failures of the file system, with the path in the message.
//
// # Costs
//
// A hit ([Cache.Get]) opens, stats, reads and closes one file, hashes it,
// and decodes one short JSON line (the outputs are stored on a line of
// their own and are not scanned again). It is meant to cost little more
// than os.ReadFile of the same file; BenchmarkGet and BenchmarkReadFile
// compare the two. A [Cache.Put] creates one file (the temporary one) and
// appends a line to the task's log. Neither scans a directory; List(""),
// Clear(""), Prune and Resolve do.
package cache
