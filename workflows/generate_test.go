package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/workflows"
)

// scriptedProvider returns the scripted errors in order, then images.
type scriptedProvider struct {
	mu     sync.Mutex
	errs   []error // nil entries succeed
	always error
	calls  int
	reqs   []imagegen.Request
	inputs []imagegen.Inputs
}

func (p *scriptedProvider) requests() []imagegen.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]imagegen.Request(nil), p.reqs...)
}

func (p *scriptedProvider) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.reqs = append(p.reqs, req)
	p.inputs = append(p.inputs, inputs)
	if p.always != nil {
		return imagegen.Image{}, p.always
	}
	if len(p.errs) > 0 {
		err := p.errs[0]
		p.errs = p.errs[1:]
		if err != nil {
			return imagegen.Image{}, err
		}
	}
	if req.Model == "flux-schnell" {
		return imagegen.Image{Data: testJPEG(), ContentType: "image/jpeg"}, nil
	}
	return imagegen.Image{Data: testPNG(), ContentType: "image/png"}, nil
}

func (p *scriptedProvider) Calls() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

// memStore keeps objects in memory and fails the first failN puts.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	types   map[string]string
	failN   int
	failErr error
	puts    int
	// failRecords fails the first failRecords puts of history records;
	// recordPuts counts every attempted record put.
	failRecords int
	recordPuts  int
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, types: map[string]string{}}
}

func (s *memStore) Put(ctx context.Context, key string, data []byte, contentType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasSuffix(key, ".thumb.jpg") && !strings.HasPrefix(key, history.Prefix) {
		s.puts++ // image uploads only; thumbnails and history records aside
	}
	if strings.HasPrefix(key, history.Prefix) {
		s.recordPuts++
		if s.failRecords > 0 {
			s.failRecords--
			return errors.New("record upload: 503 Service Unavailable")
		}
	}
	if s.failN != 0 {
		if s.failN > 0 {
			s.failN--
		}
		return s.failErr
	}
	s.objects[key] = append([]byte(nil), data...)
	s.types[key] = contentType
	return nil
}

// images counts stored images, thumbnails aside.
func (s *memStore) images() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.objects {
		if !strings.HasSuffix(k, ".thumb.jpg") && !strings.HasPrefix(k, history.Prefix) {
			n++
		}
	}
	return n
}

func (s *memStore) Get(ctx context.Context, key string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", key, fs.ErrNotExist)
	}
	return bytes.Clone(data), s.types[key], nil
}

func (s *memStore) URL(ctx context.Context, key string) (string, error) {
	return "https://images.test/" + key, nil
}

func testPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func testJPEG() []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil)
	return b.Bytes()
}

type harness struct {
	env      *testsuite.TestWorkflowEnvironment
	provider *scriptedProvider
	store    *memStore
	staging  string
	statuses []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &harness{env: s.NewTestWorkflowEnvironment(), provider: &scriptedProvider{}, store: newMemStore(), staging: t.TempDir()}
	staging, err := activities.OpenStaging(h.staging, "test-store")
	if err != nil {
		t.Fatal(err)
	}
	h.env.SetWorkerOptions(noisyMachine)
	h.env.RegisterWorkflowWithOptions(workflows.GenerateImage, workflowOpts())
	h.env.RegisterActivity(&activities.Activities{Provider: h.provider, ImageStore: h.store, ProviderName: "fake", Staging: staging})
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeyword(workflows.StatusKey); ok {
			h.statuses = append(h.statuses, v)
		}
	}).Return(nil)
	return h
}

func (h *harness) run(t *testing.T, req imagegen.Request) (workflows.Result, error) {
	t.Helper()
	return h.runInput(t, newInput(t, req, 1))
}

// newInput is the input the start path builds (plan included).
func newInput(t *testing.T, req imagegen.Request, n int) workflows.Input {
	t.Helper()
	in, err := workflows.NewInput(req, n)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (h *harness) runInput(t *testing.T, in workflows.Input) (workflows.Result, error) {
	t.Helper()
	h.env.ExecuteWorkflow(workflows.WorkflowName, in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res workflows.Result
	err := h.env.GetWorkflowError()
	if err == nil {
		if gerr := h.env.GetWorkflowResult(&res); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return res, err
}

func (h *harness) state(t *testing.T) workflows.Record {
	t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var rec workflows.Record
	if err := v.Get(&rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestGenerateImageCompletesForEachModel(t *testing.T) {
	for _, tc := range []struct {
		model, contentType, ext string
	}{
		{"flux-schnell", "image/jpeg", ".jpg"},
		{"sdxl-lightning", "image/png", ".png"},
		{"sdxl-base", "image/png", ".png"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			h := newHarness(t)
			res, err := h.run(t, imagegen.Request{Prompt: "a red fox", Model: tc.model})
			if err != nil {
				t.Fatalf("workflow failed: %v", err)
			}
			if res.ContentType != tc.contentType || !strings.HasSuffix(res.Key, tc.ext) {
				t.Errorf("result type %s key %s, want %s and *%s", res.ContentType, res.Key, tc.contentType, tc.ext)
			}
			if res.ImageURL != "https://images.test/"+res.Key || res.SizeBytes == 0 || res.Provider != "workersai" {
				t.Errorf("unexpected result %+v", res)
			}
			if got := h.store.types[res.Key]; got != tc.contentType {
				t.Errorf("stored content type %q, want %q", got, tc.contentType)
			}
			if h.provider.Calls() != 1 {
				t.Errorf("provider calls = %d, want 1", h.provider.Calls())
			}
			if got := strings.Join(h.statuses, ","); got != "processing,completed" {
				t.Errorf("status upserts = %s, want processing,completed", got)
			}
			rec := h.state(t)
			if rec.Status != workflows.StatusCompleted || rec.Result == nil || rec.Result.Key != res.Key || rec.Request.Prompt != "a red fox" {
				t.Errorf("state after completion = %+v", rec)
			}
			if entries, _ := os.ReadDir(h.staging); len(entries) != 1 { // only worker-id remains
				t.Errorf("staging dir keeps %d entries after upload, want only the worker id", len(entries))
			}
		})
	}
}

func providerErr(kind imagegen.ErrorKind, code int) error {
	return &imagegen.Error{Kind: kind, Code: code, Message: "scripted " + string(kind)}
}

func TestGenerateImageRetriesOnlyTransientProviderErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		errs       []error
		always     error
		wantCalls  int
		wantStatus workflows.Status
		wantKind   string
	}{
		{name: "invalid input fails at once", always: providerErr(imagegen.KindInvalidInput, 5006), wantCalls: 1, wantStatus: workflows.StatusFailed, wantKind: "invalid_input"},
		{name: "unknown model fails at once", always: providerErr(imagegen.KindUnknownModel, 5007), wantCalls: 1, wantStatus: workflows.StatusFailed, wantKind: "unknown_model"},
		{name: "bad token fails at once", always: providerErr(imagegen.KindUnauthorized, 10000), wantCalls: 1, wantStatus: workflows.StatusFailed, wantKind: "unauthorized"},
		{name: "daily quota fails at once", always: providerErr(imagegen.KindQuotaExceeded, 4006), wantCalls: 1, wantStatus: workflows.StatusFailed, wantKind: "quota_exceeded"},
		{name: "capacity recovers", errs: []error{providerErr(imagegen.KindCapacity, 3040), providerErr(imagegen.KindCapacity, 3040)}, wantCalls: 3, wantStatus: workflows.StatusCompleted},
		{name: "inference timeout recovers", errs: []error{providerErr(imagegen.KindTimeout, 3007)}, wantCalls: 2, wantStatus: workflows.StatusCompleted},
		{name: "5xx recovers", errs: []error{providerErr(imagegen.KindUpstream, 0)}, wantCalls: 2, wantStatus: workflows.StatusCompleted},
		{name: "garbage answer recovers", errs: []error{providerErr(imagegen.KindBadResponse, 0)}, wantCalls: 2, wantStatus: workflows.StatusCompleted},
		{name: "unclassified error is retried", errs: []error{errors.New("connection reset by peer")}, wantCalls: 2, wantStatus: workflows.StatusCompleted},
		{name: "persistent capacity gives up after 5 attempts", always: providerErr(imagegen.KindCapacity, 3040), wantCalls: 5, wantStatus: workflows.StatusFailed, wantKind: "capacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.provider.errs, h.provider.always = tc.errs, tc.always
			_, err := h.run(t, imagegen.Request{Prompt: "a lighthouse", Model: "sdxl-lightning"})
			if got := h.provider.Calls(); got != tc.wantCalls {
				t.Errorf("provider calls = %d, want %d", got, tc.wantCalls)
			}
			rec := h.state(t)
			if rec.Status != tc.wantStatus {
				t.Fatalf("status = %s, want %s (err %v)", rec.Status, tc.wantStatus, err)
			}
			if tc.wantStatus == workflows.StatusCompleted {
				if err != nil || h.store.images() != 1 {
					t.Errorf("err = %v, stored %d images, want nil and 1", err, h.store.images())
				}
				return
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != tc.wantKind {
				t.Fatalf("workflow error = %v, want application error of type %s", err, tc.wantKind)
			}
			// The exact messages are asserted in TestFailedJobMessageIsExact.
			if rec.ErrorKind != tc.wantKind || rec.Error == "" {
				t.Errorf("recorded error %q (%s), want kind %s with a message", rec.Error, rec.ErrorKind, tc.wantKind)
			}
			if len(h.store.objects) != 0 || h.store.puts != 0 {
				t.Errorf("a failed generation stored something: %d puts", h.store.puts)
			}
			if got := strings.Join(h.statuses, ","); got != "processing,failed" {
				t.Errorf("status upserts = %s, want processing,failed", got)
			}
		})
	}
}

func TestGenerateImageStorageOutageRetriesUploadWithoutRegenerating(t *testing.T) {
	h := newHarness(t)
	h.store.failN, h.store.failErr = 4, &imagegen.Error{Kind: imagegen.KindStorage, Message: "503 slow down"}
	res, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	if h.provider.Calls() != 1 {
		t.Errorf("provider calls = %d, want 1: a storage fault must not pay for a new image", h.provider.Calls())
	}
	if h.store.puts != 5 {
		t.Errorf("puts = %d, want 5 (4 failures + 1 success)", h.store.puts)
	}
	if _, ok := h.store.objects[res.Key]; !ok {
		t.Errorf("image %s not stored", res.Key)
	}
}

func TestGenerateImageMisconfiguredStorageFailsWithoutRetrying(t *testing.T) {
	h := newHarness(t)
	h.store.failN, h.store.failErr = -1, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "bucket imgs does not exist"}
	_, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err == nil {
		t.Fatal("workflow succeeded with a missing bucket")
	}
	if h.store.puts != 1 || h.provider.Calls() != 1 {
		t.Errorf("puts = %d, provider calls = %d, want 1 and 1", h.store.puts, h.provider.Calls())
	}
	if rec := h.state(t); rec.ErrorKind != "misconfigured" {
		t.Errorf("recorded error %q (%s)", rec.Error, rec.ErrorKind)
	}
}

func TestGenerateImageRegeneratesWhenTheStagedImageIsLost(t *testing.T) {
	h := newHarness(t)
	// Wipe the staging dir once the image is staged, as a lost disk would.
	h.env.SetOnActivityCompletedListener(func(info *activityInfo, result encodedValue, err error) {
		if info.ActivityType.Name == "Generate" && h.provider.Calls() == 1 {
			files, _ := filepath.Glob(filepath.Join(h.staging, "*_*"))
			for _, f := range files {
				os.Remove(f)
			}
		}
	})
	_, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"})
	if err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	if h.provider.Calls() != 2 {
		t.Errorf("provider calls = %d, want 2 (one lost, one stored)", h.provider.Calls())
	}
	if rec := h.state(t); rec.Generations != 2 || rec.Status != workflows.StatusCompleted {
		t.Errorf("state = %+v, want completed after 2 generations", rec)
	}
}

func TestGenerateImageReportsProcessingWhileGenerating(t *testing.T) {
	h := newHarness(t)
	var during workflows.Record
	h.env.SetOnActivityStartedListener(func(info *activityInfo, ctx context.Context, args encodedValues) {
		if info.ActivityType.Name == "Generate" {
			during = h.state(t)
		}
	})
	if _, err := h.run(t, imagegen.Request{Prompt: "a castle", Model: "flux-schnell"}); err != nil {
		t.Fatal(err)
	}
	if during.Status != workflows.StatusProcessing || during.Stage != "generating" {
		t.Errorf("state while generating = %s/%s, want processing/generating", during.Status, during.Stage)
	}
	if during.UpdatedAt.IsZero() || during.UpdatedAt.After(time.Now().Add(time.Hour)) {
		t.Errorf("updated_at = %v", during.UpdatedAt)
	}
}

func TestGenerateImageRejectsUnknownModelWithoutCallingTheProvider(t *testing.T) {
	h := newHarness(t)
	// The start path refuses unknown models; a start that bypasses it (an
	// input without a plan, as recorded before plans existed) fails in the
	// workflow, before any activity.
	if _, err := workflows.NewInput(imagegen.Request{Prompt: "x", Model: "dall-e"}, 1); imagegen.KindOf(err) != imagegen.KindUnknownModel {
		t.Errorf("NewInput with an unknown model = %v, want an unknown_model error", err)
	}
	_, err := h.runInput(t, workflows.Input{Request: imagegen.Request{Prompt: "x", Model: "dall-e"}})
	if err == nil || h.provider.Calls() != 0 {
		t.Fatalf("err = %v, provider calls = %d; want failure and 0 calls", err, h.provider.Calls())
	}
}

func TestGenerateImageMakesNImagesInParallelAndReportsPartialFailure(t *testing.T) {
	h := newHarness(t)
	// The second provider call fails for good; the other two images succeed.
	h.provider.errs = []error{nil, providerErr(imagegen.KindInvalidInput, 5006)}
	seed := int64(41)
	h.env.ExecuteWorkflow(workflows.WorkflowName, newInput(t, imagegen.Request{Prompt: "three foxes", Model: "sdxl-base", Seed: &seed}, 3))
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("a partial failure failed the job: %v", err)
	}
	var res workflows.Result
	h.env.GetWorkflowResult(&res)
	if len(res.Images) != 2 || res.Failed != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "invalid_input") {
		t.Fatalf("result = %d images, %d failed, errors %v; want 2, 1 and the reason", len(res.Images), res.Failed, res.Errors)
	}
	keys := map[string]bool{}
	for _, img := range res.Images {
		keys[img.Key] = true
		if img.ThumbnailKey == "" || h.store.objects[img.ThumbnailKey] == nil {
			t.Errorf("image %s has no stored thumbnail", img.Key)
		}
	}
	if len(keys) != 2 || res.ImageURL != res.Images[0].URL {
		t.Errorf("keys %v, top-level url %s; want distinct keys and the first image on top", keys, res.ImageURL)
	}
	seeds := map[int64]bool{}
	for _, r := range h.provider.requests() {
		if r.Seed != nil {
			seeds[*r.Seed] = true
		}
	}
	if len(seeds) != 3 || !seeds[41] || !seeds[42] || !seeds[43] {
		t.Errorf("seeds sent = %v, want 41, 42 and 43", seeds)
	}
}

func TestGenerateImageFailsWhenEveryImageFails(t *testing.T) {
	h := newHarness(t)
	h.provider.always = providerErr(imagegen.KindQuotaExceeded, 4006)
	h.env.ExecuteWorkflow(workflows.WorkflowName, newInput(t, imagegen.Request{Prompt: "none", Model: "flux-schnell"}, 2))
	if err := h.env.GetWorkflowError(); err == nil {
		t.Fatal("job with no image completed")
	}
	if rec := h.state(t); rec.Status != workflows.StatusFailed || rec.ErrorKind != "quota_exceeded" {
		t.Errorf("state = %s/%s", rec.Status, rec.ErrorKind)
	}
}
