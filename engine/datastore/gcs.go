package datastore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
)

// gcsAnonymous reports whether loc asks for anonymous access, the one
// query parameter gs:// takes.
func gcsAnonymous(loc location) (bool, error) {
	anon := false
	for k, v := range loc.query {
		if k != "anonymous" {
			return false, fmt.Errorf("unsupported query parameter %q for gs (want anonymous)", k)
		}
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return false, fmt.Errorf("query parameter anonymous: %w", err)
		}
		anon = b
	}
	return anon, nil
}

// openGCS opens loc's bucket with Application Default Credentials, or
// with none when loc asks for anonymous access or STORAGE_EMULATOR_HOST
// names an emulator. With the emulator set, gcsblob sends every request
// there over plain HTTP without credentials whatever client it is given,
// so looking up Application Default Credentials would only fail on a
// machine that has none (the official storage client also skips them).
func openGCS(ctx context.Context, loc location, opts *Options) (*blob.Bucket, error) {
	anon, err := gcsAnonymous(loc)
	if err != nil {
		return nil, err
	}
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
		// gcsblob prepends "http://"; a URL here would become a host
		// named "http" and fail as unreachable, far from the cause.
		if strings.Contains(host, "://") || strings.Contains(host, "/") {
			return nil, fmt.Errorf("STORAGE_EMULATOR_HOST=%q: want host:port, not a URL", host)
		}
		anon = true
	}
	var client *gcp.HTTPClient
	if anon {
		client = gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())
	} else {
		creds, err := gcp.DefaultCredentials(ctx)
		if err != nil {
			return nil, &kindError{ErrNoCredentials, err}
		}
		client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
		if err != nil {
			return nil, err
		}
	}
	b, err := gcsblob.OpenBucket(ctx, client, loc.bucket, nil)
	if err != nil {
		return nil, err
	}
	// The storage client retries on its own until the context ends, a
	// refused connection included; turn that off so that Options.Retries
	// counts every attempt, as for the other stores.
	var c *storage.Client
	if b.As(&c) {
		c.SetRetry(storage.WithPolicy(storage.RetryNever))
	}
	return b, nil
}
