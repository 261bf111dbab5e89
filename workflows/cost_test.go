package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/workflows"
)

// fluxImage is one flux-schnell image at its defaults: 4 tiles at
// $0.0000528 + 4 steps at $0.0001056.
const fluxImage imagegen.USD = 633_600

func usd(v imagegen.USD) *imagegen.USD { return &v }

func sameUSD(a, b *imagegen.USD) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func checkCost(t *testing.T, what string, got *workflows.Cost, want workflows.Cost) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no cost", what)
	}
	if !sameUSD(got.Estimate, want.Estimate) || !sameUSD(got.Actual, want.Actual) || got.PaidCalls != want.PaidCalls ||
		got.PaidWithoutImage != want.PaidWithoutImage || got.Preview != want.Preview {
		t.Errorf("%s: cost estimate %v actual %v, %d paid (%d without image), preview %v; want %v, %v, %d (%d), %v", what,
			got.Estimate, got.Actual, got.PaidCalls, got.PaidWithoutImage, got.Preview,
			want.Estimate, want.Actual, want.PaidCalls, want.PaidWithoutImage, want.Preview)
	}
}

func TestJobCostCountsEveryPaidAttemptRetriesIncluded(t *testing.T) {
	h := newHarness(t)
	// An unusable answer (paid: the model ran), a capacity refusal (not
	// paid), then the image: two paid calls for one image.
	h.provider.errs = []error{providerErr(imagegen.KindBadResponse, 0), providerErr(imagegen.KindCapacity, 3040)}
	res, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err != nil {
		t.Fatal(err)
	}
	if h.provider.Calls() != 3 {
		t.Fatalf("provider calls = %d, want 3", h.provider.Calls())
	}
	want := workflows.Cost{Estimate: usd(fluxImage), Actual: usd(2 * fluxImage), PaidCalls: 2, PaidWithoutImage: 1}
	checkCost(t, "result", res.Cost, want)
	checkCost(t, "record", h.state(t).Cost, want)
}

func TestJobCostShowsTheEstimateWhileRunning(t *testing.T) {
	h := newHarness(t)
	var during workflows.Record
	h.env.SetOnActivityStartedListener(func(info *activityInfo, _ context.Context, _ encodedValues) {
		if info.ActivityType.Name == "Generate" {
			during = h.state(t)
		}
	})
	if _, err := h.runInput(t, newInput(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"}, 3)); err != nil {
		t.Fatal(err)
	}
	if during.Cost == nil || !sameUSD(during.Cost.Estimate, usd(3*fluxImage)) || during.Cost.Actual != nil {
		t.Errorf("cost while generating = %+v, want the estimate of three images and no actual yet", during.Cost)
	}
}

func TestJobCostCountsARegenerationAfterALostStagedImage(t *testing.T) {
	h := newHarness(t)
	h.env.SetOnActivityCompletedListener(func(info *activityInfo, _ encodedValue, _ error) {
		if info.ActivityType.Name == "Generate" && h.provider.Calls() == 1 {
			files, _ := filepath.Glob(filepath.Join(h.staging, "*_*"))
			for _, f := range files {
				os.Remove(f)
			}
		}
	})
	res, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err != nil {
		t.Fatal(err)
	}
	checkCost(t, "result", res.Cost, workflows.Cost{Estimate: usd(fluxImage), Actual: usd(2 * fluxImage), PaidCalls: 2, PaidWithoutImage: 1})
}

func TestFailedJobRecordsWhatItPaidFor(t *testing.T) {
	h := newHarness(t)
	// One paid unusable answer, then the daily quota ends the job.
	h.provider.errs = []error{providerErr(imagegen.KindBadResponse, 0), providerErr(imagegen.KindQuotaExceeded, 4006)}
	if _, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"}); err == nil {
		t.Fatal("the job completed")
	}
	rec := h.state(t)
	if rec.Status != workflows.StatusFailed {
		t.Fatalf("status %s", rec.Status)
	}
	checkCost(t, "record", rec.Cost, workflows.Cost{Estimate: usd(fluxImage), Actual: usd(fluxImage), PaidCalls: 1, PaidWithoutImage: 1})
}

func TestJobCostPerImageWithAPartialFailure(t *testing.T) {
	h := newHarness(t)
	h.provider.errs = []error{nil, providerErr(imagegen.KindInvalidInput, 5006)}
	res, err := h.runInput(t, newInput(t, imagegen.Request{Prompt: "three", Model: "flux-schnell"}, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 {
		t.Fatalf("%d images", len(res.Images))
	}
	for _, img := range res.Images {
		if img.PaidCalls != 1 || !sameUSD(img.Cost, usd(fluxImage)) {
			t.Errorf("image %s: %d paid calls costing %v, want 1 at %s", img.Key, img.PaidCalls, img.Cost, fluxImage)
		}
	}
	// The refused image was not paid for.
	checkCost(t, "result", res.Cost, workflows.Cost{Estimate: usd(3 * fluxImage), Actual: usd(2 * fluxImage), PaidCalls: 2})
}

func TestUnpricedModelCostIsUnknownNotZero(t *testing.T) {
	h := newHarness(t)
	res, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "sdxl-lightning"})
	if err != nil {
		t.Fatal(err)
	}
	checkCost(t, "result", res.Cost, workflows.Cost{PaidCalls: 1})
}

func TestPreviewJobsCostNothing(t *testing.T) {
	h := newHarness(t)
	staging, err := activities.OpenStaging(t.TempDir(), "preview-store")
	if err != nil {
		t.Fatal(err)
	}
	h.env.RegisterActivity(&activities.Activities{Provider: h.provider, ImageStore: h.store, ProviderName: "preview", Placeholder: true, Staging: staging})
	res, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err != nil {
		t.Fatal(err)
	}
	checkCost(t, "result", res.Cost, workflows.Cost{Estimate: usd(fluxImage), Actual: usd(0), Preview: true})
}

func TestJobsStartedBeforeCostsReportNone(t *testing.T) {
	h := newHarness(t)
	in := newInput(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"}, 1)
	in.Plan.Cost = nil // as recorded before plans carried a cost
	res, err := h.runInput(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cost != nil || h.state(t).Cost != nil {
		t.Errorf("cost %+v, want none: such a job's calls were never counted", res.Cost)
	}
}

func TestHistoryRecordKeepsWhatTheImageCost(t *testing.T) {
	h := newHarness(t)
	h.provider.errs = []error{providerErr(imagegen.KindBadResponse, 0)} // one paid retry
	if _, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"}); err != nil {
		t.Fatal(err)
	}
	var recs []history.Record
	h.store.mu.Lock()
	for k, b := range h.store.objects {
		if strings.HasPrefix(k, history.Prefix) {
			var r history.Record
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	h.store.mu.Unlock()
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	if r := recs[0]; r.PaidCalls != 2 || !sameUSD(r.Cost, usd(2*fluxImage)) || !r.HasCost() {
		t.Errorf("record: %d paid calls costing %v, want 2 at %s", r.PaidCalls, r.Cost, 2*fluxImage)
	}
}
