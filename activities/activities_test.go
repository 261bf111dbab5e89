package activities_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// provider answers with err if set, else with a small PNG. If block is set,
// it reports the call on started and waits for the context to end.
type provider struct {
	mu      sync.Mutex
	calls   int
	err     error
	block   bool
	started chan struct{}
	ctxErr  error
	inputs  []imagegen.Inputs // what each call was given
}

func (p *provider) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	p.mu.Lock()
	p.calls++
	p.inputs = append(p.inputs, inputs)
	err, block := p.err, p.block
	p.mu.Unlock()
	if block {
		close(p.started)
		<-ctx.Done()
		p.mu.Lock()
		p.ctxErr = ctx.Err()
		p.mu.Unlock()
		return imagegen.Image{}, providerkit.TransportError(ctx, "the fake", "the request failed", ctx.Err(), "")
	}
	if err != nil {
		return imagegen.Image{}, err
	}
	return imagegen.Image{Data: pngBytes(), ContentType: "image/png"}, nil
}

func (p *provider) Calls() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

// store keeps objects in memory; err, if set, fails every Put.
type store struct {
	mu      sync.Mutex
	objects map[string][]byte
	types   map[string]string
	err     error
}

func newStore() *store { return &store{objects: map[string][]byte{}, types: map[string]string{}} }

func (s *store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.objects[key], s.types[key] = bytes.Clone(data), contentType
	return nil
}

func (s *store) Get(ctx context.Context, key string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", key, fs.ErrNotExist)
	}
	return bytes.Clone(data), s.types[key], nil
}

func (s *store) URL(ctx context.Context, key string) (string, error) {
	return "https://images.test/" + key, nil
}

func pngBytes() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

type fixture struct {
	env      *testsuite.TestActivityEnvironment
	acts     *activities.Activities
	provider *provider
	store    *store
	dir      string
}

// newFixture registers the activities in a TestActivityEnvironment; opts, if
// given, are the worker options (BackgroundActivityContext for cancellation).
func newFixture(t *testing.T, opts ...worker.Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	staging, err := activities.OpenStaging(dir, "test-store")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{provider: &provider{}, store: newStore(), dir: dir}
	f.acts = &activities.Activities{Provider: f.provider, ImageStore: f.store, ProviderName: "fallback", Staging: staging,
		HeartbeatEvery: 10 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	f.env = s.NewTestActivityEnvironment()
	for _, o := range opts {
		f.env.SetWorkerOptions(o)
	}
	f.env.RegisterActivity(f.acts)
	return f
}

func (f *fixture) generate(t *testing.T, in activities.GenerateInput) (activities.Staged, error) {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.Generate, in)
	if err != nil {
		return activities.Staged{}, err
	}
	var staged activities.Staged
	if err := v.Get(&staged); err != nil {
		t.Fatal(err)
	}
	return staged, nil
}

func (f *fixture) store1(t *testing.T, in activities.StoreInput) (activities.Stored, error) {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.Store, in)
	if err != nil {
		return activities.Stored{}, err
	}
	var stored activities.Stored
	if err := v.Get(&stored); err != nil {
		t.Fatal(err)
	}
	return stored, nil
}

// stagedFiles lists the staging directory, the worker id aside.
func stagedFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "worker-id" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

var request = activities.GenerateInput{JobID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd",
	Request: imagegen.Request{Prompt: "a fox", Model: "sdxl-lightning"}, Provider: "workersai"}

func TestGenerateStagesTheImageAndStoreUploadsIt(t *testing.T) {
	f := newFixture(t)
	staged, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	data := pngBytes()
	sum := sha256.Sum256(data)
	if staged.StoreQueue != f.acts.Staging.Queue() || staged.ContentType != "image/png" || staged.SizeBytes != int64(len(data)) ||
		staged.SHA256 != hex.EncodeToString(sum[:]) || staged.Width != 8 || staged.Height != 6 || staged.Provider != "workersai" {
		t.Errorf("staged = %+v", staged)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, staged.File))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("staged file %s: %v, %d bytes; want the provider's image", staged.File, err, len(onDisk))
	}
	if got := stagedFiles(t, f.dir); len(got) != 2 { // the image and its metadata
		t.Errorf("staging holds %v, want the image and its metadata", got)
	}

	key := activities.ImageKey(request.JobID, 0, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), staged.ContentType)
	stored, err := f.store1(t, activities.StoreInput{JobID: request.JobID, Key: key, Staged: staged})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Key != key || stored.URL != "https://images.test/"+key || stored.ThumbnailKey != activities.ThumbnailKey(key) {
		t.Errorf("stored = %+v", stored)
	}
	if !bytes.Equal(f.store.objects[key], data) || f.store.types[key] != "image/png" || f.store.types[stored.ThumbnailKey] != "image/jpeg" {
		t.Errorf("store holds %d bytes as %q and a thumbnail as %q", len(f.store.objects[key]), f.store.types[key], f.store.types[stored.ThumbnailKey])
	}
	if got := stagedFiles(t, f.dir); len(got) != 0 {
		t.Errorf("staging still holds %v after the upload", got)
	}
}

func TestGenerateReusesTheStagedImageOnRetry(t *testing.T) {
	f := newFixture(t)
	first, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	// A second attempt of the same job and run (the worker died before
	// reporting the first) finds the staged image, even from a restarted
	// worker on the same disk.
	restarted, err := activities.OpenStaging(f.dir, "test-store")
	if err != nil {
		t.Fatal(err)
	}
	if restarted.Queue() != f.acts.Staging.Queue() {
		t.Errorf("restarted worker's queue %s, want %s: uploads left staged would be orphaned", restarted.Queue(), f.acts.Staging.Queue())
	}
	f.acts.Staging = restarted
	// Temporal hands the retry the first attempt's last heartbeat: a call
	// in flight, which the retry counts as paid (it was: the image is there).
	f.env.SetHeartbeatDetails(activities.GenerateProgress{InFlight: true, CallUnpriced: true})
	again, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	if f.provider.Calls() != 1 {
		t.Errorf("provider calls = %d, want 1: a retry must not pay for the image again", f.provider.Calls())
	}
	if again != first {
		t.Errorf("retry staged %+v, want the first attempt's %+v", again, first)
	}
	// Another image of the same job is not the same staged file.
	other := request
	other.Index = 1
	if _, err := f.generate(t, other); err != nil || f.provider.Calls() != 2 {
		t.Errorf("image 1: err %v, provider calls %d; want a new call", err, f.provider.Calls())
	}
}

func TestSweepRemovesOnlyOldStagedFiles(t *testing.T) {
	f := newFixture(t)
	staged, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	fresh := request
	fresh.Index = 2
	keep, err := f.generate(t, fresh)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-72 * time.Hour)
	meta := staged.File[:len(staged.File)-len(filepath.Ext(staged.File))] + ".json"
	for _, name := range []string{staged.File, meta, "worker-id"} {
		if err := os.Chtimes(filepath.Join(f.dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.acts.Staging.Sweep(48 * time.Hour); n != 2 {
		t.Errorf("Sweep removed %d files, want 2 (the old image and its metadata)", n)
	}
	got := stagedFiles(t, f.dir)
	keepMeta := keep.File[:len(keep.File)-len(filepath.Ext(keep.File))] + ".json"
	if len(got) != 2 || got[0] != keep.File && got[1] != keep.File || got[0] != keepMeta && got[1] != keepMeta {
		t.Errorf("after Sweep staging holds %v, want only %s and %s", got, keep.File, keepMeta)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "worker-id")); err != nil {
		t.Errorf("Sweep removed the worker id: %v", err)
	}
}

// TestActivityErrorsCarryKindAndDetails checks the mapping of classified
// errors to application errors: type = kind, retryable as the kind says,
// message = what happened (no decoration), details = kind, code, status and
// cause. The message a failed job shows is asserted in workflows
// (TestFailedJobMessageIsExact).
func TestActivityErrorsCarryKindAndDetails(t *testing.T) {
	cause := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name         string
		providerErr  error
		storeErr     error
		loseStaged   bool
		wantType     string
		wantRetry    bool
		wantMessage  string
		wantDetails  *activities.FailureDetails
		wantNoDetail bool
	}{
		{name: "quota is final", providerErr: &imagegen.Error{Kind: imagegen.KindQuotaExceeded, Code: 4006, Status: 429, Message: "m: quota used up"},
			wantType: "quota_exceeded", wantMessage: "m: quota used up",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindQuotaExceeded, Code: 4006, Status: 429}},
		{name: "capacity is retried", providerErr: &imagegen.Error{Kind: imagegen.KindCapacity, Code: 3040, Status: 429, Message: "m: busy"},
			wantType: "capacity", wantRetry: true, wantMessage: "m: busy",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindCapacity, Code: 3040, Status: 429}},
		{name: "cause travels in the details", providerErr: &imagegen.Error{Kind: imagegen.KindUpstream, Message: "m: the request failed", Err: cause},
			wantType: "upstream", wantRetry: true, wantMessage: "m: the request failed",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindUpstream, Cause: "connection reset by peer"}},
		{name: "unclassified error is a retryable upstream fault", providerErr: cause,
			wantType: "upstream", wantRetry: true, wantMessage: "connection reset by peer",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindUpstream}},
		{name: "storage outage is retried", storeErr: &imagegen.Error{Kind: imagegen.KindStorage, Status: 503, Message: "put: slow down"},
			wantType: "storage", wantRetry: true, wantMessage: "put: slow down",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindStorage, Status: 503}},
		{name: "missing bucket is final", storeErr: &imagegen.Error{Kind: imagegen.KindMisconfigured, Status: 404, Message: "put: no such bucket"},
			wantType: "misconfigured", wantMessage: "put: no such bucket",
			wantDetails: &activities.FailureDetails{Kind: imagegen.KindMisconfigured, Status: 404}},
		{name: "lost staged image asks for a new generation", loseStaged: true,
			wantType: activities.ErrTypeStagedImageLost, wantMessage: "the generated image was lost before it could be stored", wantNoDetail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.provider.err, f.store.err = tc.providerErr, tc.storeErr
			staged, err := f.generate(t, request)
			if tc.providerErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tc.loseStaged {
					os.Remove(filepath.Join(f.dir, staged.File))
				}
				_, err = f.store1(t, activities.StoreInput{JobID: request.JobID, Key: "k.png", Staged: staged})
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want an application error", err)
			}
			if ae.Type() != tc.wantType || ae.NonRetryable() == tc.wantRetry || ae.Message() != tc.wantMessage {
				t.Errorf("got type %s, non-retryable %v, message %q; want %s, %v, %q",
					ae.Type(), ae.NonRetryable(), ae.Message(), tc.wantType, !tc.wantRetry, tc.wantMessage)
			}
			if tc.wantNoDetail {
				if ae.HasDetails() {
					t.Error("unexpected failure details")
				}
				return
			}
			var d activities.FailureDetails
			if !ae.HasDetails() || ae.Details(&d) != nil || d != *tc.wantDetails {
				t.Errorf("details = %+v, want %+v", d, *tc.wantDetails)
			}
		})
	}
}

func TestStoreRefusesACorruptStagedImage(t *testing.T) {
	f := newFixture(t)
	staged, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, staged.File), []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.store1(t, activities.StoreInput{JobID: request.JobID, Key: "k.png", Staged: staged})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrTypeStagedImageLost || !ae.NonRetryable() {
		t.Fatalf("error = %v, want a non-retryable %s", err, activities.ErrTypeStagedImageLost)
	}
	if len(f.store.objects) != 0 {
		t.Errorf("a corrupt image was uploaded: %v", f.store.objects)
	}
}

// TestGenerateHeartbeatsAndStopsWhenCanceled: Generate heartbeats while the
// provider works, and a cancellation (which the SDK delivers by cancelling
// the activity's context when a heartbeat's answer says the job was
// canceled) abandons the provider call and stages nothing. The test
// environment always answers heartbeats with "not canceled", so the test
// cancels the context itself when the first heartbeat arrives.
func TestGenerateHeartbeatsAndStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, worker.Options{BackgroundActivityContext: ctx})
	f.provider.block, f.provider.started = true, make(chan struct{})
	var once sync.Once
	heartbeats := make(chan struct{})
	f.env.SetOnActivityHeartbeatListener(func(info *activity.Info, _ converter.EncodedValues) {
		once.Do(func() { close(heartbeats) })
	})
	go func() {
		<-f.provider.started
		<-heartbeats
		cancel()
	}()
	_, err := f.generate(t, request)
	if err == nil {
		t.Fatal("Generate succeeded after its context was canceled")
	}
	// Generate must hand back the context's own error, not a provider error
	// kind: that is what lets the SDK report the attempt as canceled (here,
	// without a server-side request, it arrives as a plain failure).
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Message() != context.Canceled.Error() || imagegen.ErrorKind(ae.Type()).Known() {
		t.Errorf("error = %v, want the context's cancellation passed through", err)
	}
	f.provider.mu.Lock()
	ctxErr := f.provider.ctxErr
	f.provider.mu.Unlock()
	if !errors.Is(ctxErr, context.Canceled) {
		t.Errorf("the provider call saw %v, want its context canceled", ctxErr)
	}
	if got := stagedFiles(t, f.dir); len(got) != 0 {
		t.Errorf("a canceled generation staged %v", got)
	}
}

// A worker shutting down cuts the provider call short: that is a benign,
// retryable interruption (the SDK logs it at debug, not as an error), not a
// provider failure and not a cancellation of the job.
func TestGenerateInterruptedByWorkerShutdownIsBenignAndRetryable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, worker.Options{BackgroundActivityContext: ctx})
	f.provider.block, f.provider.started = true, make(chan struct{})
	stopCh := make(chan struct{})
	f.env.SetWorkerStopChannel(stopCh)
	go func() {
		<-f.provider.started
		close(stopCh) // the worker begins to stop...
		cancel()      // ...and its stop timeout ends the call
	}()
	_, err := f.generate(t, request)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an application error", err)
	}
	if ae.Type() != activities.ErrTypeWorkerShutdown || ae.NonRetryable() || ae.Category() != temporal.ApplicationErrorCategoryBenign {
		t.Errorf("type %q nonRetryable %v category %v, want a benign retryable %s", ae.Type(), ae.NonRetryable(), ae.Category(), activities.ErrTypeWorkerShutdown)
	}
	if got := stagedFiles(t, f.dir); len(got) != 0 {
		t.Errorf("an interrupted generation staged %v", got)
	}
}

func TestStoreWaitsForADecodePlaceBeforeTheThumbnail(t *testing.T) {
	f := newFixture(t)
	f.acts.Decodes = activities.NewDecodeLimit(1)
	staged, err := f.generate(t, request)
	if err != nil {
		t.Fatal(err)
	}
	// The one decode place is taken until release closes.
	holding, release := make(chan struct{}), make(chan struct{})
	go f.acts.Decodes.Do(context.Background(), func() { close(holding); <-release })
	<-holding

	key := activities.ImageKey(request.JobID, 0, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), staged.ContentType)
	done := make(chan activities.Stored, 1)
	go func() {
		stored, err := f.store1(t, activities.StoreInput{JobID: request.JobID, Key: key, Staged: staged})
		if err != nil {
			t.Error(err)
		}
		done <- stored
	}()
	for uploaded := false; !uploaded; {
		f.store.mu.Lock()
		_, uploaded = f.store.objects[key]
		_, thumb := f.store.objects[activities.ThumbnailKey(key)]
		f.store.mu.Unlock()
		if thumb {
			t.Fatal("a thumbnail was decoded while the only decode place was taken")
		}
		runtime.Gosched()
	}
	close(release)
	if stored := <-done; stored.ThumbnailKey != activities.ThumbnailKey(key) {
		t.Fatalf("stored %+v: want the thumbnail once the place freed", stored)
	}
}
