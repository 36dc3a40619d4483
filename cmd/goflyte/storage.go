package main

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/goflyte/goflyte/engine"
	"github.com/goflyte/goflyte/engine/config"
	"github.com/goflyte/goflyte/engine/datastore"
)

// storage is engine/datastore as the engine's Storage, with the aws,
// azure and gcp settings of flyte.hcl.
type storage struct{ opts datastore.Options }

// Open opens the data store at prefix. A failure returns a nil Store, not
// a nil *datastore.Store in an interface, which would look open.
func (s storage) Open(ctx context.Context, prefix string) (engine.Store, error) {
	st, err := datastore.Open(ctx, prefix, s.opts)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (s storage) Fetch(ctx context.Context, uri, dst string, dir bool) error {
	return datastore.Fetch(ctx, uri, dst, dir, s.opts)
}

// IsNotFound reports whether err is a missing object (engine.NotFounder:
// a missing cache entry in a bucket is a miss, not a failure).
func (s storage) IsNotFound(err error) bool { return errors.Is(err, datastore.ErrNotFound) }

// storageFor returns the data store of cfg: retries and backoff come from
// the aws block, which Flytekit's settings document puts them in.
func storageFor(cfg *config.Config, logger hclog.Logger) storage {
	var o datastore.Options
	o.AWS.Endpoint = cfg.AWS.Endpoint
	o.AWS.AccessKeyID = cfg.AWS.AccessKeyID
	o.AWS.SecretAccessKey = cfg.AWS.SecretAccessKey
	o.AWS.AddressingStyle = cfg.AWS.AddressingStyle
	o.AWS.EnableDebug = cfg.AWS.EnableDebug
	o.Azure.StorageAccountName = cfg.Azure.StorageAccountName
	o.Azure.StorageAccountKey = cfg.Azure.StorageAccountKey
	o.Azure.TenantID = cfg.Azure.TenantID
	o.Azure.ClientID = cfg.Azure.ClientID
	o.Azure.ClientSecret = cfg.Azure.ClientSecret
	o.Retries = cfg.AWS.Retries
	o.Backoff = time.Duration(cfg.AWS.BackoffSeconds) * time.Second
	o.Logger = logger
	return storage{opts: o}
}
