package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/activities"
)

func TestDecodeLimitHoldsTheBoundAndFreesPlaces(t *testing.T) {
	d := activities.NewDecodeLimit(2)
	release := make(chan struct{})
	running := make(chan struct{}, 3)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- d.Do(context.Background(), func() { running <- struct{}{}; <-release })
		}()
	}
	<-running
	<-running

	// A third waits; when its context ends it gives up with a clear error
	// and never ran.
	ctx, cancel := context.WithCancel(context.Background())
	third := make(chan error, 1)
	ran := false
	go func() { third <- d.Do(ctx, func() { ran = true }) }()
	cancel()
	err := <-third
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "one of 2 image decode places") || ran {
		t.Fatalf("third decode: err %v, ran %v; want it refused, naming the bound", err, ran)
	}

	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after the places freed: err %v, ran %v", err, ran)
	}
}

func TestDefaultDecodesIsAtLeastTwo(t *testing.T) {
	if n := cap(activities.NewDecodeLimit(0)); n != activities.DefaultDecodes() || n < 2 {
		t.Fatalf("NewDecodeLimit(0) allows %d, want DefaultDecodes() = %d (at least 2)", n, activities.DefaultDecodes())
	}
}
