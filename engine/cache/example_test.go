package cache_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/goflyte/goflyte/engine/cache"
)

// The engine's side of a cacheable task: look the key up, and on a miss
// run the task and store its outputs.
func Example() {
	dir, err := os.MkdirTemp("", "goflyte-cache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	c, err := cache.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	// The engine hashes everything that can change the result.
	k := cache.Sum([]byte("text"), []byte("upper"), []byte("v1"), []byte(`{"text":"hello"}`))

	for range 2 {
		e, err := c.Get(k)
		var corrupt *cache.CorruptError
		switch {
		case err == nil:
			fmt.Printf("cached: %s\n", e.Outputs)
			continue
		case errors.As(err, &corrupt):
			fmt.Println("warning:", err) // then run the task, as on a miss
		case !errors.Is(err, cache.ErrMiss):
			log.Fatal(err)
		}
		outputs := json.RawMessage(`{"text":"HELLO"}`) // run the task
		fmt.Printf("ran: %s\n", outputs)
		err = c.Put(k, &cache.Entry{
			Task:    "text.upper",
			Version: "v1",
			Inputs:  map[string]string{"text": cache.Sum([]byte(`"hello"`)).String()},
			Outputs: outputs,
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// ran: {"text":"HELLO"}
	// cached: {"text":"HELLO"}
}
