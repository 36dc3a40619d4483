package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goflyte/goflyte/engine/datastore"
)

// A task's output file goes into the run's store, and comes back out as the
// next task's input. The same calls work with "s3://bucket/prefix".
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "datastore-example")
	defer os.RemoveAll(tmp)

	store, err := datastore.Open(ctx, filepath.Join(tmp, "store"), datastore.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	out := filepath.Join(tmp, "report.txt")
	os.WriteFile(out, []byte("42 words\n"), 0o600)
	uri, err := store.PutFile(ctx, "run-1/count/report.txt", out)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(uri, store.URI()))

	in := filepath.Join(tmp, "next-task", "input.txt")
	if err := datastore.Fetch(ctx, uri, in, false, datastore.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(in)
	fmt.Print(string(b))

	_, err = store.PutFile(ctx, "../escape", out)
	fmt.Println(errors.Is(err, datastore.ErrInvalidKey))
	// Output:
	// /run-1/count/report.txt
	// 42 words
	// true
}
