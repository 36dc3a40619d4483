package datastore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gocloud.dev/blob"
)

// openBucket opens the bucket of loc with the driver for its scheme.
func openBucket(ctx context.Context, loc location, opts *Options) (*blob.Bucket, error) {
	switch loc.scheme {
	case "s3":
		return openS3(ctx, loc, opts)
	case "gs":
		return openGCS(ctx, loc, opts)
	case "azblob":
		return openAzure(ctx, loc, opts)
	}
	return nil, fmt.Errorf("unsupported scheme %q", loc.scheme)
}

// upload writes the file src to key. On any failure the write's context is
// cancelled before Close, which makes the driver abort the upload, so no
// partial object is left.
func upload(ctx context.Context, b *blob.Bucket, key, src string) error {
	if err := checkRegular(src); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		cancel()
		w.Close()
		return err
	}
	return w.Close()
}

// download writes the object key to the file dst, atomically.
func download(ctx context.Context, b *blob.Bucket, key, dst string) error {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	return writeAtomic(dst, fetchedFileMode, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// listObjects returns the objects under prefix, as one retried call:
// no directories, and no "directory" markers (keys ending in "/") that a
// console or another tool made.
func listObjects(ctx context.Context, b *blob.Bucket, prefix string, opts *Options) ([]*blob.ListObject, error) {
	var objs []*blob.ListObject
	err := retry(ctx, opts, "list", func() error {
		objs = objs[:0]
		it := b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if !obj.IsDir && !strings.HasSuffix(obj.Key, "/") {
				objs = append(objs, obj)
			}
		}
	})
	return objs, err
}

// downloadDir writes every object under the prefix loc.key to dst.
func downloadDir(ctx context.Context, b *blob.Bucket, loc location, dst string, opts *Options) error {
	prefix := ""
	if loc.key != "" {
		prefix = loc.key + "/"
	}
	objs, err := listObjects(ctx, b, prefix, opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, dirMode); err != nil {
		return err
	}
	for _, o := range objs {
		key := o.Key
		rel := strings.TrimPrefix(key, prefix)
		obj := loc
		obj.key = key
		if why := checkKey(rel); why != "" {
			return &Error{Op: "fetch", URI: loc.String(), Kind: ErrInvalidKey,
				text: fmt.Sprintf("object %s would escape %s: %s", strconv.Quote(key), dst, why)}
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := retry(ctx, opts, "fetch", func() error { return download(ctx, b, key, target) }); err != nil {
			return newError("fetch", obj.String(), err, opts.secrets())
		}
	}
	return nil
}
