package datastore

import (
	"context"
	"fmt"
	"strconv"

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

// openGCS opens loc's bucket with Application Default Credentials.
func openGCS(ctx context.Context, loc location, opts *Options) (*blob.Bucket, error) {
	anon, err := gcsAnonymous(loc)
	if err != nil {
		return nil, err
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
	return gcsblob.OpenBucket(ctx, client, loc.bucket, nil)
}
