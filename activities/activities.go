// Package activities holds the steps of a generation: Generate calls the
// provider and stages the image on the worker's disk; Store uploads a staged
// image to storage. Splitting them means a storage outage retries only the
// upload and never pays for a second generation. An edit first runs
// FetchInputs, which stages its input images in the object store, where any
// worker's Generate reads them.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
)

// Activities holds the dependencies of the activities. Register a pointer to
// it with a worker; workflows call its methods through a nil *Activities.
type Activities struct {
	Provider Provider
	// ImageStore keeps the stored images (S3/R2 or a local directory).
	ImageStore Store
	// ProviderName is reported in results ("workersai", "preview").
	ProviderName string
	// Placeholder marks images that are not AI-generated (the preview provider).
	Placeholder bool
	// Staging is this worker's staging area; its queue receives the Store
	// activities for images staged here.
	Staging *Staging
	// HeartbeatEvery is how often Generate heartbeats while the provider works.
	HeartbeatEvery time.Duration
	Logger         *slog.Logger
	// Observer, if set, records provider and storage calls.
	Observer Observer
	// Decodes bounds the images decoded at once (thumbnails); nil: no bound.
	Decodes DecodeLimit
	// Fetcher downloads input images named by http(s) URLs. Nil: URL inputs
	// are refused as a misconfiguration (no fetcher configured).
	Fetcher Fetcher
}

// GenerateInput names the job and what to generate.
type GenerateInput struct {
	JobID string `json:"job_id"`
	// Index is the image's position in a multi-image job (0 for the first).
	Index   int              `json:"index,omitempty"`
	Request imagegen.Request `json:"request"`
	// Provider is the job's provider route, resolved when the job started
	// (empty in inputs recorded before: the models table decides).
	Provider string `json:"provider,omitempty"`
	// Inputs and Mask are the job's input images as FetchInputs staged
	// them, read back from the object store for the provider call.
	Inputs []FetchedInput `json:"inputs,omitempty"`
	Mask   *FetchedInput  `json:"mask,omitempty"`
}

// Staged describes an image written to a worker's staging area: everything the
// workflow needs except the bytes, which never enter workflow history.
type Staged struct {
	// File is the staged file's name inside the staging directory.
	File        string `json:"file"`
	StoreQueue  string `json:"store_queue"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	// ProviderMillis is how long the provider call took.
	ProviderMillis int64  `json:"provider_ms"`
	Provider       string `json:"provider"`
	Placeholder    bool   `json:"placeholder,omitempty"`
	// Spend is what the provider calls behind this image cost, every paid
	// attempt of this activity included (zero in results recorded before
	// costs were counted, and for the preview renderer).
	Spend Spend `json:"spend,omitzero"`
}

// StoreInput asks for a staged image to be uploaded under Key.
type StoreInput struct {
	JobID  string `json:"job_id"`
	Key    string `json:"key"`
	Staged Staged `json:"staged"`
	// Index, Request and Created describe the image for its history record
	// (see package history). Request is nil in inputs recorded before
	// records existed: then no record is written.
	Index   int               `json:"index,omitempty"`
	Request *imagegen.Request `json:"request,omitempty"`
	Created time.Time         `json:"created,omitzero"`
	// Generated is workflow time when the upload was scheduled: the image
	// was made by then. Fixed in the input, so retries write the same record.
	Generated time.Time `json:"generated,omitzero"`
	// Spend is what the image's provider calls cost, every generation
	// included, for its history record (nil in inputs recorded before costs
	// were counted: the record then says nothing of cost).
	Spend *Spend `json:"spend,omitempty"`
}

// Stored is where an image ended up.
type Stored struct {
	Key          string `json:"key"`
	URL          string `json:"url"`
	ThumbnailKey string `json:"thumbnail_key,omitempty"`
	// RecordKey names the image's history record (empty if none was written).
	RecordKey   string `json:"record_key,omitempty"`
	StoreMillis int64  `json:"store_ms"`
}

// Generate calls the provider once and stages the image on local disk. If this
// worker already staged the image for the same workflow run (an earlier attempt
// finished the provider call but the worker died before reporting), the staged
// copy is reused and the provider is not called again.
func (a *Activities) Generate(ctx context.Context, in GenerateInput) (Staged, error) {
	info := activity.GetInfo(ctx)
	log := a.logger().With("job_id", in.JobID, "model", in.Request.Model, "attempt", info.Attempt)
	name := stagedName(in.JobID, info.WorkflowExecution.RunID, in.Index)

	if info.Attempt > 1 {
		a.observe(func(o Observer) { o.Retry("generate") })
	}
	spend := a.startSpend(ctx, in.Request)
	if staged, ok := a.Staging.lookup(name); ok {
		log.Info("reusing staged image from an earlier attempt", "file", staged.File)
		staged.Spend = spend.spend()
		return staged, nil
	}

	inputs, err := a.readInputs(ctx, in.Inputs, in.Mask)
	if err != nil {
		log.Warn("staged inputs unreadable", "error", err)
		return Staged{}, toSpendError(ctx, err, spend.spend())
	}
	spend.price(in.Request, inputs)
	spend.begin(ctx)
	stop := a.heartbeat(ctx, spend.progress)
	start := time.Now()
	img, err := a.Provider.Generate(ctx, in.Request, inputs)
	elapsed := time.Since(start)
	stop()
	call := spend.end(ctx, paidCall(ctx, err))
	a.observe(func(o Observer) { o.ProviderCall(in.Request.Model, elapsed, err) })
	if err != nil {
		a.observePaid(in.Request.Model, "no_image", call)
		if ctx.Err() != nil && workerStopping(ctx) {
			log.Info("provider call interrupted by shutdown; Temporal runs it again", "elapsed", elapsed)
		} else {
			log.Warn("provider call failed", "error", err, "elapsed", elapsed, "paid_calls", spend.spend().PaidCalls)
		}
		return Staged{}, toSpendError(ctx, err, spend.spend())
	}
	staged := Staged{
		StoreQueue:     a.Staging.Queue(),
		ContentType:    img.ContentType,
		SizeBytes:      int64(len(img.Data)),
		ProviderMillis: elapsed.Milliseconds(),
		Provider:       a.providerName(in),
		Placeholder:    a.Placeholder,
		Spend:          spend.spend(),
	}
	staged.SHA256 = sha256Hex(img.Data)
	staged.Width, staged.Height = imageSize(img.Data)
	staged, err = a.Staging.put(name, img.Data, staged)
	if err != nil {
		// Disk trouble on this worker: retryable, another attempt may land elsewhere.
		a.observePaid(in.Request.Model, "no_image", call)
		log.Error("staging failed", "error", err)
		return Staged{}, toSpendError(ctx, &imagegen.Error{Kind: imagegen.KindStorage,
			Message: "the worker could not stage the generated image", Err: err}, spend.spend())
	}
	a.observePaid(in.Request.Model, "image", call)
	log.Info("image generated", "content_type", staged.ContentType, "bytes", staged.SizeBytes, "provider_ms", staged.ProviderMillis)
	return staged, nil
}

// Store uploads a staged image. It runs on the queue of the worker that staged
// it. Uploading is idempotent, so retries after a storage fault are safe.
func (a *Activities) Store(ctx context.Context, in StoreInput) (Stored, error) {
	attempt := activity.GetInfo(ctx).Attempt
	log := a.logger().With("job_id", in.JobID, "key", in.Key, "attempt", attempt)
	if attempt > 1 {
		a.observe(func(o Observer) { o.Retry("store") })
	}
	data, err := a.Staging.read(in.Staged.File)
	if err != nil {
		// The staged file is gone (disk wiped): only a new generation can help.
		log.Warn("staged image missing", "error", err)
		return Stored{}, temporal.NewNonRetryableApplicationError(
			"the generated image was lost before it could be stored", ErrTypeStagedImageLost, nil)
	}
	if sha256Hex(data) != in.Staged.SHA256 {
		log.Warn("staged image corrupt", "file", in.Staged.File)
		return Stored{}, temporal.NewNonRetryableApplicationError(
			"the generated image was damaged before it could be stored", ErrTypeStagedImageLost, nil)
	}
	start := time.Now()
	err = a.ImageStore.Put(ctx, in.Key, data, in.Staged.ContentType)
	a.observe(func(o Observer) { o.StoreCall(time.Since(start), err) })
	if err != nil {
		log.Warn("upload failed", "error", err)
		return Stored{}, toActivityError(ctx, fmt.Errorf("upload %s: %w", in.Key, err))
	}
	url, err := a.ImageStore.URL(ctx, in.Key)
	if err != nil {
		return Stored{}, toActivityError(ctx, fmt.Errorf("url for %s: %w", in.Key, err))
	}
	elapsed := time.Since(start)
	thumbKey := a.storeThumbnail(ctx, log, in.Key, data)
	recKey, err := a.storeRecord(ctx, in, thumbKey)
	if err != nil {
		log.Warn("history record upload failed", "error", err)
		return Stored{}, toActivityError(ctx, err)
	}
	a.Staging.remove(in.Staged.File)
	log.Info("image stored", "store_ms", elapsed.Milliseconds())
	return Stored{Key: in.Key, URL: url, ThumbnailKey: thumbKey, RecordKey: recKey, StoreMillis: elapsed.Milliseconds()}, nil
}

// storeRecord writes the image's history record, after the image, so that a
// record always names an image that exists. It is one put of bytes that
// depend only on the input (and on whether the thumbnail was stored), under
// a key fixed by the input: a retried attempt rewrites the same object.
func (a *Activities) storeRecord(ctx context.Context, in StoreInput, thumbKey string) (string, error) {
	if in.Request == nil || in.Created.IsZero() {
		return "", nil
	}
	rec := history.Record{
		JobID: in.JobID, Index: in.Index, Request: *in.Request,
		ContentType: in.Staged.ContentType, SizeBytes: in.Staged.SizeBytes,
		Width: in.Staged.Width, Height: in.Staged.Height,
		Key: in.Key, ThumbnailKey: thumbKey,
		Provider: in.Staged.Provider, Placeholder: in.Staged.Placeholder,
		CreatedAt: in.Created, GeneratedAt: in.Generated,
	}
	if sp := in.Spend; sp != nil {
		rec.PaidCalls = sp.PaidCalls
		if !sp.Unpriced || sp.PaidCalls == 0 {
			cost := sp.Cost
			rec.Cost = &cost
		}
	}
	b, err := history.Marshal(rec)
	if err != nil {
		return "", err
	}
	key := history.Key(in.JobID, in.Index, in.Created)
	if err := a.ImageStore.Put(ctx, key, b, history.ContentType); err != nil {
		return "", fmt.Errorf("upload record %s: %w", key, err)
	}
	// An edit links each job it took an image from back to itself, so the
	// source's page can list its edits without reading every record.
	if err := history.WriteLinks(ctx, a.ImageStore, rec); err != nil {
		return "", err
	}
	return key, nil
}

// ErrTypeStagedImageLost is the application error type of a Store that cannot
// find its staged image; the workflow answers it by generating again.
const ErrTypeStagedImageLost = "staged_image_lost"

// ImageKey is the storage key of a job's image: a date prefix for lifecycle
// rules, then the job id (a random UUID, so keys are unguessable and carry no
// user text), the image's index when it is not the first, then the extension
// of the real image type.
func ImageKey(jobID string, index int, created time.Time, contentType string) string {
	name := jobID
	if index > 0 {
		name += "-" + strconv.Itoa(index)
	}
	return created.UTC().Format("2006/01/02") + "/" + name + imagegen.ExtensionFor(contentType)
}

// ThumbnailKey is where the thumbnail of the image stored under key goes.
func ThumbnailKey(key string) string {
	return strings.TrimSuffix(key, path.Ext(key)) + ".thumb.jpg"
}

// storeThumbnail stores a small JPEG of the image so that tool results can
// show it inline without shipping the full image. It is best effort: a job
// whose thumbnail fails still has its image.
func (a *Activities) storeThumbnail(ctx context.Context, log *slog.Logger, key string, data []byte) string {
	var thumb []byte
	var err error
	if werr := a.Decodes.Do(ctx, func() { thumb, err = Thumbnail(data, ThumbnailSide) }); werr != nil {
		err = werr
	}
	if err != nil {
		log.Warn("no thumbnail", "error", err)
		return ""
	}
	tk := ThumbnailKey(key)
	if err := a.ImageStore.Put(ctx, tk, thumb, "image/jpeg"); err != nil {
		log.Warn("thumbnail upload failed", "error", err)
		return ""
	}
	return tk
}

// FailureDetails ride with the application error of a failed activity, so
// that the workflow reads the failure's kind and codes as data instead of
// parsing text. The error's message is the one sentence of what happened.
type FailureDetails struct {
	Kind imagegen.ErrorKind `json:"kind"`
	// Code is the provider's error code (Workers AI's 4006, ...), 0 if none.
	Code int `json:"code,omitempty"`
	// Status is the provider's or storage's HTTP status, 0 if none.
	Status int `json:"status,omitempty"`
	// Cause is the underlying error's text, for operators; the classifying
	// layers redact credentials from it.
	Cause string `json:"cause,omitempty"`
	// Spend is what a failed Generate's paid provider calls cost, all its
	// attempts included (nil for other activities).
	Spend *Spend `json:"spend,omitempty"`
}

// toActivityError turns a classified error into a Temporal application error
// whose type is the error kind, retryable or not as the kind says, whose
// message is the classified message (what happened, no kind or code
// decoration, no advice) and whose details are FailureDetails. It never
// carries credentials.
func toActivityError(ctx context.Context, err error) error { return toSpendError(ctx, err, Spend{}) }

// toSpendError is toActivityError for Generate: the details also carry what
// the activity's provider calls cost so far.
func toSpendError(ctx context.Context, err error, spend Spend) error {
	var sp *Spend
	if spend != (Spend{}) {
		sp = &spend
	}
	if ctx.Err() != nil {
		if workerStopping(ctx) {
			// A normal shutdown, not a fault: benign, so the SDK does not
			// log it as an error, and retryable, so Temporal runs the call
			// again (here after a restart, or on another worker).
			opts := temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign}
			if sp != nil {
				opts.Details = []any{FailureDetails{Kind: imagegen.KindUpstream, Spend: sp}}
			}
			return temporal.NewApplicationErrorWithOptions("the worker shut down during the call; Temporal runs it again",
				ErrTypeWorkerShutdown, opts)
		}
		return ctx.Err()
	}
	var e *imagegen.Error
	if !errors.As(err, &e) {
		// Unclassified: assume transient, the retry policy bounds the cost.
		e = &imagegen.Error{Kind: imagegen.KindUpstream, Message: err.Error()}
	} else if e.Message == "" && e.Err != nil {
		e = &imagegen.Error{Kind: e.Kind, Code: e.Code, Status: e.Status, Message: e.Err.Error()}
	}
	d := FailureDetails{Kind: e.Kind, Code: e.Code, Status: e.Status, Spend: sp}
	if e.Err != nil {
		d.Cause = e.Err.Error()
	}
	return temporal.NewApplicationErrorWithOptions(e.Message, string(e.Kind), temporal.ApplicationErrorOptions{
		NonRetryable: !e.Kind.Retryable(),
		Details:      []any{d},
	})
}

// ErrTypeWorkerShutdown is the error type of an attempt cut short because
// its worker is shutting down. It is retryable.
const ErrTypeWorkerShutdown = "worker_shutdown"

// workerStopping reports whether the activity's worker has begun to stop.
func workerStopping(ctx context.Context) bool {
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return true
	default:
		return false
	}
}

// heartbeat reports liveness while a long provider call runs, so that a dead
// worker is noticed within the heartbeat timeout rather than the full
// start-to-close timeout, and so that cancellation reaches the activity.
//
// details, if given, are sent with every beat (read when it is sent): a
// beat without them would erase the details an attempt recorded.
func (a *Activities) heartbeat(ctx context.Context, details ...any) (stop func()) {
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 3 * time.Second
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details...)
			}
		}
	}()
	return func() { close(done) }
}

// providerName is where a job's images come from: the job's provider route,
// unless this worker renders placeholders for every model.
func (a *Activities) providerName(in GenerateInput) string {
	if a.Placeholder {
		return a.ProviderName
	}
	if in.Provider != "" {
		return in.Provider
	}
	if m, ok := imagegen.LookupModel(in.Request.Model); ok {
		return m.Provider
	}
	return a.ProviderName
}

func (a *Activities) observe(f func(Observer)) {
	if a.Observer != nil {
		f(a.Observer)
	}
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func stagedName(jobID, runID string, index int) string {
	name := sanitize(jobID) + "_" + sanitize(runID)
	if index > 0 {
		name += "_" + strconv.Itoa(index)
	}
	return name
}

// sanitize keeps ids safe as file names whatever a caller put in them.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, s)
}

// Staging is a worker's directory of generated-but-not-yet-stored images, and
// the task queue that routes Store activities back to this worker.
type Staging struct {
	dir   string
	queue string
}

// OpenStaging opens (creating) a staging directory. The worker's store queue is
// named after an id kept in the directory, so a worker restarted on the same
// disk picks up the uploads its predecessor left staged.
func OpenStaging(dir, queuePrefix string) (*Staging, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create staging dir %s: %w", dir, err)
	}
	idFile := filepath.Join(dir, "worker-id")
	id, err := os.ReadFile(idFile)
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		id = []byte(newID())
		if err := writeAtomic(idFile, id); err != nil {
			return nil, fmt.Errorf("write staging id: %w", err)
		}
	}
	return &Staging{dir: dir, queue: queuePrefix + "-" + strings.TrimSpace(string(id))}, nil
}

// Queue is the task queue that reaches the worker owning this staging area.
func (s *Staging) Queue() string { return s.queue }

// Sweep removes staged files older than maxAge: images of jobs that failed or
// were regenerated elsewhere.
func (s *Staging) Sweep(maxAge time.Duration) (removed int) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0
	}
	cutoff := time.Now().Add(-maxAge)
	for _, e := range entries {
		if e.Name() == "worker-id" {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if os.Remove(filepath.Join(s.dir, e.Name())) == nil {
				removed++
			}
		}
	}
	return removed
}

func (s *Staging) put(name string, data []byte, meta Staged) (Staged, error) {
	meta.File = name + imagegen.ExtensionFor(meta.ContentType)
	if err := writeAtomic(filepath.Join(s.dir, meta.File), data); err != nil {
		return Staged{}, err
	}
	// The metadata is written last: its presence means the image is complete.
	b, err := json.Marshal(meta)
	if err != nil {
		return Staged{}, err
	}
	if err := writeAtomic(filepath.Join(s.dir, name+".json"), b); err != nil {
		return Staged{}, err
	}
	return meta, nil
}

func (s *Staging) lookup(name string) (Staged, bool) {
	b, err := os.ReadFile(filepath.Join(s.dir, name+".json"))
	if err != nil {
		return Staged{}, false
	}
	var meta Staged
	if json.Unmarshal(b, &meta) != nil || meta.File == "" {
		return Staged{}, false
	}
	if _, err := os.Stat(filepath.Join(s.dir, meta.File)); err != nil {
		return Staged{}, false
	}
	meta.StoreQueue = s.queue
	return meta, true
}

func (s *Staging) read(file string) ([]byte, error) {
	if file == "" || file != filepath.Base(file) {
		return nil, fmt.Errorf("invalid staged file name %q", file)
	}
	return os.ReadFile(filepath.Join(s.dir, file))
}

func (s *Staging) remove(file string) {
	if file == "" || file != filepath.Base(file) {
		return
	}
	ext := filepath.Ext(file)
	os.Remove(filepath.Join(s.dir, file))
	os.Remove(filepath.Join(s.dir, strings.TrimSuffix(file, ext)+".json"))
}

// sha256Hex is the checksum recorded for staged images and inputs, and
// checked when they are read back.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
