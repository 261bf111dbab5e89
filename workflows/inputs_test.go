package workflows_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/workflows"
)

// activityLog records the activities a test workflow started, by name, and
// the stages its memo went through.
type activityLog struct {
	mu     sync.Mutex
	names  []string
	stages []string
}

func (h *harness) logActivities() *activityLog {
	l := &activityLog{}
	h.env.SetOnActivityStartedListener(func(info *activityInfo, _ context.Context, _ encodedValues) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.names = append(l.names, info.ActivityType.Name)
	})
	h.env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		if rec, ok := args.Get(0).(map[string]any)[workflows.MemoKey].(workflows.Record); ok {
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.stages) == 0 || l.stages[len(l.stages)-1] != rec.Stage {
				l.stages = append(l.stages, rec.Stage)
			}
		}
	}).Return(nil)
	return l
}

func (l *activityLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.names {
		if a == name {
			n++
		}
	}
	return n
}

// editInput is an edit of two earlier images, resolved as the start path
// resolves it.
func editInput(t *testing.T, n int) workflows.Input {
	t.Helper()
	in := newInput(t, imagegen.Request{Prompt: "make it snow", Model: "sdxl-lightning",
		Inputs: []string{"images://11111111-1111-4111-8111-111111111111", "inline:sha256-" + strings.Repeat("ab", 32)}}, n)
	in.Inputs = []workflows.InputSource{
		{Ref: in.Request.Inputs[0], Key: "2026/12/01/11111111-1111-4111-8111-111111111111.png"},
		{Ref: in.Request.Inputs[1], Key: "inputs/inline/sha256-" + strings.Repeat("ab", 32)},
	}
	in.Plan.InputSide = 4
	return in
}

// TestEditFetchesItsInputsOnceThenEveryImageGetsThem: a three-image edit
// runs FetchInputs once (not per image), records the "fetching inputs"
// stage, and each provider call gets both inputs, normalised.
func TestEditFetchesItsInputsOnceThenEveryImageGetsThem(t *testing.T) {
	h := newHarness(t)
	log := h.logActivities()
	in := editInput(t, 3)
	h.store.objects[in.Inputs[0].Key] = testPNG()  // 8×8
	h.store.objects[in.Inputs[1].Key] = testJPEG() // 8×8
	res, err := h.runInput(t, in)
	if err != nil {
		t.Fatalf("edit failed: %v", err)
	}
	if len(res.Images) != 3 || res.Failed != 0 {
		t.Fatalf("result %+v, want 3 images", res)
	}
	if got := log.count("FetchInputs"); got != 1 {
		t.Errorf("FetchInputs ran %d times, want once per job", got)
	}
	if got := log.count("Generate"); got != 3 {
		t.Errorf("Generate ran %d times, want 3", got)
	}
	if want := []string{"fetching inputs", "generating", ""}; !slices.Equal(log.stages, want) {
		t.Errorf("stages %q, want %q", log.stages, want)
	}
	if got := strings.Join(h.statuses, ","); got != "processing,processing,completed" {
		t.Errorf("status upserts = %s", got)
	}
	if len(h.provider.inputs) != 3 {
		t.Fatalf("provider called %d times", len(h.provider.inputs))
	}
	for i, got := range h.provider.inputs {
		if len(got.Images) != 2 || got.Mask != nil {
			t.Fatalf("call %d got %d inputs, mask %v; want 2, none", i, len(got.Images), got.Mask != nil)
		}
		// The PNG stays a PNG, the opaque JPEG a JPEG (imagefetch.Normalise).
		for j, want := range []struct{ key, ct string }{
			{"inputs/default-test-workflow-id/0.png", "image/png"},
			{"inputs/default-test-workflow-id/1.jpg", "image/jpeg"},
		} {
			img, staged := got.Images[j], h.store.objects[want.key]
			if img.Width != 4 || img.Height != 4 || img.ContentType != want.ct || !bytes.Equal(img.Data, staged) || len(staged) == 0 {
				t.Errorf("call %d input %d: %d×%d %s (%d bytes), want the staged 4×4 %s %s", i, j, img.Width, img.Height, img.ContentType, len(img.Data), want.ct, want.key)
			}
		}
	}
	if rec := h.state(t); !slices.Equal(rec.Request.Inputs, in.Request.Inputs) {
		t.Errorf("the record keeps inputs %q, want the references %q", rec.Request.Inputs, in.Request.Inputs)
	}
}

// TestJobWithoutInputsSchedulesNoFetch: text-to-image jobs run exactly
// what they ran before editing existed.
func TestJobWithoutInputsSchedulesNoFetch(t *testing.T) {
	h := newHarness(t)
	log := h.logActivities()
	if _, err := h.run(t, imagegen.Request{Prompt: "a red fox", Model: "sdxl-lightning"}); err != nil {
		t.Fatal(err)
	}
	if got := log.count("FetchInputs"); got != 0 {
		t.Errorf("FetchInputs ran %d times for a job without inputs", got)
	}
	if want := []string{"generating", ""}; !slices.Equal(log.stages, want) {
		t.Errorf("stages %q, want %q", log.stages, want)
	}
	if got := strings.Join(h.statuses, ","); got != "processing,completed" {
		t.Errorf("status upserts = %s", got)
	}
}

// TestEditFailsBeforeAnyProviderCall: an input that cannot be used fails the
// job at once, with which input and why, and costs no provider call.
func TestEditFailsBeforeAnyProviderCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input func(t *testing.T) workflows.Input
		says  string
	}{
		{"an input image no longer stored", func(t *testing.T) workflows.Input { return editInput(t, 1) },
			"input image 1 (images://11111111-1111-4111-8111-111111111111) is no longer stored. Rephrase the prompt or fix the parameters"},
		{"references not resolved at start", func(t *testing.T) workflows.Input {
			in := editInput(t, 1)
			in.Inputs = nil
			return in
		}, "the job's input images were not resolved when it started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			log := h.logActivities()
			_, err := h.runInput(t, tc.input(t))
			if err == nil {
				t.Fatal("the edit completed")
			}
			rec := h.state(t)
			if rec.Status != workflows.StatusFailed || rec.ErrorKind != "invalid_input" || !strings.Contains(rec.Error, tc.says) {
				t.Errorf("job ended %s (%s): %q; want failed invalid_input saying %q", rec.Status, rec.ErrorKind, rec.Error, tc.says)
			}
			if h.provider.Calls() != 0 || log.count("Generate") != 0 {
				t.Errorf("provider called %d times, Generate ran %d times; want none", h.provider.Calls(), log.count("Generate"))
			}
		})
	}
}

// TestEditCanceledWhileFetchingIsCanceled: a cancel during FetchInputs ends
// the job canceled, without a provider call.
func TestEditCanceledWhileFetchingIsCanceled(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity("FetchInputs", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.FetchInputsInput) (activities.FetchedInputs, error) {
			<-ctx.Done()
			return activities.FetchedInputs{}, ctx.Err()
		})
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Second)
	_, err := h.runInput(t, editInput(t, 1))
	if !temporal.IsCanceledError(err) {
		t.Fatalf("workflow ended with %v, want canceled", err)
	}
	if rec := h.state(t); rec.Status != workflows.StatusCanceled || h.provider.Calls() != 0 {
		t.Errorf("job %s (%s) after %d provider calls, want canceled after none", rec.Status, rec.Error, h.provider.Calls())
	}
}
