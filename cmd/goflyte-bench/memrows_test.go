package main

import (
	"context"
	"testing"
	"time"
)

func TestBatchedPerElement(t *testing.T) {
	calls := 0
	setup := func(context.Context, *Env) (Sampler, error) {
		return func(context.Context) (time.Duration, error) {
			calls++
			return time.Duration(calls) * time.Millisecond, nil // 1, 2, 3 ms
		}, nil
	}
	sample, err := perElement(batched(setup, 3), 3)(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || d != 2*time.Millisecond {
		t.Errorf("one batched sample made %d calls and returned %v; want 3 calls, their mean 2ms", calls, d)
	}
}
