package activities_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// scripted answers each call with the next error (nil: an image).
type scripted struct {
	provider
	mu   sync.Mutex
	errs []error
}

func (s *scripted) Generate(ctx context.Context, req imagegen.Request, in imagegen.Inputs) (imagegen.Image, error) {
	s.mu.Lock()
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	s.mu.Unlock()
	if err != nil {
		s.provider.mu.Lock()
		s.provider.calls++
		s.provider.mu.Unlock()
		return imagegen.Image{}, err
	}
	return s.provider.Generate(ctx, req, in)
}

// paidObserver records the paid calls the activity reports.
type paidObserver struct {
	mu    sync.Mutex
	calls []string // model/outcome
	cost  imagegen.USD
}

func (o *paidObserver) ProviderCall(string, time.Duration, error) {}
func (o *paidObserver) StoreCall(time.Duration, error)            {}
func (o *paidObserver) Retry(string)                              {}
func (o *paidObserver) PaidCall(model, outcome string, cost imagegen.USD, priced bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, model+"/"+outcome)
	if priced {
		o.cost += cost
	}
}

var fluxRequest = activities.GenerateInput{JobID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd",
	Request: imagegen.Request{Prompt: "a fox", Model: "flux-schnell"}, Provider: "workersai"}

// fluxCall is one flux-schnell call at its defaults: 4 tiles, 4 steps.
const fluxCall imagegen.USD = 633_600

// attempts runs Generate as Temporal runs a retried activity: each attempt
// starts from the heartbeat details the previous one left.
func attempts(t *testing.T, f *fixture, in activities.GenerateInput, n int) (activities.Staged, []error) {
	t.Helper()
	var last converter.EncodedValues
	var mu sync.Mutex
	f.env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		mu.Lock()
		last = d
		mu.Unlock()
	})
	var errs []error
	for range n {
		mu.Lock()
		if last != nil && last.HasValues() {
			var p activities.GenerateProgress
			if err := last.Get(&p); err != nil {
				t.Fatal(err)
			}
			f.env.SetHeartbeatDetails(p)
		}
		mu.Unlock()
		staged, err := f.generate(t, in)
		if err == nil {
			return staged, errs
		}
		errs = append(errs, err)
	}
	return activities.Staged{}, errs
}

func spendOf(t *testing.T, err error) activities.Spend {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an application error", err)
	}
	return activities.SpendOf(err)
}

func TestGenerateCountsEveryPaidAttemptAcrossRetries(t *testing.T) {
	f := newFixture(t)
	obs := &paidObserver{}
	f.acts.Observer = obs
	p := &scripted{errs: []error{
		&imagegen.Error{Kind: imagegen.KindBadResponse, Status: 200, Message: "truncated image"},       // paid: the model ran
		&imagegen.Error{Kind: imagegen.KindCapacity, Code: 3040, Status: 429, Message: "busy"},         // refused: not paid
		&imagegen.Error{Kind: imagegen.KindTimeout, Message: "no complete answer before the deadline"}, // our deadline: may have run
		nil, // the image
	}}
	f.acts.Provider = p
	staged, errs := attempts(t, f, fluxRequest, 4)
	if len(errs) != 3 {
		t.Fatalf("errors %v, want three failed attempts", errs)
	}
	for i, want := range []int{1, 1, 2} {
		if got := spendOf(t, errs[i]); got.PaidCalls != want || got.Cost != imagegen.USD(want)*fluxCall || got.Unpriced {
			t.Errorf("attempt %d failed with spend %+v, want %d paid calls at %s", i+1, got, want, fluxCall)
		}
	}
	if want := (activities.Spend{PaidCalls: 3, Cost: 3 * fluxCall}); staged.Spend != want {
		t.Errorf("staged spend %+v, want %+v: every paid attempt counts", staged.Spend, want)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got := obs.calls; len(got) != 3 || got[0] != "flux-schnell/no_image" || got[1] != "flux-schnell/no_image" || got[2] != "flux-schnell/image" {
		t.Errorf("observed paid calls %v, want two without an image, then one with", got)
	}
	if obs.cost != 3*fluxCall {
		t.Errorf("observed spend %s, want %s", obs.cost, 3*fluxCall)
	}
}

func TestGenerateCountsAPaidImageThatCouldNotBeStaged(t *testing.T) {
	f := newFixture(t)
	if err := os.RemoveAll(f.dir); err != nil { // the worker's disk is gone
		t.Fatal(err)
	}
	_, err := f.generate(t, fluxRequest)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != string(imagegen.KindStorage) || ae.NonRetryable() {
		t.Fatalf("error = %v, want a retryable storage error", err)
	}
	if got := activities.SpendOf(err); got != (activities.Spend{PaidCalls: 1, Cost: fluxCall}) {
		t.Errorf("spend %+v, want the one paid call", got)
	}
}

func TestGenerateCountsACallAnEarlierAttemptLeftInFlight(t *testing.T) {
	// The worker running attempt 1 died mid-call: its last heartbeat says a
	// call was in flight. Attempt 2 is refused; the job has still paid once.
	f := newFixture(t)
	f.provider.err = &imagegen.Error{Kind: imagegen.KindCapacity, Code: 3040, Status: 429, Message: "busy"}
	f.env.SetHeartbeatDetails(activities.GenerateProgress{InFlight: true, CallCost: fluxCall})
	_, err := f.generate(t, fluxRequest)
	if got := spendOf(t, err); got != (activities.Spend{PaidCalls: 1, Cost: fluxCall}) {
		t.Errorf("spend %+v, want the in-flight call counted once", got)
	}
}

func TestGenerateReportsUnpricedCallsAsUnknown(t *testing.T) {
	f := newFixture(t) // request is sdxl-lightning: no published price
	staged, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	if staged.Spend != (activities.Spend{PaidCalls: 1, Unpriced: true}) {
		t.Errorf("spend %+v, want one paid call of unknown cost", staged.Spend)
	}
}

func TestPreviewCallsAreNeverPaid(t *testing.T) {
	f := newFixture(t)
	f.acts.Placeholder = true
	f.provider.err = &imagegen.Error{Kind: imagegen.KindBadResponse, Message: "scripted"}
	_, err := f.generate(t, fluxRequest)
	if got := activities.SpendOf(err); got != (activities.Spend{}) {
		t.Errorf("preview failure spend %+v, want none", got)
	}
	f.provider.err = nil
	staged, err := f.generate(t, fluxRequest)
	if err != nil || staged.Spend != (activities.Spend{}) {
		t.Errorf("preview image: %v, spend %+v; want no cost", err, staged.Spend)
	}
}

func TestPaidCallRuleByHowTheCallEnded(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	<-expired.Done()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		paid bool
	}{
		{"an image", context.Background(), nil, true},
		{"an unusable answer", context.Background(), &imagegen.Error{Kind: imagegen.KindBadResponse, Status: 200}, true},
		{"our own deadline", context.Background(), providerkit.TransportError(expired, "the fake", "the request failed", context.DeadlineExceeded, ""), true},
		{"cut off by cancellation", canceled, errors.New("context canceled"), true},
		{"the provider's inference timeout 3007", context.Background(), &imagegen.Error{Kind: imagegen.KindTimeout, Code: 3007, Status: 408}, false},
		{"capacity 3040", context.Background(), &imagegen.Error{Kind: imagegen.KindCapacity, Code: 3040, Status: 429}, false},
		{"quota", context.Background(), &imagegen.Error{Kind: imagegen.KindQuotaExceeded, Code: 4006, Status: 429}, false},
		{"bad input", context.Background(), &imagegen.Error{Kind: imagegen.KindInvalidInput, Code: 5006, Status: 400}, false},
		{"5xx", context.Background(), &imagegen.Error{Kind: imagegen.KindUpstream, Status: 502}, false},
		{"unclassified", context.Background(), errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := activities.PaidCall(tt.ctx, tt.err); got != tt.paid {
				t.Errorf("paid = %v, want %v", got, tt.paid)
			}
		})
	}
}

func TestSpendOfAHeartbeatTimeoutCountsTheCallInFlight(t *testing.T) {
	// The last attempt's worker died mid-call: the workflow gets a heartbeat
	// timeout carrying that attempt's last heartbeat.
	err := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil,
		activities.GenerateProgress{Spend: activities.Spend{PaidCalls: 2, Cost: 2 * fluxCall}, InFlight: true, CallCost: fluxCall})
	if got := activities.SpendOf(err); got != (activities.Spend{PaidCalls: 3, Cost: 3 * fluxCall}) {
		t.Errorf("spend %+v, want the two settled calls and the one in flight", got)
	}
	unpriced := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil, activities.GenerateProgress{InFlight: true, CallUnpriced: true})
	if got := activities.SpendOf(unpriced); got != (activities.Spend{PaidCalls: 1, Unpriced: true}) {
		t.Errorf("unpriced spend %+v", got)
	}
	if got := activities.SpendOf(errors.New("plain")); got != (activities.Spend{}) {
		t.Errorf("a plain error has spend %+v", got)
	}
}
