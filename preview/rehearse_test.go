package preview_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/preview"
)

// recordingSleep stands in for the clock: it records each requested delay
// and returns at once (or the context's error).
type recordingSleep struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func TestDirectivesSimulateTheProviderErrorTheyName(t *testing.T) {
	for _, tc := range []struct {
		prompt string
		kind   imagegen.ErrorKind
		code   int
	}{
		{"a fox [fail:quota_exceeded]", imagegen.KindQuotaExceeded, 4006},
		{"a fox [fail:capacity]", imagegen.KindCapacity, 3040},
		{"a fox [fail:timeout]", imagegen.KindTimeout, 3007},
		{"[fail:invalid_input] a fox", imagegen.KindInvalidInput, 5006},
		{"a fox [fail:unauthorized]", imagegen.KindUnauthorized, 10000},
		{"a fox [fail:upstream]", imagegen.KindUpstream, 0},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			r := preview.New(preview.Options{})
			for call := 1; call <= 3; call++ { // uncounted: every call fails
				_, err := r.Generate(context.Background(), imagegen.Request{Prompt: tc.prompt}, imagegen.Inputs{})
				var e *imagegen.Error
				if !errors.As(err, &e) {
					t.Fatalf("call %d: %v, want an *imagegen.Error", call, err)
				}
				if e.Kind != tc.kind || e.Code != tc.code {
					t.Fatalf("call %d: kind %s code %d, want %s %d", call, e.Kind, e.Code, tc.kind, tc.code)
				}
				want := "the preview provider simulated a " + string(tc.kind) + " failure, as the prompt's [fail:" + string(tc.kind) + "] asked"
				if e.Message != want {
					t.Fatalf("message %q, want %q", e.Message, want)
				}
			}
		})
	}
}

func TestCountedFailureSucceedsOnceItsCountIsUsedUp(t *testing.T) {
	r := preview.New(preview.Options{})
	req := imagegen.Request{Prompt: "a lighthouse [fail:capacity:2]"}
	var outcomes []string
	for range 4 {
		if _, err := r.Generate(context.Background(), req, imagegen.Inputs{}); err != nil {
			outcomes = append(outcomes, string(imagegen.KindOf(err)))
		} else {
			outcomes = append(outcomes, "ok")
		}
	}
	if got := strings.Join(outcomes, ","); got != "capacity,capacity,ok,ok" {
		t.Fatalf("outcomes %s, want capacity,capacity,ok,ok", got)
	}
}

func TestCountedFailuresAreKeptPerImageOfAJob(t *testing.T) {
	r := preview.New(preview.Options{})
	first := imagegen.Request{Prompt: "twins [fail:upstream:1]", Variant: 0}
	second := first
	second.Variant = 1
	for _, req := range []imagegen.Request{first, second} {
		if _, err := r.Generate(context.Background(), req, imagegen.Inputs{}); imagegen.KindOf(err) != imagegen.KindUpstream {
			t.Fatalf("variant %d first call: %v, want a simulated upstream failure", req.Variant, err)
		}
	}
	for _, req := range []imagegen.Request{first, second} {
		if _, err := r.Generate(context.Background(), req, imagegen.Inputs{}); err != nil {
			t.Fatalf("variant %d second call: %v", req.Variant, err)
		}
	}
}

func TestBadDirectivesAreInputErrors(t *testing.T) {
	for _, prompt := range []string{
		"a fox [fail:sunspots]",
		"a fox [fail:capacity:0]",
		"a fox [fail:capacity:lots]",
		"a fox [delay:soon]",
		"a fox [delay:-1s]",
		"a fox [delay:11m]",
	} {
		t.Run(prompt, func(t *testing.T) {
			sl := &recordingSleep{}
			_, err := preview.New(preview.Options{Sleep: sl.sleep}).Generate(context.Background(), imagegen.Request{Prompt: prompt}, imagegen.Inputs{})
			if imagegen.KindOf(err) != imagegen.KindInvalidInput {
				t.Fatalf("err %v, want invalid_input", err)
			}
			if len(sl.delays) != 0 {
				t.Fatalf("slept %v before refusing", sl.delays)
			}
		})
	}
}

func TestDelayComesFromOptionsOrThePrompt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delay  time.Duration
		prompt string
		want   time.Duration
	}{
		{"no delay", 0, "a fox", 0},
		{"option", 8 * time.Second, "a fox", 8 * time.Second},
		{"directive overrides option", 8 * time.Second, "a fox [delay:45s]", 45 * time.Second},
		{"directive can remove the delay", 8 * time.Second, "a fox [delay:0s]", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sl := &recordingSleep{}
			if _, err := preview.New(preview.Options{Delay: tc.delay, Sleep: sl.sleep}).Generate(context.Background(), imagegen.Request{Prompt: tc.prompt}, imagegen.Inputs{}); err != nil {
				t.Fatal(err)
			}
			if len(sl.delays) != 1 || sl.delays[0] != tc.want {
				t.Fatalf("slept %v, want [%s]", sl.delays, tc.want)
			}
		})
	}
}

func TestDelayEndsWhenTheCallIsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := preview.New(preview.Options{}).Generate(ctx, imagegen.Request{Prompt: "slow [delay:10m]"}, imagegen.Inputs{})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
