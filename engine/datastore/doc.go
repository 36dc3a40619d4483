// Package datastore is a run's data store: where task outputs that are files
// and directories live, and how they are fetched back as another task's
// inputs. It owns keys, URIs, atomic placement and the mapping of storage
// failures to errors. It does not decide which keys a run uses or when to
// delete them: that is the engine's, as the run's layout under the store is.
//
// # Stores
//
// [Open] takes a prefix: a local path or "file:///abs/dir", or a bucket
// prefix "s3://bucket/prefix", "gs://bucket/prefix" or
// "azblob://container/prefix". Remote stores are reached through
// gocloud.dev/blob (s3blob, gcsblob, azureblob); [Options] carries the
// credentials and endpoints of flyte.hcl's aws, gcp and azure sections.
//
// A gs:// store talks to a Google Cloud Storage emulator instead when
// STORAGE_EMULATOR_HOST is set, as host:port (not a URL): over plain HTTP
// and without credentials, so Application Default Credentials are not
// looked up, as with Google's own storage client. The tests run gs://
// this way against fake-gcs-server in-process, and s3:// against a
// versitygw server (package s3test).
//
// Within a store an object is named by a key, a relative slash path that
// cannot escape the prefix (see [Store.PutFile] for the rules). A local
// store keeps key "a/b/c" as the file <dir>/a/b/c; a remote store as the
// object <prefix>/a/b/c. A directory put with [Store.PutDir] under key k is
// the set of objects k/<rel>; remote stores have no empty directories.
//
// A local store writes every file under a temporary name in its target
// directory and renames it into place, so a reader sees either nothing or
// the whole file. Stored files are owner-only and read-only (0o400),
// directories are owner-only (0o700). A file on the same file system is
// hard-linked (or, with [Store.PutFileMove], renamed) rather than copied,
// so the source then has mode 0o400 too.
//
// A remote store uploads through a blob.Writer and aborts the upload when
// anything fails, so no partial object is ever visible.
//
// # Fetching
//
// [Fetch] downloads one object (dir false) or every object under a prefix
// (dir true) to a local path, each file atomically, with owner-writable
// modes, since the receiving task may change its inputs. An object key that
// would land outside the destination (a ".." segment, say) fails the fetch.
//
// # Errors and retries
//
// Every error is an [*Error] naming the operation and the URI. Its Kind is
// one of [ErrInvalidKey], [ErrNotFound], [ErrNoBucket], [ErrPermission],
// [ErrNoCredentials] or [ErrUnreachable] when the failure is one of those,
// for errors.Is. Messages never contain the secret keys of [Options] or of
// the providers' environment variables. Fetching one object from a missing
// gs:// bucket fails with ErrNotFound, since Google's storage client
// reports any 404 on a read as a missing object; a directory fetch or Open
// says ErrNoBucket.
//
// Transient failures (refused or reset connections, timeouts that are not
// the caller's, throttling, 5xx answers) are tried again up to
// Options.Retries times, waiting Options.Backoff and doubling; the SDKs' own
// retries are turned off so that the number means what it says. Missing
// objects, refused credentials and bad requests fail at once.
//
// A [Store] may be used from several goroutines at once.
package datastore
