package jobs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

func completedJob(t *testing.T, ctx context.Context, jc *jobs.Client, prompt string) jobs.Job {
	t.Helper()
	job, err := jc.Start(ctx, imagegen.Request{Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	job, done, err := jc.Wait(ctx, job.ID, time.Minute)
	if err != nil || !done || job.Status != workflows.StatusCompleted {
		t.Fatalf("job %s: %+v, done %v, %v", prompt, job, done, err)
	}
	return job
}

// TestStartResolvesReferenceImagesOrSaysWhyNot: an earlier job's image
// resolves to its storage key only when the job is completed and has that
// image; URLs and inline images resolve by their form; each refusal names
// the argument and says what to do.
func TestStartResolvesReferenceImagesOrSaysWhyNot(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	jc := s.client(t, jobs.Options{}, newRPCLog())
	ctx := within(t)

	done := completedJob(t, ctx, jc, "an earlier image")
	entered, release := s.provider.hold("still generating")
	defer release()
	running, err := jc.Start(ctx, imagegen.Request{Prompt: "still generating"})
	if err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, ctx, entered, "the held generation")
	s.provider.fail("refused", true)
	failed, err := jc.Start(ctx, imagegen.Request{Prompt: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	if j, ok, err := jc.Wait(ctx, failed.ID, time.Minute); err != nil || !ok || j.Status != workflows.StatusFailed {
		t.Fatalf("the refused job ended %+v, %v", j, err)
	}
	inline := imagegen.InlineRef(sha256.Sum256([]byte("inline bytes")))

	for _, tc := range []struct {
		name     string
		inputs   []string
		mask     string
		wantRefs []string
		wantKeys []string
		wantMask string
		says     string
	}{
		{name: "an earlier job's image, both spellings, a URL and an inline image",
			inputs:   []string{"images://" + done.ID + "/0", "https://example.com/a.png", inline},
			mask:     "images://" + done.ID,
			wantRefs: []string{"images://" + done.ID, "https://example.com/a.png", inline},
			wantKeys: []string{done.Result.Key, "", "inputs/inline/" + strings.TrimPrefix(inline, "inline:")},
			wantMask: done.Result.Key},
		{name: "an index the job lacks", inputs: []string{"images://" + done.ID + "/1"},
			says: "input_images[0]: job " + done.ID + " has 1 image, so images://" + done.ID + "/1 names none of them"},
		{name: "a job still running", inputs: []string{"images://" + running.ID},
			says: "input_images[0]: job " + running.ID + " is processing, not completed: wait for it (wait_for_completion), then try again"},
		{name: "a failed job", inputs: []string{"https://example.com/a.png", "images://" + failed.ID},
			says: "input_images[1]: job " + failed.ID + " is failed, not completed: only completed jobs' images can be used"},
		{name: "no such job", inputs: []string{"images://00000000-0000-4000-8000-000000000000"},
			says: "input_images[0]: images://00000000-0000-4000-8000-000000000000 names no job"},
		{name: "a bad mask", inputs: []string{"images://" + done.ID}, mask: "ftp://x/y.png",
			says: `mask: "ftp://x/y.png" is not a reference image`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := imagegen.Request{Prompt: "edit", Inputs: tc.inputs, Mask: tc.mask}
			sources, mask, err := jc.ResolveInputs(ctx, &req)
			if tc.says != "" {
				if imagegen.KindOf(err) != imagegen.KindInvalidInput || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("error %v, want invalid_input saying %q", err, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sources) != len(tc.wantRefs) {
				t.Fatalf("resolved %+v", sources)
			}
			for i, src := range sources {
				if src.Ref != tc.wantRefs[i] || src.Key != tc.wantKeys[i] || req.Inputs[i] != tc.wantRefs[i] {
					t.Errorf("input %d resolved to %+v (request says %q), want ref %s key %q", i, src, req.Inputs[i], tc.wantRefs[i], tc.wantKeys[i])
				}
			}
			if mask == nil || mask.Key != tc.wantMask || req.Mask != "images://"+done.ID {
				t.Errorf("mask resolved to %+v (request %q), want key %s", mask, req.Mask, tc.wantMask)
			}
		})
	}
}

// TestAnEditOfAnEarlierJobGivesTheProviderThatImage: generate, then edit
// that job's image: the provider gets the earlier image (normalised), and a
// bad reference starts no job.
func TestAnEditOfAnEarlierJobGivesTheProviderThatImage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	rpcs := newRPCLog()
	jc := s.client(t, jobs.Options{}, rpcs)
	ctx := within(t)
	done := completedJob(t, ctx, jc, "the original")

	rpcs.reset()
	_, _, err := jc.StartWith(ctx, imagegen.Request{Prompt: "an edit of nothing", Model: "flux-2-klein-4b",
		Inputs: []string{"images://00000000-0000-4000-8000-000000000000"}}, jobs.StartOptions{})
	if imagegen.KindOf(err) != imagegen.KindInvalidInput {
		t.Fatalf("an edit of no job: %v, want invalid_input", err)
	}
	if n := rpcs.count("StartWorkflowExecution"); n != 0 {
		t.Errorf("a refused edit started %d workflows", n)
	}

	edit, _, err := jc.StartWith(ctx, imagegen.Request{Prompt: "make it snow", Model: "flux-2-klein-4b",
		Inputs: []string{"images://" + done.ID}}, jobs.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit, ok, err := jc.Wait(ctx, edit.ID, time.Minute)
	if err != nil || !ok || edit.Status != workflows.StatusCompleted {
		t.Fatalf("the edit ended %+v, %v", edit, err)
	}
	calls := s.provider.inputs["make it snow"]
	if len(calls) != 1 || len(calls[0].Images) != 1 {
		t.Fatalf("provider calls of the edit: %+v", calls)
	}
	got := calls[0].Images[0]
	want, _, err := image.Decode(bytes.NewReader(s.provider.png))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(got.Data))
	if err != nil || img.Bounds() != want.Bounds() || got.Width != want.Bounds().Dx() {
		t.Errorf("the provider got a %v image (%v), want the earlier %v one", img.Bounds(), err, want.Bounds())
	}
}
