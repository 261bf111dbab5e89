package activities

import (
	"context"
	"fmt"
	"runtime"
)

// DecodeLimit bounds how many images one worker decodes at once to
// thumbnail them. A decoded image costs width × height × 4 bytes (8-bit
// RGBA PNG; 8 for 16-bit, about 1.5 for 4:2:0 JPEG): 25 MB for a 2500×2500
// PNG, so the 32 images of eight n=4 jobs decoding together would want
// 800 MB, while DefaultDecodes of them at once (2 on two cores) want 50 MB.
// Activities wait for a place as long as their context allows; nothing is
// refused.
type DecodeLimit chan struct{}

// DefaultDecodes is the bound NewDecodeLimit(0) sets: decoding is CPU work,
// so more than one per core gains nothing but memory.
func DefaultDecodes() int { return max(2, runtime.GOMAXPROCS(0)) }

// NewDecodeLimit allows n decodes at once (n <= 0: DefaultDecodes).
func NewDecodeLimit(n int) DecodeLimit {
	if n <= 0 {
		n = DefaultDecodes()
	}
	return make(DecodeLimit, n)
}

// Do runs f once a place is free, or returns ctx's error if it ends first.
// A nil DecodeLimit runs f at once.
func (d DecodeLimit) Do(ctx context.Context, f func()) error {
	if d == nil {
		f()
		return nil
	}
	select {
	case d <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for one of %d image decode places: %w", cap(d), ctx.Err())
	}
	defer func() { <-d }()
	f()
	return nil
}
